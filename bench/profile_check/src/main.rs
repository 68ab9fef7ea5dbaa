//! VGG11 without BatchNorm at widths 0.25 and 1 on burn's flex backend: inference images/s
//! (batch 500) and forward + backward images/s of a training step (batch 500 at width 0.25, 128
//! at width 1), best of `REPS`, on random inputs. Build it under two profiles (see `Cargo.toml`)
//! to see what the dependencies' debug assertions cost.
use std::time::Instant;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};

/// Repetitions per measurement; the best is reported.
const REPS: usize = 4;

/// VGG11's feature stack: channel counts at width 1, `None` for a 2×2 max-pool.
const VGG11: [Option<usize>; 13] = [Some(64), None, Some(128), None, Some(256), Some(256), None, Some(512), Some(512), None, Some(512), Some(512), None];

struct Vgg {
    convs: Vec<Conv2d>,
    /// Whether a max-pool follows conv `i`.
    pool_after: Vec<bool>,
    pool: MaxPool2d,
    head: Linear,
}

impl Vgg {
    fn new(width: f64, dev: &Device) -> Self {
        let (mut convs, mut pool_after, mut cin) = (Vec::new(), Vec::new(), 3);
        for layer in VGG11 {
            match layer {
                Some(c) => {
                    let cout = (c as f64 * width).round() as usize;
                    let cfg = Conv2dConfig::new([cin, cout], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
                    convs.push(cfg.init(dev));
                    pool_after.push(false);
                    cin = cout;
                }
                None => *pool_after.last_mut().expect("VGG11 starts with a conv") = true,
            }
        }
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        Vgg { convs, pool_after, pool, head: LinearConfig::new(cin, 10).init(dev) }
    }

    /// `[B, 3, 32, 32]` → logits `[B, 10]`.
    fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        for (conv, &pool) in self.convs.iter().zip(&self.pool_after) {
            x = relu(conv.forward(x));
            if pool {
                x = self.pool.forward(x);
            }
        }
        let [b, c, _, _] = x.dims();
        self.head.forward(x.reshape([b, c]))
    }
}

/// Best images/s of `f` over `REPS` runs on `n` images.
fn best_rate(n: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..REPS {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn main() {
    // The profile's output folder names the build: `target/debug/` for `dev`, `target/unchecked/`.
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let checked = !exe.contains("/unchecked/");
    println!("{exe}: dependencies' debug assertions and overflow checks {}", if checked { "on" } else { "off" });
    for width in [0.25, 1.0] {
        let dev = Device::flex();
        let net = Vgg::new(width, &dev);
        let x = Tensor::<4>::random([500, 3, 32, 32], Distribution::Normal(0.0, 1.0), &dev);
        let rate = best_rate(500, || {
            let _ = net.forward(x.clone()).into_data();
        });
        println!("width {width}: inference {rate:.0} images/s (batch 500)");

        let dev = Device::flex().autodiff();
        let net = Vgg::new(width, &dev);
        let n = if width < 0.5 { 500 } else { 128 };
        let x = Tensor::<4>::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), &dev);
        let rate = best_rate(n, || {
            let grads = net.forward(x.clone()).sum().backward();
            let _ = net.convs[0].weight.grad(&grads).map(|g| g.into_data());
        });
        println!("width {width}: training step {rate:.0} images/s (batch {n}, forward + backward)");
    }
}
