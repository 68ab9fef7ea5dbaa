//! 2×2 max-pooling on relusym's LibTorch build (vendor/burn-tch) at VGG11's map sizes (widths
//! 0.25 and 1, batch 500): inference's forward pass (no indices), training's (with indices) and
//! its gradient, in the plain layout, where the shim's own kernels run (`src/aten_shim.cpp`), and
//! in the channels-last layout, where inference takes strided maxima and training keeps aten's
//! kernels. ms per call, best of five after an untimed call. aten's kernels in the plain
//! layout, which the shim replaces, are timed by `bench/max_pool.py` (`results/cpu/max-pool.txt`,
//! the same map sizes).
//!
//!     just bench-max-pool-shim    # writes results/cpu/max-pool-shim.txt; on a quiet machine
use std::time::Instant;

use burn::tensor::module::{max_pool2d, max_pool2d_with_indices, max_pool2d_with_indices_backward};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Distribution, Tensor};
use relu_symmetries::device::DeviceChoice;

/// Best of five of `f`, in ms.
fn best(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    // as in the relusym binary: freed memory stays in the heap (src/allocator.rs)
    relu_symmetries::allocator::keep_freed_memory();
    let device = DeviceChoice::Libtorch.resolve();
    assert_eq!(device.backend, "libtorch", "build with --features libtorch (README)");
    let dev = device.device;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# {}, load (1-min average) at start: {}", device.description, load.split(' ').next().unwrap_or("?"));
    println!("# forward: without indices (inference); +indices: with them (training); backward: the gradient");
    println!("{:<24}{:>30}    {:>30}", "#", "plain layout: shim", "channels-last: strided, aten");
    let head = |s: &str| format!("{:>10}{:>10}{:>10}", "forward", "+indices", s);
    println!("{:<24}{}    {}", "# map", head("backward"), head("backward"));
    let n = 500;
    for [c, side] in [[16, 32], [32, 16], [64, 8], [128, 4], [128, 2], [64, 32], [128, 16], [256, 8], [512, 4], [512, 2]] {
        let plain = Tensor::<4>::random([n, c, side, side], Distribution::Normal(0.0, 1.0), &dev);
        let cl = Tensor::<4>::random([n, side, side, c], Distribution::Normal(0.0, 1.0), &dev).permute([0, 3, 1, 2]);
        let grad_plain = Tensor::<4>::random([n, c, side / 2, side / 2], Distribution::Normal(0.0, 1.0), &dev);
        let grad_cl = Tensor::<4>::random([n, side / 2, side / 2, c], Distribution::Normal(0.0, 1.0), &dev).permute([0, 3, 1, 2]);
        let mut row = Vec::new();
        for (x, grad) in [(plain, grad_plain), (cl, grad_cl)] {
            let forward = || max_pool2d_with_indices(x.clone(), MaxPoolOptions::new([2, 2]));
            let indices = forward().1;
            let backward = || max_pool2d_with_indices_backward(x.clone(), [2, 2], [2, 2], [0, 0], [1, 1], false, grad.clone(), indices.clone());
            row.push(best(|| drop(max_pool2d(x.clone(), MaxPoolOptions::new([2, 2])))));
            row.push(best(|| drop(forward())));
            row.push(best(|| drop(backward())));
        }
        let ms = |r: &[f64]| r.iter().map(|v| format!("{v:>10.1}")).collect::<String>();
        println!("{:<24}{}    {}", format!("{n}x{c}x{side}x{side}"), ms(&row[..3]), ms(&row[3..]));
    }
}
