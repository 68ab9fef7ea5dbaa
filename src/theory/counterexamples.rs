//! **Equivariance does not imply layerwise equivariance**: the two mechanisms, as constructors.
//!
//! (a) **Linear pass-through.** σ(z) − σ(−z) = z, so a hidden layer can carry any invertible
//! linear change of basis B that the next layer undoes:
//! `[C, −C]` σ(`[B; −B]` x) = C(σ(Bx) − σ(−Bx)) = C B x.
//! If M = CB is an equivariant linear map, f(x) = Mx is equivariant, but the rows ±b_i of the
//! first layer are generically not permuted (up to positive scale) by ρ_in, so no positive scaled
//! permutation ρ_1 satisfies W_1 ρ_in(s) = ρ_1(s) W_1. [`paper_pass_through`] is the digest's
//! example W_1 = `[[1,3],[−1,−3],[1,−1],[−1,1]]`, W_2 = `½[1,−1,1,−1]` with the swap on R², where
//! f(x) = x_1 + x_2 and the row (1,3)·S = (3,1) is no positive multiple of any row of W_1;
//! [`random_pass_through`] draws random B.
//!
//! (b) **Degenerate neurons.** A neuron whose outgoing weights are zero
//! ([`zero_outgoing_neuron`]), or which is dead on all inputs ([`dead_neuron`]: a second-layer
//! neuron with non-positive incoming weights and negative bias never fires, since first-layer
//! activations are ≥ 0), can have arbitrary, asymmetric incoming weights without changing f. Here
//! the "no" of the decision is about the parameters only: removing the neuron gives a
//! layerwise-equivariant network for the same function (kept as [`Counterexample::repaired`]).
//!
//! Each constructor records where [`decide_layerwise`](super::layerwise::decide_layerwise) must
//! fail: the layer and the row (neuron) that witnesses it.

use ndarray::{Array1, Array2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::TheoryError;
use super::group::{DEFAULT_GROUP_CAP, GroupAction, Representation};
use super::linalg::{self, from_rows};
use super::mlp::{Layer, Mlp};
use super::reynolds::{intertwiner_average, layerwise_equivariant_mlp};
use super::sample;

/// Which mechanism breaks layerwise equivariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    /// σ(z) − σ(−z) = z carries a linear change of basis through a hidden layer.
    LinearPassThrough,
    /// A hidden neuron with zero outgoing weights.
    ZeroOutgoingWeight,
    /// A hidden neuron that is zero on every input.
    DeadNeuron,
}

/// An equivariant network that is not layerwise equivariant, with the expected witness.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// Short name for reports.
    pub name: String,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The network.
    pub mlp: Mlp,
    /// The group action it is equivariant for.
    pub action: GroupAction,
    /// Layer (1-based) at which the decision must fail.
    pub expected_layer: usize,
    /// Row (neuron) of that layer that witnesses the failure.
    pub expected_row: usize,
    /// For degenerate neurons: the layerwise-equivariant network without the neuron (same function).
    pub repaired: Option<Mlp>,
}

// ANCHOR: pass_through
/// The digest's example: swap on R², invariant output, f(x) = x_1 + x_2; the decision
/// procedure fails at layer 1, row 0.
pub fn paper_pass_through() -> Counterexample {
    let rows = [[1.0, 3.0], [-1.0, -3.0], [1.0, -1.0], [-1.0, 1.0]];
    let w1 = from_rows(&rows.map(|r| r.to_vec())).expect("constant matrix");
    let w2 = from_rows(&[vec![0.5, -0.5, 0.5, -0.5]]).expect("constant matrix");
    Counterexample {
        name: "paper pass-through (swap on R², f = x1 + x2)".into(),
        mechanism: Mechanism::LinearPassThrough,
        mlp: Mlp::from_weights(vec![w1, w2]).expect("shapes fit"),
        action: GroupAction::invariant(Representation::swap(2, 0, 1), 1),
        expected_layer: 1,
        expected_row: 0,
        repaired: None,
    }
}

// ANCHOR_END: pass_through
/// Random pass-through for a representation on R^n: W_1 = `[B; −B]` with random invertible B,
/// W_2 = `[C, −C]` with C = M B^{-1}, where M is a random equivariant linear map (group average),
/// invariant (1×n) or equivariant with ρ_out = ρ_in (n×n). Then f(x) = Mx. Generically the first
/// row of W_1 ρ_in(s) is no positive multiple of a row of W_1: expected failure layer 1, row 0.
pub fn random_pass_through(input: &Representation, invariant: bool, seed: u64) -> Result<Counterexample, TheoryError> {
    let n = input.dim();
    let action = if invariant { GroupAction::invariant(input.clone(), 1) } else { GroupAction::same_on_output(input.clone()) };
    let group = action.group(1e-9, DEFAULT_GROUP_CAP)?;
    let mut rng = sample::rng(seed);
    let b = sample::invertible(&mut rng, n)?;
    let m0 = sample::normal_matrix(&mut rng, action.output.dim(), n);
    let m = intertwiner_average(&group.component(1), &m0, &group.component(0))?;
    let c = m.dot(&linalg::inverse(&b)?);
    let w1 = linalg::vstack(&[b.clone(), -&b])?;
    let w2 = linalg::hstack(&[c.clone(), -&c])?;
    Ok(Counterexample {
        name: format!("random pass-through ({} output, n = {n}, seed {seed})", if invariant { "invariant" } else { "equivariant" }),
        mechanism: Mechanism::LinearPassThrough,
        mlp: Mlp::from_weights(vec![w1, w2])?,
        action,
        expected_layer: 1,
        expected_row: 0,
        repaired: None,
    })
}

/// A random layerwise-equivariant 2-layer network (two copies of the regular representation)
/// plus one extra first-layer neuron with random incoming weights and bias and **zero outgoing
/// weights**. Expected failure: layer 1, row = index of the extra neuron.
pub fn zero_outgoing_neuron(action: &GroupAction, seed: u64) -> Result<Counterexample, TheoryError> {
    let base = layerwise_equivariant_mlp(action, &[2], seed, true, 1e-9)?.mlp;
    let mut rng = sample::rng(seed ^ 0x5eed);
    let n0 = base.input_dim();
    let row = base.layers[0].out_dim();
    let l1 = &base.layers[0];
    let w1 = concatenate(Axis(0), &[l1.w.view(), sample::normal_matrix(&mut rng, 1, n0).view()]).map_err(|e| TheoryError::Shape(e.to_string()))?;
    let mut b1 = l1.b.to_vec();
    b1.push(sample::normal(&mut rng));
    let l2 = &base.layers[1];
    let w2 = concatenate(Axis(1), &[l2.w.view(), Array2::zeros((l2.out_dim(), 1)).view()]).map_err(|e| TheoryError::Shape(e.to_string()))?;
    let mlp = Mlp::new(vec![Layer::new(w1, Array1::from(b1))?, Layer::new(w2, l2.b.clone())?])?;
    Ok(Counterexample {
        name: format!("zero outgoing weight (seed {seed})"),
        mechanism: Mechanism::ZeroOutgoingWeight,
        mlp,
        action: action.clone(),
        expected_layer: 1,
        expected_row: row,
        repaired: Some(base),
    })
}

/// A random layerwise-equivariant 3-layer network plus one extra **second-layer neuron that is dead
/// on all inputs**: incoming weights < 0 (asymmetric, random), bias < 0, so its pre-activation is
/// negative on the non-negative first-layer activations; its outgoing weights are random and
/// non-zero. Expected failure: layer 2, row = index of the extra neuron.
pub fn dead_neuron(action: &GroupAction, seed: u64) -> Result<Counterexample, TheoryError> {
    let base = layerwise_equivariant_mlp(action, &[2, 1], seed, true, 1e-9)?.mlp;
    let mut rng = sample::rng(seed ^ 0xdead);
    let l2 = &base.layers[1];
    let (n1, row) = (l2.in_dim(), l2.out_dim());
    let incoming = sample::normal_matrix(&mut rng, 1, n1).mapv(|v| -(v.abs() + 0.05));
    let w2 = concatenate(Axis(0), &[l2.w.view(), incoming.view()]).map_err(|e| TheoryError::Shape(e.to_string()))?;
    let mut b2 = l2.b.to_vec();
    b2.push(-(sample::normal(&mut rng).abs() + 0.1));
    let l3 = &base.layers[2];
    let outgoing = sample::normal_matrix(&mut rng, l3.out_dim(), 1);
    let w3 = concatenate(Axis(1), &[l3.w.view(), outgoing.view()]).map_err(|e| TheoryError::Shape(e.to_string()))?;
    let mlp = Mlp::new(vec![base.layers[0].clone(), Layer::new(w2, Array1::from(b2))?, Layer::new(w3, l3.b.clone())?])?;
    Ok(Counterexample {
        name: format!("dead neuron (seed {seed})"),
        mechanism: Mechanism::DeadNeuron,
        mlp,
        action: action.clone(),
        expected_layer: 2,
        expected_row: row,
        repaired: Some(base),
    })
}

#[cfg(test)]
mod tests {
    use super::super::layerwise::{LayerwiseOptions, NotLayerwiseReason, decide_layerwise};
    use super::super::{check_equivariance, sample};
    use super::*;

    fn reps() -> Vec<Representation> {
        vec![
            Representation::swap(2, 0, 1),
            Representation::swap(4, 1, 3),
            Representation::cyclic_shift(3),
            Representation::cyclic_shift(5),
            Representation::hflip_image(1, 2, 2),
            Representation::hflip_image(2, 2, 3),
            Representation::sign_flip(3, 0),
            Representation::swap(3, 0, 1).join(&Representation::cyclic_shift(3)).unwrap(),
        ]
    }

    fn assert_counterexample(c: &Counterexample) {
        let eq = check_equivariance(&c.mlp, &c.action, 64, 1).unwrap();
        assert!(eq.is_equivariant(1e-9), "{}: not equivariant {eq:?}", c.name);
        let v = decide_layerwise(&c.mlp, &c.action, &LayerwiseOptions::default()).unwrap();
        let n = v.failure().unwrap_or_else(|| panic!("{}: decided layerwise", c.name));
        assert_eq!((n.layer, n.generator, n.row), (c.expected_layer, 0, c.expected_row), "{}: {n:?}", c.name);
        assert!(matches!(n.reason, NotLayerwiseReason::NoPositiveMultiple { .. }), "{}: {n:?}", c.name);
        if let Some(r) = &c.repaired {
            let x = sample::normal_matrix(&mut sample::rng(5), 64, c.mlp.input_dim());
            assert!(r.max_output_diff(&c.mlp, &x) < 1e-12, "{}: repaired differs", c.name);
            assert!(decide_layerwise(r, &c.action, &LayerwiseOptions::default()).unwrap().is_layerwise());
        }
    }

    #[test]
    fn paper_pass_through_computes_x1_plus_x2_and_fails_at_layer_one_row_zero() {
        let c = paper_pass_through();
        let x = sample::normal_matrix(&mut sample::rng(0), 100, 2);
        let y = c.mlp.forward(&x);
        for (xi, yi) in x.rows().into_iter().zip(y.rows()) {
            assert!((yi[0] - (xi[0] + xi[1])).abs() < 1e-12);
        }
        assert_counterexample(&c);
        let v = decide_layerwise(&c.mlp, &c.action, &LayerwiseOptions::default()).unwrap();
        let NotLayerwiseReason::NoPositiveMultiple { transformed_row } = &v.failure().unwrap().reason else { panic!("wrong reason") };
        assert_eq!(transformed_row, &vec![3.0, 1.0, 0.0]); // (1,3)·S = (3,1), bias 0
    }

    #[test]
    fn random_pass_through_is_equivariant_but_not_layerwise() {
        for rep in reps() {
            for seed in 0..10 {
                for invariant in [true, false] {
                    assert_counterexample(&random_pass_through(&rep, invariant, seed).unwrap());
                }
            }
        }
    }

    #[test]
    fn pass_through_network_computes_the_linear_map_m() {
        // f is linear: f(x + y) = f(x) + f(y) and f(2x) = 2 f(x).
        let c = random_pass_through(&Representation::cyclic_shift(4), false, 3).unwrap();
        let mut rng = sample::rng(1);
        let (x, y) = (sample::normal_vector(&mut rng, 4), sample::normal_vector(&mut rng, 4));
        let f = |v: &Array1<f64>| c.mlp.forward_one(v);
        assert!(linalg::max_abs_diff_vec(&f(&(&x + &y)), &(f(&x) + f(&y))) < 1e-10);
        assert!(linalg::max_abs_diff_vec(&f(&(&x * -2.0)), &(f(&x) * -2.0)) < 1e-10);
    }

    #[test]
    fn zero_outgoing_neuron_is_equivariant_but_fails_at_its_row() {
        for rep in reps() {
            for seed in 0..5 {
                for action in [GroupAction::invariant(rep.clone(), 2), GroupAction::same_on_output(rep.clone())] {
                    assert_counterexample(&zero_outgoing_neuron(&action, seed).unwrap());
                }
            }
        }
    }

    #[test]
    fn dead_neuron_never_fires_and_fails_at_its_row_in_layer_two() {
        for rep in reps() {
            for seed in 0..5 {
                let action = GroupAction::same_on_output(rep.clone());
                let c = dead_neuron(&action, seed).unwrap();
                let x = sample::normal_matrix(&mut sample::rng(seed), 200, rep.dim()) * 10.0;
                let acts = c.mlp.hidden_activations(&x);
                assert!(acts[1].column(c.expected_row).iter().all(|&v| v == 0.0));
                assert!(c.mlp.layers[2].w.column(c.expected_row).iter().any(|&v| v != 0.0));
                assert_counterexample(&c);
            }
        }
    }
}
