//! How exactly a flipped ResNet computes `x ↦ f(hflip x)`.
//!
//! Flipping every kernel of a CNN gives a network `f_flip` with `f_flip(x) = f(hflip x)` as long
//! as every layer samples a grid that is its own mirror image. A stride-2 layer on an input of
//! even width `W` samples columns `0, 2, …, W − 2`, whose mirror images are `1, 3, …, W − 1`: the
//! flipped network then sees the mirrored image shifted by one pixel at that layer, and
//! `f_flip(x) ≠ f(hflip x)`. On odd widths the grid is symmetric and the identity is exact (so
//! 225 × 225 is exact for ResNet50, 224 × 224 is not; 33 × 33 for the CIFAR ResNet-20, 32 × 32
//! not). The merges of a ResNet with its flipped self (the GCNN barrier) use `f_flip`; this probe
//! measures how far `f_flip` is from the function it stands for, next to two scales:
//!
//! * `plain`: `f(x)` against `f(hflip x)` — how much the flip itself changes the output;
//! * `shift`: `f(x)` against `f(x shifted one pixel)` — the size of a one-pixel shift.
//!
//! Distances are per image, `‖a − b‖ / ‖b‖` on the logits, averaged over the images; the inputs
//! are N(0, 1) noise images and the networks random-weight (a probe of the architecture, not of
//! trained weights). It also times the forward pass, so that a reader knows what a full ImageNet
//! run costs on their machine.

use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::group::D4;
use crate::nets::{Network, ParamInit, ResNet50Config, ResNetConfig, VggError, tensor_to_array};
use crate::provenance::git_revision;

/// One network at one input size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipProbeRow {
    /// The architecture in words (`ResNet50 ×1`, `ResNet-20 ×0.5`).
    pub network: String,
    /// Input height = width (pixels).
    pub size: usize,
    /// Images measured.
    pub images: usize,
    /// Mean relative distance of `f_flip(x)` from `f(hflip x)`.
    pub flipped: f64,
    /// Mean relative distance of `f(x)` from `f(hflip x)` (the flip's own effect, for scale).
    pub plain: f64,
    /// Mean relative distance of `f(x shifted right by one pixel)` from `f(x)` (for scale).
    pub shift: f64,
    /// Wall-clock milliseconds per image of one forward pass (batch of `images`).
    pub forward_ms_per_image: f64,
    /// For the full-width ResNet50 at 224 × 224: the ImageNet protocol's forward passes
    /// ([`IMAGENET_PROTOCOL_FORWARDS`]) at this speed, in hours.
    pub imagenet_protocol_hours: Option<f64>,
}

/// Image forward passes of `relusym imagenet`'s protocol ([`super::imagenet`]): six networks over
/// the 50,000 validation images, and about seven passes over the 5,000 statistics images
/// (matching: original and flipped; BN reset; REPAIR's endpoint statistics: two; REPAIR: BN reset
/// and the repair pass).
pub const IMAGENET_PROTOCOL_FORWARDS: f64 = 6.0 * 50_000.0 + 7.0 * 5_000.0;

/// The probe's rows and where they were measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlipProbe {
    /// One row per network and size.
    pub rows: Vec<FlipProbeRow>,
    /// The compute device.
    pub device: String,
    /// Git revision of the code.
    pub git_revision: String,
}

/// The networks and sizes of [`flip_probe`].
#[derive(Clone, Debug, PartialEq)]
pub struct FlipProbeConfig {
    /// ResNet50 widths and the sizes each is measured at.
    pub resnet50: Vec<(f64, Vec<usize>)>,
    /// CIFAR ResNet-20 widths and sizes.
    pub resnet20: Vec<(f64, Vec<usize>)>,
    /// Images per row. Default 8.
    pub images: usize,
    /// Seed of weights and images. Default 0.
    pub seed: u64,
}

impl Default for FlipProbeConfig {
    /// ResNet50 at width 1/16 on 32, 64, 128, 224 and 225 pixels and at full width on 224; the
    /// study's ResNet-20 ×0.5 on 32 and 33; eight images each.
    fn default() -> Self {
        Self { resnet50: vec![(1.0 / 16.0, vec![32, 64, 128, 224, 225]), (1.0, vec![224])], resnet20: vec![(0.5, vec![32, 33])], images: 8, seed: 0 }
    }
}

/// Mean over rows of `‖a_i − b_i‖ / ‖b_i‖`.
fn mean_relative(a: Tensor<2>, b: Tensor<2>) -> f64 {
    let (a, b) = (tensor_to_array(a), tensor_to_array(b));
    let n = a.shape()[0].max(1);
    let total: f64 = a
        .outer_iter()
        .zip(b.outer_iter())
        .map(|(x, y)| {
            let diff = x.iter().zip(y.iter()).map(|(p, q)| ((p - q) as f64).powi(2)).sum::<f64>().sqrt();
            diff / y.iter().map(|&q| (q as f64).powi(2)).sum::<f64>().sqrt().max(1e-12)
        })
        .sum();
    total / n as f64
}

/// `x` shifted right by one pixel (the first column repeated).
fn shift_right(x: Tensor<4>) -> Tensor<4> {
    let [_, _, _, w] = x.dims();
    Tensor::cat(vec![x.clone().narrow(3, 0, 1), x.narrow(3, 0, w - 1)], 3)
}

fn probe_row<N: Network>(network: String, net: &N, size: usize, images: usize, seed: u64, device: &Device) -> FlipProbeRow {
    let x = ParamInit::new(seed).normal([images, 3, size, size], 1.0, device).val();
    let t = Instant::now();
    let y = net.forward(x.clone());
    let y = Tensor::from_data(y.into_data(), device);
    let forward_ms_per_image = 1e3 * t.elapsed().as_secs_f64() / images as f64;
    let target = net.forward(D4::HFLIP.apply(x.clone()));
    let flipped = mean_relative(net.flipped().forward(x.clone()), target.clone());
    let plain = mean_relative(y.clone(), target);
    let shift = mean_relative(net.forward(shift_right(x)), y);
    FlipProbeRow { network, size, images, flipped, plain, shift, forward_ms_per_image, imagenet_protocol_hours: None }
}

/// Measure every network and size of `cfg` on `device` (random weights, noise images).
pub fn flip_probe(cfg: &FlipProbeConfig, device: &Device, device_name: &str) -> Result<FlipProbe, VggError> {
    let mut rows = Vec::new();
    for (k, (width, sizes)) in cfg.resnet50.iter().enumerate() {
        let net = ResNet50Config::new(*width, 1000).init(device, cfg.seed + k as u64)?;
        for &size in sizes {
            let mut row = probe_row(format!("ResNet50 ×{}", fmt_width(*width)), &net, size, cfg.images, cfg.seed + 100 + size as u64, device);
            if *width == 1.0 && size == 224 {
                row.imagenet_protocol_hours = Some(row.forward_ms_per_image * IMAGENET_PROTOCOL_FORWARDS / 3.6e6);
            }
            rows.push(row);
        }
    }
    for (k, (width, sizes)) in cfg.resnet20.iter().enumerate() {
        let net = ResNetConfig::new(3, *width).init(device, cfg.seed + 50 + k as u64)?;
        for &size in sizes {
            rows.push(probe_row(format!("ResNet-20 ×{}", fmt_width(*width)), &net, size, cfg.images, cfg.seed + 200 + size as u64, device));
        }
    }
    Ok(FlipProbe { rows, device: device_name.to_string(), git_revision: git_revision() })
}

/// `1/16` for 0.0625 (a fraction from 1/8 down), else the plain number.
fn fmt_width(w: f64) -> String {
    if w <= 0.125 && (1.0 / w).fract() == 0.0 { format!("1/{}", (1.0 / w) as u64) } else { w.to_string() }
}

impl FlipProbe {
    /// Every column, for CSV/Parquet and the book's Markdown.
    pub fn table(&self) -> crate::tables::Table {
        use crate::tables::{Table, Values};
        let r = &self.rows;
        Table::new()
            .col("network", "", Values::Str(r.iter().map(|x| x.network.clone()).collect()))
            .col("size", "pixels", Values::I64(r.iter().map(|x| x.size as i64).collect()))
            .col("flipped_net_vs_f_of_hflip", "relative", Values::F64(r.iter().map(|x| x.flipped).collect()))
            .col("f_vs_f_of_hflip", "relative", Values::F64(r.iter().map(|x| x.plain).collect()))
            .col("f_vs_f_of_1px_shift", "relative", Values::F64(r.iter().map(|x| x.shift).collect()))
            .col("forward_ms_per_image", "ms", Values::F64(r.iter().map(|x| x.forward_ms_per_image).collect()))
            .col("imagenet_protocol_hours", "h", Values::F64(r.iter().map(|x| x.imagenet_protocol_hours.unwrap_or(f64::NAN)).collect()))
    }
}

impl FlipProbe {
    /// The book's table (distances to four decimals, milliseconds to one).
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| network | input (px) | flipped net vs f∘hflip | f vs f∘hflip | f vs f∘(1-px shift) | forward (ms/image) |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {}×{} | {:.4} | {:.4} | {:.4} | {:.1} |\n",
                r.network, r.size, r.size, r.flipped, r.plain, r.shift, r.forward_ms_per_image
            ));
        }
        s.push_str(&format!("\nMeasured on {} (random weights, {} noise images per row).\n", self.device, self.rows.first().map_or(0, |r| r.images)));
        for r in self.rows.iter().filter(|r| r.imagenet_protocol_hours.is_some()) {
            s.push_str(&format!(
                "At {:.0} ms per image ({} at {} px) the ImageNet protocol's {} forward passes take about {:.0} hours on this device.\n",
                r.forward_ms_per_image,
                r.network,
                r.size,
                IMAGENET_PROTOCOL_FORWARDS,
                r.imagenet_protocol_hours.unwrap_or(f64::NAN)
            ));
        }
        s
    }
}

impl std::fmt::Display for FlipProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "flipped ResNets against x ↦ f(hflip x), random weights, noise images, on {}", self.device)?;
        writeln!(f, "{:<18} {:>6} {:>12} {:>12} {:>12} {:>10}", "network", "size", "f_flip", "f vs hflip", "1-px shift", "ms/image")?;
        for r in &self.rows {
            writeln!(f, "{:<18} {:>6} {:>12.4} {:>12.4} {:>12.4} {:>10.1}", r.network, r.size, r.flipped, r.plain, r.shift, r.forward_ms_per_image)?;
        }
        for r in &self.rows {
            if let Some(h) = r.imagenet_protocol_hours {
                writeln!(f, "{} at {} px: the ImageNet protocol ({IMAGENET_PROTOCOL_FORWARDS} forwards) would take about {h:.0} h here", r.network, r.size)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FlipProbeConfig {
        FlipProbeConfig { resnet50: vec![(1.0 / 16.0, vec![32, 33])], resnet20: vec![(0.25, vec![16, 17])], images: 2, seed: 3 }
    }

    #[test]
    fn the_flipped_resnet_is_exact_on_odd_sizes_and_not_on_even_ones() {
        let p = flip_probe(&small(), &Device::flex(), "flex").unwrap();
        assert_eq!(p.rows.len(), 4);
        for r in &p.rows {
            assert!(r.plain > 1e-3 && r.shift > 1e-3, "the flip and the shift change a random net's output: {r:?}");
            if r.size % 2 == 1 {
                assert!(r.flipped < 1e-5, "odd size {}: {r:?}", r.size);
            } else {
                assert!(r.flipped > 1e-5, "even size {}: {r:?}", r.size);
            }
            assert!(r.forward_ms_per_image > 0.0);
        }
    }

    #[test]
    fn mean_relative_is_zero_on_equal_rows_and_scales_with_the_reference() {
        let d = Device::flex();
        let a = Tensor::<2>::from_floats([[3.0, 4.0], [1.0, 0.0]], &d);
        assert_eq!(mean_relative(a.clone(), a.clone()), 0.0);
        let b = Tensor::<2>::from_floats([[3.0, 4.0], [0.0, 0.0]], &d);
        // row 0: 0; row 1: ‖(0,0) − (1,0)‖ / ‖(1,0)‖ = 1
        assert!((mean_relative(b, a) - 0.5).abs() < 1e-12);
        assert_eq!(fmt_width(0.0625), "1/16");
        assert_eq!(fmt_width(0.5), "0.5");
        assert_eq!(fmt_width(1.0), "1");
    }
}
