//! The decisive study: do VGG11 nets *trained to be flip-invariant* merge with their own flipped
//! copy more easily (the GCNN barrier) than with an independently trained twin (the ordinary
//! barrier)?
//!
//! The design ([`StudySpec::decisive`]) is a matrix of training runs at one setting chosen by a
//! pilot (a setting where augmentation actually makes the nets flip-invariant), and a list of
//! measurement jobs over those runs:
//!
//! * **variants** ([`Variant`]): no flip augmentation, flip augmentation, flip augmentation plus
//!   the invariance loss, and the flip-GCNN by construction as the positive control;
//! * **seeds**: several per variant; every pair of seeds of a variant gives an ordinary barrier,
//!   every net a GCNN barrier;
//! * **emergence**: weights kept at several epochs of two flip-augmented nets, measured at each;
//! * **width**: flip-augmented nets at smaller widths.
//!
//! Every job is cached on disk: a training run is a checkpoint directory under
//! `runs/study/NAME` (resumable), a measurement is one JSON file under `results/study/pairs/`
//! ([`PairResult`]). `relusym study plan` lists the jobs and what is done, `relusym study train`
//! and `relusym study measure` run what is missing, `relusym study report` turns the results into
//! the book's tables and figures ([`report`]).
//!
//! The same machinery runs a second, smaller design ([`Design::Resnet`], [`StudySpec::resnet`]):
//! flip-augmented CIFAR ResNet-20s, whose GCNN and ordinary barriers answer the same question for
//! a residual network (`relusym study … --design resnet`, under `runs/resnet` and
//! `results/resnet`).

pub mod figures;
pub mod jobs;
pub mod report;
pub mod run;

use serde::{Deserialize, Serialize};

use super::merge::{MergeConfig, Method};
use crate::merge::RepairMode;
use crate::train::{ModelKind, TrainConfig};

pub use run::{PairResult, StudyError, StudyPlan, TrainSetInvariance, run_merge_job, train_net, train_set_invariance};

/// Which study design a command runs; each keeps its checkpoints, results and book tables in its
/// own folders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Design {
    /// VGG11-BN: every training variant, seeds, the GCNN control, emergence and width
    /// ([`StudySpec::decisive`]).
    #[default]
    Decisive,
    /// CIFAR ResNet-20, flip augmentation, two seeds ([`StudySpec::resnet`]).
    Resnet,
}

impl Design {
    /// The design itself.
    pub fn spec(self) -> StudySpec {
        match self {
            Design::Decisive => StudySpec::decisive(),
            Design::Resnet => StudySpec::resnet(),
        }
    }

    /// Its name on the command line (`--design NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Design::Decisive => "decisive",
            Design::Resnet => "resnet",
        }
    }

    /// The default folder of its checkpoints.
    pub fn runs(self) -> &'static str {
        match self {
            Design::Decisive => "runs/study",
            Design::Resnet => "runs/resnet",
        }
    }

    /// The default folder of its results.
    pub fn results(self) -> &'static str {
        match self {
            Design::Decisive => "results/study",
            Design::Resnet => "results/resnet",
        }
    }

    /// The default folder of its generated book tables and figures.
    pub fn book(self) -> &'static str {
        match self {
            Design::Decisive => "book/src/generated/study",
            Design::Resnet => "book/src/generated/resnet",
        }
    }
}

fn three_variants() -> Vec<Variant> {
    vec![Variant::NoFlip, Variant::Flip, Variant::FlipInv]
}

/// How a net of the study was trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Random crops only: nothing asks for flip invariance.
    NoFlip,
    /// Random crops and random horizontal flips.
    Flip,
    /// Flip augmentation plus the invariance loss λ·‖f(x) − f(hflip x)‖².
    FlipInv,
    /// The flip-equivariant GCNN VGG (layerwise equivariant by construction): the control.
    Gcnn,
}

impl Variant {
    /// Every variant, in table order.
    pub const ALL: [Variant; 4] = [Variant::NoFlip, Variant::Flip, Variant::FlipInv, Variant::Gcnn];

    /// Short name used in run names.
    pub fn name(self) -> &'static str {
        match self {
            Variant::NoFlip => "noflip",
            Variant::Flip => "flip",
            Variant::FlipInv => "inv",
            Variant::Gcnn => "gcnn",
        }
    }

    /// Label for tables and figures.
    pub fn label(self) -> &'static str {
        match self {
            Variant::NoFlip => "no flip aug.",
            Variant::Flip => "flip aug.",
            Variant::FlipInv => "flip aug. + inv. loss",
            Variant::Gcnn => "GCNN (by construction)",
        }
    }
}

/// Why a net is in the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A net of the main matrix (at the chosen setting).
    Matrix,
    /// A flip-augmented net at a smaller width (the width trend).
    Width,
    /// A setting tried in the pilot and not chosen.
    Pilot,
}

/// One training run of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetSpec {
    /// Run name: the checkpoint directory under the study's runs folder.
    pub name: String,
    /// Training variant.
    pub variant: Variant,
    /// Why it is in the study.
    pub role: Role,
    /// Its hyperparameters (seed included).
    pub train: TrainConfig,
    /// Epochs whose weights are kept for the emergence measurements.
    pub keep_epochs: Vec<usize>,
}

/// Which barrier a merge job measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BarrierKind {
    /// A net merged with its own aligned flipped copy.
    Gcnn,
    /// A net merged with an aligned independently trained twin.
    Ordinary,
}

/// Which part of the study a merge job belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// The headline matrix.
    Matrix,
    /// Kept weights of earlier epochs.
    Emergence,
    /// The width trend.
    Width,
}

/// One measurement: align, merge along an α grid with every repair mode, evaluate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeJob {
    /// Part of the study.
    pub group: Group,
    /// GCNN or ordinary barrier.
    pub kind: BarrierKind,
    /// The reference net (run name).
    pub a: String,
    /// The twin (ordinary barrier only).
    pub b: Option<String>,
    /// Kept epoch of both nets (`None`: the final weights).
    pub epoch: Option<usize>,
    /// Matching method.
    pub method: Method,
    /// α grid.
    pub alphas: Vec<f64>,
    /// Repair modes evaluated (each on the same alignment).
    pub repairs: Vec<RepairMode>,
}

impl MergeJob {
    /// The result file's name (unique per job).
    pub fn file_name(&self) -> String {
        let kind = match self.kind {
            BarrierKind::Gcnn => "gcnn",
            BarrierKind::Ordinary => "twin",
        };
        let b = self.b.as_ref().map_or(String::new(), |b| format!("--{b}"));
        let e = self.epoch.map_or(String::new(), |e| format!("@e{e}"));
        format!("{kind}-{}{b}{e}-{}.json", self.a, self.method.name())
    }
}

/// The whole design.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudySpec {
    /// Which design this is (its folders and its name on the command line).
    #[serde(default)]
    pub design: Design,
    /// The trained variants of the matrix (the GCNN control is [`StudySpec::gcnn_seeds`]).
    #[serde(default = "three_variants")]
    pub variants: Vec<Variant>,
    /// The chosen setting (flip augmentation on, no invariance loss; seed ignored).
    pub setting: TrainConfig,
    /// Invariance-loss weight λ of the [`Variant::FlipInv`] nets.
    pub invariance_weight: f64,
    /// Seeds of each trained variant.
    pub seeds: Vec<u64>,
    /// Seeds of the GCNN control.
    pub gcnn_seeds: Vec<u64>,
    /// Seeds of the flip-augmented nets whose weights are kept over training.
    pub emergence_seeds: Vec<u64>,
    /// The kept epochs.
    pub keep_epochs: Vec<usize>,
    /// Smaller widths of the width trend (flip augmentation).
    pub widths: Vec<f64>,
    /// Seeds at each smaller width.
    pub width_seeds: Vec<u64>,
    /// Settings tried in the pilot besides the chosen one: (name, config).
    pub pilot: Vec<(String, TrainConfig)>,
    /// Alignment and merge settings (method and repair are set per job).
    pub merge: MergeConfig,
    /// Matching methods measured in the matrix on the full α grid.
    pub methods: Vec<Method>,
    /// α grid of the warm-started weight-matching jobs of the matrix (their point is the
    /// objective reached; the midpoint barrier comes along).
    pub warm_alphas: Vec<f64>,
    /// Matching methods measured for the emergence and width jobs.
    pub secondary_methods: Vec<Method>,
    /// α grid of the emergence and width jobs.
    pub secondary_alphas: Vec<f64>,
}

/// `0, 0.1, …, 1`.
pub fn alpha_grid(points: usize) -> Vec<f64> {
    let n = points.max(2) - 1;
    (0..=n).map(|i| (i as f64 / n as f64 * 1e6).round() / 1e6).collect()
}

fn width_tag(w: f64) -> String {
    format!("w{}", w.to_string().replace('.', "p"))
}

impl StudySpec {
    /// The design this repository runs (the setting was chosen by the pilot; see the book's
    /// training chapter for why).
    pub fn decisive() -> Self {
        let setting = TrainConfig {
            model: ModelKind::Vgg11Bn,
            width: 0.25,
            epochs: 18,
            batch_size: 128,
            lr: 0.1,
            warmup_epochs: 1.0,
            eval_every: 6,
            ..TrainConfig::default()
        };
        let mut spec = StudySpec {
            design: Design::Decisive,
            variants: three_variants(),
            setting,
            invariance_weight: 1.0,
            seeds: vec![0, 1, 2],
            gcnn_seeds: vec![0],
            emergence_seeds: vec![0, 1],
            keep_epochs: vec![1, 2, 4, 8, 16],
            widths: vec![0.125, 0.0625],
            width_seeds: vec![0, 1],
            pilot: Vec::new(),
            merge: MergeConfig { alphas: alpha_grid(11), stats_images: 5000, ..MergeConfig::default() },
            methods: vec![Method::Activation, Method::Weight],
            warm_alphas: vec![0.0, 0.5, 1.0],
            secondary_methods: vec![Method::Activation, Method::Weight],
            secondary_alphas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
        };
        // A later pilot point, tried after the matrix had been measured, when a faster build
        // (the dependencies' debug assertions off) on an AVX-512 machine had doubled the
        // training throughput: twice the width in the same 45 minutes (12 epochs instead of 18).
        // It asks whether condition (a) is within the budget at all; the matrix stays at the
        // chosen setting.
        for variant in [Variant::Flip, Variant::NoFlip] {
            let train = TrainConfig { epochs: 12, ..spec.config(variant, 0.5, 0) };
            spec.pilot.push((format!("pilot-w0p5-{}-s0", variant.name()), train));
        }
        // That point missed (a) by less than half a point, so the last lever the issue names,
        // label smoothing (α = 0.1, the usual value), at the same point: the flip-augmented net
        // for (a), its un-augmented twin for (b).
        for variant in [Variant::Flip, Variant::NoFlip] {
            let train = TrainConfig { epochs: 12, label_smoothing: 0.1, ..spec.config(variant, 0.5, 0) };
            spec.pilot.push((format!("pilot-w0p5-{}-ls0p1-s0", variant.name()), train));
        }
        // The flip-augmented net met (a) by 0.02 points on seed 0, while the matrix's seeds spread
        // by ±0.27 points: a second seed tells whether the point is past the frontier or on it.
        let train = TrainConfig { epochs: 12, label_smoothing: 0.1, ..spec.config(Variant::Flip, 0.5, 1) };
        spec.pilot.push(("pilot-w0p5-flip-ls0p1-s1".into(), train));
        spec
    }

    /// The ResNet design: CIFAR ResNet-20 at width ×0.5 (8-16-32 channels, BatchNorm), flip
    /// augmentation, two seeds, trained with the decisive study's recipe (SGD, lr 0.1, one warm-up
    /// epoch, batch 128) for 6 epochs — what fits the 45-minute budget per net on two CPU cores
    /// (one epoch costs about 2.4 times the VGG setting's). Each net's GCNN barrier and the
    /// pair's ordinary barrier, both matching methods, no repair, BN reset and REPAIR, on a
    /// five-point α grid.
    pub fn resnet() -> Self {
        let setting = TrainConfig {
            model: ModelKind::Resnet20,
            width: 0.5,
            epochs: 6,
            batch_size: 128,
            lr: 0.1,
            warmup_epochs: 1.0,
            eval_every: 3,
            ..TrainConfig::default()
        };
        StudySpec {
            design: Design::Resnet,
            variants: vec![Variant::Flip],
            setting,
            invariance_weight: 1.0,
            seeds: vec![0, 1],
            gcnn_seeds: Vec::new(),
            emergence_seeds: Vec::new(),
            keep_epochs: Vec::new(),
            widths: Vec::new(),
            width_seeds: Vec::new(),
            pilot: Vec::new(),
            merge: MergeConfig { alphas: alpha_grid(5), stats_images: 5000, ..MergeConfig::default() },
            methods: vec![Method::Activation, Method::Weight],
            warm_alphas: Vec::new(),
            secondary_methods: Vec::new(),
            secondary_alphas: Vec::new(),
        }
    }

    /// The variants a table or figure shows: the trained ones and the GCNN control if it has
    /// seeds, in [`Variant::ALL`] order.
    pub fn shown_variants(&self) -> Vec<Variant> {
        Variant::ALL.into_iter().filter(|v| if *v == Variant::Gcnn { !self.gcnn_seeds.is_empty() } else { self.variants.contains(v) }).collect()
    }

    /// The configuration of a net of `variant` with `seed` at `width`.
    pub fn config(&self, variant: Variant, width: f64, seed: u64) -> TrainConfig {
        let mut c = TrainConfig { width, seed, ..self.setting.clone() };
        match variant {
            Variant::NoFlip => c.flip_augmentation = false,
            Variant::Flip => {}
            Variant::FlipInv => c.invariance_loss = self.invariance_weight,
            Variant::Gcnn => {
                c.model = if self.setting.model.batch_norm() { ModelKind::GcnnBn } else { ModelKind::Gcnn };
            }
        }
        c
    }

    /// Repair modes that apply to the setting's model.
    pub fn repairs(&self) -> Vec<RepairMode> {
        if self.setting.model.batch_norm() {
            vec![RepairMode::None, RepairMode::BnReset, RepairMode::Repair]
        } else {
            vec![RepairMode::None, RepairMode::Repair]
        }
    }

    /// Every training run, matrix first.
    pub fn nets(&self) -> Vec<NetSpec> {
        let mut out = Vec::new();
        let w = self.setting.width;
        for &variant in self.variants.iter().filter(|v| **v != Variant::Gcnn) {
            for &seed in &self.seeds {
                let keep = if variant == Variant::Flip && self.emergence_seeds.contains(&seed) { self.keep_epochs.clone() } else { Vec::new() };
                out.push(NetSpec {
                    name: format!("{}-s{seed}", variant.name()),
                    variant,
                    role: Role::Matrix,
                    train: self.config(variant, w, seed),
                    keep_epochs: keep,
                });
            }
        }
        for &seed in &self.gcnn_seeds {
            out.push(NetSpec {
                name: format!("gcnn-s{seed}"),
                variant: Variant::Gcnn,
                role: Role::Matrix,
                train: self.config(Variant::Gcnn, w, seed),
                keep_epochs: Vec::new(),
            });
        }
        for &width in &self.widths {
            for &seed in &self.width_seeds {
                out.push(NetSpec {
                    name: format!("{}-flip-s{seed}", width_tag(width)),
                    variant: Variant::Flip,
                    role: Role::Width,
                    train: self.config(Variant::Flip, width, seed),
                    keep_epochs: Vec::new(),
                });
            }
        }
        for (name, train) in &self.pilot {
            let variant = if train.model.is_gcnn() {
                Variant::Gcnn
            } else if !train.flip_augmentation {
                Variant::NoFlip
            } else if train.invariance_loss > 0.0 {
                Variant::FlipInv
            } else {
                Variant::Flip
            };
            out.push(NetSpec { name: name.clone(), variant, role: Role::Pilot, train: train.clone(), keep_epochs: Vec::new() });
        }
        out
    }

    /// The net named `name`.
    pub fn net(&self, name: &str) -> Option<NetSpec> {
        self.nets().into_iter().find(|n| n.name == name)
    }

    /// Every measurement job: the matrix (GCNN barrier of every net, ordinary barrier of every
    /// pair of seeds of a variant, every method), then emergence, then width.
    pub fn merge_jobs(&self) -> Vec<MergeJob> {
        let nets = self.nets();
        let repairs = self.repairs();
        let mut jobs = Vec::new();
        let job = |group, kind, a: &str, b: Option<&str>, epoch, method, alphas: &Vec<f64>| MergeJob {
            group,
            kind,
            a: a.to_string(),
            b: b.map(str::to_string),
            epoch,
            method,
            alphas: alphas.clone(),
            repairs: repairs.clone(),
        };
        let matrix: Vec<&NetSpec> = nets.iter().filter(|n| n.role == Role::Matrix).collect();
        let mut methods: Vec<(Method, &Vec<f64>)> = self.methods.iter().map(|&m| (m, &self.merge.alphas)).collect();
        if !self.warm_alphas.is_empty() {
            methods.push((Method::WeightWarm, &self.warm_alphas));
        }
        for (method, alphas) in methods {
            for n in &matrix {
                jobs.push(job(Group::Matrix, BarrierKind::Gcnn, &n.name, None, None, method, alphas));
            }
            for variant in Variant::ALL {
                let of: Vec<&&NetSpec> = matrix.iter().filter(|n| n.variant == variant).collect();
                for (i, a) in of.iter().enumerate() {
                    for b in &of[i + 1..] {
                        jobs.push(job(Group::Matrix, BarrierKind::Ordinary, &a.name, Some(&b.name), None, method, alphas));
                    }
                }
            }
        }
        let emergence: Vec<String> = self.emergence_seeds.iter().map(|s| format!("{}-s{s}", Variant::Flip.name())).collect();
        for &method in &self.secondary_methods {
            for &epoch in &self.keep_epochs {
                for a in &emergence {
                    jobs.push(job(Group::Emergence, BarrierKind::Gcnn, a, None, Some(epoch), method, &self.secondary_alphas));
                }
                if let [a, b, ..] = emergence.as_slice() {
                    jobs.push(job(Group::Emergence, BarrierKind::Ordinary, a, Some(b), Some(epoch), method, &self.secondary_alphas));
                }
            }
            for &width in &self.widths {
                let of: Vec<String> = self.width_seeds.iter().map(|s| format!("{}-flip-s{s}", width_tag(width))).collect();
                for a in &of {
                    jobs.push(job(Group::Width, BarrierKind::Gcnn, a, None, None, method, &self.merge.alphas));
                }
                if let [a, b, ..] = of.as_slice() {
                    jobs.push(job(Group::Width, BarrierKind::Ordinary, a, Some(b), None, method, &self.merge.alphas));
                }
            }
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_net_and_job_has_a_unique_name() {
        let spec = StudySpec::decisive();
        let nets = spec.nets();
        let mut names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), nets.len());
        let jobs = spec.merge_jobs();
        let mut files: Vec<String> = jobs.iter().map(MergeJob::file_name).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), jobs.len());
        for j in &jobs {
            assert!(spec.net(&j.a).is_some() && j.b.as_ref().is_none_or(|b| spec.net(b).is_some()), "{j:?} names an unknown net");
            assert_eq!(j.kind == BarrierKind::Ordinary, j.b.is_some());
        }
    }

    #[test]
    fn variants_differ_from_the_setting_only_where_they_should() {
        let spec = StudySpec::decisive();
        for &seed in &spec.seeds {
            let flip = spec.config(Variant::Flip, spec.setting.width, seed);
            assert_eq!(TrainConfig { seed: spec.setting.seed, ..flip.clone() }, spec.setting);
            let noflip = spec.config(Variant::NoFlip, spec.setting.width, seed);
            assert_eq!(TrainConfig { flip_augmentation: true, ..noflip }, flip);
            let inv = spec.config(Variant::FlipInv, spec.setting.width, seed);
            assert_eq!(TrainConfig { invariance_loss: 0.0, ..inv }, flip);
            assert!(spec.config(Variant::Gcnn, spec.setting.width, seed).model.is_gcnn());
        }
    }

    #[test]
    fn each_variant_with_several_seeds_gets_every_pair_of_seeds_per_method() {
        let spec = StudySpec::decisive();
        let jobs = spec.merge_jobs();
        let k = spec.seeds.len();
        for method in &spec.methods {
            let twins = jobs.iter().filter(|j| j.group == Group::Matrix && j.kind == BarrierKind::Ordinary && j.method == *method).count();
            assert_eq!(twins, 3 * k * (k - 1) / 2);
            let gcnn = jobs.iter().filter(|j| j.group == Group::Matrix && j.kind == BarrierKind::Gcnn && j.method == *method).count();
            assert_eq!(gcnn, 3 * k + spec.gcnn_seeds.len());
        }
    }

    #[test]
    fn the_resnet_design_trains_only_flip_augmented_resnets_and_measures_each_pair_and_net() {
        let spec = StudySpec::resnet();
        let nets = spec.nets();
        assert_eq!(nets.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["flip-s0", "flip-s1"]);
        assert!(nets.iter().all(|n| n.train.model == ModelKind::Resnet20 && n.train.flip_augmentation && n.train.invariance_loss == 0.0));
        let jobs = spec.merge_jobs();
        // per method: two GCNN barriers and one ordinary barrier; no warm start, emergence or width
        assert_eq!(jobs.len(), 3 * spec.methods.len());
        assert!(jobs.iter().all(|j| j.group == Group::Matrix && j.method != Method::WeightWarm && j.alphas.contains(&0.5)));
        assert_eq!(spec.shown_variants(), [Variant::Flip]);
        assert_eq!(StudySpec::decisive().shown_variants(), Variant::ALL);
        for d in [Design::Decisive, Design::Resnet] {
            assert_eq!(d.spec().design, d);
        }
    }

    #[test]
    fn alpha_grid_has_both_endpoints_and_the_midpoint() {
        let g = alpha_grid(11);
        assert_eq!(g.len(), 11);
        assert_eq!((g[0], g[5], g[10]), (0.0, 0.5, 1.0));
    }
}
