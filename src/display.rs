//! Rich output in Jupyter notebooks (evcxr): HTML, Markdown and SVG values.
//!
//! evcxr shows a cell's final value through an inherent method `evcxr_display(&self)` when the
//! value's type has one: the method prints
//!
//! ```text
//! EVCXR_BEGIN_CONTENT <mime type>
//! <content>
//! EVCXR_END_CONTENT
//! ```
//!
//! to stdout and Jupyter renders the content. [`Html`], [`Markdown`] and [`Svg`] wrap the three
//! kinds the notebooks use; [`crate::tables::Table`] has its own `evcxr_display` (an HTML table).
//! Figures are drawn by the same functions that make the book's figures (written to a file, then
//! read back with [`Svg::open`] or [`Svg::draw`]), so a notebook shows exactly the figure the
//! book shows.

use std::fmt;
use std::path::{Path, PathBuf};

/// Print one evcxr rich-output block.
fn emit(mime: &str, content: &str) {
    println!("EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT");
}

/// HTML shown as such in a notebook.
#[derive(Clone, Debug, PartialEq)]
pub struct Html(pub String);

impl Html {
    /// evcxr's rich-output hook.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.0);
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Markdown (the book's generated tables, for instance) rendered by the notebook.
#[derive(Clone, Debug, PartialEq)]
pub struct Markdown(pub String);

impl Markdown {
    /// evcxr's rich-output hook.
    pub fn evcxr_display(&self) {
        emit("text/markdown", &self.0);
    }
}

impl fmt::Display for Markdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An SVG figure shown inline.
#[derive(Clone, Debug, PartialEq)]
pub struct Svg(pub String);

/// Errors reading a figure back.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Drawing failed.
    #[error("{path}: {message}")]
    Draw {
        /// The figure file.
        path: PathBuf,
        /// What the drawing function reported.
        message: String,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The figure file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an SVG document.
    #[error("{path}: not an SVG document")]
    NotSvg {
        /// The figure file.
        path: PathBuf,
    },
}

impl Svg {
    /// Read an SVG file.
    pub fn open(path: &Path) -> Result<Svg, FigureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FigureError::Io { path: path.to_path_buf(), source })?;
        if !text.contains("<svg") {
            return Err(FigureError::NotSvg { path: path.to_path_buf() });
        }
        Ok(Svg(text))
    }

    /// Draw a figure with one of [`crate::plots`]' (or the study report's) figure functions into
    /// `path` (an `.svg`) and read it back for display.
    pub fn draw<E: fmt::Display>(path: &Path, draw: impl FnOnce(&Path) -> Result<(), E>) -> Result<Svg, FigureError> {
        draw(path).map_err(|e| FigureError::Draw { path: path.to_path_buf(), message: e.to_string() })?;
        Svg::open(path)
    }

    /// evcxr's rich-output hook.
    pub fn evcxr_display(&self) {
        emit("image/svg+xml", &self.0);
    }
}

/// Escape text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_leaves_no_markup() {
        let s = escape_html("<b>a & \"b\"</b>");
        assert_eq!(s, "&lt;b&gt;a &amp; &quot;b&quot;&lt;/b&gt;");
        assert!(!s.contains('<') && !s.contains('>'));
    }

    #[test]
    fn a_file_that_is_not_svg_is_refused_with_its_path() {
        let dir = std::env::temp_dir().join(format!("relusym-nb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.svg");
        std::fs::write(&p, "hello").unwrap();
        let e = Svg::open(&p).unwrap_err();
        assert!(e.to_string().contains("x.svg"), "{e}");
        let missing = Svg::open(&dir.join("missing.svg")).unwrap_err();
        assert!(matches!(missing, FigureError::Io { .. }));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_drawing_names_its_file() {
        let e = Svg::draw(Path::new("nowhere/f.svg"), |_| Err("no data")).unwrap_err();
        assert_eq!(e.to_string(), "nowhere/f.svg: no data");
    }
}
