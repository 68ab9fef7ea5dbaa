//! Levers of the speed issue that replace one flex kernel by a composition of tensor ops, each
//! checked against the kernel (max. abs. difference) and timed (best of four, batch 500, the
//! shapes of VGG11 ×0.25), forward only and forward + backward under autodiff:
//!
//! * the 3×3 convolution as im2col (pad, nine shifted slices, stack) + matmul — `batched`: one
//!   `[O, 9C] × [9C, HW]` product per image; `big`: one `[NHW, 9C] × [9C, O]` product for the
//!   whole batch (the kernel runs one small gemm per image and tile, which is the suspect at 4×4
//!   and 2×2 maps);
//! * the 2×2 max-pool (whose kernel always builds an index tensor) as `max_pair` of row pairs,
//!   then column pairs (`pairs`), or of four stepped slices (`steps`).
//!
//!     cargo bench --profile dev --bench op_variants     # on a quiet machine (dev: optimised deps)
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Distribution, Tensor, s};
use std::time::Instant;

fn patches(x: Tensor<4>) -> Tensor<5> {
    let [_, _, h, w] = x.dims();
    let xp = x.pad((1, 1, 1, 1), PadMode::Constant(0.0));
    let mut v = Vec::with_capacity(9);
    for ky in 0..3 {
        for kx in 0..3 {
            v.push(xp.clone().slice(s![.., .., ky..ky + h, kx..kx + w]));
        }
    }
    Tensor::stack(v, 2) // [N, C, 9, H, W]
}
fn batched(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let o = w.dims()[0];
    let cols = patches(x).reshape([n, c * 9, h * wd]);
    let w2 = w.reshape([1, o, c * 9]);
    (w2.matmul(cols) + b.reshape([1, o, 1])).reshape([n, o, h, wd])
}
fn big(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let o = w.dims()[0];
    let cols = patches(x).permute([0, 3, 4, 1, 2]).reshape([n * h * wd, c * 9]);
    let w2 = w.reshape([o, c * 9]).transpose();
    (cols.matmul(w2) + b.reshape([1, o])).reshape([n, h, wd, o]).permute([0, 3, 1, 2])
}

fn pool_pairs(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let m = n * c * h / 2;
    let x = x.reshape([m, 2, w]);
    let rows = x.clone().slice(s![.., 0..1, ..]).max_pair(x.slice(s![.., 1..2, ..]));
    let r = rows.reshape([m, w / 2, 2]);
    r.clone().slice(s![.., .., 0..1]).max_pair(r.slice(s![.., .., 1..2])).reshape([n, c, h / 2, w / 2])
}
fn pool_steps(x: Tensor<4>) -> Tensor<4> {
    let a = x.clone().slice(s![.., .., 0..;2, 0..;2]);
    let b = x.clone().slice(s![.., .., 0..;2, 1..;2]);
    let c = x.clone().slice(s![.., .., 1..;2, 0..;2]);
    let d = x.slice(s![.., .., 1..;2, 1..;2]);
    a.max_pair(b).max_pair(c.max_pair(d))
}

/// Best of four runs of `f` on `x`, in ms; with autodiff, forward + backward to `x`'s gradient.
fn best_ms(x: &Tensor<4>, backward: bool, f: &dyn Fn(Tensor<4>) -> Tensor<4>) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..4 {
        let t = Instant::now();
        let y = f(x.clone());
        if backward {
            let g = y.sum().backward();
            let _ = x.grad(&g).expect("x requires a gradient").sum().into_scalar::<f32>();
        } else {
            let _ = y.sum().into_scalar::<f32>();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e3
}

fn max_abs(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?").to_string();
    println!("load (1-min average) at start: {}", load());
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    println!("3x3 convolution, batch 500 (ms; err = max. abs. difference to the kernel)");
    for (cin, cout, hw) in [(3, 16, 32), (16, 32, 16), (32, 64, 8), (64, 64, 8), (64, 128, 4), (128, 128, 4), (128, 128, 2)] {
        for (backward, d) in [(false, &dev), (true, &ad)] {
            let conv = Conv2dConfig::new([cin, cout], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(d);
            let x = Tensor::<4>::random([500, cin, hw, hw], Distribution::Normal(0.0, 1.0), d);
            let x = if backward { x.require_grad() } else { x };
            let (wt, bt) = (conv.weight.val(), conv.bias.as_ref().expect("a bias").val());
            let e1 = max_abs(conv.forward(x.clone()), batched(x.clone(), wt.clone(), bt.clone()));
            let e2 = max_abs(conv.forward(x.clone()), big(x.clone(), wt.clone(), bt.clone()));
            let k = best_ms(&x, backward, &|x| conv.forward(x));
            let b1 = best_ms(&x, backward, &|x| batched(x, wt.clone(), bt.clone()));
            let b2 = best_ms(&x, backward, &|x| big(x, wt.clone(), bt.clone()));
            let pass = if backward { "fwd+bwd" } else { "fwd" };
            println!("{cin:>3}->{cout:<3} {hw:>2}x{hw:<2} {pass:>7}: kernel {k:>6.1}  batched {b1:>6.1} (err {e1:.0e})  big {b2:>6.1} (err {e2:.0e})");
        }
    }
    println!("2x2 max-pool, batch 500 (ms)");
    let pool = MaxPool2dConfig::new([2, 2]).init();
    for (c, hw) in [(16, 32), (32, 16), (64, 8), (128, 4), (128, 2)] {
        for (backward, d) in [(false, &dev), (true, &ad)] {
            let x = Tensor::<4>::random([500, c, hw, hw], Distribution::Normal(0.0, 1.0), d);
            let x = if backward { x.require_grad() } else { x };
            assert_eq!(pool.forward(x.clone()).into_data(), pool_pairs(x.clone()).into_data(), "pairs is the max-pool");
            assert_eq!(pool.forward(x.clone()).into_data(), pool_steps(x.clone()).into_data(), "steps is the max-pool");
            let k = best_ms(&x, backward, &|x| pool.forward(x));
            let p = best_ms(&x, backward, &pool_pairs);
            let st = best_ms(&x, backward, &pool_steps);
            let pass = if backward { "fwd+bwd" } else { "fwd" };
            println!("{c:>3} {hw:>2}x{hw:<2} {pass:>7}: kernel {k:>6.1}  pairs {p:>6.1}  steps {st:>6.1}");
        }
    }
    println!("load (1-min average) at end: {}", load());
}
