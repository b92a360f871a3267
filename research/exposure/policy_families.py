"""The variety policies tried for the exposure issue, one representative setting each, on the
dev split (EXPOSURE_DUMP, default the 320x320 dump): protocol numbers over 10 shuffled visitor
orders and the large population's worst within-group most-shown / mean. Margins in look-alike
points (perceived: 1 point = 0.032 of the ranking score)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import *

d = load(); gal, vis, pop = protocol_split(d)
m = Perceived(d, gal)
sc, _ = m.scores(d["id"][vis], d["app"][vis]); scp, _ = m.scores(d["id"][pop], d["app"][pop])
ga, gp = d["app"][vis] @ m.ga.T, d["app"][pop] @ m.ga.T
ia, ip = d["id"][vis] @ m.gi.T, d["id"][pop] @ m.gi.T
vg, vr = d["gender"][vis], d["race"][vis]
G = np.full((120, 120), 1 / 120); D = ref_matrix(declared_groups(m), 120)
key = m.gender * 10 + m.race
P = 0.032
families = [
    ("plain ranking (today)", None),
    ("least recently shown among near-ties, 4.7 points", lambda s, seed, a, i: variety_run(s, seed, 0.15)),
    ("least recently shown among near-ties, 9.4 points", lambda s, seed, a, i: variety_run(s, seed, 0.30)),
    ("decaying last-shown penalty (tau 120 visitors), 9.4 points", lambda s, seed, a, i: decay_run(s, seed, 0.3, 120)),
    ("show count vs the whole gallery, 9.4 points", lambda s, seed, a, i: count_run(s, seed, 0.3, 240, "linear")),
    ("rotation only inside the best's declared group, 9.4 points", lambda s, seed, a, i: group_rotation_run(s, seed, 0.3, 1, declared_groups(m), policy="recent")),
    ("show count vs declared peers, 18.8 points, no guard", lambda s, seed, a, i: guarded_run(s, seed, [(D, 0.6, "linear")], 1e12, combine="max")),
    ("... + appearance guard for every replacement (0.05)", lambda s, seed, a, i: guarded_run(s, seed, [(D, 0.6, "linear")], 1e12, guard=a, delta=0.05, combine="max")),
    ("shipped: declared peers, 30 points, identity guard 0.15, appearance guard across groups", lambda s, seed, a, i: guarded3_run(s, seed, D, 30 * P, a, i, 0.15, 0.0, key)),
]
print(f"{DUMP}: {len(vis)} visitors, population {len(pop)}; 10 orders")
print("policy | gender | group | both | top-3 | max share | never % | population: worst group max/mean")
for name, run in families:
    rows, pops = [], []
    for seed in range(10 if run else 1):
        if run:
            main, card = run(sc, seed, ga, ia)
            mp, _ = run(scp, seed, gp, ip)
        else:
            main = np.argmax(sc, 1); card = np.argsort(-sc, 1, kind="stable")[:, :3]; mp = np.argmax(scp, 1)
        rows.append(protocol_metrics(main, card, m, vg, vr))
        wg, c = within_group(mp, m)
        pops.append(max(v[1] for v in wg.values()))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"{name} | {100*mean['gender']:.1f} | {100*mean['group']:.1f} | {100*mean['both']:.1f} | {100*mean['top3']:.1f} | {mean['max']:.2f} | {100*mean['never']:.1f} | {np.mean(pops):.2f}", flush=True)
