//! `relusym`: the command-line front end of relu-symmetries.
//!
//! Every command computes one typed result owned by the library
//! (`relu_symmetries::experiments::results` lists them) and renders that value: one JSON object
//! with `--json`, text otherwise, and a table (CSV + Parquet + units) with `--out`.

use std::fmt::Display;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use relu_symmetries::data::{self, DatasetKind};
use relu_symmetries::device::DeviceChoice;
use relu_symmetries::experiments::merge::{self as mergex, MergeConfig, Method};
use relu_symmetries::experiments::results::{AlignReport, BenchReport, EvalReport, MergeKind, MergeReport};
use relu_symmetries::merge::{RepairMode, permute_model};
use relu_symmetries::nets::Net;
use relu_symmetries::provenance::git_revision;
use relu_symmetries::train::{self, Checkpoint, ModelKind, RECOMMENDED_INVARIANCE_WEIGHT, Scale, TrainConfig, TrainOptions};
use serde::Serialize;
use serde_json::json;

#[derive(Parser)]
#[command(name = "relusym", version, about = "Investigating how ReLU-networks encode symmetries — experiments")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network (REPAIR's recipe; every value overridable).
    Train(TrainArgs),
    /// Evaluate a checkpoint: test accuracy, loss, flip agreement.
    Eval(EvalArgs),
    /// Training and inference throughput of VGG11 at several widths.
    Bench(BenchArgs),
    /// Align a network with its flipped self (--flip) or with a twin (--b): permutations,
    /// cycle structure, layerwise equivariance error.
    Align(AlignArgs),
    /// Merge a network with its aligned flipped self or twin along an α grid, repair, measure barriers.
    Merge(MergeArgs),
    /// Run the paper's theory results (lemma, counterexamples, positive cases, symmetrisation).
    Theory(TheoryArgs),
    /// Train ReLU MLPs on a reversal-invariant task with/without augmentation and measure how
    /// close they are to layerwise equivariant.
    MlpConjecture(MlpArgs),
    /// Build the book's figures and tables from training runs and result files.
    Figures(FiguresArgs),
    /// The paper's ImageNet experiment: torchvision's ResNet50 merged with its flipped self
    /// (original, flipped, unaligned and aligned midpoints, BN reset, REPAIR) and the
    /// first-layer filter figure.
    Imagenet(ImagenetArgs),
    /// How far flipped ResNets (ResNet50, the CIFAR ResNet-20) are from x ↦ f(hflip x) at several
    /// input sizes (exact on odd sizes, not on even ones), and the cost of a forward pass.
    ResnetFlip(ResnetFlipArgs),
    /// Export a checkpoint's weights as a safetensors file (burn's tensor names and layouts; the
    /// network configuration in the file's metadata) for other tools.
    Export(ExportArgs),
    /// The studies (the decisive VGG11 design, or `--design resnet`): plan, train, measure and report
    /// their matrix of nets and merges.
    #[command(subcommand)]
    Study(StudyCommand),
}

/// `--json`, shared by every command that prints a result.
#[derive(Args, Clone, Copy)]
struct JsonArg {
    /// Print the result as one JSON object on stdout (default: text).
    #[arg(long)]
    json: bool,
}

/// `--device`, shared by every command that computes.
#[derive(Args, Clone, Copy)]
struct DeviceArg {
    /// Compute device.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
}

/// Where a dataset lives and where its decoded cache goes.
#[derive(Args, Clone)]
struct DataLocation {
    /// Where the dataset lives (folder or archive). Defaults: the checkpoint's dataset for
    /// commands that read one; else CIFAR-10 `data/cifar10` or `$CIFAR10_ARCHIVE`, Fashion-MNIST
    /// `/usr/share/datasets/fashion-mnist/`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Cache of decoded datasets.
    #[arg(long, default_value = "data/cache")]
    cache: PathBuf,
}

/// A dataset and its location.
#[derive(Args, Clone)]
struct DataArgs {
    /// Dataset.
    #[arg(long, value_parser = DatasetKind::parse, default_value = "cifar10")]
    dataset: DatasetKind,
    #[command(flatten)]
    location: DataLocation,
}

/// `--test-subset`.
#[derive(Args, Clone, Copy)]
struct TestSubsetArg {
    /// Evaluate on N test images only (a class-stratified sample, the same every time).
    #[arg(long)]
    test_subset: Option<usize>,
}

#[derive(Args, Clone)]
struct StudyDirs {
    /// Which study: the decisive VGG11 design or the CIFAR ResNet-20 one.
    #[arg(long, value_enum, default_value = "decisive")]
    design: relu_symmetries::experiments::study::Design,
    /// Folder of the study's checkpoint directories [default: runs/study, for the ResNet design
    /// runs/resnet].
    #[arg(long)]
    runs: Option<PathBuf>,
    /// Folder of the study's results [default: results/study, for the ResNet design
    /// results/resnet].
    #[arg(long)]
    results: Option<PathBuf>,
}

impl StudyDirs {
    fn runs(&self) -> PathBuf {
        self.runs.clone().unwrap_or_else(|| self.design.runs().into())
    }

    fn results(&self) -> PathBuf {
        self.results.clone().unwrap_or_else(|| self.design.results().into())
    }
}

#[derive(Subcommand)]
enum StudyCommand {
    /// List every training run and measurement job, and which are done.
    Plan {
        #[command(flatten)]
        dirs: StudyDirs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Train (or resume) the study's nets that are not finished, in plan order.
    Train {
        #[command(flatten)]
        dirs: StudyDirs,
        #[command(flatten)]
        data: DataArgs,
        /// Only these nets (default: every unfinished one).
        #[arg(long = "net")]
        nets: Vec<String>,
        /// Stop each run (resumably) after this many epochs in total.
        #[arg(long)]
        stop_after: Option<usize>,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Run the measurement jobs whose nets are trained and whose result file is missing.
    Measure {
        #[command(flatten)]
        dirs: StudyDirs,
        #[command(flatten)]
        data: DataArgs,
        /// Only jobs whose result file name contains one of these strings.
        #[arg(long = "only")]
        only: Vec<String>,
        /// Only the jobs whose result file name without `.json` is exactly one of these (as
        /// `relusym study jobs` names them); their nets must be trained.
        #[arg(long = "job", value_name = "FILE_STEM", conflicts_with = "only")]
        jobs: Vec<String>,
        /// Run at most this many jobs.
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Every training run and measurement job as a job list: a shell script, a Slurm submission
    /// script (`--format slurm > submit.sh`), or JSON; each job with its dependencies and cost.
    Jobs {
        #[command(flatten)]
        dirs: StudyDirs,
        /// Output format.
        #[arg(long, value_enum, default_value = "shell")]
        format: relu_symmetries::experiments::study::jobs::JobFormat,
        /// Include the jobs that are done (default: only those not done).
        #[arg(long)]
        all: bool,
    },
    /// Build the study's tables and figures from what is trained and measured.
    Report {
        #[command(flatten)]
        dirs: StudyDirs,
        /// Output folder of the book's generated tables and figures [default:
        /// book/src/generated/study, for the ResNet design book/src/generated/resnet].
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        json: JsonArg,
    },
}

#[derive(Args)]
struct FiguresArgs {
    /// Folder of checkpoint directories.
    #[arg(long, default_value = "runs/cpu")]
    runs: PathBuf,
    /// Folder of align/merge JSON results.
    #[arg(long, default_value = "results/cpu")]
    results: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "book/src/generated")]
    out: PathBuf,
}

#[derive(Args)]
struct ImagenetArgs {
    /// torchvision ResNet50 weights: a PyTorch state dict (`.pth`/`.pt`, e.g. torchvision's
    /// IMAGENET1K_V2 file) or a `.safetensors` file with the same tensor names.
    #[arg(long)]
    weights: PathBuf,
    /// Validation images, `DIR/<class>/<file>.JPEG`; the classes sorted by name are the labels.
    #[arg(long)]
    val: PathBuf,
    /// Training images, `DIR/<class>/<file>.JPEG` (for the statistics; labels unused).
    #[arg(long)]
    train: PathBuf,
    /// Training images streamed for statistics (a class-stratified sample).
    #[arg(long, default_value_t = 5000)]
    stats_images: usize,
    /// Evaluate on N validation images only (a class-stratified sample; default: all).
    #[arg(long)]
    val_images: Option<usize>,
    /// Batch size of every pass.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Resize the shorter side to this many pixels (torchvision's V2 weights: 232).
    #[arg(long, default_value_t = 232)]
    resize: u32,
    /// Then keep the central square of this size (224).
    #[arg(long, default_value_t = 224)]
    crop: u32,
    /// Seed of the samples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder: the first-layer filter figure, the table (CSV …) and the report (JSON).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct ResnetFlipArgs {
    /// Images per network and size.
    #[arg(long, default_value_t = 8)]
    images: usize,
    /// Seed of the random weights and noise images.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory for the table (`resnet-flip.{csv,json}`).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct ExportArgs {
    /// Checkpoint directory.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Output `.safetensors` file.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct MlpArgs {
    /// Seeds (one student per seed and variant).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// SGD steps per student.
    #[arg(long, default_value_t = 20000)]
    steps: usize,
    /// L2 weight decay.
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f64,
    /// Output directory for the table.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Instead of training, read the report back from the table that `--out DIR` wrote earlier.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seeds", "steps", "weight_decay", "out"])]
    from: Option<PathBuf>,
    /// Also write the report as Markdown tables `DIR/function.md`, `DIR/aligned.md` and
    /// `DIR/unaligned.md` (for the book).
    #[arg(long, value_name = "DIR")]
    markdown: Option<PathBuf>,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct PairArgs {
    /// The reference network (checkpoint directory).
    #[arg(long)]
    a: PathBuf,
    /// Pair it with its own flipped copy x ↦ f(hflip x) (the GCNN barrier).
    #[arg(long, conflicts_with = "b", required_unless_present = "b")]
    flip: bool,
    /// Pair it with another network (the ordinary barrier).
    #[arg(long)]
    b: Option<PathBuf>,
    /// Matching method.
    #[arg(long, value_enum, default_value = "activation")]
    method: Method,
    /// Training images streamed for statistics (activation matching, BN reset, REPAIR).
    #[arg(long, default_value_t = 5000)]
    stats_images: usize,
    /// Stream un-augmented training images for statistics (default: crop + flip, as REPAIR).
    #[arg(long)]
    no_stats_aug: bool,
    #[command(flatten)]
    test: TestSubsetArg,
    /// Batch size of every pass.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seed (statistics stream, weight-matching sweep order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    data: DataLocation,
    #[command(flatten)]
    device: DeviceArg,
    /// Output directory for tables (and, for align, the aligned checkpoint).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct AlignArgs {
    #[command(flatten)]
    pair: PairArgs,
}

#[derive(Args)]
struct MergeArgs {
    #[command(flatten)]
    pair: PairArgs,
    /// Repair of merged nets.
    #[arg(long, value_enum, default_value = "none")]
    repair: RepairMode,
    /// α grid (comma-separated; must contain 0 and 1).
    #[arg(long, value_delimiter = ',', default_value = "0,0.25,0.5,0.75,1")]
    alphas: Vec<f64>,
    /// Skip the variance-collapse measurement at α = ½ (merged/endpoint variance per layer before
    /// and after repair): two passes of the statistics stream fewer.
    #[arg(long)]
    no_variance_ratios: bool,
}

#[derive(Args)]
struct TheoryArgs {
    /// Seed of the random constructions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write each section of the report (`lemma`, `counterexamples`, …) as `DIR/<stem>.txt`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Network.
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
    /// Width multiplier.
    #[arg(long)]
    width: Option<f64>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum.
    #[arg(long)]
    momentum: Option<f64>,
    /// Weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Warm-up epochs.
    #[arg(long)]
    warmup: Option<f64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Train without random horizontal flips (the random crop stays).
    #[arg(long)]
    no_flip_aug: bool,
    /// Weight λ of the invariance loss λ·mean‖f(x) − f(hflip x)‖² (without a value: the weight a
    /// sweep chose, `RECOMMENDED_INVARIANCE_WEIGHT`).
    #[arg(long, num_args = 0..=1)]
    invariance_loss: Option<Option<f64>>,
    /// Label smoothing α of the training loss (targets (1 − α)·one-hot + α/K; default 0).
    #[arg(long)]
    label_smoothing: Option<f64>,
    /// Use the first N images of a seeded shuffle of the training set.
    #[arg(long)]
    subset: Option<usize>,
    #[command(flatten)]
    test: TestSubsetArg,
    /// Evaluate every K epochs.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Size preset, applied before the explicit flags.
    #[arg(long, value_enum)]
    scale: Option<Scale>,
    #[command(flatten)]
    device: DeviceArg,
    /// Checkpoint directory.
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted run from its last finished epoch.
    #[arg(long)]
    resume: bool,
    /// Stop (resumably) after this many epochs in total; continue later with --resume.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Keep the weights after these epochs (e.g. 1,2,4,8,16) as DIR/epochs/model-eK.bpk.
    #[arg(long, value_delimiter = ',')]
    keep_epochs: Vec<usize>,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct EvalArgs {
    /// Checkpoint directory written by `relusym train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Dataset (default: the checkpoint's).
    #[arg(long, value_parser = DatasetKind::parse)]
    dataset: Option<DatasetKind>,
    #[command(flatten)]
    data: DataLocation,
    #[command(flatten)]
    test: TestSubsetArg,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    json: JsonArg,
}

#[derive(Args)]
struct BenchArgs {
    /// Width multipliers.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,1")]
    widths: Vec<f64>,
    /// Batch size.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Timed training steps per width.
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Untimed warm-up steps per width.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Benchmark VGG11 with BatchNorm.
    #[arg(long)]
    batch_norm: bool,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    json: JsonArg,
}

fn main() -> Result<()> {
    relu_symmetries::allocator::keep_freed_memory();
    relu_symmetries::batches::LayoutSetting::from_env().map_err(anyhow::Error::msg)?;
    let cli = Cli::parse();
    match cli.command {
        Command::Train(a) => cmd_train(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Bench(a) => cmd_bench(a),
        Command::Align(a) => cmd_align(a),
        Command::Merge(a) => cmd_merge(a),
        Command::Theory(a) => cmd_theory(a),
        Command::MlpConjecture(a) => cmd_mlp(a),
        Command::Export(a) => cmd_export(a),
        Command::ResnetFlip(a) => cmd_resnet_flip(a),
        Command::Imagenet(a) => cmd_imagenet(a),
        Command::Study(c) => cmd_study(c),
        Command::Figures(a) => {
            let files = relu_symmetries::experiments::report::build_report(&a.runs, &a.results, &a.out)?;
            say(&files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n"))
        }
    }
}

/// Print `text` and a newline on stdout; a closed pipe (`relusym … | head`) ends quietly.
fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Print a command's result: one JSON object with `--json`, its text rendering otherwise.
fn emit<T: Serialize + Display>(value: &T, json: JsonArg) -> Result<()> {
    if json.json { say(&serde_json::to_string(value)?) } else { say(value.to_string().trim_end()) }
}

/// Open the dataset of `data` (CIFAR-10: downloading the official binaries when no local copy is
/// found).
fn open_data(data: &DataArgs, progress: bool) -> Result<(data::Splits, data::DatasetInfo)> {
    let path = match data.dataset {
        DatasetKind::Cifar10 => Some(data::cifar10_source_or_download(data.location.data.as_deref())?),
        _ => data.location.data.clone(),
    };
    Ok(data::open(data.dataset, path.as_deref(), &data.location.cache, progress)?)
}

/// Open the dataset a checkpoint was trained on (or `location.data` instead of its path).
fn open_checkpoint_data(ckpt: &Checkpoint, kind: Option<DatasetKind>, location: &DataLocation, progress: bool) -> Result<(data::Splits, data::DatasetInfo)> {
    let kind = match kind {
        Some(k) => k,
        None => ckpt.meta.dataset.kind,
    };
    let path = location.data.clone().or_else(|| ckpt.meta.dataset.path.clone());
    Ok(data::open(kind, path.as_deref(), &location.cache, progress)?)
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let mut cfg = TrainConfig::default();
    if let Some(scale) = a.scale {
        scale.apply(&mut cfg);
    }
    macro_rules! set {
        ($field:ident, $value:expr) => {
            if let Some(v) = $value {
                cfg.$field = v;
            }
        };
    }
    set!(model, a.model);
    set!(width, a.width);
    set!(epochs, a.epochs);
    set!(batch_size, a.batch);
    set!(lr, a.lr);
    set!(momentum, a.momentum);
    set!(weight_decay, a.weight_decay);
    set!(warmup_epochs, a.warmup);
    set!(seed, a.seed);
    set!(invariance_loss, a.invariance_loss.map(|w| w.unwrap_or(RECOMMENDED_INVARIANCE_WEIGHT)));
    set!(eval_every, a.eval_every);
    set!(label_smoothing, a.label_smoothing);
    if a.subset.is_some() {
        cfg.subset = a.subset;
    }
    if a.test.test_subset.is_some() {
        cfg.test_subset = a.test.test_subset;
    }
    if a.no_flip_aug {
        cfg.flip_augmentation = false;
    }
    for note in cfg.adjust_degenerate() {
        eprintln!("note: {note}");
    }
    cfg.validate()?;
    let device = a.device.device.resolve();
    let (splits, info) = open_data(&a.data, !a.json.json)?;
    if !a.json.json {
        eprintln!(
            "training {:?} width {} on {} ({} train / {} test) for {} epochs on {}",
            cfg.model,
            cfg.width,
            info.name,
            cfg.subset.unwrap_or(splits.train.len).min(splits.train.len),
            splits.test.len,
            cfg.epochs,
            device.description
        );
    }
    let opts = TrainOptions {
        out: a.out.clone(),
        resume: a.resume,
        progress: !a.json.json,
        log_epochs: !a.json.json,
        stop_after: a.stop_after,
        keep_epochs: a.keep_epochs.clone(),
    };
    let summary = train::train(&cfg, &splits, info, &device, &opts).with_context(|| format!("training into {}", a.out.display()))?;
    emit(&summary, a.json)
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let ckpt = Checkpoint::open(&a.checkpoint)?;
    let device = a.device.device.resolve();
    let (splits, info) = open_checkpoint_data(&ckpt, a.dataset, &a.data, !a.json.json)?;
    let shape = [splits.test.channels, splits.test.height, splits.test.width];
    anyhow::ensure!(
        shape == ckpt.meta.dataset.shape && info.classes.len() == ckpt.meta.dataset.classes.len(),
        "{}: trained on images {:?} with {} classes, but {} has {:?} with {}",
        a.checkpoint.display(),
        ckpt.meta.dataset.shape,
        ckpt.meta.dataset.classes.len(),
        info.name,
        shape,
        info.classes.len()
    );
    let model = ckpt.load_model(&device.device)?;
    let n = a.test.test_subset.unwrap_or(splits.test.len).min(splits.test.len);
    let pb = if a.json.json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(n as u64) };
    let t = std::time::Instant::now();
    let metrics = train::evaluate(&model, &splits.test, ckpt.meta.train.eval_batch_size, Some(n), &device.device, &pb);
    pb.finish_and_clear();
    let report = EvalReport { checkpoint: a.checkpoint.clone(), dataset: info.name, device: device.description, metrics, wall_s: t.elapsed().as_secs_f64() };
    emit(&report, a.json)
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let device = a.device.device.resolve();
    let mut rows = Vec::new();
    for &w in &a.widths {
        if !a.json.json {
            eprintln!("benchmarking width {w} (batch {}, {} timed steps) on {}", a.batch, a.steps, device.description);
        }
        rows.push(relu_symmetries::bench::bench_width(&device, w, a.batch_norm, a.batch, a.warmup, a.steps)?);
    }
    emit(&BenchReport { device: device.description.clone(), heap: relu_symmetries::allocator::policy(), rows }, a.json)
}

/// The two networks of an align/merge command, the data, and the device.
struct Pair {
    a: Net,
    partner: Net,
    ckpt_a: Checkpoint,
    partner_name: String,
    splits: data::Splits,
    info: data::DatasetInfo,
    device: relu_symmetries::device::ChosenDevice,
    cfg: MergeConfig,
}

/// Where a table written with `--out` came from.
#[derive(Serialize)]
struct PairProvenance<'a> {
    a: &'a std::path::Path,
    partner: &'a str,
    dataset: &'a str,
    device: &'a str,
    git_revision: String,
    config: &'a MergeConfig,
}

impl Pair {
    fn provenance(&self) -> PairProvenance<'_> {
        PairProvenance {
            a: &self.ckpt_a.dir,
            partner: &self.partner_name,
            dataset: &self.info.name,
            device: &self.device.description,
            git_revision: git_revision(),
            config: &self.cfg,
        }
    }
}

fn load_pair(p: &PairArgs) -> Result<Pair> {
    let ckpt_a = Checkpoint::open(&p.a)?;
    let device = p.device.device.resolve();
    let a = ckpt_a.load_model(&device.device)?;
    let (partner, partner_name) = match &p.b {
        Some(b) => {
            let ckpt_b = Checkpoint::open(b)?;
            anyhow::ensure!(
                ckpt_b.meta.net == ckpt_a.meta.net,
                "{} and {} have different architectures ({:?} vs {:?})",
                p.a.display(),
                b.display(),
                ckpt_a.meta.net,
                ckpt_b.meta.net
            );
            (ckpt_b.load_model(&device.device)?, b.display().to_string())
        }
        None => (a.flipped(), "flip".to_string()),
    };
    let (splits, info) = open_checkpoint_data(&ckpt_a, None, &p.data, !p.json.json)?;
    let cfg = MergeConfig {
        method: p.method,
        stats_images: p.stats_images,
        stats_augmented: !p.no_stats_aug,
        eval_images: p.test.test_subset,
        batch_size: p.batch,
        seed: p.seed,
        ..MergeConfig::default()
    };
    Ok(Pair { a, partner, ckpt_a, partner_name, splits, info, device, cfg })
}

fn cmd_align(args: AlignArgs) -> Result<()> {
    let p = &args.pair;
    let pair = load_pair(p)?;
    let alignment = mergex::align(&pair.a, &pair.partner, &pair.cfg, &pair.splits, &pair.device.device, !p.json.json)?;
    let equiv = if p.flip { Some(mergex::equivariance_report(&pair.a, &alignment)?) } else { None };
    let names: Vec<String> = pair.a.structure().spaces.iter().map(|s| s.name.clone()).collect();
    let report = AlignReport::new(p.a.clone(), pair.partner_name.clone(), pair.device.description.clone(), &names, &alignment, equiv.as_deref());
    if let Some(out) = &p.out {
        let aligned = permute_model(&pair.partner, &alignment.perms)?;
        let meta = match &p.b {
            Some(b) => Checkpoint::open(b)?.meta,
            None => pair.ckpt_a.meta.clone(),
        };
        Checkpoint::create(&out.join("aligned"), meta)?.save_model(&aligned)?;
        report.table().write(out, "align", &pair.provenance())?;
    }
    emit(&report, p.json)
}

fn cmd_merge(args: MergeArgs) -> Result<()> {
    let p = &args.pair;
    let mut pair = load_pair(p)?;
    pair.cfg.repair = args.repair;
    pair.cfg.alphas = args.alphas.clone();
    pair.cfg.variance_ratios = !args.no_variance_ratios;
    let (partner, kind) = if p.flip { (mergex::Partner::Flip, MergeKind::Gcnn) } else { (mergex::Partner::Twin(&pair.partner), MergeKind::Ordinary) };
    let outcome = mergex::merge_experiment(&pair.a, partner, &pair.cfg, &pair.splits, &pair.device.device, !p.json.json)?;
    let report = MergeReport::new(p.a.clone(), pair.partner_name.clone(), kind, pair.device.description.clone(), &outcome);
    if let Some(out) = &p.out {
        report.table().write(out, "merge", &pair.provenance())?;
    }
    emit(&report, p.json)
}

fn cmd_study(c: StudyCommand) -> Result<()> {
    use relu_symmetries::experiments::study::{self, report::StudyReport, run::is_trained};
    match c {
        StudyCommand::Plan { dirs, json } => emit(&study::StudyPlan::new(&dirs.design.spec(), &dirs.runs(), &dirs.results()), json),
        StudyCommand::Train { dirs, data, nets, stop_after, device } => {
            let (spec, runs) = (dirs.design.spec(), dirs.runs());
            for n in &nets {
                if spec.net(n).is_none() {
                    anyhow::bail!("no net named {n} in the study (see `relusym study plan`)");
                }
            }
            let (splits, info) = open_data(&data, true)?;
            let device = device.device.resolve();
            for net in spec.nets() {
                if (!nets.is_empty() && !nets.contains(&net.name)) || is_trained(&runs.join(&net.name), &net) {
                    continue;
                }
                eprintln!("training {} ({:?}) on {}", net.name, net.variant, device.description);
                let s = study::train_net(&net, &runs, &splits, info.clone(), &device, stop_after, true).with_context(|| format!("training {}", net.name))?;
                eprintln!("{}: test accuracy {:.4}, flip agreement {:.4}, {:.1} min", net.name, s.test.accuracy, s.test.flip_agreement, s.wall_s / 60.0);
            }
            Ok(())
        }
        StudyCommand::Measure { dirs, data, only, jobs, limit, device } => {
            let (spec, runs, results) = (dirs.design.spec(), dirs.runs(), dirs.results());
            let mut job_nets = Vec::new();
            for stem in &jobs {
                let job = spec.merge_job(stem).with_context(|| format!("no measurement job {stem} in the study (see `relusym study jobs --all`)"))?;
                job_nets.extend(job.nets().into_iter().map(str::to_string));
            }
            let (splits, info) = open_data(&data, true)?;
            let device = device.device.resolve();
            // Flip invariance on training images of every trained net (cheap; one file per net);
            // with --job, of the job's nets only.
            for net in spec.nets() {
                let path = results.join("nets").join(format!("{}.json", net.name));
                if path.exists() || !is_trained(&runs.join(&net.name), &net) || (!jobs.is_empty() && !job_nets.contains(&net.name)) {
                    continue;
                }
                let inv = study::train_set_invariance(&net, &runs, &splits, &device)?;
                relu_symmetries::provenance::write_atomic(&path, serde_json::to_string_pretty(&inv)?.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!(
                    "{}: on training images flip agreement {:.4}, relative logit change {:.3}",
                    net.name, inv.metrics.flip_agreement, inv.metrics.relative_logit_change
                );
            }
            let mut ran = 0usize;
            for job in spec.merge_jobs() {
                let path = results.join("pairs").join(job.file_name());
                if path.exists() || (!only.is_empty() && !only.iter().any(|o| job.file_name().contains(o.as_str()))) {
                    continue;
                }
                if !jobs.is_empty() && !jobs.contains(&job.file_stem()) {
                    continue;
                }
                if limit.is_some_and(|l| ran >= l) {
                    break;
                }
                match study::run_merge_job(&spec, &job, &runs, &splits, &info.name, &device, true) {
                    Ok(r) => {
                        r.write(&path)?;
                        ran += 1;
                        let mid = |rep| r.outcome(rep).and_then(|o| o.barriers.midpoint_accuracy).map_or("-".into(), |v| format!("{:.2}", 100.0 * v));
                        eprintln!(
                            "{}: midpoint accuracy barrier {} (none) / {} (repair), {:.0} s",
                            job.file_name(),
                            mid(RepairMode::None),
                            mid(RepairMode::Repair),
                            r.outcomes.iter().map(|o| o.seconds.total).fold(0.0, f64::max)
                        );
                    }
                    Err(study::StudyError::Missing { path }) if jobs.is_empty() => {
                        eprintln!("{}: skipped, {} not trained yet", job.file_name(), path.display())
                    }
                    Err(e) => return Err(e).with_context(|| format!("measuring {}", job.file_name())),
                }
            }
            eprintln!("{ran} jobs measured");
            Ok(())
        }
        StudyCommand::Jobs { dirs, format, all } => {
            let (spec, runs, results) = (dirs.design.spec(), dirs.runs(), dirs.results());
            use relu_symmetries::experiments::study::jobs::{SlurmOptions, load_jobs, render, select};
            let jobs = load_jobs(&spec, &runs, &results)?;
            say(render(format, &select(&jobs, all), &SlurmOptions::default()).trim_end())
        }
        StudyCommand::Report { dirs, out, json } => {
            let (spec, runs, results) = (dirs.design.spec(), dirs.runs(), dirs.results());
            let out = out.unwrap_or_else(|| dirs.design.book().into());
            let report = StudyReport::build(&spec, &runs, &results)?;
            let files = study::report::write_report(&report, &runs, &results, &out)?;
            if json.json { say(&serde_json::to_string(&report)?) } else { say(&files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n")) }
        }
    }
}

fn cmd_theory(a: TheoryArgs) -> Result<()> {
    let report = relu_symmetries::theory::try_theory_report(a.seed)?;
    if let Some(dir) = &a.out {
        let sections = report.sections();
        for section in &sections {
            let path = dir.join(format!("{}.txt", section.stem));
            relu_symmetries::provenance::write_atomic(&path, format!("{section}\n").as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!("wrote {} sections to {}", sections.len(), dir.display());
    }
    emit(&report, a.json)
}

fn cmd_mlp(a: MlpArgs) -> Result<()> {
    use relu_symmetries::experiments::mlp_conjecture::{MlpConjectureConfig, MlpConjectureReport, TABLE_NAME, mlp_conjecture};
    let report = match &a.from {
        Some(dir) => MlpConjectureReport::read(dir)?,
        None => {
            let config = MlpConjectureConfig { seeds: a.seeds.clone(), steps: a.steps, weight_decay: a.weight_decay, ..MlpConjectureConfig::default() };
            let t = std::time::Instant::now();
            let rows = mlp_conjecture(&config)?;
            MlpConjectureReport { config, rows, seconds: Some(t.elapsed().as_secs_f64()) }
        }
    };
    if let Some(out) = &a.out {
        report.table().write(out, TABLE_NAME, &json!({ "config": report.config, "git_revision": git_revision(), "device": "flex (CPU)" }))?;
    }
    if let Some(dir) = &a.markdown {
        let files = report.write_markdown(dir).with_context(|| format!("writing Markdown tables into {}", dir.display()))?;
        eprintln!("wrote {} tables to {}", files.len(), dir.display());
    }
    emit(&report, a.json)
}

fn cmd_resnet_flip(a: ResnetFlipArgs) -> Result<()> {
    use relu_symmetries::experiments::resnet_flip::{FlipProbeConfig, flip_probe};
    let device = a.device.device.resolve();
    let cfg = FlipProbeConfig { images: a.images, seed: a.seed, ..FlipProbeConfig::default() };
    let probe = flip_probe(&cfg, &device.device, &device.description)?;
    if let Some(out) = &a.out {
        probe.table().write(
            out,
            "resnet-flip",
            &serde_json::json!({ "device": probe.device, "git_revision": probe.git_revision, "images": a.images, "seed": a.seed }),
        )?;
        let path = out.join("resnet-flip.json");
        relu_symmetries::provenance::write_atomic(&path, serde_json::to_string_pretty(&probe)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    emit(&probe, a.json)
}

fn cmd_imagenet(a: ImagenetArgs) -> Result<()> {
    use relu_symmetries::data::Preprocess;
    use relu_symmetries::experiments::imagenet::{ImagenetConfig, run_imagenet};
    let device = a.device.device.resolve();
    let cfg = ImagenetConfig {
        stats_images: a.stats_images,
        val_images: a.val_images,
        batch_size: a.batch,
        preprocess: Preprocess { resize: a.resize, crop: a.crop },
        seed: a.seed,
        out: a.out.clone(),
        ..ImagenetConfig::new(a.weights.clone(), a.train.clone(), a.val.clone())
    };
    if !a.json.json {
        eprintln!("imagenet: {} on {}", a.weights.display(), device.description);
    }
    let report = run_imagenet(&cfg, &device, !a.json.json)?;
    if let Some(out) = &a.out {
        #[derive(Serialize)]
        struct Provenance<'a> {
            weights: &'a std::path::Path,
            device: &'a str,
            git_revision: &'a str,
            config: &'a ImagenetConfig,
        }
        let provenance = Provenance { weights: &a.weights, device: &report.device, git_revision: &report.git_revision, config: &report.config };
        report.table().write(out, "imagenet", &provenance)?;
        let path = out.join("imagenet.json");
        relu_symmetries::provenance::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    emit(&report, a.json)
}

fn cmd_export(a: ExportArgs) -> Result<()> {
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    let ckpt = Checkpoint::open(&a.checkpoint)?;
    let net = ckpt.load_model(&burn::tensor::Device::flex())?;
    let mut store = SafetensorsStore::from_file(&a.out)
        .overwrite(true)
        .metadata("relusym.net", serde_json::to_string(&ckpt.meta.net)?)
        .metadata("relusym.checkpoint", a.checkpoint.display().to_string())
        .metadata("relusym.git_revision", git_revision());
    match &net {
        Net::Vgg(v) => v.save_into(&mut store),
        Net::ResNet(r) => r.save_into(&mut store),
        Net::ResNet50(r) => r.save_into(&mut store),
    }
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.out.display()))?;
    eprintln!("wrote {} ({} tensors)", a.out.display(), net.to_params().len());
    Ok(())
}
