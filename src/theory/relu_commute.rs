//! **Lemma (which matrices commute with ReLU).**
//!
//! Let σ = ReLU applied per coordinate and A ∈ R^{m×n}. Then σ(Ax) = Aσ(x) for all x ∈ R^n
//! **iff A ≥ 0 entrywise and every row of A has at most one non-zero entry.** For square
//! invertible A this says exactly: **A = P·D**, a permutation matrix times a diagonal matrix with
//! strictly positive entries ([`ScaledPermutation`]).
//!
//! *Proof, as implemented by [`relu_commutation`].*
//! * (⇐) If row r is zero both sides vanish. If row r has the single entry a_rj > 0 then
//!   σ(Ax)_r = σ(a_rj x_j) = a_rj σ(x_j) = (Aσ(x))_r.
//! * (⇒, negative entry) Suppose a_rj < 0. Take **x = e_j**: σ(Ae_j)_r = σ(a_rj) = 0 while
//!   (Aσ(e_j))_r = (Ae_j)_r = a_rj < 0. The violation is |a_rj|. So every column of A is ≥ 0.
//! * (⇒, two non-zeros) Now A ≥ 0 and suppose row r has a_rj > 0 and a_rk > 0, j ≠ k. Take
//!   **x = e_j − c e_k** with c = 2 a_rj / a_rk, so (Ax)_r = a_rj − c a_rk = −a_rj < 0 and
//!   σ(Ax)_r = 0, while σ(x) = e_j gives (Aσ(x))_r = a_rj > 0. The violation is a_rj.
//! * (square case) A ≥ 0 with at most one non-zero per row is invertible iff every row has
//!   exactly one non-zero and they sit in distinct columns, i.e. A = P·D with D > 0.
//!
//! Entries with |a| ≤ `tol` count as zero. Every failure carries the witness x from the proof,
//! and the witness is *verified*: max_i |σ(Ax) − Aσ(x)|_i must exceed `tol`
//! (otherwise [`TheoryError::WitnessNotVerified`]).

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::TheoryError;
use super::linalg::{self, relu};

/// A = P·D: a permutation matrix P times a positive diagonal D.
///
/// `perm[i]` is the column of the single non-zero entry of row i (`P[i, perm[i]]` = 1) and
/// `scales[j]` = D_jj > 0, so `A[i, perm[i]]` = `scales[perm[i]]`. Acting on a vector,
/// (A z)_i = `scales[perm[i]]` · z_{`perm[i]`}; acting on the rows of a weight matrix, row i of A·W
/// is [`row_scale`](Self::row_scale)(i) times row `perm[i]` of W.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaledPermutation {
    /// Column of the non-zero entry in each row.
    pub perm: Vec<usize>,
    /// Diagonal of D (indexed by column).
    pub scales: Vec<f64>,
}

impl ScaledPermutation {
    /// The identity I = P·D with P = D = I.
    pub fn identity(n: usize) -> Self {
        Self { perm: (0..n).collect(), scales: vec![1.0; n] }
    }

    /// A plain permutation (D = I).
    pub fn plain(perm: Vec<usize>) -> Self {
        let n = perm.len();
        Self { perm, scales: vec![1.0; n] }
    }

    /// Dimension n of the n×n matrix.
    pub fn dim(&self) -> usize {
        self.perm.len()
    }

    /// The non-zero entry of row i, `scales[perm[i]]`.
    pub fn row_scale(&self, i: usize) -> f64 {
        self.scales[self.perm[i]]
    }

    /// Checks that `perm` is a bijection and all scales are finite and > 0.
    pub fn validate(&self) -> Result<(), TheoryError> {
        let n = self.perm.len();
        if self.scales.len() != n {
            return Err(TheoryError::Shape(format!("scaled permutation: {} indices but {} scales", n, self.scales.len())));
        }
        let mut seen = vec![false; n];
        for &j in &self.perm {
            if j >= n || seen[j] {
                return Err(TheoryError::Shape(format!("not a permutation: {:?}", self.perm)));
            }
            seen[j] = true;
        }
        if self.scales.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(TheoryError::Shape(format!("scales not positive: {:?}", self.scales)));
        }
        Ok(())
    }

    /// The matrix A = P·D.
    pub fn to_matrix(&self) -> Array2<f64> {
        let n = self.dim();
        let mut a = Array2::zeros((n, n));
        for (i, &j) in self.perm.iter().enumerate() {
            a[(i, j)] = self.scales[j];
        }
        a
    }

    /// The factor P.
    pub fn permutation_matrix(&self) -> Array2<f64> {
        linalg::permutation_matrix(&self.perm)
    }

    /// The factor D.
    pub fn diagonal(&self) -> Array2<f64> {
        Array2::from_diag(&Array1::from(self.scales.clone()))
    }

    /// Read P·D off a matrix: every row has exactly one entry > tol, the others are within tol of
    /// zero, and the columns of these entries are distinct. `None` otherwise.
    pub fn from_matrix(a: &Array2<f64>, tol: f64) -> Option<Self> {
        match relu_commutation(a, tol) {
            Ok(ReluCommutation::Commutes(c)) => c.scaled_permutation,
            _ => None,
        }
    }

    /// The product self · other (both P·D, the result is again P·D).
    pub fn compose(&self, other: &Self) -> Self {
        let n = self.dim();
        let mut perm = vec![0; n];
        let mut scales = vec![0.0; n];
        for i in 0..n {
            // Row i of self·other = row_scale(i) · (row perm[i] of other).
            let mid = self.perm[i];
            perm[i] = other.perm[mid];
            scales[perm[i]] = self.row_scale(i) * other.row_scale(mid);
        }
        Self { perm, scales }
    }

    /// The inverse (P D)^{-1} = D^{-1} P^T, again of the form P'·D'.
    pub fn inverse(&self) -> Self {
        let n = self.dim();
        let mut perm = vec![0; n];
        let mut scales = vec![0.0; n];
        for (i, &j) in self.perm.iter().enumerate() {
            // A[i, j] = s_j  ⇒  A^{-1}[j, i] = 1 / s_j.
            perm[j] = i;
            scales[i] = 1.0 / self.scales[j];
        }
        Self { perm, scales }
    }

    /// Is D = I within `tol` (a plain permutation)?
    pub fn is_plain(&self, tol: f64) -> bool {
        self.scales.iter().all(|s| (s - 1.0).abs() <= tol)
    }

    /// Is this the identity within `tol`?
    pub fn is_identity(&self, tol: f64) -> bool {
        self.perm.iter().enumerate().all(|(i, &j)| i == j) && self.is_plain(tol)
    }

    /// Cycle type of the permutation part, longest cycle first.
    pub fn cycle_lengths(&self) -> Vec<usize> {
        let n = self.dim();
        let mut seen = vec![false; n];
        let mut out = Vec::new();
        for start in 0..n {
            if !seen[start] {
                let mut len = 0;
                let mut i = start;
                while !seen[i] {
                    seen[i] = true;
                    i = self.perm[i];
                    len += 1;
                }
                out.push(len);
            }
        }
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }
}

/// Why σ(Ax) = Aσ(x) fails (the two cases of the Lemma's proof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FailureReason {
    /// a_rj < 0: witness x = e_j.
    NegativeEntry {
        /// Row r.
        row: usize,
        /// Column j.
        col: usize,
        /// a_rj < 0.
        value: f64,
    },
    /// A ≥ 0 but row r has two positive entries a_rj, a_rk: witness x = e_j − (2 a_rj / a_rk) e_k.
    TwoNonZerosInRow {
        /// Row r.
        row: usize,
        /// Columns j, k.
        cols: [usize; 2],
        /// a_rj, a_rk > 0.
        values: [f64; 2],
    },
}

/// A verified counterexample to σ(Ax) = Aσ(x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommutationFailure {
    /// Which case of the proof applies.
    pub reason: FailureReason,
    /// The witness x.
    pub witness: Vec<f64>,
    /// max_i |σ(Ax) − Aσ(x)|_i at the witness (> tol).
    pub violation: f64,
}

/// A commutes with σ: A ≥ 0 with at most one non-zero per row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommutesWithRelu {
    /// For each row, the column and (positive) value of its non-zero entry, or `None` for a zero row.
    pub row_support: Vec<Option<(usize, f64)>>,
    /// `Some(P·D)` iff A is square and invertible (every row has exactly one non-zero, in
    /// distinct columns).
    pub scaled_permutation: Option<ScaledPermutation>,
}

/// The Lemma's verdict for one matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReluCommutation {
    /// σ(Ax) = Aσ(x) for all x.
    Commutes(CommutesWithRelu),
    /// There is a witness x with σ(Ax) ≠ Aσ(x).
    DoesNotCommute(CommutationFailure),
}

impl ReluCommutation {
    /// True for [`ReluCommutation::Commutes`].
    pub fn commutes(&self) -> bool {
        matches!(self, Self::Commutes(_))
    }
    /// The P·D factorisation, if A commutes and is invertible.
    pub fn scaled_permutation(&self) -> Option<&ScaledPermutation> {
        match self {
            Self::Commutes(c) => c.scaled_permutation.as_ref(),
            Self::DoesNotCommute(_) => None,
        }
    }
    /// The failure with its witness, if A does not commute.
    pub fn failure(&self) -> Option<&CommutationFailure> {
        match self {
            Self::Commutes(_) => None,
            Self::DoesNotCommute(f) => Some(f),
        }
    }
}

/// max_i |σ(Ax)_i − (Aσ(x))_i|.
pub fn commutation_defect(a: &Array2<f64>, x: &Array1<f64>) -> f64 {
    let lhs = relu(&a.dot(x));
    let rhs = a.dot(&relu(x));
    linalg::max_abs_diff_vec(&lhs, &rhs)
}

/// Decide the Lemma for A (entries with |a| ≤ tol are zero); see the module docs for the proof
/// that each branch follows.
pub fn relu_commutation(a: &Array2<f64>, tol: f64) -> Result<ReluCommutation, TheoryError> {
    let (m, n) = a.dim();
    let e = |j: usize| {
        let mut x = Array1::zeros(n);
        x[j] = 1.0;
        x
    };

    // Step 1: x = e_j shows that every column is ≥ 0.
    for r in 0..m {
        for j in 0..n {
            let v = a[(r, j)];
            if v < -tol {
                let reason = FailureReason::NegativeEntry { row: r, col: j, value: v };
                return verified_failure(a, e(j), reason, tol);
            }
        }
    }

    // Step 2: A ≥ 0; a row with two positive entries fails at x = e_j − c e_k.
    let mut row_support = Vec::with_capacity(m);
    for r in 0..m {
        let nz: Vec<usize> = (0..n).filter(|&j| a[(r, j)] > tol).collect();
        match nz.as_slice() {
            [] => row_support.push(None),
            [j] => row_support.push(Some((*j, a[(r, *j)]))),
            [j, k, ..] => {
                let (aj, ak) = (a[(r, *j)], a[(r, *k)]);
                let c = 2.0 * aj / ak; // (Ax)_r = a_rj − c a_rk = −a_rj < 0
                let x = e(*j) - &(e(*k) * c);
                let reason = FailureReason::TwoNonZerosInRow { row: r, cols: [*j, *k], values: [aj, ak] };
                return verified_failure(a, x, reason, tol);
            }
        }
    }

    // Step 3: A commutes. For square A it is invertible iff it is P·D.
    let scaled_permutation = (m == n)
        .then(|| {
            let mut perm = Vec::with_capacity(n);
            let mut scales = vec![0.0; n];
            for s in &row_support {
                let (j, v) = (*s)?;
                if scales[j] != 0.0 {
                    return None; // two rows share a column: singular
                }
                perm.push(j);
                scales[j] = v;
            }
            Some(ScaledPermutation { perm, scales })
        })
        .flatten();
    Ok(ReluCommutation::Commutes(CommutesWithRelu { row_support, scaled_permutation }))
}

fn verified_failure(a: &Array2<f64>, x: Array1<f64>, reason: FailureReason, tol: f64) -> Result<ReluCommutation, TheoryError> {
    let violation = commutation_defect(a, &x);
    if violation <= tol {
        return Err(TheoryError::WitnessNotVerified(format!("{reason:?}: defect {violation:e} ≤ tol {tol:e}")));
    }
    Ok(ReluCommutation::DoesNotCommute(CommutationFailure { reason, witness: x.to_vec(), violation }))
}

#[cfg(test)]
mod tests {
    use super::super::{DEFAULT_TOL, linalg::max_abs_diff, sample};
    use super::*;

    const CASES: u64 = 200;

    /// σ(Ax) = Aσ(x) on a batch of random x (numerical check of the "commutes" direction).
    fn commutes_numerically(a: &Array2<f64>, rng: &mut rand::rngs::StdRng) -> bool {
        (0..20).all(|_| commutation_defect(a, &sample::normal_vector(rng, a.ncols())) < 1e-9)
    }

    fn assert_verified_failure(a: &Array2<f64>) -> FailureReason {
        let verdict = relu_commutation(a, DEFAULT_TOL).unwrap();
        let f = verdict.failure().expect("must not commute").clone();
        let x = Array1::from(f.witness.clone());
        assert!(commutation_defect(a, &x) > DEFAULT_TOL, "witness must violate the identity");
        assert!((commutation_defect(a, &x) - f.violation).abs() < 1e-12);
        f.reason
    }

    #[test]
    fn random_scaled_permutation_commutes_and_factorisation_reproduces_it() {
        let mut rng = sample::rng(1);
        for case in 0..CASES {
            let n = 1 + (case as usize % 7);
            let pd = sample::scaled_permutation(&mut rng, n);
            let a = pd.to_matrix();
            let verdict = relu_commutation(&a, DEFAULT_TOL).unwrap();
            let found = verdict.scaled_permutation().expect("P·D must commute and be invertible");
            assert_eq!(found.perm, pd.perm);
            assert!(max_abs_diff(&found.to_matrix(), &a) < 1e-15);
            assert!(max_abs_diff(&found.permutation_matrix().dot(&found.diagonal()), &a) < 1e-15);
            assert!(commutes_numerically(&a, &mut rng));
        }
    }

    #[test]
    fn random_dense_matrix_does_not_commute_and_witness_is_verified() {
        let mut rng = sample::rng(2);
        for case in 0..CASES {
            let (m, n) = (1 + case as usize % 5, 1 + (case as usize / 5) % 5);
            let a = sample::normal_matrix(&mut rng, m, n);
            if n == 1 && a.iter().all(|&v| v >= 0.0) {
                continue; // a non-negative column does commute (one entry per row)
            }
            assert_verified_failure(&a);
        }
    }

    #[test]
    fn dense_nonnegative_matrix_fails_by_two_positive_entries_in_a_row() {
        let mut rng = sample::rng(3);
        for case in 0..CASES {
            let n = 2 + case as usize % 6;
            let a = sample::normal_matrix(&mut rng, n, n).mapv(|v| v.abs() + 0.01);
            let reason = assert_verified_failure(&a);
            assert!(matches!(reason, FailureReason::TwoNonZerosInRow { row: 0, cols: [0, 1], .. }));
        }
    }

    #[test]
    fn minus_identity_fails_by_negative_entry_with_unit_vector_witness() {
        for n in 1..8 {
            let a = -Array2::<f64>::eye(n);
            let reason = assert_verified_failure(&a);
            assert_eq!(reason, FailureReason::NegativeEntry { row: 0, col: 0, value: -1.0 });
            let w = relu_commutation(&a, DEFAULT_TOL).unwrap().failure().unwrap().witness.clone();
            let mut e0 = vec![0.0; n];
            e0[0] = 1.0;
            assert_eq!(w, e0);
        }
    }

    #[test]
    fn scaled_permutation_plus_one_positive_entry_fails_in_that_row() {
        let mut rng = sample::rng(4);
        for case in 0..CASES {
            let n = 2 + case as usize % 6;
            let pd = sample::scaled_permutation(&mut rng, n);
            let mut a = pd.to_matrix();
            let row = rng.random_range(0..n);
            let col = (pd.perm[row] + 1 + rng.random_range(0..n - 1)) % n;
            a[(row, col)] = sample::uniform(&mut rng, 0.1, 2.0);
            match assert_verified_failure(&a) {
                FailureReason::TwoNonZerosInRow { row: r, cols, .. } => {
                    assert_eq!(r, row);
                    assert!(cols.contains(&col) && cols.contains(&pd.perm[row]));
                }
                other => panic!("expected two non-zeros, got {other:?}"),
            }
        }
    }

    #[test]
    fn nonnegative_matrix_with_at_most_one_nonzero_per_row_commutes_even_if_singular() {
        let mut rng = sample::rng(5);
        for case in 0..CASES {
            let (m, n) = (1 + case as usize % 6, 1 + (case as usize / 6) % 6);
            let mut a = Array2::zeros((m, n));
            for r in 0..m {
                if rng.random_bool(0.8) {
                    a[(r, rng.random_range(0..n))] = sample::uniform(&mut rng, 0.1, 3.0);
                }
            }
            let verdict = relu_commutation(&a, DEFAULT_TOL).unwrap();
            assert!(verdict.commutes());
            assert!(commutes_numerically(&a, &mut rng));
            // Invertible (P·D) exactly when square with one non-zero per row in distinct columns.
            let invertible = m == n && super::super::linalg::inverse(&a).is_ok();
            assert_eq!(verdict.scaled_permutation().is_some(), invertible);
        }
    }

    #[test]
    fn entries_below_tolerance_count_as_zero() {
        let a = Array2::from_shape_vec((2, 2), vec![2.0, -1e-12, 1e-12, 3.0]).unwrap();
        let verdict = relu_commutation(&a, 1e-9).unwrap();
        assert_eq!(verdict.scaled_permutation().unwrap().perm, vec![0, 1]);
    }

    #[test]
    fn scaled_permutation_product_and_inverse_match_matrix_algebra() {
        let mut rng = sample::rng(6);
        for case in 0..CASES {
            let n = 1 + case as usize % 7;
            let (p, q) = (sample::scaled_permutation(&mut rng, n), sample::scaled_permutation(&mut rng, n));
            let pq = p.compose(&q);
            pq.validate().unwrap();
            assert!(max_abs_diff(&pq.to_matrix(), &p.to_matrix().dot(&q.to_matrix())) < 1e-12);
            assert!(max_abs_diff(&p.inverse().to_matrix().dot(&p.to_matrix()), &Array2::eye(n)) < 1e-12);
            assert!(p.compose(&p.inverse()).is_identity(1e-12));
        }
    }

    use rand::RngExt;
}
