//! What the Jupyter notebooks (evcxr) need beyond the library itself: where the repository and
//! its committed nets are, the CIFAR-10 copy and scratch space. Rich output (HTML tables,
//! Markdown, SVG figures) is [`crate::display`].
//!
//! # Paths
//! A notebook's kernel runs in `notebooks/`, but nothing in a notebook names a path of this
//! machine: [`repo`] is the repository this crate was built from, and every path is taken
//! relative to it. Scratch output goes under the git-ignored `runs/notebooks/` ([`scratch`]).

use std::path::PathBuf;

use crate::data::{DataError, DatasetInfo, DatasetKind, Splits};

/// The repository this crate was built from (its `Cargo.toml` folder).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder for a notebook's own output, `runs/notebooks/<name>` under [`repo`], created if
/// missing (git ignores `runs/` except the committed study nets).
pub fn scratch(name: &str) -> std::io::Result<PathBuf> {
    let dir = repo().join("runs").join("notebooks").join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// CIFAR-10 as the CLI reads it, resolved against [`repo`]: `data/cifar10` if it exists, else
/// `$CIFAR10_ARCHIVE`; decoded once into `data/cache` (later calls read the cache in well under
/// a second; the first decode takes about half a minute). Quiet: a notebook's output should not
/// show this machine's paths.
pub fn cifar10() -> Result<(Splits, DatasetInfo), DataError> {
    let root = repo();
    let local = root.join(crate::data::CIFAR10_DEFAULT_DIR);
    let source = if local.exists() { Some(local) } else { None };
    crate::data::open(DatasetKind::Cifar10, source.as_deref(), &root.join("data").join("cache"), false)
}

/// A progress bar that draws nothing, for the library functions that take one (evaluation):
/// notebook cells show their results, not bars.
pub fn quiet() -> indicatif::ProgressBar {
    indicatif::ProgressBar::hidden()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_holds_this_crate() {
        assert!(repo().join("Cargo.toml").exists());
        assert!(repo().join("src").join("notebook.rs").exists());
    }

    #[test]
    fn scratch_folders_live_under_the_ignored_runs_folder() {
        let d = scratch("unit-test").unwrap();
        assert!(d.starts_with(repo().join("runs")) && d.is_dir());
    }
}
