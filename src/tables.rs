//! Result tables: tidy columns written as CSV (and Parquet, through polars, with the default
//! `parquet` feature), atomically, with a JSON sidecar holding units and provenance; also rendered
//! as Markdown and HTML.
//!
//! The CSV is written here, not by polars, so that the crate without the `parquet` feature (the
//! notebooks load it so: polars is its slowest dependency to compile) writes and reads the same
//! files. Floats are written in Rust's shortest round-trip form, so [`read_csv`] gives back the
//! same `f64`s bit for bit.

use std::path::{Path, PathBuf};

#[cfg(feature = "parquet")]
use polars::prelude::*;
use serde::Serialize;

use crate::provenance::write_atomic;
#[cfg(feature = "parquet")]
use crate::provenance::write_atomic_with;

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
    #[cfg(feature = "parquet")]
    #[error("{path}: {source}")]
    Polars { path: PathBuf, source: PolarsError },
    /// A CSV file is not a table of this module's shape.
    #[error("{path}: line {line}: {message}")]
    Csv { path: PathBuf, line: usize, message: String },
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

    /// As CSV: a header of column names, then one line per row. Floats in shortest round-trip
    /// form (`NaN`, `inf`, `-inf` as such), text quoted when it holds a comma, quote or newline.
    pub fn to_csv(&self) -> Result<String, TableError> {
        self.check()?;
        let quote = |s: &str| if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
        let mut out = self.columns.iter().map(|(n, _, _)| quote(n)).collect::<Vec<_>>().join(",");
        out.push('\n');
        for r in 0..self.rows() {
            let cells: Vec<String> = self
                .columns
                .iter()
                .map(|(_, v, _)| match v {
                    Values::F64(x) => format!("{}", x[r]),
                    Values::I64(x) => x[r].to_string(),
                    Values::Str(x) => quote(&x[r]),
                    Values::Bool(x) => x[r].to_string(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        Ok(out)
    }

    /// As a polars DataFrame.
    #[cfg(feature = "parquet")]
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

    /// Write `dir/name.csv`, `dir/name.meta.json` (units + `provenance`) and, with the `parquet`
    /// feature, `dir/name.parquet`; returns the files written.
    pub fn write<P: Serialize>(&self, dir: &Path, name: &str, provenance: &P) -> Result<Vec<PathBuf>, TableError> {
        std::fs::create_dir_all(dir).map_err(|source| TableError::Io { path: dir.to_path_buf(), source })?;
        let mut files = Vec::new();
        #[cfg(feature = "parquet")]
        {
            let mut df = self.to_frame()?;
            let pq = dir.join(format!("{name}.parquet"));
            write_with(&pq, |f| ParquetWriter::new(f).finish(&mut df).map(|_| ()))?;
            files.push(pq);
        }
        let csv = dir.join(format!("{name}.csv"));
        write_atomic(&csv, self.to_csv()?.as_bytes()).map_err(|source| TableError::Io { path: csv.clone(), source })?;
        files.push(csv);
        let meta = dir.join(format!("{name}.meta.json"));
        let units: serde_json::Map<String, serde_json::Value> =
            self.columns.iter().map(|(n, _, u)| (n.clone(), serde_json::Value::String(u.clone()))).collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "units": units, "provenance": provenance })).expect("plain data serialises");
        write_atomic(&meta, text.as_bytes()).map_err(|source| TableError::Io { path: meta.clone(), source })?;
        files.push(meta);
        Ok(files)
    }
}

/// A CSV file read back as text cells: its header and rows (see [`read_csv`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CsvCells {
    /// The file it came from (for error messages).
    pub path: PathBuf,
    /// Column names.
    pub names: Vec<String>,
    /// Rows of cells, each as long as `names`.
    pub rows: Vec<Vec<String>>,
}

impl CsvCells {
    /// The column `name`, parsed cell by cell with `parse`; an error names the file, the line and
    /// the column when it is missing or a cell does not parse.
    pub fn column<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, TableError> {
        let c = self.names.iter().position(|n| n == name).ok_or_else(|| TableError::Csv {
            path: self.path.clone(),
            line: 1,
            message: format!("no column {name}"),
        })?;
        self.rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                parse(&row[c]).ok_or_else(|| TableError::Csv {
                    path: self.path.clone(),
                    line: i + 2,
                    message: format!("column {name}: cannot read {:?}", row[c]),
                })
            })
            .collect()
    }

    /// The `f64` column `name` (`NaN`, `inf` accepted).
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>, TableError> {
        self.column(name, |s| s.parse().ok())
    }
}

/// Read a CSV file as written by [`Table::write`] (or polars): a header line, then rows of the
/// same length; quoted cells may hold commas, doubled quotes and newlines.
pub fn read_csv(path: &Path) -> Result<CsvCells, TableError> {
    let text = std::fs::read_to_string(path).map_err(|source| TableError::Io { path: path.to_path_buf(), source })?;
    let bad = |line: usize, message: String| TableError::Csv { path: path.to_path_buf(), line, message };
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let (mut cell, mut record, mut quoted, mut line, mut start) = (String::new(), Vec::new(), false, 1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                cell.push(c);
            }
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                records.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err(bad(start, "unterminated quoted cell".into()));
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push((start, record));
    }
    let mut it = records.into_iter();
    let (_, names) = it.next().ok_or_else(|| bad(1, "empty file, no header".into()))?;
    let mut rows = Vec::new();
    for (at, row) in it {
        if row.len() != names.len() {
            return Err(bad(at, format!("{} cells, the header has {}", row.len(), names.len())));
        }
        rows.push(row);
    }
    Ok(CsvCells { path: path.to_path_buf(), names, rows })
}

#[cfg(feature = "parquet")]
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
        assert_eq!(files.len(), if cfg!(feature = "parquet") { 3 } else { 2 });
        let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
        assert!(csv.starts_with("alpha,accuracy,method"));
        assert_eq!(csv.lines().count(), 4);
        let back = read_csv(&dir.join("curve.csv")).unwrap();
        assert_eq!(back.f64s("accuracy").unwrap(), vec![0.9, 0.5, 0.8]);
        #[cfg(feature = "parquet")]
        {
            let df = ParquetReader::new(std::fs::File::open(dir.join("curve.parquet")).unwrap()).finish().unwrap();
            assert_eq!(df.height(), 3);
            let ragged = Table::new().col("a", "", Values::I64(vec![1])).col("b", "", Values::I64(vec![]));
            assert!(matches!(ragged.to_frame(), Err(TableError::Ragged { .. })));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn csv_round_trips_every_value_bit_for_bit_including_awkward_text() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
        let floats: Vec<f64> = (0..200)
            .map(|i| match i {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => -0.0,
                3 => 1e-300,
                _ => f64::from_bits(rand::RngExt::random::<u64>(&mut rng) >> 2) * if i % 2 == 0 { 1.0 } else { -1.0 },
            })
            .collect();
        let text: Vec<String> = (0..200).map(|i| ["plain", "a,b", "say \"hi\"", "two\nlines", "", "<&>"][i % 6].to_string()).collect();
        let t = Table::new()
            .col("x", "", Values::F64(floats.clone()))
            .col("n", "", Values::I64((0..200).map(|i| i64::MIN / 3 + i).collect()))
            .col("s", "", Values::Str(text.clone()))
            .col("b", "", Values::Bool((0..200).map(|i| i % 3 == 0).collect()));
        let path = std::env::temp_dir().join(format!("relusym-csv-{}.csv", std::process::id()));
        std::fs::write(&path, t.to_csv().unwrap()).unwrap();
        let back = read_csv(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let xs = back.f64s("x").unwrap();
        assert!(xs.iter().zip(&floats).all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
        assert_eq!(back.column("s", |s| Some(s.to_string())).unwrap(), text);
        assert_eq!(back.column("n", |s| s.parse::<i64>().ok()).unwrap(), (0..200).map(|i| i64::MIN / 3 + i).collect::<Vec<_>>());
        assert_eq!(back.column("b", |s| s.parse::<bool>().ok()).unwrap(), (0..200).map(|i| i % 3 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn a_malformed_csv_is_an_error_naming_the_file_and_line() {
        let path = std::env::temp_dir().join(format!("relusym-csv-bad-{}.csv", std::process::id()));
        for (text, want) in [("a,b\n1,2\n3\n", "line 3"), ("a,b\n\"open,2\n", "unterminated"), ("", "no header"), ("a\nx\n", "cannot read")] {
            std::fs::write(&path, text).unwrap();
            let err = read_csv(&path).and_then(|c| c.f64s("a")).unwrap_err().to_string();
            assert!(err.contains(&*path.to_string_lossy()) && err.contains(want), "{text:?}: {err}");
        }
        let _ = std::fs::remove_file(&path);
        assert!(read_csv(Path::new("/nonexistent/t.csv")).unwrap_err().to_string().contains("/nonexistent/t.csv"));
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
