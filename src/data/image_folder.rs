//! Image-folder datasets (the layout of image copies of CIFAR-10).
//!
//! Layout (in a folder or a `.tar.gz`, optionally below **one** top-level
//! directory such as `cifar10/`):
//!
//! ```text
//! [prefix/]train/<class>/<file>.png|jpg|jpeg
//! [prefix/]test/<class>/<file>.png|jpg|jpeg
//! ```
//!
//! Files are taken in name order (so the dataset is deterministic); other files
//! (READMEs, hidden files) are ignored. Every image is decoded with the `image`
//! crate (format from the file's magic bytes), checked against the expected
//! size, converted to RGB, and stored channel-major (C×H×W) in a [`Dataset`].
//! Decoding runs on all available cores; the result does not depend on the
//! number of threads.

use std::path::Path;

use super::error::DataError;
use super::parallel::fill_in_parallel;
use super::source::{Member, read_members};
use super::{Dataset, DatasetKind, Splits};

/// How to read an image folder.
#[derive(Debug, Clone)]
pub struct FolderSpec {
    /// Dataset name; splits are named `"<name>/train"`, `"<name>/test"`.
    pub name: String,
    /// What the images are (fixes their normalisation); they are read as RGB.
    pub kind: DatasetKind,
    /// Class order (label `k` = `classes[k]`); a class folder not in the list is an error.
    pub classes: Vec<String>,
    /// Required `(height, width)` of every image.
    pub size: (usize, usize),
}

/// True for file names with an image extension (`png`, `jpg`, `jpeg`;
/// case-insensitive).
pub fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg")
}

/// Splits an image member name `[prefix/]split/class/file` into
/// `(prefix, split, class)`; `None` for other names (wrong depth, not an image).
pub fn parse_member_name(name: &str) -> Option<(&str, &str, &str)> {
    if !is_image_name(name) {
        return None;
    }
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [split, class, _file] => Some(("", split, class)),
        [prefix, split, class, _file] => Some((prefix, split, class)),
        _ => None,
    }
}

/// Reads the `train` and `test` splits of an image folder (folder or `.tar.gz`)
/// in one pass.
pub fn load_image_folder(source: &Path, spec: &FolderSpec) -> Result<Splits, DataError> {
    let members = read_members(source, |n| matches!(parse_member_name(n), Some((_, "train" | "test", _))))?;
    splits_from_members(source, members, spec)
}

/// Builds train/test datasets from already-read members named
/// `[prefix/]split/class/file` (members of other shapes are ignored).
pub fn splits_from_members(source: &Path, members: Vec<Member>, spec: &FolderSpec) -> Result<Splits, DataError> {
    let members: Vec<Member> = members.into_iter().filter(|m| parse_member_name(&m.name).is_some()).collect();
    check_single_prefix(source, &members)?;
    let split = |want: &str| {
        let of_split: Vec<&Member> = members.iter().filter(|m| matches!(parse_member_name(&m.name), Some((_, s, _)) if s == want)).collect();
        decode_split(source, want, &of_split, spec)
    };
    Ok(Splits { train: split("train")?, test: split("test")? })
}

/// Errors if the images sit below more than one distinct top-level prefix.
fn check_single_prefix(source: &Path, members: &[Member]) -> Result<(), DataError> {
    let mut prefixes = members.iter().filter_map(|m| parse_member_name(&m.name).map(|(p, _, _)| p));
    let Some(first) = prefixes.next() else { return Ok(()) };
    match prefixes.find(|&p| p != first) {
        Some(other) => {
            Err(DataError::Layout { path: source.to_path_buf(), reason: format!("images under two different top-level folders ({first:?} and {other:?})") })
        }
        None => Ok(()),
    }
}

/// Decodes the members of one split (sorted by name) into a dataset.
pub(crate) fn decode_split(source: &Path, split: &str, members: &[&Member], spec: &FolderSpec) -> Result<Dataset, DataError> {
    if members.is_empty() {
        return Err(DataError::Empty { path: source.to_path_buf(), what: format!("images under {split}/<class>/") });
    }
    // Labels first: unknown class folders are reported before any decoding.
    let mut labels = Vec::with_capacity(members.len());
    for m in members {
        let class = parse_member_name(&m.name).map(|(_, _, c)| c).unwrap_or_default();
        match spec.classes.iter().position(|c| c == class) {
            Some(k) if k < 256 => labels.push(k as u8),
            _ => {
                return Err(DataError::UnknownClass {
                    path: source.to_path_buf(),
                    member: m.name.clone(),
                    folder: class.to_string(),
                    known: spec.classes.clone(),
                });
            }
        }
    }
    let (height, width) = spec.size;
    let size = 3 * height * width;
    if size == 0 {
        return Err(DataError::Layout { path: source.to_path_buf(), reason: format!("image size {height}x{width} is empty") });
    }
    let mut images = vec![0u8; members.len() * size];
    fill_in_parallel(members, &mut images, size, |m, dst| decode_into(source, m, height, width, dst))?;
    Dataset::new(format!("{}/{split}", spec.name), spec.kind, images, labels, [3, height, width], spec.classes.clone())
}

/// Decodes one member, checks its size and writes it as RGB planes (C×H×W) into `dst`.
fn decode_into(source: &Path, m: &Member, height: usize, width: usize, dst: &mut [u8]) -> Result<(), DataError> {
    let img = image::load_from_memory(&m.data).map_err(|e| DataError::Decode { path: source.to_path_buf(), member: m.name.clone(), source: e })?.into_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (h, w) != (height, width) {
        return Err(DataError::ImageSize {
            path: source.to_path_buf(),
            member: m.name.clone(),
            expected_width: width,
            expected_height: height,
            actual_width: w,
            actual_height: h,
        });
    }
    rgb_planes(img.as_raw().chunks_exact(3 * w), dst);
    Ok(())
}

/// Writes RGB rows (interleaved `RGBRGB…`, all of one width) into `dst` as three planes, R then
/// G then B (`dst` holds exactly `3 ×` the rows' pixels).
pub(crate) fn rgb_planes<'a>(rows: impl Iterator<Item = &'a [u8]>, dst: &mut [u8]) {
    let plane = dst.len() / 3;
    let (r, rest) = dst.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in rows.flat_map(|row| row.chunks_exact(3)).enumerate() {
        r[i] = px[0];
        g[i] = px[1];
        b[i] = px[2];
    }
}

#[cfg(test)]
pub(crate) mod test_images {
    //! PNG writing for tests.
    use std::io::Cursor;

    /// Encodes a C×H×W (C = 1 or 3) image as PNG bytes.
    pub fn png_bytes(chw: &[u8], c: usize, h: usize, w: usize) -> Vec<u8> {
        let mut buf = Vec::new();
        let plane = h * w;
        if c == 1 {
            let img = image::GrayImage::from_raw(w as u32, h as u32, chw.to_vec()).unwrap();
            img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png).unwrap();
        } else {
            let mut hwc = vec![0u8; 3 * plane];
            for i in 0..plane {
                for ch in 0..3 {
                    hwc[3 * i + ch] = chw[ch * plane + i];
                }
            }
            let img = image::RgbImage::from_raw(w as u32, h as u32, hwc).unwrap();
            img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png).unwrap();
        }
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::test_images::png_bytes;
    use super::*;
    use crate::data::source::test_util::{temp_dir, write_tar_gz, write_tree};

    /// Deterministic pseudo-random 3×4×5 image number `k`.
    fn pixels(k: usize) -> Vec<u8> {
        (0..3 * 4 * 5).map(|i| ((i * 37 + k * 101) % 256) as u8).collect()
    }

    fn tree(prefix: &str) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for (split, n) in [("train", 3), ("test", 2)] {
            for class in ["dog", "cat"] {
                for i in 0..n {
                    let k = files.len();
                    files.push((format!("{prefix}{split}/{class}/{i:04}.png"), png_bytes(&pixels(k), 3, 4, 5)));
                }
            }
        }
        files.push((format!("{prefix}README.txt"), b"not an image".to_vec()));
        files
    }

    fn spec(classes: &[&str]) -> FolderSpec {
        FolderSpec { name: "toy".into(), kind: DatasetKind::Synthetic, classes: classes.iter().map(|c| c.to_string()).collect(), size: (4, 5) }
    }

    fn check(splits: &Splits, files: &[(String, Vec<u8>)]) {
        assert_eq!(splits.train.classes, ["cat", "dog"]);
        assert_eq!((splits.train.len, splits.test.len), (6, 4));
        assert_eq!((splits.train.channels, splits.train.height, splits.train.width), (3, 4, 5));
        // Sorted by name: cat images (written as k = 3..6) come first with label 0.
        assert_eq!(splits.train.labels, [0, 0, 0, 1, 1, 1]);
        assert_eq!(splits.train.image(0), pixels(3).as_slice());
        assert_eq!(splits.train.image(3), pixels(0).as_slice());
        assert_eq!(splits.test.image(0), pixels(8).as_slice());
        assert_eq!(files.len(), 11);
    }

    #[test]
    fn image_folder_loader_reads_a_png_tree() {
        let dir = temp_dir("imgfolder");
        let files = tree("");
        write_tree(&dir, &files);
        check(&load_image_folder(&dir, &spec(&["cat", "dog"])).unwrap(), &files);
    }

    #[test]
    fn image_folder_loader_reads_a_tar_gz_with_top_level_prefix() {
        let dir = temp_dir("imgtar");
        let files = tree("toy/");
        let path = dir.join("toy.tar.gz");
        write_tar_gz(&path, &files);
        check(&load_image_folder(&path, &spec(&["cat", "dog"])).unwrap(), &files);
    }

    #[test]
    fn unknown_class_folder_is_an_error_naming_folder_and_source() {
        let dir = temp_dir("imgunknown");
        write_tree(&dir, &tree(""));
        let err = load_image_folder(&dir, &spec(&["cat", "bird"])).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::UnknownClass { ref folder, .. } if folder == "dog"), "{msg}");
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
    }

    #[test]
    fn wrong_image_size_names_the_member() {
        let dir = temp_dir("imgsize");
        write_tree(&dir, &tree(""));
        let mut s = spec(&["cat", "dog"]);
        s.size = (5, 5);
        let err = load_image_folder(&dir, &s).unwrap_err();
        assert!(err.to_string().contains("train/cat/0000.png"), "{err}");
    }

    #[test]
    fn undecodable_image_names_the_member() {
        let dir = temp_dir("imgbad");
        let mut files = tree("");
        files.push(("train/cat/9999.jpg".into(), b"garbage".to_vec()));
        write_tree(&dir, &files);
        let err = load_image_folder(&dir, &spec(&["cat", "dog"])).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err}");
        assert!(err.to_string().contains("train/cat/9999.jpg"), "{err}");
    }

    #[test]
    fn grayscale_images_are_read_as_three_equal_planes() {
        let dir = temp_dir("imggray");
        let img: Vec<u8> = (0..20).collect();
        write_tree(&dir, &[("train/a/0.png".into(), png_bytes(&img, 1, 4, 5)), ("test/a/0.png".into(), png_bytes(&img, 1, 4, 5))]);
        let splits = load_image_folder(&dir, &spec(&["a"])).unwrap();
        assert_eq!(splits.test.channels, 3);
        assert_eq!(splits.test.images, img.repeat(3));
    }

    #[test]
    fn missing_split_is_an_empty_error() {
        let dir = temp_dir("imgempty");
        write_tree(&dir, &[("train/a/0.png".into(), png_bytes(&[0; 20], 1, 4, 5))]);
        let err = load_image_folder(&dir, &spec(&["a"])).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }), "{err}");
    }

    #[test]
    fn two_top_level_folders_are_a_layout_error() {
        let dir = temp_dir("imgprefix");
        let mut files = tree("a/");
        files.extend(tree("b/"));
        write_tree(&dir, &files);
        let err = load_image_folder(&dir, &spec(&["cat", "dog"])).unwrap_err();
        assert!(matches!(err, DataError::Layout { .. }), "{err}");
    }
}
