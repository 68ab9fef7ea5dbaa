//! The one call the command line makes: resolve where a dataset lives, load it
//! through the cache, bring it to the shape the networks take, and describe it.
//!
//! * CIFAR-10: `path`, else [`CIFAR10_DEFAULT_DIR`] (`data/cifar10`, filled by
//!   `just data`) if it exists, else the archive named by `$CIFAR10_ARCHIVE`.
//!   Any layout [`load_cifar10`] understands. 3×32×32.
//! * Fashion-MNIST: `path`, else [`FASHION_MNIST_DIR`]. Zero-padded from
//!   1×28×28 to **1×32×32** so VGG's five 2×2 max-pools divide evenly (the
//!   cache holds the unpadded images).
//! * Synthetic: [`SyntheticSpec::default`] (3×32×32, 2,000 / 500 images,
//!   10 classes, seed 0); `path` and the cache are not used.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::cache::{CacheStatus, load_or_build};
use super::error::DataError;
use super::{DatasetKind, FASHION_MNIST_DIR, Splits, SyntheticSpec, load_cifar10, load_fashion_mnist};

/// A dataset loader: source path to splits.
type Loader = fn(&Path) -> Result<Splits, DataError>;

/// Default CIFAR-10 location, relative to the working directory.
pub const CIFAR10_DEFAULT_DIR: &str = "data/cifar10";
/// Environment variable naming a CIFAR-10 archive, used when
/// [`CIFAR10_DEFAULT_DIR`] does not exist.
pub const CIFAR10_ARCHIVE_ENV: &str = "CIFAR10_ARCHIVE";

/// What a checkpoint records about its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// What the data is (serialised as [`DatasetKind::name`]: `cifar10`, `fashion-mnist`,
    /// `synthetic`).
    pub kind: DatasetKind,
    /// Human-readable name, e.g. `CIFAR-10 (JPEG copy)`.
    pub name: String,
    /// Where it was read from, canonicalised (absent for generated data).
    pub path: Option<PathBuf>,
    /// Training images.
    pub train_len: usize,
    /// Test images.
    pub test_len: usize,
    /// Image shape `[C, H, W]` as fed to the net (after padding).
    pub shape: [usize; 3],
    /// Class names, by label.
    pub classes: Vec<String>,
}

impl DatasetInfo {
    /// Describes `splits` of `kind` read from `path`.
    pub fn describe(kind: DatasetKind, path: Option<&Path>, splits: &Splits) -> Self {
        let t = &splits.train;
        let prefix = t.name.split('/').next().unwrap_or("");
        let name = match (kind, prefix) {
            (DatasetKind::Cifar10, "cifar10") => "CIFAR-10".to_string(),
            (DatasetKind::Cifar10, "cifar10-jpeg") => "CIFAR-10 (JPEG copy)".to_string(),
            (DatasetKind::Cifar10, _) => "CIFAR-10 (image-folder copy)".to_string(),
            (DatasetKind::FashionMnist, _) => {
                format!("Fashion-MNIST (padded to {}x{})", t.height, t.width)
            }
            (DatasetKind::Synthetic, _) => "synthetic flip-invariant".to_string(),
            (DatasetKind::Imagenet, _) => "ImageNet-style folders".to_string(),
        };
        DatasetInfo {
            kind,
            name,
            path: path.map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf())),
            train_len: t.len,
            test_len: splits.test.len,
            shape: [t.channels, t.height, t.width],
            classes: t.classes.clone(),
        }
    }
}

/// Where CIFAR-10 is read from: `path`, else `data/cifar10` if it exists, else
/// `$CIFAR10_ARCHIVE`.
pub fn cifar10_source(path: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(p) = path {
        return Ok(p.to_path_buf());
    }
    let default = Path::new(CIFAR10_DEFAULT_DIR);
    if default.exists() {
        return Ok(default.to_path_buf());
    }
    match std::env::var_os(CIFAR10_ARCHIVE_ENV) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(DataError::Layout {
            path: default.to_path_buf(),
            reason: format!(
                "CIFAR-10 not found: pass its folder or archive explicitly, fill \
                 {CIFAR10_DEFAULT_DIR} (`just data`), or set ${CIFAR10_ARCHIVE_ENV}"
            ),
        }),
    }
}

/// Where the official CIFAR-10 binaries are downloaded to when no local copy is found.
pub const CIFAR10_DOWNLOAD: &str = "data/cifar-10-binary.tar.gz";
/// The official CIFAR-10 binary archive.
pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";

/// [`cifar10_source`], or — when there is no local copy at all — the official binaries,
/// downloaded once (with `curl`) into [`CIFAR10_DOWNLOAD`] and reused from there.
pub fn cifar10_source_or_download(path: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Ok(p) = cifar10_source(path) {
        return Ok(p);
    }
    let target = PathBuf::from(CIFAR10_DOWNLOAD);
    if target.exists() {
        return Ok(target);
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    eprintln!("CIFAR-10 not found locally (no --data, {CIFAR10_DEFAULT_DIR} or ${CIFAR10_ARCHIVE_ENV}): downloading {CIFAR10_URL}");
    let tmp = crate::provenance::temp_sibling(&target);
    let status = std::process::Command::new("curl").args(["-fL", "--retry", "3", "-o"]).arg(&tmp).arg(CIFAR10_URL).status();
    let failed = |reason: String| {
        let _ = std::fs::remove_file(&tmp);
        DataError::Layout { path: target.clone(), reason }
    };
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(failed(format!("downloading {CIFAR10_URL} failed ({s}); set ${CIFAR10_ARCHIVE_ENV} to a local copy"))),
        Err(e) => return Err(failed(format!("cannot run curl to download {CIFAR10_URL} ({e}); set ${CIFAR10_ARCHIVE_ENV} to a local copy"))),
    }
    crate::provenance::commit_temp(&tmp, &target).map_err(|e| DataError::io(&target, e))?;
    Ok(target)
}

/// Loads `kind` (from `path` or its default location, through the cache in
/// `cache_dir`), pads Fashion-MNIST to 32×32, and describes the result.
/// With `verbose`, reports source, cache use and time on stderr.
pub fn open(kind: DatasetKind, path: Option<&Path>, cache_dir: &Path, verbose: bool) -> Result<(Splits, DatasetInfo), DataError> {
    let started = Instant::now();
    let (splits, source) = match kind {
        DatasetKind::Synthetic => (SyntheticSpec::default().generate(), None),
        DatasetKind::Imagenet => {
            return Err(DataError::NotOpenable {
                kind: kind.name().into(),
                reason: "ImageNet folders are read by the `imagenet` experiment (`relusym imagenet`)".into(),
            });
        }
        DatasetKind::Cifar10 | DatasetKind::FashionMnist => {
            let (source, builder): (PathBuf, Loader) = match kind {
                DatasetKind::Cifar10 => (cifar10_source(path)?, load_cifar10),
                _ => (path.map_or_else(|| PathBuf::from(FASHION_MNIST_DIR), Path::to_path_buf), load_fashion_mnist),
            };
            if verbose {
                eprintln!("loading {kind} from {}", source.display());
            }
            let (splits, status, cache_file) = load_or_build(&source, cache_dir, builder)?;
            if verbose {
                let how = match status {
                    CacheStatus::Hit => "read from cache",
                    CacheStatus::Built => "decoded and cached in",
                    CacheStatus::Rebuilt => "decoded again (cache was invalid) and cached in",
                    CacheStatus::NotWritten => "decoded (cache could not be written:",
                };
                eprintln!(
                    "  {how} {}{} ({:.1} s)",
                    cache_file.display(),
                    if status == CacheStatus::NotWritten { ")" } else { "" },
                    started.elapsed().as_secs_f64()
                );
            }
            let splits = if kind == DatasetKind::FashionMnist { splits.pad(2) } else { splits };
            (splits, Some(source))
        }
    };
    let info = DatasetInfo::describe(kind, source.as_deref(), &splits);
    if verbose {
        eprintln!("  {}: {} train / {} test images of {:?}", info.name, info.train_len, info.test_len, info.shape);
    }
    Ok((splits, info))
}

/// The shared JPEG copy of CIFAR-10, if this checkout has one
/// (`<crate>/../shared/data/` or `<crate>/shared/data/`, else `/work/shared/data/`).
#[cfg(test)]
pub(crate) fn shared_cifar_jpeg() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../shared/data/cifar10-jpeg.tar.gz"),
        manifest.join("shared/data/cifar10-jpeg.tar.gz"),
        PathBuf::from("/work/shared/data/cifar10-jpeg.tar.gz"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::test_util::temp_dir;

    #[test]
    fn open_synthetic_describes_the_generated_data() {
        let dir = temp_dir("open-syn");
        let (splits, info) = open(DatasetKind::Synthetic, None, &dir, false).unwrap();
        assert_eq!(info.kind, DatasetKind::Synthetic);
        let e = open(DatasetKind::Imagenet, None, &dir, false).unwrap_err();
        assert!(e.to_string().contains("relusym imagenet"), "{e}");
        assert_eq!(info.path, None);
        assert_eq!(info.shape, [3, 32, 32]);
        assert_eq!((info.train_len, info.test_len), (splits.train.len, splits.test.len));
        assert_eq!(info.classes.len(), 10);
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(serde_json::from_str::<DatasetInfo>(&json).unwrap(), info);
    }

    #[test]
    fn open_fashion_mnist_pads_to_32_and_caches() {
        let dir = temp_dir("open-fmnist");
        let idx = |magic: u32, dims: &[u32], data: &[u8]| {
            let mut out = magic.to_be_bytes().to_vec();
            dims.iter().for_each(|d| out.extend(d.to_be_bytes()));
            out.extend_from_slice(data);
            out
        };
        let src = dir.join("fm");
        std::fs::create_dir_all(&src).unwrap();
        for split in ["train", "t10k"] {
            std::fs::write(src.join(format!("{split}-images-idx3-ubyte")), idx(0x803, &[2, 28, 28], &[7; 2 * 28 * 28])).unwrap();
            std::fs::write(src.join(format!("{split}-labels-idx1-ubyte")), idx(0x801, &[2], &[3, 4])).unwrap();
        }
        let cache = dir.join("cache");
        let (a, info) = open(DatasetKind::FashionMnist, Some(&src), &cache, false).unwrap();
        assert_eq!(info.shape, [1, 32, 32]);
        assert_eq!(a.train.image(0)[0], 0);
        assert_eq!(a.train.image(0)[2 * 32 + 2], 7);
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 1);
        let (b, _) = open(DatasetKind::FashionMnist, Some(&src), &cache, false).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn explicit_cifar_path_wins() {
        assert_eq!(cifar10_source(Some(Path::new("/x/y.tar.gz"))).unwrap(), PathBuf::from("/x/y.tar.gz"));
    }
}
