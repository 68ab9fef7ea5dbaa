//! The study as a list of independent jobs, for `just`, a plain shell, or an existing scheduler
//! (Slurm): `relusym study jobs`.
//!
//! The list is derived from the design ([`StudySpec::nets`] and [`StudySpec::merge_jobs`]), never
//! written by hand, and has two kinds of job:
//!
//! * a **training job** per net, `relusym study train --net NAME --device cpu` (resumable: a killed
//!   run continues from its last epoch when started again);
//! * a **measurement job** per merge job, `relusym study measure --job FILE_STEM --device cpu`
//!   (cached: one result file under `results/study/pairs/`).
//!
//! **The dependency rule.** A training job depends on nothing. A measurement job depends on the
//! training jobs of the nets it reads: `job.a`, and `job.b` for an ordinary barrier. A job on
//! weights kept at an earlier epoch reads the same net's checkpoint directory and needs that run
//! finished (the kept weights are written as it passes those epochs), so it depends on the same
//! training job. No measurement depends on another measurement, so the graph has depth two.
//!
//! A job is **done** by the checks `relusym study plan` uses ([`StudyPlan::new`]): a trained net,
//! an existing result file. By default the renderers get the jobs not done; a dependency on a job
//! that is done (and so left out) is satisfied.
//!
//! Each job carries its **cost** in wall-clock seconds, read from what is committed: a training run's
//! last `elapsed_s` in `metrics.jsonl`, a measurement's timings in its result file
//! ([`measured_seconds`]). A job that has not run gets the mean of the measured jobs most like it,
//! marked as an estimate ([`CostBasis::Estimate`]).
//!
//! The renderers are pure functions of the list: [`render_shell`] (a bash script in dependency
//! order), [`render_slurm`] (a `submit.sh` that `sbatch`es every job with `--dependency=afterok`),
//! [`render_json`] (the typed list).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::run::{PairResult, StudyError, StudyPlan};
use super::{Design, Group, MergeJob, NetSpec, StudySpec};
use crate::experiments::merge::Method;
use crate::train::Checkpoint;

/// The device every job command asks for: the committed costs were measured on the CPU.
pub const JOB_DEVICE: &str = "cpu";

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Train (or resume) one net.
    Train,
    /// Measure one merge job.
    Measure,
}

/// Where a job's cost comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "basis")]
pub enum CostBasis {
    /// The job ran and recorded its time.
    Measured,
    /// The mean of `from` measured jobs like this one (`like` says which).
    Estimate {
        /// How many measured jobs the mean is over.
        from: usize,
        /// Which jobs, in words ("flip nets at width 0.25", "activation measurements").
        like: String,
    },
}

/// A job's wall-clock cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobCost {
    /// Seconds.
    pub seconds: f64,
    /// Measured or estimated.
    #[serde(flatten)]
    pub basis: CostBasis,
}

impl JobCost {
    /// Whether the cost is an estimate rather than this job's own measured time.
    pub fn is_estimate(&self) -> bool {
        matches!(self.basis, CostBasis::Estimate { .. })
    }
}

impl std::fmt::Display for JobCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", duration(self.seconds))?;
        match &self.basis {
            CostBasis::Measured => write!(f, " (measured)"),
            CostBasis::Estimate { from, like } => write!(f, " (estimate: mean over {like}, {from} measured)"),
        }
    }
}

/// One job of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique id: `train-NAME` or `measure-FILE_STEM`.
    pub id: String,
    /// Training or measurement.
    pub kind: JobKind,
    /// The command's arguments after `relusym`.
    pub command: Vec<String>,
    /// Ids of the jobs that must finish first (see the module's dependency rule).
    pub depends_on: Vec<String>,
    /// Whether it is done already (a trained net, an existing result file).
    pub done: bool,
    /// Its cost, when it ran or jobs like it did.
    pub cost: Option<JobCost>,
}

/// The output formats of `relusym study jobs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum JobFormat {
    /// A bash script running the jobs one after the other in dependency order.
    Shell,
    /// A Slurm submission script (`submit.sh`) with one `sbatch` per job.
    Slurm,
    /// The typed job list as JSON.
    Json,
}

/// Settings of the Slurm submission script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlurmOptions {
    /// Default `--cpus-per-task` (the script's `CPUS_PER_TASK` overrides it).
    pub cpus_per_task: usize,
    /// `--time` is the job's cost times this factor, rounded up to whole minutes.
    pub time_factor: f64,
    /// …and at least this many minutes (start-up, data loading).
    pub min_minutes: u64,
    /// `--time` of a job whose cost is unknown.
    pub unknown_minutes: u64,
}

impl Default for SlurmOptions {
    /// Two CPUs (what the committed costs were measured with), twice the cost, at least 30 minutes,
    /// a day when unknown.
    fn default() -> Self {
        SlurmOptions { cpus_per_task: 2, time_factor: 2.0, min_minutes: 30, unknown_minutes: 24 * 60 }
    }
}

impl MergeJob {
    /// The result file's name without `.json`: what `relusym study measure --job` takes.
    pub fn file_stem(&self) -> String {
        let name = self.file_name();
        name.strip_suffix(".json").unwrap_or(&name).to_string()
    }

    /// The nets it reads: `a`, then `b` for an ordinary barrier.
    pub fn nets(&self) -> Vec<&str> {
        std::iter::once(self.a.as_str()).chain(self.b.as_deref()).collect()
    }
}

impl StudySpec {
    /// The merge job whose result file stem is exactly `stem`.
    pub fn merge_job(&self, stem: &str) -> Option<MergeJob> {
        self.merge_jobs().into_iter().find(|j| j.file_stem() == stem)
    }
}

/// The id of the training job of `net`.
pub fn train_id(net: &str) -> String {
    format!("train-{net}")
}

/// The id of the measurement job of `job`.
pub fn measure_id(job: &MergeJob) -> String {
    format!("measure-{}", job.file_stem())
}

/// A measurement's wall-clock seconds from its result: the shared part (alignment, endpoint
/// statistics and evaluation) once, plus each repair mode's own interpolation, repair and
/// evaluation. Each [`MergeOutcome`](crate::experiments::merge::MergeOutcome)'s `seconds.total`
/// counts the shared part, so the sum of the totals less the alignment and statistics of every
/// outcome after the first; the endpoint evaluation cannot be told apart from a mode's and stays
/// counted once per mode (a slight over-estimate). `None` without outcomes.
pub fn measured_seconds(result: &PairResult) -> Option<f64> {
    let first = result.outcomes.first()?;
    let shared = first.seconds.align + first.seconds.stats;
    let total: f64 = result.outcomes.iter().map(|o| o.seconds.total).sum();
    Some(total - shared * (result.outcomes.len() - 1) as f64)
}

/// Measured costs of the jobs that ran, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasuredCosts {
    /// Training seconds per net name.
    pub train: BTreeMap<String, f64>,
    /// Measurement seconds per result file stem.
    pub measure: BTreeMap<String, f64>,
}

impl MeasuredCosts {
    /// Read the costs of what `plan` says is done: each trained net's last `elapsed_s`, each
    /// existing result file's [`measured_seconds`].
    pub fn read(plan: &StudyPlan) -> Result<Self, StudyError> {
        let mut costs = MeasuredCosts::default();
        for (net, _) in plan.nets.iter().filter(|(_, done)| *done) {
            let metrics = Checkpoint::open(&plan.runs.join(&net.name))?.metrics()?;
            if let Some(last) = metrics.last() {
                costs.train.insert(net.name.clone(), last.elapsed_s);
            }
        }
        for (job, _) in plan.jobs.iter().filter(|(_, done)| *done) {
            let result = PairResult::read(&plan.results.join("pairs").join(job.file_name()))?;
            if let Some(s) = measured_seconds(&result) {
                costs.measure.insert(job.file_stem(), s);
            }
        }
        Ok(costs)
    }
}

/// Which measured jobs an estimate may use, and how they are described.
type Level<'a, K> = (&'a dyn Fn(&K) -> bool, String);

/// The mean of the measured costs whose key matches, tried from the most to the least specific
/// description; `None` when nothing measured matches any.
fn estimate<K>(measured: &[(K, f64)], levels: &[Level<'_, K>]) -> Option<JobCost> {
    levels.iter().find_map(|(matches, like)| {
        let of: Vec<f64> = measured.iter().filter(|(k, _)| matches(k)).map(|(_, s)| *s).collect();
        (!of.is_empty())
            .then(|| JobCost { seconds: of.iter().sum::<f64>() / of.len() as f64, basis: CostBasis::Estimate { from: of.len(), like: like.clone() } })
    })
}

fn group_name(g: Group) -> &'static str {
    match g {
        Group::Matrix => "matrix",
        Group::Emergence => "emergence",
        Group::Width => "width",
    }
}

fn train_cost(net: &NetSpec, nets: &[NetSpec], costs: &MeasuredCosts) -> Option<JobCost> {
    if let Some(&seconds) = costs.train.get(&net.name) {
        return Some(JobCost { seconds, basis: CostBasis::Measured });
    }
    let measured: Vec<(&NetSpec, f64)> = nets.iter().filter_map(|n| costs.train.get(&n.name).map(|&s| (n, s))).collect();
    let (v, w) = (net.variant, net.train.width);
    let same_width = |n: &&NetSpec| n.variant == v && n.train.width == w;
    let same_variant = |n: &&NetSpec| n.variant == v;
    let any = |_: &&NetSpec| true;
    estimate(
        &measured,
        &[(&same_width, format!("{} nets at width {w}", v.name())), (&same_variant, format!("{} nets", v.name())), (&any, "training runs".to_string())],
    )
}

fn measure_cost(job: &MergeJob, jobs: &[MergeJob], costs: &MeasuredCosts) -> Option<JobCost> {
    if let Some(&seconds) = costs.measure.get(&job.file_stem()) {
        return Some(JobCost { seconds, basis: CostBasis::Measured });
    }
    let measured: Vec<(&MergeJob, f64)> = jobs.iter().filter_map(|j| costs.measure.get(&j.file_stem()).map(|&s| (j, s))).collect();
    let (g, m): (Group, Method) = (job.group, job.method);
    let same_group = |j: &&MergeJob| j.group == g && j.method == m;
    let same_method = |j: &&MergeJob| j.method == m;
    let any = |_: &&MergeJob| true;
    estimate(
        &measured,
        &[
            (&same_group, format!("{} measurements of the {}", m.name(), group_name(g))),
            (&same_method, format!("{} measurements", m.name())),
            (&any, "measurements".to_string()),
        ],
    )
}

/// `--design` unless it is the default design, `--runs` and `--results` when they differ from the
/// design's defaults.
fn dir_args(plan: &StudyPlan) -> Vec<String> {
    let design = plan.spec.design;
    let mut out = Vec::new();
    if design != Design::Decisive {
        out.extend(["--design".to_string(), design.name().to_string()]);
    }
    if plan.runs != Path::new(design.runs()) {
        out.extend(["--runs".to_string(), plan.runs.display().to_string()]);
    }
    if plan.results != Path::new(design.results()) {
        out.extend(["--results".to_string(), plan.results.display().to_string()]);
    }
    out
}

/// Every job of `plan`: the training jobs in [`StudySpec::nets`] order, then the measurement jobs
/// in [`StudySpec::merge_jobs`] order, with their dependencies, state and costs.
pub fn study_jobs(plan: &StudyPlan, costs: &MeasuredCosts) -> Vec<Job> {
    let dirs = dir_args(plan);
    let nets: Vec<NetSpec> = plan.nets.iter().map(|(n, _)| n.clone()).collect();
    let merges: Vec<MergeJob> = plan.jobs.iter().map(|(j, _)| j.clone()).collect();
    let command = |args: &[&str]| args.iter().map(|s| s.to_string()).chain(dirs.iter().cloned()).collect::<Vec<_>>();
    let train = plan.nets.iter().map(|(net, done)| Job {
        id: train_id(&net.name),
        kind: JobKind::Train,
        command: command(&["study", "train", "--net", net.name.as_str(), "--device", JOB_DEVICE]),
        depends_on: Vec::new(),
        done: *done,
        cost: train_cost(net, &nets, costs),
    });
    let measure = plan.jobs.iter().map(|(job, done)| Job {
        id: measure_id(job),
        kind: JobKind::Measure,
        command: command(&["study", "measure", "--job", job.file_stem().as_str(), "--device", JOB_DEVICE]),
        depends_on: job.nets().into_iter().map(train_id).collect(),
        done: *done,
        cost: measure_cost(job, &merges, costs),
    });
    train.chain(measure).collect()
}

/// The jobs of `spec` as they stand under `runs` and `results` (state and committed costs).
pub fn load_jobs(spec: &StudySpec, runs: &Path, results: &Path) -> Result<Vec<Job>, StudyError> {
    let plan = StudyPlan::new(spec, runs, results);
    let costs = MeasuredCosts::read(&plan)?;
    Ok(study_jobs(&plan, &costs))
}

/// The jobs to render: those not done, or every job with `all`.
pub fn select(jobs: &[Job], all: bool) -> Vec<Job> {
    jobs.iter().filter(|j| all || !j.done).cloned().collect()
}

/// `jobs` in an order where every dependency in the list comes before its dependents (stable:
/// otherwise the list's order). Dependencies on jobs not in the list count as satisfied; jobs on
/// a dependency cycle (which the study cannot produce) come last, in list order.
pub fn dependency_order(jobs: &[Job]) -> Vec<&Job> {
    let ids: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut out: Vec<&Job> = Vec::with_capacity(jobs.len());
    loop {
        let before = out.len();
        for j in jobs {
            if !placed.contains(j.id.as_str()) && j.depends_on.iter().all(|d| !ids.contains(d.as_str()) || placed.contains(d.as_str())) {
                placed.insert(&j.id);
                out.push(j);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out.extend(jobs.iter().filter(|j| !placed.contains(j.id.as_str())));
    out
}

/// `12 s`, `48.1 min`, `2.2 h`.
fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.0} s")
    } else if seconds < 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn cost_text(job: &Job) -> String {
    let cost = job.cost.as_ref().map_or_else(|| "cost unknown".to_string(), JobCost::to_string);
    if job.done { format!("{cost}; done") } else { cost }
}

/// The summary line of a script: how many jobs and their total cost.
fn totals(jobs: &[Job]) -> String {
    let seconds: f64 = jobs.iter().filter_map(|j| j.cost.as_ref()).map(|c| c.seconds).sum();
    let measured = jobs.iter().filter(|j| j.cost.as_ref().is_some_and(|c| !c.is_estimate())).count();
    let estimated = jobs.iter().filter(|j| j.cost.as_ref().is_some_and(JobCost::is_estimate)).count();
    let unknown = jobs.iter().filter(|j| j.cost.is_none()).count();
    let train = jobs.iter().filter(|j| j.kind == JobKind::Train).count();
    let mut s = format!(
        "{} jobs ({train} training, {} measurement), about {} of compute in all ({measured} costs measured, {estimated} estimated",
        jobs.len(),
        jobs.len() - train,
        if measured + estimated == 0 { "an unknown amount".to_string() } else { duration(seconds) }
    );
    if unknown > 0 {
        let _ = write!(s, ", {unknown} unknown");
    }
    s.push(')');
    s
}

/// `arg` as one shell word (single-quoted unless it is plainly safe).
fn shell_word(arg: &str) -> String {
    let safe = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./@:=+,%".contains(c));
    if safe { arg.to_string() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

/// `$RELUSYM` and the job's arguments as shell words (`$RELUSYM` unquoted, so that it may be a
/// command with arguments such as `cargo run --release --bin relusym --`).
fn command_line(job: &Job) -> String {
    std::iter::once("$RELUSYM".to_string()).chain(job.command.iter().map(|a| shell_word(a))).collect::<Vec<_>>().join(" ")
}

/// A bash script running `jobs` one after the other in [`dependency_order`], each command on its
/// own line after a comment giving its id and cost. It stops at the first failure; running it
/// again continues (training is resumable, measurements are cached).
pub fn render_shell(jobs: &[Job]) -> String {
    let mut s = String::new();
    s.push_str("#!/usr/bin/env bash\n");
    s.push_str("# The study's jobs in dependency order (training first), generated by `relusym study jobs --format shell`.\n");
    s.push_str("# Run it from the repository root. It stops at the first failure; running it again continues\n");
    s.push_str("# (training resumes from the last epoch, finished measurements are cached).\n");
    s.push_str("# RELUSYM: the relusym command (default `relusym`; e.g. RELUSYM=target/release/relusym).\n");
    let _ = writeln!(s, "# {}.", totals(jobs));
    s.push_str("set -euo pipefail\n");
    s.push_str("RELUSYM=${RELUSYM:-relusym}\n");
    for job in dependency_order(jobs) {
        let _ = writeln!(s, "\n# {}: {}", job.id, cost_text(job));
        let _ = writeln!(s, "{}", command_line(job));
    }
    s
}

/// A shell variable name for each job id (letters, digits and `_`; unique).
fn variable_names(jobs: &[Job]) -> BTreeMap<&str, String> {
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for j in jobs {
        let base: String = j.id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let mut name = base.clone();
        let mut k = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        out.insert(j.id.as_str(), name);
    }
    out
}

/// `--time` of a job: its cost times the factor, rounded up to whole minutes, at least the
/// minimum (`unknown_minutes` without a cost), as Slurm's `[D-]HH:MM:00`.
pub fn slurm_time(cost: Option<&JobCost>, options: &SlurmOptions) -> String {
    let minutes = match cost {
        Some(c) => ((c.seconds * options.time_factor / 60.0).ceil().max(0.0) as u64).max(options.min_minutes),
        None => options.unknown_minutes,
    };
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    if days > 0 { format!("{days}-{hours:02}:{mins:02}:00") } else { format!("{hours:02}:{mins:02}:00") }
}

/// A Slurm submission script (`submit.sh`) for `jobs`: run on a login node from the repository
/// root, it `sbatch --parsable`s each job in [`dependency_order`] and keeps its Slurm job id in a
/// shell variable; a measurement is submitted with `--dependency=afterok:` the ids of the training
/// jobs it needs that are in the list (the others are done). Each job runs `$RELUSYM …` in the
/// repository root with `--cpus-per-task`, `--time` from [`slurm_time`] and `--job-name` its id;
/// its log goes to `runs/slurm/ID-SLURMID.out`.
pub fn render_slurm(jobs: &[Job], options: &SlurmOptions) -> String {
    let vars = variable_names(jobs);
    let mut s = String::new();
    s.push_str("#!/usr/bin/env bash\n");
    s.push_str("# Submit the study's jobs to Slurm, generated by `relusym study jobs --format slurm`.\n");
    s.push_str("# Run it on a login node from the repository root: `bash submit.sh`. Each job runs there.\n");
    s.push_str("# RELUSYM: the relusym command on the compute nodes (default `relusym`; e.g. RELUSYM=target/release/relusym).\n");
    let _ = writeln!(s, "# CPUS_PER_TASK: CPUs per job (default {}, what the costs were measured with).", options.cpus_per_task);
    s.push_str("# Partition, account, QOS: sbatch reads SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS from the environment.\n");
    let _ = writeln!(
        s,
        "# --time is {}x the cost, at least {} min; a training run stopped by its limit resumes when submitted again.",
        options.time_factor, options.min_minutes
    );
    let _ = writeln!(s, "# {}.", totals(jobs));
    s.push_str("set -euo pipefail\n");
    s.push_str("RELUSYM=${RELUSYM:-relusym}\n");
    let _ = writeln!(s, "CPUS_PER_TASK=${{CPUS_PER_TASK:-{}}}", options.cpus_per_task);
    s.push_str("[ -f Cargo.toml ] || { echo \"run this from the repository root\" >&2; exit 1; }\n");
    s.push_str("mkdir -p runs/slurm\n");
    s.push_str("submit() {\n");
    s.push_str("    sbatch --parsable --chdir=\"$PWD\" --cpus-per-task=\"$CPUS_PER_TASK\" --export=\"ALL,RAYON_NUM_THREADS=$CPUS_PER_TASK\" \\\n");
    s.push_str("        --output=\"runs/slurm/%x-%j.out\" \"$@\" | cut -d';' -f1\n");
    s.push_str("}\n");
    let listed: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    for job in dependency_order(jobs) {
        let var = &vars[job.id.as_str()];
        let deps: Vec<String> = job.depends_on.iter().filter(|d| listed.contains(d.as_str())).map(|d| format!("${}", vars[d.as_str()])).collect();
        let dependency = if deps.is_empty() { String::new() } else { format!(" --dependency=afterok:{}", deps.join(":")) };
        // The command goes into --wrap="…": escape what double quotes would expand; $RELUSYM is
        // expanded at submission.
        let wrapped = command_line(job).replace('\\', r"\\").replace('"', "\\\"").replace('`', "\\`").replace('$', "\\$").replacen("\\$RELUSYM", "$RELUSYM", 1);
        let _ = writeln!(s, "\n# {}: {}", job.id, cost_text(job));
        let _ = writeln!(
            s,
            "{var}=$(submit --job-name={} --time={}{dependency} --wrap=\"{wrapped}\")",
            shell_word(&job.id),
            slurm_time(job.cost.as_ref(), options)
        );
        let _ = writeln!(s, "echo \"{}: Slurm job ${var}\"", job.id);
    }
    s
}

/// The typed job list as pretty JSON.
pub fn render_json(jobs: &[Job]) -> String {
    serde_json::to_string_pretty(jobs).expect("plain data serialises")
}

/// `jobs` in `format` (Slurm with `options`).
pub fn render(format: JobFormat, jobs: &[Job], options: &SlurmOptions) -> String {
    match format {
        JobFormat::Shell => render_shell(jobs),
        JobFormat::Slurm => render_slurm(jobs, options),
        JobFormat::Json => render_json(jobs),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use super::*;
    use crate::experiments::study::BarrierKind;

    /// The decisive design's plan on empty folders (nothing done).
    fn empty_plan() -> StudyPlan {
        let nowhere = std::env::temp_dir().join(format!("relusym-jobs-nothing-{}", std::process::id()));
        StudyPlan::new(&StudySpec::decisive(), &nowhere.join("runs"), &nowhere.join("results"))
    }

    /// The plan with the first two nets trained and the first merge job measured, and their costs.
    fn partly_done() -> (StudyPlan, MeasuredCosts) {
        let mut plan = empty_plan();
        let mut costs = MeasuredCosts::default();
        for (i, (net, done)) in plan.nets.iter_mut().enumerate().take(2) {
            *done = true;
            costs.train.insert(net.name.clone(), 1000.0 * (i + 1) as f64);
        }
        plan.jobs[0].1 = true;
        costs.measure.insert(plan.jobs[0].0.file_stem(), 300.0);
        (plan, costs)
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("relusym-jobs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_job_list_is_the_design_one_job_per_net_and_per_merge_job() {
        let plan = empty_plan();
        let jobs = study_jobs(&plan, &MeasuredCosts::default());
        let spec = StudySpec::decisive();
        assert_eq!(jobs.len(), spec.nets().len() + spec.merge_jobs().len());
        let ids: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids.len(), jobs.len(), "ids are unique");
        for (job, merge) in jobs.iter().filter(|j| j.kind == JobKind::Measure).zip(spec.merge_jobs()) {
            let stem = &job.command[job.command.iter().position(|a| a == "--job").unwrap() + 1];
            assert_eq!(spec.merge_job(stem).as_ref(), Some(&merge), "--job {stem} names exactly its merge job");
        }
        assert!(jobs.iter().all(|j| j.command.contains(&"--device".to_string())));
    }

    #[test]
    fn every_measurement_depends_on_the_training_of_its_nets() {
        let plan = empty_plan();
        let jobs = study_jobs(&plan, &MeasuredCosts::default());
        for j in jobs.iter().filter(|j| j.kind == JobKind::Train) {
            assert!(j.depends_on.is_empty(), "{}: a training job depends on nothing", j.id);
        }
        let measures: Vec<&Job> = jobs.iter().filter(|j| j.kind == JobKind::Measure).collect();
        for ((merge, _), job) in plan.jobs.iter().zip(&measures) {
            let mut want = vec![train_id(&merge.a)];
            if merge.kind == BarrierKind::Ordinary {
                want.push(train_id(merge.b.as_ref().unwrap()));
            }
            assert_eq!(job.depends_on, want, "{}", job.id);
            assert!(job.depends_on.iter().all(|d| jobs.iter().any(|t| &t.id == d && t.kind == JobKind::Train)));
        }
        // Kept-epoch jobs read the same net: they depend on its training job.
        let kept = plan.jobs.iter().zip(&measures).find(|((m, _), _)| m.epoch.is_some()).expect("the design has kept-epoch jobs");
        assert_eq!(kept.1.depends_on[0], train_id(&kept.0.0.a));
    }

    #[test]
    fn done_follows_the_plan_and_done_jobs_are_left_out_unless_asked() {
        let (plan, costs) = partly_done();
        let jobs = study_jobs(&plan, &costs);
        let done: Vec<&str> = jobs.iter().filter(|j| j.done).map(|j| j.id.as_str()).collect();
        assert_eq!(done, [train_id(&plan.nets[0].0.name), train_id(&plan.nets[1].0.name), measure_id(&plan.jobs[0].0)]);
        let pending = select(&jobs, false);
        assert_eq!(pending.len(), jobs.len() - 3);
        assert!(pending.iter().all(|j| !j.done));
        assert_eq!(select(&jobs, true), jobs);
        for script in [render_shell(&pending), render_slurm(&pending, &SlurmOptions::default())] {
            for id in &done {
                assert!(!script.contains(&format!("# {id}:")), "{id} is done and left out");
            }
        }
    }

    #[test]
    fn costs_are_measured_where_the_job_ran_and_estimated_from_jobs_like_it_elsewhere() {
        let (plan, costs) = partly_done();
        let jobs = study_jobs(&plan, &costs);
        let by_id = |id: &str| jobs.iter().find(|j| j.id == id).unwrap();
        // noflip-s0 and noflip-s1 ran (1000 s, 2000 s); noflip-s2 is their mean.
        let (n0, n1) = (&plan.nets[0].0, &plan.nets[1].0);
        assert_eq!(n0.variant, n1.variant);
        assert_eq!(by_id(&train_id(&n0.name)).cost, Some(JobCost { seconds: 1000.0, basis: CostBasis::Measured }));
        let same = plan.nets.iter().find(|(n, _)| n.variant == n0.variant && n.name != n0.name && n.name != n1.name).unwrap();
        let c = by_id(&train_id(&same.0.name)).cost.clone().unwrap();
        assert_eq!(c.seconds, 1500.0);
        assert!(matches!(c.basis, CostBasis::Estimate { from: 2, .. }), "{c:?}");
        // Another variant falls back to every measured training run; the only measured
        // measurement stands for every other.
        let other = plan.nets.iter().find(|(n, _)| n.variant != n0.variant).unwrap();
        assert!(matches!(by_id(&train_id(&other.0.name)).cost.clone().unwrap().basis, CostBasis::Estimate { from: 2, ref like } if like == "training runs"));
        assert!(jobs.iter().filter(|j| j.kind == JobKind::Measure).all(|j| j.cost.as_ref().is_some_and(|c| c.seconds == 300.0)));
        // Nothing measured: no cost.
        assert!(study_jobs(&plan, &MeasuredCosts::default()).iter().all(|j| j.cost.is_none()));
    }

    #[test]
    fn shell_order_puts_every_dependency_before_its_dependent() {
        let (plan, costs) = partly_done();
        let mut jobs = study_jobs(&plan, &costs);
        jobs.reverse(); // the renderer orders by dependency, not by the list
        let script = render_shell(&jobs);
        let position = |id: &str| script.find(&format!("# {id}:")).unwrap_or_else(|| panic!("{id} missing"));
        for j in &jobs {
            for d in &j.depends_on {
                assert!(position(d) < position(&j.id), "{d} comes after {}", j.id);
            }
            let at = position(&j.id);
            let next: Vec<&str> = script[at..].lines().take(2).collect();
            assert_eq!(next[1], format!("$RELUSYM {}", j.command.join(" ")), "the command follows its comment");
        }
        let status = Command::new("bash").arg("-n").arg("-c").arg(&script).status().expect("bash runs");
        assert!(status.success(), "bash -n rejects the shell script");
    }

    #[test]
    fn slurm_script_declares_every_dependency_with_afterok() {
        let (plan, costs) = partly_done();
        let jobs = select(&study_jobs(&plan, &costs), false);
        let script = render_slurm(&jobs, &SlurmOptions::default());
        let vars = variable_names(&jobs);
        let listed: BTreeSet<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        for j in &jobs {
            let line = script.lines().find(|l| l.starts_with(&format!("{}=$(submit ", vars[j.id.as_str()]))).unwrap();
            let want: Vec<String> = j.depends_on.iter().filter(|d| listed.contains(d.as_str())).map(|d| format!("${}", vars[d.as_str()])).collect();
            if want.is_empty() {
                assert!(!line.contains("--dependency"), "{line}");
            } else {
                assert!(line.contains(&format!("--dependency=afterok:{} ", want.join(":"))), "{line}");
            }
            assert!(line.contains(&format!("--job-name={} ", j.id)) && line.contains("--time="), "{line}");
            assert!(!line.contains("/work/") && !line.contains("/root/"), "no absolute paths of this machine: {line}");
        }
        assert!(script.contains("--cpus-per-task="));
        let status = Command::new("bash").arg("-n").arg("-c").arg(&script).status().expect("bash runs");
        assert!(status.success(), "bash -n rejects the submission script");
    }

    #[test]
    fn slurm_script_submits_each_measurement_after_the_training_jobs_it_needs() {
        // Run the script against a stand-in sbatch that logs its arguments and answers ids 1, 2, …
        let (plan, costs) = partly_done();
        let jobs = select(&study_jobs(&plan, &costs), false);
        let dir = temp_dir("slurm");
        std::fs::write(dir.join("Cargo.toml"), "").unwrap();
        std::fs::write(dir.join("submit.sh"), render_slurm(&jobs, &SlurmOptions::default())).unwrap();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let sbatch = bin.join("sbatch");
        std::fs::write(
            &sbatch,
            "#!/usr/bin/env bash\nn=$(( $(wc -l < sbatch.log 2>/dev/null || echo 0) + 1 ))\nprintf '%s\\n' \"$*\" >> sbatch.log\necho \"$n;cluster\"\n",
        )
        .unwrap();
        Command::new("chmod").arg("+x").arg(&sbatch).status().unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let out = Command::new("bash").arg("submit.sh").current_dir(&dir).env("PATH", path).env("RELUSYM", "target/release/relusym").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let log = std::fs::read_to_string(dir.join("sbatch.log")).unwrap();
        let calls: Vec<&str> = log.lines().collect();
        assert_eq!(calls.len(), jobs.len(), "one sbatch per job");
        let slurm_id: BTreeMap<String, usize> =
            calls.iter().enumerate().map(|(i, c)| (c.split("--job-name=").nth(1).unwrap().split(' ').next().unwrap().to_string(), i + 1)).collect();
        for (c, j) in calls.iter().zip(dependency_order(&jobs)) {
            assert!(c.contains(&format!("--job-name={} ", j.id)), "{c}");
            assert!(c.contains(&format!("--wrap=target/release/relusym {}", j.command.join(" "))), "{c}");
            let needed: Vec<String> = j.depends_on.iter().filter_map(|d| slurm_id.get(d)).map(usize::to_string).collect();
            if needed.is_empty() {
                assert!(!c.contains("--dependency"), "{c}");
            } else {
                assert!(c.contains(&format!("--dependency=afterok:{} ", needed.join(":"))), "{c}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slurm_time_is_the_cost_times_the_factor_rounded_up_with_a_floor() {
        let o = SlurmOptions::default();
        let cost = |seconds| JobCost { seconds, basis: CostBasis::Measured };
        assert_eq!(slurm_time(Some(&cost(2888.0)), &o), "01:37:00");
        assert_eq!(slurm_time(Some(&cost(10.0)), &o), "00:30:00");
        assert_eq!(slurm_time(Some(&cost(50_000.0)), &o), "1-03:47:00");
        assert_eq!(slurm_time(None, &o), "1-00:00:00");
    }

    #[test]
    fn commands_name_the_folders_only_when_they_are_not_the_defaults() {
        let spec = StudySpec::decisive();
        let default = StudyPlan::new(&spec, Path::new(spec.design.runs()), Path::new(spec.design.results()));
        let jobs = study_jobs(&default, &MeasuredCosts::default());
        assert!(jobs.iter().all(|j| !j.command.contains(&"--runs".to_string()) && !j.command.contains(&"--results".to_string())));
        assert!(jobs.iter().all(|j| !j.command.contains(&"--design".to_string())), "the decisive design is the default");
        let resnet = Design::Resnet;
        let plan = StudyPlan::new(&resnet.spec(), Path::new(resnet.runs()), Path::new(resnet.results()));
        let jobs = study_jobs(&plan, &MeasuredCosts::default());
        assert!(jobs.iter().all(|j| j.command.windows(2).any(|w| w == ["--design", "resnet"]) && !j.command.contains(&"--runs".to_string())));
        let plan = empty_plan();
        let jobs = study_jobs(&plan, &MeasuredCosts::default());
        assert!(jobs.iter().all(|j| j.command.windows(2).any(|w| w[0] == "--runs" && Path::new(&w[1]) == plan.runs)));
    }

    #[test]
    fn arguments_that_need_quoting_survive_both_scripts() {
        let job = Job {
            id: "train-odd".into(),
            kind: JobKind::Train,
            command: vec!["study".into(), "train".into(), "--runs".into(), "a b/$x'`y\"".into()],
            depends_on: Vec::new(),
            done: false,
            cost: None,
        };
        assert_eq!(shell_word("a b/$x'`y\""), r#"'a b/$x'\''`y"'"#);
        for script in [render_shell(std::slice::from_ref(&job)), render_slurm(std::slice::from_ref(&job), &SlurmOptions::default())] {
            let status = Command::new("bash").arg("-n").arg("-c").arg(&script).status().unwrap();
            assert!(status.success(), "{script}");
        }
    }
}
