//! `relusym train` killed with SIGKILL at several moments — right after an epoch's metrics are
//! written (while its checkpoint is being written) and at seeded random times — then resumed with
//! `--resume`: the final weights equal an uninterrupted run's bit for bit, and no kill loses more
//! than one epoch.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use relu_symmetries::train::{Checkpoint, TrainSummary};

const EPOCHS: &str = "4";

fn train_cmd(out: &Path, cache: &Path, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relusym"));
    c.args(["train", "--dataset", "synthetic", "--scale", "smoke", "--epochs", EPOCHS, "--model", "vgg11-bn", "--device", "cpu", "--json"])
        .arg("--cache")
        .arg(cache)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if resume {
        c.arg("--resume");
    }
    c
}

fn logged_epochs(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl")).map_or(0, |t| t.lines().filter(|l| !l.trim().is_empty()).count())
}

/// When to kill the process.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// As soon as this many epochs are logged: the model and resume files of that epoch are
    /// being written right then.
    AfterLogged(usize),
    /// After this long.
    After(Duration),
}

/// Start a run (resuming if `out` has one), kill it at `moment`; returns the epochs logged at the
/// kill, or `None` if the run finished first.
fn run_and_kill(out: &Path, cache: &Path, moment: Moment) -> Option<usize> {
    let resume = out.join("config.json").exists();
    let mut child: Child = train_cmd(out, cache, resume).spawn().expect("relusym starts");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return None;
        }
        let due = match moment {
            Moment::AfterLogged(n) => logged_epochs(out) >= n,
            Moment::After(d) => start.elapsed() >= d,
        };
        if due {
            let logged = logged_epochs(out);
            child.kill().expect("SIGKILL");
            let _ = child.wait();
            return Some(logged);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn finish(out: &Path, cache: &Path) -> TrainSummary {
    let o = train_cmd(out, cache, true).output().expect("relusym runs");
    assert!(o.status.success(), "resume failed:\n{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("a TrainSummary")
}

#[test]
fn sigkill_at_any_moment_then_resume_gives_the_uninterrupted_weights_bit_for_bit() {
    let dir = common::temp_dir("kill");
    let cache = dir.join("cache");
    let reference = dir.join("reference");
    let t = Instant::now();
    let o = train_cmd(&reference, &cache, false).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full_wall = t.elapsed();
    let device = Device::flex();
    let want = Checkpoint::open(&reference).unwrap().load_model(&device).unwrap().to_params();

    let mut rng = StdRng::seed_from_u64(7);
    let mut moments = vec![Moment::AfterLogged(1), Moment::AfterLogged(3)];
    for _ in 0..3 {
        moments.push(Moment::After(full_wall.mul_f64(rng.random_range(0.05..0.95))));
    }
    for (i, &moment) in moments.iter().enumerate() {
        let out = dir.join(format!("killed-{i}"));
        // a first kill at the chosen moment, and a second one during the resumed run
        let first = run_and_kill(&out, &cache, moment);
        let second = run_and_kill(&out, &cache, Moment::After(full_wall.mul_f64(rng.random_range(0.05..0.5))));
        let logged_before = logged_epochs(&out);
        let s = finish(&out, &cache);
        if let Some(resumed) = s.resumed_from_epoch {
            // at most one epoch of work lost: the resume starts no earlier than one epoch before
            // the last epoch logged when the process died
            assert!(resumed + 1 >= logged_before, "{moment:?}: resumed from epoch {resumed}, but {logged_before} epochs had been logged");
        }
        let got = Checkpoint::open(&out).unwrap().load_model(&device).unwrap().to_params();
        assert_eq!(got, want, "{moment:?} (killed with {first:?} / {second:?} epochs logged): weights differ from the uninterrupted run");
        let epochs: Vec<usize> = Checkpoint::open(&out).unwrap().metrics().unwrap().iter().map(|r| r.epoch).collect();
        assert_eq!(epochs, vec![1, 2, 3, 4], "{moment:?}: metrics log");
        // no temp file is left behind anywhere in the checkpoint
        for entry in walk(&out) {
            let name = entry.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp."), "{moment:?}: temp file {} left behind", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
