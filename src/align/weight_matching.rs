//! Weight matching (Git Re-Basin, Ainsworth et al. 2023): align network `b` to network `a` by
//! hidden-channel permutations chosen from the weights alone.
//!
//! # Objective
//!
//! For a [`PermSpec`] with groups `g = 1..G` and a permutation set `P = (p_1, …, p_G)` applied to
//! `b` with [`apply_perms`](super::spec::apply_perms) (gather convention: new channel `i` is old channel `p(i)`), maximise
//!
//! ```text
//!     J(P) = Σ_t ⟨θ_a[t], (P·θ_b)[t]⟩
//! ```
//!
//! over every tensor `t` that at least one group touches (each tensor counted once; for a conv
//! weight `(P·θ_b)[t] = P_out W_b P_in^T`). Running statistics are excluded unless
//! [`WeightMatchingOptions::include_running_stats`] is set. Tensors no group touches are constant
//! and left out.
//!
//! # Coordinate descent
//!
//! Fix every permutation except `p_g`. A tensor `t` touched by `g` on axis `k` (and by no other
//! axis of `g`) contributes `Σ_i S_t[i, p_g(i)]` with
//!
//! ```text
//!     S_t[i, j] = ⟨ a_t[i along k],  b̃_t[j along k] ⟩,
//! ```
//!
//! where `b̃_t` is `b`'s tensor with the *other* groups' current permutations applied on its other
//! axes and the remaining axes flattened (computed in f64 as `A B̃^T` with `A, B̃ ∈ R^{n × m}`). So
//! `J = const + Σ_i S_g[i, p_g(i)]` with `S_g = Σ_t S_t`, a linear assignment problem solved
//! exactly by [`assign_max`]. Each sweep visits all groups in a fresh random order (seeded by
//! [`WeightMatchingOptions::seed`]).
//!
//! **Monotonicity.** The current `p_g` is a feasible assignment of the same problem, so the
//! optimum is at least as good: every step can only increase `J` (a new permutation is accepted
//! only if its assignment score is strictly larger than the current one's, which also rules out
//! cycling between tied optima). `J` is bounded (finitely many permutation sets), so the descent
//! terminates. The one exception is a tensor with two axes in the *same* group (e.g. a square
//! hidden-to-hidden layer within one space): its contribution is quadratic in `p_g`, it is
//! linearised at the current `p_g` as in the reference implementation, and monotonicity is then
//! not guaranteed (no model of this crate has such a tensor).
//!
//! **Stopping.** After each sweep the objective is recomputed directly from the tensors. The
//! descent stops when a sweep improves it by at most `tolerance · |J_before|` — a **relative**
//! tolerance (default `1e-12`); a sweep that changes no permutation improves it by exactly 0 —
//! or after `max_sweeps` sweeps (default 100), whichever comes first.
//!
//! **Cost.** Score blocks `S_t` are cached and recomputed only when a permutation acting on one
//! of the tensor's other axes changed since they were computed (blocks of biases, BatchNorm
//! parameters and the classifier never change). The other axes' permutations are applied by
//! gathering through precomputed column offsets, never by rebuilding the whole map.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMut2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::AlignError;
use super::spec::{PermSet, PermSpec, identity_perms};
use super::{Perm, assign_max, assignment_score};
use crate::nets::ParamMap;

/// Settings of [`weight_matching`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightMatchingOptions {
    /// Seed of the random group order of each sweep. Default 0.
    pub seed: u64,
    /// Maximal number of sweeps over all groups. Default 100.
    pub max_sweeps: usize,
    /// Stop after a sweep whose objective improvement is at most `tolerance · |J_before|`
    /// (relative). Default `1e-12`.
    pub tolerance: f64,
    /// Whether BatchNorm running statistics count in the objective. Default `false`: they are
    /// data statistics, not trained weights (they are permuted with the rest either way).
    pub include_running_stats: bool,
    /// Threads for the score products; `0` (the default) uses every available core. Results do
    /// not depend on it.
    pub threads: usize,
}

impl Default for WeightMatchingOptions {
    fn default() -> Self {
        WeightMatchingOptions { seed: 0, max_sweeps: 100, tolerance: 1e-12, include_running_stats: false, threads: 0 }
    }
}

/// Result of [`weight_matching`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightMatching {
    /// One permutation per group; `apply_perms(b, spec, &perms)` is `b` aligned to `a`.
    pub perms: PermSet,
    /// The objective `J` at the starting permutations (the identity unless started elsewhere).
    pub initial_objective: f64,
    /// `J` after each sweep (non-decreasing up to floating-point rounding).
    pub objective_per_sweep: Vec<f64>,
    /// `[sweep][group]`: increase of the group's assignment score when it was visited in that
    /// sweep (0 when its permutation was kept). Indexed by group, not by visiting order.
    pub improvement_per_group: Vec<Vec<f64>>,
    /// Number of sweeps run.
    pub sweeps: usize,
    /// Whether the last sweep met the tolerance (false: stopped at `max_sweeps`).
    pub converged: bool,
}

impl WeightMatching {
    /// The final objective (the initial one if no sweep ran).
    pub fn objective(&self) -> f64 {
        self.objective_per_sweep.last().copied().unwrap_or(self.initial_objective)
    }
}

/// An axis of a tensor other than the one in front.
#[derive(Debug)]
struct RestAxis {
    len: usize,
    stride: usize,
    /// The group permuting it, if any.
    group: Option<usize>,
}

/// One tensor seen with one group's axis in front and the other axes flattened into columns.
struct Member<'a> {
    a: &'a [f32],
    b: &'a [f32],
    rows: usize,
    row_stride: usize,
    rest: Vec<RestAxis>,
    /// Flat offsets of the columns with no permutation applied.
    identity_offsets: Vec<usize>,
    /// Cached score block and the permutations of the other axes it was computed with.
    cache: Option<(Vec<Perm>, Array2<f64>)>,
}

impl Member<'_> {
    /// Column offsets (row-major over the other axes), with the given permutations applied on
    /// the permuted ones, or with none applied when `perms` is `None`.
    fn offsets(&self, perms: Option<&[Perm]>) -> Vec<usize> {
        let mut offs = vec![0usize];
        for r in &self.rest {
            let mut next = Vec::with_capacity(offs.len() * r.len);
            let p = perms.and_then(|perms| r.group.map(|g| &perms[g]));
            for &o in &offs {
                match p {
                    Some(p) => next.extend(p.as_slice().iter().map(|&j| o + j * r.stride)),
                    None => next.extend((0..r.len).map(|j| o + j * r.stride)),
                }
            }
            offs = next;
        }
        offs
    }

    fn key(&self, perms: &[Perm]) -> Vec<Perm> {
        self.rest.iter().filter_map(|r| r.group.map(|g| perms[g].clone())).collect()
    }

    fn gather(&self, data: &[f32], offsets: &[usize]) -> Array2<f64> {
        let m = offsets.len();
        let mut out = Vec::with_capacity(self.rows * m);
        for i in 0..self.rows {
            let base = i * self.row_stride;
            out.extend(offsets.iter().map(|&o| data[base + o] as f64));
        }
        Array2::from_shape_vec((self.rows, m), out).expect("rows × cols values were gathered")
    }

    /// `S[i, j] = ⟨a[i], b̃[j]⟩`, from the cache when the other axes' permutations are unchanged.
    fn score(&mut self, perms: &[Perm], threads: usize) -> &Array2<f64> {
        let key = self.key(perms);
        let fresh = matches!(&self.cache, Some((k, _)) if *k == key);
        if !fresh {
            let a = self.gather(self.a, &self.identity_offsets);
            let b = self.gather(self.b, &self.offsets(Some(perms)));
            self.cache = Some((key, a_bt(&a, &b, threads)));
        }
        &self.cache.as_ref().expect("cache was just filled").1
    }

    /// This tensor's term `⟨a, P·b⟩` of the objective, `p` being the front axis' permutation.
    fn objective(&self, p: &Perm, perms: &[Perm]) -> f64 {
        let offs_b = self.offsets(Some(perms));
        let mut total = 0.0;
        for i in 0..self.rows {
            let (ba, bb) = (i * self.row_stride, p.get(i) * self.row_stride);
            let row: f64 = self.identity_offsets.iter().zip(&offs_b).map(|(&oa, &ob)| self.a[ba + oa] as f64 * self.b[bb + ob] as f64).sum();
            total += row;
        }
        total
    }
}

/// Find permutations of `b`'s hidden channels maximising `Σ_t ⟨θ_a[t], (P·θ_b)[t]⟩` by
/// coordinate descent over the groups (see the module docs), starting from the identity.
///
/// Fails, naming the parameter, if either map lacks a member of the spec, has a member axis of
/// the wrong length, or the two maps disagree on a member's shape.
pub fn weight_matching(a: &ParamMap, b: &ParamMap, spec: &PermSpec, opts: &WeightMatchingOptions) -> Result<WeightMatching, AlignError> {
    weight_matching_from(a, b, spec, opts, identity_perms(spec))
}

/// [`weight_matching`] started from the permutations `start` instead of the identity (e.g. those
/// of activation matching). Coordinate descent only climbs, so the result is at least as good as
/// `start`; comparing the end points of several starts shows whether one was a local optimum.
pub fn weight_matching_from(a: &ParamMap, b: &ParamMap, spec: &PermSpec, opts: &WeightMatchingOptions, start: PermSet) -> Result<WeightMatching, AlignError> {
    spec.check_perms(&start)?;
    spec.check_params(a)?;
    spec.check_params(b)?;
    let axes = spec.param_axes();
    for name in axes.keys() {
        let (ta, tb) = (&a[name], &b[name]);
        if ta.shape() != tb.shape() {
            return Err(AlignError::ShapeMismatch { param: name.clone(), a: ta.shape().to_vec(), b: tb.shape().to_vec() });
        }
    }

    // Standard-layout views of the member tensors (borrowed when already standard).
    let included: Vec<(&String, &Vec<(usize, usize)>)> = axes.iter().filter(|(name, _)| opts.include_running_stats || !spec.is_running_stat(name)).collect();
    let views: Vec<(ndarray::CowArray<'_, f32, ndarray::IxDyn>, ndarray::CowArray<'_, f32, ndarray::IxDyn>)> =
        included.iter().map(|(name, _)| (a[*name].as_standard_layout(), b[*name].as_standard_layout())).collect();

    // One member per (tensor, permuted axis); `by_group[g]` lists the members of group g,
    // `first[t]` the member used to evaluate tensor t's objective term.
    let mut members: Vec<Member<'_>> = Vec::new();
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); spec.groups.len()];
    let mut first: Vec<(usize, usize)> = Vec::new(); // (member index, group)
    for ((_, tensor_axes), (va, vb)) in included.iter().zip(&views) {
        let shape = va.shape();
        let strides = row_major_strides(shape);
        for (n, &(axis, g)) in tensor_axes.iter().enumerate() {
            let rest: Vec<RestAxis> = (0..shape.len())
                .filter(|&k| k != axis)
                .map(|k| RestAxis { len: shape[k], stride: strides[k], group: tensor_axes.iter().find(|(ax, _)| *ax == k).map(|(_, g)| *g) })
                .collect();
            let mut m =
                Member { a: slice_of(va), b: slice_of(vb), rows: shape[axis], row_stride: strides[axis], rest, identity_offsets: Vec::new(), cache: None };
            m.identity_offsets = m.offsets(None);
            if n == 0 {
                first.push((members.len(), g));
            }
            by_group[g].push(members.len());
            members.push(m);
        }
    }

    let objective = |members: &[Member<'_>], perms: &[Perm]| -> f64 { first.iter().map(|&(mi, g)| members[mi].objective(&perms[g], perms)).sum() };

    let mut perms = start;
    let initial_objective = objective(&members, &perms);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut order: Vec<usize> = (0..spec.groups.len()).collect();
    let mut result = WeightMatching {
        perms: Vec::new(),
        initial_objective,
        objective_per_sweep: Vec::new(),
        improvement_per_group: Vec::new(),
        sweeps: 0,
        converged: false,
    };
    let mut before = initial_objective;
    for _ in 0..opts.max_sweeps {
        order.shuffle(&mut rng);
        let mut improvements = vec![0.0; spec.groups.len()];
        for &g in &order {
            let n = spec.groups[g].size;
            let mut s = Array2::<f64>::zeros((n, n));
            for &mi in &by_group[g] {
                s += members[mi].score(&perms, opts.threads);
            }
            let old = assignment_score(&s, &perms[g]);
            let candidate = assign_max(&s);
            let new = assignment_score(&s, &candidate);
            if new > old {
                improvements[g] = new - old;
                perms[g] = candidate;
            }
        }
        let after = objective(&members, &perms);
        result.objective_per_sweep.push(after);
        result.improvement_per_group.push(improvements);
        result.sweeps += 1;
        if after - before <= opts.tolerance * before.abs() {
            result.converged = true;
            break;
        }
        before = after;
    }
    result.perms = perms;
    Ok(result)
}

/// `A B^T` in f64, its rows split into `parts` contiguous blocks computed on separate threads.
/// Each entry is accumulated in the same order whatever the split (the row split only changes
/// which rows a gemm call sees), so results do not depend on the core count.
fn a_bt_split(a: &Array2<f64>, b: &Array2<f64>, parts: usize) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((a.nrows(), b.nrows()));
    let block = a.nrows().div_ceil(parts.max(1)).max(1);
    let bt = b.t();
    let mut jobs: Vec<(ArrayView2<'_, f64>, ArrayViewMut2<'_, f64>)> =
        a.axis_chunks_iter(Axis(0), block).zip(out.axis_chunks_iter_mut(Axis(0), block)).collect();
    if let [(a_rows, out_rows)] = jobs.as_mut_slice() {
        general_mat_mul(1.0, a_rows, &bt, 0.0, out_rows);
    } else {
        std::thread::scope(|s| {
            for (a_rows, out_rows) in &mut jobs {
                let bt = &bt;
                s.spawn(move || general_mat_mul(1.0, a_rows, bt, 0.0, out_rows));
            }
        });
    }
    out
}

/// `A B^T` on up to `threads` threads (`0`: all available cores), using one when the product is
/// too small to pay for them.
fn a_bt(a: &Array2<f64>, b: &Array2<f64>, threads: usize) -> Array2<f64> {
    let flops = a.len() * b.nrows();
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    let parts = if flops < 1 << 24 { 1 } else { threads };
    a_bt_split(a, b, parts.min(a.nrows().div_ceil(16)).max(1))
}

fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * shape[k + 1];
    }
    strides
}

fn slice_of<'a>(v: &'a ndarray::CowArray<'_, f32, ndarray::IxDyn>) -> &'a [f32] {
    let view: ArrayViewD<'a, f32> = v.view();
    view.to_slice().expect("as_standard_layout gives a contiguous row-major array")
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn, ShapeBuilder};

    use super::super::spec::{apply_perms, compose_perms, invert_perms, random_perms};
    use super::*;
    use crate::align::fixtures::*;

    fn vgg() -> (PermSpec, Shapes) {
        let (s, shapes) = vgg_like(&[8, 12, 16, 16, 20], 3, 3, 10, true);
        (PermSpec::from_structure(&s).unwrap(), shapes)
    }

    fn resnet() -> (PermSpec, Shapes) {
        let (s, shapes) = resnet_like(12, 10, 14, 3, 5);
        (PermSpec::from_structure(&s).unwrap(), shapes)
    }

    #[test]
    fn weight_matching_recovers_a_planted_permutation() {
        for (label, (spec, shapes)) in [("vgg", vgg()), ("resnet", resnet())] {
            for seed in 0..4 {
                let a = random_params(&shapes, seed);
                let mut rng = StdRng::seed_from_u64(100 + seed);
                let planted = random_perms(&spec, &mut rng);
                let b = apply_perms(&a, &spec, &planted).unwrap();
                let opts = WeightMatchingOptions { seed, ..Default::default() };
                let m = weight_matching(&a, &b, &spec, &opts).unwrap();
                assert!(m.converged, "{label} seed {seed}: {m:?}");
                assert_eq!(m.perms, invert_perms(&planted), "{label} seed {seed}");
                assert_eq!(apply_perms(&b, &spec, &m.perms).unwrap(), a, "{label} seed {seed}");
                assert!(compose_perms(&m.perms, &planted).unwrap().iter().all(Perm::is_identity));
            }
        }
    }

    #[test]
    fn aligning_a_net_to_itself_returns_the_identity() {
        for (label, (spec, shapes)) in [("vgg", vgg()), ("resnet", resnet())] {
            let a = random_params(&shapes, 7);
            let m = weight_matching(&a, &a, &spec, &WeightMatchingOptions::default()).unwrap();
            assert!(m.perms.iter().all(Perm::is_identity), "{label}: {:?}", m.perms);
            assert!(m.converged);
            assert_eq!(m.sweeps, 1, "{label}: the first sweep changes nothing and stops");
            assert_eq!(m.objective(), m.initial_objective);
        }
    }

    #[test]
    fn objective_never_decreases_across_sweeps() {
        for (label, (spec, shapes)) in [("vgg", vgg()), ("resnet", resnet())] {
            for seed in 0..4 {
                // Two independent nets: a genuine multi-sweep descent.
                let (a, b) = (random_params(&shapes, seed), random_params(&shapes, 50 + seed));
                let opts = WeightMatchingOptions { seed, ..Default::default() };
                let m = weight_matching(&a, &b, &spec, &opts).unwrap();
                assert!(m.sweeps >= 2, "{label}: {m:?}");
                let mut prev = m.initial_objective;
                for &j in &m.objective_per_sweep {
                    assert!(j >= prev - 1e-12 * prev.abs(), "{label} seed {seed}: {:?}", m.objective_per_sweep);
                    prev = j;
                }
                assert!(m.objective() > m.initial_objective, "{label}");
                assert!(m.improvement_per_group.iter().flatten().all(|&d| d >= 0.0));
                // The reported objective is J of the returned permutations.
                let aligned = apply_perms(&b, &spec, &m.perms).unwrap();
                let direct: f64 = spec
                    .param_axes()
                    .keys()
                    .filter(|n| !spec.is_running_stat(n))
                    .map(|n| a[n].iter().zip(aligned[n].iter()).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>())
                    .sum();
                assert!((direct - m.objective()).abs() <= 1e-9 * direct.abs(), "{direct} vs {}", m.objective());
                // And no single group can improve it further (coordinate-wise optimum).
                let again = weight_matching(&a, &aligned, &spec, &opts).unwrap();
                assert!(again.perms.iter().all(Perm::is_identity), "{label}: not a coordinate-wise optimum");
            }
        }
    }

    #[test]
    fn sweep_limit_and_running_stats_are_honoured() {
        let (spec, shapes) = vgg();
        let (a, b) = (random_params(&shapes, 1), random_params(&shapes, 2));
        let m = weight_matching(&a, &b, &spec, &WeightMatchingOptions { max_sweeps: 1, ..Default::default() }).unwrap();
        assert_eq!((m.sweeps, m.objective_per_sweep.len(), m.improvement_per_group.len()), (1, 1, 1));
        assert!(!m.converged);
        // Running statistics enter the objective only when asked for.
        let (with, without) = (
            weight_matching(&a, &b, &spec, &WeightMatchingOptions { include_running_stats: true, max_sweeps: 0, ..Default::default() }).unwrap(),
            weight_matching(&a, &b, &spec, &WeightMatchingOptions { max_sweeps: 0, ..Default::default() }).unwrap(),
        );
        let running: f64 = spec.running_stats.iter().map(|n| a[n].iter().zip(b[n].iter()).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>()).sum();
        assert!(running.abs() > 1.0);
        assert!((with.initial_objective - without.initial_objective - running).abs() < 1e-9);
        assert_eq!((with.sweeps, with.objective(), with.converged), (0, with.initial_objective, false));
    }

    #[test]
    fn score_products_do_not_depend_on_the_thread_split() {
        use rand::RngExt;
        let mut rng = StdRng::seed_from_u64(6);
        for (n, m, k) in [(1, 1, 1), (37, 1000, 53), (130, 2304, 64), (5, 7, 200)] {
            let a = Array2::from_shape_simple_fn((n, m), || rng.random_range(-1.0..1.0));
            let b = Array2::from_shape_simple_fn((k, m), || rng.random_range(-1.0..1.0));
            let whole = a.dot(&b.t());
            for parts in [1, 2, 3, 7, 64] {
                assert_eq!(a_bt_split(&a, &b, parts), whole, "{n}×{m}·{m}×{k} in {parts} parts");
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_an_error_naming_the_param() {
        let (spec, shapes) = vgg();
        let a = random_params(&shapes, 0);
        let mut b = a.clone();
        b.insert("head.weight".into(), ArrayD::zeros(IxDyn(&[20, 7])));
        let e = weight_matching(&a, &b, &spec, &WeightMatchingOptions::default()).unwrap_err();
        assert_eq!(e, AlignError::ShapeMismatch { param: "head.weight".into(), a: vec![20, 10], b: vec![20, 7] });
        assert!(e.to_string().contains("head.weight"));
        let mut b = a.clone();
        b.insert("convs.2.weight".into(), ArrayD::zeros(IxDyn(&[16, 11, 3, 3])));
        let e = weight_matching(&a, &b, &spec, &WeightMatchingOptions::default()).unwrap_err();
        assert!(matches!(&e, AlignError::AxisLength { param, axis: 1, .. } if param == "convs.2.weight"), "{e}");
        let mut b = a.clone();
        b.remove("norms.3.beta");
        let e = weight_matching(&a, &b, &spec, &WeightMatchingOptions::default()).unwrap_err();
        assert!(e.to_string().contains("norms.3.beta"), "{e}");
    }

    #[test]
    fn non_standard_layouts_match_like_standard_ones() {
        let (spec, shapes) = resnet();
        let a = random_params(&shapes, 3);
        let planted = random_perms(&spec, &mut StdRng::seed_from_u64(4));
        let b = apply_perms(&a, &spec, &planted).unwrap();
        // Same values, Fortran-ordered storage.
        let b_f: ParamMap = b
            .iter()
            .map(|(k, v)| {
                let mut f = ArrayD::zeros(IxDyn(v.shape()).f());
                f.assign(v);
                (k.clone(), f)
            })
            .collect();
        let m = weight_matching(&a, &b_f, &spec, &WeightMatchingOptions::default()).unwrap();
        assert_eq!(m.perms, invert_perms(&planted));
    }
}
