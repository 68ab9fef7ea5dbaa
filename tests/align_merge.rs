//! Matching and merging: function preservation, planted permutations, lossless self-merges,
//! exact BN reset and REPAIR statistics.

mod common;

use burn::tensor::Device;
use common::*;
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use relu_symmetries::align::{
    PermSpec, WeightMatchingOptions, activation_matching, activation_stats, apply_perms, identity_for, invert_perms, perms_from_stats, random_perms,
    weight_matching,
};
use relu_symmetries::batches::Loader;
use relu_symmetries::experiments::merge::{MergeConfig, Method, Partner, merge_experiment};
use relu_symmetries::merge::{RepairMode, RepairStats, endpoint_pre_stats, interpolate, permute_model, repair, repair_closed_form, reset_batch_norm};
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
        // Live channels are recovered by their activations, dead ReLUs by their pre-activations:
        // every channel must come back exactly.
        let stats = activation_stats(&a, &a, &loader, &Device::flex(), &ProgressBar::hidden());
        let mut dead = 0;
        for (l, (found, want)) in act.perms.iter().zip(&expected).enumerate() {
            dead += stats[l].post[0].a.var().iter().filter(|&&v| v == 0.0).count();
            assert_eq!(found, want, "activation matching ({model:?}), layer {l}");
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
fn endpoint_statistics_read_off_the_alignment_pass_equal_a_pass_over_the_aligned_partner() {
    for (model, tag) in [(ModelKind::Vgg11, "endpoints-plain"), (ModelKind::Vgg11Bn, "endpoints-bn")] {
        let (a, splits) = trained_net(model, 5, &format!("{tag}-a"));
        let (b, _) = trained_net(model, 6, &format!("{tag}-b"));
        let device = Device::flex();
        let loader = Loader::ordered(&splits.train, 150).limit(Some(300));
        let pass = activation_stats(&a, &b, &loader, &device, &ProgressBar::hidden());
        let perms = perms_from_stats(&pass).perms;
        assert!(perms.iter().any(|p| !p.is_identity()), "{tag}: the twins should need a permutation");
        let taps: Vec<_> = pass.into_iter().flat_map(|s| s.pre).collect();
        let derived = RepairStats::from_unaligned_pass(&a, &taps, &perms).expect("a VGG's repair points are its taps");
        let direct = endpoint_pre_stats(&a, &permute_model(&b, &perms).unwrap(), &loader, &device, &ProgressBar::hidden());
        assert_eq!(derived.layers.len(), direct.layers.len());
        for (l, (d, e)) in derived.layers.iter().zip(&direct.layers).enumerate() {
            let rel = |x: f64, y: f64| (x - y).abs() / (1e-3 + y.abs());
            for (x, y) in d.b.mean.iter().zip(&e.b.mean).chain(d.b.var().iter().zip(&e.b.var())).chain(d.a.var().iter().zip(&e.a.var())) {
                assert!(rel(*x, *y) < 1e-3, "{tag} layer {l}: {x} vs {y}");
            }
            for (x, y) in d.cov().iter().zip(&e.cov()) {
                assert!(rel(*x, *y) < 1e-3, "{tag} layer {l}: covariance {x} vs {y}");
            }
        }
        // and with the wrong permutations (none) the partner's side would not match
        let unaligned = RepairStats::from_unaligned_pass(&a, &taps, &identity_for(&b)).unwrap();
        assert!(unaligned.layers.iter().zip(&direct.layers).any(|(u, e)| u.b.mean.iter().zip(&e.b.mean).any(|(x, y)| (x - y).abs() > 1e-3)), "{tag}");
    }
}

#[test]
fn merging_a_net_with_its_permuted_copy_is_lossless() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 4, "lossless");
    let b = permute_model(&a, &random_spec_perms(&a, 9)).unwrap();
    for method in [Method::Activation, Method::Weight] {
        let cfg = MergeConfig { method, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
        let out = merge_experiment(&a, Partner::Twin(&b), &cfg, &splits, &Device::flex(), false).unwrap();
        let acc: Vec<f64> = out.curve.iter().map(|p| p.accuracy).collect();
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
    // closed-form REPAIR is refused for BatchNorm nets
    let (bn, _) = trained_net(ModelKind::Vgg11Bn, 5, "repair-bn");
    assert!(repair_closed_form(&bn, &endpoints, alpha).is_err());
}

/// REPAIR of a BatchNorm net: BN reset, then every BN output channel meets the goal statistics.
#[test]
fn repair_of_a_batchnorm_net_resets_bn_outputs_to_the_goal_statistics() {
    let (a, splits) = trained_net(ModelKind::Vgg11Bn, 15, "repair-bn-a");
    let (b0, _) = trained_net(ModelKind::Vgg11Bn, 16, "repair-bn-b");
    let device = Device::flex();
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let b = permute_model(&b0, &activation_matching(&a, &b0, &loader, &device, &ProgressBar::hidden()).perms).unwrap();
    let endpoints = endpoint_pre_stats(&a, &b, &loader, &device, &ProgressBar::hidden());
    let alpha = 0.3;
    let merged = a.with_params(&interpolate(&a.to_params(), &b.to_params(), alpha).unwrap());
    let repaired = repair(&merged, &endpoints, alpha, &loader, &device, &ProgressBar::hidden()).unwrap();
    let after = endpoint_pre_stats(&repaired, &repaired, &loader, &device, &ProgressBar::hidden());
    let before = endpoint_pre_stats(&merged, &merged, &loader, &device, &ProgressBar::hidden());
    let mut moved = 0.0f64;
    for (j, ((e, r), m)) in endpoints.layers.iter().zip(&after.layers).zip(&before.layers).enumerate() {
        let goal_mean = &e.a.mean * (1.0 - alpha) + &e.b.mean * alpha;
        let goal_std = e.a.std() * (1.0 - alpha) + e.b.std() * alpha;
        for k in 0..goal_mean.len() {
            assert!((r.a.mean[k] - goal_mean[k]).abs() < 1e-3 * (1.0 + goal_std[k]), "layer {j} channel {k} mean");
            assert!((r.a.std()[k] - goal_std[k]).abs() < 1e-3 * (1.0 + goal_std[k]), "layer {j} channel {k} std");
            moved = moved.max((m.a.std()[k] - goal_std[k]).abs());
        }
    }
    assert!(moved > 1e-2, "the unrepaired merge already met the goals: the test would not see a no-op");
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
    assert_eq!(gcnn.curve[0].full, ordinary.curve[0].full, "both start from the same net");
    // the synthetic task is flip-invariant, so the flipped net is as accurate as the net
    assert!((gcnn.curve[2].accuracy - gcnn.curve[0].accuracy).abs() < 0.1);
    // the flip endpoint read off the α = 0 pass equals evaluating the aligned flipped net
    let aligned = permute_model(&a.flipped(), &gcnn.alignment.perms).unwrap();
    let direct = relu_symmetries::train::evaluate_on(&aligned, &Loader::ordered(&splits.test, 200), &device, &ProgressBar::hidden());
    assert!((direct.accuracy - gcnn.curve[2].accuracy).abs() < 1e-9);
    assert!((direct.loss - gcnn.curve[2].loss).abs() < 1e-4);
    // without the variance-collapse measurement nothing else changes
    assert_eq!(gcnn.variance_ratio_before.len(), a.convs.len());
    assert_eq!(gcnn.variance_ratio_after.len(), a.convs.len());
    let unmeasured = merge_experiment(&a, Partner::Flip, &MergeConfig { variance_ratios: false, ..cfg.clone() }, &splits, &device, false).unwrap();
    assert!(unmeasured.variance_ratio_before.is_empty() && unmeasured.variance_ratio_after.is_empty());
    let curve = |o: &relu_symmetries::experiments::merge::MergeOutcome| o.curve.iter().map(|p| (p.alpha, p.accuracy, p.loss)).collect::<Vec<_>>();
    assert_eq!(curve(&unmeasured), curve(&gcnn));
}

/// A GCNN is its own aligned flipped copy: barrier 0, the matching finds involutions, and the
/// live-channel equivariance error is 0 with every matching method.
#[test]
fn gcnn_has_zero_gcnn_barrier_and_involutive_alignments() {
    for (kind, tag) in [(ModelKind::Gcnn, "gcnn-barrier"), (ModelKind::GcnnBn, "gcnn-bn-barrier")] {
        gcnn_control(kind, tag);
    }
}

fn gcnn_control(kind: ModelKind, tag: &str) {
    let (g, splits) = trained_net(kind, 2, tag);
    let device = Device::flex();
    for method in Method::ALL {
        let cfg = MergeConfig { method, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
        let out = merge_experiment(&g, Partner::Flip, &cfg, &splits, &device, false).unwrap();
        let eq = relu_symmetries::experiments::merge::equivariance_report(&g, &out.alignment).unwrap();
        for l in &eq {
            assert!(l.off_centre_error < 1e-5, "{method:?} {}: live off-centre error {}", l.layer, l.off_centre_error);
            assert_ne!(l.involution, Some(false), "{method:?} {}: non-involution on live channels", l.layer);
        }
        let b = out.barriers.midpoint_accuracy.unwrap();
        assert!(b.abs() < 1e-6, "{method:?}: GCNN barrier {b}");
    }
}

/// Dead channels are matched among themselves and left out of the matched correlation.
#[test]
fn dead_channels_are_matched_to_dead_channels_and_counted() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 21, "dead-a");
    let device = Device::flex();
    // kill channels 0 and 3 of conv1 in a copy: weights 0, bias −1 → ReLU output 0 everywhere
    let mut p = a.to_params();
    for k in [0usize, 3] {
        p.get_mut("convs.1.weight").unwrap().index_axis_mut(ndarray::Axis(0), k).fill(0.0);
        p.get_mut("convs.1.bias").unwrap()[[k]] = -1.0;
    }
    let dead = a.with_params(&p);
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let m = perms_from_stats(&activation_stats(&dead, &dead, &loader, &device, &ProgressBar::hidden()));
    let live = &m.live_a[1];
    assert!(!live[0] && !live[3], "killed channels counted live");
    assert_eq!(m.perms[1].get(0), 0);
    assert_eq!(m.perms[1].get(3), 3);
    assert!((m.matched_corr[1] - 1.0).abs() < 1e-6, "matched correlation over live channels {}", m.matched_corr[1]);
    // the equivariance report counts them as dead and leaves them out of the cycles
    let eq = relu_symmetries::metrics::layerwise_equivariance(&dead.to_params(), &dead.structure(), &m.perms, Some(&m.live_a)).unwrap();
    let l1 = eq.iter().find(|l| l.layer == "convs.1").unwrap();
    assert!(l1.dead.unwrap() >= 2);
    let c = l1.cycles.clone().unwrap();
    assert_eq!(c.fixed + 2 * c.two_cycles + c.in_longer, l1.live.unwrap());
}

/// The off-centre error does not favour the identity: on unrelated random kernels the plain
/// error of P = I is ≈ √(4/3) but the off-centre error is ≈ √2, like any other permutation's.
#[test]
fn off_centre_error_gives_the_identity_no_free_credit() {
    let device = Device::flex();
    let net = VggConfig::vgg11(0.5).init(&device, 3).unwrap();
    let structure = net.structure();
    let spec = PermSpec::from_structure(&structure).unwrap();
    let ident: Vec<_> = spec.groups.iter().map(|g| relu_symmetries::align::Perm::identity(g.size)).collect();
    let random = random_spec_perms(&net, 9);
    let e_id = relu_symmetries::metrics::layerwise_equivariance(&net.to_params(), &structure, &ident, None).unwrap();
    let e_rand = relu_symmetries::metrics::layerwise_equivariance(&net.to_params(), &structure, &random, None).unwrap();
    for (i, r) in e_id.iter().zip(&e_rand).filter(|(l, _)| l.layer.starts_with("convs.") && l.layer != "convs.0") {
        assert!((i.relative_error - (4.0f64 / 3.0).sqrt()).abs() < 0.1, "{}: plain identity error {}", i.layer, i.relative_error);
        assert!((r.relative_error - 2f64.sqrt()).abs() < 0.1, "{}: plain random error {}", r.layer, r.relative_error);
        assert!((i.off_centre_error - 2f64.sqrt()).abs() < 0.1, "{}: off-centre identity error {}", i.layer, i.off_centre_error);
        assert!((r.off_centre_error - 2f64.sqrt()).abs() < 0.1, "{}: off-centre random error {}", r.layer, r.off_centre_error);
    }
}

/// Weight matching started from activation matching climbs from there: it ends at an objective
/// at least as high as its start's (and zero sweeps leave the start untouched).
#[test]
fn warm_started_weight_matching_never_ends_below_its_start() {
    let (a, splits) = trained_net(ModelKind::Vgg11, 31, "warm-a");
    let (b, _) = trained_net(ModelKind::Vgg11, 32, "warm-b");
    let device = Device::flex();
    let loader = Loader::ordered(&splits.train, 200).limit(Some(400));
    let act = perms_from_stats(&activation_stats(&a, &b, &loader, &device, &ProgressBar::hidden()));
    let spec = PermSpec::from_structure(&a.structure()).unwrap();
    let opts = WeightMatchingOptions::default();
    let warm = relu_symmetries::align::weight_matching_from(&a.to_params(), &b.to_params(), &spec, &opts, act.perms.clone()).unwrap();
    let at_start = relu_symmetries::align::weight_matching_from(
        &a.to_params(),
        &b.to_params(),
        &spec,
        &WeightMatchingOptions { max_sweeps: 0, ..opts },
        act.perms.clone(),
    )
    .unwrap();
    assert_eq!(warm.initial_objective, at_start.initial_objective);
    assert!(warm.objective() >= warm.initial_objective - 1e-9 * warm.initial_objective.abs());
    assert!(at_start.perms == act.perms && at_start.sweeps == 0);
    assert!(warm.sweeps >= 1);
}
