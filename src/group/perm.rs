//! Permutations as data.
//!
//! Convention: a permutation `p` of `0..n` acts on a vector by **gathering**,
//! `(P v)_i = v_{p(i)}`: new channel `i` is old channel `p(i)`. As a matrix, `P_{i, p(i)} = 1`.
//! So permuting the output channels of a layer with weight `W` (rows = output channels) gives
//! `P W`, and the next layer must see `W' P^T`, which gathers its input axis with the same `p`.

use serde::{Deserialize, Serialize};

/// A permutation of `0..n`, stored as the image of each index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Perm(Vec<usize>);

/// Cycle structure of a permutation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    /// Fixed points (for a flip alignment: self-symmetric channels).
    pub fixed: usize,
    /// 2-cycles (mirror pairs of channels).
    pub two_cycles: usize,
    /// Cycles of length ≥ 3 (the permutation is not an involution).
    pub longer: usize,
    /// Elements in cycles of length ≥ 3.
    pub in_longer: usize,
}

/// A vector that is not a permutation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a permutation of 0..{n}: {reason}")]
pub struct NotAPermutation {
    /// Length.
    pub n: usize,
    /// What is wrong.
    pub reason: String,
}

impl Perm {
    /// The identity on `0..n`.
    pub fn identity(n: usize) -> Self {
        Perm((0..n).collect())
    }

    /// Check and wrap `map` (`map[i]` = old index placed at new index `i`).
    pub fn new(map: Vec<usize>) -> Result<Self, NotAPermutation> {
        let n = map.len();
        let mut seen = vec![false; n];
        for &j in &map {
            if j >= n {
                return Err(NotAPermutation { n, reason: format!("entry {j} out of range") });
            }
            if std::mem::replace(&mut seen[j], true) {
                return Err(NotAPermutation { n, reason: format!("entry {j} repeated") });
            }
        }
        Ok(Perm(map))
    }

    /// A uniformly random permutation.
    pub fn random(n: usize, rng: &mut impl rand::Rng) -> Self {
        use rand::seq::SliceRandom;
        let mut v: Vec<usize> = (0..n).collect();
        v.shuffle(rng);
        Perm(v)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it permutes nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The map as a slice: `self[i]` is the old index that lands at `i`.
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }

    /// `p(i)`.
    pub fn get(&self, i: usize) -> usize {
        self.0[i]
    }

    /// Gather: `out[i] = v[p(i)]`.
    pub fn apply<T: Clone>(&self, v: &[T]) -> Vec<T> {
        assert_eq!(v.len(), self.len(), "permutation of {} applied to {} values", self.len(), v.len());
        self.0.iter().map(|&j| v[j].clone()).collect()
    }

    /// The composition "first `other`, then `self`": `self.compose(other).apply(v) = self.apply(&other.apply(v))`,
    /// i.e. the matrix product `P_self · P_other`.
    pub fn compose(&self, other: &Perm) -> Perm {
        assert_eq!(self.len(), other.len());
        Perm(self.0.iter().map(|&i| other.0[i]).collect())
    }

    /// The inverse (`P^T`).
    pub fn inverse(&self) -> Perm {
        let mut inv = vec![0; self.len()];
        for (i, &j) in self.0.iter().enumerate() {
            inv[j] = i;
        }
        Perm(inv)
    }

    /// Whether it is the identity.
    pub fn is_identity(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &j)| i == j)
    }

    /// Whether `p ∘ p` is the identity.
    pub fn is_involution(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &j)| self.0[j] == i)
    }

    /// The cycles, each starting at its smallest element, ordered by that element.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut seen = vec![false; self.len()];
        let mut out = Vec::new();
        for start in 0..self.len() {
            if seen[start] {
                continue;
            }
            let mut cycle = vec![start];
            seen[start] = true;
            let mut j = self.0[start];
            while j != start {
                seen[j] = true;
                cycle.push(j);
                j = self.0[j];
            }
            out.push(cycle);
        }
        out
    }

    /// Fixed points, 2-cycles and longer cycles.
    pub fn cycle_counts(&self) -> CycleCounts {
        self.cycle_counts_within(&vec![true; self.len()])
    }

    /// [`Perm::cycle_counts`] over the cycles made only of indices `i` with `include[i]` (e.g.
    /// the live channels of a layer); cycles touching an excluded index are not counted.
    pub fn cycle_counts_within(&self, include: &[bool]) -> CycleCounts {
        let mut c = CycleCounts::default();
        for cycle in self.cycles().into_iter().filter(|cy| cy.iter().all(|&i| include[i])) {
            match cycle.len() {
                1 => c.fixed += 1,
                2 => c.two_cycles += 1,
                k => {
                    c.longer += 1;
                    c.in_longer += k;
                }
            }
        }
        c
    }

    /// Number of indices moved.
    pub fn moved(&self) -> usize {
        self.0.iter().enumerate().filter(|(i, j)| i != *j).count()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn cycle_counts_within_skip_cycles_touching_excluded_indices() {
        let p = Perm::new(vec![1, 0, 3, 4, 2, 5]).unwrap();
        assert_eq!(p.cycle_counts(), CycleCounts { fixed: 1, two_cycles: 1, longer: 1, in_longer: 3 });
        let live = [true, true, true, false, true, true];
        assert_eq!(p.cycle_counts_within(&live), CycleCounts { fixed: 1, two_cycles: 1, longer: 0, in_longer: 0 });
        assert_eq!(p.cycle_counts_within(&[false; 6]), CycleCounts::default());
    }

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn compose_inverse_and_apply_agree_on_random_permutations() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in [1, 2, 5, 17] {
            let v: Vec<usize> = (100..100 + n).collect();
            for _ in 0..20 {
                let (p, q) = (Perm::random(n, &mut rng), Perm::random(n, &mut rng));
                assert_eq!(p.compose(&q).apply(&v), p.apply(&q.apply(&v)));
                assert!(p.compose(&p.inverse()).is_identity());
                assert!(p.inverse().compose(&p).is_identity());
                assert_eq!(p.inverse().inverse(), p);
                let counts = p.cycle_counts();
                assert_eq!(counts.fixed + 2 * counts.two_cycles + counts.in_longer, n);
                assert_eq!(p.is_involution(), counts.longer == 0);
                assert_eq!(p.compose(&p).is_identity(), p.is_involution());
            }
        }
    }

    #[test]
    fn cycle_structure_counts_fixed_points_pairs_and_longer_cycles() {
        let p = Perm::new(vec![0, 2, 1, 4, 5, 3]).unwrap();
        assert_eq!(p.cycles(), vec![vec![0], vec![1, 2], vec![3, 4, 5]]);
        assert_eq!(p.cycle_counts(), CycleCounts { fixed: 1, two_cycles: 1, longer: 1, in_longer: 3 });
        assert!(!p.is_involution());
        assert!(Perm::new(vec![1, 0, 2]).unwrap().is_involution());
    }

    #[test]
    fn invalid_maps_are_rejected() {
        assert!(Perm::new(vec![0, 0]).is_err());
        assert!(Perm::new(vec![0, 2]).is_err());
        assert!(Perm::new(vec![]).is_ok());
    }
}
