//! Fashion-MNIST from IDX files.
//!
//! **IDX format** (big-endian): a 4-byte magic `0x00 0x00 <type> <ndim>` with
//! type `0x08` = unsigned byte, then `ndim` u32 dimension sizes, then the
//! `prod(dims)` data bytes. Image files have magic `0x00000803` and dims
//! `[N, 28, 28]` (row-major pixels, 0 = background); label files have magic
//! `0x00000801` and dims `[N]` with labels 0–9.
//!
//! Files are looked up in a folder as `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
//! each gzip-compressed (`.gz`, detected by its magic bytes) or raw. Debian's
//! `dataset-fashion-mnist` package installs the four `.gz` files in
//! [`FASHION_MNIST_DIR`].
//!
//! Images are 1×28×28; before they reach the model they are zero-padded to
//! 1×32×32 with [`Dataset::pad`]`(2)` (done by [`crate::data::open()`]) so that
//! VGG's five 2×2 max-pools divide evenly.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::DataError;
use super::{Dataset, DatasetKind, Splits};

/// Where Debian's `dataset-fashion-mnist` package installs the IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST class names in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// IDX magic of a 3-d unsigned-byte array (images).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic of a 1-d unsigned-byte array (labels).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// An unsigned-byte IDX array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimension sizes, outermost first.
    pub dims: Vec<usize>,
    /// `prod(dims)` bytes, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file (gzip or raw) and checks that its magic is `expected_magic`
/// (which fixes element type and rank) and that the data length matches the dims.
pub fn read_idx(path: &Path, expected_magic: u32) -> Result<IdxArray, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 2);
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| DataError::io(path, e))?;
        out
    } else {
        raw
    };
    parse_idx(path, &bytes, expected_magic)
}

/// Parses IDX bytes; `path` is only used in errors.
pub fn parse_idx(path: &Path, bytes: &[u8], expected_magic: u32) -> Result<IdxArray, DataError> {
    let size_err = |reason: String| DataError::IdxSize { path: path.to_path_buf(), reason };
    let magic = read_u32(bytes, 0).ok_or_else(|| size_err(format!("{} bytes is too short for the header", bytes.len())))?;
    if magic != expected_magic {
        return Err(DataError::IdxMagic { path: path.to_path_buf(), found: magic, expected: expected_magic });
    }
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    let dims: Vec<usize> = (0..ndim)
        .map(|k| read_u32(bytes, 4 + 4 * k).map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| size_err(format!("{} bytes is too short for {ndim} dimensions", bytes.len())))?;
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| size_err(format!("dimensions {dims:?} overflow")))?;
    let have = bytes.len() - header;
    if have != count {
        return Err(size_err(format!("dimensions {dims:?} need {count} data bytes, file has {have}")));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Finds `<dir>/<base>.gz` or `<dir>/<base>` (also `train-images.idx3-ubyte`
/// spellings with a dot).
fn find_idx(dir: &Path, base: &str) -> Result<PathBuf, DataError> {
    let dotted = base.replacen("-idx", ".idx", 1);
    for name in [format!("{base}.gz"), base.to_string(), format!("{dotted}.gz"), dotted] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::Layout { path: dir.to_path_buf(), reason: format!("missing IDX file {base}[.gz]") })
}

/// Reads an image IDX file (`[N, H, W]`) and its label IDX file (`[N]`) as a
/// 1×H×W dataset; labels must be `< classes.len()`.
pub fn load_idx_pair(images: &Path, labels: &Path, classes: &[&str], name: &str) -> Result<Dataset, DataError> {
    let img = read_idx(images, IDX_IMAGES_MAGIC)?;
    let lab = read_idx(labels, IDX_LABELS_MAGIC)?;
    let (n, h, w) = (img.dims[0], img.dims[1], img.dims[2]);
    if lab.dims[0] != n {
        return Err(DataError::IdxSize { path: labels.to_path_buf(), reason: format!("{} labels for {n} images in {}", lab.dims[0], images.display()) });
    }
    if let Some((record, &label)) = lab.data.iter().enumerate().find(|(_, l)| **l as usize >= classes.len()) {
        return Err(DataError::BadLabel { path: labels.to_path_buf(), record, label, classes: classes.len() });
    }
    let classes = classes.iter().map(|s| s.to_string()).collect();
    Dataset::new(name, DatasetKind::FashionMnist, img.data, lab.data, [1, h, w], classes)
}

/// Loads Fashion-MNIST (train 60,000, test 10,000 images of 1×28×28) from the
/// IDX files in `dir` (e.g. [`FASHION_MNIST_DIR`]).
pub fn load_fashion_mnist(dir: &Path) -> Result<Splits, DataError> {
    let meta = std::fs::metadata(dir).map_err(|e| DataError::io(dir, e))?;
    if !meta.is_dir() {
        return Err(DataError::Layout { path: dir.to_path_buf(), reason: "Fashion-MNIST expects a folder holding the four IDX files".into() });
    }
    let split = |prefix: &str| -> Result<Dataset, DataError> {
        load_idx_pair(
            &find_idx(dir, &format!("{prefix}-images-idx3-ubyte"))?,
            &find_idx(dir, &format!("{prefix}-labels-idx1-ubyte"))?,
            &FASHION_MNIST_CLASSES,
            if prefix == "train" { "fashion-mnist/train" } else { "fashion-mnist/test" },
        )
    };
    Ok(Splits { train: split("train")?, test: split("t10k")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::test_util::temp_dir;

    fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Writes a 3-image train split (gzip) and 2-image test split (raw) of 2×3 images.
    fn write_fixture(dir: &Path) -> (Vec<u8>, Vec<u8>) {
        let train: Vec<u8> = (0..18).collect();
        let test: Vec<u8> = (100..112).collect();
        let w = |name: &str, b: Vec<u8>| std::fs::write(dir.join(name), b).unwrap();
        w("train-images-idx3-ubyte.gz", gz(&idx_bytes(IDX_IMAGES_MAGIC, &[3, 2, 3], &train)));
        w("train-labels-idx1-ubyte.gz", gz(&idx_bytes(IDX_LABELS_MAGIC, &[3], &[9, 0, 4])));
        w("t10k-images-idx3-ubyte", idx_bytes(IDX_IMAGES_MAGIC, &[2, 2, 3], &test));
        w("t10k-labels-idx1-ubyte", idx_bytes(IDX_LABELS_MAGIC, &[2], &[1, 2]));
        (train, test)
    }

    #[test]
    fn idx_round_trip_gzip_and_raw() {
        let dir = temp_dir("idx");
        let (train, test) = write_fixture(&dir);
        let s = load_fashion_mnist(&dir).unwrap();
        assert_eq!((s.train.len, s.train.channels, s.train.height, s.train.width), (3, 1, 2, 3));
        assert_eq!(s.train.images, train);
        assert_eq!(s.train.labels, [9, 0, 4]);
        assert_eq!(s.test.images, test);
        assert_eq!(s.test.labels, [1, 2]);
        assert_eq!(s.train.classes[9], "Ankle boot");
    }

    #[test]
    fn idx_bad_magic_names_the_file() {
        let dir = temp_dir("idx-magic");
        write_fixture(&dir);
        let path = dir.join("t10k-labels-idx1-ubyte");
        std::fs::write(&path, idx_bytes(0x0000_0803, &[2, 1, 1], &[1, 2])).unwrap();
        let err = load_fashion_mnist(&dir).unwrap_err();
        assert!(matches!(err, DataError::IdxMagic { found: 0x803, .. }), "{err}");
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    }

    #[test]
    fn idx_size_mismatch_is_reported() {
        let dir = temp_dir("idx-size");
        let path = dir.join("x");
        std::fs::write(&path, idx_bytes(IDX_IMAGES_MAGIC, &[2, 2, 2], &[0; 7])).unwrap();
        let err = read_idx(&path, IDX_IMAGES_MAGIC).unwrap_err();
        assert!(matches!(err, DataError::IdxSize { .. }), "{err}");
        std::fs::write(&path, [0u8, 0]).unwrap();
        assert!(matches!(read_idx(&path, IDX_IMAGES_MAGIC), Err(DataError::IdxSize { .. })));
    }

    #[test]
    fn idx_label_count_mismatch_and_bad_label_are_errors() {
        let dir = temp_dir("idx-labels");
        write_fixture(&dir);
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_bytes(IDX_LABELS_MAGIC, &[1], &[1])).unwrap();
        assert!(matches!(load_fashion_mnist(&dir), Err(DataError::IdxSize { .. })));
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_bytes(IDX_LABELS_MAGIC, &[2], &[1, 10])).unwrap();
        let err = load_fashion_mnist(&dir).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { record: 1, label: 10, .. }), "{err}");
    }

    #[test]
    fn missing_idx_file_is_named() {
        let dir = temp_dir("idx-missing");
        let msg = load_fashion_mnist(&dir).unwrap_err().to_string();
        assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    }

    /// Loads the installed Debian copy if present and checks counts and the
    /// documented normalisation constants (mean/std of all training pixels).
    #[test]
    fn real_fashion_mnist_has_6000_per_class_and_documented_stats() {
        let dir = Path::new(FASHION_MNIST_DIR);
        if !dir.join("train-images-idx3-ubyte.gz").is_file() {
            eprintln!("skipping: Fashion-MNIST not installed in {}", dir.display());
            return;
        }
        let s = load_fashion_mnist(dir).unwrap();
        assert_eq!((s.train.len, s.test.len), (60_000, 10_000));
        assert_eq!((s.train.height, s.train.width), (28, 28));
        assert_eq!(s.train.class_counts(), vec![6000; 10]);
        assert_eq!(s.test.class_counts(), vec![1000; 10]);
        let (mean, std) = s.train.channel_stats();
        eprintln!("Fashion-MNIST train pixel mean {:.6} std {:.6}", mean[0], std[0]);
        assert!((mean[0] - crate::data::FASHION_MNIST_MEAN[0] as f64).abs() < 5e-4, "{mean:?}");
        assert!((std[0] - crate::data::FASHION_MNIST_STD[0] as f64).abs() < 5e-4, "{std:?}");
        let padded = s.test.pad(2);
        assert_eq!((padded.height, padded.width), (32, 32));
    }
}
