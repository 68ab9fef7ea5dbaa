//! The experiment pipeline on ResNets: permutation symmetry of residual stages, activation and
//! weight matching, lossless self-merges, BN reset and REPAIR, training and checkpoints — tiny
//! ResNets on the synthetic data.

mod common;

use burn::tensor::Device;
use common::*;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use relu_symmetries::activations::batch_norm_stats;
use relu_symmetries::align::{
    PermSpec, WeightMatchingOptions, activation_matching, activation_stats, apply_perms, invert_perms, random_perms, weight_matching,
};
use relu_symmetries::batches::Loader;
use relu_symmetries::experiments::merge::{MergeConfig, Method, Partner, merge_experiment, merge_experiments};
use relu_symmetries::merge::{RepairMode, RepairStats, endpoint_pre_stats, interpolate, permute_model, repair, repair_points, reset_batch_norm};
use relu_symmetries::nets::{Net, Network, ResNet, ResNetConfig};
use relu_symmetries::stats::ChannelStats;
use relu_symmetries::testing::{one_space_then_all, relative_logit_diff, with_random_batch_norms};
use relu_symmetries::train::{Checkpoint, ModelKind, evaluate};

/// A ResNet whose BatchNorms hold random statistics and affine maps (so that permuting or
/// resetting them is not trivially harmless, and no ReLU is dead on the synthetic images).
fn resnet(blocks_per_stage: usize, width: f64, seed: u64) -> ResNet {
    with_random_batch_norms(&ResNetConfig::new(blocks_per_stage, width).init(&Device::flex(), seed).unwrap(), seed + 100)
}

fn spec_of(net: &impl Network) -> PermSpec {
    PermSpec::from_structure(&net.structure()).unwrap()
}

#[test]
fn permuting_any_residual_stage_through_the_pipeline_leaves_the_logits_unchanged() {
    let net = resnet(2, 0.5, 1);
    let spec = spec_of(&net);
    let mut rng = StdRng::seed_from_u64(2);
    let stages: Vec<usize> = spec.groups.iter().enumerate().filter(|(_, g)| g.name.starts_with("stage")).map(|(i, _)| i).collect();
    assert_eq!(stages.len(), 3);
    // each stream alone, then every space at once; through `permute_model` (apply_perms +
    // with_params), on the ResNet and on the checkpoint's `Net` wrapping it
    let sets = one_space_then_all(&spec, &stages, &mut rng);
    for (k, perms) in sets.iter().enumerate() {
        let permuted = permute_model(&net, perms).unwrap();
        assert_ne!(permuted.to_params(), net.to_params(), "set {k} moved nothing");
        let err = relative_logit_diff(&net, &permuted, 3);
        assert!(err < 1e-4, "set {k}: permuted ResNet differs by {err} (relative)");
        let wrapped = permute_model(&Net::from(net.clone()), perms).unwrap();
        assert_eq!(wrapped.to_params(), permuted.to_params());
    }
    // permuting one block's write into the stream alone (not the whole stream) is not a symmetry
    let mut params = net.to_params();
    for name in ["blocks.1.conv2.weight", "blocks.1.bn2.gamma", "blocks.1.bn2.beta", "blocks.1.bn2.running_mean", "blocks.1.bn2.running_var"] {
        let a = params[name].clone();
        let mut rolled = a.clone();
        let c = a.shape()[0];
        for i in 0..c {
            rolled.index_axis_mut(ndarray::Axis(0), i).assign(&a.index_axis(ndarray::Axis(0), (i + 1) % c));
        }
        params.insert(name.to_string(), rolled);
    }
    assert!(relative_logit_diff(&net, &net.with_params(&params), 3) > 1e-2, "a per-block permutation of a stream should change the function");
}

#[test]
fn activation_matching_recovers_a_random_permutation_of_a_resnet() {
    let a = resnet(2, 0.5, 4);
    let planted = random_perms(&spec_of(&a), &mut StdRng::seed_from_u64(5));
    let b = permute_model(&a, &planted).unwrap();
    let splits = tiny_splits(64, 8, 6);
    let loader = Loader::ordered(&splits.train, 32);
    let act = activation_matching(&a, &b, &loader, &Device::flex(), &ProgressBar::hidden());
    assert_eq!(act.perms, invert_perms(&planted), "activation matching did not undo the planted permutation");
    // a stream is matched on its value after every layer writing into it: stem + 2 blocks
    let stats = activation_stats(&a, &b, &loader, &Device::flex(), &ProgressBar::hidden());
    let stage0 = a.structure().spaces.iter().position(|s| s.name == "stage0").unwrap();
    assert_eq!(stats[stage0].post.len(), 3);
    assert!(act.matched_corr.iter().all(|&c| c > 0.999), "{:?}", act.matched_corr);
    // with the net as the checkpoint holds it, too
    let again = activation_matching(&Net::from(a.clone()), &Net::from(b.clone()), &loader, &Device::flex(), &ProgressBar::hidden());
    assert_eq!(again.perms, act.perms);
    assert_eq!(permute_model(&b, &act.perms).unwrap().to_params(), a.to_params());
}

#[test]
fn weight_matching_recovers_a_random_permutation_of_a_resnet() {
    let a = resnet(2, 0.5, 7);
    let spec = spec_of(&a);
    let planted = random_perms(&spec, &mut StdRng::seed_from_u64(8));
    let b = permute_model(&a, &planted).unwrap();
    let wm = weight_matching(&a.to_params(), &b.to_params(), &spec, &WeightMatchingOptions::default()).unwrap();
    assert_eq!(wm.perms, invert_perms(&planted));
    assert_eq!(apply_perms(&b.to_params(), &spec, &wm.perms).unwrap(), a.to_params());
}

#[test]
fn merging_a_resnet_with_its_permuted_self_at_one_half_reproduces_its_logits() {
    let a = resnet(1, 0.5, 9);
    let b = permute_model(&a, &random_perms(&spec_of(&a), &mut StdRng::seed_from_u64(10))).unwrap();
    let splits = tiny_splits(64, 40, 11);
    for method in [Method::Activation, Method::Weight] {
        let cfg = MergeConfig { method, alphas: vec![0.0, 0.5, 1.0], stats_images: 64, batch_size: 32, ..MergeConfig::default() };
        let out = merge_experiment(&a, Partner::Twin(&b), &cfg, &splits, &Device::flex(), false).unwrap();
        let aligned = permute_model(&b, &out.alignment.perms).unwrap();
        let merged = a.with_params(&interpolate(&a.to_params(), &aligned.to_params(), 0.5).unwrap());
        let err = relative_logit_diff(&a, &merged, 12);
        assert!(err < 1e-4, "{method:?}: merged logits differ by {err} (relative)");
        assert_eq!(out.curve[1].accuracy, out.curve[0].accuracy, "{method:?}");
        assert!((out.curve[1].loss - out.curve[0].loss).abs() < 1e-4, "{method:?}: {:?}", out.curve);
    }
}

#[test]
fn bn_reset_of_a_resnet_recomputes_every_batch_norms_statistics() {
    let device = Device::flex();
    let net = resnet(1, 0.5, 13);
    let splits = tiny_splits(48, 8, 14);
    // one batch holding every image: each running statistic is that batch's statistic
    let loader = Loader::ordered(&splits.train, 48);
    let reset = reset_batch_norm(&net, &loader, &device, &ProgressBar::hidden());
    let (before, after) = (net.to_params(), reset.to_params());
    let layers = net.structure().batch_norm_layers().into_iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>();
    assert_eq!(layers.len(), 1 + 2 * 3 + 2, "stem, two per block, two projections");
    for l in &layers {
        assert_ne!(before[&format!("{l}.running_mean")], after[&format!("{l}.running_mean")], "{l} not reset");
        assert_eq!(before[&format!("{l}.gamma")], after[&format!("{l}.gamma")], "{l}: affine map changed");
    }
    // the stem's BatchNorm sees the data directly
    let (x, _) = loader.iter(0, &device).next().unwrap();
    let mut s0 = ChannelStats::new(net.stem.weight.dims()[0]);
    s0.update(net.stem.forward(x));
    for k in 0..s0.mean.len() {
        assert!((after["stem_bn.running_mean"][[k]] as f64 - s0.mean[k]).abs() < 1e-4);
        assert!((after["stem_bn.running_var"][[k]] as f64 - s0.var_unbiased()[k]).abs() < 1e-3 * (1.0 + s0.var_unbiased()[k]));
    }
    // in inference mode every BatchNorm of the reset net outputs mean β and std |γ|
    let outputs = batch_norm_stats(&reset, &loader, &device, &ProgressBar::hidden());
    for (l, st) in layers.iter().zip(&outputs) {
        let (gamma, beta) = (&after[&format!("{l}.gamma")], &after[&format!("{l}.beta")]);
        for k in 0..st.mean.len() {
            assert!((st.mean[k] - beta[[k]] as f64).abs() < 1e-3, "{l} channel {k} mean");
            assert!((st.std()[k] - gamma[[k]].abs() as f64).abs() < 1e-2 * (1.0 + gamma[[k]].abs() as f64), "{l} channel {k} std");
        }
    }
}

#[test]
fn repair_of_a_resnet_sets_every_batch_norm_output_to_the_goal_statistics() {
    let device = Device::flex();
    let a = resnet(1, 0.5, 15);
    let b0 = resnet(1, 0.5, 16);
    let splits = tiny_splits(48, 8, 17);
    // one batch holding every image: REPAIR's batch-statistics pass is then exact
    let loader = Loader::ordered(&splits.train, 48);
    let perms = activation_matching(&a, &b0, &loader, &device, &ProgressBar::hidden()).perms;
    let b = permute_model(&b0, &perms).unwrap();
    let endpoints = endpoint_pre_stats(&a, &b, &loader, &device, &ProgressBar::hidden());
    // a ResNet's BatchNorm outputs are not its tap points: the endpoint statistics cannot be read
    // off the alignment's pass and take the pass above
    let taps: Vec<_> = activation_stats(&a, &b0, &loader, &device, &ProgressBar::hidden()).into_iter().flat_map(|s| s.pre).collect();
    assert!(RepairStats::from_unaligned_pass(&a, &taps, &perms).is_none());
    let points = repair_points(&a).unwrap();
    assert_eq!(points.len(), endpoints.layers.len());
    assert!(points.iter().all(|p| p.scale.ends_with(".gamma")), "a ResNet is repaired at its BatchNorms");
    let alpha = 0.3;
    let merged = a.with_params(&interpolate(&a.to_params(), &b.to_params(), alpha).unwrap());
    let repaired = repair(&merged, &endpoints, alpha, &loader, &device, &ProgressBar::hidden()).unwrap();
    let after = batch_norm_stats(&repaired, &loader, &device, &ProgressBar::hidden());
    let before = batch_norm_stats(&merged, &loader, &device, &ProgressBar::hidden());
    let mut moved = 0.0f64;
    for (j, ((e, r), m)) in endpoints.layers.iter().zip(&after).zip(&before).enumerate() {
        let goal_mean = &e.a.mean * (1.0 - alpha) + &e.b.mean * alpha;
        let goal_std = e.a.std() * (1.0 - alpha) + e.b.std() * alpha;
        for k in 0..goal_mean.len() {
            let tol = 1e-3 * (1.0 + goal_std[k]);
            assert!((r.mean[k] - goal_mean[k]).abs() < tol, "{} channel {k} mean {} vs goal {}", points[j].name, r.mean[k], goal_mean[k]);
            assert!((r.std()[k] - goal_std[k]).abs() < tol, "{} channel {k} std {} vs goal {}", points[j].name, r.std()[k], goal_std[k]);
            moved = moved.max((m.std()[k] - goal_std[k]).abs());
        }
    }
    assert!(moved > 1e-2, "the unrepaired merge already met the goals: the test would not see a no-op");
    // with several batches the batch-statistics pass is close, not exact
    let batched = Loader::ordered(&splits.train, 16);
    let repaired = repair(&merged, &endpoints, alpha, &batched, &device, &ProgressBar::hidden()).unwrap();
    for (e, r) in endpoints.layers.iter().zip(batch_norm_stats(&repaired, &loader, &device, &ProgressBar::hidden())) {
        let goal_std = e.a.std() * (1.0 - alpha) + e.b.std() * alpha;
        for k in 0..goal_std.len() {
            assert!((r.std()[k] - goal_std[k]).abs() < 0.1 * (0.1 + goal_std[k]), "batched REPAIR far off: {} vs {}", r.std()[k], goal_std[k]);
        }
    }
}

/// The whole merge experiment on a ResNet and its flipped self, every repair mode that applies.
#[test]
fn the_merge_experiment_runs_on_a_resnet_with_every_batch_norm_repair() {
    let a = Net::from(resnet(1, 0.5, 18));
    let splits = tiny_splits(64, 40, 19);
    let cfg = MergeConfig { alphas: vec![0.0, 0.5, 1.0], stats_images: 64, batch_size: 32, ..MergeConfig::default() };
    let repairs = [RepairMode::None, RepairMode::BnReset, RepairMode::Repair];
    let outs = merge_experiments(&a, Partner::Flip, &cfg, &repairs, &splits, &Device::flex(), false).unwrap();
    assert_eq!(outs.len(), 3);
    for o in &outs {
        assert_eq!(o.curve.len(), 3);
        assert!(o.curve.iter().all(|p| p.loss.is_finite()), "{:?}", o.config.repair);
        assert_eq!(o.variance_ratio_before.len(), repair_points(&a).unwrap().len());
    }
    // closed-form REPAIR is for nets without BatchNorm
    let cf = MergeConfig { repair: RepairMode::ClosedForm, ..cfg };
    assert!(merge_experiment(&a, Partner::Flip, &cf, &splits, &Device::flex(), false).is_err());
    let eq = relu_symmetries::experiments::merge::equivariance_report(&a, &outs[0].alignment).unwrap();
    assert!(!eq.is_empty());
}

#[test]
fn a_trained_resnet_checkpoint_loads_back_with_identical_logits() {
    let splits = tiny_splits(100, 50, 20);
    let dir = temp_dir("resnet-train");
    let cfg = relu_symmetries::train::TrainConfig { width: 0.125, ..quick_config(ModelKind::Resnet20, 1, 21) };
    let summary = quick_train(&cfg, &splits, &dir, false);
    let ckpt = Checkpoint::open(&dir).unwrap();
    assert_eq!(ckpt.meta.train.model, ModelKind::Resnet20);
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(text.contains("\"resnet20\"") && text.contains("\"resnet\""), "{text}");
    let net = ckpt.load_model(&Device::flex()).unwrap();
    let resnet = net.as_resnet().expect("a ResNet checkpoint loads a ResNet");
    assert_eq!(resnet.blocks.len(), 9, "ResNet-20");
    // the loaded net computes the logits the training run evaluated: same loss, to the last bit
    let m = evaluate(&net, &splits.test, cfg.eval_batch_size, cfg.test_subset, &Device::flex(), &ProgressBar::hidden());
    assert_eq!(m, summary.test);
}
