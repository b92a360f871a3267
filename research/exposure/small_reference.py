"""How well a small reference folder (what a curator has) predicts which role models are hubs
for a large population: hard counts vs soft counts (softmax of the booth's scores) vs mean score,
each on a sample of N faces, against the within-group shares on the remaining faces."""
import sys
from common import *
from photo_props import rank

d = load()
ok = d["ok"]
n = len(d["names"])
by_group = {gr: np.where(ok & (d["gender"] == gr[0]) & (d["race"] == gr[1]))[0] for gr in GROUPS}
rng = np.random.default_rng(5)
res = {}
for t in range(40):
    gal = np.concatenate([rng.choice(by_group[gr], 15, replace=False) for gr in GROUPS])
    mask = np.ones(n, bool); mask[gal] = False; mask &= ok
    pop = rng.permutation(np.where(mask)[0])
    m = Perceived(d, gal)
    sc_all, _ = m.scores(d["id"][pop], d["app"][pop])
    for N in (100, 431):
        ref, rest = sc_all[:N], sc_all[N:]
        truth = np.bincount(np.argmax(rest, 1), minlength=120).astype(float)
        preds = {"hard count": np.bincount(np.argmax(ref, 1), minlength=120).astype(float), "mean score": ref.mean(0)}
        for tau in (0.1, 0.2, 0.3, 0.5, 1.0):
            z = (ref - ref.max(1, keepdims=True)) / tau
            p = np.exp(z); p /= p.sum(1, keepdims=True)
            preds[f"soft count tau {tau}"] = p.sum(0)
        for name, x in preds.items():
            rs = [np.corrcoef(rank(truth[15 * k:15 * k + 15]), rank(x[15 * k:15 * k + 15] + 1e-9 * np.arange(15)))[0, 1] for k in range(8)]
            res.setdefault((N, name), []).append(np.nanmean(rs))
for (N, name), v in sorted(res.items()):
    print(f"reference {N:4d} faces  {name:18s} within-group Spearman with the large population's shares {np.mean(v):+.3f}")
