//! Figures (plotters): line charts of training curves and interpolation paths, grouped bar
//! charts with error bars, and grids of first-layer filters. Every function writes the file
//! named by its path: an SVG, or a PNG when the path ends in `.png`. One style for all: 22 px
//! titles, 16 px axis labels and legends.

use std::path::Path;

use plotters::prelude::*;

/// A named series of (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// Errors drawing a figure.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlotError {
    /// The figure file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError { path: path.display().to_string(), message: e.to_string() }
}

fn bounds(series: &[Series]) -> ((f64, f64), (f64, f64)) {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    // headroom above the data for the legend
    ((x0, x1.max(x0 + 1e-9)), (y0 - pad, y1 + pad + (y1 - y0) * 0.4))
}

const COLORS: [RGBColor; 6] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(255, 127, 14), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];

const TITLE_FONT: u32 = 22;
const LABEL_FONT: u32 = 16;

fn draw_lines<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let ((x0, x1), (y0, y1)) = bounds(series);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", TITLE_FONT))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", LABEL_FONT - 2))
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(|e| e.to_string())
}

macro_rules! with_backend {
    ($path:expr, $size:expr, |$root:ident| $body:expr) => {{
        let path: &Path = $path;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
        }
        let tmp = crate::provenance::temp_sibling(path).with_extension(path.extension().unwrap_or_default());
        let res: Result<(), String> = if path.extension().is_some_and(|e| e == "png") {
            let $root = BitMapBackend::new(&tmp, $size).into_drawing_area();
            $body
        } else {
            let $root = SVGBackend::new(&tmp, $size).into_drawing_area();
            $body
        };
        res.map_err(|e| err(path, e))?;
        crate::provenance::commit_temp(&tmp, path).map_err(|e| err(path, e))
    }};
}

/// A line chart of `series`, written to `path` (`.svg` or `.png`).
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), PlotError> {
    with_backend!(path, (760, 460), |root| draw_lines(root, title, x_label, y_label, series))
}

fn draw_note<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, title: &str, note: &str) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(title, ("sans-serif", TITLE_FONT)).map_err(|e| e.to_string())?;
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(note.to_string(), (w as i32 / 2 - 120, h as i32 / 2), ("sans-serif", LABEL_FONT + 4).into_font().color(&BLACK)))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A figure that only says why it has no data yet (so that the book never shows a broken image).
pub fn placeholder(path: &Path, title: &str, note: &str) -> Result<(), PlotError> {
    with_backend!(path, (760, 200), |root| draw_note(root, title, note))
}

/// One series of a grouped bar chart: a name and, per category, (value, error-bar half-width).
pub type BarSeries = (String, Vec<(f64, f64)>);

fn draw_bars<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    series: &[BarSeries],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let vals = series.iter().flat_map(|s| s.1.iter()).filter(|v| v.0.is_finite());
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for &(v, e) in vals {
        let e = if e.is_finite() { e } else { 0.0 };
        lo = lo.min(v - e);
        hi = hi.max(v + e);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    // headroom for the legend above the tallest bar
    let (lo, hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad + (hi - lo) * 0.35);
    let n = categories.len().max(1);
    let k = series.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", TITLE_FONT))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..n as f64, lo..hi)
        .map_err(|e| e.to_string())?;
    let cats = categories.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&move |x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 && i < cats.len() { cats[i].clone() } else { String::new() }
        })
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", LABEL_FONT - 2))
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .draw()
        .map_err(|e| e.to_string())?;
    let width = 0.8 / k as f64;
    for (si, (name, values)) in series.iter().enumerate() {
        let c = COLORS[si % COLORS.len()];
        let x0 = |ci: usize| ci as f64 + 0.1 + si as f64 * width;
        chart
            .draw_series(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.0.is_finite())
                    .map(|(ci, &(v, _))| Rectangle::new([(x0(ci), 0.0), (x0(ci) + width * 0.9, v)], c.filled())),
            )
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
        chart
            .draw_series(values.iter().enumerate().filter(|(_, v)| v.0.is_finite() && v.1.is_finite() && v.1 > 0.0).map(|(ci, &(v, e))| {
                let xm = x0(ci) + width * 0.45;
                PathElement::new(vec![(xm, v - e), (xm, v + e)], BLACK.stroke_width(2))
            }))
            .map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(|e| e.to_string())
}

/// A grouped bar chart: one group of bars per category, one bar per series, with error bars
/// (half-width 0 or non-finite: none; non-finite values: no bar).
pub fn bar_chart(path: &Path, title: &str, x_label: &str, y_label: &str, categories: &[String], series: &[BarSeries]) -> Result<(), PlotError> {
    with_backend!(path, (820, 480), |root| draw_bars(root, title, x_label, y_label, categories, series))
}

/// One panel of a filter grid: a title and the filters, each `k × k` RGB pixels in `[0, 1]`
/// stored row-major.
pub type FilterPanel = (String, Vec<Vec<[f64; 3]>>);

fn draw_filters<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, title: &str, panels: &[FilterPanel], cols: usize) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(title, ("sans-serif", TITLE_FONT)).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((panels.len().div_ceil(2).max(1), 2.min(panels.len().max(1))));
    for (area, (name, filters)) in areas.iter().zip(panels) {
        let area = area.titled(name, ("sans-serif", LABEL_FONT)).map_err(|e| e.to_string())?;
        let (w, h) = area.dim_in_pixel();
        let cols = cols.max(1);
        let rows = filters.len().div_ceil(cols).max(1);
        let cell = ((w as f64 - 10.0) / cols as f64).min((h as f64 - 10.0) / rows as f64);
        for (fi, f) in filters.iter().enumerate() {
            let k = (f.len() as f64).sqrt().round() as usize;
            let (r, c) = (fi / cols, fi % cols);
            let (ox, oy) = (5.0 + c as f64 * cell, 5.0 + r as f64 * cell);
            let px = cell * 0.9 / k.max(1) as f64;
            for (pi, rgb) in f.iter().enumerate() {
                let (py, pxi) = (pi / k, pi % k);
                let colour = RGBColor((rgb[0] * 255.0) as u8, (rgb[1] * 255.0) as u8, (rgb[2] * 255.0) as u8);
                let x = (ox + pxi as f64 * px) as i32;
                let y = (oy + py as f64 * px) as i32;
                area.draw(&Rectangle::new([(x, y), (x + px.ceil() as i32, y + px.ceil() as i32)], colour.filled())).map_err(|e| e.to_string())?;
            }
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// Panels of small RGB filters, two panels per row (e.g. first-layer kernels next to their
/// flipped, permuted partners), `cols` filters per row within a panel.
pub fn filter_grid(path: &Path, title: &str, panels: &[FilterPanel], cols: usize) -> Result<(), PlotError> {
    let size = (900, 60 + 400 * panels.len().div_ceil(2).max(1) as u32);
    with_backend!(path, size, |root| draw_filters(root, title, panels, cols))
}

/// The chart's legend, boxed on a translucent white background at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(chart: &mut ChartContext<'a, DB, CT>, position: SeriesLabelPosition) -> Result<(), String> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", LABEL_FONT))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_charts_are_written_as_svg_and_png() {
        let dir = std::env::temp_dir().join(format!("relusym-plot-{}", std::process::id()));
        let s = vec![("a".to_string(), vec![(0.0, 1.0), (0.5, 0.2), (1.0, 0.9)]), ("b".to_string(), vec![(0.0, 0.8), (1.0, 0.7)])];
        for name in ["f.svg", "f.png"] {
            let p = dir.join(name);
            line_chart(&p, "title", "alpha", "accuracy", &s).unwrap();
            assert!(std::fs::metadata(&p).unwrap().len() > 500, "{name} too small");
        }
        let svg = std::fs::read_to_string(dir.join("f.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("title"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bar_charts_and_filter_grids_name_their_series_and_panels() {
        let dir = std::env::temp_dir().join(format!("relusym-plot2-{}", std::process::id()));
        let cats = vec!["no flip".to_string(), "flip".to_string()];
        let series = vec![("GCNN barrier".to_string(), vec![(3.0, 0.5), (1.0, 0.2)]), ("ordinary".to_string(), vec![(4.0, f64::NAN), (f64::NAN, 0.0)])];
        bar_chart(&dir.join("b.svg"), "barriers", "variant", "points", &cats, &series).unwrap();
        let svg = std::fs::read_to_string(dir.join("b.svg")).unwrap();
        assert!(svg.contains("GCNN barrier") && svg.contains("no flip") && svg.contains("points"));
        let f: Vec<Vec<[f64; 3]>> = (0..6).map(|i| vec![[i as f64 / 6.0, 0.5, 0.2]; 9]).collect();
        let panels = vec![("original".to_string(), f.clone()), ("flipped, permuted".to_string(), f)];
        filter_grid(&dir.join("g.png"), "conv0", &panels, 3).unwrap();
        filter_grid(&dir.join("g.svg"), "conv0", &panels, 3).unwrap();
        let svg = std::fs::read_to_string(dir.join("g.svg")).unwrap();
        assert!(svg.contains("flipped, permuted") && svg.matches("<rect").count() >= 2 * 6 * 9);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
