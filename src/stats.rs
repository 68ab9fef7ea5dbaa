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
        let (za, ma) = centred(a);
        let (zb, mb) = centred(b);
        let [samples, positions, _] = za.dims();
        let n = (samples * positions) as f64;
        let cross_b = to_array2(rows(za.clone()).transpose().matmul(rows(zb.clone())), ca, cb);
        let m2a = row(channel_sums(za.powi_scalar(2)));
        let m2b = row(channel_sums(zb.powi_scalar(2)));
        let (ma, mb) = (row(ma), row(mb));
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

    /// The statistics of `a` and of `b` with its channels permuted by `p`: new channel `i` of
    /// `b` is old channel `p[i]` (the convention of [`crate::group::Perm`]). What one pass of `a`
    /// and `b` gives, read as a pass of `a` and the permuted `b`.
    pub fn with_b_permuted(&self, p: &[usize]) -> PairStats {
        assert_eq!(p.len(), self.b.mean.len(), "permutation of {} channels applied to {}", p.len(), self.b.mean.len());
        let b = ChannelStats { count: self.b.count, mean: p.iter().map(|&j| self.b.mean[j]).collect(), m2: p.iter().map(|&j| self.b.m2[j]).collect() };
        let cross = Array2::from_shape_fn(self.cross.dim(), |(i, k)| self.cross[[i, p[k]]]);
        PairStats { a: self.a.clone(), b, cross }
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

/// `[N, C, ...] → [N, P, C]` (P positions per sample): one row per position, one column per
/// channel. For a map laid out channels-last in memory (every map of a channels-last batch on
/// LibTorch) this is a view, not a copy.
fn by_position<const D: usize>(x: Tensor<D>) -> Tensor<3> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let positions: usize = dims.iter().skip(2).product();
    let mut axes = [0usize; D];
    for (k, a) in axes.iter_mut().enumerate().skip(1) {
        *a = if k + 1 < D { k + 1 } else { 1 };
    }
    x.permute(axes).reshape([n, positions, c])
}

/// Per-channel sums of `[N, P, C]` as `[1, 1, C]`, over positions first and samples second: two
/// short f32 sums instead of one of N·P terms, which keeps the rounding error small.
fn channel_sums(x: Tensor<3>) -> Tensor<3> {
    x.sum_dim(1).sum_dim(0)
}

/// `[N, P, C]` as `[N·P, C]`.
fn rows(x: Tensor<3>) -> Tensor<2> {
    let [n, p, c] = x.dims();
    x.reshape([n * p, c])
}

/// `[1, 1, C]` as `[1, C]`.
fn row(x: Tensor<3>) -> Array1<f64> {
    to_array1(x.flatten(0, 1))
}

/// A map `[N, C, ...]` as positions × channels `[N, P, C]` with its per-channel mean
/// subtracted, and that mean `[1, 1, C]`.
fn centred<const D: usize>(x: Tensor<D>) -> (Tensor<3>, Tensor<3>) {
    let f = by_position(x);
    let [n, p, _] = f.dims();
    let mean = channel_sums(f.clone()) / (n * p) as f32;
    (f - mean.clone(), mean)
}

/// Per-channel mean and sum of squared deviations of a map `[N, C, ...]` over its N·P positions,
/// on the device, each `[1, C]`, with N·P: one batch's moments, for [`ChannelStats`] and for
/// REPAIR's batch statistics.
pub(crate) fn moments<const D: usize>(x: Tensor<D>) -> (usize, Tensor<2>, Tensor<2>) {
    let (z, mean) = centred(x);
    let [n, p, _] = z.dims();
    (n * p, mean.flatten(0, 1), channel_sums(z.powi_scalar(2)).flatten(0, 1))
}

fn batch_moments<const D: usize>(x: Tensor<D>) -> (f64, Array1<f64>, Array1<f64>) {
    let (n, mean, m2) = moments(x);
    (n as f64, to_array1(mean), to_array1(m2))
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

    #[test]
    fn permuting_b_after_the_pass_equals_a_pass_over_the_permuted_b() {
        use burn::tensor::{Int, TensorData};
        let device = Device::flex();
        let xa = random_images(&device, 10, 3, 4, 3);
        let xb = random_images(&device, 10, 4, 4, 4) * 3.0 - 1.0 + xa.clone().narrow(1, 1, 1).repeat_dim(1, 4);
        for p in [vec![0usize, 1, 2, 3], vec![2, 0, 3, 1], vec![3, 2, 1, 0]] {
            let idx = Tensor::<1, Int>::from_data(TensorData::new(p.iter().map(|&j| j as i64).collect::<Vec<_>>(), [4]), &device);
            let (mut before, mut after) = (PairStats::new(3, 4), PairStats::new(3, 4));
            before.update(xa.clone(), xb.clone());
            after.update(xa.clone(), xb.clone().select(1, idx));
            let derived = before.with_b_permuted(&p);
            let close = |x: &Array2<f64>, y: &Array2<f64>| x.iter().zip(y).all(|(u, v)| (u - v).abs() < 1e-4 * (1.0 + u.abs()));
            assert!(close(&derived.cov(), &after.cov()), "{p:?}");
            assert!((derived.b.var() - after.b.var()).iter().all(|d| d.abs() < 1e-4), "{p:?}");
            assert!((derived.b.mean.clone() - after.b.mean.clone()).iter().all(|d| d.abs() < 1e-5), "{p:?}");
            assert_eq!(derived.a, before.a);
        }
    }
}
