"""Hubness per photo: many random balanced galleries (15 per gender x group) drawn from the
dev half's adult faces; every other face is a visitor; each gallery photo's within-group share
(its matches over its group's mean) is recorded. Output: /tmp/exposure/hubness_<dump>.npz with
per-face mean log share, mean share, times in a gallery."""
import sys
from common import *

d = load()
trials = int(sys.argv[1]) if len(sys.argv) > 1 else 300
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
rng = np.random.default_rng(seed)
n = len(d["names"])
ok = d["ok"]
by_group = {gr: np.where(ok & (d["gender"] == gr[0]) & (d["race"] == gr[1]))[0] for gr in GROUPS}
sum_log = np.zeros(n); sum_share = np.zeros(n); times = np.zeros(n); sum_hub = np.zeros(n)
for t in range(trials):
    gal = np.concatenate([rng.choice(by_group[gr], 15, replace=False) for gr in GROUPS])
    mask = np.ones(n, bool); mask[gal] = False; mask &= ok
    pop = np.where(mask)[0]
    m = Perceived(d, gal)
    sc, _ = m.scores(d["id"][pop], d["app"][pop])
    c = np.bincount(np.argmax(sc, 1), minlength=120).astype(float)
    for k in range(8):
        idx = np.arange(15 * k, 15 * k + 15)
        mean = c[idx].mean()
        share = c[idx] / mean if mean > 0 else np.ones(15)
        sum_share[gal[idx]] += share
        sum_log[gal[idx]] += np.log((c[idx] + 1) / (mean + 1))
        sum_hub[gal[idx]] += share > 2
    times[gal] += 1
    if t % 50 == 0:
        print(t, flush=True)
name = os.path.basename(DUMP)
np.savez(f"/tmp/exposure/hubness_{name}_s{seed}.npz", times=times, share=sum_share / np.maximum(times, 1), log=sum_log / np.maximum(times, 1), hub=sum_hub / np.maximum(times, 1))
print("faces seen", (times > 0).sum(), "median times", np.median(times[times > 0]))
