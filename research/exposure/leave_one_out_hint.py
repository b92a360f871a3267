"""How well the gallery's own photos (leave-one-out, no reference folder) predict which role
models a large population over-shows: soft and hard counts, within-group Spearman."""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *
from photo_props import rank
d = load(); ok = d["ok"]; n = len(d["names"])
by_group = {gr: np.where(ok & (d["gender"] == gr[0]) & (d["race"] == gr[1]))[0] for gr in GROUPS}
rng = np.random.default_rng(5)
res = {}
for t in range(40):
    gal = np.concatenate([rng.choice(by_group[gr], 15, replace=False) for gr in GROUPS])
    mask = np.ones(n, bool); mask[gal] = False; mask &= ok
    pop = np.where(mask)[0]
    m = Perceived(d, gal)
    truth = np.bincount(np.argmax(m.scores(d["id"][pop], d["app"][pop])[0], 1), minlength=120).astype(float)
    s, _ = m.scores(d["id"][gal], d["app"][gal])
    np.fill_diagonal(s, -np.inf)
    for tau in (0.1, 0.25, 0.5):
        p = np.exp((s - s.max(1, keepdims=True)) / tau); p /= p.sum(1, keepdims=True)
        x = p.sum(0)
        res.setdefault(tau, []).append(np.nanmean([np.corrcoef(rank(truth[15*k:15*k+15]), rank(x[15*k:15*k+15]))[0, 1] for k in range(8)]))
    x = np.bincount(np.argmax(s, 1), minlength=120).astype(float)
    res.setdefault("hard", []).append(np.nanmean([np.corrcoef(rank(truth[15*k:15*k+15]), rank(x[15*k:15*k+15] + 1e-9*np.arange(15)))[0, 1] for k in range(8)]))
for k, v in res.items(): print("leave-one-out on the gallery", k, round(float(np.mean(v)), 3))
