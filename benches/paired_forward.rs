//! The speed issue's lever "one forward pass for x and hflip(x) together": the flip-invariance
//! evaluation (`train::evaluate_on`, every endpoint of a merge) runs the net on a batch and on its
//! mirror image. Here the two separate passes over a batch of 500 (`two`) against one pass over
//! the 1,000 images `cat[x, hflip x]`, split afterwards (`one`), for VGG11 with BatchNorm in
//! inference mode at widths 0.25 and 1 on random 3×32×32 inputs: best of five, the two variants
//! alternating, and the largest absolute difference of their logits (zero up to summation order).
//!
//!     cargo bench --profile dev --bench paired_forward     # on a quiet machine (dev: optimised deps)
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor, s};
use relu_symmetries::group::D4;
use relu_symmetries::nets::VggConfig;

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?").to_string();
    println!("load (1-min average) at start: {}", load());
    let dev = Device::flex();
    let n = 500;
    println!("VGG11-BN inference on x and hflip(x), batch {n} (ms per batch, best of 5)");
    for width in [0.25, 1.0] {
        let model = VggConfig::vgg11(width).with_batch_norm(true).init(&dev, 0).expect("a valid config");
        let x = Tensor::<4>::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), &dev);
        let two = || {
            let a = model.forward(x.clone());
            let b = model.forward(D4::HFLIP.apply(x.clone()));
            (Tensor::<2>::from_data(a.into_data(), &dev), Tensor::<2>::from_data(b.into_data(), &dev))
        };
        let one = || {
            let y = model.forward(Tensor::cat(vec![x.clone(), D4::HFLIP.apply(x.clone())], 0));
            let y = Tensor::<2>::from_data(y.into_data(), &dev);
            (y.clone().slice(s![0..n, ..]), y.slice(s![n..2 * n, ..]))
        };
        let (a2, b2) = two();
        let (a1, b1) = one();
        let err = (a2 - a1).abs().max().into_scalar::<f32>().max((b2 - b1).abs().max().into_scalar::<f32>());
        let (mut best_two, mut best_one) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            let t = Instant::now();
            let _ = two();
            best_two = best_two.min(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let _ = one();
            best_one = best_one.min(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "width {width:<4}: two passes {best_two:>7.1}  one pass {best_one:>7.1}  one/two {:.2}  (max. abs. difference {err:.0e})",
            best_one / best_two
        );
    }
    println!("load (1-min average) at end: {}", load());
}
