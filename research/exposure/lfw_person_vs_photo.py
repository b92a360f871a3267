"""Is a hub the person or the photo? LFW dev (several photos per person): random galleries of
100 people (one photo each), every other person's photos as visitors; each gallery photo's
share over the mean. Then: how well does one photo's hubness predict another photo of the same
person (person effect), and does a role model made of two photos (normalised mean, as the
gallery does) spread exposure more evenly than one photo?"""
import collections
from common import *
from photo_props import rank

d = load("/tmp/exposure/lfw")
names = d["names"]
person = np.array([n.split("/")[0] for n in names])
ok = d["ok"]
photos = collections.defaultdict(list)
for i, p in enumerate(person):
    if ok[i]:
        photos[p].append(i)
multi = [p for p, v in photos.items() if len(v) >= 2]
allp = list(photos)
print(f"{ok.sum()} faces, {len(allp)} people, {len(multi)} with 2+ photos")
rng = np.random.default_rng(3)


def blend(qi, qa, gi, ga):
    return qi @ gi.T + qa @ ga.T


def shares(gi, ga, pi, pa):
    s = blend(gi, ga, gi, ga)
    np.fill_diagonal(s, -np.inf)
    hub = np.sort(s, 1)[:, -3:].mean(1)
    sc = 2 * blend(pi, pa, gi, ga) - 0.5 * hub[None, :]
    c = np.bincount(np.argmax(sc, 1), minlength=len(gi)).astype(float)
    return c / c.mean()


acc = collections.defaultdict(list)
even = {"one photo": [], "mean of two photos": []}
for t in range(400):
    gal_people = rng.choice(multi, 100, replace=False)
    gp = set(gal_people)
    vis = [i for p in allp if p not in gp for i in photos[p]]
    pi, pa = d["id"][vis], d["app"][vis]
    pick = [rng.permutation(photos[p])[:2] for p in gal_people]
    a = np.array([x[0] for x in pick]); b = np.array([x[1] for x in pick])
    sh_a = shares(d["id"][a], d["app"][a], pi, pa)
    for k, i in enumerate(a):
        acc[i].append(np.log(sh_a[k] + 0.1))
    def norm(v):
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    mi, ma = norm(d["id"][a] + d["id"][b]), norm(d["app"][a] + d["app"][b])
    sh_m = shares(mi, ma, pi, pa)
    for name, sh in (("one photo", sh_a), ("mean of two photos", sh_m)):
        even[name].append((sh.max(), (sh == 0).mean(), np.std(sh)))
h = {i: np.mean(v) for i, v in acc.items() if len(v) >= 3}
pairs = []
for p in multi:
    got = [i for i in photos[p] if i in h]
    if len(got) >= 2:
        pairs.append((h[got[0]], h[got[1]]))
pairs = np.array(pairs)
r = np.corrcoef(rank(pairs[:, 0]), rank(pairs[:, 1]))[0, 1]
print(f"hubness of two photos of the same person: Spearman {r:.2f} over {len(pairs)} people")
# the same for two random photos of different people (should be ~0)
perm = rng.permutation(len(pairs))
print(f"  (two photos of different people: {np.corrcoef(rank(pairs[:, 0]), rank(pairs[perm, 1]))[0, 1]:+.2f})")
for k, v in even.items():
    v = np.array(v)
    print(f"{k:20s}: most shown / mean {v[:, 0].mean():.2f}, never shown {100 * v[:, 1].mean():.1f} %, sd of shares {v[:, 2].mean():.2f}")
