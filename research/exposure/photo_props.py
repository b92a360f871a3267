"""Photo properties of every dumped face, and how well each predicts the photo's hubness
(hub_trials.py): Spearman correlation within each gender x group, pooled (mean over groups,
weighted by size), plus the split-half reliability of the hubness itself."""
import sys
from common import *


def props(d, cr):
    meta = d["meta"]
    lm = meta[:, 5:15].reshape(-1, 5, 2)
    le, re, nose, lmo, rmo = [lm[:, i] for i in range(5)]
    eye = np.linalg.norm(re - le, axis=1)
    mid = (le + re) / 2
    dx, dy = (re - le)[:, 0], (re - le)[:, 1]
    yaw = ((nose - mid) * (re - le)).sum(1) / eye ** 2
    roll = np.degrees(np.abs(np.arctan2(dy, dx)))
    mouth_mid = (lmo + rmo) / 2
    # pitch proxy: where the nose sits between the eye line and the mouth line (0.5 ~ frontal)
    pitch = np.linalg.norm(nose - mid, axis=1) / np.maximum(np.linalg.norm(mouth_mid - mid, axis=1), 1e-6)
    smile = np.linalg.norm(rmo - lmo, axis=1) / eye
    f = cr.astype(np.float32)
    grey = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    lap = grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:] + grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] - 4 * grey[:, 1:-1, 1:-1]
    sharp = lap.reshape(len(f), -1).var(1)
    # the inner face (the template's central region): rows 20..100, cols 20..92
    inner = grey[:, 20:100, 20:92]
    bright = inner.reshape(len(f), -1).mean(1)
    contrast = inner.reshape(len(f), -1).std(1)
    left, right = grey[:, 20:100, 20:56].mean((1, 2)), grey[:, 20:100, 56:92].mean((1, 2))
    asym = np.abs(left - right) / np.maximum(bright, 1)
    clipped = ((inner < 8) | (inner > 247)).reshape(len(f), -1).mean(1)
    r, g, b = [f[:, 20:100, 20:92, i].reshape(len(f), -1).mean(1) for i in range(3)]
    cb = -0.1687 * r - 0.3313 * g + 0.5 * b
    crr = 0.5 * r - 0.4187 * g - 0.0813 * b
    mx, mn = f[:, 20:100, 20:92].max(-1), f[:, 20:100, 20:92].min(-1)
    sat = ((mx - mn) / np.maximum(mx, 1)).reshape(len(f), -1).mean(1)
    warm = crr - cb  # red/yellow vs blue cast
    return {
        "face size (box width, px)": meta[:, 2],
        "detector score": meta[:, 4],
        "eye distance (px)": eye,
        "sharpness (Laplacian var.)": sharp,
        "sharpness / contrast^2": sharp / np.maximum(contrast, 1) ** 2,
        "yaw |nose offset|": np.abs(yaw),
        "roll (deg)": roll,
        "pitch (nose depth ratio)": pitch,
        "smile (mouth width / eyes)": smile,
        "brightness": bright,
        "contrast": contrast,
        "lighting asymmetry": asym,
        "clipped pixels": clipped,
        "saturation": sat,
        "colour cast: warm (Cr-Cb)": warm,
        "colour cast: Cb": cb,
        "colour cast: Cr": crr,
        "age (label, not a photo property)": d["age"].astype(float),
    }


def rank(x):
    return np.argsort(np.argsort(x)).astype(float)


def spearman_within(x, y, d, sel):
    rs, ws = [], []
    for g, r in GROUPS:
        idx = np.where(sel & (d["gender"] == g) & (d["race"] == r))[0]
        if len(idx) > 10:
            rs.append(np.corrcoef(rank(x[idx]), rank(y[idx]))[0, 1])
            ws.append(len(idx))
    return float(np.average(rs, weights=ws)), rs


if __name__ == "__main__":
    d = load()
    cr = crops()
    p = props(d, cr)
    name = os.path.basename(DUMP)
    h1 = np.load(f"/tmp/exposure/hubness_{name}_s7.npz")
    h2 = np.load(f"/tmp/exposure/hubness_{name}_s8.npz")
    sel = (h1["times"] >= 3) & (h2["times"] >= 3)
    y = (h1["log"] + h2["log"]) / 2
    rel, _ = spearman_within(h1["log"], h2["log"], d, sel)
    print(f"faces {sel.sum()}; split-half reliability of hubness (Spearman, within group) {rel:.2f}")
    # centrality: mean blended similarity to all other faces of the dump (what a reference population gives)
    s = d["id"] @ d["id"].T + d["app"] @ d["app"].T
    np.fill_diagonal(s, np.nan)
    p["centrality to the population"] = np.nanmean(s, 1)
    p["appearance centrality"] = np.nanmean(np.where(np.eye(len(s), dtype=bool), np.nan, d["app"] @ d["app"].T), 1)
    rows = []
    for k, x in p.items():
        r, rs = spearman_within(x, y, d, sel)
        rows.append((abs(r), k, r, rs))
    for _, k, r, rs in sorted(rows, reverse=True):
        print(f"{k:36s} {r:+.3f}   per group " + " ".join(f"{v:+.2f}" for v in rs))
