//! Running the study's jobs: training runs (resumable checkpoint directories) and measurement
//! jobs (one cached JSON file each).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BarrierKind, MergeJob, NetSpec, StudySpec};
use crate::data::{DatasetInfo, Splits};
use crate::device::ChosenDevice;
use crate::experiments::merge::{Alignment, MergeConfig, MergeOutcome, Partner, equivariance_report, merge_experiments};
use crate::merge::MergeError;
use crate::metrics::LayerEquivariance;
use crate::provenance::{git_revision, write_atomic};
use crate::train::{Checkpoint, TrainError, TrainOptions, TrainSummary, train};

/// Errors of the study's jobs.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// Training or loading a checkpoint failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Aligning or merging failed.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A net the job needs is not trained yet.
    #[error("{path}: not trained yet (run `relusym study train` first)")]
    Missing { path: PathBuf },
    /// A result file could not be read or written.
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

/// What one measurement job found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairResult {
    /// The job.
    pub job: MergeJob,
    /// The alignment of the partner to `job.a` (shared by every repair mode).
    pub alignment: Alignment,
    /// Per-layer equivariance of `job.a` (GCNN barrier only).
    pub equivariance: Option<Vec<LayerEquivariance>>,
    /// One merge curve per repair mode, in `job.repairs` order.
    pub outcomes: Vec<MergeOutcome>,
    /// The data.
    pub dataset: String,
    /// The device.
    pub device: String,
    /// Git revision of the code that measured it.
    pub git_revision: String,
}

impl PairResult {
    /// Read a result file.
    pub fn read(path: &Path) -> Result<Self, StudyError> {
        let text = std::fs::read_to_string(path).map_err(|e| StudyError::File { path: path.to_path_buf(), message: e.to_string() })?;
        serde_json::from_str(&text).map_err(|e| StudyError::File { path: path.to_path_buf(), message: format!("not a study result: {e}") })
    }

    /// Write it atomically.
    pub fn write(&self, path: &Path) -> Result<(), StudyError> {
        let text = serde_json::to_string_pretty(self).expect("plain data serialises");
        write_atomic(path, text.as_bytes()).map_err(|e| StudyError::File { path: path.to_path_buf(), message: e.to_string() })
    }

    /// The merge outcome of one repair mode.
    pub fn outcome(&self, repair: crate::merge::RepairMode) -> Option<&MergeOutcome> {
        self.outcomes.iter().find(|o| o.config.repair == repair)
    }
}

/// Flip invariance of a trained net on training images (un-augmented), next to the test-set
/// numbers its checkpoint already has: what the training objective saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSetInvariance {
    /// Run name.
    pub net: String,
    /// The metrics on a class-stratified sample of `metrics.images` training images (seed 0, no
    /// augmentation; [`crate::data::Dataset::evaluation_subset`]).
    pub metrics: crate::train::EvalMetrics,
    /// Git revision of the code that measured it.
    pub git_revision: String,
}

/// Training images used by [`train_set_invariance`].
pub const TRAIN_SET_IMAGES: usize = 10_000;

/// Evaluate the final weights of `net` (trained under `runs`) on a class-stratified sample of
/// [`TRAIN_SET_IMAGES`] training images, with their flips.
pub fn train_set_invariance(net: &NetSpec, runs: &Path, splits: &Splits, device: &ChosenDevice) -> Result<TrainSetInvariance, StudyError> {
    let dir = runs.join(&net.name);
    if !is_trained(&dir, net) {
        return Err(StudyError::Missing { path: dir });
    }
    let model = Checkpoint::open(&dir)?.load_model(&device.device)?;
    let images = splits.train.evaluation_subset(Some(TRAIN_SET_IMAGES));
    let loader = crate::batches::Loader::ordered(&images, 1000);
    let metrics = crate::train::evaluate_on(&model, &loader, &device.device, &indicatif::ProgressBar::hidden());
    Ok(TrainSetInvariance { net: net.name.clone(), metrics, git_revision: git_revision() })
}

/// Whether the run in `dir` has finished all its epochs.
pub fn is_trained(dir: &Path, net: &NetSpec) -> bool {
    let Ok(ck) = Checkpoint::open(dir) else { return false };
    ck.meta.train == net.train && ck.model_path().exists() && ck.metrics().is_ok_and(|m| m.last().is_some_and(|r| r.epoch == net.train.epochs))
}

/// `relusym study plan`: every net and measurement job of the study and whether it is done.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StudyPlan {
    /// The design.
    pub spec: StudySpec,
    /// Where the checkpoints live.
    pub runs: PathBuf,
    /// Where the results live.
    pub results: PathBuf,
    /// Each net, with whether it is trained.
    pub nets: Vec<(NetSpec, bool)>,
    /// Each measurement job, with whether its result file exists.
    pub jobs: Vec<(MergeJob, bool)>,
}

impl StudyPlan {
    /// The state of `spec` on disk.
    pub fn new(spec: &StudySpec, runs: &Path, results: &Path) -> Self {
        StudyPlan {
            spec: spec.clone(),
            runs: runs.to_path_buf(),
            results: results.to_path_buf(),
            nets: spec
                .nets()
                .into_iter()
                .map(|n| {
                    let done = is_trained(&runs.join(&n.name), &n);
                    (n, done)
                })
                .collect(),
            jobs: spec
                .merge_jobs()
                .into_iter()
                .map(|j| {
                    let done = results.join("pairs").join(j.file_name()).exists();
                    (j, done)
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for StudyPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = |done: bool| if done { "x" } else { " " };
        writeln!(f, "training runs ({}): {} of {} trained", self.runs.display(), self.nets.iter().filter(|n| n.1).count(), self.nets.len())?;
        for (n, done) in &self.nets {
            writeln!(f, "  [{}] {:<22} {}", mark(*done), n.name, n.variant.label())?;
        }
        writeln!(f, "measurement jobs ({}/pairs): {} of {} done", self.results.display(), self.jobs.iter().filter(|j| j.1).count(), self.jobs.len())?;
        for (j, done) in &self.jobs {
            writeln!(f, "  [{}] {}", mark(*done), j.file_name())?;
        }
        Ok(())
    }
}

/// Train (or resume) one net of the study into `runs/NAME`.
pub fn train_net(
    net: &NetSpec,
    runs: &Path,
    splits: &Splits,
    info: DatasetInfo,
    device: &ChosenDevice,
    stop_after: Option<usize>,
    progress: bool,
) -> Result<TrainSummary, StudyError> {
    let opts = TrainOptions { out: runs.join(&net.name), resume: true, progress, log_epochs: progress, stop_after, keep_epochs: net.keep_epochs.clone() };
    Ok(train(&net.train, splits, info, device, &opts)?)
}

/// Run one measurement job on nets trained under `runs`.
pub fn run_merge_job(
    spec: &StudySpec,
    job: &MergeJob,
    runs: &Path,
    splits: &Splits,
    dataset: &str,
    device: &ChosenDevice,
    show: bool,
) -> Result<PairResult, StudyError> {
    let load = |name: &str| -> Result<crate::nets::Net, StudyError> {
        let dir = runs.join(name);
        let net = spec.net(name).ok_or_else(|| StudyError::Missing { path: dir.clone() })?;
        if !is_trained(&dir, &net) {
            return Err(StudyError::Missing { path: dir });
        }
        Ok(Checkpoint::open(&dir)?.load_model_at(job.epoch, &device.device)?)
    };
    let a = load(&job.a)?;
    let twin = job.b.as_deref().map(load).transpose()?;
    let partner = match (&job.kind, &twin) {
        (BarrierKind::Gcnn, _) => Partner::Flip,
        (BarrierKind::Ordinary, Some(b)) => Partner::Twin(b),
        (BarrierKind::Ordinary, None) => {
            return Err(StudyError::Merge(MergeError::NotApplicable("an ordinary barrier needs a twin".into())));
        }
    };
    let cfg = MergeConfig { method: job.method, alphas: job.alphas.clone(), ..spec.merge.clone() };
    let outcomes = merge_experiments(&a, partner, &cfg, &job.repairs, splits, &device.device, show)?;
    let alignment = outcomes[0].alignment.clone();
    let equivariance = match job.kind {
        BarrierKind::Gcnn => Some(equivariance_report(&a, &alignment)?),
        BarrierKind::Ordinary => None,
    };
    Ok(PairResult {
        job: job.clone(),
        alignment,
        equivariance,
        outcomes,
        dataset: dataset.to_string(),
        device: device.description.clone(),
        git_revision: git_revision(),
    })
}
