//! Device batches from a host [`Dataset`]: in order (evaluation, statistics) or shuffled and
//! augmented (training, REPAIR-style statistics on the augmented training stream).
//!
//! Every image batch is an `[N, C, H, W]` tensor. On LibTorch its memory may be laid out
//! channels-last (`[N, H, W, C]`, viewed through a permutation; [`image_batch`]): oneDNN's
//! convolutions run VGG11 inference at widths 0.25 and 0.5 up to twice as fast on it and keep that
//! layout through the network. flex's training at width 0.25 was 7–18 % slower with it, so flex
//! and wgpu keep the plain layout (both measured in the book's Speed chapter). The values are the
//! same either way. Which layout is faster on LibTorch depends on the machine and the width (on
//! one 2-core Intel Xeon the plain layout trained VGG11 at width 1 faster), so the commands measure
//! both on their model before they start ([`choose_layout`]); `RELUSYM_LAYOUT=channels-last` or
//! `nchw` fixes the layout instead ([`LAYOUT_VAR`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::{Augment, BatchPlan, Dataset, Normalize, fill_batch, fill_labels};

/// A reproducible stream of normalised batches over (a prefix of) a dataset.
#[derive(Clone, Debug)]
pub struct Loader<'a> {
    ds: &'a Dataset,
    norm: Normalize,
    batch_size: usize,
    augment: Option<Augment>,
    seed: u64,
    limit: usize,
    cache: Option<Arc<OnceLock<Cached>>>,
}

/// Epoch 0's batches, built once on one device ([`Loader::cached`]).
#[derive(Debug)]
struct Cached {
    device: Device,
    batches: Vec<(Tensor<4>, Tensor<1, Int>)>,
}

impl<'a> Loader<'a> {
    /// In-order, un-augmented batches with the dataset's normalisation.
    pub fn ordered(ds: &'a Dataset, batch_size: usize) -> Self {
        Self { ds, norm: ds.normalize(), batch_size: batch_size.max(1), augment: None, seed: 0, limit: ds.len, cache: None }
    }

    /// Shuffled (seeded) batches with augmentation `aug`.
    pub fn augmented(ds: &'a Dataset, batch_size: usize, aug: Augment, seed: u64) -> Self {
        Self { augment: Some(aug), seed, ..Self::ordered(ds, batch_size) }
    }

    /// Use only the first `n` images (in stream order).
    pub fn limit(mut self, n: Option<usize>) -> Self {
        self.limit = n.map_or(self.ds.len, |n| n.min(self.ds.len));
        if self.cache.is_some() {
            self.cache = Some(Arc::default());
        }
        self
    }

    /// This stream with epoch 0's batches kept: the first pass of epoch 0 ([`Loader::iter`])
    /// assembles all its batches on its device and keeps them, and every later pass of epoch 0
    /// on that device, through this loader or a clone of it, takes the kept batches instead of
    /// assembling, augmenting and laying them out again (the same values, in the batch layout of
    /// the first pass). For a pipeline that streams the same images several times (the merge
    /// experiment's statistics and test sets); the price is the whole stream held on the device.
    pub fn cached(mut self) -> Self {
        self.cache = Some(Arc::default());
        self
    }

    /// The normalisation in use.
    pub fn normalize(&self) -> &Normalize {
        &self.norm
    }

    /// Whether batches are augmented.
    pub fn is_augmented(&self) -> bool {
        self.augment.is_some()
    }

    /// Images per pass.
    pub fn images(&self) -> usize {
        self.limit
    }

    /// Batches per pass.
    pub fn batches(&self) -> usize {
        self.limit.div_ceil(self.batch_size)
    }

    /// One pass (`epoch` selects the shuffle and augmentation draws) as `(images [N, C, H, W], labels [N])`.
    pub fn iter(&self, epoch: u64, device: &Device) -> Box<dyn Iterator<Item = (Tensor<4>, Tensor<1, Int>)> + '_> {
        if let Some(cell) = &self.cache
            && epoch == 0
        {
            let kept = cell.get_or_init(|| Cached { device: device.clone(), batches: self.build(0, device).collect() });
            // burn's device equality ignores autodiff
            if kept.device == *device && kept.device.is_autodiff() == device.is_autodiff() {
                return Box::new(kept.batches.iter().cloned());
            }
        }
        Box::new(self.build(epoch, device))
    }

    /// One pass, assembled from the dataset.
    fn build(&self, epoch: u64, device: &Device) -> impl Iterator<Item = (Tensor<4>, Tensor<1, Int>)> + '_ {
        let device = device.clone();
        let order: Vec<usize> = if self.augment.is_some() {
            let plan = BatchPlan::new(self.ds.len, self.ds.len, self.seed, epoch, true, false);
            plan.order().iter().copied().take(self.limit).collect()
        } else {
            (0..self.limit).collect()
        };
        let plan = BatchPlan::new(self.limit, self.batch_size, self.seed, epoch, false, false);
        let (c, h, w) = (self.ds.channels, self.ds.height, self.ds.width);
        (0..plan.len()).map(move |b| {
            let idx: Vec<usize> = plan.batch(b).iter().map(|&k| order[k]).collect();
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            let mut rng = plan.batch_rng(b);
            fill_batch(self.ds, &idx, self.augment.as_ref(), &self.norm, &mut rng, &mut xs);
            fill_labels(self.ds, &idx, &mut ys);
            let dims = [idx.len(), c, h, w];
            (image_batch(xs, dims, &device), Tensor::from_data(TensorData::new(ys, [idx.len()]), &device))
        })
    }
}

/// The axis permutation that views an `[N, H, W, C]` tensor as `[N, C, H, W]`.
pub const NHWC_AS_NCHW: [usize; 4] = [0, 3, 1, 2];

/// `x`, an `[N, C, H, W]` batch in that order on the host, rearranged to `[N, H, W, C]` order.
/// Panics if `x.len() != n*c*h*w`.
fn to_channels_last(x: &[f32], [n, c, h, w]: [usize; 4]) -> Vec<f32> {
    assert_eq!(x.len(), n * c * h * w, "to_channels_last: buffer is not {n}x{c}x{h}x{w}");
    let plane = h * w;
    let mut out = vec![0.0f32; x.len()];
    for (src, dst) in x.chunks_exact(c * plane.max(1)).zip(out.chunks_exact_mut(c * plane.max(1))) {
        for (ch, src_plane) in src.chunks_exact(plane.max(1)).enumerate() {
            for (p, &v) in src_plane.iter().enumerate() {
                dst[p * c + ch] = v;
            }
        }
    }
    out
}

/// The `[N, C, H, W]` tensor of a batch given on the host in `[N, H, W, C]` order
/// ([`to_channels_last`]): its device memory stays channels-last, viewed through a permutation.
fn channels_last_tensor(x_nhwc: Vec<f32>, [n, c, h, w]: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::from_data(TensorData::new(x_nhwc, [n, h, w, c]), device).permute(NHWC_AS_NCHW)
}

/// The environment variable that picks LibTorch's batch layout: `auto` (the default: measured
/// per model by [`choose_layout`]), `channels-last` or `nchw`. Other devices always use the plain
/// layout.
pub const LAYOUT_VAR: &str = "RELUSYM_LAYOUT";

/// How LibTorch's batches are laid out ([`LAYOUT_VAR`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutSetting {
    /// Whichever layout [`choose_layout`] measured to be faster for the model at hand
    /// (channels-last until a command has measured).
    Auto,
    /// Always channels-last.
    ChannelsLast,
    /// Always the plain layout.
    Nchw,
}

impl LayoutSetting {
    /// The setting [`LAYOUT_VAR`]'s value asks for (`None`: unset, i.e. `auto`); an error names
    /// the variable and the value it does not know.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("auto") => Ok(Self::Auto),
            Some("channels-last") => Ok(Self::ChannelsLast),
            Some("nchw") => Ok(Self::Nchw),
            Some(other) => Err(format!("{LAYOUT_VAR}={other}: expected `auto`, `channels-last` or `nchw`")),
        }
    }

    /// [`LayoutSetting::parse`] of this process's environment (`relusym` calls it at start-up to
    /// reject an unknown value).
    pub fn from_env() -> Result<Self, String> {
        Self::parse(std::env::var(LAYOUT_VAR).ok().as_deref())
    }
}

/// [`LayoutSetting::from_env`], read once; an unknown value falls back to the default here.
fn layout_setting() -> LayoutSetting {
    static SETTING: std::sync::OnceLock<LayoutSetting> = std::sync::OnceLock::new();
    *SETTING.get_or_init(|| LayoutSetting::from_env().unwrap_or(LayoutSetting::Auto))
}

/// Whether [`choose_layout`] last measured the plain layout to be the faster (false before any
/// measurement).
static MEASURED_PLAIN: AtomicBool = AtomicBool::new(false);

/// Whether LibTorch's batches are channels-last now: as [`LAYOUT_VAR`] fixes it, else as
/// [`choose_layout`] last measured (channels-last before any measurement).
fn libtorch_layout() -> bool {
    match layout_setting() {
        LayoutSetting::ChannelsLast => true,
        LayoutSetting::Nchw => false,
        LayoutSetting::Auto => !MEASURED_PLAIN.load(Ordering::Relaxed),
    }
}

fn is_libtorch(device: &Device) -> bool {
    #[cfg(feature = "libtorch")]
    #[allow(deprecated)]
    let libtorch = device.clone().inner() == Device::libtorch();
    #[cfg(not(feature = "libtorch"))]
    let libtorch = {
        let _ = device;
        false
    };
    libtorch
}

/// Whether batches for `device` are laid out channels-last (on LibTorch as [`LAYOUT_VAR`] and
/// [`choose_layout`] decide; see the module docs).
pub fn prefers_channels_last(device: &Device) -> bool {
    is_libtorch(device) && libtorch_layout()
}

/// What [`choose_layout`] decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayoutChoice {
    /// Whether the batches are channels-last from now on.
    pub channels_last: bool,
    /// Seconds of one call of the measured work on a plain and on a channels-last batch (the
    /// faster of [`PROBE_ROUNDS`] calls each); absent where nothing was measured (a device other
    /// than LibTorch, or a layout fixed by [`LAYOUT_VAR`]).
    pub probe_s: Option<[f64; 2]>,
}

impl std::fmt::Display for LayoutChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", if self.channels_last { "channels-last" } else { "plain (NCHW)" })?;
        match self.probe_s {
            Some([plain, cl]) => write!(f, " (measured: {plain:.3} s plain, {cl:.3} s channels-last)"),
            None => write!(f, " (not measured)"),
        }
    }
}

/// Whether [`choose_layout`] measures on `device` (LibTorch, [`LAYOUT_VAR`] unset or `auto`), so
/// that a caller builds what the measurement needs only then.
pub fn measures_layout(device: &Device) -> bool {
    is_libtorch(device) && layout_setting() == LayoutSetting::Auto
}

/// Timed calls per layout in [`choose_layout`], after one untimed call each.
pub const PROBE_ROUNDS: usize = 2;

/// An `[N, C, H, W]` batch of N(0, 1) values on `device`, laid out channels-last or plainly.
pub fn random_batch([n, c, h, w]: [usize; 4], channels_last: bool, device: &Device) -> Tensor<4> {
    if channels_last {
        Tensor::<4>::random([n, h, w, c], Distribution::Normal(0.0, 1.0), device).permute(NHWC_AS_NCHW)
    } else {
        Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device)
    }
}

/// Settle the layout of this process's LibTorch batches for the model at hand. Where
/// [`LAYOUT_VAR`] is `auto` (the default) and `device` is LibTorch: run `work` (a forward pass, or
/// a training step, that reads its result back) on a random batch of `dims` in each layout, once
/// untimed and [`PROBE_ROUNDS`] times timed, alternating, and keep the layout of the faster
/// minimum for every batch built from now on (a later call measures again, for its model).
/// Which layout is faster depends on the machine and the width: channels-last ran VGG11 at widths
/// 0.25 and 0.5 up to twice as fast on both machines of the Speed chapter, the plain layout
/// trained width 1 faster on one of them. Elsewhere `work` is not run and the fixed layout is
/// returned.
pub fn choose_layout(device: &Device, dims: [usize; 4], mut work: impl FnMut(Tensor<4>)) -> LayoutChoice {
    if !measures_layout(device) {
        return LayoutChoice { channels_last: prefers_channels_last(device), probe_s: None };
    }
    let mut best = [f64::INFINITY; 2];
    for round in 0..=PROBE_ROUNDS {
        for (k, channels_last) in [(0, false), (1, true)] {
            let x = random_batch(dims, channels_last, device);
            let t = Instant::now();
            work(x);
            if round > 0 {
                best[k] = best[k].min(t.elapsed().as_secs_f64());
            }
        }
    }
    let channels_last = best[1] <= best[0];
    MEASURED_PLAIN.store(!channels_last, Ordering::Relaxed);
    LayoutChoice { channels_last, probe_s: Some(best) }
}

/// The `[N, C, H, W]` tensor of a batch given on the host in that order, laid out as
/// [`prefers_channels_last`] says for `device` (see the module docs).
pub fn image_batch(x: Vec<f32>, dims: [usize; 4], device: &Device) -> Tensor<4> {
    device_batch(host_layout(x, dims, device), dims, device)
}

/// The `[N, C, H, W]` tensor of a batch that [`host_layout`] arranged for `device`.
pub fn device_batch(x: Vec<f32>, dims: [usize; 4], device: &Device) -> Tensor<4> {
    if prefers_channels_last(device) { channels_last_tensor(x, dims, device) } else { Tensor::from_data(TensorData::new(x, dims), device) }
}

/// `x`, an `[N, C, H, W]` batch on the host, arranged for `device` (rearranged to `[N, H, W, C]`
/// where [`prefers_channels_last`]), to be handed to [`device_batch`] — e.g. by a producer thread.
pub fn host_layout(x: Vec<f32>, dims: [usize; 4], device: &Device) -> Vec<f32> {
    if prefers_channels_last(device) { to_channels_last(&x, dims) } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn a_batch_has_the_values_it_was_built_from_in_either_layout() {
        let mut rng = StdRng::seed_from_u64(7);
        let device = Device::flex();
        for _ in 0..5 {
            let dims = [rng.random_range(1..4), rng.random_range(1..5), rng.random_range(1..6), rng.random_range(1..6)];
            let x: Vec<f32> = (0..dims.iter().product::<usize>()).map(|_| rng.random::<f32>()).collect();
            let t = channels_last_tensor(to_channels_last(&x, dims), dims, &device);
            assert_eq!(t.dims(), dims);
            assert_eq!(t.into_data().try_to_vec::<f32>().unwrap(), x, "dims {dims:?}");
            assert_eq!(image_batch(x.clone(), dims, &device).into_data().try_to_vec::<f32>().unwrap(), x, "dims {dims:?}");
        }
    }

    #[test]
    fn flex_batches_keep_the_plain_layout() {
        // LibTorch's side is tests/libtorch.rs (a build with the `libtorch` feature)
        assert!(!prefers_channels_last(&Device::flex()) && !prefers_channels_last(&Device::flex().autodiff()));
    }

    #[test]
    fn libtorch_layout_is_measured_unless_the_environment_fixes_it() {
        assert_eq!(LayoutSetting::parse(None), Ok(LayoutSetting::Auto));
        for (name, s) in [("auto", LayoutSetting::Auto), ("channels-last", LayoutSetting::ChannelsLast), ("nchw", LayoutSetting::Nchw)] {
            assert_eq!(LayoutSetting::parse(Some(name)), Ok(s));
        }
        let err = LayoutSetting::parse(Some("NHWC")).unwrap_err();
        assert!(err.contains(LAYOUT_VAR) && err.contains("NHWC"), "{err}");
    }

    #[test]
    fn a_layout_is_only_measured_on_libtorch() {
        // flex keeps the plain layout and never runs the work; LibTorch's side is tests/libtorch.rs
        let choice = choose_layout(&Device::flex(), [2, 3, 4, 4], |_| panic!("measured on flex"));
        assert_eq!(choice, LayoutChoice { channels_last: false, probe_s: None });
    }

    #[test]
    fn random_batches_have_the_asked_shape_in_either_layout() {
        for cl in [false, true] {
            assert_eq!(random_batch([2, 3, 4, 5], cl, &Device::flex()).dims(), [2, 3, 4, 5]);
        }
    }

    /// A cached loader streams what the loader streams, every pass; its first pass of epoch 0
    /// keeps the batches (shared with its clones), and other epochs and devices are built anew.
    #[test]
    fn a_cached_loader_streams_the_same_batches_and_keeps_epoch_zeros_after_its_first_pass() {
        let splits = crate::data::SyntheticSpec { n_train: 30, n_test: 4, seed: 2, ..crate::data::SyntheticSpec::default() }.generate();
        let device = Device::flex();
        let plain = Loader::augmented(&splits.train, 7, Augment::default(), 3).limit(Some(20));
        let cached = plain.clone().cached();
        let pass = |l: &Loader, epoch: u64, device: &Device| -> Vec<(Vec<f32>, Vec<i64>)> {
            l.iter(epoch, device)
                .map(|(x, y)| (x.into_data().try_to_vec::<f32>().unwrap(), y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap()))
                .collect()
        };
        let kept = |l: &Loader| l.cache.as_ref().is_some_and(|c| c.get().is_some());
        assert!(!kept(&cached));
        let first = pass(&plain, 0, &device);
        assert_eq!(first.iter().map(|b| b.1.len()).collect::<Vec<_>>(), [7, 7, 6]);
        assert_eq!(pass(&cached, 0, &device), first);
        assert!(kept(&cached));
        let clone = cached.clone();
        assert!(kept(&clone), "clones share the kept batches");
        assert_eq!(pass(&clone, 0, &device), first);
        assert_eq!(pass(&cached, 0, &device), first);
        // another epoch draws other crops and flips, and is not taken from the kept batches
        let second = pass(&plain, 1, &device);
        assert_ne!(second, first);
        assert_eq!(pass(&cached, 1, &device), second);
        // another device gets its own batches, on that device
        let autodiff = device.clone().autodiff();
        assert!(cached.iter(0, &autodiff).all(|(x, _)| x.device() == autodiff && x.device().is_autodiff()));
        assert_eq!(pass(&cached, 0, &autodiff), first);
        // a new limit starts a new cache
        assert!(!kept(&cached.clone().limit(Some(10))));
    }

    #[test]
    fn channels_last_order_puts_the_channels_of_one_pixel_next_to_each_other() {
        // one image, 2 channels of 1x2 pixels: [c0p0, c0p1, c1p0, c1p1] -> [c0p0, c1p0, c0p1, c1p1]
        assert_eq!(to_channels_last(&[1.0, 2.0, 3.0, 4.0], [1, 2, 1, 2]), vec![1.0, 3.0, 2.0, 4.0]);
    }
}
