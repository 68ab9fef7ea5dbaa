//! Where VGG11's inference time goes on flex: per block, the time of the convolution, the
//! BatchNorm, the ReLU and the max-pool, summed over repetitions of a batch of 500 random
//! 3×32×32 images, for widths 0.25 and 1 with BatchNorm (the study's nets are width 0.25 with BN;
//! the measurement jobs spend nearly all their time in such forward passes). Each op's output is
//! read back to the host (`into_data`), so the times include no deferred work; the last column is
//! the whole forward pass without read-backs, for comparison with the sum.
//!
//!     cargo bench --profile dev --bench vgg_layers     # on a quiet machine (dev: optimised deps)
use std::time::Instant;

use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use relu_symmetries::nets::VggConfig;

fn main() {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?").to_string();
    println!("load (1-min average) at start: {}", load());
    let dev = Device::flex();
    let reps = 4;
    for width in [0.25, 1.0] {
        let model = VggConfig::vgg11(width).with_batch_norm(true).init(&dev, 0).expect("a valid config");
        let x = Tensor::<4>::random([500, 3, 32, 32], Distribution::Normal(0.0, 1.0), &dev);
        let _ = model.forward(x.clone()).into_data();
        let n = model.convs.len();
        let mut t = vec![[0.0f64; 4]; n];
        let time = |acc: &mut f64, f: &mut dyn FnMut() -> Tensor<4>| -> Tensor<4> {
            let s = Instant::now();
            let y = f();
            let y = Tensor::<4>::from_data(y.into_data(), &dev);
            *acc += s.elapsed().as_secs_f64();
            y
        };
        for _ in 0..reps {
            let mut h = x.clone();
            for (i, ti) in t.iter_mut().enumerate() {
                let z = time(&mut ti[0], &mut || model.convs[i].forward(h.clone()));
                let z = time(&mut ti[1], &mut || model.norms[i].forward(z.clone()));
                let z = time(&mut ti[2], &mut || relu(z.clone()));
                h = time(&mut ti[3], &mut || model.pool_if_after(i, z.clone()));
            }
        }
        let s = Instant::now();
        for _ in 0..reps {
            let _ = model.forward(x.clone()).into_data();
        }
        let whole = s.elapsed().as_secs_f64() / reps as f64 * 1e3;
        println!("width {width}, BN, batch 500: ms per forward (mean of {reps})");
        println!("block   conv     BN   ReLU   pool");
        let mut sum = [0.0; 4];
        for (i, ti) in t.iter().enumerate() {
            let ms: Vec<f64> = ti.iter().map(|v| v / reps as f64 * 1e3).collect();
            for k in 0..4 {
                sum[k] += ms[k];
            }
            println!("{i:>5} {:>6.1} {:>6.1} {:>6.1} {:>6.1}", ms[0], ms[1], ms[2], ms[3]);
        }
        println!("  sum {:>6.1} {:>6.1} {:>6.1} {:>6.1}   whole forward {whole:.1}", sum[0], sum[1], sum[2], sum[3]);
    }
    println!("load (1-min average) at end: {}", load());
}
