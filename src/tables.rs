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

    /// As a polars DataFrame.
    pub fn to_frame(&self) -> Result<DataFrame, TableError> {
        let rows = self.rows();
        let mut cols = Vec::new();
        for (name, v, _) in &self.columns {
            if v.len() != rows {
                return Err(TableError::Ragged { name: name.clone(), len: v.len(), expected: rows });
            }
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
}
