//! **When equivariance does imply layerwise equivariance.**
//!
//! (a) **Two layers, invertible square weights.** Let f(x) = W_2 σ(W_1 x) with W_1, W_2 square
//! invertible be equivariant: W_2 σ(W_1 ρ_0(g) x) = ρ_2(g) W_2 σ(W_1 x). Put y = W_1 x,
//! A = W_1 ρ_0(g) W_1^{-1} and B = W_2^{-1} ρ_2(g) W_2; then **σ(Ay) = Bσ(y) for all y**.
//! For y ≥ 0 this gives σ(Ay) = By, and applied to −y ≤ 0 it gives σ(−Ay) = Bσ(−y) = 0; so
//! Ay = σ(Ay) − σ(−Ay) = By on the positive orthant, which spans R^n: **A = B**. Hence
//! σ(Ay) = Aσ(y) for all y, by the Lemma **A = P·D**, and ρ_1(g) := A = W_1 ρ_0(g) W_1^{-1}
//! makes both layers equivariant (W_1 ρ_0 = A W_1 by definition, W_2 A = W_2 B = ρ_2 W_2).
//! [`theorem_hidden_reps`] computes A for every generator and applies the Lemma.
//! [`random_two_layer_invertible`] draws equivariant examples: ρ_0 a permutation representation
//! (optionally conjugated by a random invertible matrix), ρ_1 = (D S) ρ_0 (D S)^{-1} a positive
//! scaled permutation representation, W_1 and W_2 group averages (Reynolds) of Gaussian
//! matrices, W_1 invertible; the output is equivariant (ρ_2 = ρ_0, W_2 invertible: the theorem's
//! setting) or invariant (W_2 a 1×n row, layerwise by construction).
//!
//! (b) **Symmetrisation.** For any f and finite G,
//! f̄(x) = (1/|G|) Σ_g ρ_out(g)^{-1} f(ρ_in(g) x)
//! is equivariant (substitute g ↦ gh), equals f when f is equivariant, and is computed by the
//! |G|-times-wider network [`symmetrise`]: the first layer stacks W_1 ρ_in(g) (bias b_1) over g,
//! hidden layers are block-diagonal copies of W_j (bias b_j per block), the last layer is
//! `(1/|G|)[ρ_out(g)^{-1} W_L]`_g with bias (1/|G|) Σ_g ρ_out(g)^{-1} b_L. It is layerwise
//! equivariant: row (g, i) of W̄_1 ρ_in(h) is w_i ρ_in(gh), row (gh, i) of W̄_1, so ρ_j(h) permutes
//! the |G| blocks, (g, i) ↦ (gh, i) ([`symmetrised_block_permutation`]). Hence every equivariant
//! ReLU function has a layerwise-equivariant network, possibly only a wider one.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::TheoryError;
use super::group::{DEFAULT_GROUP_CAP, FiniteGroup, GroupAction, Representation, close_group};
use super::linalg::{self, block_diag};
use super::mlp::{Layer, Mlp};
use super::relu_commute::{ReluCommutation, ScaledPermutation, relu_commutation};
use super::reynolds::intertwiner_average;
use super::sample;

/// Output of the two-layer examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputKind {
    /// ρ_out = 1 on R¹ (W_2 is 1×n).
    Invariant,
    /// ρ_out = ρ_in on R^n (W_2 is n×n and invertible).
    Equivariant,
}

/// A random equivariant two-layer network W_2 σ(W_1 x) with invertible square W_1.
#[derive(Debug, Clone)]
pub struct TwoLayerExample {
    /// The network (no biases).
    pub mlp: Mlp,
    /// ρ_0 on inputs, ρ_2 on outputs.
    pub action: GroupAction,
    /// The hidden representation used in the construction, per generator.
    pub rho1: Vec<ScaledPermutation>,
}

/// Draw a random example for a permutation representation `perm_rep` of G on R^n. With
/// `conjugate_input` the input representation is B^{-1} Q(g) B for a random invertible B (a
/// general linear representation equivalent to a permutation one).
pub fn random_two_layer_invertible(perm_rep: &Representation, output: OutputKind, conjugate_input: bool, seed: u64) -> Result<TwoLayerExample, TheoryError> {
    let n = perm_rep.dim();
    let mut rng = sample::rng(seed);
    let gens: Vec<Vec<Array2<f64>>> = perm_rep.generators.iter().map(|q| vec![q.clone()]).collect();
    let group = close_group(&gens, 1e-9, DEFAULT_GROUP_CAP)?;
    let q_elems = group.component(0);
    let gen_idx = &group.right[0];

    // ρ_0(g) = Q(g) or B^{-1} Q(g) B.
    let (b, b_inv) = if conjugate_input {
        let b = sample::invertible(&mut rng, n)?;
        let bi = linalg::inverse(&b)?;
        (b, bi)
    } else {
        (linalg::identity(n), linalg::identity(n))
    };
    let rho0: Vec<Array2<f64>> = q_elems.iter().map(|q| b_inv.dot(q).dot(&b)).collect();
    // ρ_1(g) = (D S) Q(g) (D S)^{-1}: a positive scaled permutation representation.
    let ds = sample::scaled_permutation(&mut rng, n).to_matrix();
    let ds_inv = linalg::inverse(&ds)?;
    let rho1: Vec<Array2<f64>> = q_elems.iter().map(|q| ds.dot(q).dot(&ds_inv)).collect();

    let w1 = random_invertible_intertwiner(&mut rng, &rho1, &rho0)?;
    let (w2, rho2) = match output {
        OutputKind::Invariant => {
            let ones = vec![Array2::eye(1); group.order()];
            let m = sample::normal_matrix(&mut rng, 1, n);
            (intertwiner_average(&ones, &m, &rho1)?, ones)
        }
        OutputKind::Equivariant => (random_invertible_intertwiner(&mut rng, &rho0, &rho1)?, rho0.clone()),
    };
    let pick = |els: &[Array2<f64>]| -> Result<Representation, TheoryError> { Representation::new(gen_idx.iter().map(|&e| els[e].clone()).collect()) };
    let action = GroupAction::new(pick(&rho0)?, pick(&rho2)?)?;
    let rho1_gens = gen_idx
        .iter()
        .map(|&e| ScaledPermutation::from_matrix(&rho1[e], 1e-9).ok_or_else(|| TheoryError::Construction("ρ_1 is not P·D".into())))
        .collect::<Result<_, _>>()?;
    Ok(TwoLayerExample { mlp: Mlp::from_weights(vec![w1, w2])?, action, rho1: rho1_gens })
}

/// Group average of a Gaussian matrix, resampled until well conditioned (cond_∞ ≤ 1e6).
fn random_invertible_intertwiner(rng: &mut rand::rngs::StdRng, out: &[Array2<f64>], inp: &[Array2<f64>]) -> Result<Array2<f64>, TheoryError> {
    let n = out[0].nrows();
    for _ in 0..100 {
        let w = intertwiner_average(out, &sample::normal_matrix(rng, n, inp[0].nrows()), inp)?;
        if let Ok(inv) = linalg::inverse(&w)
            && sample::condition_inf(&w, &inv) <= 1e6
        {
            return Ok(w);
        }
    }
    Err(TheoryError::Construction("no invertible intertwiner in 100 tries".into()))
}

/// The theorem's proof for f = W_2 σ(W_1 x) with W_1 square invertible: for every generator s,
/// A_s = W_1 ρ_0(s) W_1^{-1} and the Lemma's verdict on it (P·D exactly when ρ_1(s) := A_s makes
/// f layerwise equivariant).
pub fn theorem_hidden_reps(f: &Mlp, action: &GroupAction, tol: f64) -> Result<Vec<(Array2<f64>, ReluCommutation)>, TheoryError> {
    if f.depth() != 2 || !f.layers[0].w.is_square() {
        return Err(TheoryError::Shape("the theorem needs two layers with W_1 square".into()));
    }
    let w1 = &f.layers[0].w;
    let w1_inv = linalg::inverse(w1)?;
    action
        .input
        .generators
        .iter()
        .map(|r0| {
            let a = w1.dot(r0).dot(&w1_inv);
            let verdict = relu_commutation(&a, tol)?;
            Ok((a, verdict))
        })
        .collect()
}

/// The |G|-times-wider network computing (1/|G|) Σ_g ρ_out(g)^{-1} f(ρ_in(g) x); `group` has
/// component 0 = ρ_in and component 1 = ρ_out (as from [`GroupAction::group`]). Block g of every
/// hidden layer belongs to element g (in the group's order).
pub fn symmetrise(f: &Mlp, group: &FiniteGroup) -> Result<Mlp, TheoryError> {
    let (rin, rout) = (group.component(0), group.component(1));
    if rin[0].nrows() != f.input_dim() || rout[0].nrows() != f.output_dim() {
        return Err(TheoryError::Shape("group does not act on the network's spaces".into()));
    }
    let m = group.order() as f64;
    let rout_inv: Vec<Array2<f64>> = rout.iter().map(linalg::inverse).collect::<Result<_, _>>()?;
    let depth = f.depth();
    let last = &f.layers[depth - 1];
    let avg_bias = rout_inv.iter().fold(Array1::zeros(last.out_dim()), |acc, r| acc + r.dot(&last.b)) / m;
    if depth == 1 {
        // No hidden layer: the averaged linear map itself.
        let w = rout_inv.iter().zip(&rin).fold(Array2::zeros(last.w.dim()), |acc, (ro, ri)| acc + ro.dot(&last.w).dot(ri)) / m;
        return Mlp::new(vec![Layer::new(w, avg_bias)?]);
    }
    let mut layers = Vec::with_capacity(depth);
    let first = &f.layers[0];
    let stacked: Vec<Array2<f64>> = rin.iter().map(|r| first.w.dot(r)).collect();
    layers.push(Layer::new(linalg::vstack(&stacked)?, tile(&first.b, group.order()))?);
    for l in &f.layers[1..depth - 1] {
        layers.push(Layer::new(block_diag(&vec![l.w.clone(); group.order()]), tile(&l.b, group.order()))?);
    }
    let blocks: Vec<Array2<f64>> = rout_inv.iter().map(|r| r.dot(&last.w) / m).collect();
    layers.push(Layer::new(linalg::hstack(&blocks)?, avg_bias)?);
    Mlp::new(layers)
}

fn tile(b: &Array1<f64>, times: usize) -> Array1<f64> {
    Array1::from_iter(std::iter::repeat_n(b.iter().copied(), times).flatten())
}

/// The hidden representations of the symmetrised network: for each hidden layer of width n_j
/// (of the *original* network) and each generator s, the block permutation (g, i) ↦ (g·s, i)
/// with neuron (g, i) at index g·n_j + i.
pub fn symmetrised_block_permutation(group: &FiniteGroup, hidden_widths: &[usize]) -> Vec<Vec<ScaledPermutation>> {
    hidden_widths
        .iter()
        .map(|&n| {
            (0..group.num_generators())
                .map(|s| {
                    let perm = (0..group.order() * n).map(|idx| group.right[idx / n][s] * n + idx % n).collect();
                    ScaledPermutation::plain(perm)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::counterexamples::{dead_neuron, paper_pass_through, random_pass_through, zero_outgoing_neuron};
    use super::super::layerwise::{LayerwiseOptions, decide_layerwise, hidden_matrices};
    use super::super::linalg::max_abs_diff;
    use super::super::reynolds::layerwise_equivariant_mlp;
    use super::super::{DEFAULT_TOL, check_equivariance};
    use super::*;

    fn perm_reps() -> Vec<Representation> {
        vec![
            Representation::swap(2, 0, 1),
            Representation::swap(4, 0, 2),
            Representation::cyclic_shift(3),
            Representation::cyclic_shift(6),
            Representation::hflip_image(1, 2, 3),
            Representation::swap(3, 0, 1).join(&Representation::cyclic_shift(3)).unwrap(),
        ]
    }

    fn actions() -> Vec<GroupAction> {
        vec![
            GroupAction::invariant(Representation::swap(2, 0, 1), 1),
            GroupAction::same_on_output(Representation::cyclic_shift(3)),
            GroupAction::invariant(Representation::hflip_image(1, 2, 2), 3),
            GroupAction::same_on_output(Representation::sign_flip(2, 0)),
            GroupAction::invariant(Representation::sign_flip(2, 0).join(&Representation::sign_flip(2, 1)).unwrap(), 1),
        ]
    }

    fn opts() -> LayerwiseOptions {
        LayerwiseOptions::default()
    }

    #[test]
    fn two_layer_invertible_equivariant_nets_have_hidden_rep_w1_rho0_w1_inverse() {
        for rep in perm_reps() {
            for seed in 0..10 {
                for output in [OutputKind::Invariant, OutputKind::Equivariant] {
                    let ex = random_two_layer_invertible(&rep, output, seed % 2 == 1, seed).unwrap();
                    assert!(check_equivariance(&ex.mlp, &ex.action, 32, seed).unwrap().is_equivariant(1e-8));
                    let lw = decide_layerwise(&ex.mlp, &ex.action, &opts()).unwrap();
                    let lw = lw.layerwise().expect("theorem: layerwise equivariant");
                    let theorem = theorem_hidden_reps(&ex.mlp, &ex.action, 1e-8).unwrap();
                    for (s, (a, verdict)) in theorem.iter().enumerate() {
                        let found = lw.hidden[0][s].to_matrix();
                        let scale = linalg::max_abs(a);
                        assert!(max_abs_diff(&found, a) < 1e-7 * scale, "found ≠ W1 ρ0 W1^-1");
                        assert!(max_abs_diff(&ex.rho1[s].to_matrix(), a) < 1e-7 * scale);
                        assert_eq!(verdict.scaled_permutation().unwrap().perm, lw.hidden[0][s].perm);
                    }
                }
            }
        }
    }

    #[test]
    fn equivariant_output_proof_step_a_equals_w2_inverse_rho2_w2() {
        // σ(Ay) = Bσ(y) on the positive orthant forces A = B = W_2^{-1} ρ_2 W_2.
        for rep in perm_reps() {
            for seed in 0..10 {
                let ex = random_two_layer_invertible(&rep, OutputKind::Equivariant, true, seed).unwrap();
                let w2 = &ex.mlp.layers[1].w;
                let w2_inv = linalg::inverse(w2).unwrap();
                let theorem = theorem_hidden_reps(&ex.mlp, &ex.action, 1e-8).unwrap();
                for (s, (a, _)) in theorem.iter().enumerate() {
                    let b = w2_inv.dot(&ex.action.output.generators[s]).dot(w2);
                    assert!(max_abs_diff(a, &b) < 1e-6 * linalg::max_abs(a));
                }
            }
        }
    }

    #[test]
    fn non_equivariant_two_layer_net_gives_a_matrix_that_does_not_commute_with_relu() {
        for seed in 0..30 {
            let f = Mlp::from_weights(vec![sample::invertible(&mut sample::rng(seed), 3).unwrap(), sample::normal_matrix(&mut sample::rng(seed + 1000), 1, 3)])
                .unwrap();
            let action = GroupAction::invariant(Representation::cyclic_shift(3), 1);
            let theorem = theorem_hidden_reps(&f, &action, 1e-9).unwrap();
            assert!(!theorem[0].1.commutes());
        }
    }

    #[test]
    fn symmetrised_network_is_always_equivariant() {
        for (a, action) in actions().into_iter().enumerate() {
            let group = action.group(DEFAULT_TOL, 64).unwrap();
            for seed in 0..10 {
                let (n0, nl) = (action.input.dim(), action.output.dim());
                let widths: Vec<usize> = match seed % 3 {
                    0 => vec![n0, nl],
                    1 => vec![n0, 5, nl],
                    _ => vec![n0, 4, 3, nl],
                };
                let f = Mlp::random(&widths, seed).unwrap();
                let g = symmetrise(&f, &group).unwrap();
                let rep = check_equivariance(&g, &action, 32, seed).unwrap();
                assert!(rep.is_equivariant(1e-10), "action {a} seed {seed}: {rep:?}");
                assert_eq!(g.hidden_widths(), f.hidden_widths().iter().map(|w| w * group.order()).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn symmetrised_random_network_is_layerwise_with_hidden_reps_permuting_the_blocks() {
        for (a, action) in actions().into_iter().enumerate() {
            let group = action.group(DEFAULT_TOL, 64).unwrap();
            for seed in 0..10 {
                let (n0, nl) = (action.input.dim(), action.output.dim());
                let widths = if seed % 2 == 0 { vec![n0, 5, nl] } else { vec![n0, 4, 3, nl] };
                let f = Mlp::random(&widths, seed).unwrap();
                let g = symmetrise(&f, &group).unwrap();
                let v = decide_layerwise(&g, &action, &opts()).unwrap();
                let lw = v.layerwise().unwrap_or_else(|| panic!("action {a} seed {seed}: {v:?}"));
                assert_eq!(lw.hidden, symmetrised_block_permutation(&group, &f.hidden_widths()));
            }
        }
    }

    #[test]
    fn symmetrising_an_equivariant_network_returns_the_same_function() {
        let mut nets: Vec<(Mlp, GroupAction)> = vec![];
        let c = paper_pass_through();
        nets.push((c.mlp, c.action));
        for seed in 0..5 {
            for rep in perm_reps() {
                let c = random_pass_through(&rep, seed % 2 == 0, seed).unwrap();
                nets.push((c.mlp, c.action));
            }
            for action in actions() {
                nets.push((layerwise_equivariant_mlp(&action, &[1, 1], seed, true, DEFAULT_TOL).unwrap().mlp, action.clone()));
                let c = zero_outgoing_neuron(&action, seed).unwrap();
                nets.push((c.mlp, c.action));
                let c = dead_neuron(&action, seed).unwrap();
                nets.push((c.mlp, c.action));
            }
        }
        for (k, (f, action)) in nets.iter().enumerate() {
            let group = action.group(DEFAULT_TOL, 64).unwrap();
            let g = symmetrise(f, &group).unwrap();
            let x = sample::normal_matrix(&mut sample::rng(k as u64), 32, f.input_dim());
            assert!(g.max_output_diff(f, &x) < 1e-9, "net {k}");
            let v = decide_layerwise(&g, action, &opts()).unwrap();
            assert!(v.is_layerwise(), "net {k}: {v:?}");
        }
    }

    #[test]
    fn symmetrised_pass_through_counterexamples_become_layerwise_by_block_permutation() {
        let mut cases = vec![paper_pass_through()];
        for seed in 0..5 {
            for rep in perm_reps() {
                cases.push(random_pass_through(&rep, seed % 2 == 1, seed).unwrap());
            }
        }
        for c in cases {
            assert!(!decide_layerwise(&c.mlp, &c.action, &opts()).unwrap().is_layerwise());
            let group = c.action.group(DEFAULT_TOL, 64).unwrap();
            let g = symmetrise(&c.mlp, &group).unwrap();
            let v = decide_layerwise(&g, &c.action, &opts()).unwrap();
            let lw = v.layerwise().unwrap_or_else(|| panic!("{}: {v:?}", c.name));
            let expected = symmetrised_block_permutation(&group, &c.mlp.hidden_widths());
            for (found, exp) in hidden_matrices(lw).iter().flatten().zip(expected.iter().flatten()) {
                assert!(max_abs_diff(found, &exp.to_matrix()) < 1e-9, "{}", c.name);
            }
        }
    }
}
