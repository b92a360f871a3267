//! The soak's plot, `soak.png`, drawn from its `samples.csv` (`tests/it/soak.rs`): four panels
//! against soak time in booth days — the heap in use (RSS in grey behind it), open file
//! descriptors, threads, and the vision
//! thread's CPU time per frame (the wall time per frame in grey behind it). Each panel draws
//! the second day's median (green: the reference after the warm-up day) and +5 % (red), and
//! names the last full day's median. Drawn with the library's chart code (`rolemirror::chart`,
//! the display's fonts), so the tests need no plotting tool of their own.
//!
//! Re-plot a soak's samples (also while it runs: the CSV is rewritten every 100 samples):
//! `SOAK_OUT=target/soak/long cargo test --release --test it soak_plot::replot -- --ignored`.

use std::path::Path;

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::Point;
use rolemirror::chart::Chart;
use rolemirror::config::Config;
use rolemirror::display::text::Fonts;

const BLACK: Rgb888 = Rgb888::new(0, 0, 0);
const CURVE: Rgb888 = Rgb888::new(20, 60, 200);
const BEHIND: Rgb888 = Rgb888::new(185, 185, 185);
const REFERENCE: Rgb888 = Rgb888::new(0, 150, 0);
const LIMIT: Rgb888 = Rgb888::new(220, 0, 0);

/// Picture size, and each panel's height, left edge and the first panel's top.
const SIZE: (u32, u32) = (1200, 1000);
const PANEL: (i32, i32, i32) = (215, 90, 40);
/// Text size in pixels.
const PX: f32 = 14.0;

/// The median of `v` (NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of the values of samples on day `d` (days of `day` slots; the first is day 0).
pub fn day_median(slots: &[usize], values: &[Option<f64>], day: usize, d: usize) -> f64 {
    median(slots.iter().zip(values).filter(|(s, _)| **s / day == d).filter_map(|(_, v)| *v).collect())
}

/// The last full day of samples at `slots`, days of `day` slots (0 with less than two days).
pub fn last_day(slots: &[usize], day: usize) -> usize {
    slots.last().map_or(0, |s| (s + 1) / day).max(1) - 1
}

/// A soak's samples as read back from its `samples.csv`.
pub struct Samples {
    pub slot: Vec<usize>,
    /// Slots per booth day.
    pub day: usize,
    /// Named columns, None where a cell is empty.
    columns: Vec<(String, Vec<Option<f64>>)>,
}

impl Samples {
    /// Reads `samples.csv`; the day length is the one its `day` column was written with.
    pub fn read(path: &Path) -> Samples {
        let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let headers: Vec<String> = reader.headers().expect("header row").iter().map(str::to_string).collect();
        let mut columns: Vec<(String, Vec<Option<f64>>)> = headers.iter().map(|h| (h.clone(), Vec::new())).collect();
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for ((_, col), cell) in columns.iter_mut().zip(record.iter()) {
                col.push(cell.parse::<f64>().ok());
            }
        }
        let column = |k: &str| columns.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no column {k}"));
        let slot: Vec<usize> = column("slot").iter().map(|v| v.unwrap_or(0.0) as usize).collect();
        let days = column("day");
        // As written: day = slot / slots per day.
        let day = match (slot.last(), days.last().copied().flatten()) {
            (Some(&s), Some(d)) if d > 0.0 => (s as f64 / d).round() as usize,
            _ => 1,
        };
        Samples { slot, day: day.max(1), columns }
    }

    /// The column `key`.
    pub fn column(&self, key: &str) -> &[Option<f64>] {
        self.columns.iter().find(|(h, _)| h == key).map(|(_, v)| v.as_slice()).unwrap_or_else(|| panic!("samples.csv has no column {key}"))
    }
}

/// The fonts the plot is set in: the display's (DejaVu).
fn fonts() -> Fonts {
    let d = Config::default().display;
    Fonts::load(&d.font, &d.font_bold).expect("the display fonts (apt-get install fonts-dejavu-core)")
}

/// One panel: its title, the curve, and the curve drawn behind it in grey.
struct Panel<'a> {
    name: &'a str,
    values: Vec<Option<f64>>,
    behind: Option<&'a [Option<f64>]>,
}

/// The value range a panel shows: its values, the reference and +5 %; the grey curve up to its
/// 98th percentile (the wall time and RSS are noisy); from 0 (the heap: from 90 % of its
/// lowest), with 8 % headroom.
fn range(p: &Panel, reference: f64) -> (f64, f64) {
    let vals: Vec<f64> = p.values.iter().flatten().copied().chain(reference.is_finite().then_some(reference)).collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max).max(if reference.is_finite() { reference * 1.05 } else { lo });
    if let Some(behind) = p.behind {
        let mut b: Vec<f64> = behind.iter().flatten().copied().collect();
        b.sort_by(f64::total_cmp);
        if !b.is_empty() {
            hi = hi.max(b[if b.len() > 1 { b.len() * 98 / 100 - 1 } else { 0 }]);
        }
    }
    let (lo, hi) = if vals.is_empty() { (0.0, 1.0) } else { (if p.name.starts_with("heap") { lo * 0.9 } else { lo.min(0.0) }, hi) };
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    (lo, hi + (hi - lo) * 0.08)
}

/// Draws panel `i` of the plot.
fn panel(c: &mut Chart, i: i32, p: &Panel, s: &Samples, x: &[f64]) {
    let (ph, left, top) = PANEL;
    let right = c.width() as i32 - 20;
    let (y_top, y_bot) = (top + i * (ph + 25), top + i * (ph + 25) + ph);
    let last = last_day(&s.slot, s.day);
    let (reference, late) = (day_median(&s.slot, &p.values, s.day, 1), day_median(&s.slot, &p.values, s.day, last));
    let (lo, hi) = range(p, reference);
    let x1 = x.last().copied().unwrap_or(0.0).max(1e-9);
    let px = |v: f64| left + (v / x1 * f64::from(right - left)).round() as i32;
    let py = |v: f64| y_bot - ((v.min(hi) - lo) / (hi - lo) * f64::from(ph)).round() as i32;
    c.outline(left, y_top, (right - left + 1) as u32, (ph + 1) as u32, BLACK);
    for k in 0..5 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        c.text(false, PX, BLACK, &format!("{v:.1}"), 5, py(v) + 5);
        c.line(Point::new(left, py(v)), Point::new(left + 5, py(v)), BLACK, 1);
    }
    for d in 0..=(x1 as i32) {
        let xd = px(f64::from(d));
        c.line(Point::new(xd, y_bot), Point::new(xd, y_bot - 5), BLACK, 1);
        c.text(false, PX, BLACK, &d.to_string(), xd - 4, y_bot + 15);
    }
    let curve = |c: &mut Chart, values: &[Option<f64>], color: Rgb888| {
        let mut prev: Option<Point> = None;
        for (xv, v) in x.iter().zip(values) {
            let point = v.map(|v| Point::new(px(*xv), py(v)));
            if let Some(q) = point {
                c.line(prev.unwrap_or(q), q, color, 1);
            }
            prev = point;
        }
    };
    if let Some(behind) = p.behind {
        curve(c, behind, BEHIND);
    }
    curve(c, &p.values, CURVE);
    if reference.is_finite() {
        c.line(Point::new(left, py(reference)), Point::new(right, py(reference)), REFERENCE, 1);
        c.line(Point::new(left, py(reference * 1.05)), Point::new(right, py(reference * 1.05)), LIMIT, 1);
    }
    let label = format!("{}: day 2 {reference:.2}, last day {late:.2} (x{:.3}); green = day 2, red = +5 %", p.name, late / reference);
    c.text(false, PX, BLACK, &label, left + 8, y_top + 16);
}

/// The plot of `s`, titled `title`.
fn draw<'a>(s: &Samples, title: &str, fonts: &'a Fonts) -> Chart<'a> {
    let mut c = Chart::new(SIZE.0, SIZE.1, fonts);
    let x: Vec<f64> = s.column("day").iter().map(|v| v.unwrap_or(0.0)).collect();
    let header = format!("{title}: {} samples (one per simulated minute), x = booth days of {} slots", s.slot.len(), s.day);
    c.text(false, PX, BLACK, &header, PANEL.1, 22);
    let mb = |key: &str| -> Vec<Option<f64>> { s.column(key).iter().map(|v| v.map(|kb| kb / 1024.0)).collect() };
    let (heap, rss) = (mb("heap_in_use_kb"), mb("rss_kb"));
    let panels = [
        Panel { name: "heap in use after a frame, MB (grey: RSS)", values: heap, behind: Some(&rss) },
        Panel { name: "open file descriptors", values: s.column("fds").to_vec(), behind: None },
        Panel { name: "threads", values: s.column("threads").to_vec(), behind: None },
        Panel {
            name: "vision CPU ms / frame (grey: wall ms / frame)",
            values: s.column("vision_cpu_ms_per_frame").to_vec(),
            behind: Some(s.column("wall_ms_per_frame")),
        },
    ];
    for (i, p) in panels.iter().enumerate() {
        panel(&mut c, i as i32, p, s, &x);
    }
    c
}

/// Plots the soak samples in `csv` into `png`.
pub fn plot(csv: &Path, png: &Path, title: &str) {
    let fonts = fonts();
    let chart = draw(&Samples::read(csv), title, &fonts);
    chart.write_png(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
}

/// Re-plots `$SOAK_OUT/samples.csv` (default `target/soak/long`) into `soak.png` beside it.
#[test]
#[ignore = "by hand: SOAK_OUT=target/soak/long cargo test --release --test it soak_plot::replot -- --ignored"]
fn replot() {
    let out = std::env::var_os("SOAK_OUT").map(std::path::PathBuf::from).unwrap_or_else(|| crate::common::root().join("target/soak/long"));
    plot(&out.join("samples.csv"), &out.join("soak.png"), "soak");
    eprintln!("{}", out.join("soak.png").display());
}

/// Three days of 10 slots: heap in use 100 MB on the first day, then 200 (RSS 30 MB above it);
/// threads 4, then 5 on the
/// last day; CPU time 25 ms, then 30 on the last day, with a wall time of 50 ms behind it.
#[test]
fn the_plot_draws_each_curve_and_its_reference_lines() {
    let tmp = crate::common::TempDir::new("soak-plot");
    let mut csv =
        String::from("slot,day,frame,segment,wall_s,rss_kb,heap_in_use_kb,fds,threads,vision_cpu_ms_per_frame,wall_ms_per_frame\n");
    for slot in 0..30 {
        let heap = if slot < 10 { 100 * 1024 } else { 200 * 1024 };
        let rss = heap + 30 * 1024;
        let fds = if slot < 15 { 10 } else { 11 };
        let threads = if slot < 20 { 4 } else { 5 };
        let (cpu, wall) =
            if slot == 0 { (String::new(), String::new()) } else { (if slot < 20 { "25.000" } else { "30.000" }.into(), "50.000".into()) };
        csv += &format!("{slot},{:.4},{},0,{slot}.0,{rss},{heap},{fds},{threads},{cpu},{wall}\n", slot as f64 / 10.0, slot * 5);
    }
    let (csv_path, png) = (tmp.path().join("samples.csv"), tmp.path().join("soak.png"));
    std::fs::write(&csv_path, csv).expect("csv");
    let s = Samples::read(&csv_path);
    assert_eq!((s.day, s.slot.len(), last_day(&s.slot, s.day)), (10, 30, 2));
    assert_eq!(day_median(&s.slot, s.column("fds"), 10, 1), 10.5);
    assert_eq!(s.column("vision_cpu_ms_per_frame")[0], None);
    plot(&csv_path, &png, "test");
    if let Some(keep) = std::env::var_os("SOAK_PLOT_KEEP") {
        std::fs::copy(&png, keep).expect("keep the plot");
    }
    let img = image::open(&png).expect("png").to_rgb8();
    assert_eq!(img.dimensions(), SIZE);
    // Rows of panel i with more than `min` pixels of colour `rgb` inside the frame.
    let rows = |i: i32, rgb: Rgb888, min: usize| {
        let top = PANEL.2 + i * (PANEL.0 + 25);
        let inside =
            |y: i32| (PANEL.1 as u32 + 1..SIZE.0 - 21).filter(|x| img.get_pixel(*x, y as u32).0 == [rgb.r(), rgb.g(), rgb.b()]).count();
        (top + 1..top + PANEL.0).filter(|y| inside(*y) > min).collect::<Vec<i32>>()
    };
    // Every panel: the second day's median (green) and +5 % (red) across it (the panel's label
    // may cross one), red above green.
    for i in 0..4 {
        let (green, red) = (rows(i, REFERENCE, 800), rows(i, LIMIT, 800));
        assert!(green.len() == 1 && red.len() == 1 && red[0] < green[0], "panel {i}: green {green:?}, red {red:?}");
    }
    // The curves where they leave the reference: the heap's first day (below), threads' and CPU
    // time's last day (above), a day being 1/2.9 of the width; the wall time's grey above all.
    let day = 1090 * 9 / 29 - 20;
    let below = |i: i32| rows(i, CURVE, day).iter().any(|y| *y > rows(i, REFERENCE, 800)[0]);
    let above = |i: i32| rows(i, CURVE, day).iter().any(|y| *y < rows(i, LIMIT, 800)[0]);
    assert!(below(0) && above(2) && above(3), "curves");
    let (grey, blue) = (rows(3, BEHIND, day * 2), rows(3, CURVE, day));
    assert!(!grey.is_empty() && !blue.is_empty() && grey[0] < blue[0], "the wall time above the CPU time: {grey:?} {blue:?}");
    let (grey, blue) = (rows(0, BEHIND, day), rows(0, CURVE, day));
    assert!(!grey.is_empty() && !blue.is_empty() && grey[0] < blue[0], "RSS above the heap in use: {grey:?} {blue:?}");
}
