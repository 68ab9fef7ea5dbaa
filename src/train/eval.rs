//! Evaluation: accuracy, loss and flip invariance of a network on a dataset.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::batches::Loader;
use crate::data::Dataset;
use crate::group::D4;
use crate::nets::Network;

/// Test-set metrics of one network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    /// Images evaluated.
    pub images: usize,
    /// Share of images classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Share of images whose predicted class is unchanged by a horizontal flip.
    pub flip_agreement: f64,
    /// Mean over images of ‖f(x) − f(hflip x)‖ / ‖f(x)‖ (logits).
    pub relative_logit_change: f64,
    /// Accuracy of the flipped network x ↦ f(hflip x) (free: the same forward passes).
    pub flipped_accuracy: f64,
    /// Mean cross-entropy of the flipped network.
    pub flipped_loss: f64,
}

impl EvalMetrics {
    /// The metrics of the flipped network x ↦ f(hflip x), read off the same evaluation.
    pub fn of_flipped(&self) -> EvalMetrics {
        EvalMetrics { accuracy: self.flipped_accuracy, loss: self.flipped_loss, flipped_accuracy: self.accuracy, flipped_loss: self.loss, ..self.clone() }
    }
}

/// Evaluate `model` (in inference mode, no autodiff) on `ds`, or on a class-stratified subset of
/// `limit` images of it ([`Dataset::evaluation_subset`]).
pub fn evaluate<N: Network>(model: &N, ds: &Dataset, batch_size: usize, limit: Option<usize>, device: &Device, progress: &ProgressBar) -> EvalMetrics {
    let ds = ds.evaluation_subset(limit);
    evaluate_on(model, &Loader::ordered(&ds, batch_size), device, progress)
}

/// Accuracy and mean cross-entropy of `model` on every batch of `loader`, without the flipped
/// pass (half the cost of [`evaluate_on`]).
pub fn accuracy_and_loss<N: Network>(model: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> (f64, f64) {
    let model = model.for_evaluation();
    let device = device.clone().inner();
    let ce = CrossEntropyLossConfig::new().init(&device);
    let (mut n, mut correct, mut loss_sum) = (0usize, 0i64, 0f64);
    for (x, y) in loader.iter(0, &device) {
        let b = y.dims()[0];
        let logits = model.forward(x);
        correct += logits.clone().argmax(1).reshape([b]).equal(y.clone()).int().sum().into_scalar::<i64>();
        loss_sum += ce.forward(logits, y).into_scalar::<f32>() as f64 * b as f64;
        n += b;
        progress.inc(b as u64);
    }
    let nf = n.max(1) as f64;
    (correct as f64 / nf, loss_sum / nf)
}

/// Evaluate `model` (in inference mode, no autodiff) on every batch of `loader`.
pub fn evaluate_on<N: Network>(model: &N, loader: &Loader, device: &Device, progress: &ProgressBar) -> EvalMetrics {
    let s = paired_pass(model, loader, D4::HFLIP, device, progress);
    EvalMetrics {
        images: s.images,
        accuracy: s.accuracy,
        loss: s.loss,
        flip_agreement: s.agreement,
        relative_logit_change: s.relative_logit_change,
        flipped_accuracy: s.transformed_accuracy,
        flipped_loss: s.transformed_loss,
    }
}

/// How much a network's output changes when its input is transformed by one element `g` of
/// D4 (the flip the paper studies, or a vertical flip or rotation the nets never saw).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupInvariance {
    /// The element, as [`D4::name`] writes it.
    pub element: String,
    /// Images evaluated.
    pub images: usize,
    /// Accuracy on the images as they are.
    pub accuracy: f64,
    /// Accuracy on the transformed images g·x.
    pub transformed_accuracy: f64,
    /// Share of images whose predicted class is unchanged by g.
    pub agreement: f64,
    /// Mean over images of ‖f(x) − f(g·x)‖ / ‖f(x)‖ (logits).
    pub relative_logit_change: f64,
}

/// [`GroupInvariance`] of `model` under `g` on every batch of `loader` (images must be square
/// for rotations).
pub fn invariance_under<N: Network>(model: &N, g: D4, loader: &Loader, device: &Device, progress: &ProgressBar) -> GroupInvariance {
    let s = paired_pass(model, loader, g, device, progress);
    GroupInvariance {
        element: g.name(),
        images: s.images,
        accuracy: s.accuracy,
        transformed_accuracy: s.transformed_accuracy,
        agreement: s.agreement,
        relative_logit_change: s.relative_logit_change,
    }
}

/// The means one pass over x and g·x gives.
struct PairedPass {
    images: usize,
    accuracy: f64,
    loss: f64,
    transformed_accuracy: f64,
    transformed_loss: f64,
    agreement: f64,
    relative_logit_change: f64,
}

fn paired_pass<N: Network>(model: &N, loader: &Loader, g: D4, device: &Device, progress: &ProgressBar) -> PairedPass {
    let model = model.for_evaluation();
    let device = device.clone().inner();
    let ce = CrossEntropyLossConfig::new().init(&device);
    let (mut n, mut correct, mut agree, mut loss_sum, mut rel_sum) = (0usize, 0i64, 0i64, 0f64, 0f64);
    let (mut correct_f, mut loss_f) = (0i64, 0f64);
    for (x, y) in loader.iter(0, &device) {
        let b = y.dims()[0];
        let logits = model.forward(x.clone());
        let flipped = model.forward(g.apply(x));
        let pred = logits.clone().argmax(1).reshape([b]);
        let pred_f = flipped.clone().argmax(1).reshape([b]);
        correct += pred.clone().equal(y.clone()).int().sum().into_scalar::<i64>();
        correct_f += pred_f.clone().equal(y.clone()).int().sum().into_scalar::<i64>();
        loss_f += ce.forward(flipped.clone(), y.clone()).into_scalar::<f32>() as f64 * b as f64;
        agree += pred.equal(pred_f).int().sum().into_scalar::<i64>();
        loss_sum += ce.forward(logits.clone(), y).into_scalar::<f32>() as f64 * b as f64;
        let diff = (logits.clone() - flipped).powi_scalar(2).sum_dim(1).sqrt();
        let norm_f = logits.powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        rel_sum += (diff / norm_f).sum().into_scalar::<f32>() as f64;
        n += b;
        progress.inc(b as u64);
    }
    let nf = n.max(1) as f64;
    PairedPass {
        images: n,
        accuracy: correct as f64 / nf,
        loss: loss_sum / nf,
        transformed_accuracy: correct_f as f64 / nf,
        transformed_loss: loss_f / nf,
        agreement: agree as f64 / nf,
        relative_logit_change: rel_sum / nf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SyntheticSpec;
    use crate::nets::{Vgg, VggConfig};

    fn setup() -> (Vgg, Dataset, Device) {
        let device = Device::flex();
        let net = VggConfig::vgg11(0.125).init(&device, 3).unwrap();
        let splits = SyntheticSpec { n_train: 8, n_test: 40, ..SyntheticSpec::default() }.generate();
        (net, splits.test, device)
    }

    #[test]
    fn every_net_is_invariant_under_the_identity() {
        let (net, ds, device) = setup();
        let inv = invariance_under(&net, D4::IDENTITY, &Loader::ordered(&ds, 16), &device, &ProgressBar::hidden());
        assert_eq!((inv.agreement, inv.relative_logit_change, inv.images), (1.0, 0.0, 40));
        assert_eq!(inv.accuracy, inv.transformed_accuracy);
    }

    #[test]
    fn hflip_invariance_is_the_evaluation_flip_invariance() {
        let (net, ds, device) = setup();
        let loader = Loader::ordered(&ds, 16);
        let m = evaluate_on(&net, &loader, &device, &ProgressBar::hidden());
        let inv = invariance_under(&net, D4::HFLIP, &loader, &device, &ProgressBar::hidden());
        assert_eq!((inv.agreement, inv.relative_logit_change), (m.flip_agreement, m.relative_logit_change));
        assert_eq!((inv.accuracy, inv.transformed_accuracy), (m.accuracy, m.flipped_accuracy));
        // a random net is not invariant under a quarter turn
        let r = invariance_under(&net, D4::ROT90, &loader, &device, &ProgressBar::hidden());
        assert!(r.relative_logit_change > 1e-4, "{r:?}");
        assert_eq!(r.element, "r1");
    }
}
