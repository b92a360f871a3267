"""What the gallery alone can tell about its hubs: in random balanced galleries (as
hub_trials.py), the within-group Spearman correlation between each role model's within-group
share and gallery-internal measures (its mean similarity to the other role models, to its 3
nearest, to its own declared group), and the photo measures of photo_props.py combined in a
cross-validated linear model."""
import sys
from common import *
from photo_props import props, rank

d = load()
P = props(d, crops())
keys = [k for k in P if not k.startswith("age")]
X = np.column_stack([P[k] for k in keys])
rng = np.random.default_rng(11)
ok = d["ok"]
by_group = {gr: np.where(ok & (d["gender"] == gr[0]) & (d["race"] == gr[1]))[0] for gr in GROUPS}
n = len(d["names"])
acc = {k: [] for k in ["gallery centrality", "3-NN hub r", "own-group centrality", "photo model (CV)", "gallery centrality + photo model"]}
trials = int(sys.argv[1]) if len(sys.argv) > 1 else 100
# the photo model: ridge on ranked photo measures, trained on galleries of other trials (faces disjoint from the test gallery)
for t in range(trials):
    gal = np.concatenate([rng.choice(by_group[gr], 15, replace=False) for gr in GROUPS])
    mask = np.ones(n, bool); mask[gal] = False; mask &= ok
    pop = np.where(mask)[0]
    m = Perceived(d, gal)
    sc, _ = m.scores(d["id"][pop], d["app"][pop])
    c = np.bincount(np.argmax(sc, 1), minlength=120).astype(float)
    gg = m.gi @ m.gi.T + m.ga @ m.ga.T
    np.fill_diagonal(gg, np.nan)
    cent = np.nanmean(gg, 1)
    own = np.array([np.nanmean(gg[i, 15 * (i // 15): 15 * (i // 15) + 15]) for i in range(120)])
    # photo model trained on the population faces' hubness from hub_trials (other faces only)
    h = np.load(f"/tmp/exposure/hubness_{os.path.basename(DUMP)}_s7.npz")
    train = pop[h["times"][pop] >= 3]
    Xr = np.column_stack([rank(X[:, j]) / n for j in range(X.shape[1])])
    A = np.column_stack([Xr[train], np.ones(len(train))])
    w = np.linalg.solve(A.T @ A + 1e-3 * np.eye(A.shape[1]), A.T @ h["log"][train])
    photo = np.column_stack([Xr[gal], np.ones(120)]) @ w
    for k in range(8):
        idx = np.arange(15 * k, 15 * k + 15)
        y = rank(c[idx])
        for name, x in [("gallery centrality", cent), ("3-NN hub r", m.hub), ("own-group centrality", own), ("photo model (CV)", photo), ("gallery centrality + photo model", rank(cent[idx]) / 15 + rank(photo[idx]) / 15)]:
            xi = x if name.endswith("+ photo model") else x[idx]
            acc[name].append(np.corrcoef(y, rank(xi))[0, 1])
for k, v in acc.items():
    v = np.array(v)
    print(f"{k:34s} within-group Spearman with the role model's share: mean {np.nanmean(v):+.3f} (sd over galleries and groups {np.nanstd(v):.2f})")
print("photo model weights (on ranks):", dict(zip(keys, np.round(w[:-1], 3))))
