//! # The paper's theory (§2 of Bökman & Kahl, NeurIPS 2023) as executable mathematics
//!
//! Everything here is exact linear algebra in `f64` on the host (`ndarray`), independent of the
//! training code. A network is
//!
//! f(x) = W_L σ(W_{L−1} σ(… σ(W_1 x + b_1) …) + b_{L−1}) + b_L,   σ = ReLU per coordinate,
//!
//! and a finite group G acts on inputs by ρ_in = ρ_0 and on outputs by ρ_out = ρ_L.
//! f is **G-equivariant** if f(ρ_in(g) x) = ρ_out(g) f(x) for all g, x. It is **layerwise
//! equivariant** if there are representations ρ_1 … ρ_{L−1} of G on the hidden spaces with
//! W_j ρ_{j−1}(g) = ρ_j(g) W_j, ρ_j(g) b_j = b_j and σ(ρ_j(g) z) = ρ_j(g) σ(z).
//!
//! | result | statement | file |
//! |---|---|---|
//! | **Lemma** | invertible A satisfies σ(Ax) = Aσ(x) ∀x iff A = P·D (permutation × positive diagonal); in general iff A ≥ 0 with at most one non-zero per row. Failure comes with a witness x. | [`relu_commute`] |
//! | networks | ReLU MLP with biases, seeded random init | [`mlp`] |
//! | groups | finite groups from generator matrices, closure, multiplication table, group law | [`group`] |
//! | equivariance | numerical check of f(ρ_in(g)x) = ρ_out(g)f(x) on seeded samples | [`equivariance`] |
//! | **Consequence of the Lemma** | a layerwise-equivariant ReLU net has positive scaled permutations as hidden representations; deciding it = matching rows of `[W_jρ_{j−1}(g) \| b_j]` to positive multiples of rows of `[W_j \| b_j]`; rescaling neurons turns them into plain permutations | [`layerwise`] |
//! | **Equivariance ⇏ layerwise equivariance** | (a) linear pass-through σ(z) − σ(−z) = z; (b) degenerate neurons (zero outgoing weight, dead on all inputs) | [`counterexamples`] |
//! | **Equivariance ⇒ layerwise equivariance** | (a) two layers with invertible square weights: ρ_1(g) = W_1ρ_0(g)W_1^{−1} is forced to be P·D; (b) symmetrisation: (1/\|G\|)Σ_g ρ_out(g)^{−1} f(ρ_in(g)x) is computed layerwise-equivariantly by a \|G\|-times wider net | [`positive`] |
//! | group averaging | Reynolds projection onto intertwiners; random layerwise-equivariant nets | [`reynolds`] |
//! | report | [`theory_report`] runs all of the above and prints/serialises the verdicts | [`report`] |
//!
//! Small helpers: [`linalg`] (Gauss–Jordan inverse/solve with partial pivoting, permutation
//! matrices, block diagonals) and [`sample`] (seeded random matrices).
//!
//! Conventions: batches are row-major (one sample per row, so a batch X transforms as X ρ^T);
//! layers are numbered 1…L as in the paper (layer j holds W_j, b_j); rows, neurons and
//! generators are numbered from 0.

pub mod counterexamples;
pub mod equivariance;
pub mod group;
pub mod layerwise;
pub mod linalg;
pub mod mlp;
pub mod positive;
pub mod relu_commute;
pub mod report;
pub mod reynolds;
pub mod sample;

pub use counterexamples::{Counterexample, Mechanism, dead_neuron, paper_pass_through, random_pass_through, zero_outgoing_neuron};
pub use equivariance::{EquivarianceReport, check_equivariance};
pub use group::{FiniteGroup, GroupAction, Representation, close_group};
pub use layerwise::{
    LayerwiseEquivariant, LayerwiseOptions, LayerwiseVerdict, NotLayerwise, NotLayerwiseReason, check_hidden_group_law, decide_layerwise, duplicate_neurons,
    normalise_scales,
};
pub use mlp::{Layer, Mlp};
pub use positive::{OutputKind, TwoLayerExample, random_two_layer_invertible, symmetrise, symmetrised_block_permutation, theorem_hidden_reps};
pub use relu_commute::{CommutationFailure, CommutesWithRelu, FailureReason, ReluCommutation, ScaledPermutation, relu_commutation};
pub use report::{SECTION_WIDTH, TheoryReport, TheorySection, theory_report, try_theory_report};
pub use reynolds::{LayerwiseNet, intertwiner_average, layerwise_equivariant_mlp, regular_representation};

/// Default tolerance for "zero" and for comparing matrices in this module.
pub const DEFAULT_TOL: f64 = 1e-9;

/// Errors of the theory module (malformed input, singular matrices, runaway group closures).
/// A mathematical "no" (a matrix that does not commute with ReLU, a net that is not layerwise
/// equivariant) is *not* an error: it is a verdict with a witness.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TheoryError {
    /// Matrix or vector dimensions do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Gaussian elimination found no usable pivot.
    #[error("matrix is singular to working precision (column {column}, best pivot {pivot:e})")]
    Singular {
        /// Elimination step (column) without a usable pivot.
        column: usize,
        /// Largest available |pivot|.
        pivot: f64,
    },
    /// The closure of the generators did not terminate below the cap (infinite or too large group).
    #[error("group closure exceeded {cap} elements (group infinite or too large)")]
    GroupTooLarge {
        /// The cap that was reached.
        cap: usize,
    },
    /// A set of matrices that should form a group does not.
    #[error("group law violated: {0}")]
    GroupLaw(String),
    /// A witness constructed from the Lemma's proof failed its numerical verification
    /// (only possible with an unreasonable tolerance).
    #[error("witness does not violate σ(Ax) = Aσ(x) by more than the tolerance: {0}")]
    WitnessNotVerified(String),
    /// Rescaling neurons could not turn the scaled permutations into permutations.
    #[error("cannot normalise hidden scales: {0}")]
    Normalisation(String),
    /// A random construction did not produce a usable instance within its retries.
    #[error("random construction failed: {0}")]
    Construction(String),
}
