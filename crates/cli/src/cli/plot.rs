//! PNG plots of training curves, network activity and curves over x (linear or log axes).
//!
//! Plain data in, PNG files out: this module does not depend on the rest of
//! the crate. Text is rendered with a TrueType font looked up at run time
//! (`SPIKEGRAD_FONT`, then common system paths); when none is found the plots
//! are still drawn, without any text, and [`font_status`] says why.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

mod heatmap;
pub use heatmap::{plot_heatmap, HeatMapPlot};

/// One row of the training history.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochPoint {
    /// Epoch number (x axis).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Mean validation loss.
    pub valid_loss: f64,
    /// Training accuracy as a fraction in `[0, 1]` (values above 1 are taken as percentages).
    pub train_accuracy: Option<f64>,
    /// Validation accuracy, same convention as `train_accuracy`.
    pub valid_accuracy: Option<f64>,
}

/// Spike raster of one layer for one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Panel title, e.g. `"Input"` or `"Hidden 1"`.
    pub title: String,
    /// Number of simulation steps.
    pub steps: usize,
    /// Number of neurons in the layer.
    pub neurons: usize,
    /// Simulation time step in milliseconds (non-positive: x axis in steps).
    pub dt_ms: f64,
    /// Spikes as `(time step, neuron index)`; out-of-range entries are ignored.
    pub spikes: Vec<(usize, usize)>,
}

/// Membrane traces of readout units for one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Traces {
    /// Plot title.
    pub title: String,
    /// Simulation time step in milliseconds (non-positive: x axis in steps).
    pub dt_ms: f64,
    /// Values indexed `[unit][time step]`; non-finite values leave gaps.
    pub values: Vec<Vec<f64>>,
    /// Unit drawn thicker and on top, e.g. the target class.
    pub highlight: Option<usize>,
}

/// Named curves over x, on linear or logarithmic axes.
#[derive(Debug, Clone, PartialEq)]
pub struct XyPlot {
    /// Plot title.
    pub title: String,
    /// The x axis' label.
    pub x_desc: String,
    /// The y axis' label.
    pub y_desc: String,
    /// How the x axis maps values.
    pub x_scale: Scale,
    /// How the y axis maps values.
    pub y_scale: Scale,
    /// The curves, drawn in order.
    pub curves: Vec<Curve>,
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly.
    Linear,
    /// By their logarithm; points with a value ≤ 0 on it are left out.
    Log,
}

/// One curve of an [`XyPlot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Its legend entry (none: not listed).
    pub label: Option<String>,
    /// The points `(x, y)`; unusable ones leave gaps.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: CurveStyle,
    /// Its colour, an index into the palette (curves that belong together share one).
    pub colour: usize,
}

/// How a curve is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveStyle {
    /// A line through marked points (measurements).
    Marked,
    /// A dashed line (an expectation).
    Dashed,
}

const FONT_FAMILY: &str = "sans-serif";
const TITLE_SIZE: u32 = 22;
const DESC_SIZE: u32 = 17;
const TICK_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 15;

/// Pixels of one raster panel (the figure grows with the number of panels).
const RASTER_PANEL_HEIGHT: u32 = 240;
/// More panels would make an unreadably tall figure.
const MAX_RASTER_PANELS: usize = 32;
const HIST_BINS: usize = 30;
/// The most decades a log axis spans (smaller values are cut off).
const MAX_DECADES: i32 = 30;

/// Distinct, colour-blind-friendly colours (matplotlib "tab10").
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Chart<'a> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

// ---------------------------------------------------------------- fonts

/// `None` once a font is registered, else the warning to show.
static FONT_STATE: OnceLock<Option<String>> = OnceLock::new();

/// Returns `None` when a font was found, else a one-line warning explaining
/// that plots are drawn without text and how to fix it.
pub fn font_status() -> Option<String> {
    FONT_STATE.get_or_init(load_font).clone()
}

fn has_font() -> bool {
    font_status().is_none()
}

fn load_font() -> Option<String> {
    let from_env = std::env::var_os("SPIKEGRAD_FONT").map(PathBuf::from);
    if let Some(path) = &from_env {
        if register_font_file(path) {
            return None;
        }
        tracing::warn!(
            "SPIKEGRAD_FONT={} is not a readable TrueType/OpenType font; trying system fonts",
            path.display()
        );
    }
    if FONT_CANDIDATES
        .iter()
        .any(|p| register_font_file(Path::new(p)))
    {
        return None;
    }
    Some(
        "no TrueType font found (set SPIKEGRAD_FONT=/path/to/font.ttf); plots are drawn without text"
            .to_string(),
    )
}

/// Registers the font at `path`; its bytes are leaked (at most a few files, once).
fn register_font_file(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes).is_ok()
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, size).into_font())
}

// ---------------------------------------------------------------- public plots

/// Plots loss (train/validation) and, when present, accuracy curves over epochs.
pub fn plot_curves(path: &Path, points: &[EpochPoint]) -> Result<()> {
    curves(path, points, true)
}

/// Plots one spike raster panel per layer, stacked vertically, time in ms on x.
///
/// Fails for more than 32 panels (the figure would be unreadably tall).
pub fn plot_rasters(path: &Path, rasters: &[Raster]) -> Result<()> {
    rasters_plot(path, rasters, true)
}

/// Plots readout membrane traces over time, one coloured line per unit.
pub fn plot_traces(path: &Path, traces: &Traces) -> Result<()> {
    traces_plot(path, traces, true)
}

/// Plots a histogram of per-neuron firing rates in Hz (30 bins from 0 to the maximum).
pub fn plot_rate_histogram(path: &Path, title: &str, rates_hz: &[f64]) -> Result<()> {
    histogram(path, title, rates_hz, true)
}

/// Plots named curves over x, each axis linear or logarithmic.
pub fn plot_xy(path: &Path, plot: &XyPlot) -> Result<()> {
    xy(path, plot, true)
}

// ---------------------------------------------------------------- rendering core
//
// The internal entry points take `text`: whether text is wanted. It is only
// drawn when a font is registered, since plotters fails on text without one.

/// Renders into `<path stem>.tmp.png` and renames it to `path` on success.
///
/// The temporary name must end in `.png`: the bitmap encoder picks the format
/// from the extension. Panics inside plotters are turned into errors.
fn render<F>(path: &Path, size: (u32, u32), draw: F) -> Result<()>
where
    F: FnOnce(&Area) -> Result<()>,
{
    let tmp = path.with_extension("tmp.png");
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    }));
    let result = match outcome {
        Ok(r) => r,
        Err(panic) => Err(anyhow!("plot renderer panicked: {}", panic_message(&panic))),
    };
    match result {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("moving {} to {}", tmp.display(), path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e.context(format!("rendering plot {}", path.display())))
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Everything needed to set up one panel.
struct Axes<'t> {
    title: &'t str,
    x_desc: &'t str,
    y_desc: &'t str,
    x: Range<f64>,
    y: Range<f64>,
    /// Whether tick labels on that axis are integers only (epochs, neurons, counts).
    x_int: bool,
    y_int: bool,
    /// Whether to draw `x_desc` (stacked panels share it at the bottom).
    show_x_desc: bool,
}

/// Builds a panel with title, axis labels and a light grid; no text when `text` is false.
fn build_chart<'a>(area: &Area<'a>, axes: &Axes, text: bool) -> Result<Chart<'a>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(12).margin_right(24);
    if text {
        builder
            .caption(axes.title, font(TITLE_SIZE))
            .x_label_area_size(if axes.show_x_desc { 52 } else { 30 })
            .y_label_area_size(78);
    }
    let (x, y) = (sane_range(&axes.x), sane_range(&axes.y));
    let mut chart = builder.build_cartesian_2d(x.clone(), y.clone())?;

    let x_fmt: &dyn Fn(&f64) -> String = if axes.x_int { &int_tick } else { &float_tick };
    let y_fmt: &dyn Fn(&f64) -> String = if axes.y_int { &int_tick } else { &float_tick };
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.1))
        .axis_style(BLACK.mix(0.8))
        .x_labels(tick_count(&x, axes.x_int))
        .y_labels(tick_count(&y, axes.y_int))
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .label_style(font(TICK_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .y_desc(axes.y_desc);
    if axes.show_x_desc {
        mesh.x_desc(axes.x_desc);
    }
    mesh.draw()?;
    if !text {
        // Without label areas plotters draws no axes: frame the panel instead.
        let frame = Rectangle::new(
            [(x.start, y.start), (x.end, y.end)],
            BLACK.mix(0.8).stroke_width(1),
        );
        chart.draw_series(std::iter::once(frame))?;
    }
    Ok(chart)
}

/// Largest magnitude plotted; larger values are skipped like NaN, since
/// plotters' pixel mapping overflows on them.
const LIMIT: f64 = 1e300;

/// Whether a data value can be plotted.
fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= LIMIT
}

/// Keeps an axis range finite and wide enough relative to its magnitude:
/// plotters' tick search loops forever on infinite or vanishingly narrow ranges.
fn sane_range(r: &Range<f64>) -> Range<f64> {
    let clamp = |v: f64| {
        if v.is_nan() {
            0.0
        } else {
            v.clamp(-LIMIT, LIMIT)
        }
    };
    let (lo, hi) = (clamp(r.start.min(r.end)), clamp(r.start.max(r.end)));
    let min_width = (lo.abs().max(hi.abs()) * 1e-6).max(1e-200);
    if hi - lo >= min_width {
        lo..hi
    } else {
        let mid = lo / 2.0 + hi / 2.0;
        mid - min_width / 2.0..mid + min_width / 2.0
    }
}

/// At most 10 ticks, and no more than one per integer on integer axes.
fn tick_count(range: &Range<f64>, integer: bool) -> usize {
    if integer {
        ((range.end - range.start).floor() as usize)
            .saturating_add(1)
            .clamp(2, 10)
    } else {
        8
    }
}

fn int_tick(v: &f64) -> String {
    if v.abs() >= 1e5 {
        float_tick(v)
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

fn float_tick(v: &f64) -> String {
    let a = v.abs();
    // Tick positions carry rounding noise (e.g. -5.6e-17 instead of 0).
    if a < 1e-12 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Writes a centred "no data" note into the panel.
fn no_data(chart: &mut Chart, text: bool) -> Result<()> {
    if text {
        let (x, y) = (chart.x_range(), chart.y_range());
        let centre = ((x.start + x.end) / 2.0, (y.start + y.end) / 2.0);
        let grey = BLACK.mix(0.5);
        let style = font(DESC_SIZE)
            .color(&grey)
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new("no data", centre, style)))?;
    }
    Ok(())
}

/// Padded range spanning the usable values (at least `min_width` wide).
fn value_range(values: impl Iterator<Item = f64>, min_width: f64) -> Option<Range<f64>> {
    let (lo, hi) = values
        .filter(|&v| usable(v))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(min_width / 2.0);
    Some(lo - pad..hi + pad)
}

/// Splits a polyline at unusable values (NaN, ±inf) so gaps stay visible.
fn finite_runs(points: impl Iterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (x, y) in points {
        if usable(x) && usable(y) {
            runs.last_mut().expect("non-empty").push((x, y));
        } else if !runs.last().expect("non-empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Draws a line (with point markers when `markers`) and registers its legend entry.
fn draw_line(
    chart: &mut Chart,
    points: impl Iterator<Item = (f64, f64)>,
    style: ShapeStyle,
    label: Option<&str>,
    markers: bool,
) -> Result<()> {
    for run in finite_runs(points) {
        // A lone point has no segment to draw: always mark it.
        let marker = if markers || run.len() == 1 { 3 } else { 0 };
        chart.draw_series(LineSeries::new(run, style).point_size(marker))?;
    }
    if let Some(label) = label {
        let legend_style = ShapeStyle {
            stroke_width: style.stroke_width.max(2),
            ..style
        };
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], legend_style));
    }
    Ok(())
}

fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, CT>,
    position: SeriesLabelPosition,
    text: bool,
) -> Result<()> {
    if text {
        chart
            .configure_series_labels()
            .position(position)
            .margin(12)
            .legend_area_size(30)
            .label_font(font(LEGEND_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()?;
    }
    Ok(())
}

/// Time axis: milliseconds when `dt_ms` is usable, else raw steps.
fn time_axis(dt_ms: f64, steps: usize) -> (f64, &'static str) {
    if dt_ms > 0.0 && usable(dt_ms * steps as f64) {
        (dt_ms, "Time (ms)")
    } else {
        (1.0, "Time (steps)")
    }
}

// ---------------------------------------------------------------- training curves

fn curves(path: &Path, points: &[EpochPoint], text: bool) -> Result<()> {
    let text = text && has_font();
    let has_accuracy = points
        .iter()
        .any(|p| finite(p.train_accuracy).is_some() || finite(p.valid_accuracy).is_some());
    let size = if has_accuracy {
        (1400, 560)
    } else {
        (1000, 600)
    };
    render(path, size, |root| {
        if has_accuracy {
            let panels = root.split_evenly((1, 2));
            loss_panel(&panels[0], points, text)?;
            accuracy_panel(&panels[1], points, text)
        } else {
            loss_panel(root, points, text)
        }
    })
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|&x| usable(x))
}

fn epoch_range(points: &[EpochPoint]) -> Range<f64> {
    let lo = points.iter().map(|p| p.epoch).min().unwrap_or(0) as f64;
    let hi = points.iter().map(|p| p.epoch).max().unwrap_or(1) as f64;
    let pad = ((hi - lo) * 0.03).max(0.5);
    lo - pad..hi + pad
}

fn loss_panel(area: &Area, points: &[EpochPoint], text: bool) -> Result<()> {
    let losses = points.iter().flat_map(|p| [p.train_loss, p.valid_loss]);
    let y = value_range(losses, 0.1);
    let axes = Axes {
        title: "Loss",
        x_desc: "Epoch",
        y_desc: "Loss",
        x: epoch_range(points),
        y: y.clone().unwrap_or(0.0..1.0),
        x_int: true,
        y_int: false,
        show_x_desc: true,
    };
    let mut chart = build_chart(area, &axes, text)?;
    if y.is_none() {
        return no_data(&mut chart, text);
    }
    let markers = points.len() <= 50;
    let series = [
        (
            "train",
            PALETTE[0],
            points.iter().map(|p| p.train_loss).collect::<Vec<_>>(),
        ),
        (
            "validation",
            PALETTE[1],
            points.iter().map(|p| p.valid_loss).collect(),
        ),
    ];
    for (label, color, values) in series {
        let xy = points.iter().zip(values).map(|(p, v)| (p.epoch as f64, v));
        draw_line(&mut chart, xy, color.stroke_width(2), Some(label), markers)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, text)
}

fn accuracy_panel(area: &Area, points: &[EpochPoint], text: bool) -> Result<()> {
    let all = points
        .iter()
        .flat_map(|p| [finite(p.train_accuracy), finite(p.valid_accuracy)])
        .flatten();
    // Fractions are shown as percentages; values above 1 are taken as percentages already.
    let scale = if all.clone().any(|v| v > 1.0) {
        1.0
    } else {
        100.0
    };
    let hi = all.map(|v| v * scale).fold(100.0, f64::max);
    let axes = Axes {
        title: "Accuracy",
        x_desc: "Epoch",
        y_desc: "Accuracy (%)",
        x: epoch_range(points),
        y: 0.0..hi * 1.02,
        x_int: true,
        y_int: false,
        show_x_desc: true,
    };
    let mut chart = build_chart(area, &axes, text)?;
    let markers = points.len() <= 50;
    type Getter = fn(&EpochPoint) -> Option<f64>;
    let series: [(&str, RGBColor, Getter); 2] = [
        ("train", PALETTE[0], |p| p.train_accuracy),
        ("validation", PALETTE[1], |p| p.valid_accuracy),
    ];
    for (label, color, get) in series {
        if points.iter().all(|p| finite(get(p)).is_none()) {
            continue;
        }
        let xy = points
            .iter()
            .map(|p| (p.epoch as f64, get(p).unwrap_or(f64::NAN) * scale));
        draw_line(&mut chart, xy, color.stroke_width(2), Some(label), markers)?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, text)
}

// ---------------------------------------------------------------- spike rasters

fn rasters_plot(path: &Path, rasters: &[Raster], text: bool) -> Result<()> {
    let text = text && has_font();
    anyhow::ensure!(
        rasters.len() <= MAX_RASTER_PANELS,
        "{} raster panels requested, at most {MAX_RASTER_PANELS} fit in one figure",
        rasters.len()
    );
    let panels = rasters.len().max(1) as u32;
    let height = (panels * RASTER_PANEL_HEIGHT + 40).max(400);
    render(path, (1000, height), |root| {
        if rasters.is_empty() {
            return empty_panel(root, "Spike raster", "Time (ms)", "Neuron", text);
        }
        let areas = root.split_evenly((rasters.len(), 1));
        for (i, (raster, area)) in rasters.iter().zip(&areas).enumerate() {
            let last = i + 1 == rasters.len();
            raster_panel(area, raster, PALETTE[i % PALETTE.len()], last, text)?;
        }
        Ok(())
    })
}

fn empty_panel(area: &Area, title: &str, x_desc: &str, y_desc: &str, text: bool) -> Result<()> {
    let axes = Axes {
        title,
        x_desc,
        y_desc,
        x: 0.0..1.0,
        y: 0.0..1.0,
        x_int: false,
        y_int: false,
        show_x_desc: true,
    };
    let mut chart = build_chart(area, &axes, text)?;
    no_data(&mut chart, text)
}

fn raster_panel(area: &Area, r: &Raster, color: RGBColor, last: bool, text: bool) -> Result<()> {
    let (dt, x_desc) = time_axis(r.dt_ms, r.steps);
    let spikes: Vec<(usize, usize)> = r
        .spikes
        .iter()
        .copied()
        .filter(|&(t, n)| t < r.steps && n < r.neurons)
        .collect();
    let title = raster_title(r, spikes.len(), dt);
    let axes = Axes {
        title: &title,
        x_desc,
        y_desc: "Neuron",
        x: 0.0..r.steps.max(1) as f64 * dt,
        y: -0.5..(r.neurons.max(1) as f64 - 0.5),
        x_int: false,
        y_int: true,
        show_x_desc: last,
    };
    let mut chart = build_chart(area, &axes, text)?;
    if spikes.is_empty() {
        return no_spikes_note(&mut chart, r, text);
    }
    // Step t covers [t·dt, (t+1)·dt): draw the spike at the bin centre.
    let coords = spikes
        .iter()
        .map(|&(t, n)| ((t as f64 + 0.5) * dt, n as f64));
    let radius = dot_radius(&chart, r);
    if radius <= 1 {
        // A 1-px circle renders as a plus sign: use 2×2 squares for dense rasters.
        let square = |c| EmptyElement::at(c) + Rectangle::new([(0, 0), (1, 1)], color.filled());
        chart.draw_series(coords.map(square))?;
    } else {
        chart.draw_series(coords.map(|c| Circle::new(c, radius, color.filled())))?;
    }
    Ok(())
}

fn no_spikes_note(chart: &mut Chart, r: &Raster, text: bool) -> Result<()> {
    if r.steps == 0 || r.neurons == 0 {
        no_data(chart, text)
    } else {
        Ok(())
    }
}

/// "Hidden 1 (128 neurons, 5012 spikes, 9.8 Hz mean)".
fn raster_title(r: &Raster, n_spikes: usize, dt: f64) -> String {
    let mut stats = format!(
        "{}, {}",
        plural(r.neurons, "neuron"),
        plural(n_spikes, "spike")
    );
    let duration_s = r.steps as f64 * r.dt_ms / 1000.0;
    if r.neurons > 0 && duration_s.is_finite() && duration_s > 0.0 && dt == r.dt_ms {
        let rate = n_spikes as f64 / (r.neurons as f64 * duration_s);
        stats.push_str(&format!(", {rate:.1} Hz mean"));
    }
    format!("{} ({stats})", r.title)
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Dot radius in pixels: about half a cell of the time × neuron grid, 1 to 3 px.
fn dot_radius(chart: &Chart, r: &Raster) -> i32 {
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let cell_w = w as f64 / r.steps.max(1) as f64;
    let cell_h = h as f64 / r.neurons.max(1) as f64;
    (cell_w.min(cell_h) / 2.0).round().clamp(1.0, 3.0) as i32
}

// ---------------------------------------------------------------- readout traces

/// Legend column width to the right of the trace plot.
const LEGEND_WIDTH: u32 = 150;

fn traces_plot(path: &Path, traces: &Traces, text: bool) -> Result<()> {
    let text = text && has_font();
    render(path, (1000 + LEGEND_WIDTH, 600), |root| {
        let (plot_area, legend_area) = root.split_horizontally(1000);
        let steps = traces.values.iter().map(Vec::len).max().unwrap_or(0);
        let (dt, x_desc) = time_axis(traces.dt_ms, steps);
        let y = value_range(traces.values.iter().flatten().copied(), 0.2);
        let title = traces_title(traces);
        let axes = Axes {
            title: &title,
            x_desc,
            y_desc: "Membrane potential (a.u.)",
            x: 0.0..(steps.saturating_sub(1).max(1) as f64 * dt),
            y: y.clone().unwrap_or(-1.0..1.0),
            x_int: false,
            y_int: false,
            show_x_desc: true,
        };
        let mut chart = build_chart(&plot_area, &axes, text)?;
        if y.is_none() {
            return no_data(&mut chart, text);
        }
        let order = draw_order(traces);
        for &unit in &order {
            let xy = traces.values[unit]
                .iter()
                .enumerate()
                .map(|(t, &v)| (t as f64 * dt, v));
            draw_line(&mut chart, xy, trace_style(traces, unit), None, false)?;
        }
        if text {
            side_legend(&legend_area, traces)?;
        }
        Ok(())
    })
}

fn traces_title(traces: &Traces) -> String {
    match traces.highlight {
        Some(h) if h < traces.values.len() => format!("{} (target: unit {h})", traces.title),
        _ => traces.title.clone(),
    }
}

/// Units in drawing order: the highlighted one last, so it stays on top.
fn draw_order(traces: &Traces) -> Vec<usize> {
    let n = traces.values.len();
    let mut order: Vec<usize> = (0..n).filter(|&u| Some(u) != traces.highlight).collect();
    if let Some(h) = traces.highlight.filter(|&h| h < n) {
        order.push(h);
    }
    order
}

fn trace_style(traces: &Traces, unit: usize) -> ShapeStyle {
    let color = PALETTE[unit % PALETTE.len()];
    match traces.highlight {
        None => color.stroke_width(2),
        Some(h) if h == unit => color.stroke_width(4),
        Some(_) => color.mix(0.75).stroke_width(1),
    }
}

/// The first `capacity` units, with the highlighted one always included.
fn legend_units(traces: &Traces, capacity: usize) -> Vec<usize> {
    let n = traces.values.len();
    let mut units: Vec<usize> = (0..n.min(capacity)).collect();
    if let Some(h) = traces.highlight.filter(|&h| h < n && h >= capacity) {
        units.pop();
        units.push(h);
    }
    units
}

/// Legend column drawn outside the axes, so it never hides data.
fn side_legend(area: &Area, traces: &Traces) -> Result<()> {
    const ROW: i32 = 24;
    const TOP: i32 = 60;
    let (_, h) = area.dim_in_pixel();
    let capacity = ((h as i32 - TOP) / ROW - 1).max(1) as usize;
    let n = traces.values.len();
    let style = font(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    let shown = legend_units(traces, capacity);
    for (row, &unit) in shown.iter().enumerate() {
        let y = TOP + row as i32 * ROW;
        let line = trace_style(traces, unit);
        area.draw(&PathElement::new([(8, y), (36, y)], line))?;
        let label = if traces.highlight == Some(unit) {
            format!("unit {unit} *")
        } else {
            format!("unit {unit}")
        };
        area.draw_text(&label, &style, (44, y))?;
    }
    if n > shown.len() {
        let y = TOP + shown.len() as i32 * ROW;
        area.draw_text(&format!("… +{} more", n - shown.len()), &style, (8, y))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- firing-rate histogram

fn histogram(path: &Path, title: &str, rates_hz: &[f64], text: bool) -> Result<()> {
    let text = text && has_font();
    let rates: Vec<f64> = rates_hz
        .iter()
        .copied()
        .filter(|&r| usable(r) && r >= 0.0)
        .collect();
    let max = rates.iter().copied().fold(0.0, f64::max);
    // All-silent (or sub-µHz) populations still get a readable 0–1 Hz axis.
    let width = if max > 1e-6 {
        max / HIST_BINS as f64
    } else {
        1.0 / HIST_BINS as f64
    };
    let counts = bin_counts(&rates, width);
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let full_title = hist_title(title, &rates);
    render(path, (1000, 600), |root| {
        let axes = Axes {
            title: &full_title,
            x_desc: "Firing rate (Hz)",
            y_desc: "Neurons",
            x: 0.0..width * HIST_BINS as f64 * 1.02,
            y: 0.0..top * 1.08,
            x_int: false,
            y_int: true,
            show_x_desc: true,
        };
        let mut chart = build_chart(root, &axes, text)?;
        if rates.is_empty() {
            return no_data(&mut chart, text);
        }
        draw_bars(&mut chart, &counts, width)?;
        draw_mean(&mut chart, &rates, top * 1.08)?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, text)
    })
}

fn bin_counts(rates: &[f64], width: f64) -> Vec<usize> {
    let mut counts = vec![0usize; HIST_BINS];
    for &r in rates {
        let bin = ((r / width) as usize).min(HIST_BINS - 1);
        counts[bin] += 1;
    }
    counts
}

fn hist_title(title: &str, rates: &[f64]) -> String {
    let silent = rates.iter().filter(|&&r| r == 0.0).count();
    format!(
        "{title} ({}, {silent} silent)",
        plural(rates.len(), "neuron")
    )
}

fn draw_bars(chart: &mut Chart, counts: &[usize], width: f64) -> Result<()> {
    let bars = counts.iter().enumerate().filter(|(_, &c)| c > 0);
    let fill = bars.clone().map(|(i, &c)| {
        let x0 = i as f64 * width;
        Rectangle::new(
            [(x0, 0.0), (x0 + width, c as f64)],
            PALETTE[0].mix(0.8).filled(),
        )
    });
    chart.draw_series(fill)?;
    let edges = bars.map(|(i, &c)| {
        let x0 = i as f64 * width;
        Rectangle::new(
            [(x0, 0.0), (x0 + width, c as f64)],
            BLACK.mix(0.6).stroke_width(1),
        )
    });
    chart.draw_series(edges)?;
    Ok(())
}

fn draw_mean(chart: &mut Chart, rates: &[f64], y_top: f64) -> Result<()> {
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let style = PALETTE[3].stroke_width(2);
    let label = format!("mean {mean:.2} Hz");
    draw_line(
        chart,
        [(mean, 0.0), (mean, y_top)].into_iter(),
        style,
        Some(&label),
        false,
    )
}

// ---------------------------------------------------------------- curves over x

fn xy(path: &Path, plot: &XyPlot, text: bool) -> Result<()> {
    let text = text && has_font();
    let shown = |v: f64, scale: Scale| usable(v) && (scale == Scale::Linear || v > 0.0);
    let all = plot.curves.iter().flat_map(|c| &c.points);
    let visible = all.filter(|&&(x, y)| shown(x, plot.x_scale) && shown(y, plot.y_scale));
    let (xs, ys): (Vec<f64>, Vec<f64>) = visible.copied().unzip();
    let ranges = (axis_range(&xs, plot.x_scale), axis_range(&ys, plot.y_scale));
    render(path, (1000, 650), |root| {
        let (Some(x), Some(y)) = ranges else {
            return empty_panel(root, &plot.title, &plot.x_desc, &plot.y_desc, text);
        };
        let legend = legend_corner(plot, (&x, &y));
        let panel = Panel { plot, legend, text };
        match (plot.x_scale, plot.y_scale) {
            (Scale::Linear, Scale::Linear) => xy_panel(root, &panel, x, y),
            (Scale::Linear, Scale::Log) => xy_panel(root, &panel, x, y.log_scale()),
            (Scale::Log, Scale::Linear) => xy_panel(root, &panel, x.log_scale(), y),
            (Scale::Log, Scale::Log) => xy_panel(root, &panel, x.log_scale(), y.log_scale()),
        }
    })
}

/// The span of `values`, padded: by 5% of it on a linear axis, by a factor 1.25 on a log
/// one; none without values.
fn axis_range(values: &[f64], scale: Scale) -> Option<Range<f64>> {
    match scale {
        Scale::Linear => value_range(values.iter().copied(), 0.1),
        Scale::Log if values.is_empty() => None,
        Scale::Log => {
            let (lo, hi) = values.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            // At least a decade, so the axis has a labelled tick, and at most
            // MAX_DECADES: plotters' tick search on a log axis all but hangs on hundreds.
            let hi = (hi * 1.25).max(lo * 10.0);
            let lo = (lo / 1.25).max(hi / 10f64.powi(MAX_DECADES));
            Some(lo..hi)
        }
    }
}

/// What an x-y panel draws besides its axes.
struct Panel<'p> {
    plot: &'p XyPlot,
    legend: SeriesLabelPosition,
    text: bool,
}

/// The corner whose box (40% × 35% of the panel) holds the fewest points, for the legend.
fn legend_corner(plot: &XyPlot, (x, y): (&Range<f64>, &Range<f64>)) -> SeriesLabelPosition {
    let fraction = |v: f64, r: &Range<f64>, scale: Scale| match scale {
        Scale::Linear => (v - r.start) / (r.end - r.start),
        Scale::Log => (v / r.start).ln() / (r.end / r.start).ln(),
    };
    let points: Vec<(f64, f64)> = plot
        .curves
        .iter()
        .flat_map(|c| &c.points)
        .map(|&(px, py)| (fraction(px, x, plot.x_scale), fraction(py, y, plot.y_scale)))
        .filter(|(u, v)| u.is_finite() && v.is_finite())
        .collect();
    let count = |left: bool, top: bool| {
        let inside = |(u, v): &&(f64, f64)| {
            (if left { *u < 0.4 } else { *u > 0.6 }) && (if top { *v > 0.65 } else { *v < 0.35 })
        };
        points.iter().filter(inside).count()
    };
    [
        (SeriesLabelPosition::UpperRight, count(false, true)),
        (SeriesLabelPosition::LowerLeft, count(true, false)),
        (SeriesLabelPosition::UpperLeft, count(true, true)),
        (SeriesLabelPosition::LowerRight, count(false, false)),
    ]
    .into_iter()
    .min_by_key(|&(_, n)| n)
    .map_or(SeriesLabelPosition::UpperRight, |(corner, _)| corner)
}

/// Tick labels of a log axis: plain numbers in `[0.001, 10⁵)`, else `1e-7`.
fn log_tick(v: &f64) -> String {
    if (1e-3..1e5).contains(&v.abs()) {
        float_tick(v)
    } else {
        format!("{v:.0e}")
    }
}

fn xy_panel<X, Y>(area: &Area, panel: &Panel, x: X, y: Y) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let (plot, text) = (panel.plot, panel.text);
    let mut builder = ChartBuilder::on(area);
    builder.margin(12).margin_right(24);
    if text {
        builder
            .caption(&plot.title, font(TITLE_SIZE))
            .x_label_area_size(52)
            .y_label_area_size(78);
    }
    let mut chart = builder.build_cartesian_2d(x, y)?;
    let formatter = |scale| -> &dyn Fn(&f64) -> String {
        match scale {
            Scale::Linear => &float_tick,
            Scale::Log => &log_tick,
        }
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.1))
        .axis_style(BLACK.mix(0.8))
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(formatter(plot.x_scale))
        .y_label_formatter(formatter(plot.y_scale))
        .label_style(font(TICK_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .x_desc(plot.x_desc.as_str())
        .y_desc(plot.y_desc.as_str())
        .draw()?;
    if !text {
        let (x, y) = (chart.x_range(), chart.y_range());
        let frame = Rectangle::new(
            [(x.start, y.start), (x.end, y.end)],
            BLACK.mix(0.8).stroke_width(1),
        );
        chart.draw_series(std::iter::once(frame))?;
    }
    let shown = |v: f64, scale: Scale| usable(v) && (scale == Scale::Linear || v > 0.0);
    for curve in &plot.curves {
        let style = PALETTE[curve.colour % PALETTE.len()].stroke_width(2);
        // Points a log axis cannot show break the line like NaN.
        let points = curve.points.iter().map(|&(x, y)| {
            if shown(x, plot.x_scale) && shown(y, plot.y_scale) {
                (x, y)
            } else {
                (f64::NAN, f64::NAN)
            }
        });
        for run in finite_runs(points) {
            match curve.style {
                CurveStyle::Marked => {
                    chart.draw_series(LineSeries::new(run, style).point_size(3))?;
                }
                CurveStyle::Dashed => {
                    chart.draw_series(DashedLineSeries::new(run, 8, 6, style))?;
                }
            }
        }
        if let Some(label) = &curve.label {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
        }
    }
    if plot.curves.iter().any(|c| c.label.is_some()) {
        draw_legend(&mut chart, panel.legend.clone(), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

    fn assert_png(path: &Path) {
        let bytes = std::fs::read(path).expect("plot written");
        assert!(
            bytes.starts_with(&PNG_SIGNATURE),
            "{} is not a PNG",
            path.display()
        );
        assert!(
            !path.with_extension("tmp.png").exists(),
            "temporary file left behind"
        );
    }

    fn history(n: usize) -> Vec<EpochPoint> {
        (0..n)
            .map(|e| {
                let x = e as f64;
                EpochPoint {
                    epoch: e + 1,
                    train_loss: 2.0 * (-x / 8.0).exp() + 0.1,
                    valid_loss: 2.1 * (-x / 9.0).exp() + 0.2,
                    train_accuracy: Some(1.0 - 0.9 * (-x / 6.0).exp()),
                    valid_accuracy: Some(1.0 - 0.92 * (-x / 7.0).exp()),
                }
            })
            .collect()
    }

    fn raster(title: &str, steps: usize, neurons: usize) -> Raster {
        let spikes = (0..steps)
            .flat_map(|t| (0..neurons).map(move |n| (t, n)))
            .filter(|(t, n)| (t * 7 + n * 13) % 11 == 0)
            .collect();
        Raster {
            title: title.to_string(),
            steps,
            neurons,
            dt_ms: 1.0,
            spikes,
        }
    }

    fn traces(units: usize, steps: usize) -> Traces {
        let values = (0..units)
            .map(|u| {
                (0..steps)
                    .map(|t| ((t + u * 5) as f64 / 10.0).sin())
                    .collect()
            })
            .collect();
        Traces {
            title: "Readout".to_string(),
            dt_ms: 1.0,
            values,
            highlight: Some(units / 2),
        }
    }

    /// Renders every plot kind with and without text.
    fn for_both_text_modes(f: impl Fn(&Path, bool)) {
        let dir = tempfile::tempdir().unwrap();
        f(&dir.path().join("with_text.png"), true);
        f(&dir.path().join("without_text.png"), false);
    }

    #[test]
    fn curves_render() {
        let with_nan = {
            let mut h = history(5);
            h[2].valid_loss = f64::NAN;
            h[3].train_accuracy = None;
            h
        };
        let no_accuracy: Vec<_> = history(4)
            .into_iter()
            .map(|p| EpochPoint {
                train_accuracy: None,
                valid_accuracy: None,
                ..p
            })
            .collect();
        let all_nan = vec![EpochPoint {
            epoch: 0,
            train_loss: f64::NAN,
            valid_loss: f64::INFINITY,
            train_accuracy: Some(f64::NAN),
            valid_accuracy: None,
        }];
        for points in [
            history(30),
            history(1),
            with_nan,
            no_accuracy,
            all_nan,
            vec![],
        ] {
            for_both_text_modes(|p, text| {
                curves(p, &points, text).unwrap();
                assert_png(p);
            });
        }
    }

    #[test]
    fn rasters_render() {
        let mut out_of_range = raster("Broken", 10, 4);
        out_of_range.spikes.push((10, 0));
        out_of_range.spikes.push((0, 4));
        out_of_range.dt_ms = f64::NAN;
        let cases = vec![
            vec![raster("Input", 100, 700), raster("Hidden", 100, 128)],
            vec![raster("Tiny", 1, 1)],
            vec![raster("Silent", 0, 0), out_of_range],
            vec![Raster {
                spikes: vec![],
                ..raster("No spikes", 50, 10)
            }],
            vec![],
        ];
        for rasters in cases {
            for_both_text_modes(|p, text| {
                rasters_plot(p, &rasters, text).unwrap();
                assert_png(p);
            });
        }
    }

    #[test]
    fn traces_render() {
        let mut gappy = traces(3, 40);
        gappy.values[1][10] = f64::NAN;
        gappy.highlight = Some(99);
        let flat = Traces {
            values: vec![vec![0.0; 10]; 2],
            ..traces(2, 10)
        };
        let cases = [
            traces(10, 200),
            traces(40, 50),
            traces(1, 1),
            gappy,
            flat,
            Traces {
                values: vec![],
                ..traces(0, 0)
            },
            Traces {
                values: vec![vec![], vec![f64::NAN]],
                ..traces(0, 0)
            },
        ];
        for t in &cases {
            for_both_text_modes(|p, text| {
                traces_plot(p, t, text).unwrap();
                assert_png(p);
            });
        }
    }

    #[test]
    fn histogram_renders() {
        let spread: Vec<f64> = (0..500).map(|i| (i % 37) as f64 * 1.3).collect();
        let cases = [
            spread,
            vec![0.0; 100],
            vec![5.0],
            vec![f64::NAN, -1.0, 3.0],
            vec![],
        ];
        for rates in &cases {
            for_both_text_modes(|p, text| {
                histogram(p, "Hidden 1", rates, text).unwrap();
                assert_png(p);
            });
        }
    }

    #[test]
    fn xy_plots_render_on_every_scale() {
        let power: Vec<(f64, f64)> = (1..200)
            .map(|t| (t as f64, 3.0 / (t as f64).sqrt()))
            .collect();
        let mut gappy = power.clone();
        gappy[5] = (6.0, -1.0);
        gappy[9] = (10.0, f64::NAN);
        let curve = |points: Vec<(f64, f64)>, style, label: Option<&str>| Curve {
            label: label.map(str::to_string),
            points,
            style,
            colour: 1,
        };
        let plot = |x_scale, y_scale, curves| XyPlot {
            title: "SNR".into(),
            x_desc: "age".into(),
            y_desc: "SNR".into(),
            x_scale,
            y_scale,
            curves,
        };
        let scales = [Scale::Linear, Scale::Log];
        for (x_scale, y_scale) in scales.iter().flat_map(|&x| scales.map(|y| (x, y))) {
            let cases = [
                vec![
                    curve(gappy.clone(), CurveStyle::Marked, Some("measured")),
                    curve(power.clone(), CurveStyle::Dashed, None),
                ],
                vec![curve(
                    vec![(1.0, 1.0)],
                    CurveStyle::Marked,
                    Some("one point"),
                )],
                vec![curve(
                    vec![(0.0, -1.0), (-2.0, 0.0)],
                    CurveStyle::Dashed,
                    None,
                )],
                vec![curve(
                    vec![(1e-300, 1e300), (1e300, -1e300)],
                    CurveStyle::Marked,
                    None,
                )],
                vec![curve(vec![], CurveStyle::Marked, Some("empty"))],
                vec![],
            ];
            for curves in cases {
                let p = plot(x_scale, y_scale, curves);
                for_both_text_modes(|path, text| {
                    xy(path, &p, text).unwrap();
                    assert_png(path);
                });
            }
        }
    }

    #[test]
    fn public_api_and_font_status() {
        let dir = tempfile::tempdir().unwrap();
        let status = font_status();
        assert_eq!(status.is_none(), has_font());
        let p = dir.path().join("curves.png");
        plot_curves(&p, &history(3)).unwrap();
        assert_png(&p);
        let p = dir.path().join("raster.png");
        plot_rasters(&p, &[raster("Input", 20, 10)]).unwrap();
        assert_png(&p);
        let p = dir.path().join("traces.png");
        plot_traces(&p, &traces(3, 20)).unwrap();
        assert_png(&p);
        let p = dir.path().join("rates.png");
        plot_rate_histogram(&p, "Hidden", &[1.0, 2.0, 3.0]).unwrap();
        assert_png(&p);
        let p = dir.path().join("xy.png");
        let curve = Curve {
            label: Some("line".into()),
            points: vec![(1.0, 2.0), (10.0, 0.2)],
            style: CurveStyle::Marked,
            colour: 0,
        };
        let xy_plot = XyPlot {
            title: "xy".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            curves: vec![curve],
        };
        plot_xy(&p, &xy_plot).unwrap();
        assert_png(&p);
    }

    #[test]
    fn extreme_values_do_not_hang_or_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("extreme.png");
        let t = Traces {
            title: "x".into(),
            dt_ms: 1e-300,
            values: vec![vec![1e308, -1e308, 5.0], vec![f64::MAX; 3]],
            highlight: None,
        };
        traces_plot(&p, &t, true).unwrap();
        assert_png(&p);
        let point = |epoch, loss| EpochPoint {
            epoch,
            train_loss: loss,
            valid_loss: -loss,
            train_accuracy: Some(1e300),
            valid_accuracy: None,
        };
        curves(&p, &[point(1, f64::MAX), point(usize::MAX, 1.0)], true).unwrap();
        assert_png(&p);
        let huge = Raster {
            title: "Huge".into(),
            steps: usize::MAX,
            neurons: usize::MAX,
            dt_ms: 1e300,
            spikes: vec![(1, 1)],
        };
        rasters_plot(&p, &[huge], true).unwrap();
        assert_png(&p);
        histogram(&p, "h", &[f64::MAX, 0.0, 1e-320, 1e300], true).unwrap();
        assert_png(&p);
    }

    #[test]
    fn too_many_raster_panels_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rasters.png");
        let many = vec![raster("L", 5, 5); MAX_RASTER_PANELS + 1];
        assert!(rasters_plot(&p, &many, true).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn ranges_are_made_plottable() {
        let r = sane_range(&(f64::NEG_INFINITY..f64::NAN));
        assert!(r.start.is_finite() && r.end.is_finite() && r.end > r.start);
        let r = sane_range(&(1e17..1e17));
        assert!(r.end - r.start >= 1e11);
        assert_eq!(sane_range(&(0.0..2.0)), 0.0..2.0);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("curves.png");
        assert!(curves(&p, &history(3), true).is_err());
    }

    #[test]
    fn tick_formatting() {
        assert_eq!(int_tick(&3.0), "3");
        assert_eq!(int_tick(&2.5), "");
        assert_eq!(float_tick(&0.25), "0.25");
        assert_eq!(float_tick(&10.0), "10");
        assert_eq!(float_tick(&0.0), "0");
        assert_eq!(float_tick(&1e-5), "1.0e-5");
        assert_eq!(log_tick(&1e-13), "1e-13");
        assert_eq!(log_tick(&0.01), "0.01");
        assert_eq!(log_tick(&1e6), "1e6");
    }

    #[test]
    fn bins_cover_the_maximum() {
        let counts = bin_counts(&[0.0, 1.0, 30.0], 1.0);
        assert_eq!(counts.iter().sum::<usize>(), 3);
        assert_eq!(counts[HIST_BINS - 1], 1);
    }
}
