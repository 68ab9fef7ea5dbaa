//! Binary cache of decoded datasets.
//!
//! Decoding 60,000 JPEGs or gunzipping IDX files takes seconds; the cache
//! stores the decoded [`Splits`] once so later runs load them with a few large
//! reads.
//!
//! **File name**: `<source file name>-<16 hex digits>.rsds` in the cache
//! folder, the hex digits hashing the source's canonical path, its size and
//! modification time (for a folder: total size, file count and newest
//! modification time of the files below it) and the format version, so a
//! changed source gets a new cache file.
//!
//! **Layout** (little-endian):
//!
//! ```text
//! 0   8 bytes   magic "RSYMDATA"
//! 8   u32       format version (CACHE_VERSION)
//! 12  u64       header length L
//! 20  L bytes   header, JSON: {"source", "source_size", "source_mtime_ns",
//!               "splits": [{"role": "train"|"test", "name", "kind", "len",
//!               "channels", "height", "width", "classes": [...]}, ...]}
//! ..  for each split in header order: len*C*H*W image bytes (N×C×H×W),
//!               then len label bytes
//! ..  u32       CRC-32 of all image and label bytes, in file order
//! ```
//!
//! Files are written to `<name>.tmp.<pid>`, fsynced and renamed into place, so
//! a crashed run never leaves a half-written cache under the final name. A
//! truncated or corrupt cache is detected (exact length, magic, version,
//! header, checksum) and reported as [`DataError::CacheCorrupt`] naming the file;
//! [`load_or_build`] then warns on stderr and rebuilds it.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::{Dataset, DatasetKind, Splits};

/// Magic bytes at the start of every cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"RSYMDATA";
/// Version of the cache layout; bump when it changes.
pub const CACHE_VERSION: u32 = 3;
/// Extension of cache files.
pub const CACHE_EXT: &str = "rsds";

const PREFIX_LEN: usize = 8 + 4 + 8;
const MAX_HEADER: u64 = 16 << 20;

/// Identity of a dataset source for cache keying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceKey {
    /// Canonical (absolute, symlink-free) path.
    pub source: String,
    /// File size, or total size of the files below a folder.
    pub source_size: u64,
    /// Modification time in ns since the Unix epoch (newest below a folder).
    pub source_mtime_ns: u64,
    /// Number of files (1 for a file).
    pub source_files: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    key: SourceKey,
    splits: Vec<SplitHeader>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SplitHeader {
    role: String,
    name: String,
    kind: DatasetKind,
    len: usize,
    channels: usize,
    height: usize,
    width: usize,
    classes: Vec<String>,
}

impl SplitHeader {
    fn of(role: &str, d: &Dataset) -> Self {
        SplitHeader {
            role: role.to_string(),
            name: d.name.clone(),
            kind: d.kind,
            len: d.len,
            channels: d.channels,
            height: d.height,
            width: d.width,
            classes: d.classes.clone(),
        }
    }

    fn image_bytes(&self) -> Option<u64> {
        (self.len as u64).checked_mul(self.channels as u64)?.checked_mul(self.height as u64)?.checked_mul(self.width as u64)
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Computes the cache key of `source` (file or folder).
pub fn source_key(source: &Path) -> Result<SourceKey, DataError> {
    let canonical = source.canonicalize().map_err(|e| DataError::io(source, e))?;
    let meta = std::fs::metadata(&canonical).map_err(|e| DataError::io(&canonical, e))?;
    let (size, mtime, files) = if meta.is_dir() {
        let mut size = 0u64;
        let mut mtime = mtime_ns(&meta);
        let names = super::source::list_dir_files(&canonical)?;
        for name in &names {
            let p = canonical.join(name);
            let m = std::fs::metadata(&p).map_err(|e| DataError::io(&p, e))?;
            size += m.len();
            mtime = mtime.max(mtime_ns(&m));
        }
        (size, mtime, names.len() as u64)
    } else {
        (meta.len(), mtime_ns(&meta), 1)
    };
    Ok(SourceKey { source: canonical.to_string_lossy().into_owned(), source_size: size, source_mtime_ns: mtime, source_files: files })
}

/// FNV-1a, for short keys.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The cache file for `key` inside `cache_dir`.
pub fn cache_file(key: &SourceKey, cache_dir: &Path) -> PathBuf {
    let mut h = fnv1a(key.source.as_bytes(), 0xcbf2_9ce4_8422_2325);
    for v in [key.source_size, key.source_mtime_ns, key.source_files, CACHE_VERSION as u64] {
        h = fnv1a(&v.to_le_bytes(), h);
    }
    let base = Path::new(&key.source).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".into());
    let base: String = base.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    cache_dir.join(format!("{base}-{h:016x}.{CACHE_EXT}"))
}

/// Writes `splits` to the cache file `path` atomically (temp file, fsync,
/// rename), creating its folder.
pub fn write_cache(path: &Path, splits: &Splits, key: &SourceKey) -> Result<(), DataError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let header = Header { key: key.clone(), splits: vec![SplitHeader::of("train", &splits.train), SplitHeader::of("test", &splits.test)] };
    let json =
        serde_json::to_vec(&header).map_err(|e| DataError::CacheCorrupt { path: path.to_path_buf(), reason: format!("cannot serialise header: {e}") })?;
    crate::provenance::write_atomic_with(path, |w| -> std::io::Result<()> {
        w.write_all(&CACHE_MAGIC)?;
        w.write_all(&CACHE_VERSION.to_le_bytes())?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(&json)?;
        let mut sum = crc32fast::Hasher::new();
        for d in [&splits.train, &splits.test] {
            w.write_all(&d.images)?;
            w.write_all(&d.labels)?;
            sum.update(&d.images);
            sum.update(&d.labels);
        }
        w.write_all(&sum.finalize().to_le_bytes())
    })
    .map_err(|e| DataError::io(path, e))
}

/// Reads a cache file written by [`write_cache`]: the splits and the key of the source they
/// were made from.
pub fn read_cache(path: &Path) -> Result<(Splits, SourceKey), DataError> {
    let corrupt = |reason: String| DataError::CacheCorrupt { path: path.to_path_buf(), reason };
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut prefix = [0u8; PREFIX_LEN];
    if file_len < PREFIX_LEN as u64 {
        return Err(corrupt(format!("truncated: only {file_len} bytes")));
    }
    file.read_exact(&mut prefix).map_err(|e| DataError::io(path, e))?;
    if prefix[..8] != CACHE_MAGIC {
        return Err(corrupt("bad magic (not a dataset cache)".into()));
    }
    let version = u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
    if version != CACHE_VERSION {
        return Err(corrupt(format!("format version {version}, expected {CACHE_VERSION}")));
    }
    let mut hl = [0u8; 8];
    hl.copy_from_slice(&prefix[12..20]);
    let header_len = u64::from_le_bytes(hl);
    if header_len > MAX_HEADER || PREFIX_LEN as u64 + header_len > file_len {
        return Err(corrupt(format!("truncated or bad header length {header_len} (file has {file_len} bytes)")));
    }
    let mut json = vec![0u8; header_len as usize];
    file.read_exact(&mut json).map_err(|e| DataError::io(path, e))?;
    let header: Header = serde_json::from_slice(&json).map_err(|e| corrupt(format!("bad header JSON: {e}")))?;
    let roles: Vec<&str> = header.splits.iter().map(|s| s.role.as_str()).collect();
    if roles != ["train", "test"] {
        return Err(corrupt(format!("expected train and test splits, found {roles:?}")));
    }
    let mut expected = PREFIX_LEN as u64 + header_len + 4;
    for s in &header.splits {
        let bytes = s.image_bytes().and_then(|b| b.checked_add(s.len as u64)).ok_or_else(|| corrupt(format!("impossible shape for split {:?}", s.role)))?;
        expected = expected.saturating_add(bytes);
    }
    if file_len != expected {
        return Err(corrupt(format!("{} bytes, but its header describes {expected} bytes", file_len)));
    }
    let mut sum = crc32fast::Hasher::new();
    let mut datasets = Vec::with_capacity(2);
    for s in header.splits {
        let mut images = vec![0u8; s.image_bytes().unwrap_or(0) as usize];
        let mut labels = vec![0u8; s.len];
        file.read_exact(&mut images).map_err(|e| DataError::io(path, e))?;
        file.read_exact(&mut labels).map_err(|e| DataError::io(path, e))?;
        sum.update(&images);
        sum.update(&labels);
        let d = Dataset::new(s.name, s.kind, images, labels, [s.channels, s.height, s.width], s.classes).map_err(|e| corrupt(e.to_string()))?;
        datasets.push(d);
    }
    let mut stored = [0u8; 4];
    file.read_exact(&mut stored).map_err(|e| DataError::io(path, e))?;
    if u32::from_le_bytes(stored) != sum.finalize() {
        return Err(corrupt("checksum mismatch (data corrupted)".into()));
    }
    let test = datasets.pop().ok_or_else(|| corrupt("missing test split".into()))?;
    let train = datasets.pop().ok_or_else(|| corrupt("missing train split".into()))?;
    Ok((Splits { train, test }, header.key))
}

/// How [`load_or_build`] obtained its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Read from a valid cache file.
    Hit,
    /// No cache file existed; built and written.
    Built,
    /// The cache file was corrupt or stale; rebuilt and rewritten.
    Rebuilt,
    /// Built, but the cache file could not be written (warned on stderr).
    NotWritten,
}

/// Returns the splits of `source` from the cache in `cache_dir` if a valid
/// cache for the source's current state exists; otherwise calls
/// `builder(source)` and writes the cache. A corrupt cache is reported on
/// stderr (naming the file) and rebuilt; a cache that cannot be written is
/// reported on stderr and skipped. Errors of `builder` are returned. Also returns how the data
/// was obtained and the cache file's path.
pub fn load_or_build<F>(source: &Path, cache_dir: &Path, builder: F) -> Result<(Splits, CacheStatus, PathBuf), DataError>
where
    F: FnOnce(&Path) -> Result<Splits, DataError>,
{
    let key = source_key(source)?;
    let path = cache_file(&key, cache_dir);
    let mut status = CacheStatus::Built;
    if path.is_file() {
        match read_cache(&path) {
            Ok((splits, stored)) if stored == key => return Ok((splits, CacheStatus::Hit, path)),
            Ok(_) => eprintln!("warning: dataset cache {} was made from a different source; rebuilding it", path.display()),
            Err(e) => eprintln!("warning: {e}; rebuilding it"),
        }
        status = CacheStatus::Rebuilt;
    }
    let splits = builder(source)?;
    if let Err(e) = write_cache(&path, &splits, &key) {
        eprintln!("warning: cannot write dataset cache: {e}");
        status = CacheStatus::NotWritten;
    }
    Ok((splits, status, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::test_util::{TempDir, temp_dir};
    use crate::data::synthetic::synthetic;

    /// (guard, source file, cache dir); the guard deletes everything on drop.
    fn setup(tag: &str) -> (TempDir, PathBuf, PathBuf) {
        let dir = temp_dir(tag);
        let source = dir.join("source.bin");
        std::fs::write(&source, b"pretend dataset").unwrap();
        let cache = dir.join("cache");
        (dir, source, cache)
    }

    #[test]
    fn cache_round_trip_equals_the_source() {
        let (_dir, source, cache_dir) = setup("cache-rt");
        let splits = synthetic(30, 7, 3, 8, 1);
        let mut calls = 0;
        let a = load_or_build(&source, &cache_dir, |_| {
            calls += 1;
            Ok(splits.clone())
        })
        .unwrap()
        .0;
        let b = load_or_build(&source, &cache_dir, |_| -> Result<Splits, DataError> { panic!("must be served from the cache") }).unwrap().0;
        assert_eq!(calls, 1);
        assert_eq!(a, splits);
        assert_eq!(b, splits);
        // Exactly one cache file, no temp files left behind.
        let files: Vec<_> = std::fs::read_dir(&cache_dir).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn changed_source_gets_a_new_cache_file() {
        let (_dir, source, cache_dir) = setup("cache-key");
        let k1 = source_key(&source).unwrap();
        std::fs::write(&source, b"pretend dataset, longer").unwrap();
        let k2 = source_key(&source).unwrap();
        assert_ne!(cache_file(&k1, &cache_dir), cache_file(&k2, &cache_dir));
        assert!(cache_file(&k1, &cache_dir).file_name().unwrap().to_string_lossy().starts_with("source.bin-"));
    }

    #[test]
    fn truncated_cache_is_detected_naming_the_file_and_rebuilt() {
        let (_dir, source, cache_dir) = setup("cache-trunc");
        let splits = synthetic(10, 4, 2, 8, 2);
        load_or_build(&source, &cache_dir, |_| Ok(splits.clone())).unwrap();
        let path = cache_file(&source_key(&source).unwrap(), &cache_dir);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        let err = read_cache(&path).unwrap_err();
        assert!(matches!(err, DataError::CacheCorrupt { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        let mut rebuilt = false;
        let again = load_or_build(&source, &cache_dir, |_| {
            rebuilt = true;
            Ok(splits.clone())
        })
        .unwrap()
        .0;
        assert!(rebuilt);
        assert_eq!(again, splits);
        let (_, status, _) = load_or_build(&source, &cache_dir, |_| Ok(splits.clone())).unwrap();
        assert_eq!(status, CacheStatus::Hit);
        assert_eq!(read_cache(&path).unwrap().0, splits);
    }

    #[test]
    fn flipped_byte_fails_the_checksum_and_bad_magic_is_reported() {
        let (_dir, source, cache_dir) = setup("cache-flip");
        let splits = synthetic(10, 4, 2, 8, 2);
        load_or_build(&source, &cache_dir, |_| Ok(splits.clone())).unwrap();
        let path = cache_file(&source_key(&source).unwrap(), &cache_dir);
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 50] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let msg = read_cache(&path).unwrap_err().to_string();
        assert!(msg.contains("checksum"), "{msg}");
        bytes[0] = b'X';
        std::fs::write(&path, &bytes).unwrap();
        let msg = read_cache(&path).unwrap_err().to_string();
        assert!(msg.contains("magic"), "{msg}");
    }

    #[test]
    fn folder_sources_are_keyed_by_their_files() {
        let dir = temp_dir("cache-folder");
        std::fs::write(dir.join("a"), b"1").unwrap();
        let k1 = source_key(&dir).unwrap();
        std::fs::write(dir.join("b"), b"22").unwrap();
        let k2 = source_key(&dir).unwrap();
        assert_eq!((k1.source_files, k1.source_size), (1, 1));
        assert_eq!((k2.source_files, k2.source_size), (2, 3));
    }
}
