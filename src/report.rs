//! Training reports: the loss log as CSV, a loss chart as a self-contained SVG drawn by hand, and the
//! one-line progress display.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{CliError, Result};

/// One line of the loss log.
#[derive(Clone, Debug, PartialEq)]
pub struct LossRow {
    pub step: u64,
    pub train_loss: f64,
    /// `None` at steps where validation loss was not measured.
    pub val_loss: Option<f64>,
    pub lr: f64,
    pub elapsed_s: f64,
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| CliError::Io { path: path.display().to_string(), source })
}

/// Writes the loss log with header `step,train_loss,val_loss,lr,elapsed_s`; `val_loss` is empty where
/// it was not measured. NaN and infinities are written as `NaN`, `inf`, `-inf`, which numpy and pandas
/// read back.
pub fn write_csv(path: &Path, rows: &[LossRow]) -> Result<()> {
    write(path, &csv_text(rows))
}

fn csv_text(rows: &[LossRow]) -> String {
    let mut out = String::from("step,train_loss,val_loss,lr,elapsed_s\n");
    for r in rows {
        let val = r.val_loss.map(|v| format!("{v:.6}")).unwrap_or_default();
        // `{}` on the learning rate keeps every digit of values like 3e-4 that `{:.6}` would round.
        let _ = writeln!(out, "{},{:.6},{val},{},{:.3}", r.step, r.train_loss, r.lr, r.elapsed_s);
    }
    out
}

/// `step  120/300 [########------] loss 2.345  3.2 steps/s  eta 56s`; `width` is the bar's length in
/// characters. Unknown speeds (zero, negative, NaN) show `eta --`.
pub fn progress_line(step: u64, total: u64, loss: f64, steps_per_s: f64, width: usize) -> String {
    let frac = if total == 0 { 1.0 } else { (step as f64 / total as f64).min(1.0) };
    let filled = ((frac * width as f64).round() as usize).min(width);
    let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width - filled));
    let digits = total.to_string().len();
    let speed = if steps_per_s >= 1.0 { format!("{steps_per_s:.1}") } else { format!("{steps_per_s:.2}") };
    let eta = if steps_per_s > 0.0 && steps_per_s.is_finite() {
        duration(total.saturating_sub(step) as f64 / steps_per_s)
    } else {
        "--".into()
    };
    format!("step {step:>digits$}/{total} [{bar}] loss {loss:.3}  {speed} steps/s  eta {eta}")
}

/// `56s`, `3m05s`, `2h07m`.
fn duration(seconds: f64) -> String {
    let s = seconds.round().min(u64::MAX as f64) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

// Chart geometry, in SVG user units.
const W: f64 = 800.0;
const H: f64 = 480.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 56.0;
const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;

const TRAIN_RAW: &str = "#9ecae1";
const TRAIN: &str = "#1f5fa8";
const VAL: &str = "#e6550d";
const BASELINE: &str = "#555555";

/// Writes a line chart of training and validation loss against step, with an optional dashed
/// horizontal baseline labelled `"{name} {value:.2}"` (for example the unigram entropy).
/// Non-finite losses are left out, breaking the curve, and counted in the subtitle.
pub fn write_loss_svg(
    path: &Path,
    train: &[(u64, f64)],
    val: &[(u64, f64)],
    baseline: Option<(&str, f64)>,
) -> Result<()> {
    write(path, &loss_svg(train, val, baseline))
}

/// Whether a loss can be drawn: finite, and small enough that differences of losses stay finite.
fn plottable(v: f64) -> bool {
    v.abs() <= 1e300
}

fn loss_svg(train: &[(u64, f64)], val: &[(u64, f64)], baseline: Option<(&str, f64)>) -> String {
    let baseline = baseline.filter(|(_, v)| plottable(*v));
    let finite = |pts: &[(u64, f64)]| pts.iter().filter(|p| plottable(p.1)).count();
    let (train_ok, val_ok) = (finite(train), finite(val));
    let steps = train.iter().chain(val).map(|p| p.0 as f64);
    let losses = train.iter().chain(val).map(|p| p.1).chain(baseline.map(|b| b.1)).filter(|&v| plottable(v));
    let (x_axis, y_axis) = (Axis::new(min_max(steps), true), Axis::new(min_max(losses), false));
    let px = |s: f64| LEFT + (s - x_axis.lo) / (x_axis.hi - x_axis.lo) * PLOT_W;
    let py = |v: f64| TOP + PLOT_H - (v - y_axis.lo) / (y_axis.hi - y_axis.lo) * PLOT_H;
    let mut svg = frame(
        "Training loss",
        &subtitle(train, val, train_ok, val_ok),
        &x_axis,
        &y_axis,
        "step",
        "loss (nats per byte)",
    );

    if train_ok + val_ok == 0 {
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle" font-size="14" fill="#888888">no finite loss values yet</text>"##,
            LEFT + PLOT_W / 2.0,
            TOP + PLOT_H / 2.0
        );
    }

    // Curves. A noisy per-step train loss is drawn faint with a smoothed copy on top.
    let to_px = |pts: &[(u64, f64)]| -> Vec<Option<(f64, f64)>> {
        pts.iter().map(|&(s, v)| plottable(v).then(|| (px(s as f64), py(v)))).collect()
    };
    let smooth = train_ok >= SMOOTH_FROM;
    let mut legend: Vec<(&str, String)> = Vec::new();
    if train_ok > 0 {
        let (colour, width) = if smooth { (TRAIN_RAW, 1.0) } else { (TRAIN, 2.0) };
        svg += &curve(&to_px(train), colour, width, false);
        legend.push((colour, "train".into()));
    }
    if smooth {
        svg += &curve(&to_px(&smoothed(train)), TRAIN, 2.0, false);
        legend.push((TRAIN, "train (smoothed)".into()));
    }
    if val_ok > 0 {
        svg += &curve(&to_px(val), VAL, 2.0, val_ok <= 60);
        legend.push((VAL, "validation".into()));
    }
    let label = baseline.map(|(name, value)| escape(&format!("{name} {value:.2}")));
    if let Some(label) = &label {
        legend.push(("dash", label.clone()));
    }

    // Legend, top right inside the plot, where falling loss curves rarely are.
    let legend_bottom = TOP + 18.0 + 18.0 * legend.len() as f64;
    if !legend.is_empty() {
        let lw = 16.0 + 30.0 + 7.0 * legend.iter().map(|(_, t)| t.chars().count()).max().unwrap_or(0) as f64;
        let (x, y) = (LEFT + PLOT_W - lw - 10.0, TOP + 10.0);
        let _ = writeln!(
            svg,
            r##"<rect x="{x:.1}" y="{y}" width="{lw:.1}" height="{:.1}" fill="white" fill-opacity="0.9" stroke="#bbbbbb"/>"##,
            legend_bottom - y
        );
        for (i, (colour, text)) in legend.iter().enumerate() {
            let ly = y + 17.0 + 18.0 * i as f64;
            let (sx, sy) = (x + 8.0, ly - 4.0);
            let line = if *colour == "dash" {
                format!(r#"stroke="{BASELINE}" stroke-width="1.5" stroke-dasharray="6 4""#)
            } else {
                format!(r#"stroke="{colour}" stroke-width="2.5""#)
            };
            let _ = writeln!(svg, r#"<line x1="{sx:.1}" y1="{sy:.1}" x2="{:.1}" y2="{sy:.1}" {line}/>"#, sx + 24.0);
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{ly:.1}">{text}</text>"#, sx + 30.0);
        }
    }

    // The baseline, labelled at its right end, where a falling curve is already below it; the label
    // goes under the line when above it would hit the legend or the frame.
    if let (Some((_, value)), Some(label)) = (baseline, label) {
        let y = py(value);
        let _ = writeln!(
            svg,
            r#"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{BASELINE}" stroke-width="1.5" stroke-dasharray="6 4"/>"#,
            LEFT + PLOT_W
        );
        let ty = if y - 18.0 > legend_bottom { y - 6.0 } else { y + 16.0 };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{ty:.1}" text-anchor="end" fill="{BASELINE}">{label}</text>"#,
            LEFT + PLOT_W - 8.0
        );
    }
    svg += "</svg>\n";
    svg
}

/// One candidate of an architecture search, for [`write_front_svg`].
pub struct FrontPoint {
    pub label: String,
    pub step_ms: f64,
    pub loss: f64,
    pub on_front: bool,
}

/// Writes validation loss against milliseconds per step for every candidate, labelled, with the Pareto
/// front joined and highlighted. Candidates with a non-finite loss or time are left out and counted.
pub fn write_front_svg(path: &Path, points: &[FrontPoint]) -> Result<()> {
    write(path, &front_svg(points))
}

fn front_svg(points: &[FrontPoint]) -> String {
    let shown: Vec<&FrontPoint> = points.iter().filter(|p| plottable(p.loss) && plottable(p.step_ms)).collect();
    let x_axis = Axis::new(min_max(shown.iter().map(|p| p.step_ms)), false);
    let y_axis = Axis::new(min_max(shown.iter().map(|p| p.loss)), false);
    let px = |s: f64| LEFT + (s - x_axis.lo) / (x_axis.hi - x_axis.lo) * PLOT_W;
    let py = |v: f64| TOP + PLOT_H - (v - y_axis.lo) / (y_axis.hi - y_axis.lo) * PLOT_H;
    let hidden = points.len() - shown.len();
    let mut subtitle =
        format!("{} candidates, {} on the Pareto front", points.len(), shown.iter().filter(|p| p.on_front).count());
    if hidden > 0 {
        let _ = write!(subtitle, ", {hidden} diverged (not shown)");
    }
    let mut svg = frame(
        "Architecture search: validation loss vs step time",
        &subtitle,
        &x_axis,
        &y_axis,
        "ms per training step",
        "validation loss (nats per byte)",
    );
    let mut front: Vec<(f64, f64)> = shown.iter().filter(|p| p.on_front).map(|p| (px(p.step_ms), py(p.loss))).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    svg += &curve(&front.iter().map(|&p| Some(p)).collect::<Vec<_>>(), VAL, 1.5, false);
    for p in &shown {
        let (x, y, colour) = (px(p.step_ms), py(p.loss), if p.on_front { VAL } else { TRAIN });
        let _ = writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"#);
        let _ =
            writeln!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#, x + 6.0, y - 6.0, escape(&p.label));
    }
    svg += "</svg>\n";
    svg
}

/// The chart's frame: header, title and subtitle, grid, ticks and tick labels, axis labels. The caller
/// draws inside it and closes the `<svg>`.
fn frame(title: &str, subtitle: &str, x_axis: &Axis, y_axis: &Axis, x_label: &str, y_label: &str) -> String {
    let px = |s: f64| LEFT + (s - x_axis.lo) / (x_axis.hi - x_axis.lo) * PLOT_W;
    let py = |v: f64| TOP + PLOT_H - (v - y_axis.lo) / (y_axis.hi - y_axis.lo) * PLOT_H;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="42" text-anchor="middle" fill="#555555">{}</text>"##,
        W / 2.0,
        escape(subtitle)
    );
    // Grid, ticks and tick labels.
    let _ = writeln!(svg, r##"<g stroke="#e4e4e4" stroke-width="1">"##);
    for &t in &x_axis.ticks {
        let _ = writeln!(svg, r#"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}"/>"#, px(t), TOP + PLOT_H);
    }
    for &t in &y_axis.ticks {
        let _ = writeln!(svg, r#"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}"/>"#, py(t), LEFT + PLOT_W);
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333333"/>"##
    );
    let _ = writeln!(svg, r##"<g stroke="#333333">"##);
    for &t in &x_axis.ticks {
        let (x, y) = (px(t), TOP + PLOT_H);
        let _ = writeln!(svg, r#"<line x1="{x:.1}" y1="{y}" x2="{x:.1}" y2="{}"/>"#, y + 5.0);
    }
    for &t in &y_axis.ticks {
        let _ = writeln!(svg, r#"<line x1="{}" y1="{1:.1}" x2="{LEFT}" y2="{1:.1}"/>"#, LEFT - 5.0, py(t));
    }
    let _ = writeln!(svg, "</g>");
    for &t in &x_axis.ticks {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(t),
            TOP + PLOT_H + 19.0,
            x_axis.label(t)
        );
    }
    for &t in &y_axis.ticks {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            py(t) + 4.0,
            y_axis.label(t)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + PLOT_W / 2.0,
        H - 14.0,
        escape(x_label)
    );
    let (lx, ly) = (20.0, TOP + PLOT_H / 2.0);
    let _ = writeln!(
        svg,
        r#"<text x="{lx}" y="{ly}" text-anchor="middle" transform="rotate(-90 {lx} {ly})">{}</text>"#,
        escape(y_label)
    );
    svg
}

/// `last train 1.523 (mean of last 13: 1.540)  ·  last validation 1.610  ·  2 non-finite train losses
/// not shown`.
fn subtitle(train: &[(u64, f64)], val: &[(u64, f64)], train_ok: usize, val_ok: usize) -> String {
    let finite = |pts: &[(u64, f64)]| -> Vec<f64> { pts.iter().map(|p| p.1).filter(|&v| plottable(v)).collect() };
    let (train_vals, val_vals) = (finite(train), finite(val));
    let mut parts = Vec::new();
    if let Some(t) = train_vals.last() {
        if train_ok >= SMOOTH_FROM {
            let k = 2 * smoothing_half_width(train_ok) + 1;
            let mean = train_vals[train_vals.len() - k..].iter().sum::<f64>() / k as f64;
            parts.push(format!("last train {t:.3} (mean of last {k}: {mean:.3})"));
        } else {
            parts.push(format!("last train {t:.3}"));
        }
    }
    if let Some(v) = val_vals.last() {
        parts.push(format!("last validation {v:.3}"));
    }
    for (n, what) in [(train.len() - train_ok, "train"), (val.len() - val_ok, "validation")] {
        if n > 0 {
            parts.push(format!("{n} non-finite {what} loss{} not shown", if n == 1 { "" } else { "es" }));
        }
    }
    parts.join("  \u{b7}  ")
}

/// Train curves with at least this many points get a smoothed copy.
const SMOOTH_FROM: usize = 50;

fn smoothing_half_width(points: usize) -> usize {
    (points / 64).max(2)
}

/// Centred moving average over the finite values (a trailing average would lag behind a falling
/// curve and draw it too high). The window shrinks symmetrically near the ends, so the first and last
/// points are unsmoothed but unbiased. Non-finite inputs stay as they are, a gap in the curve.
fn smoothed(pts: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let vals: Vec<f64> = pts.iter().map(|p| p.1).filter(|&v| plottable(v)).collect();
    let prefix: Vec<f64> = std::iter::once(0.0)
        .chain(vals.iter().scan(0.0, |acc, &v| {
            *acc += v;
            Some(*acc)
        }))
        .collect();
    let half = smoothing_half_width(vals.len());
    let mut j = 0;
    pts.iter()
        .map(|&(s, v)| {
            if !plottable(v) {
                return (s, v);
            }
            let h = half.min(j).min(vals.len() - 1 - j);
            let mean = (prefix[j + h + 1] - prefix[j - h]) / (2 * h + 1) as f64;
            j += 1;
            (s, mean)
        })
        .collect()
}

/// Polylines through runs of finite points (`None` breaks the line); isolated points, or every point
/// when `markers`, get a dot.
fn curve(pts: &[Option<(f64, f64)>], colour: &str, width: f64, markers: bool) -> String {
    let mut out = String::new();
    let mut dots = Vec::new();
    for run in pts.split(Option::is_none) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        if run.len() == 1 || markers {
            dots.extend(&run);
        }
        if run.len() > 1 {
            let coords: Vec<String> = thin(&run).iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="{width}" stroke-linejoin="round" points="{}"/>"#,
                coords.join(" ")
            );
        }
    }
    for (x, y) in dots {
        let _ = writeln!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}"/>"#);
    }
    out
}

/// At most two points per pixel column (the column's lowest and highest, in their order), which draws
/// the same picture as every point of a long run in a fraction of the file size.
fn thin(run: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if run.len() <= 2 * PLOT_W as usize {
        return run.to_vec();
    }
    let mut out = Vec::new();
    for column in run.chunk_by(|a, b| a.0.floor() == b.0.floor()) {
        let lo = column.iter().copied().fold(column[0], |a, p| if p.1 < a.1 { p } else { a });
        let hi = column.iter().copied().fold(column[0], |a, p| if p.1 > a.1 { p } else { a });
        let first_is_lo = column.iter().position(|p| *p == lo) <= column.iter().position(|p| *p == hi);
        out.extend(if first_is_lo { [lo, hi] } else { [hi, lo] });
    }
    out.dedup();
    out
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// An axis range snapped outward to ticks at 1, 2 or 5 times a power of ten.
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
    ticks: Vec<f64>,
}

impl Axis {
    /// `integer` axes (steps) never get fractional ticks. No data gives the range 0..1.
    fn new(range: Option<(f64, f64)>, integer: bool) -> Axis {
        let (mut lo, mut hi) = range.unwrap_or((0.0, 1.0));
        if hi - lo <= hi.abs().max(1.0) * 1e-9 {
            // A single value: centre it.
            let pad = if integer { 1.0 } else { (lo.abs() * 0.1).max(0.1) };
            (lo, hi) = (lo - pad, hi + pad);
            if integer && lo < 0.0 && range.is_some_and(|r| r.0 >= 0.0) {
                (lo, hi) = (0.0, hi + 1.0);
            }
        }
        if !integer {
            // Keep points off the frame.
            let pad = (hi - lo) * 0.04;
            (lo, hi) = (lo - pad, hi + pad);
        }
        let rough = (hi - lo) / 6.0;
        let mag = 10f64.powf(rough.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|&s| s >= rough).unwrap_or(10.0 * mag);
        if integer {
            step = step.max(1.0);
        }
        let (first, last) = ((lo / step).floor(), (hi / step).ceil());
        let ticks = (0..=(last - first) as usize).map(|i| (first + i as f64) * step).collect();
        Axis { lo: first * step, hi: last * step, step, ticks }
    }

    fn label(&self, v: f64) -> String {
        let decimals = (-self.step.log10().floor()).max(0.0) as usize;
        let s = format!("{v:.decimals$}");
        if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() { s[1..].to_string() } else { s }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64, train_loss: f64, val_loss: Option<f64>) -> LossRow {
        LossRow { step, train_loss, val_loss, lr: 3e-4, elapsed_s: step as f64 * 0.25 }
    }

    #[test]
    fn csv_has_header_and_empty_val_cells() {
        let text = csv_text(&[row(1, 5.5, None), row(2, 4.25, Some(4.5)), row(3, f64::NAN, None)]);
        assert_eq!(
            text,
            "step,train_loss,val_loss,lr,elapsed_s\n\
             1,5.500000,,0.0003,0.250\n\
             2,4.250000,4.500000,0.0003,0.500\n\
             3,NaN,,0.0003,0.750\n"
        );
        let dir = std::env::temp_dir().join(format!("irc-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("loss.csv");
        write_csv(&path, &[row(1, 2.0, None)]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        let e = write_csv(&dir.join("missing/loss.csv"), &[]).unwrap_err().to_string();
        assert!(e.contains("missing/loss.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn progress_lines() {
        assert_eq!(
            progress_line(120, 300, 2.3449, 3.2, 14),
            "step 120/300 [######--------] loss 2.345  3.2 steps/s  eta 56s"
        );
        assert_eq!(progress_line(7, 300, 5.0, 0.5, 4), "step   7/300 [----] loss 5.000  0.50 steps/s  eta 9m46s");
        assert!(progress_line(0, 100_000, 5.0, 10.0, 4).ends_with("eta 2h46m"));
        // Finished, overshooting, unknown speed, NaN loss, empty run: no panic, a full bar.
        let done = progress_line(300, 300, 1.0, 3.0, 4);
        assert!(done.contains("[####]") && done.ends_with("eta 0s"), "{done}");
        assert!(progress_line(400, 300, 1.0, 3.0, 4).contains("[####]"));
        assert!(progress_line(1, 300, f64::NAN, 0.0, 4).contains("loss NaN  0.00 steps/s  eta --"));
        assert!(progress_line(0, 0, 1.0, f64::INFINITY, 0).contains("[] loss 1.000"));
    }

    /// Checks tags are balanced and attributes quoted: enough to catch broken output without an XML crate.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>\n"));
        let mut stack = Vec::new();
        for tag in svg.split('<').skip(1) {
            let tag = &tag[..tag.find('>').expect("unclosed tag")];
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
            assert!(!tag.contains("NaN") && !tag.contains("inf"), "non-finite coordinate in <{tag}>");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.to_string()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap().to_string());
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    #[test]
    fn svg_has_curves_axes_legend_and_baseline() {
        let train: Vec<(u64, f64)> = (1..=300).map(|s| (s, 1.5 + 4.0 / (1.0 + s as f64 / 20.0))).collect();
        let val: Vec<(u64, f64)> = (0..=6).map(|i| (i * 50, 1.7 + 4.0 / (1.0 + i as f64 * 2.5))).collect();
        let svg = loss_svg(&train, &val, Some(("unigram entropy", 3.4679)));
        assert_well_formed(&svg);
        for expected in ["Training loss", ">step<", "loss (nats per byte)", "entropy 3.47", "stroke-dasharray"] {
            assert!(svg.contains(expected), "missing {expected}");
        }
        assert!(svg.contains(">train (smoothed)<") && svg.contains(">validation<"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("<circle").count(), 7);
        assert!(svg.contains(">300<") && svg.contains(">0<"));
    }

    #[test]
    fn svg_survives_degenerate_input() {
        let nan = f64::NAN;
        type Case<'a> = (&'a [(u64, f64)], &'a [(u64, f64)], Option<(&'a str, f64)>);
        let cases: [Case; 6] = [
            (&[], &[], None),
            (&[(5, 2.0)], &[], None),
            (&[(0, 2.0)], &[(0, 2.0)], Some(("a<b & c", 2.0))),
            (&[(1, nan), (2, f64::INFINITY)], &[(2, nan)], Some(("x", nan))),
            (&[(1, 3.0), (2, nan), (3, 2.0), (4, 1.9)], &[], Some(("base", -1.0))),
            (&[(u64::MAX, 1e300), (0, -1e300), (1, f64::MAX)], &[], None),
        ];
        for (train, val, baseline) in cases {
            let svg = loss_svg(train, val, baseline);
            assert_well_formed(&svg);
        }
        assert!(loss_svg(&[], &[], None).contains("no finite loss values"));
        assert!(loss_svg(&[(1, nan), (2, 1.0)], &[], None).contains("1 non-finite train loss not shown"));
        assert!(loss_svg(&[(0, 2.0)], &[(0, 2.0)], Some(("a<b & c", 2.0))).contains("a&lt;b &amp; c 2.00"));
        // One point is drawn as a dot.
        assert_eq!(loss_svg(&[(5, 2.0)], &[], None).matches("<circle").count(), 1);
    }

    #[test]
    fn long_runs_are_thinned() {
        let train: Vec<(u64, f64)> = (0..100_000).map(|s| (s, 2.0 + ((s * 7919) % 1000) as f64 / 1000.0)).collect();
        let svg = loss_svg(&train, &[], None);
        assert_well_formed(&svg);
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
    }

    #[test]
    fn axis_ticks_are_round() {
        let a = Axis::new(Some((1.0, 300.0)), true);
        assert_eq!((a.lo, a.hi, a.step), (0.0, 300.0, 50.0));
        let a = Axis::new(Some((1.43, 5.61)), false);
        assert_eq!((a.lo, a.hi, a.step), (1.0, 6.0, 1.0));
        assert_eq!(a.label(2.0), "2");
        let a = Axis::new(Some((2.05, 2.31)), false);
        assert_eq!(a.step, 0.05);
        assert_eq!(a.label(2.1), "2.10");
        let a = Axis::new(Some((7.0, 7.0)), true);
        assert!(a.lo <= 6.0 && a.hi >= 8.0 && a.step >= 1.0);
    }
}
