//! Small dense linear algebra in `f64`: what the theory needs and nothing more.
//!
//! * [`inverse`] and [`solve`]: Gauss–Jordan elimination with partial pivoting. A pivot smaller
//!   than `1e-12 · max|A|` is reported as [`TheoryError::Singular`].
//! * [`permutation_matrix`]: the convention used throughout the module, `P[i, perm[i]]` = 1, so
//!   (P z)_i = z_{`perm[i]`} and (P W) has row i equal to row `perm[i]` of W.
//! * [`block_diag`], [`relu`], comparisons ([`max_abs_diff`]) and the row test
//!   [`positive_multiple`] (is `t` = d·`r` with d > 0?).

use ndarray::{Array1, Array2, ArrayView1, Axis, s};

use super::TheoryError;

/// Relative pivot threshold for declaring a matrix singular.
const SINGULAR_RTOL: f64 = 1e-12;

/// n×n identity.
pub fn identity(n: usize) -> Array2<f64> {
    Array2::eye(n)
}

/// Permutation matrix with `P[i, perm[i]]` = 1.
pub fn permutation_matrix(perm: &[usize]) -> Array2<f64> {
    let n = perm.len();
    let mut p = Array2::zeros((n, n));
    for (i, &j) in perm.iter().enumerate() {
        p[(i, j)] = 1.0;
    }
    p
}

/// max_ij |a_ij| (0 for an empty matrix).
pub fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0, |m, &v| m.max(v.abs()))
}

/// max_ij |a_ij − b_ij|; `f64::INFINITY` if the shapes differ.
pub fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    if a.dim() != b.dim() {
        return f64::INFINITY;
    }
    a.iter().zip(b.iter()).fold(0.0, |m, (&x, &y)| m.max((x - y).abs()))
}

/// max_i |a_i − b_i|; `f64::INFINITY` if the lengths differ.
pub fn max_abs_diff_vec(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter().zip(b.iter()).fold(0.0, |m, (&x, &y)| m.max((x - y).abs()))
}

/// σ(x) = max(x, 0) elementwise.
pub fn relu<D: ndarray::Dimension>(x: &ndarray::Array<f64, D>) -> ndarray::Array<f64, D> {
    x.mapv(|v| v.max(0.0))
}

/// Solve A X = B for square A by Gauss–Jordan elimination with partial pivoting.
pub fn solve(a: &Array2<f64>, b: &Array2<f64>) -> Result<Array2<f64>, TheoryError> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(TheoryError::Shape(format!("solve: A is {}×{}, not square", n, a.ncols())));
    }
    if b.nrows() != n {
        return Err(TheoryError::Shape(format!("solve: A is {n}×{n} but B has {} rows", b.nrows())));
    }
    let scale = max_abs(a).max(f64::MIN_POSITIVE);
    let m = b.ncols();
    // Augmented matrix [A | B].
    let mut aug = Array2::zeros((n, n + m));
    aug.slice_mut(s![.., ..n]).assign(a);
    aug.slice_mut(s![.., n..]).assign(b);
    for col in 0..n {
        // Partial pivoting: the largest |entry| in this column at or below the diagonal.
        let (piv, best) = (col..n).map(|r| (r, aug[(r, col)].abs())).fold((col, -1.0), |acc, x| if x.1 > acc.1 { x } else { acc });
        if best <= SINGULAR_RTOL * scale {
            return Err(TheoryError::Singular { column: col, pivot: best });
        }
        if piv != col {
            for k in 0..n + m {
                aug.swap((piv, k), (col, k));
            }
        }
        let p = aug[(col, col)];
        aug.row_mut(col).mapv_inplace(|v| v / p);
        let pivot_row = aug.row(col).to_owned();
        for r in 0..n {
            if r != col {
                let f = aug[(r, col)];
                if f != 0.0 {
                    aug.row_mut(r).scaled_add(-f, &pivot_row);
                }
            }
        }
    }
    Ok(aug.slice(s![.., n..]).to_owned())
}

/// A^{-1} by Gauss–Jordan elimination with partial pivoting.
pub fn inverse(a: &Array2<f64>) -> Result<Array2<f64>, TheoryError> {
    solve(a, &identity(a.nrows()))
}

/// Block-diagonal matrix diag(B_1, …, B_m).
pub fn block_diag(blocks: &[Array2<f64>]) -> Array2<f64> {
    let rows: usize = blocks.iter().map(|b| b.nrows()).sum();
    let cols: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut out = Array2::zeros((rows, cols));
    let (mut r, mut c) = (0, 0);
    for b in blocks {
        out.slice_mut(s![r..r + b.nrows(), c..c + b.ncols()]).assign(b);
        r += b.nrows();
        c += b.ncols();
    }
    out
}

/// Stack matrices vertically (all must have the same number of columns).
pub fn vstack(blocks: &[Array2<f64>]) -> Result<Array2<f64>, TheoryError> {
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    ndarray::concatenate(Axis(0), &views).map_err(|e| TheoryError::Shape(format!("vstack: {e}")))
}

/// Stack matrices horizontally (all must have the same number of rows).
pub fn hstack(blocks: &[Array2<f64>]) -> Result<Array2<f64>, TheoryError> {
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    ndarray::concatenate(Axis(1), &views).map_err(|e| TheoryError::Shape(format!("hstack: {e}")))
}

/// Is `t` a positive multiple d·`r` (d > 0) of `r`? Returns d.
///
/// d is the least-squares factor (t·r)/(r·r); the test is ‖t − d r‖_∞ ≤ tol · max(1, ‖t‖_∞) and
/// d > tol. Two zero rows count as multiples with d = 1 (a degenerate neuron); a zero row is no
/// positive multiple of a non-zero row and vice versa.
pub fn positive_multiple(t: ArrayView1<f64>, r: ArrayView1<f64>, tol: f64) -> Option<f64> {
    let t_inf = t.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let r_inf = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let t_zero = t_inf <= tol;
    let r_zero = r_inf <= tol;
    match (t_zero, r_zero) {
        (true, true) => return Some(1.0),
        (true, false) | (false, true) => return None,
        _ => {}
    }
    let d = t.dot(&r) / r.dot(&r);
    if d <= tol {
        return None;
    }
    let resid = t.iter().zip(r.iter()).fold(0.0f64, |m, (&a, &b)| m.max((a - d * b).abs()));
    (resid <= tol * t_inf.max(1.0)).then_some(d)
}

/// Matrix → nested rows (for serialisation and printing).
pub fn to_rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Nested rows → matrix.
pub fn from_rows(rows: &[Vec<f64>]) -> Result<Array2<f64>, TheoryError> {
    let n = rows.len();
    let m = rows.first().map_or(0, |r| r.len());
    if rows.iter().any(|r| r.len() != m) {
        return Err(TheoryError::Shape("from_rows: ragged rows".into()));
    }
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Array2::from_shape_vec((n, m), flat).map_err(|e| TheoryError::Shape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;

    #[test]
    fn inverse_times_matrix_is_identity_for_random_matrices() {
        let mut rng = sample::rng(11);
        for n in 1..8 {
            for _ in 0..20 {
                let a = sample::normal_matrix(&mut rng, n, n);
                let inv = inverse(&a).unwrap();
                assert!(max_abs_diff(&a.dot(&inv), &identity(n)) < 1e-8);
                assert!(max_abs_diff(&inv.dot(&a), &identity(n)) < 1e-8);
            }
        }
    }

    #[test]
    fn singular_matrix_is_rejected() {
        let a = from_rows(&[vec![1.0, 2.0], vec![2.0, 4.0]]).unwrap();
        assert!(matches!(inverse(&a), Err(TheoryError::Singular { .. })));
    }

    #[test]
    fn permutation_matrix_moves_rows_as_documented() {
        let p = permutation_matrix(&[2, 0, 1]);
        let w = from_rows(&[vec![1.0], vec![2.0], vec![3.0]]).unwrap();
        assert_eq!(p.dot(&w).column(0).to_vec(), vec![3.0, 1.0, 2.0]);
    }

    #[test]
    fn positive_multiple_accepts_only_positive_factors() {
        let r = Array1::from(vec![1.0, -2.0, 0.5]);
        assert!((positive_multiple((&r * 3.0).view(), r.view(), 1e-9).unwrap() - 3.0).abs() < 1e-12);
        assert!(positive_multiple((&r * -3.0).view(), r.view(), 1e-9).is_none());
        let z = Array1::zeros(3);
        assert_eq!(positive_multiple(z.view(), z.view(), 1e-9), Some(1.0));
        assert!(positive_multiple(z.view(), r.view(), 1e-9).is_none());
        let other = Array1::from(vec![1.0, -2.0, 0.6]);
        assert!(positive_multiple(other.view(), r.view(), 1e-9).is_none());
    }
}
