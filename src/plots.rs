//! Figures (plotters): line charts of training curves and interpolation paths, bar charts of
//! per-layer errors. Every function writes an SVG, and a PNG next to it when the path ends in
//! `.png`.

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
    ((x0, x1.max(x0 + 1e-9)), (y0 - pad, y1 + pad))
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn draw_lines<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let ((x0, x1), (y0, y1)) = bounds(series);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| e.to_string())?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(|e| e.to_string())?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A line chart of `series`, written to `path` (`.svg` or `.png`).
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), PlotError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    }
    let size = (720, 440);
    let tmp = crate::provenance::temp_sibling(path).with_extension(path.extension().unwrap_or_default());
    let res = if path.extension().is_some_and(|e| e == "png") {
        draw_lines(BitMapBackend::new(&tmp, size).into_drawing_area(), title, x_label, y_label, series)
    } else {
        draw_lines(SVGBackend::new(&tmp, size).into_drawing_area(), title, x_label, y_label, series)
    };
    res.map_err(|e| err(path, e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
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
}
