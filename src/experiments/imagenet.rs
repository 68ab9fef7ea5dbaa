//! The paper's ImageNet experiment (§3.2, the official notebook): torchvision's ResNet50 merged
//! with its own flipped copy.
//!
//! 1. Load the user's torchvision weights ([`ResNet50::from_torchvision`]); the flipped network
//!    flips every kernel (approximately `x ↦ f(hflip x)` at 224×224, see [`crate::nets`]).
//! 2. Statistics stream: a class-stratified sample of `stats_images` training images (5,000 in
//!    the notebook), resized and centre-cropped as for evaluation, not augmented, decoded once
//!    into memory as `u8` ([`crate::data::imagenet`]).
//! 3. Activation matching of the flipped network to the original (REPAIR's correlations; one
//!    permutation per residual stream, pooled over every block writing into it).
//! 4. Midpoints α = ½: without alignment, aligned, aligned + BatchNorm reset, aligned + REPAIR
//!    (BatchNorm outputs reset to the interpolated endpoint statistics, REPAIR's ResNet recipe).
//! 5. Every network is evaluated on the (streamed) validation images in one pass: each batch is
//!    decoded once and run through all six networks. Top-1, top-5 and cross-entropy.
//! 6. The figure: the first layer's 7×7 filters next to their flipped-and-permuted partners.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::ProgressBar;
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::merge::bar;
use crate::align::{activation_stats, perms_from_stats};
use crate::batches::Loader;
use crate::data::{DataError, FolderIndex, Preprocess};
use crate::device::ChosenDevice;
use crate::group::D4;
use crate::merge::{MergeError, endpoint_pre_stats, interpolate, permute_model, repair, reset_batch_norm};
use crate::nets::{Network, ResNet50, ResNet50Config, WeightsError, tensor_to_array};
use crate::plots::{FilterPanel, PlotError, filter_grid};
use crate::provenance::git_revision;

// ANCHOR: notebook_top1
/// The official notebook's top-1 (%) on the 50,000 validation images with torchvision's
/// `IMAGENET1K_V2` weights, in the order of [`ImagenetReport::rows`].
pub const NOTEBOOK_TOP1: [(&str, f64); 6] = [
    ("original", 80.86),
    ("all kernels flipped", 80.52),
    ("merged without alignment", 0.94),
    ("merged, aligned", 41.77),
    ("merged, aligned + BN reset", 74.07),
    ("merged, aligned + REPAIR", 76.39),
];
// ANCHOR_END: notebook_top1

/// Settings of an ImageNet run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImagenetConfig {
    /// torchvision ResNet50 weights (`.pth`/`.pt` state dict or `.safetensors`).
    pub weights: PathBuf,
    /// Training image folder (`<class>/<file>`), for the statistics.
    pub train: PathBuf,
    /// Validation image folder (`<class>/<file>`, classes sorted by name = the labels).
    pub val: PathBuf,
    /// Training images streamed for statistics (a class-stratified sample). Default 5000.
    pub stats_images: usize,
    /// Validation images evaluated (a class-stratified sample); `None`: all. Default `None`.
    pub val_images: Option<usize>,
    /// Batch size of every pass. Default 64.
    pub batch_size: usize,
    /// Resize and crop. Default 232 / 224.
    pub preprocess: Preprocess,
    /// Seed of the samples. Default 0.
    pub seed: u64,
    /// Where the figure goes (none if `None`).
    pub out: Option<PathBuf>,
}

impl ImagenetConfig {
    /// The notebook's protocol on the given files.
    pub fn new(weights: PathBuf, train: PathBuf, val: PathBuf) -> Self {
        Self { weights, train, val, stats_images: 5000, val_images: None, batch_size: 64, preprocess: Preprocess::default(), seed: 0, out: None }
    }
}

/// Why an ImageNet run failed.
#[derive(Debug, thiserror::Error)]
pub enum ImagenetError {
    /// The weights file.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The image folders.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Alignment, merging or repair.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The figure.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// The validation folder's classes do not fit the network's outputs.
    #[error("{path} has {folders} class folders, the network in {weights} has {classes} outputs")]
    Classes {
        /// The validation folder.
        path: PathBuf,
        /// Its class folders.
        folders: usize,
        /// The weights file.
        weights: PathBuf,
        /// The network's classes.
        classes: usize,
    },
    /// A setting out of range.
    #[error("{0}")]
    Config(String),
}

/// One evaluated network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImagenetRow {
    /// Which network (the notebook's row label).
    pub model: String,
    /// Top-1 accuracy (fraction).
    pub top1: f64,
    /// Top-5 accuracy (fraction).
    pub top5: f64,
    /// Mean cross-entropy (nats).
    pub loss: f64,
    /// The official notebook's top-1 (%) for this row (torchvision V2 weights, 50k images).
    pub notebook_top1: f64,
}

/// The alignment of one hidden space of the flipped network to the original.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceAlignment {
    /// The space (`stem`, `layerK`, `layerK.i.innerJ`).
    pub space: String,
    /// Its channels.
    pub channels: usize,
    /// Mean correlation of matched live channel pairs.
    pub matched_corr: f64,
    /// Fixed points of the permutation (self-symmetric channels).
    pub fixed: usize,
    /// 2-cycles (mirror pairs).
    pub two_cycles: usize,
    /// Channels in cycles of length ≥ 3 (the permutation is then not an involution, and the
    /// merged network not exactly flip-invariant).
    pub in_longer: usize,
}

/// How far the flipped network is from `x ↦ f(hflip x)` on real images (the strided grid).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipDeviation {
    /// Images measured (the first evaluation batch).
    pub images: usize,
    /// Mean over images of ‖f_flipped(x) − f(hflip x)‖ / ‖f(hflip x)‖ (logits).
    pub mean_relative: f64,
    /// Share of images whose predicted class agrees.
    pub argmax_agreement: f64,
}

/// Wall-clock breakdown (seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImagenetTimings {
    /// Reading the weights.
    pub load: f64,
    /// Indexing the folders and decoding the statistics images.
    pub decode_stats: f64,
    /// Activation statistics and assignment.
    pub align: f64,
    /// Interpolation, BN reset, endpoint statistics and REPAIR.
    pub merge_repair: f64,
    /// Decoding and evaluating the validation images on all six networks.
    pub evaluate: f64,
    /// Everything.
    pub total: f64,
    /// `evaluate` per validation image (milliseconds; six networks and the decoding).
    pub evaluate_ms_per_image: f64,
    /// Statistics passes (align + merge/repair) per statistics image (milliseconds).
    pub stats_ms_per_image: f64,
}

/// Everything `relusym imagenet` measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImagenetReport {
    /// The settings.
    pub config: ImagenetConfig,
    /// The architecture read off the weights file.
    pub architecture: ResNet50Config,
    /// Validation images evaluated.
    pub val_images: usize,
    /// Training images streamed for statistics.
    pub stats_images: usize,
    /// The six networks, in the notebook's order.
    pub rows: Vec<ImagenetRow>,
    /// The flipped network against `f ∘ hflip`.
    pub flip_deviation: FlipDeviation,
    /// Per hidden space: the alignment's quality and cycle structure.
    pub spaces: Vec<SpaceAlignment>,
    /// The first-layer filter figure, if written.
    pub figure: Option<PathBuf>,
    /// The device.
    pub device: String,
    /// The code's git revision.
    pub git_revision: String,
    /// Where the time went.
    pub seconds: ImagenetTimings,
}

impl ImagenetReport {
    /// The six networks as a table: model, top-1 %, top-5 %, loss, the notebook's top-1 %.
    pub fn table(&self) -> crate::tables::Table {
        use crate::tables::{Table, Values};
        Table::new()
            .col("model", "", Values::Str(self.rows.iter().map(|r| r.model.clone()).collect()))
            .col("top-1", "%", Values::F64(self.rows.iter().map(|r| 100.0 * r.top1).collect()))
            .col("top-5", "%", Values::F64(self.rows.iter().map(|r| 100.0 * r.top5).collect()))
            .col("loss", "nats", Values::F64(self.rows.iter().map(|r| r.loss).collect()))
            .col("notebook top-1", "%", Values::F64(self.rows.iter().map(|r| r.notebook_top1).collect()))
    }
}

impl std::fmt::Display for ImagenetReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = &self.architecture;
        writeln!(f, "ResNet50 (width {}, {} classes) from {} on {}", a.width, a.num_classes, self.config.weights.display(), self.device)?;
        let p = &self.config.preprocess;
        writeln!(
            f,
            "statistics: {} training images of {}; evaluation: {} images of {} (resize {} / crop {})",
            self.stats_images,
            self.config.train.display(),
            self.val_images,
            self.config.val.display(),
            p.resize,
            p.crop
        )?;
        writeln!(f, "{:<28} {:>8} {:>8} {:>8} {:>16}", "model", "top-1 %", "top-5 %", "loss", "notebook top-1 %")?;
        for r in &self.rows {
            writeln!(f, "{:<28} {:>8.2} {:>8.2} {:>8.4} {:>16.2}", r.model, 100.0 * r.top1, 100.0 * r.top5, r.loss, r.notebook_top1)?;
        }
        let d = &self.flip_deviation;
        writeln!(
            f,
            "flipped net vs f(hflip x): mean relative logit deviation {:.4}, argmax agreement {:.1} % ({} images)",
            d.mean_relative,
            100.0 * d.argmax_agreement,
            d.images
        )?;
        let (involutive, total) = (self.spaces.iter().filter(|s| s.in_longer == 0).count(), self.spaces.len());
        let streams: Vec<String> = self.spaces.iter().filter(|s| !s.space.contains('.')).map(|s| format!("{} {:.3}", s.space, s.matched_corr)).collect();
        writeln!(f, "matched correlation: {}; {involutive}/{total} permutations are involutions", streams.join(", "))?;
        if let Some(fig) = &self.figure {
            writeln!(f, "figure: {}", fig.display())?;
        }
        let s = &self.seconds;
        writeln!(
            f,
            "time: {:.1} s (load {:.1}, decode {:.1}, align {:.1}, merge + repair {:.1}, evaluate {:.1}); {:.1} ms per validation image (6 nets), {:.1} ms per statistics image",
            s.total, s.load, s.decode_stats, s.align, s.merge_repair, s.evaluate, s.evaluate_ms_per_image, s.stats_ms_per_image
        )
    }
}

/// Run the experiment on the files of `cfg` (see the module docs).
pub fn run_imagenet(cfg: &ImagenetConfig, device: &ChosenDevice, show: bool) -> Result<ImagenetReport, ImagenetError> {
    let start = Instant::now();
    let mut seconds = ImagenetTimings::default();
    if cfg.batch_size == 0 || cfg.stats_images == 0 || cfg.val_images == Some(0) {
        return Err(ImagenetError::Config("batch size, statistics images and validation images must be positive".into()));
    }
    cfg.preprocess.validate()?;
    let net = ResNet50::from_torchvision(&cfg.weights, &device.device)?;
    seconds.load = start.elapsed().as_secs_f64();
    let architecture = net.config();

    let t = Instant::now();
    let val = FolderIndex::scan(&cfg.val)?.stratified(cfg.val_images, cfg.seed);
    if val.classes.len() != architecture.num_classes {
        return Err(ImagenetError::Classes {
            path: cfg.val.clone(),
            folders: val.classes.len(),
            weights: cfg.weights.clone(),
            classes: architecture.num_classes,
        });
    }
    let train = FolderIndex::scan(&cfg.train)?.stratified(Some(cfg.stats_images), cfg.seed);
    let stats_set = train.load_dataset("imagenet/train", &cfg.preprocess)?;
    let loader = Loader::ordered(&stats_set, cfg.batch_size);
    seconds.decode_stats = t.elapsed().as_secs_f64();

    let dev = &device.device;
    let t = Instant::now();
    let flipped = net.flipped();
    let pb = bar(loader.images() as u64, show, "statistics");
    let matching = perms_from_stats(&activation_stats(&net, &flipped, &loader, dev, &pb));
    pb.finish_and_clear();
    let aligned = permute_model(&flipped, &matching.perms)?;
    seconds.align = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let theta = net.to_params();
    let unaligned = net.with_params(&interpolate(&theta, &flipped.to_params(), 0.5)?);
    let merged = net.with_params(&interpolate(&theta, &aligned.to_params(), 0.5)?);
    let pb = bar(3 * loader.images() as u64, show, "repair");
    let bn_reset = reset_batch_norm(&merged, &loader, dev, &pb);
    let endpoints = endpoint_pre_stats(&net, &aligned, &loader, dev, &pb);
    let repaired = repair(&merged, &endpoints, 0.5, &loader, dev, &pb)?;
    pb.finish_and_clear();
    seconds.merge_repair = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let nets = [&net, &flipped, &unaligned, &merged, &bn_reset, &repaired];
    let pb = bar(val.len() as u64, show, "evaluate");
    let (scores, flip_deviation) = evaluate_all(&nets, &val, &cfg.preprocess, cfg.batch_size, dev, &pb)?;
    pb.finish_and_clear();
    seconds.evaluate = t.elapsed().as_secs_f64();

    let figure = match &cfg.out {
        Some(out) => Some(first_layer_figure(&net, &aligned, out)?),
        None => None,
    };
    let spaces = net
        .structure()
        .spaces
        .iter()
        .zip(&matching.perms)
        .zip(&matching.matched_corr)
        .map(|((s, p), &matched_corr)| {
            let c = p.cycle_counts();
            SpaceAlignment { space: s.name.clone(), channels: s.size, matched_corr, fixed: c.fixed, two_cycles: c.two_cycles, in_longer: c.in_longer }
        })
        .collect();
    let rows = scores
        .iter()
        .zip(NOTEBOOK_TOP1)
        .map(|(s, (model, notebook_top1))| {
            let n = s.images.max(1) as f64;
            ImagenetRow { model: model.to_string(), top1: s.top1 as f64 / n, top5: s.top5 as f64 / n, loss: s.loss_sum / n, notebook_top1 }
        })
        .collect();
    seconds.total = start.elapsed().as_secs_f64();
    seconds.evaluate_ms_per_image = 1e3 * seconds.evaluate / val.len().max(1) as f64;
    seconds.stats_ms_per_image = 1e3 * (seconds.align + seconds.merge_repair) / stats_set.len.max(1) as f64;
    Ok(ImagenetReport {
        config: cfg.clone(),
        architecture,
        val_images: val.len(),
        stats_images: stats_set.len,
        rows,
        flip_deviation,
        spaces,
        figure,
        device: device.description.clone(),
        git_revision: git_revision(),
        seconds,
    })
}

/// Counts of one network over the evaluation.
#[derive(Clone, Debug, Default)]
struct Scores {
    images: usize,
    top1: i64,
    top5: i64,
    loss_sum: f64,
}

/// Evaluate every network of `nets` on the streamed images of `val` (each batch decoded once);
/// on the first batch also measure `nets[1]` (the flipped network) against `nets[0] ∘ hflip`.
fn evaluate_all(
    nets: &[&ResNet50],
    val: &FolderIndex,
    pre: &Preprocess,
    batch_size: usize,
    device: &Device,
    progress: &ProgressBar,
) -> Result<(Vec<Scores>, FlipDeviation), ImagenetError> {
    let device = device.clone().inner();
    let models: Vec<ResNet50> = nets.iter().map(|n| n.for_inference()).collect();
    let ce = CrossEntropyLossConfig::new().init(&device);
    let mut scores = vec![Scores::default(); models.len()];
    let mut deviation = None;
    let c = pre.crop as usize;
    for batch in val.batches(pre, batch_size) {
        let (pixels, labels) = batch?;
        let b = labels.len();
        let x: Tensor<4> = Tensor::from_data(TensorData::new(pixels, [b, 3, c, c]), &device);
        let y: Tensor<1, Int> = Tensor::from_data(TensorData::new(labels, [b]), &device);
        let mut logits_of = Vec::with_capacity(models.len());
        for (model, s) in models.iter().zip(scores.iter_mut()) {
            let logits = model.forward(x.clone());
            s.top1 += logits.clone().argmax(1).reshape([b]).equal(y.clone()).int().sum().into_scalar::<i64>();
            let own = logits.clone().gather(1, y.clone().reshape([b, 1]));
            let above = (logits.clone() - own).greater_elem(0.0).int().sum_dim(1);
            s.top5 += above.lower_elem(5).int().sum().into_scalar::<i64>();
            s.loss_sum += ce.forward(logits.clone(), y.clone()).into_scalar::<f32>() as f64 * b as f64;
            s.images += b;
            logits_of.push(logits);
        }
        if deviation.is_none() && models.len() > 1 {
            let target = models[0].forward(D4::HFLIP.apply(x));
            deviation = Some(flip_deviation(&tensor_to_array(logits_of[1].clone()), &tensor_to_array(target)));
        }
        progress.inc(b as u64);
    }
    Ok((scores, deviation.unwrap_or(FlipDeviation { images: 0, mean_relative: 0.0, argmax_agreement: 0.0 })))
}

/// Per-image relative distance of `got` from `target` (`[N, classes]` logits) and argmax
/// agreement.
fn flip_deviation(got: &ArrayD<f32>, target: &ArrayD<f32>) -> FlipDeviation {
    let argmax = |row: ndarray::ArrayViewD<f32>| row.iter().enumerate().fold((0, f32::NEG_INFINITY), |m, (i, &v)| if v > m.1 { (i, v) } else { m }).0;
    let n = got.shape()[0];
    let (mut rel, mut agree) = (0.0, 0usize);
    for (g, t) in got.outer_iter().zip(target.outer_iter()) {
        let diff: f64 = g.iter().zip(t.iter()).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
        let norm: f64 = t.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
        rel += diff / norm;
        agree += usize::from(argmax(g.view()) == argmax(t.view()));
    }
    let nf = n.max(1) as f64;
    FlipDeviation { images: n, mean_relative: rel / nf, argmax_agreement: agree as f64 / nf }
}

/// The stem's filters `[C, C_in, k, k]` as RGB panels (a single input channel is shown grey),
/// each filter min–max scaled to `[0, 1]` on its own.
pub fn filter_panel(weight: &ArrayD<f32>) -> Vec<Vec<[f64; 3]>> {
    let s = weight.shape();
    let (c_out, c_in, k) = (s[0], s[1], s[3]);
    (0..c_out)
        .map(|o| {
            let vals = weight.index_axis(ndarray::Axis(0), o);
            let (lo, hi) = vals.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let scale = if hi > lo { 1.0 / (hi - lo) as f64 } else { 0.0 };
            (0..k * k)
                .map(|p| {
                    let (y, x) = (p / k, p % k);
                    let ch = |c: usize| ((vals[[c.min(c_in - 1), y, x]] - lo) as f64 * scale).clamp(0.0, 1.0);
                    [ch(0), ch(1), ch(2)]
                })
                .collect()
        })
        .collect()
}

/// The first layer's filters next to the flipped network's aligned (flipped and permuted)
/// filters, as `out/first-layer-filters.png`. Returns the path.
pub fn first_layer_figure(net: &ResNet50, aligned_flipped: &ResNet50, out: &Path) -> Result<PathBuf, PlotError> {
    let path = out.join("first-layer-filters.png");
    let w = |n: &ResNet50| tensor_to_array(n.conv1.weight.val());
    let panels: Vec<FilterPanel> =
        vec![("original conv1".to_string(), filter_panel(&w(net))), ("flipped, permuted to match".to_string(), filter_panel(&w(aligned_flipped)))];
    filter_grid(&path, "ResNet50 first-layer filters and their flipped, aligned partners", &panels, 8)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_panels_scale_each_filter_to_the_unit_interval() {
        let w = ArrayD::from_shape_fn(ndarray::IxDyn(&[2, 3, 2, 2]), |ix| (ix[0] * 10 + ix[1] * 4 + ix[2] * 2 + ix[3]) as f32);
        let p = filter_panel(&w);
        assert_eq!((p.len(), p[0].len()), (2, 4));
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(close(p[0][0], [0.0, 4.0 / 11.0, 8.0 / 11.0]), "{:?}", p[0][0]);
        assert!(close(p[1][3], [3.0 / 11.0, 7.0 / 11.0, 1.0]), "{:?}", p[1][3]);
    }

    #[test]
    fn flip_deviation_is_zero_for_equal_logits_and_relative_otherwise() {
        let a = ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 2]), vec![3.0, 4.0, 1.0, 0.0]).unwrap();
        assert_eq!(flip_deviation(&a, &a), FlipDeviation { images: 2, mean_relative: 0.0, argmax_agreement: 1.0 });
        let b = ArrayD::from_shape_vec(ndarray::IxDyn(&[2, 2]), vec![3.0, 4.0, 0.0, 1.0]).unwrap();
        let d = flip_deviation(&b, &a);
        assert!((d.mean_relative - 2f64.sqrt() / 2.0).abs() < 1e-9 && d.argmax_agreement == 0.5, "{d:?}");
    }
}
