//! Uniform access to the files of a dataset source: a folder or a `.tar.gz`.
//!
//! A gzip-compressed tar archive can only be read front to back, so the common
//! interface is "read every wanted member into memory in one pass":
//! [`read_members`] walks a folder recursively, or streams an archive once, and
//! returns the kept regular files as [`Member`]s (relative `/`-separated name +
//! bytes), sorted by name for determinism. Hidden files (a path component
//! starting with `.`, e.g. `.DS_Store`, `._x.jpg`) and `__MACOSX/` are skipped.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::error::DataError;

/// One regular file of a source.
#[derive(Debug, Clone)]
pub struct Member {
    /// Path relative to the source root, components separated by `/`
    /// (a leading `./` of archive entries is removed).
    pub name: String,
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl Member {
    /// A path naming this member for error messages: `<source>/<name>`.
    pub fn location(&self, source: &Path) -> PathBuf {
        source.join(&self.name)
    }
}

/// True when `path` names a gzip-compressed tar archive (`.tar.gz` or `.tgz`).
pub fn is_tar_gz(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Reads every regular file of `source` (a folder or a `.tar.gz`) whose
/// relative name passes `keep`, sorted by name.
pub fn read_members(source: &Path, mut keep: impl FnMut(&str) -> bool) -> Result<Vec<Member>, DataError> {
    let meta = std::fs::metadata(source).map_err(|e| DataError::io(source, e))?;
    let mut members = if meta.is_dir() {
        let mut names = Vec::new();
        walk_dir(source, String::new(), &mut names)?;
        let mut out = Vec::new();
        for name in names {
            if keep(&name) {
                let path = source.join(&name);
                let data = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
                out.push(Member { name, data });
            }
        }
        out
    } else if is_tar_gz(source) {
        read_tar_gz(source, &mut keep)?
    } else {
        return Err(DataError::Layout { path: source.to_path_buf(), reason: "expected a folder or a .tar.gz/.tgz archive".into() });
    };
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(members)
}

/// Lists the relative names of all regular files below `dir` (recursively).
pub fn list_dir_files(dir: &Path) -> Result<Vec<String>, DataError> {
    let mut names = Vec::new();
    walk_dir(dir, String::new(), &mut names)?;
    names.sort();
    Ok(names)
}

fn is_hidden(component: &str) -> bool {
    component.starts_with('.') || component == "__MACOSX"
}

fn walk_dir(dir: &Path, prefix: String, out: &mut Vec<String>) -> Result<(), DataError> {
    let path = if prefix.is_empty() { dir.to_path_buf() } else { dir.join(&prefix) };
    let entries = std::fs::read_dir(&path).map_err(|e| DataError::io(&path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(&path, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&file_name) {
            continue;
        }
        let rel = if prefix.is_empty() { file_name } else { format!("{prefix}/{file_name}") };
        // Follow symlinks: metadata() (not symlink_metadata()).
        let meta = std::fs::metadata(entry.path()).map_err(|e| DataError::io(entry.path(), e))?;
        if meta.is_dir() {
            walk_dir(dir, rel, out)?;
        } else if meta.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

fn read_tar_gz(source: &Path, keep: &mut impl FnMut(&str) -> bool) -> Result<Vec<Member>, DataError> {
    let file = File::open(source).map_err(|e| DataError::io(source, e))?;
    let gz = GzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(gz);
    let archive_err = |e: std::io::Error| DataError::Archive { path: source.to_path_buf(), source: e };
    let mut out = Vec::new();
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = entry.path().map_err(archive_err)?;
        let name = raw
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Vec<_>>();
        if name.is_empty() || name.iter().any(|c| is_hidden(c)) {
            continue;
        }
        let name = name.join("/");
        if !keep(&name) {
            continue;
        }
        // The header's size is untrusted: cap the up-front reservation.
        let mut data = Vec::with_capacity(entry.size().min(64 << 20) as usize);
        entry.read_to_end(&mut data).map_err(archive_err)?;
        out.push(Member { name, data });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the data module's tests: unique temp dirs and
    //! tar.gz writing.
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory removed (with its contents) when dropped; derefs to its path.
    pub struct TempDir(PathBuf);

    impl std::ops::Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fresh, empty directory under the system temp dir, unique per call.
    pub fn temp_dir(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("relusym-data-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Writes `files` (relative name, bytes) into a new `.tar.gz` at `path`.
    pub fn write_tar_gz(path: &Path, files: &[(String, Vec<u8>)]) {
        let file = std::fs::File::create(path).expect("create tar.gz");
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, data.as_slice()).expect("append tar member");
        }
        builder.into_inner().expect("finish tar").finish().expect("finish gzip");
    }

    /// Writes `files` under `dir`, creating parent folders.
    pub fn write_tree(dir: &Path, files: &[(String, Vec<u8>)]) {
        for (name, data) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, data).expect("write file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![("b/two.txt".into(), b"2".to_vec()), ("a/one.txt".into(), b"1".to_vec()), (".hidden".into(), b"h".to_vec()), ("a/skip.bin".into(), b"s".to_vec())]
    }

    #[test]
    fn folder_and_archive_members_agree_sorted_and_filtered() {
        let dir = temp_dir("source");
        write_tree(&dir.join("tree"), &files());
        write_tar_gz(&dir.join("t.tar.gz"), &files());
        let keep = |n: &str| n.ends_with(".txt");
        let a = read_members(&dir.join("tree"), keep).unwrap();
        let b = read_members(&dir.join("t.tar.gz"), keep).unwrap();
        let names: Vec<_> = a.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a/one.txt", "b/two.txt"]);
        assert_eq!(names, b.iter().map(|m| m.name.as_str()).collect::<Vec<_>>());
        assert_eq!(a[1].data, b"2");
        assert_eq!(b[1].data, b"2");
    }

    #[test]
    fn missing_source_names_the_path() {
        let err = read_members(Path::new("/nonexistent/x.tar.gz"), |_| true).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.tar.gz"), "{err}");
    }

    #[test]
    fn corrupt_archive_names_the_archive() {
        let dir = temp_dir("corrupt-tar");
        let path = dir.join("bad.tar.gz");
        std::fs::write(&path, b"this is not gzip").unwrap();
        let err = read_members(&path, |_| true).unwrap_err();
        assert!(err.to_string().contains("bad.tar.gz"), "{err}");
    }
}
