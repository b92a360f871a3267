#!/usr/bin/env python3
"""Plots a soak's samples.csv (tests/it/soak.rs) as four curves: RSS, open fds, threads and the
vision thread's CPU time per frame (the wall time per frame in grey behind it), against soak
time in booth days. The second day's median (the reference after the warm-up day) and +5 % are
drawn as lines, and the last full day's median is named. Needs only PIL.

    python3 tests/soak/plot.py target/soak/long/samples.csv target/soak/long/soak.png [title]
"""
import csv
import sys

from PIL import Image, ImageDraw, ImageFont


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return float("nan")
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main():
    src, dst = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else "soak"
    rows = list(csv.DictReader(open(src)))
    if not rows:
        sys.exit("no samples in " + src)
    day = [float(r["day"]) for r in rows]
    # Slots per day (600 in the long soak, fewer in the compressed CI days).
    day_len = round(int(rows[-1]["slot"]) / float(rows[-1]["day"])) if float(rows[-1]["day"]) > 0 else 1

    def col(k):
        return [float(r[k]) if r[k] != "" else None for r in rows]

    panels = [
        ("RSS (MB)", [None if x is None else x / 1024 for x in col("rss_kb")], None),
        ("open file descriptors", col("fds"), None),
        ("threads", col("threads"), None),
        ("vision CPU ms / frame (grey: wall ms / frame)", col("vision_cpu_ms_per_frame"), col("wall_ms_per_frame")),
    ]
    W, H, ph, left, top = 1200, 1000, 215, 90, 40
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:
        font = ImageFont.load_default()
    d.text((left, 10), f"{title}: {len(rows)} samples (one per simulated minute), x = booth days of {day_len} slots", fill="black", font=font)
    x0, x1 = 0.0, max(day[-1], 1e-9)
    n = len(rows)
    for i, (name, ys, back) in enumerate(panels):
        y_top = top + i * (ph + 25)
        y_bot = y_top + ph
        vals = [y for y in ys if y is not None]
        last = (int(rows[-1]["slot"]) + 1) // day_len - 1
        slots = [int(r["slot"]) for r in rows]
        ref = median([y for sl, y in zip(slots, ys) if y is not None and sl // day_len == 1])
        late = median([y for sl, y in zip(slots, ys) if y is not None and sl // day_len == last])
        lo = min(vals + [ref]) if vals else 0
        hi = max(vals + [ref * 1.05]) if vals else 1
        if back:
            bv = [y for y in back if y is not None]
            # The wall time is noisy (shared machine): clip its axis at the 98th percentile.
            if bv:
                hi = max(hi, sorted(bv)[int(len(bv) * 0.98) - 1 if len(bv) > 1 else 0])
        lo = min(0, lo) if name != "RSS (MB)" else lo * 0.9
        if hi <= lo:
            hi = lo + 1
        hi += (hi - lo) * 0.08

        def px(x):
            return left + (x - x0) / (x1 - x0) * (W - left - 20)

        def py(y):
            return y_bot - (min(y, hi) - lo) / (hi - lo) * ph

        d.rectangle([left, y_top, W - 20, y_bot], outline="black")
        for k in range(5):
            yv = lo + (hi - lo) * k / 4
            d.text((5, py(yv) - 7), f"{yv:.1f}", fill="black", font=font)
            d.line([left, py(yv), left + 5, py(yv)], fill="black")
        for dd in range(int(x1) + 1):
            d.line([px(dd), y_bot, px(dd), y_bot - 5], fill="black")
            d.text((px(dd) - 4, y_bot + 2), str(dd), fill="black", font=font)

        def curve(series, colour):
            prev = None
            for x, y in zip(day, series):
                if y is None:
                    prev = None
                    continue
                p = (px(x), py(y))
                if prev:
                    d.line([prev, p], fill=colour, width=1)
                else:
                    d.point(p, fill=colour)
                prev = p

        if back:
            curve(back, (185, 185, 185))
        curve(ys, (20, 60, 200))
        if ref == ref:
            d.line([left, py(ref), W - 20, py(ref)], fill=(0, 150, 0))
            d.line([left, py(ref * 1.05), W - 20, py(ref * 1.05)], fill=(220, 0, 0))
        d.text((left + 8, y_top + 4), f"{name}: day 2 {ref:.2f}, last day {late:.2f} (x{late / ref:.3f}); green = day 2, red = +5 %", fill="black", font=font)
    img.save(dst)


if __name__ == "__main__":
    main()
