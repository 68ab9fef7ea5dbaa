//! The training loop (written by hand: burn-train is not used).

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, CheckpointMeta, DatasetInfo, EpochRecord};
use super::eval::{EvalMetrics, evaluate};
use super::net::TrainableNet;
use super::schedule::lr_at;
use super::{TrainConfig, TrainError};
use crate::batches::{choose_layout, device_batch, host_layout, measures_layout};
use crate::data::{Augment, BatchPlan, Splits, fill_batch};
use crate::device::ChosenDevice;
use crate::group::D4;
use crate::nets::{GcnnVgg, ResNet, Vgg};
use crate::provenance::git_revision;

/// How to run a training job (everything that is not a hyperparameter).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Checkpoint directory.
    pub out: std::path::PathBuf,
    /// Continue from the last finished epoch in `out` if there is one.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Print one line per epoch to stderr.
    pub log_epochs: bool,
    /// Stop (resumably) once this many epochs are done in total, e.g. to split a long run
    /// across sessions; `None` trains to the end.
    pub stop_after: Option<usize>,
    /// Also keep the weights after these (1-based) epochs, as `epochs/model-eK.bpk`, and evaluate
    /// there: snapshots for measuring how a property emerges over training. Training is unchanged.
    pub keep_epochs: Vec<usize>,
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Checkpoint directory.
    pub out: std::path::PathBuf,
    /// Device description.
    pub device: String,
    /// Epochs done in total (less than configured when stopped early with `stop_after`).
    pub epochs: usize,
    /// Final test metrics.
    pub test: EvalMetrics,
    /// Wall-clock seconds of training and evaluation (accumulated across resumes).
    pub wall_s: f64,
    /// Whether this run resumed an earlier one.
    pub resumed_from_epoch: Option<usize>,
}

impl std::fmt::Display for TrainSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "done after {} epochs: test accuracy {:.4}, loss {:.4}, flip agreement {:.4}, relative logit change {:.4} ({:.0} s, {})",
            self.epochs, self.test.accuracy, self.test.loss, self.test.flip_agreement, self.test.relative_logit_change, self.wall_s, self.device
        )
    }
}

fn bar(len: u64, enabled: bool, template: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    b
}

/// Train a network according to `cfg` on `splits`, writing checkpoints to `opts.out`.
pub fn train(cfg: &TrainConfig, splits: &Splits, dataset: DatasetInfo, device: &ChosenDevice, opts: &TrainOptions) -> Result<TrainSummary, TrainError> {
    if cfg.model.is_gcnn() {
        train_net::<GcnnVgg>(cfg, splits, dataset, device, opts)
    } else if cfg.model.is_resnet() {
        train_net::<ResNet>(cfg, splits, dataset, device, opts)
    } else {
        train_net::<Vgg>(cfg, splits, dataset, device, opts)
    }
}

/// The training loss of `cfg`: cross-entropy, with label smoothing α when `cfg.label_smoothing`
/// is positive (α = 0 takes burn's unsmoothed path, so runs without smoothing keep their numerics).
fn training_loss(cfg: &TrainConfig, device: &burn::tensor::Device) -> CrossEntropyLoss {
    let smoothing = (cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing as f32);
    CrossEntropyLossConfig::new().with_smoothing(smoothing).init(device)
}

fn train_net<M: TrainableNet>(
    cfg: &TrainConfig,
    splits: &Splits,
    dataset: DatasetInfo,
    device: &ChosenDevice,
    opts: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    cfg.validate()?;
    let train_set = Arc::new(match cfg.subset {
        Some(n) if n < splits.train.len => splits.train.subset(n, cfg.seed),
        _ => splits.train.clone(),
    });
    let test_set = &splits.test;
    let net_cfg = cfg.net(train_set.channels, train_set.classes.len());
    let meta = CheckpointMeta {
        train: cfg.clone(),
        net: net_cfg.clone(),
        dataset: DatasetInfo { train_len: train_set.len, ..dataset },
        device: device.description.clone(),
        git_revision: git_revision(),
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
    };

    let ad = device.device.clone().autodiff();
    let mut optim: ModuleOptimizer = SgdConfig::new()
        .with_momentum(Some(MomentumConfig { momentum: cfg.momentum, dampening: 0.0, nesterov: false }))
        .with_weight_decay((cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init();
    let mut model = M::build(cfg, train_set.channels, train_set.classes.len(), &ad)?;
    let (mut start_epoch, mut step, mut elapsed0) = (0usize, 0usize, 0f64);
    let mut records = Vec::new();
    let mut resumed_from_epoch = None;
    let mut last_metrics: Option<EvalMetrics> = None;

    let ckpt = if opts.resume && opts.out.join("config.json").exists() {
        let ckpt = Checkpoint::open(&opts.out)?;
        if ckpt.meta.train != meta.train || ckpt.meta.net != meta.net {
            return Err(TrainError::Mismatch {
                path: opts.out.join("config.json"),
                message: "--resume with a configuration different from the checkpoint's; pass the same flags or a new --out".into(),
            });
        }
        ckpt.remove_stale_temps();
        if let Some(r) = ckpt.load_resume(model.clone(), optim.clone())? {
            (model, optim, start_epoch, step, elapsed0) = (r.model, r.optim, r.epoch, r.step, r.elapsed_s);
            resumed_from_epoch = Some(r.epoch);
            records = ckpt.metrics()?;
            records.retain(|rec| rec.epoch <= r.epoch);
        }
        ckpt
    } else {
        Checkpoint::create(&opts.out, meta)?
    };

    let norm = train_set.normalize();
    let aug = Augment { pad: cfg.crop_padding, flip: cfg.flip_augmentation };
    let iters_per_epoch = train_set.len.div_ceil(cfg.batch_size);
    let total = iters_per_epoch * cfg.epochs;
    let warmup = (cfg.warmup_epochs * iters_per_epoch as f64).round() as usize;
    let loss_fn = training_loss(cfg, &ad);
    let started = Instant::now();
    let (c, h, w) = (train_set.channels, train_set.height, train_set.width);

    if measures_layout(&ad) {
        // On a fresh copy of the net: a training step moves BatchNorm's running statistics.
        let probe = M::build(cfg, c, train_set.classes.len(), &ad)?;
        let n = cfg.batch_size.min(train_set.len).max(1);
        let y = Tensor::<1, Int>::zeros([n], &ad);
        let layout = choose_layout(&ad, [n, c, h, w], |x| {
            let _ = GradientsParams::from_grads(loss_fn.forward(probe.logits(x), y.clone()).backward(), &probe);
        });
        if opts.progress {
            eprintln!("batches laid out {layout}");
        }
    }
    let end_epoch = opts.stop_after.map_or(cfg.epochs, |s| s.min(cfg.epochs));
    for epoch in start_epoch..end_epoch {
        let epoch_start = Instant::now();
        let plan = BatchPlan::new(train_set.len, cfg.batch_size, cfg.seed, epoch as u64, true, false);
        let batches: Vec<Vec<usize>> = plan.batches().collect();
        let rngs: Vec<StdRng> = (0..batches.len()).map(|b| plan.batch_rng(b)).collect();
        // Host-side batch preparation runs one batch ahead on its own thread.
        let (tx, rx) = sync_channel::<(Vec<f32>, Vec<i64>)>(2);
        let producer = {
            let ds = Arc::clone(&train_set);
            let (norm, aug, device) = (norm.clone(), aug, ad.clone());
            std::thread::spawn(move || {
                for (idx, mut rng) in batches.into_iter().zip(rngs) {
                    let mut buf = Vec::with_capacity(idx.len() * ds.channels * ds.height * ds.width);
                    fill_batch(&ds, &idx, Some(&aug), &norm, &mut rng, &mut buf);
                    let buf = host_layout(buf, [idx.len(), ds.channels, ds.height, ds.width], &device);
                    let labels = idx.iter().map(|&i| ds.labels[i] as i64).collect();
                    if tx.send((buf, labels)).is_err() {
                        break;
                    }
                }
            })
        };
        let pb =
            bar(iters_per_epoch as u64, opts.progress, &format!("epoch {}/{} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed}}<{{eta}}]", epoch + 1, cfg.epochs));
        let (mut loss_sum, mut inv_sum, mut correct, mut seen) = (0f64, 0f64, 0f64, 0usize);
        let mut lr = 0.0;
        for (xs, ys) in rx {
            let n = ys.len();
            let x = device_batch(xs, [n, c, h, w], &ad);
            let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [n]), &ad);
            let (logits, inv) = if cfg.invariance_loss > 0.0 {
                let both = model.logits(Tensor::cat(vec![x.clone(), D4::HFLIP.apply(x)], 0));
                let (a, b) = (both.clone().narrow(0, 0, n), both.narrow(0, n, n));
                let inv = (a.clone() - b).powi_scalar(2).sum_dim(1).mean();
                (a, Some(inv))
            } else {
                (model.logits(x), None)
            };
            let ce = loss_fn.forward(logits.clone(), y.clone());
            let ce_value = ce.clone().into_scalar::<f32>();
            let loss = match &inv {
                Some(inv) => ce + inv.clone().mul_scalar(cfg.invariance_loss),
                None => ce,
            };
            if !ce_value.is_finite() {
                return Err(TrainError::Diverged { epoch: epoch + 1, step, loss: ce_value, last_good: (epoch > 0).then_some(epoch), dir: opts.out.clone() });
            }
            let acc = logits.argmax(1).reshape([n]).equal(y).int().sum().into_scalar::<i64>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            lr = lr_at(step, total, warmup, cfg.lr);
            model = optim.step(lr, model, grads);
            step += 1;
            loss_sum += ce_value as f64 * n as f64;
            if let Some(inv) = inv {
                inv_sum += inv.into_scalar::<f32>() as f64 * n as f64;
            }
            correct += acc;
            seen += n;
            pb.set_message(format!("loss {:.3} acc {:.3}", loss_sum / seen as f64, correct / seen as f64));
            pb.inc(1);
        }
        let _ = producer.join();
        pb.finish_and_clear();
        let train_time = epoch_start.elapsed().as_secs_f64();

        let last = epoch + 1 == cfg.epochs;
        let keep = opts.keep_epochs.contains(&(epoch + 1));
        if last || keep || (epoch + 1) % cfg.eval_every == 0 {
            let eb = bar(cfg.test_subset.unwrap_or(test_set.len).min(test_set.len) as u64, opts.progress, "evaluate {bar:30} {pos}/{len} [{elapsed}<{eta}]");
            let m = evaluate(&model.export(), test_set, cfg.eval_batch_size, cfg.test_subset, &device.device, &eb);
            eb.finish_and_clear();
            if !m.loss.is_finite() {
                // The last update blew the weights up: this epoch is not kept either.
                return Err(TrainError::Diverged {
                    epoch: epoch + 1,
                    step,
                    loss: m.loss as f32,
                    last_good: (epoch > 0).then_some(epoch),
                    dir: opts.out.clone(),
                });
            }
            last_metrics = last.then(|| m.clone());
            let rec = EpochRecord {
                epoch: epoch + 1,
                step,
                train_loss: loss_sum / seen.max(1) as f64,
                train_invariance_loss: inv_sum / seen.max(1) as f64,
                train_accuracy: correct / seen.max(1) as f64,
                test_accuracy: m.accuracy,
                test_loss: m.loss,
                flip_agreement: m.flip_agreement,
                relative_logit_change: m.relative_logit_change,
                lr,
                elapsed_s: elapsed0 + started.elapsed().as_secs_f64(),
                train_images_per_s: seen as f64 / train_time,
            };
            if opts.log_epochs {
                eprintln!(
                    "epoch {:>3}: train loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} flip-agree {:.4} | {:.0} img/s, {:.0}s",
                    rec.epoch, rec.train_loss, rec.train_accuracy, rec.test_loss, rec.test_accuracy, rec.flip_agreement, rec.train_images_per_s, rec.elapsed_s
                );
            }
            records.push(rec);
            ckpt.write_metrics(&records)?;
        }
        ckpt.save_model(&model.export())?;
        if keep {
            ckpt.save_epoch_model(&model.export(), epoch + 1)?;
        }
        ckpt.save_resume(&model, &optim, epoch + 1, step, elapsed0 + started.elapsed().as_secs_f64())?;
    }

    let test = match last_metrics {
        Some(m) => m,
        None => {
            // Nothing left to train (resumed a finished run): evaluate the saved model.
            let final_model = ckpt.load_model(&device.device)?;
            evaluate(&final_model, test_set, cfg.eval_batch_size, cfg.test_subset, &device.device, &ProgressBar::hidden())
        }
    };
    Ok(TrainSummary {
        out: opts.out.clone(),
        device: device.description.clone(),
        epochs: end_epoch.max(start_epoch),
        test,
        wall_s: elapsed0 + started.elapsed().as_secs_f64(),
        resumed_from_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// −mean over the batch of Σ_k t_k·log softmax(z)_k, in f64, for targets t_k = (1 − α)·[k = y] + α/K.
    fn smoothed_cross_entropy(logits: &[Vec<f32>], labels: &[usize], alpha: f64) -> f64 {
        let mut total = 0.0;
        for (z, &y) in logits.iter().zip(labels) {
            let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let log_norm = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
            let k = z.len() as f64;
            total -= z.iter().enumerate().map(|(i, &v)| ((1.0 - alpha) * f64::from(i == y) + alpha / k) * (v as f64 - log_norm)).sum::<f64>();
        }
        total / labels.len() as f64
    }

    #[test]
    fn the_training_loss_is_cross_entropy_on_smoothed_targets_and_plain_without_smoothing() {
        use rand::{RngExt, SeedableRng};
        let device = Device::flex();
        let mut rng = StdRng::seed_from_u64(7);
        for trial in 0..20 {
            let (batch, classes) = (rng.random_range(1..9), rng.random_range(2..12));
            let logits: Vec<Vec<f32>> = (0..batch).map(|_| (0..classes).map(|_| rng.random_range(-6.0..6.0)).collect()).collect();
            let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..classes)).collect();
            let z = Tensor::<2>::from_data(TensorData::new(logits.concat(), [batch, classes]), &device);
            let y = Tensor::<1, Int>::from_data(TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [batch]), &device);
            for alpha in [0.0, 0.1, 0.5] {
                let cfg = TrainConfig { label_smoothing: alpha, ..TrainConfig::default() };
                let got = training_loss(&cfg, &device).forward(z.clone(), y.clone()).into_scalar::<f32>() as f64;
                let want = smoothed_cross_entropy(&logits, &labels, alpha);
                assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "trial {trial}, α = {alpha}: {got} vs {want}");
            }
        }
    }
}
