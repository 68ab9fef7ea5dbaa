//! How flex's 3×3 convolution cost depends on its channel counts: forward + backward of one conv
//! layer on a batch of 128 32×32 maps, best of six, per (input, output) channels. It asks whether
//! padding VGG11's 3-channel input to 4 or 8 zero channels would pay (a lever named in the speed
//! issue): compare the absolute times of `cin 3` with `cin 4` and `cin 8` at the same `cout`.
//!
//!     cargo bench --profile dev --bench conv_channels     # on a quiet machine (dev: optimised deps)
use std::time::Instant;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Device, Distribution, Tensor};

fn main() {
    let dev = Device::flex().autodiff();
    for (cin, cout) in [(3usize, 16usize), (4, 16), (8, 16), (16, 16), (16, 32), (3, 64), (8, 64), (64, 64)] {
        let conv = Conv2dConfig::new([cin, cout], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&dev);
        let x = Tensor::<4>::random([128, cin, 32, 32], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let mut best = f64::MAX;
        for _ in 0..6 {
            let t = Instant::now();
            let y = conv.forward(x.clone());
            let g = y.sum().backward();
            let _ = x.grad(&g).expect("the input requires a gradient").into_data();
            best = best.min(t.elapsed().as_secs_f64());
        }
        let flops = 2.0 * 128.0 * 32.0 * 32.0 * (cin * cout * 9) as f64 * 3.0;
        println!("cin {cin:>3} cout {cout:>3}: fwd+bwd {:.1} ms, {:.2} GFLOP/s", best * 1e3, flops / best / 1e9);
    }
}
