"""The shipped variety policy (gallery::variety) against the issue's targets, 10 shuffled
orders: margin in look-alike percentage points, identity guard, appearance guard across
declared groups, counts relative to the declared gender/group (or to everybody)."""
import sys
from common import *

d = load(); gal, vis, pop = protocol_split(d)
mode = os.environ.get("MODE", "perceived")
m = Perceived(d, gal, mode=mode)
sc, _ = m.scores(d["id"][vis], d["app"][vis]); scp, _ = m.scores(d["id"][pop], d["app"][pop])
ia, ip = d["id"][vis] @ m.gi.T, d["id"][pop] @ m.gi.T
ga, gp = (d["app"][vis] @ m.ga.T, d["app"][pop] @ m.ga.T) if mode == "perceived" else (ia, ip)
vg, vr = d["gender"][vis], d["race"][vis]
pts = float(sys.argv[1]) if len(sys.argv) > 1 else 30
did = float(sys.argv[2]) if len(sys.argv) > 2 else 0.15
declared = (sys.argv[3] if len(sys.argv) > 3 else "declared") == "declared"
B = pts * (0.032 if mode == "perceived" else 0.012)
R = ref_matrix(declared_groups(m), 120) if declared else np.full((120, 120), 1 / 120)
key = m.gender * 10 + m.race if declared else np.arange(120)
print(f"{DUMP} {mode}: margin {pts} points (score {B:.3f}), identity guard {did}, counts relative to {'declared gender/group' if declared else 'all role models'}")
for name, var in [("today", False), ("variety", True)]:
    rows, pops, st = [], [], []
    for seed in range(10 if var else 1):
        if var:
            main, card = guarded3_run(sc, seed, R, B, ga, ia, did, 0.0, key, stats=st)
            mp, _ = guarded3_run(scp, seed, R, B, gp, ip, did, 0.0, key)
        else:
            main = np.argmax(sc, 1); card = np.argsort(-sc, 1, kind="stable")[:, :3]; mp = np.argmax(scp, 1)
        rows.append(protocol_metrics(main, card, m, vg, vr))
        wg, c = within_group(mp, m)
        pops.append((max(v[1] for v in wg.values()), sum(v[2] for v in wg.values() if v[3] >= 5), max(v[1] for v in wg.values() if v[3] >= 5)))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    sd = {k: float(np.std([r[k] for r in rows])) for k in rows[0]}
    line = ", ".join((f"{k} {100 * v:.1f}±{100 * sd[k]:.1f}" if k != "max" else f"max {v:.2f}±{sd[k]:.2f}") for k, v in mean.items())
    pm = np.mean(pops, 0)
    extra = ""
    if var:
        st = np.array(st) / (4 * 0.8 if mode == "perceived" else 2 / 0.6 * 0.01 * 100) * (100 if mode == "perceived" else 1)
        sw = st[st > 1e-9]
        extra = f" | main match replaced for {len(sw) / len(st):.0%}, look-alike points lost median {np.median(sw):.1f} p90 {np.quantile(sw, .9):.1f} max {sw.max():.1f}"
    print(f"  {name}: {line} | population: worst group max/mean {pm[0]:.2f} (worst seed {max(p[0] for p in pops):.2f}), never (groups >= 5 expected) {pm[1]:.1f}{extra}")
