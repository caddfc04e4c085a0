//! A matrix drawn as a heat map: one cell per entry, coloured by its value on a fixed range,
//! the value written in it (continual learning's accuracy matrices).

use super::{font, has_font, render, usable, Axes, TICK_SIZE};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[derive(Debug, Clone, PartialEq)]
pub struct HeatMapPlot {
    /// Plot title.
    pub title: String,
    /// The x axis' label (what the columns are).
    pub x_desc: String,
    /// The y axis' label (what the rows are).
    pub y_desc: String,
    /// `rows[i][j]`, row 0 drawn at the top; rows may be shorter than the widest (a
    /// triangular matrix), missing and unusable cells are left blank.
    pub rows: Vec<Vec<f64>>,
    /// The values mapped to the ends of the colour scale (clamped beyond).
    pub range: (f64, f64),
}

/// Plots `plot` as a heat map, rows and columns numbered from 1.
pub fn plot_heatmap(path: &std::path::Path, plot: &HeatMapPlot) -> Result<()> {
    heatmap(path, plot, true)
}

pub(super) fn heatmap(path: &std::path::Path, plot: &HeatMapPlot, text: bool) -> Result<()> {
    let text = text && has_font();
    let (rows, cols) = (
        plot.rows.len(),
        plot.rows.iter().map(Vec::len).max().unwrap_or(0),
    );
    render(path, (900, 800), |root| {
        let axes = Axes {
            title: &plot.title,
            x_desc: &plot.x_desc,
            y_desc: &plot.y_desc,
            x: 0.5..cols.max(1) as f64 + 0.5,
            // Row 0 at the top: y counts down.
            y: -(rows.max(1) as f64) - 0.5..-0.5,
            x_int: true,
            y_int: true,
            show_x_desc: true,
        };
        let mut chart = build_chart_rows(root, &axes, text)?;
        let cells = plot
            .rows
            .iter()
            .enumerate()
            .flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &v)| (i, j, v)));
        for (i, j, v) in cells.filter(|c| usable(c.2)) {
            let (x, y) = ((j + 1) as f64, -((i + 1) as f64));
            let colour = colour_of(v, plot.range);
            let cell = Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], colour.filled());
            chart.draw_series(std::iter::once(cell))?;
            if text && rows.max(cols) <= 20 {
                let ink = if luminance(colour) > 0.5 {
                    BLACK
                } else {
                    WHITE
                };
                let style = font(TICK_SIZE)
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart.draw_series(std::iter::once(Text::new(format!("{v:.2}"), (x, y), style)))?;
            }
        }
        Ok(())
    })
}

/// The panel of [`heatmap`]: integer ticks, rows labelled by their (positive) number.
fn build_chart_rows<'a>(
    area: &super::Area<'a>,
    axes: &Axes,
    text: bool,
) -> Result<super::Chart<'a>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(12).margin_right(24);
    if text {
        builder
            .caption(axes.title, font(super::TITLE_SIZE))
            .x_label_area_size(52)
            .y_label_area_size(78);
    }
    let mut chart = builder.build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    if text {
        let count = |r: &std::ops::Range<f64>| ((r.end - r.start).round() as usize).min(20);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(count(&axes.x))
            .y_labels(count(&axes.y))
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .y_label_formatter(&|v| format!("{}", -v.round() as i64))
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(super::DESC_SIZE))
            .x_desc(axes.x_desc)
            .y_desc(axes.y_desc)
            .draw()?;
    }
    Ok(chart)
}

/// A sequential colour scale from pale yellow (low) to dark blue (high).
fn colour_of(v: f64, (lo, hi): (f64, f64)) -> RGBColor {
    const STOPS: [(f64, f64, f64); 4] = [
        (255.0, 255.0, 204.0),
        (161.0, 218.0, 180.0),
        (65.0, 182.0, 196.0),
        (37.0, 52.0, 148.0),
    ];
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - k as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn luminance(c: RGBColor) -> f64 {
    (0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64) / 255.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangular_and_degenerate_matrices_render() {
        let dir = tempfile::tempdir().unwrap();
        let triangular = HeatMapPlot {
            title: "accuracy".into(),
            x_desc: "tested on task".into(),
            y_desc: "after task".into(),
            rows: vec![vec![0.9], vec![0.5, 0.95], vec![0.2, f64::NAN, 0.97]],
            range: (0.0, 1.0),
        };
        let empty = HeatMapPlot {
            rows: Vec::new(),
            ..triangular.clone()
        };
        for (name, plot) in [("tri", &triangular), ("empty", &empty)] {
            for text in [true, false] {
                let path = dir.path().join(format!("{name}{text}.png"));
                heatmap(&path, plot, text).unwrap();
                let bytes = std::fs::read(&path).unwrap();
                assert!(bytes.starts_with(&[0x89, b'P', b'N', b'G']));
            }
        }
    }

    #[test]
    fn colours_run_from_pale_to_dark() {
        let range = (0.0, 1.0);
        assert_eq!(colour_of(0.0, range), RGBColor(255, 255, 204));
        assert_eq!(colour_of(1.0, range), RGBColor(37, 52, 148));
        assert_eq!(colour_of(7.0, range), colour_of(1.0, range));
        let dark = |v| luminance(colour_of(v, range));
        assert!(dark(0.1) > dark(0.5) && dark(0.5) > dark(0.9));
    }
}
