//! Result tables: tidy columns written as Parquet and CSV (polars), atomically, with a JSON
//! sidecar holding units and provenance.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::provenance::{write_atomic, write_atomic_with};

/// A column of values.
#[derive(Clone, Debug)]
pub enum Values {
    /// Floating-point values.
    F64(Vec<f64>),
    /// Integers.
    I64(Vec<i64>),
    /// Text.
    Str(Vec<String>),
    /// Flags.
    Bool(Vec<bool>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::Str(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }
}

/// A table under construction: named columns of equal length.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: Vec<(String, Values, String)>,
}

/// Errors writing tables.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Columns of different lengths.
    #[error("table column {name} has {len} rows, expected {expected}")]
    Ragged { name: String, len: usize, expected: usize },
    /// Polars failed.
    #[error("{path}: {source}")]
    Polars { path: PathBuf, source: PolarsError },
    /// I/O failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a column with a unit (`""` for none), builder style.
    pub fn col(mut self, name: &str, unit: &str, values: Values) -> Self {
        self.columns.push((name.to_string(), values, unit.to_string()));
        self
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.1.len())
    }

    /// The header of column `i`: its name, with its unit in parentheses when it has one.
    fn header(&self, i: usize) -> String {
        let (name, _, unit) = &self.columns[i];
        if unit.is_empty() { name.clone() } else { format!("{name} ({unit})") }
    }

    /// Cell (`row`, `col`) as text: floats with at most four decimals (trailing zeros dropped),
    /// a missing value (NaN) as "–".
    fn cell(&self, row: usize, col: usize) -> String {
        match &self.columns[col].1 {
            Values::F64(v) if v[row].is_nan() => "–".to_string(),
            Values::F64(v) => {
                let s = format!("{:.4}", v[row]);
                let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
                if s == "-0" { "0".to_string() } else { s }
            }
            Values::I64(v) => v[row].to_string(),
            Values::Str(v) => v[row].clone(),
            Values::Bool(v) => if v[row] { "yes" } else { "no" }.to_string(),
        }
    }

    /// Check that every column has [`Table::rows`] values.
    fn check(&self) -> Result<(), TableError> {
        let rows = self.rows();
        match self.columns.iter().find(|c| c.1.len() != rows) {
            Some((name, v, _)) => Err(TableError::Ragged { name: name.clone(), len: v.len(), expected: rows }),
            None => Ok(()),
        }
    }

    /// As a Markdown pipe table (headers carry units; `|` in cells is escaped).
    pub fn to_markdown(&self) -> Result<String, TableError> {
        self.check()?;
        let esc = |s: String| s.replace('|', "\\|");
        let n = self.columns.len();
        let mut out = String::new();
        out.push_str(&format!("| {} |\n", (0..n).map(|i| esc(self.header(i))).collect::<Vec<_>>().join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(n)));
        for r in 0..self.rows() {
            out.push_str(&format!("| {} |\n", (0..n).map(|c| esc(self.cell(r, c))).collect::<Vec<_>>().join(" | ")));
        }
        Ok(out)
    }

    /// As an HTML table (headers carry units; text is escaped).
    pub fn to_html(&self) -> Result<String, TableError> {
        use crate::display::escape_html;
        self.check()?;
        let n = self.columns.len();
        let mut out = String::from("<table>\n<thead><tr>");
        for i in 0..n {
            out.push_str(&format!("<th>{}</th>", escape_html(&self.header(i))));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in 0..self.rows() {
            out.push_str("<tr>");
            for c in 0..n {
                out.push_str(&format!("<td>{}</td>", escape_html(&self.cell(r, c))));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>");
        Ok(out)
    }

    /// evcxr's rich-output hook: the table as HTML in a notebook (or the error, as text).
    pub fn evcxr_display(&self) {
        match self.to_html() {
            Ok(html) => crate::display::Html(html).evcxr_display(),
            Err(e) => println!("{e}"),
        }
    }

    /// As a polars DataFrame.
    pub fn to_frame(&self) -> Result<DataFrame, TableError> {
        self.check()?;
        let rows = self.rows();
        let mut cols = Vec::new();
        for (name, v, _) in &self.columns {
            let s = match v {
                Values::F64(x) => Series::new(name.as_str().into(), x),
                Values::I64(x) => Series::new(name.as_str().into(), x),
                Values::Str(x) => Series::new(name.as_str().into(), x),
                Values::Bool(x) => Series::new(name.as_str().into(), x),
            };
            cols.push(Column::from(s));
        }
        DataFrame::new(rows, cols).map_err(|source| TableError::Polars { path: PathBuf::new(), source })
    }

    /// Write `dir/name.parquet`, `dir/name.csv` and `dir/name.meta.json` (units + `provenance`).
    pub fn write<P: Serialize>(&self, dir: &Path, name: &str, provenance: &P) -> Result<Vec<PathBuf>, TableError> {
        std::fs::create_dir_all(dir).map_err(|source| TableError::Io { path: dir.to_path_buf(), source })?;
        let mut df = self.to_frame()?;
        let pq = dir.join(format!("{name}.parquet"));
        let csv = dir.join(format!("{name}.csv"));
        let meta = dir.join(format!("{name}.meta.json"));
        write_with(&pq, |f| ParquetWriter::new(f).finish(&mut df).map(|_| ()))?;
        write_with(&csv, |f| CsvWriter::new(f).include_header(true).finish(&mut df))?;
        let units: serde_json::Map<String, serde_json::Value> =
            self.columns.iter().map(|(n, _, u)| (n.clone(), serde_json::Value::String(u.clone()))).collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "units": units, "provenance": provenance })).expect("plain data serialises");
        write_atomic(&meta, text.as_bytes()).map_err(|source| TableError::Io { path: meta.clone(), source })?;
        Ok(vec![pq, csv, meta])
    }
}

fn write_with(path: &Path, f: impl FnOnce(&mut dyn std::io::Write) -> PolarsResult<()>) -> Result<(), TableError> {
    /// Either failure of a table write, before it is given its path.
    enum Failure {
        Io(std::io::Error),
        Polars(PolarsError),
    }
    impl From<std::io::Error> for Failure {
        fn from(e: std::io::Error) -> Self {
            Failure::Io(e)
        }
    }
    write_atomic_with(path, |w| f(w).map_err(Failure::Polars)).map_err(|e| match e {
        Failure::Io(source) => TableError::Io { path: path.to_path_buf(), source },
        Failure::Polars(source) => TableError::Polars { path: path.to_path_buf(), source },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_round_trip_through_csv_and_parquet() {
        let dir = std::env::temp_dir().join(format!("relusym-table-{}", std::process::id()));
        let t = Table::new().col("alpha", "", Values::F64(vec![0.0, 0.5, 1.0])).col("accuracy", "fraction", Values::F64(vec![0.9, 0.5, 0.8])).col(
            "method",
            "",
            Values::Str(vec!["activation".into(); 3]),
        );
        let files = t.write(&dir, "curve", &serde_json::json!({"seed": 1})).unwrap();
        assert_eq!(files.len(), 3);
        let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
        assert!(csv.starts_with("alpha,accuracy,method"));
        assert_eq!(csv.lines().count(), 4);
        let df = ParquetReader::new(std::fs::File::open(dir.join("curve.parquet")).unwrap()).finish().unwrap();
        assert_eq!(df.height(), 3);
        let ragged = Table::new().col("a", "", Values::I64(vec![1])).col("b", "", Values::I64(vec![]));
        assert!(matches!(ragged.to_frame(), Err(TableError::Ragged { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn sample() -> Table {
        Table::new().col("alpha", "", Values::F64(vec![0.0, 0.5, f64::NAN])).col("accuracy", "%", Values::F64(vec![91.25, 50.0, 80.125])).col(
            "note",
            "",
            Values::Str(vec!["a|b".into(), "<x>".into(), "c".into()]),
        )
    }

    #[test]
    fn markdown_tables_have_one_line_per_row_and_units_in_headers() {
        let md = sample().to_markdown().unwrap();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 2 + 3);
        assert_eq!(lines[0], "| alpha | accuracy (%) | note |");
        assert_eq!(lines[2], "| 0 | 91.25 | a\\|b |");
        assert!(lines[4].starts_with("| – | 80.125 |"), "{}", lines[4]);
        // every row has as many unescaped separators as the header
        let seps = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(lines.iter().all(|l| seps(l) == seps(lines[0])));
    }

    #[test]
    fn html_tables_escape_their_text_and_have_every_cell() {
        let html = sample().to_html().unwrap();
        assert_eq!(html.matches("<tr>").count(), 1 + 3);
        assert_eq!(html.matches("<td>").count(), 3 * 3);
        assert!(html.contains("<td>&lt;x&gt;</td>") && !html.contains("<x>"));
        assert!(html.contains("<th>accuracy (%)</th>"));
    }

    #[test]
    fn ragged_tables_are_refused_by_every_renderer() {
        let ragged = Table::new().col("a", "", Values::I64(vec![1, 2])).col("b", "", Values::I64(vec![1]));
        assert!(matches!(ragged.to_markdown(), Err(TableError::Ragged { .. })));
        assert!(matches!(ragged.to_html(), Err(TableError::Ragged { .. })));
    }
}
