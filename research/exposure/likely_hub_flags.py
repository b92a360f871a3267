"""Precision and recall of the audit's likely-hub flag (expected share >= 1.5 or 2 x its group's mean
on a reference sample of 100 or 431 faces) against the within-group shares of the remaining
population (true hub: share >= 2)."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
d = load(); ok = d["ok"]; n = len(d["names"])
by_group = {gr: np.where(ok & (d["gender"] == gr[0]) & (d["race"] == gr[1]))[0] for gr in GROUPS}
rng = np.random.default_rng(9)
for N in (100, 431):
  for thr in (1.5, 2.0):
    tp = fp = fn = 0; flagged = []
    for t in range(30):
        gal = np.concatenate([rng.choice(by_group[gr], 15, replace=False) for gr in GROUPS])
        mask = np.ones(n, bool); mask[gal] = False; mask &= ok
        pop = rng.permutation(np.where(mask)[0])
        m = Perceived(d, gal)
        sc, _ = m.scores(d["id"][pop], d["app"][pop])
        ref, rest = sc[:N], sc[N:]
        truth = np.bincount(np.argmax(rest, 1), minlength=120).astype(float)
        p = np.exp((ref - ref.max(1, keepdims=True)) / 0.256); p /= p.sum(1, keepdims=True); e = p.sum(0)
        for k in range(8):
            idx = slice(15 * k, 15 * k + 15)
            pred = e[idx] / e[idx].mean() >= thr
            true = truth[idx] / truth[idx].mean() >= 2.0
            tp += (pred & true).sum(); fp += (pred & ~true).sum(); fn += (~pred & true).sum(); flagged.append(pred.sum())
    print(f"reference {N}, flag at soft share >= {thr}: flagged per group {np.mean(flagged):.2f}, precision {tp/(tp+fp):.2f}, recall {tp/(tp+fn):.2f} (true hubs = share >= 2 on the rest)")
