//! ImageNet-style image folders, decoded lazily: `DIR/<class>/<file>.JPEG|jpg|jpeg|png`, classes
//! sorted by folder name (label `k` = the `k`-th), files sorted by name within a class.
//!
//! Preprocessing is what torchvision's `IMAGENET1K_V2` weights expect ([`Preprocess`]): decode,
//! convert to RGB, resize so that the shorter side is 232 (bilinear with antialiasing: the
//! `image` crate's triangle filter, whose support widens when downsampling as PIL's does), crop
//! the central 224×224, scale to `[0, 1]` and normalise with ImageNet's mean and std
//! ([`IMAGENET_MEAN`], [`IMAGENET_STD`]).
//!
//! # Memory
//!
//! A [`FolderIndex`] holds only paths and labels. Images are decoded when asked for, on every
//! core:
//! * [`FolderIndex::load_dataset`] decodes a (small) set of images into a [`Dataset`] of `u8`
//!   crops — the statistics stream: 5,000 crops of 3×224×224 are 750 MB, against 3 GB as f32.
//!   `Dataset` labels are `u8`, too small for 1,000 classes, and statistics need none, so the
//!   images are stored unlabelled (one class).
//! * [`FolderIndex::batches`] streams normalised f32 batches with their labels, decoding one batch
//!   at a time — the evaluation stream: 50,000 validation images never sit in memory together
//!   (one batch of 64 is 38 MB of f32).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::image_folder::{is_image_name, rgb_planes};
use super::parallel::fill_in_parallel;
use super::source::list_dir_files;
use super::{Dataset, DatasetKind};

/// ImageNet's per-channel mean (RGB, `[0, 1]` scale), as torchvision normalises.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (RGB, `[0, 1]` scale), as torchvision normalises.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Resize-then-centre-crop preprocessing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preprocess {
    /// The shorter side is resized to this (torchvision's `Resize(232)`). Default 232.
    pub resize: u32,
    /// The central `crop × crop` square is kept (`CenterCrop(224)`). Default 224.
    pub crop: u32,
}

impl Default for Preprocess {
    fn default() -> Self {
        Self { resize: 232, crop: 224 }
    }
}

impl Preprocess {
    /// Check that the crop fits in the resized image and is not empty.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.crop == 0 || self.resize < self.crop {
            return Err(DataError::Invalid {
                name: "preprocessing".into(),
                reason: format!("need 0 < crop ≤ resize, got resize {} and crop {}", self.resize, self.crop),
            });
        }
        Ok(())
    }

    /// Decode the image file at `path` and return its `3 × crop × crop` centre crop (RGB,
    /// channel-major, `u8`).
    pub fn load(&self, path: &Path) -> Result<Vec<u8>, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
        let img =
            image::load_from_memory(&bytes).map_err(|source| DataError::Decode { path: path.to_path_buf(), member: file_name(path), source })?.into_rgb8();
        Ok(self.apply(&img))
    }

    /// Resize `img` (shorter side to `resize`, the longer one scaled and truncated, as
    /// torchvision) and cut out the central `crop × crop` square (offsets rounded as
    /// torchvision's `CenterCrop`). Returns `3 × crop × crop` bytes, channel-major. (A `resize`
    /// below `crop`, which [`Preprocess::validate`] rejects, is taken as `crop`.)
    pub fn apply(&self, img: &image::RgbImage) -> Vec<u8> {
        let (w, h) = (img.width().max(1), img.height().max(1));
        let short = self.resize.max(self.crop);
        let (nw, nh) = if w <= h {
            (short, ((short as u64 * h as u64) / w as u64).max(self.crop as u64) as u32)
        } else {
            (((short as u64 * w as u64) / h as u64).max(self.crop as u64) as u32, short)
        };
        let resized = if (nw, nh) == (w, h) { img.clone() } else { image::imageops::resize(img, nw, nh, FilterType::Triangle) };
        let c = self.crop as usize;
        let top = ((nh - self.crop) as f64 / 2.0).round() as usize;
        let left = ((nw - self.crop) as f64 / 2.0).round() as usize;
        let stride = nw as usize * 3;
        let rows = resized.as_raw().chunks_exact(stride).skip(top).take(c).map(|row| &row[left * 3..(left + c) * 3]);
        let mut out = vec![0u8; 3 * c * c];
        rgb_planes(rows, &mut out);
        out
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The images of a class-folder tree: paths and labels, nothing decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderIndex {
    /// The folder.
    pub root: PathBuf,
    /// Class folder names, sorted; label `k` is `classes[k]`.
    pub classes: Vec<String>,
    /// Image files with their labels, class by class, each class's files sorted by name.
    pub files: Vec<(PathBuf, usize)>,
}

impl FolderIndex {
    /// Scan `root/<class>/<image>`: the classes are the folders holding at least one image
    /// (hidden entries, non-image files, loose files in `root` and deeper files are skipped).
    /// Fails if `root` cannot be read or holds no images.
    pub fn scan(root: &Path) -> Result<FolderIndex, DataError> {
        let mut found: Vec<(String, String)> = list_dir_files(root)?
            .into_iter()
            .filter_map(|name| match name.split_once('/') {
                Some((class, file)) if !file.contains('/') && is_image_name(file) => Some((class.to_string(), name)),
                _ => None,
            })
            .collect();
        found.sort();
        let (mut classes, mut files): (Vec<String>, Vec<(PathBuf, usize)>) = (Vec::new(), Vec::new());
        for (class, name) in found {
            if classes.last() != Some(&class) {
                classes.push(class);
            }
            files.push((root.join(name), classes.len() - 1));
        }
        if files.is_empty() {
            return Err(DataError::Empty { path: root.to_path_buf(), what: "images under <class>/".into() });
        }
        Ok(FolderIndex { root: root.to_path_buf(), classes, files })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// A class-stratified sample of `n` images (all of them for `None` or `n ≥ len`): class `k`
    /// gets `round(n · count_k / len)` images (largest remainders first, so the total is exact),
    /// drawn by a shuffle seeded with `seed` within the class, kept in index order.
    pub fn stratified(&self, n: Option<usize>, seed: u64) -> FolderIndex {
        let len = self.files.len();
        let Some(n) = n.filter(|&n| n < len) else { return self.clone() };
        let idx = super::stratified_indices(self.files.iter().map(|(_, l)| *l), self.classes.len(), n, seed);
        FolderIndex { root: self.root.clone(), classes: self.classes.clone(), files: idx.into_iter().map(|i| self.files[i].clone()).collect() }
    }

    /// Decode every image (on all cores) into an unlabelled [`Dataset`] named `name` of
    /// `3 × crop × crop` crops (see the module docs on memory and labels).
    pub fn load_dataset(&self, name: &str, pre: &Preprocess) -> Result<Dataset, DataError> {
        pre.validate()?;
        let paths: Vec<&Path> = self.files.iter().map(|(p, _)| p.as_path()).collect();
        let images = decode_all(&paths, pre)?;
        let c = pre.crop as usize;
        Dataset::new(name, DatasetKind::Imagenet, images, vec![0; paths.len()], [3, c, c], vec!["unlabelled".into()])
    }

    /// Normalised batches `(pixels [n, 3, crop, crop] as f32, labels [n])` of at most
    /// `batch_size` images, in index order, each decoded (on all cores) when the iterator reaches
    /// it.
    pub fn batches<'a>(&'a self, pre: &'a Preprocess, batch_size: usize) -> impl Iterator<Item = Result<(Vec<f32>, Vec<i64>), DataError>> + 'a {
        let norm = DatasetKind::Imagenet.normalize(3);
        self.files.chunks(batch_size.max(1)).map(move |chunk| {
            pre.validate()?;
            let paths: Vec<&Path> = chunk.iter().map(|(p, _)| p.as_path()).collect();
            let bytes = decode_all(&paths, pre)?;
            let plane = (pre.crop * pre.crop) as usize;
            let sb = norm.scale_bias();
            let pixels = bytes.iter().enumerate().map(|(i, &v)| v as f32 * sb[(i / plane) % 3].0 + sb[(i / plane) % 3].1).collect();
            Ok((pixels, chunk.iter().map(|(_, l)| *l as i64).collect()))
        })
    }
}

/// Decode and preprocess `paths` on every core into consecutive `3 × crop × crop` crops. The
/// first failing file (in order) is the error.
fn decode_all(paths: &[&Path], pre: &Preprocess) -> Result<Vec<u8>, DataError> {
    let size = 3 * (pre.crop * pre.crop) as usize;
    let mut out = vec![0u8; paths.len() * size];
    fill_in_parallel(paths, &mut out, size, |p, d| {
        d.copy_from_slice(&pre.load(p)?);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::test_util::temp_dir;

    fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y))).save(path).unwrap();
    }

    #[test]
    fn the_index_sorts_classes_and_files_and_skips_other_entries() {
        let dir = temp_dir("imagenet-index");
        for (class, file) in [("n02", "b.png"), ("n01", "z.JPEG"), ("n02", "a.png"), ("n01", "a.jpg")] {
            let p = dir.join(class).join(file);
            if file.ends_with("png") {
                write_png(&p, 4, 4, |_, _| [1, 2, 3]);
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9])).save_with_format(&p, image::ImageFormat::Jpeg).unwrap();
            }
        }
        std::fs::write(dir.join("n01/notes.txt"), "x").unwrap();
        std::fs::write(dir.join("LOC_synset_mapping.txt"), "x").unwrap();
        let idx = FolderIndex::scan(&dir).unwrap();
        assert_eq!(idx.classes, ["n01", "n02"]);
        let names: Vec<(String, usize)> = idx.files.iter().map(|(p, l)| (p.strip_prefix(&*dir).unwrap().display().to_string(), *l)).collect();
        assert_eq!(names, [("n01/a.jpg".to_string(), 0), ("n01/z.JPEG".into(), 0), ("n02/a.png".into(), 1), ("n02/b.png".into(), 1)]);
        assert_eq!(idx.stratified(Some(2), 0).files.iter().map(|f| f.1).collect::<Vec<_>>(), [0, 1], "one per class");
        assert!(matches!(FolderIndex::scan(&dir.join("n01")), Err(DataError::Empty { .. })));
    }

    #[test]
    fn preprocessing_resizes_the_shorter_side_and_takes_the_central_crop() {
        // 40×20 (w×h) with a distinct colour per column block: shorter side 20 → 10 makes 20×10;
        // the central 8×8 crop covers columns 6..14 of the resized image.
        let img = image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([(x * 6) as u8, 100, 200]));
        let pre = Preprocess { resize: 10, crop: 8 };
        let out = pre.apply(&img);
        assert_eq!(out.len(), 3 * 64);
        assert!(out[64..128].iter().all(|&g| g == 100) && out[128..].iter().all(|&b| b == 200));
        // red increases left to right and is centred: mean of the crop ≈ mean of the image
        let red: Vec<f64> = out[..64].iter().map(|&v| v as f64).collect();
        assert!(red[7] > red[0], "{red:?}");
        let mean = red.iter().sum::<f64>() / 64.0;
        assert!((mean - 117.0).abs() < 8.0, "crop is not central: red mean {mean}");
        assert!(Preprocess { resize: 7, crop: 8 }.validate().is_err());
    }

    #[test]
    fn batches_are_normalised_with_imagenet_statistics_and_carry_labels() {
        let dir = temp_dir("imagenet-batches");
        for (k, class) in ["a", "b", "c"].iter().enumerate() {
            write_png(&dir.join(class).join("0.png"), 6, 6, move |_, _| [(k * 50) as u8, 128, 255]);
        }
        let idx = FolderIndex::scan(&dir).unwrap();
        let pre = Preprocess { resize: 6, crop: 4 };
        let batches: Vec<_> = idx.batches(&pre, 2).collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].1, [0, 1]);
        assert_eq!(batches[1].1, [2]);
        let (x, _) = &batches[0];
        assert_eq!(x.len(), 2 * 3 * 16);
        let want = |v: f32, c: usize| (v / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        assert!((x[0] - want(0.0, 0)).abs() < 1e-5 && (x[48] - want(50.0, 0)).abs() < 1e-5);
        assert!((x[16] - want(128.0, 1)).abs() < 1e-5 && (x[32] - want(255.0, 2)).abs() < 1e-5);
        let ds = idx.load_dataset("imagenet/train", &pre).unwrap();
        assert_eq!((ds.len, ds.height, ds.channels), (3, 4, 3));
        std::fs::write(dir.join("b/1.png"), b"not a png").unwrap();
        let idx = FolderIndex::scan(&dir).unwrap();
        let err = idx.batches(&pre, 8).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("1.png"), "{err}");
    }
}
