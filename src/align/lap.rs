//! Linear assignment: the permutation maximising Σ_i score[i, p(i)].
//!
//! Solved exactly by the `lsap` crate (a port of SciPy's `linear_sum_assignment`, shortest
//! augmenting paths). Non-finite scores are sanitised first: NaN and −∞ become less than every
//! finite score, +∞ more than every finite score, so a single bad correlation cannot poison the
//! assignment.

use ndarray::Array2;

use super::Perm;

/// Rows ↔ columns assignment maximising the total score: `p(i)` is the column given to row `i`.
///
/// `score` must be square.
pub fn assign_max(score: &Array2<f64>) -> Perm {
    let (n, m) = score.dim();
    assert_eq!(n, m, "assignment needs a square score matrix, got {n}×{m}");
    if n == 0 {
        return Perm::identity(0);
    }
    let finite: Vec<f64> = score.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if finite.is_empty() { (0.0, 0.0) } else { (lo, hi) };
    let span = (hi - lo).abs().max(1.0);
    let cost: Vec<f64> = score
        .iter()
        .map(|&v| match v {
            v if v.is_finite() => v,
            v if v == f64::INFINITY => hi + span,
            _ => lo - span,
        })
        .collect();
    let (rows, cols) = lsap::solve(n, n, &cost, true).expect("a finite square assignment problem is always feasible");
    let mut map = vec![0; n];
    for (r, c) in rows.into_iter().zip(cols) {
        map[r] = c;
    }
    Perm::new(map).expect("lsap returns a perfect matching")
}

/// Total score of an assignment.
pub fn assignment_score(score: &Array2<f64>, p: &Perm) -> f64 {
    (0..p.len()).map(|i| score[[i, p.get(i)]]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn all_perms(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in all_perms(n - 1) {
            for pos in 0..=p.len() {
                let mut q = p.clone();
                q.insert(pos, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn assignment_matches_brute_force_up_to_seven() {
        let mut rng = StdRng::seed_from_u64(3);
        for n in 1..=7 {
            let perms = all_perms(n);
            for _ in 0..6 {
                let s = Array2::from_shape_fn((n, n), |_| rng.random_range(-1.0..1.0));
                let best = perms.iter().map(|p| (0..n).map(|i| s[[i, p[i]]]).sum::<f64>()).fold(f64::NEG_INFINITY, f64::max);
                let got = assignment_score(&s, &assign_max(&s));
                assert!((got - best).abs() < 1e-9, "n={n}: got {got}, brute force {best}");
            }
        }
    }

    #[test]
    fn non_finite_scores_are_sanitised() {
        let s = ndarray::array![[f64::NAN, 1.0], [2.0, f64::NEG_INFINITY]];
        assert_eq!(assign_max(&s).as_slice(), &[1, 0]);
        let s = ndarray::array![[f64::INFINITY, 5.0], [5.0, 0.0]];
        assert_eq!(assign_max(&s).as_slice(), &[0, 1]);
    }
}
