//! Group averaging (the Reynolds operator) and random layerwise-equivariant networks.
//!
//! For representations ρ, ρ' of a finite group G, the average
//!
//! R(M) = (1/|G|) Σ_g ρ'(g)^{-1} M ρ(g)
//!
//! is a projection onto the intertwiners {W : W ρ(h) = ρ'(h) W ∀h}: substituting g' = gh,
//! R(M) ρ(h) = (1/|G|) Σ_{g'} ρ'(g' h^{-1})^{-1} M ρ(g') = ρ'(h) R(M). Likewise
//! (1/|G|) Σ_g ρ'(g)^{-1} b is fixed by every ρ'(h).
//!
//! [`layerwise_equivariant_mlp`] uses it to draw random networks that are layerwise equivariant
//! *by construction*: hidden layer j carries `copies[j]` copies of the regular representation
//! (neurons indexed by (copy, group element a); h sends neuron a to a·h), each W_j is R(M_j) for a
//! Gaussian M_j, and each b_j is averaged likewise.

use ndarray::{Array1, Array2};

use super::TheoryError;
use super::group::{FiniteGroup, GroupAction};
use super::linalg::{self, block_diag};
use super::mlp::{Layer, Mlp};
use super::sample;

/// (1/|G|) Σ_g `out[g]`^{-1} M `in[g]` for element lists `out`, `inp` of the same group (same order).
pub fn intertwiner_average(out: &[Array2<f64>], m: &Array2<f64>, inp: &[Array2<f64>]) -> Result<Array2<f64>, TheoryError> {
    if out.len() != inp.len() || out.is_empty() {
        return Err(TheoryError::Shape("intertwiner_average: element lists differ".into()));
    }
    let mut acc = Array2::zeros(m.dim());
    for (o, i) in out.iter().zip(inp) {
        acc = acc + linalg::inverse(o)?.dot(m).dot(i);
    }
    Ok(acc / out.len() as f64)
}

/// (1/|G|) Σ_g ρ(g)^{-1} v, a vector fixed by every ρ(h).
pub fn fixed_vector_average(elements: &[Array2<f64>], v: &Array1<f64>) -> Result<Array1<f64>, TheoryError> {
    let mut acc = Array1::zeros(v.len());
    for e in elements {
        acc = acc + linalg::inverse(e)?.dot(v);
    }
    Ok(acc / elements.len() as f64)
}

/// The regular representation of a finite group, one permutation matrix per element h:
/// `P(h)[a, a·h]` = 1, so P(h)P(k) = P(hk).
pub fn regular_representation(group: &FiniteGroup) -> Vec<Array2<f64>> {
    (0..group.order())
        .map(|h| {
            let perm: Vec<usize> = (0..group.order()).map(|a| group.product_index(a, h)).collect();
            linalg::permutation_matrix(&perm)
        })
        .collect()
}

/// A random layerwise-equivariant network and its hidden representations.
#[derive(Debug, Clone)]
pub struct LayerwiseNet {
    /// The network.
    pub mlp: Mlp,
    /// `hidden[j][s]` = ρ_{j+1}(generator s), a permutation matrix (layers counted from 1).
    pub hidden: Vec<Vec<Array2<f64>>>,
}

/// Random network f: R^{n_0} → R^{n_L} that is layerwise equivariant for `action`, hidden layer j
/// carrying `copies[j]` copies of the regular representation (width `copies[j]`·|G|). With
/// `biases = false` all biases are zero.
pub fn layerwise_equivariant_mlp(action: &GroupAction, copies: &[usize], seed: u64, biases: bool, tol: f64) -> Result<LayerwiseNet, TheoryError> {
    let group = action.group(tol, super::group::DEFAULT_GROUP_CAP)?;
    let reg = regular_representation(&group);
    // Element lists of every space: ρ_0 = input, hidden = copies of regular, ρ_L = output.
    let mut spaces: Vec<Vec<Array2<f64>>> = vec![group.component(0)];
    for &c in copies {
        spaces.push(reg.iter().map(|p| block_diag(&vec![p.clone(); c])).collect());
    }
    spaces.push(group.component(1));

    let mut rng = sample::rng(seed);
    let mut layers = Vec::with_capacity(spaces.len() - 1);
    for pair in spaces.windows(2) {
        let (n_in, n_out) = (pair[0][0].nrows(), pair[1][0].nrows());
        let m = sample::normal_matrix(&mut rng, n_out, n_in) * (2.0 / n_in as f64).sqrt();
        let w = intertwiner_average(&pair[1], &m, &pair[0])?;
        let b = if biases { fixed_vector_average(&pair[1], &(sample::normal_vector(&mut rng, n_out) * 0.3))? } else { Array1::zeros(n_out) };
        layers.push(Layer::new(w, b)?);
    }
    // Generator s is the element right[0][s].
    let gen_idx: Vec<usize> = group.right[0].clone();
    let hidden = spaces[1..spaces.len() - 1].iter().map(|els| gen_idx.iter().map(|&e| els[e].clone()).collect()).collect();
    Ok(LayerwiseNet { mlp: Mlp::new(layers)?, hidden })
}

#[cfg(test)]
mod tests {
    use super::super::group::Representation;
    use super::super::linalg::max_abs_diff;
    use super::super::{DEFAULT_TOL, check_equivariance};
    use super::*;

    fn actions() -> Vec<GroupAction> {
        vec![
            GroupAction::invariant(Representation::swap(2, 0, 1), 1),
            GroupAction::same_on_output(Representation::cyclic_shift(3)),
            GroupAction::invariant(Representation::hflip_image(1, 2, 3), 2),
            GroupAction::same_on_output(Representation::sign_flip(2, 1)),
            GroupAction::invariant(Representation::swap(3, 0, 1).join(&Representation::cyclic_shift(3)).unwrap(), 1),
        ]
    }

    #[test]
    fn averaged_matrix_intertwines_the_two_representations() {
        let mut rng = sample::rng(3);
        for action in actions() {
            let g = action.group(DEFAULT_TOL, 100).unwrap();
            let (rin, rout) = (g.component(0), g.component(1));
            for _ in 0..10 {
                let m = sample::normal_matrix(&mut rng, rout[0].nrows(), rin[0].nrows());
                let w = intertwiner_average(&rout, &m, &rin).unwrap();
                for (i, o) in rin.iter().zip(&rout) {
                    assert!(max_abs_diff(&w.dot(i), &o.dot(&w)) < 1e-12);
                }
                // A projection: averaging again changes nothing.
                assert!(max_abs_diff(&intertwiner_average(&rout, &w, &rin).unwrap(), &w) < 1e-12);
            }
        }
    }

    #[test]
    fn regular_representation_is_a_homomorphism() {
        for action in actions() {
            let g = action.group(DEFAULT_TOL, 100).unwrap();
            let reg = regular_representation(&g);
            for a in 0..g.order() {
                for b in 0..g.order() {
                    assert_eq!(reg[a].dot(&reg[b]), reg[g.product_index(a, b)]);
                }
            }
        }
    }

    #[test]
    fn random_layerwise_equivariant_networks_are_equivariant_and_intertwine_every_layer() {
        for (k, action) in actions().into_iter().enumerate() {
            for seed in 0..10 {
                let net = layerwise_equivariant_mlp(&action, &[2, 1], seed, true, DEFAULT_TOL).unwrap();
                let rep = check_equivariance(&net.mlp, &action, 32, seed).unwrap();
                assert!(rep.is_equivariant(1e-10), "action {k} seed {seed}: {rep:?}");
                for s in 0..action.num_generators() {
                    let mut prev = action.input.generators[s].clone();
                    for (j, layer) in net.mlp.layers.iter().enumerate() {
                        let next = net.hidden.get(j).map_or(action.output.generators[s].clone(), |h| h[s].clone());
                        assert!(max_abs_diff(&layer.w.dot(&prev), &next.dot(&layer.w)) < 1e-12);
                        assert!(linalg::max_abs_diff_vec(&next.dot(&layer.b), &layer.b) < 1e-12);
                        prev = next;
                    }
                }
            }
        }
    }
}
