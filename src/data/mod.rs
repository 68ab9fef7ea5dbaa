//! Host-side datasets: loading, caching, batching and augmentation.
//!
//! This module does not depend on the deep-learning framework. Everything is
//! kept as compact `u8` pixels in memory and turned into normalised `f32`
//! batches on demand by [`augment::fill_batch`].
//!
//! * [`Dataset`]: `len` images stored **N×C×H×W** (channel-major, one `u8` per
//!   sample and channel), labels `u8` in `0..classes.len()`, and the [`DatasetKind`] its loader
//!   read, which fixes its normalisation ([`Dataset::normalize`]).
//! * [`cifar`]: CIFAR-10 from the official binary batches or an image-folder
//!   layout (folder or `.tar.gz`), see [`cifar::load_cifar10`].
//! * [`fashion_mnist`]: Fashion-MNIST from IDX files (gzip or raw).
//! * [`image_folder`]: generic `train/<class>/*.png|jpg` reader.
//! * [`imagenet`]: ImageNet-style `<class>/*.JPEG` folders, indexed, then decoded lazily with
//!   torchvision's resize + centre crop (statistics set as a `u8` dataset, evaluation streamed).
//! * [`mod@synthetic`]: a generated dataset whose class distributions are invariant
//!   under horizontal flips, for tests and smoke runs.
//! * [`cache`]: decode once into a binary cache file, reload in well under a second.
//! * [`augment`]: seeded batch plans, random crop + flip, normalisation.
//! * [`open()`]: what the command line calls: default locations, cache, padding,
//!   and a [`DatasetInfo`] record for checkpoints.
//!
//! Fashion-MNIST images are 1×28×28. The VGG models halve the resolution five
//! times with 2×2 max-pools, so Fashion-MNIST is zero-padded (black background)
//! to 1×32×32 with [`Dataset::pad`]`(2)` before it reaches the model;
//! [`open()`] does this, the raw loaders return the native 28×28.

pub mod augment;
pub mod cache;
pub mod cifar;
pub mod error;
pub mod fashion_mnist;
pub mod image_folder;
pub mod imagenet;
pub mod open;
mod parallel;
pub mod source;
pub mod synthetic;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

pub use augment::{Augment, BatchPlan, Normalize, fill_batch, fill_labels};
pub use cache::load_or_build;
pub use cifar::{CIFAR10_CLASSES, load_cifar10};
pub use error::DataError;
pub use fashion_mnist::{FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, load_fashion_mnist};
pub use imagenet::{FolderIndex, IMAGENET_MEAN, IMAGENET_STD, Preprocess};
pub use open::{CIFAR10_DEFAULT_DIR, DatasetInfo, cifar10_source, cifar10_source_or_download, open};
pub use synthetic::{SyntheticSpec, synthetic};

/// CIFAR-10 per-channel mean of the training set (RGB), on the `[0, 1]` scale:
/// `(125.307, 122.961, 113.8575) / 255`.
pub const CIFAR10_MEAN: [f32; 3] = [125.307 / 255.0, 122.961 / 255.0, 113.8575 / 255.0];
/// CIFAR-10 per-channel "standard deviation" (RGB) on the `[0, 1]` scale:
/// `(51.5865, 50.847, 51.255) / 255` ≈ (0.2023, 0.1994, 0.2010), the constants
/// used by the common CIFAR training recipes (REPAIR, kuangliu/pytorch-cifar).
/// Note they are smaller than the plain per-pixel std of the training set
/// (≈ 0.247, 0.243, 0.261; measured 0.245, 0.243, 0.261 on the JPEG copy), so
/// normalised inputs have std ≈ 1.2; kept for comparability with the paper's
/// recipe.
pub const CIFAR10_STD: [f32; 3] = [51.5865 / 255.0, 50.847 / 255.0, 51.255 / 255.0];
/// Fashion-MNIST pixel mean on the `[0, 1]` scale, computed over all
/// 60,000×28×28 training pixels (unpadded); measured on Debian's
/// `dataset-fashion-mnist` files: 0.286041 (checked by the test
/// `fashion_mnist::tests::real_fashion_mnist_has_6000_per_class_and_documented_stats`).
/// After padding to 32×32 the pixel mean is 0.2190, but the unpadded constants
/// are used, as is customary.
pub const FASHION_MNIST_MEAN: [f32; 1] = [0.2860];
/// Fashion-MNIST pixel standard deviation on the `[0, 1]` scale, computed over
/// all training pixels (unpadded); measured: 0.353024 (0.3318 after padding).
pub const FASHION_MNIST_STD: [f32; 1] = [0.3530];

/// An in-memory image-classification dataset.
///
/// Invariants (checked by [`Dataset::new`]): `images.len() == len * channels *
/// height * width`, `labels.len() == len`, every label `< classes.len()`, and `channels` is the
/// kind's channel count where the kind fixes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Human-readable name, e.g. `"cifar10/train"`.
    pub name: String,
    /// What the images are; fixes the normalisation constants.
    pub kind: DatasetKind,
    /// Pixels, N×C×H×W, row-major within each channel plane.
    pub images: Vec<u8>,
    /// Class index per image, length N.
    pub labels: Vec<u8>,
    /// Number of images N.
    pub len: usize,
    /// Channels C (3 for RGB, 1 for grayscale).
    pub channels: usize,
    /// Image height H in pixels.
    pub height: usize,
    /// Image width W in pixels.
    pub width: usize,
    /// Class names; label `k` means `classes[k]`.
    pub classes: Vec<String>,
}

/// A train/test pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    /// Training split.
    pub train: Dataset,
    /// Test split.
    pub test: Dataset,
}

impl Splits {
    /// Zero-pads both splits by `p` pixels on every side (see [`Dataset::pad`]).
    pub fn pad(&self, p: usize) -> Splits {
        Splits { train: self.train.pad(p), test: self.test.pad(p) }
    }
}

impl Dataset {
    /// Builds a dataset of `kind` from N×C×H×W pixels (`shape` = `[C, H, W]`) and labels,
    /// checking the invariants.
    pub fn new(
        name: impl Into<String>,
        kind: DatasetKind,
        images: Vec<u8>,
        labels: Vec<u8>,
        shape: [usize; 3],
        classes: Vec<String>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let len = labels.len();
        let [channels, height, width] = shape;
        let invalid = |reason: String| DataError::Invalid { name: name.clone(), reason };
        if let Some(c) = kind.channels().filter(|&c| c != channels) {
            return Err(invalid(format!("{channels} channels, but {kind} images have {c}")));
        }
        if classes.len() > 256 {
            return Err(invalid(format!("{} classes do not fit u8 labels", classes.len())));
        }
        let expected = len * channels * height * width;
        if images.len() != expected {
            return Err(invalid(format!("{} pixel bytes for {len} images of {channels}x{height}x{width} (expected {expected})", images.len())));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= classes.len()) {
            return Err(invalid(format!("label {l} of image {i} is not < {} classes", classes.len())));
        }
        Ok(Dataset { name, kind, images, labels, len, channels, height, width, classes })
    }

    /// Bytes per image, `C*H*W`.
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`, C×H×W. Panics if `i >= len`.
    pub fn image(&self, i: usize) -> &[u8] {
        let s = self.image_size();
        &self.images[i * s..(i + 1) * s]
    }

    /// The per-channel normalisation of this dataset's kind ([`DatasetKind::normalize`]).
    pub fn normalize(&self) -> Normalize {
        self.kind.normalize(self.channels)
    }

    /// True when the dataset has no images.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A new dataset with the images `idx` (in that order; repeats allowed).
    /// Panics if an index is out of range.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        let s = self.image_size();
        let mut images = Vec::with_capacity(idx.len() * s);
        let mut labels = Vec::with_capacity(idx.len());
        for &i in idx {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            name: self.name.clone(),
            kind: self.kind,
            images,
            labels,
            len: idx.len(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes.clone(),
        }
    }

    /// The first `min(n, len)` indices of a permutation of `0..len` shuffled with
    /// `seed`, kept in ascending order, as a new dataset. Not stratified: class
    /// counts vary around `n / classes`; see [`Dataset::subset_stratified`].
    pub fn subset(&self, n: usize, seed: u64) -> Dataset {
        let mut idx: Vec<usize> = (0..self.len).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        idx.truncate(n.min(self.len));
        idx.sort_unstable();
        self.select(&idx)
    }

    /// Like [`Dataset::subset`] but keeping class proportions: class `k` gets
    /// `round(n * count_k / len)` images (largest remainders first so the total
    /// is exactly `min(n, len)`), drawn by a seeded shuffle within the class,
    /// kept in ascending index order.
    pub fn subset_stratified(&self, n: usize, seed: u64) -> Dataset {
        let idx = stratified_indices(self.labels.iter().map(|&l| l as usize), self.classes.len(), n, seed);
        self.select(&idx)
    }

    /// The images an evaluation limited to `limit` images uses: the whole dataset for `None` (or a
    /// limit of at least its length), else its class-stratified subset of `n` images
    /// ([`Dataset::subset_stratified`], seed 0, so every command evaluates on the same images).
    ///
    /// Not "the first `n`": datasets are stored in class order (an image folder or archive is read
    /// sorted by name, `test/airplane/…` first), so the first 2,000 CIFAR-10 test images are two
    /// classes.
    pub fn evaluation_subset(&self, limit: Option<usize>) -> std::borrow::Cow<'_, Dataset> {
        match limit {
            Some(n) if n < self.len => std::borrow::Cow::Owned(self.subset_stratified(n, 0)),
            _ => std::borrow::Cow::Borrowed(self),
        }
    }

    /// Zero-pads every image by `p` pixels on each side: C×H×W → C×(H+2p)×(W+2p).
    /// Used to bring Fashion-MNIST from 28×28 to 32×32 (`pad(2)`).
    pub fn pad(&self, p: usize) -> Dataset {
        if p == 0 {
            return self.clone();
        }
        let (h, w) = (self.height, self.width);
        let (ph, pw) = (h + 2 * p, w + 2 * p);
        let mut images = vec![0u8; self.len * self.channels * ph * pw];
        for (src_plane, dst_plane) in self.images.chunks_exact(h * w).zip(images.chunks_exact_mut(ph * pw)) {
            for y in 0..h {
                let dst = (y + p) * pw + p;
                dst_plane[dst..dst + w].copy_from_slice(&src_plane[y * w..(y + 1) * w]);
            }
        }
        Dataset { images, height: ph, width: pw, ..self.clone_meta() }
    }

    /// A copy without pixels/labels (used by constructors above).
    fn clone_meta(&self) -> Dataset {
        Dataset {
            name: self.name.clone(),
            kind: self.kind,
            images: Vec::new(),
            labels: self.labels.clone(),
            len: self.len,
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes.clone(),
        }
    }
}

/// The datasets the experiments use. Serialised as its [`DatasetKind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum DatasetKind {
    /// CIFAR-10: 3×32×32 RGB, 10 classes.
    Cifar10,
    /// Fashion-MNIST: 1×28×28 grayscale, 10 classes (padded to 32×32 by the model side).
    FashionMnist,
    /// The generated flip-invariant dataset of [`synthetic()`]: 3×32×32 by default, any number
    /// of channels.
    Synthetic,
    /// ImageNet-style folders ([`imagenet`]): 3×crop×crop RGB, read by the `imagenet`
    /// experiment, not opened as a train/test pair.
    Imagenet,
}

impl DatasetKind {
    /// Parses `"cifar10"`, `"fashion-mnist"`, `"synthetic"` or `"imagenet"` (ASCII case-insensitive;
    /// `"cifar-10"`, `"fashion_mnist"`, `"fashionmnist"` are accepted too).
    pub fn parse(s: &str) -> Result<Self, DataError> {
        match s.to_ascii_lowercase().as_str() {
            "cifar10" | "cifar-10" => Ok(DatasetKind::Cifar10),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(DatasetKind::FashionMnist),
            "synthetic" => Ok(DatasetKind::Synthetic),
            "imagenet" => Ok(DatasetKind::Imagenet),
            _ => Err(DataError::UnknownDataset { name: s.to_string() }),
        }
    }

    /// The canonical name accepted by [`DatasetKind::parse`].
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Synthetic => "synthetic",
            DatasetKind::Imagenet => "imagenet",
        }
    }

    /// Image channels, where the kind fixes them (the synthetic set can have any number).
    pub fn channels(self) -> Option<usize> {
        match self {
            DatasetKind::FashionMnist => Some(1),
            DatasetKind::Cifar10 | DatasetKind::Imagenet => Some(3),
            DatasetKind::Synthetic => None,
        }
    }

    /// Per-channel normalisation constants for `channels` channels (training-set statistics on
    /// the `[0, 1]` scale; ImageNet: torchvision's). A [`Dataset`] always has its kind's channel
    /// count; the synthetic set's constants ([`synthetic::SYNTHETIC_MEAN`]) are repeated
    /// cyclically for other channel counts (they are ≈ 0.50 / 0.23 in every channel).
    pub fn normalize(self, channels: usize) -> Normalize {
        let (mean, std): (&[f32], &[f32]) = match self {
            DatasetKind::Cifar10 => (&CIFAR10_MEAN, &CIFAR10_STD),
            DatasetKind::FashionMnist => (&FASHION_MNIST_MEAN, &FASHION_MNIST_STD),
            DatasetKind::Synthetic => (&synthetic::SYNTHETIC_MEAN, &synthetic::SYNTHETIC_STD),
            DatasetKind::Imagenet => (&IMAGENET_MEAN, &IMAGENET_STD),
        };
        let cycle = |v: &[f32]| -> Vec<f32> { (0..channels).map(|c| v[c % v.len()]).collect() };
        Normalize::new(&cycle(mean), &cycle(std))
    }
}

impl TryFrom<String> for DatasetKind {
    type Error = DataError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        DatasetKind::parse(&s)
    }
}

impl From<DatasetKind> for &'static str {
    fn from(k: DatasetKind) -> Self {
        k.name()
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetKind::parse(s)
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Indices of a class-stratified sample of `min(n, len)` items with the given `labels` (each
/// below `classes`): class `k` gets `round(n · count_k / len)` (largest remainders first, so the
/// total is exact), drawn by a shuffle seeded with `seed` within the class, in ascending order.
/// The one stratified sampler behind [`Dataset::subset_stratified`] and the ImageNet folder index.
pub fn stratified_indices(labels: impl IntoIterator<Item = usize>, classes: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut per_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    let mut len = 0;
    for (i, l) in labels.into_iter().enumerate() {
        per_class[l].push(i);
        len += 1;
    }
    let n = n.min(len);
    // Quotas by largest remainder.
    let total = len.max(1);
    let mut quota: Vec<usize> = per_class.iter().map(|m| m.len() * n / total).collect();
    let mut rest: Vec<(usize, usize)> = per_class.iter().enumerate().map(|(k, m)| (m.len() * n % total, k)).collect();
    rest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let missing = n - quota.iter().sum::<usize>();
    for &(_, k) in rest.iter().take(missing) {
        quota[k] += 1;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut idx = Vec::with_capacity(n);
    for (k, members) in per_class.iter_mut().enumerate() {
        members.shuffle(&mut rng);
        idx.extend_from_slice(&members[..quota[k].min(members.len())]);
    }
    idx.sort_unstable();
    idx
}

#[cfg(test)]
impl Dataset {
    /// Number of images per class, indexed by label.
    pub(crate) fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// Per-channel mean and standard deviation of the pixels on the `[0, 1]`
    /// scale (population std over all images and positions).
    pub(crate) fn channel_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let plane = self.height * self.width;
        let mut sum = vec![0u64; self.channels];
        let mut sum_sq = vec![0u64; self.channels];
        for (j, chunk) in self.images.chunks_exact(plane.max(1)).enumerate() {
            let c = j % self.channels;
            // Histogram-free exact integer sums; u64 cannot overflow here.
            let (mut s, mut q) = (0u64, 0u64);
            for &v in chunk {
                s += v as u64;
                q += (v as u64) * (v as u64);
            }
            sum[c] += s;
            sum_sq[c] += q;
        }
        let n = (self.len * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|&s| s as f64 / n / 255.0).collect();
        let std = sum_sq.iter().zip(&mean).map(|(&q, &m)| (q as f64 / n / (255.0 * 255.0) - m * m).max(0.0).sqrt()).collect();
        (mean, std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        let (c, h, w) = (2, 3, 4);
        let images = (0..n * c * h * w).map(|v| (v % 251) as u8).collect();
        let labels = (0..n).map(|i| (i % 3) as u8).collect();
        Dataset::new("toy", DatasetKind::Synthetic, images, labels, [c, h, w], vec!["a".into(), "b".into(), "c".into()]).unwrap()
    }

    #[test]
    fn new_rejects_wrong_buffer_length_labels_and_channel_count() {
        let a = || vec!["a".to_string()];
        let e = Dataset::new("x", DatasetKind::Synthetic, vec![0; 5], vec![0], [1, 2, 2], a()).unwrap_err();
        assert!(e.to_string().contains("expected 4"), "{e}");
        let e = Dataset::new("x", DatasetKind::Synthetic, vec![0; 4], vec![1], [1, 2, 2], a()).unwrap_err();
        assert!(e.to_string().contains("label 1"), "{e}");
        let e = Dataset::new("x", DatasetKind::Cifar10, vec![0; 4], vec![0], [1, 2, 2], a()).unwrap_err();
        assert!(e.to_string().contains("1 channels, but cifar10 images have 3"), "{e}");
        assert!(Dataset::new("x", DatasetKind::FashionMnist, vec![0; 4], vec![0], [1, 2, 2], a()).is_ok());
    }

    #[test]
    fn image_returns_the_chw_slice_of_sample_i() {
        let d = toy(3);
        assert_eq!(d.image(1), &d.images[24..48]);
        assert_eq!(d.labels[2], 2);
    }

    #[test]
    fn subset_is_deterministic_distinct_and_sized() {
        let d = toy(30);
        let a = d.subset(10, 7);
        assert_eq!(a, d.subset(10, 7));
        assert_ne!(a, d.subset(10, 8));
        assert_eq!(a.len, 10);
        assert_eq!(d.subset(100, 1).len, 30);
    }

    #[test]
    fn stratified_subset_keeps_class_proportions() {
        let d = toy(30);
        let s = d.subset_stratified(9, 3);
        assert_eq!(s.class_counts(), vec![3, 3, 3]);
        assert_eq!(d.subset_stratified(10, 3).len, 10);
    }

    #[test]
    fn a_limited_evaluation_of_a_class_ordered_set_sees_every_class_in_proportion() {
        // stored in class order, as an image folder is read: 10 of class 0, then 10 of 1, 10 of 2
        let d = toy(30);
        let order: Vec<usize> = (0..30).map(|i| (i % 3) * 10 + i / 3).collect();
        let sorted = d.select(&{
            let mut idx = vec![0; 30];
            for (i, &pos) in order.iter().enumerate() {
                idx[pos] = i;
            }
            idx
        });
        assert_eq!(&sorted.labels[..10], &[0; 10], "the fixture is class-ordered");
        let sub = sorted.evaluation_subset(Some(6));
        assert_eq!(sub.class_counts(), vec![2, 2, 2], "not the first six (all class 0)");
        assert_eq!(*sub, *sorted.evaluation_subset(Some(6)), "the same images every time");
        assert!(matches!(sorted.evaluation_subset(None), std::borrow::Cow::Borrowed(_)));
        assert_eq!(sorted.evaluation_subset(Some(30)).len, 30);
    }

    #[test]
    fn class_counts_count_labels() {
        assert_eq!(toy(7).class_counts(), vec![3, 2, 2]);
    }

    #[test]
    fn pad_adds_zero_border_and_keeps_pixels() {
        let d = toy(2);
        let p = d.pad(2);
        assert_eq!((p.height, p.width), (7, 8));
        assert_eq!(p.images.len(), 2 * 2 * 7 * 8);
        for i in 0..2 {
            for c in 0..2 {
                for y in 0..7 {
                    for x in 0..8 {
                        let v = p.image(i)[(c * 7 + y) * 8 + x];
                        let inside = (2..5).contains(&y) && (2..6).contains(&x);
                        let want = if inside { d.image(i)[(c * 3 + y - 2) * 4 + x - 2] } else { 0 };
                        assert_eq!(v, want);
                    }
                }
            }
        }
    }

    #[test]
    fn channel_stats_of_constant_planes() {
        let images = [vec![0u8; 4], vec![255u8; 4]].concat();
        let d = Dataset::new("c", DatasetKind::Synthetic, images, vec![0], [2, 2, 2], vec!["a".into()]).unwrap();
        let (m, s) = d.channel_stats();
        assert_eq!(m, vec![0.0, 1.0]);
        assert!(s.iter().all(|&v| v.abs() < 1e-12));
    }

    const KINDS: [DatasetKind; 4] = [DatasetKind::Cifar10, DatasetKind::FashionMnist, DatasetKind::Synthetic, DatasetKind::Imagenet];

    #[test]
    fn dataset_kind_parses_and_serialises_as_its_name_and_rejects_others() {
        for k in KINDS {
            assert_eq!(DatasetKind::parse(k.name()).unwrap(), k);
            assert_eq!(k.name().parse::<DatasetKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
            assert_eq!(serde_json::from_str::<DatasetKind>(&format!("\"{}\"", k.name())).unwrap(), k);
        }
        assert!(DatasetKind::parse("mnist").unwrap_err().to_string().contains("mnist"));
        assert!(serde_json::from_str::<DatasetKind>("\"mnist\"").unwrap_err().to_string().contains("mnist"));
    }

    #[test]
    fn normalisation_comes_from_the_kind_with_one_entry_per_channel() {
        for k in KINDS {
            let c = k.channels().unwrap_or(2);
            let n = k.normalize(c);
            assert_eq!((n.mean.len(), n.std.len()), (c, c));
        }
        assert_eq!(DatasetKind::Cifar10.normalize(3).mean, CIFAR10_MEAN);
        assert_eq!(DatasetKind::Imagenet.normalize(3).std, IMAGENET_STD);
        assert_eq!(DatasetKind::FashionMnist.normalize(1).mean, FASHION_MNIST_MEAN);
        assert!((CIFAR10_MEAN[0] - 0.4914).abs() < 1e-4);
        assert!((CIFAR10_STD[2] - 0.2010).abs() < 1e-4);
        // A dataset's name does not matter: a CIFAR-10 copy named anything is normalised as CIFAR-10.
        let d = Dataset::new("my-copy/train", DatasetKind::Cifar10, vec![0; 3], vec![0], [3, 1, 1], vec!["a".into()]).unwrap();
        assert_eq!(d.normalize(), DatasetKind::Cifar10.normalize(3));
    }
}
