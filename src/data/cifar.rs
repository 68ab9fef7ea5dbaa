//! CIFAR-10 loaders.
//!
//! Two layouts are understood; [`load_cifar10`] detects which one it is given.
//!
//! **Official binary version** (`cifar-10-binary.tar.gz`, members under
//! `cifar-10-batches-bin/`): files `data_batch_1.bin` … `data_batch_5.bin`
//! (training, 10,000 records each) and `test_batch.bin` (10,000 records). A
//! record is 3073 bytes: 1 label byte (0–9) followed by 3072 pixel bytes, the
//! 32×32 red plane, then green, then blue (each plane row-major), exactly the
//! C×H×W layout of [`Dataset`]. Accepted as the archive itself, a folder
//! holding the archive, the extracted `cifar-10-batches-bin/` folder, or its
//! parent.
//!
//! **Image folder** (`train/<class>/*.jpg|png`, `test/<class>/…`, in a folder
//! or `.tar.gz`, optionally below one top-level folder), e.g. the
//! `cifar10-jpeg.tar.gz` copy. Folder names must be the class names of
//! [`CIFAR10_CLASSES`] and are mapped to their official indices; images must be
//! 32×32 and are converted to RGB.
//!
//! Labels follow the official order [`CIFAR10_CLASSES`] in both layouts.

use std::path::Path;

use super::error::DataError;
use super::image_folder::{self, FolderSpec, parse_member_name};
use super::source::{Member, is_tar_gz, read_members};
use super::{Dataset, DatasetKind, Splits};

/// CIFAR-10 class names in label order.
pub const CIFAR10_CLASSES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Bytes per record of the binary format: 1 label + 3×32×32 pixels.
pub const RECORD_SIZE: usize = 1 + 3 * 32 * 32;

/// Training batch files of the binary format, in order.
pub const TRAIN_BATCHES: [&str; 5] = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// Test batch file of the binary format.
pub const TEST_BATCH: &str = "test_batch.bin";
/// Folder name of the extracted binary archive.
pub const BINARY_DIR: &str = "cifar-10-batches-bin";
/// File name of the official binary archive.
pub const BINARY_ARCHIVE: &str = "cifar-10-binary.tar.gz";

fn class_names() -> Vec<String> {
    CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
}

/// The image-folder spec for CIFAR-10: official classes, RGB, 32×32; splits
/// named `cifar10-images/train`, `cifar10-images/test` (see [`load_cifar10`]).
pub fn folder_spec() -> FolderSpec {
    FolderSpec { name: "cifar10-images".into(), kind: DatasetKind::Cifar10, classes: class_names(), size: (32, 32) }
}

/// Loads CIFAR-10 (train: 50,000, test: 10,000 images of 3×32×32 for the real
/// data) from any supported layout; see the module docs. The splits are named
/// after the layout: `cifar10/…` for the official binaries, `cifar10-jpeg/…`
/// for an image folder holding JPEG files (lossy copies), `cifar10-images/…`
/// for other image folders.
pub fn load_cifar10(path: &Path) -> Result<Splits, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        if path.join(TRAIN_BATCHES[0]).is_file() {
            return load_binary_dir(path);
        }
        if path.join(BINARY_DIR).join(TRAIN_BATCHES[0]).is_file() {
            return load_binary_dir(&path.join(BINARY_DIR));
        }
        if path.join(BINARY_ARCHIVE).is_file() {
            return load_cifar10(&path.join(BINARY_ARCHIVE));
        }
        let members = read_members(path, is_image_member)?;
        if members.is_empty() {
            return Err(layout_error(path));
        }
        return images_to_splits(path, members);
    }
    if !is_tar_gz(path) {
        return Err(layout_error(path));
    }
    // One pass over the archive, keeping both kinds of candidate members.
    let members = read_members(path, |n| batch_name(n).is_some() || is_image_member(n))?;
    let (batches, images): (Vec<Member>, Vec<Member>) = members.into_iter().partition(|m| batch_name(&m.name).is_some());
    if !batches.is_empty() {
        binary_from_members(path, &batches)
    } else if !images.is_empty() {
        images_to_splits(path, images)
    } else {
        Err(layout_error(path))
    }
}

/// Decodes image-folder members with [`folder_spec`], naming the splits
/// `cifar10-jpeg` when any member is a JPEG.
fn images_to_splits(path: &Path, members: Vec<Member>) -> Result<Splits, DataError> {
    let mut spec = folder_spec();
    let jpeg = members.iter().any(|m| {
        let n = m.name.to_ascii_lowercase();
        n.ends_with(".jpg") || n.ends_with(".jpeg")
    });
    if jpeg {
        spec.name = "cifar10-jpeg".into();
    }
    image_folder::splits_from_members(path, members, &spec)
}

fn layout_error(path: &Path) -> DataError {
    DataError::Layout {
        path: path.to_path_buf(),
        reason: format!(
            "expected CIFAR-10 binary batches ({} … {}, {TEST_BATCH}, possibly in {BINARY_DIR}/ or \
             {BINARY_ARCHIVE}) or image folders train/<class>/*.jpg|png and test/<class>/… \
             (folder or .tar.gz)",
            TRAIN_BATCHES[0], TRAIN_BATCHES[4]
        ),
    }
}

fn is_image_member(name: &str) -> bool {
    matches!(parse_member_name(name), Some((_, "train" | "test", _)))
}

/// The batch file name if `member` (any folder) is one of the six batch files.
fn batch_name(member: &str) -> Option<&str> {
    let file = member.rsplit('/').next().unwrap_or(member);
    (TRAIN_BATCHES.contains(&file) || file == TEST_BATCH).then_some(file)
}

fn load_binary_dir(dir: &Path) -> Result<Splits, DataError> {
    let mut members = Vec::new();
    for name in TRAIN_BATCHES.iter().chain([&TEST_BATCH]) {
        let path = dir.join(name);
        let data = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        members.push(Member { name: name.to_string(), data });
    }
    binary_from_members(dir, &members)
}

/// Assembles the splits from the six batch members (matched by file name).
fn binary_from_members(source: &Path, members: &[Member]) -> Result<Splits, DataError> {
    let find = |file: &str| -> Result<&Member, DataError> {
        let mut found = members.iter().filter(|m| batch_name(&m.name) == Some(file));
        match (found.next(), found.next()) {
            (Some(m), None) => Ok(m),
            (None, _) => Err(DataError::Layout { path: source.to_path_buf(), reason: format!("CIFAR-10 binary batch {file} is missing") }),
            (Some(a), Some(b)) => Err(DataError::Layout { path: source.to_path_buf(), reason: format!("two copies of {file}: {} and {}", a.name, b.name) }),
        }
    };
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for file in TRAIN_BATCHES {
        let m = find(file)?;
        parse_batch(&m.location(source), &m.data, &mut images, &mut labels)?;
    }
    let train = Dataset::new("cifar10/train", DatasetKind::Cifar10, images, labels, [3, 32, 32], class_names())?;
    let m = find(TEST_BATCH)?;
    let test = parse_cifar_batch(&m.location(source), &m.data, "cifar10/test")?;
    Ok(Splits { train, test })
}

/// Parses the bytes of one binary batch; `path` is only used in errors.
pub fn parse_cifar_batch(path: &Path, bytes: &[u8], name: &str) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    parse_batch(path, bytes, &mut images, &mut labels)?;
    Dataset::new(name, DatasetKind::Cifar10, images, labels, [3, 32, 32], class_names())
}

/// Appends the records of `bytes` to `images` (N×3×32×32) and `labels`.
fn parse_batch(path: &Path, bytes: &[u8], images: &mut Vec<u8>, labels: &mut Vec<u8>) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.to_path_buf(), what: "CIFAR-10 records (file is empty)".into() });
    }
    if !bytes.len().is_multiple_of(RECORD_SIZE) {
        return Err(DataError::Truncated { path: path.to_path_buf(), record_size: RECORD_SIZE, record: bytes.len() / RECORD_SIZE, actual: bytes.len() as u64 });
    }
    let n = bytes.len() / RECORD_SIZE;
    images.reserve(n * (RECORD_SIZE - 1));
    labels.reserve(n);
    for (record, chunk) in bytes.chunks_exact(RECORD_SIZE).enumerate() {
        let label = chunk[0];
        if label as usize >= CIFAR10_CLASSES.len() {
            return Err(DataError::BadLabel { path: path.to_path_buf(), record, label, classes: CIFAR10_CLASSES.len() });
        }
        labels.push(label);
        images.extend_from_slice(&chunk[1..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One binary batch file (any number of records) as a dataset.
    fn read_cifar_batch(path: &Path) -> Result<Dataset, DataError> {
        parse_cifar_batch(path, &std::fs::read(path).unwrap(), "cifar10/batch")
    }
    use crate::data::image_folder::test_images::png_bytes;
    use crate::data::source::test_util::{temp_dir, write_tar_gz, write_tree};

    /// `n` records with labels `(seed + i) % 10` and seeded pixel bytes.
    fn records(n: usize, seed: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(((seed + i) % 10) as u8);
            out.extend((0..3072).map(|j| ((j * 7 + i * 13 + seed * 29) % 256) as u8));
        }
        out
    }

    fn batch_files(prefix: &str) -> Vec<(String, Vec<u8>)> {
        TRAIN_BATCHES.iter().chain([&TEST_BATCH]).enumerate().map(|(k, f)| (format!("{prefix}{f}"), records(3, k))).collect()
    }

    fn check_binary(s: &Splits) {
        assert_eq!((s.train.name.as_str(), s.test.name.as_str()), ("cifar10/train", "cifar10/test"));
        assert_eq!((s.train.len, s.test.len), (15, 3));
        assert_eq!(s.train.classes, CIFAR10_CLASSES);
        // Record 1 of data_batch_2 is train image 4.
        assert_eq!(s.train.image(4), &records(3, 1)[RECORD_SIZE + 1..2 * RECORD_SIZE]);
        assert_eq!(s.train.labels[4], 2);
        assert_eq!(s.test.labels, [5, 6, 7]);
    }

    #[test]
    fn binary_batch_round_trips_a_three_record_file() {
        let dir = temp_dir("cifar-bin1");
        let path = dir.join("data_batch_1.bin");
        let bytes = records(3, 4);
        std::fs::write(&path, &bytes).unwrap();
        let d = read_cifar_batch(&path).unwrap();
        assert_eq!((d.len, d.channels, d.height, d.width), (3, 3, 32, 32));
        assert_eq!(d.labels, [4, 5, 6]);
        for i in 0..3 {
            assert_eq!(d.image(i), &bytes[i * RECORD_SIZE + 1..(i + 1) * RECORD_SIZE]);
        }
    }

    #[test]
    fn binary_loader_reads_folder_parent_folder_and_tar_gz() {
        let dir = temp_dir("cifar-bin");
        write_tree(&dir, &batch_files("cifar-10-batches-bin/"));
        check_binary(&load_cifar10(&dir.join(BINARY_DIR)).unwrap());
        check_binary(&load_cifar10(&dir).unwrap());
        let tar_dir = temp_dir("cifar-bintar");
        let tar = tar_dir.join(BINARY_ARCHIVE);
        write_tar_gz(&tar, &batch_files("cifar-10-batches-bin/"));
        check_binary(&load_cifar10(&tar).unwrap());
        check_binary(&load_cifar10(&tar_dir).unwrap());
    }

    #[test]
    fn truncated_cifar_batch_names_the_file() {
        let dir = temp_dir("cifar-trunc");
        let path = dir.join("data_batch_1.bin");
        let bytes = records(3, 0);
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let err = read_cifar_batch(&path).unwrap_err();
        assert!(matches!(err, DataError::Truncated { record: 2, .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn truncated_batch_inside_tar_names_archive_and_member() {
        let dir = temp_dir("cifar-trunc-tar");
        let mut files = batch_files("cifar-10-batches-bin/");
        files[2].1.truncate(100);
        let tar = dir.join(BINARY_ARCHIVE);
        write_tar_gz(&tar, &files);
        let msg = load_cifar10(&tar).unwrap_err().to_string();
        assert!(msg.contains("cifar-10-binary.tar.gz/cifar-10-batches-bin/data_batch_3.bin"), "{msg}");
    }

    #[test]
    fn bad_label_byte_names_the_file_and_record() {
        let dir = temp_dir("cifar-label");
        let path = dir.join("test_batch.bin");
        let mut bytes = records(3, 0);
        bytes[RECORD_SIZE] = 10;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_cifar_batch(&path).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { record: 1, label: 10, .. }), "{err}");
        assert!(err.to_string().contains("test_batch.bin"), "{err}");
    }

    #[test]
    fn missing_batch_is_a_layout_error() {
        let dir = temp_dir("cifar-missing");
        let mut files = batch_files("");
        files.remove(4);
        let tar = dir.join("x.tar.gz");
        write_tar_gz(&tar, &files);
        let msg = load_cifar10(&tar).unwrap_err().to_string();
        assert!(msg.contains("data_batch_5.bin is missing"), "{msg}");
    }

    #[test]
    fn image_folder_cifar_maps_folders_to_official_indices() {
        let dir = temp_dir("cifar-img");
        let img = |v: u8| png_bytes(&[v; 3 * 32 * 32], 3, 32, 32);
        let files = vec![
            ("cifar/train/truck/0000.png".to_string(), img(9)),
            ("cifar/train/airplane/0000.png".to_string(), img(0)),
            ("cifar/train/cat/0001.png".to_string(), img(31)),
            ("cifar/train/cat/0000.png".to_string(), img(30)),
            ("cifar/test/dog/0000.png".to_string(), img(5)),
        ];
        let tar = dir.join("c.tar.gz");
        write_tar_gz(&tar, &files);
        write_tree(&dir.join("tree"), &files);
        for s in [load_cifar10(&tar).unwrap(), load_cifar10(&dir.join("tree/cifar")).unwrap()] {
            assert_eq!(s.train.labels, [0, 3, 3, 9]);
            assert_eq!(s.train.image(1)[0], 30);
            assert_eq!(s.train.image(2)[0], 31);
            assert_eq!(s.test.labels, [5]);
            assert_eq!(s.test.class_counts()[5], 1);
            assert_eq!(s.train.name, "cifar10-images/train");
        }
    }

    #[test]
    fn image_folder_cifar_rejects_unknown_class() {
        let dir = temp_dir("cifar-img-unknown");
        let img = png_bytes(&[0; 3 * 32 * 32], 3, 32, 32);
        write_tree(&dir, &[("train/cats/0.png".into(), img.clone()), ("test/cat/0.png".into(), img)]);
        let err = load_cifar10(&dir).unwrap_err();
        assert!(matches!(err, DataError::UnknownClass { ref folder, .. } if folder == "cats"), "{err}");
    }

    #[test]
    fn unrecognised_folder_is_a_layout_error() {
        let dir = temp_dir("cifar-nothing");
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert!(matches!(load_cifar10(&dir).unwrap_err(), DataError::Layout { .. }));
    }

    /// Reads the test split of the real JPEG copy if it is present (≈1–2 s):
    /// 1,000 images per class, 3×32×32, channel means close to CIFAR-10's.
    #[test]
    fn real_cifar_jpeg_archive_test_split_has_1000_per_class() {
        let Some(path) = crate::data::open::shared_cifar_jpeg() else {
            eprintln!("skipping: shared/data/cifar10-jpeg.tar.gz not present");
            return;
        };
        let path = path.as_path();
        let members = read_members(path, |n| matches!(parse_member_name(n), Some((_, "test", _)))).unwrap();
        let test = image_folder::decode_split(path, "test", &members.iter().collect::<Vec<_>>(), &folder_spec()).unwrap();
        assert_eq!(test.len, 10_000);
        assert_eq!(test.class_counts(), vec![1000; 10]);
        let (mean, _) = test.channel_stats();
        for (m, want) in mean.iter().zip(crate::data::CIFAR10_MEAN) {
            assert!((m - want as f64).abs() < 0.02, "{mean:?}");
        }
    }
}
