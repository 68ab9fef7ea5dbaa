//! Matching and merging: function preservation, planted permutations, lossless self-merges,
//! exact BN reset and REPAIR statistics.

mod common;

use burn::tensor::Device;
use common::*;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use relu_symmetries::align::{
    PermSpec, WeightMatchingOptions, activation_matching, activation_stats, apply_perms, identity_for, invert_perms,
    perms_from_stats, random_perms, weight_matching,
};
use relu_symmetries::batches::Loader;
use relu_symmetries::experiments::merge::{MergeConfig, Method, Partner, merge_experiment};
use relu_symmetries::merge::{RepairMode, endpoint_pre_stats, interpolate, permute_model, repair, repair_closed_form, reset_batch_norm};
use relu_symmetries::nets::{Vgg, VggConfig};
use relu_symmetries::stats::ChannelStats;
use relu_symmetries::testing::{max_abs_diff, random_images};
use relu_symmetries::train::ModelKind;

fn random_spec_perms(net: &Vgg, seed: u64) -> Vec<relu_symmetries::align::Perm> {
    let spec = PermSpec::from_structure(&net.structure()).unwrap();
    random_perms(&spec, &mut StdRng::seed_from_u64(seed))
}

/// Give BatchNorm layers non-trivial running statistics and affine parameters.
fn randomise_bn(net: &Vgg, seed: u64) -> Vgg {
    let mut rng = StdRng::seed_from_u64(seed);
    use rand::RngExt;
    let mut p = net.to_params();
    for (k, v) in p.iter_mut() {
        if k.starts_with("norms.") {
            let positive = k.ends_with("running_var") || k.ends_with("gamma");
            v.mapv_inplace(|_| if positive { rng.random_range(0.5f32..2.0) } else { rng.random_range(-0.5f32..0.5) });
        }
    }
    net.with_params(&p)
}

#[test]
fn permuting_channels_preserves_the_function() {
    let device = Device::flex();
    for (seed, bn) in [(1u64, false), (2, true), (3, true)] {
        let net = randomise_bn(&VggConfig::vgg11(0.25).with_batch_norm(bn).init(&device, seed).unwrap(), seed);
        let perms = random_spec_perms(&net, seed + 100);
        let permuted = permute_model(&net, &perms).unwrap();
        assert_ne!(permuted.to_params(), net.to_params());
        let x = random_images(&device, 6, 3, 32, seed);
        let (y, yp) = (net.forward(x.clone()), permuted.forward(x));
        let scale = y.clone().abs().max().into_scalar::<f32>().max(1e-3);
        let err = max_abs_diff(y, yp) / scale;
        assert!(err < 1e-5, "bn {bn}: relative change {err}");
    }
}

#[test]
fn both_methods_recover_a_planted_permutation_of_a_trained_net() {
    for (model, tag) in [(ModelKind::Vgg11, "planted-plain"), (ModelKind::Vgg11Bn, "planted-bn")] {
        let (a, splits) = trained_net(model, 7, tag);
        let planted = random_spec_perms(&a, 42);
        let b = permute_model(&a, &planted).unwrap();
        let expected = invert_perms(&planted);
        let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
        let act = activation_matching(&a, &b, &loader, &Device::flex(), &ProgressBar::hidden());
        // Channels that never fire (dead ReLUs) have no correlation with anything, so activation
        // matching may pair them in any order; every live channel must be recovered exactly.
        let stats = activation_stats(&a, &a, &loader, &Device::flex(), &ProgressBar::hidden());
        let mut dead = 0;
        for (l, (found, want)) in act.perms.iter().zip(&expected).enumerate() {
            let var = stats[l].a.var();
            for i in 0..want.len() {
                if var[i] > 0.0 {
                    assert_eq!(found.get(i), want.get(i), "activation matching ({model:?}), layer {l}, channel {i}");
                } else {
                    dead += 1;
                }
            }
        }
        assert!(dead < a.conv_channels().iter().sum::<usize>() / 4, "{dead} dead channels: the fixture barely trained");
        let spec = PermSpec::from_structure(&a.structure()).unwrap();
        let wm = weight_matching(&a.to_params(), &b.to_params(), &spec, &WeightMatchingOptions::default()).unwrap();
        assert_eq!(wm.perms, expected, "weight matching ({model:?})");
        assert_eq!(apply_perms(&b.to_params(), &spec, &wm.perms).unwrap(), a.to_params());
    }
}

#[test]
fn aligning_a_net_to_itself_returns_the_identity() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 3, "self-align");
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let act = activation_matching(&a, &a, &loader, &Device::flex(), &ProgressBar::hidden());
    assert!(act.perms.iter().all(|p| p.is_identity()));
    assert_eq!(act.perms, identity_for(&a));
    let spec = PermSpec::from_structure(&a.structure()).unwrap();
    let wm = weight_matching(&a.to_params(), &a.to_params(), &spec, &WeightMatchingOptions::default()).unwrap();
    assert!(wm.perms.iter().all(|p| p.is_identity()));
}

/// REPAIR recomputes the second net's activations after permuting each layer; permuting a hidden
/// space leaves the other spaces' activations unchanged, so one joint pass finds the same answer.
#[test]
fn one_pass_equals_layer_by_layer_recomputation() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 1, "onepass-a");
    let (b, _) = trained_net(ModelKind::Vgg11, 2, "onepass-b");
    let device = Device::flex();
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let joint = perms_from_stats(&activation_stats(&a, &b, &loader, &device, &ProgressBar::hidden()));
    let one_pass = joint.perms;
    let mut b_seq = b.clone();
    let mut found = identity_for(&b);
    let mut seq_corr = Vec::new();
    for layer in 0..found.len() {
        let stats = activation_stats(&a, &b_seq, &loader, &device, &ProgressBar::hidden());
        let m = perms_from_stats(&stats);
        let p = m.perms[layer].clone();
        seq_corr.push(m.matched_corr[layer]);
        let mut step = identity_for(&b);
        step[layer] = p.clone();
        b_seq = permute_model(&b_seq, &step).unwrap();
        found[layer] = p;
    }
    // Same assignment up to floating-point near-ties (permuted channels change summation order):
    // equal matched correlation per layer, and the same partner for almost every channel.
    for (l, (p, q)) in one_pass.iter().zip(&found).enumerate() {
        assert!((joint.matched_corr[l] - seq_corr[l]).abs() < 1e-5, "layer {l}: {} vs {}", joint.matched_corr[l], seq_corr[l]);
        let same = (0..p.len()).filter(|&i| p.get(i) == q.get(i)).count();
        assert!(same * 10 >= p.len() * 9, "layer {l}: only {same}/{} channels agree", p.len());
    }
}

#[test]
fn merging_a_net_with_its_permuted_copy_is_lossless() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 4, "lossless");
    let b = permute_model(&a, &random_spec_perms(&a, 9)).unwrap();
    for method in [Method::Activation, Method::Weight] {
        let cfg = MergeConfig { method, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
        let out = merge_experiment(&a, Partner::Twin(&b), &cfg, &splits, &Device::flex(), false).unwrap();
        let acc: Vec<f64> = out.curve.iter().map(|p| p.metrics.accuracy).collect();
        assert_eq!(acc[0], acc[1], "{method:?}: merged accuracy differs from the endpoint");
        assert!(out.barriers.loss_barrier.abs() < 1e-4, "{method:?}: loss barrier {}", out.barriers.loss_barrier);
    }
}

#[test]
fn bn_reset_equals_directly_computed_statistics() {
    let device = Device::flex();
    let net = randomise_bn(&VggConfig::vgg11(0.125).with_batch_norm(true).init(&device, 3).unwrap(), 3);
    let splits = tiny_splits(120, 10, 8);
    // one batch holding every image: the running statistics must be that batch's statistics
    let loader = Loader::ordered(&splits.train, 120);
    let reset = reset_batch_norm(&net, &loader, &device, &ProgressBar::hidden());
    let (x, _) = loader.iter(0, &device).next().unwrap();
    let p = reset.to_params();
    // layer 0 sees the data directly
    let mut s0 = ChannelStats::new(net.conv_channels()[0]);
    s0.update(net.convs[0].forward(x.clone()));
    let got_mean = &p["norms.0.running_mean"];
    let got_var = &p["norms.0.running_var"];
    for k in 0..got_mean.len() {
        assert!((got_mean[[k]] as f64 - s0.mean[k]).abs() < 1e-4, "mean[{k}]");
        assert!((got_var[[k]] as f64 - s0.var_unbiased()[k]).abs() < 1e-3 * (1.0 + s0.var_unbiased()[k]), "var[{k}]");
    }
    // in inference mode the reset net normalises layer 0 to zero mean and (nearly) unit variance
    let mut post = ChannelStats::new(net.conv_channels()[0]);
    reset.forward_inspect(x, 0, |_, pre, _| post.update(pre.clone()));
    let gamma = &p["norms.0.gamma"];
    let beta = &p["norms.0.beta"];
    for k in 0..gamma.len() {
        assert!((post.mean[k] - beta[[k]] as f64).abs() < 1e-3);
        assert!((post.std()[k] - gamma[[k]].abs() as f64).abs() < 1e-2 * (1.0 + gamma[[k]].abs() as f64));
    }
}

#[test]
fn repair_resets_every_layer_to_the_goal_statistics() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 5, "repair-a");
    let (b0, _) = trained_net(ModelKind::Vgg11, 6, "repair-b");
    let device = Device::flex();
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let act = activation_matching(&a, &b0, &loader, &device, &ProgressBar::hidden());
    let b = permute_model(&b0, &act.perms).unwrap();
    let endpoints = endpoint_pre_stats(&a, &b, &loader, &device, &ProgressBar::hidden());
    let alpha = 0.5;
    let merged = a.with_params(&interpolate(&a.to_params(), &b.to_params(), alpha).unwrap());
    let repaired = repair(&merged, &endpoints, alpha, &loader, &device, &ProgressBar::hidden()).unwrap();
    let after = endpoint_pre_stats(&repaired, &repaired, &loader, &device, &ProgressBar::hidden());
    for (j, (e, r)) in endpoints.layers.iter().zip(&after.layers).enumerate() {
        let goal_mean = (&e.a.mean + &e.b.mean) * 0.5;
        let goal_std = (e.a.std() + e.b.std()) * 0.5;
        for k in 0..goal_mean.len() {
            assert!((r.a.mean[k] - goal_mean[k]).abs() < 1e-3 * (1.0 + goal_std[k]), "layer {j} channel {k} mean");
            assert!((r.a.std()[k] - goal_std[k]).abs() < 1e-3 * (1.0 + goal_std[k]), "layer {j} channel {k} std");
        }
    }
    // closed form: exact at the first layer, where the merged pre-activation is (1−α)z_a + αz_b
    let cf = repair_closed_form(&merged, &endpoints, alpha).unwrap();
    let cf_stats = endpoint_pre_stats(&cf, &cf, &loader, &device, &ProgressBar::hidden());
    let e0 = &endpoints.layers[0];
    let goal_std0 = (e0.a.std() + e0.b.std()) * 0.5;
    for k in 0..goal_std0.len() {
        assert!((cf_stats.layers[0].a.std()[k] - goal_std0[k]).abs() < 1e-3 * (1.0 + goal_std0[k]));
    }
    // REPAIR is refused for BatchNorm nets
    let (bn, _) = trained_net(ModelKind::Vgg11Bn, 5, "repair-bn");
    assert!(repair_closed_form(&bn, &endpoints, alpha).is_err());
}

#[test]
fn gcnn_and_ordinary_barriers_run_through_one_code_path() {
    let (a, splits) = trained_net(ModelKind::Vgg11Bn, 8, "barriers-a");
    let (twin, _) = trained_net(ModelKind::Vgg11Bn, 9, "barriers-b");
    let device = Device::flex();
    let cfg = MergeConfig { repair: RepairMode::BnReset, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
    let gcnn = merge_experiment(&a, Partner::Flip, &cfg, &splits, &device, false).unwrap();
    let ordinary = merge_experiment(&a, Partner::Twin(&twin), &cfg, &splits, &device, false).unwrap();
    for out in [&gcnn, &ordinary] {
        assert_eq!(out.curve.len(), 3);
        assert!(out.barriers.midpoint_accuracy.is_some());
        assert_eq!(out.alignment.perms.len(), a.convs.len());
    }
    assert_eq!(gcnn.curve[0].metrics, ordinary.curve[0].metrics, "both start from the same net");
    // the synthetic task is flip-invariant, so the flipped net is as accurate as the net
    assert!((gcnn.curve[2].metrics.accuracy - gcnn.curve[0].metrics.accuracy).abs() < 0.1);
    // the flip endpoint read off the α = 0 pass equals evaluating the aligned flipped net
    let aligned = permute_model(&a.flipped(), &gcnn.alignment.perms).unwrap();
    let direct = relu_symmetries::train::evaluate_on(&aligned, &Loader::ordered(&splits.test, 200), &device, &ProgressBar::hidden());
    assert!((direct.accuracy - gcnn.curve[2].metrics.accuracy).abs() < 1e-9);
    assert!((direct.loss - gcnn.curve[2].metrics.loss).abs() < 1e-4);
}

/// A GCNN is its own aligned flipped copy: barrier 0, and the matching finds involutions.
#[test]
fn gcnn_has_zero_gcnn_barrier_and_involutive_alignments() {
    let (g, splits) = trained_net(ModelKind::Gcnn, 2, "gcnn-barrier");
    let device = Device::flex();
    for method in [Method::Weight, Method::Activation] {
        let cfg = MergeConfig { method, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
        let out = merge_experiment(&g, Partner::Flip, &cfg, &splits, &device, false).unwrap();
        assert!(out.alignment.perms.iter().all(|p| p.is_involution()), "{method:?}: non-involution found");
        let b = out.barriers.midpoint_accuracy.unwrap();
        assert!(b.abs() < 1e-9 || (method == Method::Activation && b.abs() < 0.02), "{method:?}: GCNN barrier {b}");
        let eq = relu_symmetries::experiments::merge::equivariance_report(&g, &out.alignment).unwrap();
        if method == Method::Weight {
            assert!(eq.iter().all(|l| l.relative_error < 1e-5), "{eq:?}");
        }
    }
}
