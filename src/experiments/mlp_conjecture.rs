//! The MLP-sized version of the paper's conjecture: do ReLU MLPs trained to be invariant end up
//! layerwise equivariant?
//!
//! Task: inputs `x ∈ R^d` with the reversal symmetry `ρ(x)_i = x_{d−1−i}` (a 1-D "flip"), an
//! invariant regression target `y = t(x) + t(ρx)` from a fixed random teacher MLP `t`, and an
//! input distribution `x = z + m`, `z ~ N(0, I)`, whose mean `m` (a ramp from −1 to 1) is *not*
//! symmetric, so that without augmentation the net never sees reversed inputs. We train student
//! MLPs with and without augmentation (each sample reversed with probability ½) and measure:
//!
//! * the invariance error `mean |f(x) − f(ρx)| / std(y)` on test inputs;
//! * how close `f` is to layerwise equivariant: align the hidden neurons of the transformed net
//!   `f∘ρ` (first-layer weights permuted by ρ) to `f` by weight matching, then per layer
//!   `‖[W_j | b_j] − P_j [W'_j | b'_j] P_{j−1}ᵀ‖ / ‖[W_j | b_j]‖` (0 for a layerwise-equivariant net
//!   with plain-permutation hidden representations), and whether every `P_j` is an involution;
//! * the same for the untrained initialisation, as the baseline of "no structure".

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::align::{PermSpec, WeightMatchingOptions, apply_perms, weight_matching};
use crate::merge::MergeError;
use crate::nets::{Mlp, ParamMap, standard_normal};

/// Settings of the experiment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MlpConjectureConfig {
    /// Input dimension d. Default 8.
    pub input_dim: usize,
    /// Student widths `[d, h, h, 1]`: the hidden widths. Default [32, 32].
    pub hidden: Vec<usize>,
    /// Training samples. Default 4096.
    pub samples: usize,
    /// SGD steps. Default 20000.
    pub steps: usize,
    /// Batch size. Default 128.
    pub batch: usize,
    /// Learning rate (momentum 0.9). Default 0.01.
    pub lr: f64,
    /// Seeds (one student per seed and variant). Default 0..3.
    pub seeds: Vec<u64>,
    /// L2 weight decay. Default 5e-4 (the CNN recipe's).
    pub weight_decay: f64,
}

impl Default for MlpConjectureConfig {
    fn default() -> Self {
        Self { input_dim: 8, hidden: vec![32, 32], samples: 4096, steps: 20000, batch: 128, lr: 0.01, seeds: vec![0, 1, 2], weight_decay: 5e-4 }
    }
}

/// One measured student.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MlpRow {
    /// `init` (untrained), `no-aug` or `aug`.
    pub variant: String,
    /// Seed.
    pub seed: u64,
    /// Test mean squared error (in-distribution).
    pub test_mse: f64,
    /// mean |f(x) − f(ρx)| / std(y) on test inputs.
    pub invariance_error: f64,
    /// Per layer, the relative error after aligning f∘ρ to f.
    pub layer_errors: Vec<f64>,
    /// Per layer, the same error without alignment (P = I).
    pub unaligned_errors: Vec<f64>,
    /// Whether every hidden permutation found is an involution.
    pub involutions: bool,
}

/// `relusym mlp-conjecture`: every student's row, with the settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MlpConjectureReport {
    /// The settings.
    pub config: MlpConjectureConfig,
    /// One row per seed and variant.
    pub rows: Vec<MlpRow>,
    /// Seconds spent; `None` for a report read back with [`MlpConjectureReport::read`] (the table
    /// does not store it).
    pub seconds: Option<f64>,
}

/// One Markdown table of a [`MlpConjectureReport`] (see [`MlpConjectureReport::markdown_tables`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkdownTable {
    /// File stem: `function`, `aligned` or `unaligned`.
    pub stem: &'static str,
    /// The table: a header row, the separator and one row per student, each ending in a newline.
    pub text: String,
}

/// Errors reading a report back from the table that `relusym mlp-conjecture --out` wrote.
#[derive(Debug, thiserror::Error)]
pub enum MlpTableError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The CSV file could not be read, or a column is missing or does not parse.
    #[error(transparent)]
    Table(#[from] crate::tables::TableError),
    /// The sidecar does not hold the experiment's settings.
    #[error("{path}: no experiment settings at provenance.config: {source}")]
    Config { path: PathBuf, source: serde_json::Error },
}

/// Name of the table files (`<name>.parquet`, `.csv`, `.meta.json`) in an output directory.
pub const TABLE_NAME: &str = "mlp_conjecture";

impl MlpConjectureReport {
    /// The rows as a table (`mlp_conjecture.csv` / `.parquet`): one column per layer error.
    pub fn table(&self) -> crate::tables::Table {
        use crate::tables::{Table, Values};
        let rows = &self.rows;
        let layers = rows.first().map_or(0, |r| r.layer_errors.len());
        let mut t = Table::new()
            .col("variant", "", Values::Str(rows.iter().map(|r| r.variant.clone()).collect()))
            .col("seed", "", Values::I64(rows.iter().map(|r| r.seed as i64).collect()))
            .col("test_mse", "squared target units", Values::F64(rows.iter().map(|r| r.test_mse).collect()))
            .col("invariance_error", "fraction of target std", Values::F64(rows.iter().map(|r| r.invariance_error).collect()))
            .col("involutions", "", Values::Bool(rows.iter().map(|r| r.involutions).collect()));
        for l in 0..layers {
            let at = |v: &[f64]| v.get(l).copied().unwrap_or(f64::NAN);
            t = t.col(&format!("layer{l}_error"), "relative Frobenius", Values::F64(rows.iter().map(|r| at(&r.layer_errors)).collect()));
            t = t.col(&format!("layer{l}_unaligned"), "relative Frobenius", Values::F64(rows.iter().map(|r| at(&r.unaligned_errors)).collect()));
        }
        t
    }
}

impl MlpConjectureReport {
    /// Read a report back from `dir/mlp_conjecture.csv` and the settings in
    /// `dir/mlp_conjecture.meta.json` (as written by `relusym mlp-conjecture --out dir`). The
    /// numbers are the saved `f64`s, bit for bit; `seconds` is `None`. Needs no polars.
    pub fn read(dir: &Path) -> Result<Self, MlpTableError> {
        let csv = dir.join(format!("{TABLE_NAME}.csv"));
        let meta = dir.join(format!("{TABLE_NAME}.meta.json"));
        let text = std::fs::read_to_string(&meta).map_err(|source| MlpTableError::Io { path: meta.clone(), source })?;
        let config = serde_json::from_str::<serde_json::Value>(&text)
            .and_then(|v| serde_json::from_value::<MlpConjectureConfig>(v["provenance"]["config"].clone()))
            .map_err(|source| MlpTableError::Config { path: meta.clone(), source })?;
        let cells = crate::tables::read_csv(&csv)?;
        let variants: Vec<String> = cells.column("variant", |s| (!s.is_empty()).then(|| s.to_string()))?;
        let seeds: Vec<u64> = cells.column("seed", |s| s.parse().ok())?;
        let involutions: Vec<bool> = cells.column("involutions", |s| s.parse().ok())?;
        let (test_mse, invariance) = (cells.f64s("test_mse")?, cells.f64s("invariance_error")?);
        let layers = (0..).take_while(|l| cells.names.contains(&format!("layer{l}_error"))).count();
        let aligned = (0..layers).map(|l| cells.f64s(&format!("layer{l}_error"))).collect::<Result<Vec<_>, _>>()?;
        let unaligned = (0..layers).map(|l| cells.f64s(&format!("layer{l}_unaligned"))).collect::<Result<Vec<_>, _>>()?;
        let rows = (0..cells.rows.len())
            .map(|i| MlpRow {
                variant: variants[i].clone(),
                seed: seeds[i],
                test_mse: test_mse[i],
                invariance_error: invariance[i],
                layer_errors: aligned.iter().map(|c| c[i]).collect(),
                unaligned_errors: unaligned.iter().map(|c| c[i]).collect(),
                involutions: involutions[i],
            })
            .collect();
        Ok(Self { config, rows, seconds: None })
    }

    /// The rows as Markdown tables of at most 2 + (number of layers) + 1 columns, with the same
    /// rounding as the text output: `function` (test MSE and invariance error), `aligned` (per
    /// layer j the relative error of `[W_j | b_j]` after aligning f∘ρ to f, and whether every
    /// `P_j` is an involution) and `unaligned` (the same error with every `P_j = I`).
    pub fn markdown_tables(&self) -> Vec<MarkdownTable> {
        use std::fmt::Write as _;
        let layers = self.rows.first().map_or(0, |r| r.layer_errors.len());
        let layer_heads: Vec<String> = (1..=layers).map(|j| format!("layer {j}")).collect();
        let table = |stem: &'static str, heads: Vec<String>, cells: &dyn Fn(&MlpRow) -> Vec<String>| {
            // Numbers right-aligned; the yes/no column (no digits in its cells) left-aligned.
            let numeric: Vec<bool> = (0..heads.len()).map(|c| self.rows.iter().all(|r| cells(r)[c].starts_with(|ch: char| ch.is_ascii_digit()))).collect();
            let rule: String = numeric.iter().map(|&n| if n { "---:|" } else { "---|" }).collect();
            let mut text = format!("| variant | seed | {} |\n|---|---|{rule}\n", heads.join(" | "));
            for r in &self.rows {
                let _ = writeln!(text, "| {} | {} | {} |", r.variant, r.seed, cells(r).join(" | "));
            }
            MarkdownTable { stem, text }
        };
        let errors = |v: &[f64]| (0..layers).map(|l| v.get(l).map_or("–".to_string(), |x| format!("{x:.3}"))).collect::<Vec<_>>();
        let mut aligned_heads = layer_heads.clone();
        aligned_heads.push("every Pⱼ an involution".into());
        vec![
            table("function", vec!["test MSE".into(), "invariance error".into()], &|r| {
                vec![format!("{:.4}", r.test_mse), format!("{:.4}", r.invariance_error)]
            }),
            table("aligned", aligned_heads, &|r| {
                let mut c = errors(&r.layer_errors);
                c.push(if r.involutions { "yes" } else { "no" }.into());
                c
            }),
            table("unaligned", layer_heads, &|r| errors(&r.unaligned_errors)),
        ]
    }

    /// Write [`markdown_tables`](Self::markdown_tables) as `dir/<stem>.md`, atomically; returns
    /// the files written.
    pub fn write_markdown(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        self.markdown_tables()
            .into_iter()
            .map(|t| {
                let path = dir.join(format!("{}.md", t.stem));
                crate::provenance::write_atomic(&path, t.text.as_bytes()).map(|()| path)
            })
            .collect()
    }
}

impl std::fmt::Display for MlpConjectureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<7} {:>4} {:>9} {:>10} {:>24} {:>24} {:>6}",
            "variant", "seed", "test mse", "invariance", "layer errors (aligned)", "layer errors (P = I)", "invol"
        )?;
        let j = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ");
        for r in &self.rows {
            writeln!(
                f,
                "{:<7} {:>4} {:>9.4} {:>10.4} {:>24} {:>24} {:>6}",
                r.variant,
                r.seed,
                r.test_mse,
                r.invariance_error,
                j(&r.layer_errors),
                j(&r.unaligned_errors),
                r.involutions
            )?;
        }
        Ok(())
    }
}

fn reverse(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks(d).flat_map(|r| r.iter().rev().copied().collect::<Vec<_>>()).collect()
}

fn tensor(v: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32")
}

/// The transformed network f∘ρ: first-layer weight rows (inputs) reversed.
fn transformed(params: &ParamMap) -> ParamMap {
    let mut p = params.clone();
    let w = p.get_mut("layers.0.weight").expect("first layer");
    let mut r = w.clone();
    r.invert_axis(ndarray::Axis(0));
    *w = r;
    p
}

fn layer_errors(a: &ParamMap, b: &ParamMap, layers: usize) -> Vec<f64> {
    (0..layers)
        .map(|i| {
            let (mut num, mut den) = (0.0, 0.0);
            for k in ["weight", "bias"] {
                let name = format!("layers.{i}.{k}");
                for (x, y) in a[&name].iter().zip(b[&name].iter()) {
                    num += ((x - y) as f64).powi(2);
                    den += (*x as f64).powi(2);
                }
            }
            (num / den.max(1e-300)).sqrt()
        })
        .collect()
}

/// Measure a student.
fn measure(net: &Mlp, variant: &str, seed: u64, xt: &[f32], yt: &[f32], d: usize, device: &Device) -> Result<MlpRow, MergeError> {
    let n = yt.len();
    let f = values(net.forward(tensor(xt.to_vec(), n, d, device)));
    let fr = values(net.forward(tensor(reverse(xt, d), n, d, device)));
    let mean = yt.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let std = (yt.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64).sqrt().max(1e-12);
    let test_mse = f.iter().zip(yt).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / n as f64;
    let invariance_error = f.iter().zip(&fr).map(|(a, b)| ((a - b) as f64).abs()).sum::<f64>() / n as f64 / std;
    let params = net.to_params();
    let other = transformed(&params);
    let spec = PermSpec::from_structure(&net.structure())?;
    let wm = weight_matching(&params, &other, &spec, &WeightMatchingOptions { seed, ..WeightMatchingOptions::default() })?;
    let aligned = apply_perms(&other, &spec, &wm.perms)?;
    let layers = net.layers.len();
    Ok(MlpRow {
        variant: variant.to_string(),
        seed,
        test_mse,
        invariance_error,
        layer_errors: layer_errors(&params, &aligned, layers),
        unaligned_errors: layer_errors(&params, &other, layers),
        involutions: wm.perms.iter().all(|p| p.is_involution()),
    })
}

/// Run the experiment: for every seed, the untrained net and students trained without and with
/// augmentation.
pub fn mlp_conjecture(cfg: &MlpConjectureConfig) -> Result<Vec<MlpRow>, MergeError> {
    let device = Device::flex();
    let d = cfg.input_dim;
    let teacher = Mlp::new(&[d, 16, 1], &device, 12345);
    let ramp: Vec<f32> = (0..d).map(|i| -1.0 + 2.0 * i as f32 / (d - 1).max(1) as f32).collect();
    let sample = |n: usize, rng: &mut StdRng| -> (Vec<f32>, Vec<f32>) {
        let x: Vec<f32> = (0..n * d).map(|k| standard_normal(rng) as f32 + ramp[k % d]).collect();
        let t = values(teacher.forward(tensor(x.clone(), n, d, &device)));
        let tr = values(teacher.forward(tensor(reverse(&x, d), n, d, &device)));
        (x, t.iter().zip(&tr).map(|(a, b)| a + b).collect())
    };
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let mut rng = StdRng::seed_from_u64(1000 + seed);
        let (x, y) = sample(cfg.samples, &mut rng);
        let (xt, yt) = sample(2048, &mut rng);
        let mut widths = vec![d];
        widths.extend(&cfg.hidden);
        widths.push(1);
        let init = Mlp::new(&widths, &device, seed);
        rows.push(measure(&init, "init", seed, &xt, &yt, d, &device)?);
        for augment in [false, true] {
            let ad = device.clone().autodiff();
            let mut net = Mlp::new(&widths, &ad, seed);
            let mut optim = SgdConfig::new()
                .with_momentum(Some(MomentumConfig { momentum: 0.9, dampening: 0.0, nesterov: false }))
                .with_weight_decay((cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32)))
                .init();
            let mut brng = StdRng::seed_from_u64(seed * 7 + augment as u64);
            for _ in 0..cfg.steps {
                let mut xb = Vec::with_capacity(cfg.batch * d);
                let mut yb = Vec::with_capacity(cfg.batch);
                for _ in 0..cfg.batch {
                    let i = brng.random_range(0..cfg.samples);
                    let row = &x[i * d..(i + 1) * d];
                    if augment && brng.random::<bool>() {
                        xb.extend(row.iter().rev());
                    } else {
                        xb.extend_from_slice(row);
                    }
                    yb.push(y[i]);
                }
                let pred = net.forward(tensor(xb, cfg.batch, d, &ad));
                let loss = (pred - tensor(yb, cfg.batch, 1, &ad)).powi_scalar(2).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(cfg.lr, net, grads);
            }
            let trained = net.valid();
            rows.push(measure(&trained, if augment { "aug" } else { "no-aug" }, seed, &xt, &yt, d, &device)?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> MlpConjectureReport {
        let row = |variant: &str, seed: u64, x: f64| MlpRow {
            variant: variant.into(),
            seed,
            test_mse: x / 3.0,
            invariance_error: x.sqrt(),
            layer_errors: vec![x, x / 7.0, 0.0],
            unaligned_errors: vec![1.0 + x, 0.0, 0.0],
            involutions: seed != 1,
        };
        let rows = vec![row("init", 0, 1.234_567_890_123), row("no-aug", 1, 0.1), row("aug", 2, 1e-17)];
        MlpConjectureReport { config: MlpConjectureConfig::default(), rows, seconds: Some(1.0) }
    }

    #[test]
    fn a_written_table_reads_back_bit_for_bit() {
        let dir = std::env::temp_dir().join(format!("relusym-mlp-table-{}", std::process::id()));
        let r = report();
        r.table().write(&dir, TABLE_NAME, &serde_json::json!({ "config": r.config })).unwrap();
        let back = MlpConjectureReport::read(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(serde_json::to_string(&back.rows).unwrap(), serde_json::to_string(&r.rows).unwrap());
        assert_eq!(back.config.seeds, r.config.seeds);
        assert_eq!(back.seconds, None);
        assert_eq!(back.to_string(), r.to_string());
    }

    #[test]
    fn reading_a_directory_without_a_table_names_the_missing_file() {
        let err = MlpConjectureReport::read(Path::new("/nonexistent/mlp")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mlp/mlp_conjecture.meta.json"), "{err}");
    }

    #[test]
    fn markdown_tables_have_one_row_per_student_and_at_most_eight_columns() {
        let tables = report().markdown_tables();
        assert_eq!(tables.iter().map(|t| t.stem).collect::<Vec<_>>(), ["function", "aligned", "unaligned"]);
        for t in &tables {
            let lines: Vec<&str> = t.text.lines().collect();
            assert_eq!(lines.len(), 2 + 3, "{}", t.text);
            let columns = lines[0].matches('|').count() - 1;
            assert!(columns <= 8, "{}", t.text);
            assert!(lines.iter().all(|l| l.matches('|').count() - 1 == columns), "{}", t.text);
        }
        assert!(tables[0].text.contains("| init | 0 | 0.4115 | 1.1111 |"), "{}", tables[0].text);
        assert!(tables[1].text.contains("| no-aug | 1 | 0.100 | 0.014 | 0.000 | no |"), "{}", tables[1].text);
        assert!(tables[1].text.contains("|---|---|---:|---:|---:|---|"), "{}", tables[1].text);
    }
}
