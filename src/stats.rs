//! Streamed per-channel activation statistics, accumulated exactly in f64 on the host.
//!
//! For two feature maps `a, b` of shape `[N, C, H, W]` (C may differ between a and b), each
//! batch contributes its channel sums and centred cross-products, computed on the device in f32
//! after subtracting the batch mean. Batches are combined on the host in f64 with Chan et al.'s
//! pairwise update, so the result is the statistics over all N·H·W positions of the whole pass:
//!
//! ```text
//! mean_a[i], var_a[i], mean_b[j], var_b[j], cov[i, j],  corr[i, j] = cov[i, j] / (std_a[i] std_b[j])
//! ```

use burn::tensor::Tensor;
use ndarray::{Array1, Array2};

/// Statistics of one feature map (means and population variances per channel).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelStats {
    /// Positions seen (N·H·W summed over batches).
    pub count: f64,
    /// Mean per channel.
    pub mean: Array1<f64>,
    /// Sum of squared deviations per channel (variance = m2 / count).
    pub m2: Array1<f64>,
}

impl ChannelStats {
    /// No data yet, `c` channels.
    pub fn new(c: usize) -> Self {
        Self { count: 0.0, mean: Array1::zeros(c), m2: Array1::zeros(c) }
    }

    /// Population variance per channel.
    pub fn var(&self) -> Array1<f64> {
        &self.m2 / self.count.max(1.0)
    }

    /// Unbiased variance per channel (what PyTorch's BatchNorm keeps as running variance).
    pub fn var_unbiased(&self) -> Array1<f64> {
        &self.m2 / (self.count - 1.0).max(1.0)
    }

    /// Standard deviation per channel (population).
    pub fn std(&self) -> Array1<f64> {
        self.var().mapv(f64::sqrt)
    }

    /// Add a feature map `[N, C, H, W]` (or `[N, C]`).
    pub fn update<const D: usize>(&mut self, x: Tensor<D>) {
        let (n, mean, m2) = batch_moments(x);
        merge_moments(&mut self.count, &mut self.mean, &mut self.m2, n, &mean, &m2);
    }
}

/// Joint statistics of two feature maps over the same inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct PairStats {
    /// Statistics of the first map.
    pub a: ChannelStats,
    /// Statistics of the second map.
    pub b: ChannelStats,
    /// Sum of centred cross-products `Σ (a_i − mean_a_i)(b_j − mean_b_j)`, `[C_a, C_b]`.
    pub cross: Array2<f64>,
}

impl PairStats {
    /// No data yet.
    pub fn new(ca: usize, cb: usize) -> Self {
        Self { a: ChannelStats::new(ca), b: ChannelStats::new(cb), cross: Array2::zeros((ca, cb)) }
    }

    /// Add a pair of feature maps `[N, C_a, H, W]`, `[N, C_b, H, W]` computed from the same inputs.
    pub fn update(&mut self, a: Tensor<4>, b: Tensor<4>) {
        let ca = a.dims()[1];
        let cb = b.dims()[1];
        let fa = channels_first(a);
        let fb = channels_first(b);
        let n = fa.dims()[1] as f64;
        let ma = fa.clone().mean_dim(1);
        let mb = fb.clone().mean_dim(1);
        let za = fa - ma.clone();
        let zb = fb - mb.clone();
        let cross_b = to_array2(za.clone().matmul(zb.clone().transpose()), ca, cb);
        let m2a = to_array1(za.powi_scalar(2).sum_dim(1));
        let m2b = to_array1(zb.powi_scalar(2).sum_dim(1));
        let (ma, mb) = (to_array1(ma), to_array1(mb));
        // Chan's update of the cross term uses the mean differences before the means move.
        let total = self.a.count + n;
        if self.a.count > 0.0 {
            let da = &ma - &self.a.mean;
            let db = &mb - &self.b.mean;
            let w = self.a.count * n / total;
            for i in 0..ca {
                for j in 0..cb {
                    self.cross[[i, j]] += cross_b[[i, j]] + w * da[i] * db[j];
                }
            }
        } else {
            self.cross += &cross_b;
        }
        let (mut ca_count, mut cb_count) = (self.a.count, self.b.count);
        merge_moments(&mut ca_count, &mut self.a.mean, &mut self.a.m2, n, &ma, &m2a);
        merge_moments(&mut cb_count, &mut self.b.mean, &mut self.b.m2, n, &mb, &m2b);
        self.a.count = ca_count;
        self.b.count = cb_count;
    }

    /// Covariance `[C_a, C_b]`.
    pub fn cov(&self) -> Array2<f64> {
        &self.cross / self.a.count.max(1.0)
    }

    /// Pearson correlation `[C_a, C_b]` (a constant channel gives NaN entries; the assignment
    /// solver sanitises them).
    pub fn corr(&self) -> Array2<f64> {
        let (sa, sb) = (self.a.std(), self.b.std());
        let mut c = self.cov();
        for ((i, j), v) in c.indexed_iter_mut() {
            *v /= sa[i] * sb[j];
        }
        c
    }
}

/// `[N, C, ...] → [C, N·...]`.
fn channels_first<const D: usize>(x: Tensor<D>) -> Tensor<2> {
    let dims = x.dims();
    let c = dims[1];
    let x = x.swap_dims(0, 1);
    let rest: usize = dims.iter().product::<usize>() / c.max(1);
    x.reshape([c, rest])
}

fn batch_moments<const D: usize>(x: Tensor<D>) -> (f64, Array1<f64>, Array1<f64>) {
    let f = channels_first(x);
    let n = f.dims()[1] as f64;
    let m = f.clone().mean_dim(1);
    let m2 = (f - m.clone()).powi_scalar(2).sum_dim(1);
    (n, to_array1(m), to_array1(m2))
}

fn merge_moments(count: &mut f64, mean: &mut Array1<f64>, m2: &mut Array1<f64>, n: f64, bmean: &Array1<f64>, bm2: &Array1<f64>) {
    let total = *count + n;
    if total == 0.0 {
        return;
    }
    let delta = bmean - &*mean;
    *m2 = &*m2 + bm2 + &delta.mapv(|d| d * d * *count * n / total);
    *mean = &*mean + &delta.mapv(|d| d * n / total);
    *count = total;
}

fn to_array1(t: Tensor<2>) -> Array1<f64> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data").into_iter().map(f64::from).collect()
}

fn to_array2(t: Tensor<2>, r: usize, c: usize) -> Array2<f64> {
    let v: Vec<f64> = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data").into_iter().map(f64::from).collect();
    Array2::from_shape_vec((r, c), v).expect("shape matches")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random_images;
    use burn::tensor::Device;

    /// Streaming over batches gives the statistics of the concatenated data.
    #[test]
    fn streamed_statistics_equal_whole_pass_statistics() {
        let device = Device::flex();
        let xa = random_images(&device, 12, 3, 4, 1) * 2.0 + 1.0;
        let xb = random_images(&device, 12, 5, 4, 2) + xa.clone().narrow(1, 0, 1).repeat_dim(1, 5) * 0.5;
        let mut whole = PairStats::new(3, 5);
        whole.update(xa.clone(), xb.clone());
        let mut parts = PairStats::new(3, 5);
        for (s, l) in [(0, 5), (5, 1), (6, 6)] {
            parts.update(xa.clone().narrow(0, s, l), xb.clone().narrow(0, s, l));
        }
        let close = |a: &Array2<f64>, b: &Array2<f64>| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4 * (1.0 + x.abs()));
        assert!(close(&whole.cov(), &parts.cov()));
        assert!(close(&whole.corr(), &parts.corr()));
        assert!((whole.a.var() - parts.a.var()).iter().all(|d| d.abs() < 1e-4));
        assert!((whole.b.mean.clone() - parts.b.mean.clone()).iter().all(|d| d.abs() < 1e-5));
        // correlation of a channel with itself is 1
        let mut selfp = PairStats::new(3, 3);
        selfp.update(xa.clone(), xa);
        for i in 0..3 {
            assert!((selfp.corr()[[i, i]] - 1.0).abs() < 1e-5);
        }
    }
}
