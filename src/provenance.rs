//! Provenance of results: atomic file writes and the git revision of the code that ran.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: write a sibling temp file, fsync it, then rename over the
/// target, so a crash never leaves a half-written file where a good one was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// The one atomic writer of the crate: `write` streams the contents into a buffered sibling temp
/// file, which is flushed, fsynced and renamed over `path`. On any error the temp file is removed
/// and `path` is left as it was (the previous version, or absent).
pub fn write_atomic_with<E: From<std::io::Error>>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<(), E>) -> Result<(), E> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = temp_sibling(path);
    let result = (|| -> Result<(), E> {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(())
    })();
    match result.and_then(|()| std::fs::rename(&tmp, path).map_err(E::from)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Make a finished temp file (written by a library that insists on opening the path itself, such
/// as a plotting backend) durable and move it over `path` atomically.
pub fn commit_temp(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = std::fs::File::open(tmp).and_then(|f| f.sync_all()).and_then(|()| std::fs::rename(tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// `dir/.name.tmp.<pid>` next to `path`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

/// The git revision of the working tree (`abc1234`, with `-dirty` if it has local changes), or
/// `unknown` outside a git checkout.
pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git").args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        _ => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("relusym-atomic-{}", std::process::id()));
        let path = dir.join("x.json");
        write_atomic(&path, b"first version, long").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(!temp_sibling(&path).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("relusym-atomic-fail-{}", std::process::id()));
        let path = dir.join("x.json");
        write_atomic(&path, b"good").unwrap();
        let r: std::io::Result<()> = write_atomic_with(&path, |w| {
            w.write_all(b"half of a new vers")?;
            Err(std::io::Error::other("disk full"))
        });
        assert_eq!(r.unwrap_err().to_string(), "disk full");
        assert_eq!(std::fs::read(&path).unwrap(), b"good");
        assert!(!temp_sibling(&path).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn writing_into_a_read_only_folder_fails_cleanly() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("relusym-atomic-ro-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        let path = dir.join("x.json");
        let r = write_atomic(&path, b"data");
        let root = std::fs::File::create(dir.join("probe")).is_ok(); // root ignores permissions
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if !root {
            assert!(r.is_err());
            assert!(!path.exists() && !temp_sibling(&path).exists());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
