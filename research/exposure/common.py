"""Shared helpers for the exposure research: load a dump from `dump/` (in /tmp), the relatability
protocol's split, and a numpy copy of the booth's `perceived` matcher (src/gallery/matcher.rs).
Research on the UTKFace dev split only; nothing here touches visitors."""
import hashlib
import os
import numpy as np

DUMP = os.environ.get("EXPOSURE_DUMP", "/tmp/exposure/d320")
GROUPS = [(g, r) for g in (0, 1) for r in (0, 1, 2, 3)]
RACE = ["White", "Black", "Asian", "Indian"]


def group_name(g, r):
    return f"{'men' if g == 0 else 'women'}, {RACE[r]}"


def load(dump=DUMP):
    names, ok = [], []
    for line in open(os.path.join(dump, "names.txt")):
        n, o = line.rstrip("\n").split("\t")
        names.append(n)
        ok.append(o == "1")
    n = len(names)
    meta = np.fromfile(os.path.join(dump, "meta.f32"), dtype="<f4").reshape(n, 15)
    ident = np.fromfile(os.path.join(dump, "identity.f32"), dtype="<f4").reshape(n, 512)
    app = np.fromfile(os.path.join(dump, "appearance.f32"), dtype="<f4").reshape(n, 128)
    def lab(nm):
        try:
            return [int(x) for x in nm.split("_")[:3]]
        except ValueError:  # not a UTKFace name (e.g. LFW)
            return [-1, -1, -1]
    labels = np.array([lab(nm) for nm in names])  # age, gender, race
    return dict(names=names, ok=np.array(ok), meta=meta, id=ident, app=app, age=labels[:, 0], gender=labels[:, 1], race=labels[:, 2])


def crops(dump=DUMP):
    n = sum(1 for _ in open(os.path.join(dump, "names.txt")))
    return np.fromfile(os.path.join(dump, "crops.u8"), dtype=np.uint8).reshape(n, 112, 112, 3)


def protocol_split(d):
    """Indices of the 120 role models and 431 visitors (the protocol: per group, md5 order,
    first 15 role models, next 60 visitors), and of the large population (every adult face
    not in the gallery)."""
    gal, vis = [], []
    for g, r in GROUPS:
        idx = [i for i in range(len(d["names"])) if d["gender"][i] == g and d["race"][i] == r]
        idx.sort(key=lambda i: hashlib.md5(d["names"][i].encode()).hexdigest())
        gal += idx[:15]
        vis += idx[15:75]
    gal_set = set(gal)
    pop = [i for i in range(len(d["names"])) if i not in gal_set and d["ok"][i]]
    vis = [i for i in vis if d["ok"][i]]
    return np.array(gal), np.array(vis), np.array(pop)


class Perceived:
    """The booth's default ranking: s = cos_a + cos_i, score 2 s - 0.5 r_g + cue * agreement."""

    def __init__(self, d, gal, hub_k=3, hub_w=0.5, cue=0.2, voters=10, sharp=10.0, mode="perceived"):
        self.gi, self.ga = d["id"][gal], d["app"][gal]
        self.gender = d["gender"][gal]
        self.race = d["race"][gal]
        self.mode = mode
        if mode == "fair":
            hub_w = 1.0
        gg = self.gi @ self.gi.T + (self.ga @ self.ga.T if mode == "perceived" else 0)
        np.fill_diagonal(gg, -np.inf)
        self.hub = np.sort(gg, axis=1)[:, -hub_k:].mean(axis=1)
        self.hub_w, self.cue, self.voters, self.sharp = hub_w, cue, voters, sharp

    def sims(self, qi, qa):
        return qi @ self.gi.T + (qa @ self.ga.T if self.mode == "perceived" else 0)

    def scores(self, qi, qa):
        s = self.sims(qi, qa)
        sc = 2 * s - self.hub_w * self.hub[None, :]
        if self.cue > 0:
            order = np.argsort(-s, axis=1)[:, : self.voters]
            top = np.take_along_axis(s, order, axis=1)
            w = np.exp(self.sharp * (top - top[:, :1]))
            gv = self.gender[order]
            share1 = (w * (gv == 1)).sum(1) / w.sum(1)
            agree = np.where(self.gender[None, :] == 1, share1[:, None], 1 - share1[:, None])
            sc = sc + self.cue * agree
        return sc, s


def chance(n, faces, trials=401, seed=1):
    rng = np.random.default_rng(seed)
    mx = [np.bincount(rng.integers(0, n, faces), minlength=n).max() for _ in range(trials)]
    return float(np.median(mx)) / faces * n, (1 - 1 / n) ** faces


def within_group(top, m, n_rm=None):
    """Per role-model group: matches, max share over the group's mean, never shown."""
    out = {}
    c = np.bincount(top, minlength=len(m.gender))
    for g, r in GROUPS:
        idx = np.where((m.gender == g) & (m.race == r))[0]
        cc = c[idx]
        tot = cc.sum()
        out[group_name(g, r)] = (int(tot), cc.max() / (tot / len(idx)) if tot else 0.0, int((cc == 0).sum()), tot / len(idx))
    return out, c


def variety_run(sc, order_seed, margin, pool=None, shown=3):
    """Visitors (rows of sc) in a shuffled order; among role models within `margin` of the best
    score (and among the best `pool` when given), the one shown least recently is the main
    match; the card then shows the next best. Returns (main, card) per visitor (input order)."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    last = np.full(g, -1, dtype=np.int64)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        order = np.argsort(-row, kind="stable")
        best = row[order[0]]
        cand = order[row[order] >= best - margin]
        if pool:
            cand = cand[:pool]
        # least recently shown (never = -1 first); ties by score order (cand is score order)
        pick = cand[np.argmin(last[cand])] if margin > 0 else order[0]
        last[pick] = t
        main[v] = pick
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def protocol_metrics(main, card, m, vg, vr):
    g = m.gender[main] == vg
    r = m.race[main] == vr
    t3 = ((m.gender[card] == vg[:, None]) & (m.race[card] == vr[:, None])).any(1)
    c = np.bincount(main, minlength=len(m.gender))
    per = {}
    for gg, rr in GROUPS:
        sel = (vg == gg) & (vr == rr)
        per[group_name(gg, rr)] = (g & r)[sel].mean()
    return dict(gender=g.mean(), group=r.mean(), both=(g & r).mean(), top3=t3.mean(), worst=min(per.values()), max=c.max() / len(main) * len(m.gender), never=(c == 0).mean())


def decay_run(sc, order_seed, margin, tau, shown=3):
    """Visitors in a shuffled order; each role model's score is lowered by
    margin * exp(-(visitors since it was last shown) / tau) (0 if never shown), so the penalty
    never exceeds `margin`: a match better by more than that always stays first."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    last = np.full(g, -np.inf)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        adj = row - margin * np.exp(-(t - last) / tau)
        pick = int(np.argmax(adj))
        last[pick] = t
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def summarize(sc, scp, m, vg, vr, runner, seeds=5, **kw):
    rows, pw = [], []
    for seed in range(seeds):
        main, card = runner(sc, seed, **kw)
        rows.append(protocol_metrics(main, card, m, vg, vr))
        mp, _ = runner(scp, seed, **kw)
        wg, c = within_group(mp, m)
        pw.append((max(v[1] for v in wg.values()), sum(v[2] for v in wg.values()), c.max() / len(mp) * len(c)))
    keys = rows[0].keys()
    mean = {k: np.mean([r[k] for r in rows]) for k in keys}
    sd = {k: np.std([r[k] for r in rows]) for k in keys}
    return mean, sd, np.mean(pw, axis=0), rows, pw


def fmt(mean, sd, pw):
    return " ".join(f"{k} {100*mean[k] if k not in ('max',) else mean[k]:.1f}±{100*sd[k] if k != 'max' else sd[k]:.1f}" for k in mean) + " | pop grp-max %.2f never %.1f overall-max %.2f" % tuple(pw)


def count_run(sc, order_seed, margin, half_life, shape="excess", shown=3):
    """Visitors in a shuffled order; each role model keeps a decayed count of how often it was
    shown (half-life in visitors); its score is lowered by margin * f(count / mean count)."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    gamma = 0.5 ** (1.0 / half_life)
    e = np.zeros(g)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        mean = e.mean()
        x = e / mean if mean > 0 else np.zeros(g)
        if shape == "excess":
            f = np.clip(x - 1, 0, 1)
        elif shape == "linear":
            f = np.clip(x / 2, 0, 1)
        else:
            f = np.clip((x - 1) / 2, 0, 1)
        pick = int(np.argmax(row - margin * f))
        e *= gamma
        e[pick] += 1
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def rel_count_run(sc, order_seed, margin, half_life, ref, shape="excess", shown=3):
    """As count_run, but each role model's decayed count is compared with the mean count of its
    reference set ref[i] (indices: its declared group, or its nearest role models)."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    gamma = 0.5 ** (1.0 / half_life)
    e = np.zeros(g)
    R = np.zeros((g, g))
    for i, r in enumerate(ref):
        R[i, r] = 1.0 / len(r)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        base = R @ e
        x = np.where(base > 0, e / np.maximum(base, 1e-12), np.where(e > 0, 2.0, 0.0))
        f = np.clip(x - 1, 0, 1) if shape == "excess" else np.clip(x / 2, 0, 1)
        pick = int(np.argmax(row - margin * f))
        e *= gamma
        e[pick] += 1
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def neighbours(m, k):
    gg = m.gi @ m.gi.T + m.ga @ m.ga.T
    return [np.argsort(-gg[i])[: k + 1] for i in range(len(gg))]  # includes itself


def declared_groups(m):
    return [np.where((m.gender == m.gender[i]) & (m.race == m.race[i]))[0] for i in range(len(m.gender))]


def multi_run(sc, order_seed, terms, half_life, combine="sum", shown=3):
    """Decayed counts per role model; penalty = sum (or max) over terms (R, margin, shape) of
    margin * f(count / (R @ count)); R's rows average a reference set (all: global).
    (guarded_run without a guard.)"""
    return guarded_run(sc, order_seed, terms, half_life, guard=None, combine=combine, shown=shown)


def ref_matrix(ref, g):
    R = np.zeros((g, g))
    for i, r in enumerate(ref):
        R[i, r] = 1.0 / len(r)
    return R


def guarded_run(sc, order_seed, terms, half_life, guard=None, delta=0.0, combine="sum", shown=3):
    """multi_run, but a role model may only displace the best when guard[v, j] (e.g. its
    appearance cosine to the visitor) is at least guard[v, best] - delta."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    gamma = 0.5 ** (1.0 / half_life)
    e = np.zeros(g)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        pens = []
        for R, margin, shape in terms:
            base = R @ e
            x = np.where(base > 0, e / np.maximum(base, 1e-12), 0.0)
            f = np.clip(x - 1, 0, 1) if shape == "excess" else np.clip(x / 2, 0, 1)
            pens.append(margin * f)
        pen = np.sum(pens, 0) if combine == "sum" else np.max(pens, 0)
        best = int(np.argmax(row))
        adj = row - pen
        if guard is not None:
            adj = np.where(guard[v] >= guard[v, best] - delta, adj, -np.inf)
            adj[best] = row[best] - pen[best]
        pick = int(np.argmax(adj))
        e *= gamma
        e[pick] += 1
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def group_rotation_run(sc, order_seed, margin, half_life, groups, policy="count", shape="excess", shown=3, alt_margin=0.0):
    """The best role model may be replaced only by one of its own declared group (groups[i]:
    indices of the role models that declared what i declared) within `margin` of its score:
    policy 'count' picks argmax(score - margin * f(decayed count / group mean)), 'recent' the
    least recently shown among those within the margin."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    gamma = 0.5 ** (1.0 / half_life)
    e = np.zeros(g)
    last = np.full(g, -1)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        best = int(np.argmax(row))
        grp = groups[best]
        if policy == "count":
            base = e[grp].mean()
            x = e[grp] / base if base > 0 else np.zeros(len(grp))
            f = np.clip(x - 1, 0, 1) if shape == "excess" else np.clip(x / 2, 0, 1)
            adj = row[grp] - margin * f
            pick = int(grp[np.argmax(adj)])
        else:
            ok = grp[row[grp] >= row[best] - margin]
            ok = ok[np.argsort(-row[ok], kind="stable")]
            pick = int(ok[np.argmin(last[ok])])
        e *= gamma
        e[pick] += 1
        last[pick] = t
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def guarded2_run(sc, order_seed, R, margin, guard, delta_same, delta_other, groupkey, shown=3):
    """Count-based variety relative to R (decayed counts, no decay), bounded by `margin`; a
    replacement from the best's own declared group must be within delta_same of the best's
    guard value (appearance cosine), one from another group within delta_other."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    e = np.zeros(g)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        base = R @ e
        x = np.where(base > 0, e / np.maximum(base, 1e-12), 0.0)
        pen = margin * np.clip(x / 2, 0, 1)
        best = int(np.argmax(row))
        same = groupkey == groupkey[best]
        allowed = np.where(same, guard[v] >= guard[v, best] - delta_same, guard[v] >= guard[v, best] - delta_other)
        allowed[best] = True
        adj = np.where(allowed, row - pen, -np.inf)
        pick = int(np.argmax(adj))
        e[pick] += 1
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card


def guarded3_run(sc, order_seed, R, margin, app, ident, delta_id, delta_other, groupkey, shown=3, stats=None):
    """guarded2_run with no appearance guard inside the best's own declared group, plus an
    identity guard for everybody: a replacement's identity cosine must be within delta_id of
    the best's (a much closer identity match, e.g. the same person, is never replaced)."""
    n, g = sc.shape
    rng = np.random.default_rng(order_seed)
    seq = rng.permutation(n)
    e = np.zeros(g)
    main = np.zeros(n, dtype=np.int64)
    card = np.zeros((n, shown), dtype=np.int64)
    for t, v in enumerate(seq):
        row = sc[v]
        base = R @ e
        x = np.where(base > 0, e / np.maximum(base, 1e-12), 0.0)
        pen = margin * np.clip(x / 2, 0, 1)
        best = int(np.argmax(row))
        same = groupkey == groupkey[best]
        allowed = (ident[v] >= ident[v, best] - delta_id) & (same | (app[v] >= app[v, best] - delta_other))
        allowed[best] = True
        pick = int(np.argmax(np.where(allowed, row - pen, -np.inf)))
        if stats is not None:
            stats.append(row[best] - row[pick])
        e[pick] += 1
        main[v] = pick
        order = np.argsort(-row, kind="stable")
        rest = [i for i in order[: shown + 1] if i != pick][: shown - 1]
        card[v] = [pick] + rest
    return main, card
