//! `relusym`: the command-line front end of relu-symmetries.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use relu_symmetries::data::{self, DatasetKind};
use relu_symmetries::device::DeviceChoice;
use relu_symmetries::experiments::merge::{self as mergex, MergeConfig, Method};
use relu_symmetries::merge::{RepairMode, permute_model};
use relu_symmetries::nets::Vgg;
use relu_symmetries::tables::{Table, Values};
use relu_symmetries::train::{self, Checkpoint, ModelKind, Scale, TrainConfig, TrainOptions};
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
    /// Export a checkpoint's weights as JSON ({name: {shape, data}}, burn layouts) for other tools.
    Export(ExportArgs),
    /// The decisive study: plan, train, measure and report its matrix of nets and merges.
    #[command(subcommand)]
    Study(StudyCommand),
}

#[derive(Args, Clone)]
struct StudyDirs {
    /// Folder of the study's checkpoint directories.
    #[arg(long, default_value = "runs/study")]
    runs: PathBuf,
    /// Folder of the study's results.
    #[arg(long, default_value = "results/study")]
    results: PathBuf,
}

#[derive(Subcommand)]
enum StudyCommand {
    /// List every training run and measurement job, and which are done.
    Plan {
        #[command(flatten)]
        dirs: StudyDirs,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
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
        /// Compute device.
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceChoice,
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
        /// Run at most this many jobs.
        #[arg(long)]
        limit: Option<usize>,
        /// Compute device.
        #[arg(long, value_enum, default_value = "auto")]
        device: DeviceChoice,
    },
    /// Build the study's tables and figures from what is trained and measured.
    Report {
        #[command(flatten)]
        dirs: StudyDirs,
        /// Output folder of the book's generated tables and figures.
        #[arg(long, default_value = "book/src/generated/study")]
        out: PathBuf,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
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
struct ExportArgs {
    /// Checkpoint directory.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Output JSON file.
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
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
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
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_subset: Option<usize>,
    /// Batch size of every pass.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seed (statistics stream, weight-matching sweep order).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Dataset location (default: the checkpoint's).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Cache of decoded datasets.
    #[arg(long, default_value = "data/cache")]
    cache: PathBuf,
    /// Compute device.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
    /// Output directory for tables (and, for align, the aligned checkpoint).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
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
}

#[derive(Args)]
struct TheoryArgs {
    /// Seed of the random constructions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Dataset.
    #[arg(long, value_parser = DatasetKind::parse, default_value = "cifar10")]
    dataset: DatasetKind,
    /// Where the dataset lives (folder or archive). Defaults: CIFAR-10 `data/cifar10` or
    /// `$CIFAR10_ARCHIVE`; Fashion-MNIST `/usr/share/datasets/fashion-mnist/`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Cache of decoded datasets.
    #[arg(long, default_value = "data/cache")]
    cache: PathBuf,
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
    /// Weight λ of the invariance loss λ·mean‖f(x) − f(hflip x)‖² (without a value: 0.1, chosen
    /// by a sweep, see `RECOMMENDED_INVARIANCE_WEIGHT`).
    #[arg(long, num_args = 0..=1, default_missing_value = "0.1")]
    invariance_loss: Option<f64>,
    /// Use the first N images of a seeded shuffle of the training set.
    #[arg(long)]
    subset: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_subset: Option<usize>,
    /// Evaluate every K epochs.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Size preset, applied before the explicit flags.
    #[arg(long, value_enum)]
    scale: Option<Scale>,
    /// Compute device.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
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
    /// Print one JSON object with the result on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Checkpoint directory written by `relusym train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Dataset (default: the checkpoint's).
    #[arg(long, value_parser = DatasetKind::parse)]
    dataset: Option<DatasetKind>,
    /// Dataset location (default: the checkpoint's).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Cache of decoded datasets.
    #[arg(long, default_value = "data/cache")]
    cache: PathBuf,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_subset: Option<usize>,
    /// Compute device.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
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
    /// Compute device.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> Result<()> {
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
        Command::Study(c) => cmd_study(c),
        Command::Figures(a) => {
            for f in relu_symmetries::experiments::report::build_report(&a.runs, &a.results, &a.out)? {
                println!("{}", f.display());
            }
            Ok(())
        }
    }
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
    set!(invariance_loss, a.invariance_loss);
    set!(eval_every, a.eval_every);
    if a.subset.is_some() {
        cfg.subset = a.subset;
    }
    if a.test_subset.is_some() {
        cfg.test_subset = a.test_subset;
    }
    if a.no_flip_aug {
        cfg.flip_augmentation = false;
    }
    cfg.validate()?;
    let device = a.device.resolve();
    let data_path = match (a.data.dataset, &a.data.data) {
        (DatasetKind::Cifar10, None) if data::cifar10_source(None).is_err() => Some(download_cifar10()?),
        _ => a.data.data.clone(),
    };
    let (splits, info) = data::open(a.data.dataset, data_path.as_deref(), &a.data.cache, !a.json)?;
    if !a.json {
        eprintln!(
            "training {:?} width {} on {} ({} train / {} test) for {} epochs on {}",
            cfg.model, cfg.width, info.name, cfg.subset.unwrap_or(splits.train.len).min(splits.train.len),
            splits.test.len, cfg.epochs, device.description
        );
    }
    let opts = TrainOptions { out: a.out.clone(), resume: a.resume, progress: !a.json, log_epochs: !a.json, stop_after: a.stop_after, keep_epochs: a.keep_epochs.clone() };
    let summary = train::train(&cfg, &splits, info, &device, &opts)
        .with_context(|| format!("training into {}", a.out.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&json!({
            "command": "train",
            "out": summary.out,
            "device": summary.device,
            "epochs": summary.epochs,
            "test_accuracy": summary.test.accuracy,
            "test_loss": summary.test.loss,
            "flip_agreement": summary.test.flip_agreement,
            "relative_logit_change": summary.test.relative_logit_change,
            "wall_s": summary.wall_s,
            "resumed_from_epoch": summary.resumed_from_epoch,
        }))?);
    } else {
        println!(
            "done: test accuracy {:.4}, loss {:.4}, flip agreement {:.4} ({:.0} s, {})",
            summary.test.accuracy, summary.test.loss, summary.test.flip_agreement, summary.wall_s, summary.device
        );
    }
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let ckpt = Checkpoint::open(&a.checkpoint)?;
    let kind = match a.dataset {
        Some(k) => k,
        None => DatasetKind::parse(&ckpt.meta.dataset.kind)?,
    };
    let path = a.data.clone().or_else(|| ckpt.meta.dataset.path.clone());
    let device = a.device.resolve();
    let (splits, info) = data::open(kind, path.as_deref(), &a.cache, !a.json)?;
    let shape = [splits.test.channels, splits.test.height, splits.test.width];
    anyhow::ensure!(
        shape == ckpt.meta.dataset.shape && info.classes.len() == ckpt.meta.dataset.classes.len(),
        "{}: trained on images {:?} with {} classes, but {} has {:?} with {}",
        a.checkpoint.display(), ckpt.meta.dataset.shape, ckpt.meta.dataset.classes.len(), info.name, shape, info.classes.len()
    );
    let model = ckpt.load_model(&device.device)?;
    let n = a.test_subset.unwrap_or(splits.test.len).min(splits.test.len);
    let pb = if a.json { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(n as u64) };
    let t = std::time::Instant::now();
    let m = train::evaluate(&model, &splits.test, ckpt.meta.train.eval_batch_size, Some(n), &device.device, &pb);
    pb.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&json!({
            "command": "eval",
            "checkpoint": a.checkpoint,
            "dataset": info.name,
            "device": device.description,
            "images": m.images,
            "test_accuracy": m.accuracy,
            "test_loss": m.loss,
            "flip_agreement": m.flip_agreement,
            "relative_logit_change": m.relative_logit_change,
            "wall_s": t.elapsed().as_secs_f64(),
        }))?);
    } else {
        println!("checkpoint   {}", a.checkpoint.display());
        println!("dataset      {} ({} test images)", info.name, m.images);
        println!("device       {}", device.description);
        println!("accuracy     {:.4}", m.accuracy);
        println!("loss         {:.4}", m.loss);
        println!("flip agree   {:.4}", m.flip_agreement);
        println!("rel. change  {:.4}", m.relative_logit_change);
    }
    Ok(())
}

fn cmd_bench(a: BenchArgs) -> Result<()> {
    let device = a.device.resolve();
    let mut rows = Vec::new();
    for &w in &a.widths {
        if !a.json {
            eprintln!("benchmarking width {w} (batch {}, {} timed steps) on {}", a.batch, a.steps, device.description);
        }
        let row = relu_symmetries::bench::bench_width(&device, w, a.batch_norm, a.batch, a.warmup, a.steps)?;
        if !a.json {
            println!("width {:<5} train {:>8.1} img/s   inference {:>8.1} img/s   ({} params)", w, row.train_images_per_s, row.infer_images_per_s, row.params);
        }
        rows.push(row);
    }
    if a.json {
        println!("{}", serde_json::to_string(&json!({ "command": "bench", "device": device.description, "rows": rows }))?);
    }
    Ok(())
}

/// The two networks of an align/merge command, the data, and the device.
struct Pair {
    a: Vgg,
    partner: Vgg,
    ckpt_a: Checkpoint,
    partner_name: String,
    splits: data::Splits,
    info: data::DatasetInfo,
    device: relu_symmetries::device::ChosenDevice,
    cfg: MergeConfig,
}

fn load_pair(p: &PairArgs) -> Result<Pair> {
    let ckpt_a = Checkpoint::open(&p.a)?;
    let device = p.device.resolve();
    let a = ckpt_a.load_model(&device.device)?;
    let (partner, partner_name) = match &p.b {
        Some(b) => {
            let ckpt_b = Checkpoint::open(b)?;
            anyhow::ensure!(
                ckpt_b.meta.net == ckpt_a.meta.net,
                "{} and {} have different architectures ({:?} vs {:?})",
                p.a.display(), b.display(), ckpt_a.meta.net, ckpt_b.meta.net
            );
            (ckpt_b.load_model(&device.device)?, b.display().to_string())
        }
        None => (a.flipped(), "flip".to_string()),
    };
    let kind = DatasetKind::parse(&ckpt_a.meta.dataset.kind)?;
    let path = p.data.clone().or_else(|| ckpt_a.meta.dataset.path.clone());
    let (splits, info) = data::open(kind, path.as_deref(), &p.cache, !p.json)?;
    let cfg = MergeConfig {
        method: p.method,
        stats_images: p.stats_images,
        stats_augmented: !p.no_stats_aug,
        eval_images: p.test_subset,
        batch_size: p.batch,
        seed: p.seed,
        ..MergeConfig::default()
    };
    Ok(Pair { a, partner, ckpt_a, partner_name, splits, info, device, cfg })
}

fn provenance(pair: &Pair, extra: serde_json::Value) -> serde_json::Value {
    json!({
        "a": pair.ckpt_a.dir,
        "partner": pair.partner_name,
        "dataset": pair.info.name,
        "device": pair.device.description,
        "git_revision": relu_symmetries::provenance::git_revision(),
        "config": pair.cfg,
        "extra": extra,
    })
}

fn cmd_align(args: AlignArgs) -> Result<()> {
    let p = &args.pair;
    let pair = load_pair(p)?;
    let alignment = mergex::align(&pair.a, &pair.partner, &pair.cfg, &pair.splits, &pair.device.device, !p.json)?;
    let equiv = if p.flip { Some(mergex::equivariance_report(&pair.a, &alignment)?) } else { None };
    let names: Vec<String> = pair.a.structure().spaces.iter().map(|s| s.name.clone()).collect();
    let layers: Vec<serde_json::Value> = alignment
        .perms
        .iter()
        .enumerate()
        .map(|(i, perm)| {
            let c = perm.cycle_counts();
            json!({
                "space": names[i],
                "channels": perm.len(),
                "perm": perm.as_slice(),
                "fixed_points": c.fixed,
                "two_cycles": c.two_cycles,
                "longer_cycles": c.longer,
                "in_longer_cycles": c.in_longer,
                "involution": perm.is_involution(),
                "moved": perm.moved(),
                "matched_corr": alignment.matched_corr.as_ref().map(|m| m[i]),
                "equivariance_error": equiv.as_ref().map(|e| e[i].relative_error),
                "unaligned_error": equiv.as_ref().map(|e| e[i].unaligned_error),
                "off_centre_error": equiv.as_ref().map(|e| e[i].off_centre_error),
                "unaligned_off_centre_error": equiv.as_ref().map(|e| e[i].unaligned_off_centre_error),
                "dead": equiv.as_ref().and_then(|e| e[i].dead),
                "moved_share": equiv.as_ref().and_then(|e| e[i].moved_share),
            })
        })
        .collect();
    if let Some(out) = &p.out {
        let aligned = permute_model(&pair.partner, &alignment.perms)?;
        let dir = out.join("aligned");
        let mut meta = pair.ckpt_a.meta.clone();
        if let Some(b) = &p.b {
            meta = Checkpoint::open(b)?.meta;
        }
        let ck = Checkpoint::create(&dir, meta)?;
        ck.save_model(&aligned)?;
        let mut t = Table::new()
            .col("space", "", Values::Str(names.clone()))
            .col("channels", "", Values::I64(alignment.perms.iter().map(|q| q.len() as i64).collect()))
            .col("fixed_points", "channels", Values::I64(alignment.perms.iter().map(|q| q.cycle_counts().fixed as i64).collect()))
            .col("two_cycles", "pairs", Values::I64(alignment.perms.iter().map(|q| q.cycle_counts().two_cycles as i64).collect()))
            .col("longer_cycles", "cycles", Values::I64(alignment.perms.iter().map(|q| q.cycle_counts().longer as i64).collect()))
            .col("involution", "", Values::Bool(alignment.perms.iter().map(|q| q.is_involution()).collect()));
        if let Some(m) = &alignment.matched_corr {
            t = t.col("matched_corr", "Pearson r", Values::F64(m.clone()));
        }
        if let Some(e) = &equiv {
            t = t.col("equivariance_error", "relative Frobenius", Values::F64(e.iter().take(names.len()).map(|l| l.relative_error).collect()));
            t = t.col("unaligned_error", "relative Frobenius", Values::F64(e.iter().take(names.len()).map(|l| l.unaligned_error).collect()));
        }
        t.write(out, "align", &provenance(&pair, json!({ "method": p.method })))?;
    }
    if p.json {
        println!("{}", serde_json::to_string(&json!({
            "command": "align",
            "a": p.a,
            "partner": pair.partner_name,
            "method": p.method,
            "device": pair.device.description,
            "images": alignment.images,
            "augmented": alignment.augmented,
            "seconds": alignment.seconds,
            "objective_per_sweep": alignment.objective_per_sweep,
            "layers": layers,
            "head_equivariance_error": equiv.as_ref().and_then(|e| e.last()).map(|l| l.relative_error),
        }))?);
    } else {
        println!("aligned {} to {} by {:?} matching in {:.1} s ({})", pair.partner_name, p.a.display(), p.method, alignment.seconds, pair.device.description);
        println!("{:<8} {:>8} {:>6} {:>7} {:>7} {:>6} {:>9} {:>9}", "space", "channels", "fixed", "2-cyc", "longer", "invol", "corr", "equiv.err");
        for (i, l) in layers.iter().enumerate() {
            println!(
                "{:<8} {:>8} {:>6} {:>7} {:>7} {:>6} {:>9} {:>9}",
                names[i], l["channels"], l["fixed_points"], l["two_cycles"], l["longer_cycles"], l["involution"],
                l["matched_corr"].as_f64().map_or("-".into(), |v| format!("{v:.3}")),
                l["equivariance_error"].as_f64().map_or("-".into(), |v| format!("{v:.3}")),
            );
        }
        if let Some(e) = equiv.as_ref().and_then(|e| e.last()) {
            println!("classifier equivariance error {:.3} (unaligned {:.3})", e.relative_error, e.unaligned_error);
        }
    }
    Ok(())
}

fn cmd_merge(args: MergeArgs) -> Result<()> {
    let p = &args.pair;
    let mut pair = load_pair(p)?;
    pair.cfg.repair = args.repair;
    pair.cfg.alphas = args.alphas.clone();
    let partner = if p.flip { mergex::Partner::Flip } else { mergex::Partner::Twin(&pair.partner) };
    let outcome = mergex::merge_experiment(&pair.a, partner, &pair.cfg, &pair.splits, &pair.device.device, !p.json)?;
    let kind = if p.flip { "gcnn" } else { "ordinary" };
    if let Some(out) = &p.out {
        let n = outcome.curve.len();
        let t = Table::new()
            .col("barrier", "", Values::Str(vec![kind.into(); n]))
            .col("method", "", Values::Str(vec![format!("{:?}", p.method).to_lowercase(); n]))
            .col("repair", "", Values::Str(vec![format!("{:?}", args.repair).to_lowercase(); n]))
            .col("alpha", "", Values::F64(outcome.curve.iter().map(|c| c.alpha).collect()))
            .col("test_accuracy", "fraction", Values::F64(outcome.curve.iter().map(|c| c.accuracy).collect()))
            .col("test_loss", "nats", Values::F64(outcome.curve.iter().map(|c| c.loss).collect()));
        t.write(out, "merge", &provenance(&pair, json!({ "barriers": outcome.barriers, "seconds": outcome.seconds })))?;
    }
    if p.json {
        println!("{}", serde_json::to_string(&json!({
            "command": "merge",
            "a": p.a,
            "partner": pair.partner_name,
            "barrier": kind,
            "method": p.method,
            "repair": args.repair,
            "device": pair.device.description,
            "endpoints": [outcome.curve.first().and_then(|c| c.full.as_ref()), outcome.curve.last().and_then(|c| c.full.as_ref())],
            "curve": outcome.curve,
            "barriers": outcome.barriers,
            "unaligned_midpoint_accuracy": outcome.unaligned_midpoint_accuracy,
            "variance_ratio_before": outcome.variance_ratio_before,
            "variance_ratio_after": outcome.variance_ratio_after,
            "alignment": { "perms_involutions": outcome.alignment.perms.iter().map(|q| q.is_involution()).collect::<Vec<_>>(),
                           "matched_corr": outcome.alignment.matched_corr, "objective_per_sweep": outcome.alignment.objective_per_sweep },
            "seconds": outcome.seconds,
        }))?);
    } else {
        println!("{kind} barrier: {} vs {} ({:?} matching, repair {:?}, {})", p.a.display(), pair.partner_name, p.method, args.repair, pair.device.description);
        println!("{:>6} {:>9} {:>9}", "alpha", "accuracy", "loss");
        for c in &outcome.curve {
            println!("{:>6.3} {:>9.4} {:>9.4}", c.alpha, c.accuracy, c.loss);
        }
        let b = &outcome.barriers;
        println!(
            "midpoint barrier: accuracy {} loss {}; sup-barrier: loss {:.4} accuracy {:.4}",
            b.midpoint_accuracy.map_or("-".into(), |v| format!("{v:.4}")),
            b.midpoint_loss.map_or("-".into(), |v| format!("{v:.4}")),
            b.loss_barrier, b.accuracy_barrier
        );
        if let Some(u) = outcome.unaligned_midpoint_accuracy {
            println!("unaligned, unrepaired midpoint accuracy {u:.4}");
        }
        if !outcome.variance_ratio_before.is_empty() {
            let f = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(" ");
            println!("variance ratio merged/endpoints at α=½, per layer: before {} | after {}", f(&outcome.variance_ratio_before), f(&outcome.variance_ratio_after));
        }
        println!("time: align {:.1}s, stats {:.1}s, merge+repair {:.1}s, evaluate {:.1}s, total {:.1}s",
            outcome.seconds.align, outcome.seconds.stats, outcome.seconds.merge_repair, outcome.seconds.evaluate, outcome.seconds.total);
    }
    Ok(())
}

fn cmd_study(c: StudyCommand) -> Result<()> {
    use relu_symmetries::experiments::study::{self, StudySpec, report::StudyReport, run::is_trained};
    let spec = StudySpec::decisive();
    let open_data = |data: &DataArgs| -> Result<(data::Splits, data::DatasetInfo)> {
        let data_path = match (data.dataset, &data.data) {
            (DatasetKind::Cifar10, None) if data::cifar10_source(None).is_err() => Some(download_cifar10()?),
            _ => data.data.clone(),
        };
        Ok(data::open(data.dataset, data_path.as_deref(), &data.cache, true)?)
    };
    match c {
        StudyCommand::Plan { dirs, json } => {
            let nets: Vec<serde_json::Value> = spec
                .nets()
                .iter()
                .map(|n| json!({ "name": n.name, "variant": n.variant, "role": n.role, "trained": is_trained(&dirs.runs.join(&n.name), n), "keep_epochs": n.keep_epochs }))
                .collect();
            let jobs: Vec<serde_json::Value> = spec
                .merge_jobs()
                .iter()
                .map(|j| json!({ "file": j.file_name(), "group": j.group, "done": dirs.results.join("pairs").join(j.file_name()).exists() }))
                .collect();
            if json {
                println!("{}", serde_json::to_string(&json!({ "command": "study plan", "spec": spec, "nets": nets, "jobs": jobs }))?);
            } else {
                println!("training runs ({}):", dirs.runs.display());
                for n in &nets {
                    println!("  [{}] {:<22} {}", if n["trained"].as_bool() == Some(true) { "x" } else { " " }, n["name"].as_str().unwrap_or(""), n["variant"]);
                }
                let done = jobs.iter().filter(|j| j["done"].as_bool() == Some(true)).count();
                println!("measurement jobs ({}/pairs): {done} of {} done", dirs.results.display(), jobs.len());
                for j in &jobs {
                    println!("  [{}] {}", if j["done"].as_bool() == Some(true) { "x" } else { " " }, j["file"].as_str().unwrap_or(""));
                }
            }
            Ok(())
        }
        StudyCommand::Train { dirs, data, nets, stop_after, device } => {
            for n in &nets {
                if spec.net(n).is_none() {
                    anyhow::bail!("no net named {n} in the study (see `relusym study plan`)");
                }
            }
            let (splits, info) = open_data(&data)?;
            let device = device.resolve();
            for net in spec.nets() {
                if (!nets.is_empty() && !nets.contains(&net.name)) || is_trained(&dirs.runs.join(&net.name), &net) {
                    continue;
                }
                eprintln!("training {} ({:?}) on {}", net.name, net.variant, device.description);
                let s = study::train_net(&net, &dirs.runs, &splits, info.clone(), &device, stop_after, true)
                    .with_context(|| format!("training {}", net.name))?;
                eprintln!("{}: test accuracy {:.4}, flip agreement {:.4}, {:.1} min", net.name, s.test.accuracy, s.test.flip_agreement, s.wall_s / 60.0);
            }
            Ok(())
        }
        StudyCommand::Measure { dirs, data, only, limit, device } => {
            let (splits, info) = open_data(&data)?;
            let device = device.resolve();
            // Flip invariance on training images of every trained net (cheap; one file per net).
            for net in spec.nets() {
                let path = dirs.results.join("nets").join(format!("{}.json", net.name));
                if path.exists() || !is_trained(&dirs.runs.join(&net.name), &net) {
                    continue;
                }
                let inv = study::train_set_invariance(&net, &dirs.runs, &splits, &device)?;
                relu_symmetries::provenance::write_atomic(&path, serde_json::to_string_pretty(&inv)?.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("{}: on training images flip agreement {:.4}, relative logit change {:.3}", net.name, inv.metrics.flip_agreement, inv.metrics.relative_logit_change);
            }
            let mut ran = 0usize;
            for job in spec.merge_jobs() {
                let path = dirs.results.join("pairs").join(job.file_name());
                if path.exists() || (!only.is_empty() && !only.iter().any(|o| job.file_name().contains(o.as_str()))) {
                    continue;
                }
                if limit.is_some_and(|l| ran >= l) {
                    break;
                }
                match study::run_merge_job(&spec, &job, &dirs.runs, &splits, &info.name, &device, true) {
                    Ok(r) => {
                        r.write(&path)?;
                        ran += 1;
                        let mid = |rep| r.outcome(rep).and_then(|o| o.barriers.midpoint_accuracy).map_or("-".into(), |v| format!("{:.2}", 100.0 * v));
                        eprintln!(
                            "{}: midpoint accuracy barrier {} (none) / {} (repair), {:.0} s",
                            job.file_name(), mid(RepairMode::None), mid(RepairMode::Repair), r.outcomes.iter().map(|o| o.seconds.total).fold(0.0, f64::max)
                        );
                    }
                    Err(study::StudyError::Missing { path }) => eprintln!("{}: skipped, {} not trained yet", job.file_name(), path.display()),
                    Err(e) => return Err(e).with_context(|| format!("measuring {}", job.file_name())),
                }
            }
            eprintln!("{ran} jobs measured");
            Ok(())
        }
        StudyCommand::Report { dirs, out, json } => {
            let report = StudyReport::build(&spec, &dirs.runs, &dirs.results)?;
            let files = study::report::write_report(&report, &dirs.runs, &dirs.results, &out)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for f in files {
                    println!("{}", f.display());
                }
            }
            Ok(())
        }
    }
}

fn cmd_theory(a: TheoryArgs) -> Result<()> {
    let report = relu_symmetries::theory::try_theory_report(a.seed)?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn cmd_mlp(a: MlpArgs) -> Result<()> {
    use relu_symmetries::experiments::mlp_conjecture::{MlpConjectureConfig, mlp_conjecture};
    let cfg = MlpConjectureConfig { seeds: a.seeds.clone(), steps: a.steps, weight_decay: a.weight_decay, ..MlpConjectureConfig::default() };
    let t = std::time::Instant::now();
    let rows = mlp_conjecture(&cfg)?;
    if let Some(out) = &a.out {
        let layers = rows.first().map_or(0, |r| r.layer_errors.len());
        let mut t = Table::new()
            .col("variant", "", Values::Str(rows.iter().map(|r| r.variant.clone()).collect()))
            .col("seed", "", Values::I64(rows.iter().map(|r| r.seed as i64).collect()))
            .col("test_mse", "squared target units", Values::F64(rows.iter().map(|r| r.test_mse).collect()))
            .col("invariance_error", "fraction of target std", Values::F64(rows.iter().map(|r| r.invariance_error).collect()))
            .col("involutions", "", Values::Bool(rows.iter().map(|r| r.involutions).collect()));
        for l in 0..layers {
            t = t.col(&format!("layer{l}_error"), "relative Frobenius", Values::F64(rows.iter().map(|r| r.layer_errors[l]).collect()));
            t = t.col(&format!("layer{l}_unaligned"), "relative Frobenius", Values::F64(rows.iter().map(|r| r.unaligned_errors[l]).collect()));
        }
        t.write(out, "mlp_conjecture", &json!({ "config": cfg, "git_revision": relu_symmetries::provenance::git_revision(), "device": "flex (CPU)" }))?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&json!({ "command": "mlp-conjecture", "config": cfg, "rows": rows, "seconds": t.elapsed().as_secs_f64() }))?);
    } else {
        println!("{:<7} {:>4} {:>9} {:>10} {:>24} {:>24} {:>6}", "variant", "seed", "test mse", "invariance", "layer errors (aligned)", "layer errors (P = I)", "invol");
        for r in &rows {
            let f = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ");
            println!("{:<7} {:>4} {:>9.4} {:>10.4} {:>24} {:>24} {:>6}", r.variant, r.seed, r.test_mse, r.invariance_error, f(&r.layer_errors), f(&r.unaligned_errors), r.involutions);
        }
    }
    Ok(())
}

fn cmd_export(a: ExportArgs) -> Result<()> {
    let ckpt = Checkpoint::open(&a.checkpoint)?;
    let net = ckpt.load_model(&burn::tensor::Device::flex())?;
    let params: serde_json::Map<String, serde_json::Value> = net
        .to_params()
        .into_iter()
        .map(|(k, v)| (k, json!({ "shape": v.shape(), "data": v.iter().copied().collect::<Vec<f32>>() })))
        .collect();
    let text = serde_json::to_string(&json!({ "net": ckpt.meta.net, "params": params }))?;
    relu_symmetries::provenance::write_atomic(&a.out, text.as_bytes()).with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("wrote {} ({} tensors)", a.out.display(), net.to_params().len());
    Ok(())
}

/// Download the official CIFAR-10 binaries into `data/` once (only when no local copy is found).
fn download_cifar10() -> Result<PathBuf> {
    let target = PathBuf::from("data/cifar-10-binary.tar.gz");
    if target.exists() {
        return Ok(target);
    }
    std::fs::create_dir_all("data")?;
    let url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
    eprintln!("CIFAR-10 not found locally (no --data, data/cifar10 or $CIFAR10_ARCHIVE): downloading {url}");
    let tmp = PathBuf::from("data/.cifar-10-binary.tar.gz.part");
    let status = std::process::Command::new("curl")
        .args(["-fL", "--retry", "3", "-o"])
        .arg(&tmp)
        .arg(url)
        .status()
        .context("running curl to download CIFAR-10")?;
    anyhow::ensure!(status.success(), "downloading {url} failed ({status}); set CIFAR10_ARCHIVE to a local copy");
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}
