"""The issue's targets for one dump (EXPOSURE_DUMP), today's default vs the variety policy:
protocol numbers over seeds (visitors in shuffled order) and the large population's
within-group exposure. Mirrors gallery::variety (count-based, bounded by the margin, relative to
the declared gender/group, appearance guard)."""
import sys
from common import *

d = load(); gal, vis, pop = protocol_split(d)
m = Perceived(d, gal)
sc, _ = m.scores(d["id"][vis], d["app"][vis]); scp, _ = m.scores(d["id"][pop], d["app"][pop])
ga, gp = d["app"][vis] @ m.ga.T, d["app"][pop] @ m.ga.T
vg, vr = d["gender"][vis], d["race"][vis]
D = ref_matrix(declared_groups(m), 120)
G = np.full((120, 120), 1 / 120)
B = float(sys.argv[1]) if len(sys.argv) > 1 else 0.6
delta = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
ref = sys.argv[4] if len(sys.argv) > 4 else "D"
R = D if ref == "D" else G
print(f"dump {DUMP}: {len(gal)} role models, {len(vis)} visitors, population {len(pop)}; variety margin {B}, guard {delta}, reference {ref}, {seeds} seeds")
for name, runner in [("today (no variety)", None), ("variety", guarded_run)]:
    rows, pops, wgs = [], [], []
    for seed in range(seeds if runner else 1):
        if runner:
            main, card = runner(sc, seed, [(R, B, "linear")], 1e12, guard=ga, delta=delta, combine="max")
            mp, _ = runner(scp, seed, [(R, B, "linear")], 1e12, guard=gp, delta=delta, combine="max")
        else:
            main = np.argmax(sc, 1); card = np.argsort(-sc, 1, kind="stable")[:, :3]; mp = np.argmax(scp, 1)
        rows.append(protocol_metrics(main, card, m, vg, vr))
        wg, c = within_group(mp, m)
        wgs.append(wg)
        pops.append((max(v[1] for v in wg.values()), sum(v[2] for v in wg.values() if v[3] >= 5), c.max() / len(mp) * 120, (c == 0).sum()))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    sd = {k: float(np.std([r[k] for r in rows])) for k in rows[0]}
    print(f"  {name}: protocol " + ", ".join(f"{k} {100 * v:.1f}" + (f"±{100 * sd[k]:.1f}" if runner else "") if k not in ("max",) else f"max share {v:.2f}" + (f"±{sd[k]:.2f}" if runner else "") for k, v in mean.items()))
    pm = np.mean(pops, 0)
    print(f"  {name}: population worst group max/mean {pm[0]:.2f} (worst seed {max(p[0] for p in pops):.2f}), never shown in groups with >= 5 expected {pm[1]:.1f}, overall max share {pm[2]:.2f}, never shown {pm[3]:.1f}")
    for k in wgs[0]:
        vals = np.array([w[k] for w in wgs])
        print(f"      {k:14s} matches {vals[:, 0].mean():6.1f}  expected/rm {vals[:, 3].mean():5.1f}  max/mean {vals[:, 1].mean():.2f}  never {vals[:, 2].mean():.1f}  (chance {chance(15, int(vals[:, 0].mean()))[0]:.2f})")
