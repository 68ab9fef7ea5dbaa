//! Device batches from a host [`Dataset`]: in order (evaluation, statistics) or shuffled and
//! augmented (training, REPAIR-style statistics on the augmented training stream).

use burn::tensor::{Device, Int, Tensor, TensorData};

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
}

impl<'a> Loader<'a> {
    /// In-order, un-augmented batches with the dataset's normalisation.
    pub fn ordered(ds: &'a Dataset, batch_size: usize) -> Self {
        Self { ds, norm: ds.normalize(), batch_size: batch_size.max(1), augment: None, seed: 0, limit: ds.len }
    }

    /// Shuffled (seeded) batches with augmentation `aug`.
    pub fn augmented(ds: &'a Dataset, batch_size: usize, aug: Augment, seed: u64) -> Self {
        Self { augment: Some(aug), seed, ..Self::ordered(ds, batch_size) }
    }

    /// Use only the first `n` images (in stream order).
    pub fn limit(mut self, n: Option<usize>) -> Self {
        self.limit = n.map_or(self.ds.len, |n| n.min(self.ds.len));
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
    pub fn iter(&self, epoch: u64, device: &Device) -> impl Iterator<Item = (Tensor<4>, Tensor<1, Int>)> + '_ {
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
            (Tensor::from_data(TensorData::new(xs, [idx.len(), c, h, w]), &device), Tensor::from_data(TensorData::new(ys, [idx.len()]), &device))
        })
    }
}
