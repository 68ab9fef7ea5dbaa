//! **Deciding layerwise equivariance** of a given ReLU network.
//!
//! f is layerwise equivariant if there are representations ρ_1 … ρ_{L−1} of G on the hidden
//! spaces with, for every generator s and layer j,
//!
//! (i) W_j ρ_{j−1}(s) = ρ_j(s) W_j,  (ii) ρ_j(s) b_j = b_j,  (iii) σ(ρ_j(s) z) = ρ_j(s) σ(z),
//!
//! where ρ_0 = ρ_in and ρ_L = ρ_out are given. By (iii) and the Lemma
//! ([`relu_commute`](super::relu_commute)), the invertible ρ_j(s) is a positive scaled permutation
//! P·D, and (i)+(ii) say: **row i of `[W_j ρ_{j−1}(s) | b_j]` equals d_i > 0 times row π(i) of
//! `[W_j | b_j]`**, where `ρ_j(s)[i, π(i)]` = d_i. [`decide_layerwise`] therefore, for each generator:
//!
//! 1. starts from ρ_0(s) = ρ_in(s);
//! 2. at hidden layer j matches every row of `[W_j ρ_{j−1}(s) | b_j]` to the rows of `[W_j | b_j]` that
//!    it is a positive multiple of (within `tol`), and requires the match to be a bijection;
//!    at the last hidden layer it also uses the output condition column by column:
//!    (W_L ρ_{L−1}(s))`[:, π(i)]` = d_i `W_L[:, i]` must equal ρ_out(s) `W_L[:, π(i)]`;
//! 3. the bijection with its factors d_i is ρ_j(s) = P·D, which becomes ρ_{j−1}(s) of the next
//!    layer;
//! 4. at the last layer checks W_L ρ_{L−1}(s) = ρ_out(s) W_L and ρ_out(s) b_L = b_L.
//!
//! If every step succeeds, f is layerwise equivariant, hence equivariant. Finally the **group law**
//! is checked: the hidden matrices of the generators must define representations of G, i.e.
//! satisfy every relation of G. With the BFS words w_e of the elements e of G (from
//! [`FiniteGroup`]), ρ_j(w_e)·ρ_j(s) = ρ_j(w_{e·s}) must hold for all e and s (these Schreier
//! relations generate all relations of G).
//!
//! **What the search decides.** If no hidden `[W_j | b_j]` has a zero row or two rows that are
//! positive multiples of each other (no *duplicate*/*parallel* and no *degenerate* neurons), every
//! P_j(s) is forced, the matching is unique and the verdict is exact for the given parameters
//! (the group law then holds automatically: a relation word acts as a scaled permutation fixing all
//! rows of `[W_j | b_j]`, hence as the identity). With duplicate neurons the row matching is
//! ambiguous: the search backtracks over all matchings of each generator (pruned by forward
//! checking against the next layer's entry equations `W_{j+1}[i', i]`·d_i = `d'·W_{j+1}[k', π(i)]`,
//! and stopped at `max_search_nodes`), but the generators are searched independently, so a
//! group-law failure is then not conclusive ([`NotLayerwise::ambiguous`] says when a choice was
//! made). And a "no" is a
//! statement about the *parameters*: with degenerate neurons (zero, dead or with zero outgoing
//! weight) the same function may have another, layerwise-equivariant parametrisation, and in
//! general one may exist only with more neurons (see [`symmetrise`](super::positive::symmetrise)).
//!
//! [`normalise_scales`] rescales neurons (a function-preserving symmetry of ReLU networks:
//! W_j ↦ C_j W_j C_{j−1}^{-1}, b_j ↦ C_j b_j, C_j positive diagonal) so that the hidden
//! representations become plain permutation representations, as the paper states.
//!
//! Layers are numbered 1…L as in the paper; rows and generators from 0.

use ndarray::{Array1, Array2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::TheoryError;
use super::group::{DEFAULT_GROUP_CAP, FiniteGroup, GroupAction};
use super::linalg::{self, max_abs, positive_multiple};
use super::mlp::{Layer, Mlp};
use super::relu_commute::ScaledPermutation;

/// Tolerances and limits of [`decide_layerwise`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerwiseOptions {
    /// Relative tolerance for "is a positive multiple" and for matrix equalities.
    pub tol: f64,
    /// Cap on backtracking steps in the row matching (only reached with many duplicate neurons).
    pub max_search_nodes: usize,
    /// Cap on the group order when closing G.
    pub group_cap: usize,
}

impl Default for LayerwiseOptions {
    fn default() -> Self {
        Self { tol: 1e-8, max_search_nodes: 100_000, group_cap: DEFAULT_GROUP_CAP }
    }
}

/// The network is layerwise equivariant with these hidden representations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerwiseEquivariant {
    /// `hidden[j][s]` = ρ_{j+1}(generator s) = P·D (so `hidden[0]` is layer 1).
    pub hidden: Vec<Vec<ScaledPermutation>>,
    /// Order of G.
    pub group_order: usize,
    /// Whether some row had several candidate rows (duplicate neurons): the representations found
    /// are then one valid choice among several.
    pub ambiguous: bool,
}

impl LayerwiseEquivariant {
    /// Are all hidden representations plain permutations (D = I)?
    pub fn all_plain(&self, tol: f64) -> bool {
        self.hidden.iter().flatten().all(|p| p.is_plain(tol))
    }
}

/// Why a step of the decision failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NotLayerwiseReason {
    /// Row `row` of `[W_j ρ_{j−1}(s) | b_j]` is no positive multiple of any row of `[W_j | b_j]`.
    NoPositiveMultiple {
        /// The offending transformed row.
        transformed_row: Vec<f64>,
    },
    /// Every row that row `row` could map to is already taken by another row: no bijection.
    NotABijection {
        /// The (first) contested row of `[W_j | b_j]`.
        target: usize,
    },
    /// Last hidden layer: row `row` has positive multiples, but for none of them is the outgoing
    /// condition d·`W_L[:, row]` = ρ_out(s) `W_L[:, k]` satisfied.
    OutgoingMismatch {
        /// Candidate rows k that matched the incoming weights.
        candidates: Vec<usize>,
    },
    /// W_L ρ_{L−1}(s) ≠ ρ_out(s) W_L (row `row` is the worst).
    FinalWeights {
        /// max over the row of |W_L ρ_{L−1}(s) − ρ_out(s) W_L|.
        violation: f64,
    },
    /// ρ_out(s) b_L ≠ b_L (entry `row` is the worst).
    FinalBias {
        /// |ρ_out(s) b_L − b_L| at that entry.
        violation: f64,
    },
    /// The hidden generator matrices violate a relation of G:
    /// ρ_j(w)·ρ_j(s) ≠ ρ_j(w s) for the word w (row `row` differs).
    GroupLaw {
        /// The word w (generator indices) of the group element.
        element_word: Vec<usize>,
    },
    /// The backtracking search was stopped at `max_search_nodes`.
    SearchLimit,
}

/// Where and why the network is not layerwise equivariant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotLayerwise {
    /// Layer j (1-based; j = L means the output layer).
    pub layer: usize,
    /// Generator index s.
    pub generator: usize,
    /// Row (neuron) index in that layer: the witness.
    pub row: usize,
    /// What failed.
    pub reason: NotLayerwiseReason,
    /// Whether a matching choice had to be made before the failure (duplicate neurons): then the
    /// "no" may depend on that choice only in the `GroupLaw` case; see the module docs.
    pub ambiguous: bool,
}

/// Verdict of [`decide_layerwise`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerwiseVerdict {
    /// Hidden positive scaled permutation representations were found.
    LayerwiseEquivariant(LayerwiseEquivariant),
    /// The decision failed at a definite layer, generator and row.
    NotLayerwise(NotLayerwise),
}

impl LayerwiseVerdict {
    /// True for the layerwise-equivariant verdict.
    pub fn is_layerwise(&self) -> bool {
        matches!(self, Self::LayerwiseEquivariant(_))
    }
    /// The hidden representations, if layerwise.
    pub fn layerwise(&self) -> Option<&LayerwiseEquivariant> {
        match self {
            Self::LayerwiseEquivariant(l) => Some(l),
            Self::NotLayerwise(_) => None,
        }
    }
    /// The failure, if not layerwise.
    pub fn failure(&self) -> Option<&NotLayerwise> {
        match self {
            Self::LayerwiseEquivariant(_) => None,
            Self::NotLayerwise(n) => Some(n),
        }
    }
}

/// (layer, row, reason) of a failed step.
type Failure = (usize, usize, NotLayerwiseReason);

/// Depth-first search for ρ_1(s), …, ρ_{L−1}(s) for one generator s.
struct GeneratorSearch<'a> {
    f: &'a Mlp,
    rho_out: &'a Array2<f64>,
    tol: f64,
    nodes: usize,
    max_nodes: usize,
    aborted: bool,
    ambiguous: bool,
    first_failure: Option<Failure>,
}

impl GeneratorSearch<'_> {
    fn fail(&mut self, layer: usize, row: usize, reason: NotLayerwiseReason) {
        if self.first_failure.is_none() {
            self.first_failure = Some((layer, row, reason));
        }
    }

    /// Layer index `j` is 0-based here (layer j+1 of the paper); `prev` = ρ_j(s) on its input.
    fn extend(&mut self, j: usize, prev: &Array2<f64>, chain: &mut Vec<ScaledPermutation>) -> bool {
        let depth = self.f.depth();
        let layer = &self.f.layers[j];
        if j + 1 == depth {
            return self.final_layer(j, prev);
        }
        // Step 2: rows of [W_j ρ_{j−1}(s) | b_j] against rows of [W_j | b_j].
        let target = layer.augmented();
        let transformed = Layer { w: layer.w.dot(prev), b: layer.b.clone() }.augmented();
        let n = target.nrows();
        let mut cands: Vec<Vec<(usize, f64)>> =
            (0..n).map(|i| (0..n).filter_map(|k| positive_multiple(transformed.row(i), target.row(k), self.tol).map(|d| (k, d))).collect()).collect();
        if let Some(i) = cands.iter().position(Vec::is_empty) {
            let transformed_row = transformed.row(i).to_vec();
            self.fail(j + 1, i, NotLayerwiseReason::NoPositiveMultiple { transformed_row });
            return false;
        }
        if j + 2 == depth {
            // Output condition, column by column: d_i W_L[:, i] = ρ_out(s) W_L[:, k].
            let wl = &self.f.layers[depth - 1].w;
            let image = self.rho_out.dot(wl);
            let scale = max_abs(wl).max(1.0);
            for (i, c) in cands.iter_mut().enumerate() {
                let before: Vec<usize> = c.iter().map(|&(k, _)| k).collect();
                c.retain(|&(k, d)| {
                    let diff = (&wl.column(i) * d - image.column(k)).mapv(f64::abs);
                    diff.iter().all(|&v| v <= self.tol * scale)
                });
                if c.is_empty() {
                    self.fail(j + 1, i, NotLayerwiseReason::OutgoingMismatch { candidates: before });
                    return false;
                }
            }
        }
        if cands.iter().any(|c| c.len() > 1) {
            self.ambiguous = true;
        }
        // With a choice to make and a hidden layer next, prune choices early (forward checking).
        let fc = (self.ambiguous_here(&cands) && j + 2 < depth).then(|| {
            let dmax = cands.iter().flatten().map(|&(_, d)| d).fold(1.0, f64::max);
            ForwardCheck::new(&self.f.layers[j + 1], self.tol, dmax)
        });
        let mut state = Matching { perm: vec![0; n], d: vec![0.0; n], used: vec![false; n], fc };
        self.match_rows(j, 0, &cands, &mut state, chain)
    }

    fn ambiguous_here(&self, cands: &[Vec<(usize, f64)>]) -> bool {
        cands.iter().any(|c| c.len() > 1)
    }

    /// Backtracking over bijections rows → candidate rows; each complete one is tried downstream.
    fn match_rows(&mut self, j: usize, i: usize, cands: &[Vec<(usize, f64)>], m: &mut Matching, chain: &mut Vec<ScaledPermutation>) -> bool {
        let n = cands.len();
        if i == n {
            // Step 3: ρ_j(s)[r, π(r)] = d_r, i.e. P·D with D_{π(r)} = d_r.
            let mut scales = vec![0.0; n];
            for r in 0..n {
                scales[m.perm[r]] = m.d[r];
            }
            let rho = ScaledPermutation { perm: m.perm.clone(), scales };
            let rho_m = rho.to_matrix();
            chain.push(rho);
            if self.extend(j + 1, &rho_m, chain) {
                return true;
            }
            chain.pop();
            return false;
        }
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            self.aborted = true;
            self.fail(j + 1, i, NotLayerwiseReason::SearchLimit);
            return false;
        }
        let mut any_free = false;
        for &(k, d) in &cands[i] {
            if m.used[k] {
                continue;
            }
            any_free = true;
            let log = match m.fc.as_mut() {
                Some(fc) => match fc.assign(i, k, d) {
                    Some(log) => Some(log),
                    None => continue, // some row of the next layer would have no target left
                },
                None => None,
            };
            m.used[k] = true;
            m.perm[i] = k;
            m.d[i] = d;
            if self.match_rows(j, i + 1, cands, m, chain) {
                return true;
            }
            m.used[k] = false;
            if let (Some(fc), Some(log)) = (m.fc.as_mut(), log) {
                fc.undo(log);
            }
            if self.aborted {
                return false;
            }
        }
        if !any_free {
            self.fail(j + 1, i, NotLayerwiseReason::NotABijection { target: cands[i][0].0 });
        }
        false
    }

    /// Step 4: W_L ρ_{L−1}(s) = ρ_out(s) W_L and ρ_out(s) b_L = b_L.
    fn final_layer(&mut self, j: usize, prev: &Array2<f64>) -> bool {
        let layer = &self.f.layers[j];
        let diff = layer.w.dot(prev) - self.rho_out.dot(&layer.w);
        let scale = max_abs(&layer.w).max(1.0);
        let (row, violation) = worst_row(&diff);
        if violation > self.tol * scale {
            self.fail(j + 1, row, NotLayerwiseReason::FinalWeights { violation });
            return false;
        }
        let bdiff = self.rho_out.dot(&layer.b) - &layer.b;
        let (row, violation) = worst_entry(&bdiff);
        if violation > self.tol * layer.b.iter().fold(1.0f64, |m, v| m.max(v.abs())) {
            self.fail(j + 1, row, NotLayerwiseReason::FinalBias { violation });
            return false;
        }
        true
    }
}

struct Matching {
    perm: Vec<usize>,
    d: Vec<f64>,
    used: Vec<bool>,
    fc: Option<ForwardCheck>,
}

/// State of a pair (row i' of the next layer ↦ row k'): impossible, or possible with the common
/// factor d' (once determined).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pair {
    Impossible,
    Possible(Option<f64>),
}

/// Forward checking for the row matching at layer j, using layer j+1.
///
/// Assigning `ρ_j(s)[i, k]` = d implies, for the next layer's condition
/// row i' of W_{j+1}ρ_j(s) = d' · row k' of W_{j+1}, the entry equation
/// `W_{j+1}[i', i]` · d = d' · `W_{j+1}[k', k]` (and `b_{j+1}[i']` = d' `b_{j+1}[k']`). Each pair (i', k')
/// keeps its factor d' once determined; a partial assignment is abandoned as soon as some row i'
/// has no possible k' left. The test is deliberately looser than the exact check that follows
/// (relative 1e-6), so it only prunes choices that cannot succeed.
struct ForwardCheck {
    w: Array2<f64>,
    scale: Vec<f64>,
    tol: f64,
    dmax: f64,
    state: Vec<Vec<Pair>>,
    alive: Vec<usize>,
}

impl ForwardCheck {
    const LOOSE: f64 = 1e-6;

    fn new(next: &Layer, tol: f64, dmax: f64) -> Self {
        let aug = next.augmented();
        let scale: Vec<f64> = aug.rows().into_iter().map(|r| r.iter().fold(1.0f64, |m, v| m.max(v.abs()))).collect();
        let n = next.out_dim();
        let mut fc = Self { w: next.w.clone(), scale, tol, dmax, state: vec![vec![Pair::Possible(None); n]; n], alive: vec![n; n] };
        for i in 0..n {
            for k in 0..n {
                let st = fc.combine(Pair::Possible(None), next.b[i], next.b[k], i, k, 1.0);
                if st == Pair::Impossible {
                    fc.alive[i] -= 1;
                }
                fc.state[i][k] = st;
            }
        }
        fc
    }

    /// New state of pair (i', k') given the entry equation lhs = d' · rhs.
    fn combine(&self, st: Pair, lhs: f64, rhs: f64, i: usize, k: usize, d: f64) -> Pair {
        let Pair::Possible(s) = st else { return st };
        let (si, sk) = (self.scale[i] * d.max(1.0) * self.dmax, self.scale[k]);
        match s {
            Some(s) => {
                let bound = Self::LOOSE * si.max(s * sk);
                if (lhs - s * rhs).abs() > bound { Pair::Impossible } else { st }
            }
            None => {
                let (lz, rz) = (lhs.abs() <= 10.0 * self.tol * si, rhs.abs() <= 10.0 * self.tol * sk);
                let (lbig, rbig) = (lhs.abs() >= Self::LOOSE * si, rhs.abs() >= Self::LOOSE * sk);
                match (lz, rz) {
                    (true, true) => st,
                    (true, false) => {
                        if rbig {
                            Pair::Impossible
                        } else {
                            st
                        }
                    }
                    (false, true) => {
                        if lbig {
                            Pair::Impossible
                        } else {
                            st
                        }
                    }
                    (false, false) => {
                        let r = lhs / rhs;
                        if r <= 0.0 {
                            Pair::Impossible
                        } else if lbig && rbig {
                            Pair::Possible(Some(r))
                        } else {
                            st
                        }
                    }
                }
            }
        }
    }

    /// Apply `ρ_j[i, k]` = d; returns the undo log, or `None` (nothing changed) if some row of the
    /// next layer is left without a possible target.
    fn assign(&mut self, i: usize, k: usize, d: f64) -> Option<Vec<(usize, usize, Pair)>> {
        let n = self.state.len();
        let mut log = Vec::new();
        let mut dead_row = false;
        for ip in 0..n {
            for kp in 0..n {
                let old = self.state[ip][kp];
                let new = self.combine(old, self.w[(ip, i)] * d, self.w[(kp, k)], ip, kp, d);
                if new != old {
                    log.push((ip, kp, old));
                    self.state[ip][kp] = new;
                    if new == Pair::Impossible {
                        self.alive[ip] -= 1;
                        dead_row |= self.alive[ip] == 0;
                    }
                }
            }
        }
        if dead_row {
            self.undo(log);
            return None;
        }
        Some(log)
    }

    fn undo(&mut self, log: Vec<(usize, usize, Pair)>) {
        for (ip, kp, old) in log.into_iter().rev() {
            if self.state[ip][kp] == Pair::Impossible && old != Pair::Impossible {
                self.alive[ip] += 1;
            }
            self.state[ip][kp] = old;
        }
    }
}

fn worst_row(a: &Array2<f64>) -> (usize, f64) {
    a.rows().into_iter().map(|r| r.iter().fold(0.0f64, |m, v| m.max(v.abs()))).enumerate().fold((0, 0.0), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}

fn worst_entry(v: &Array1<f64>) -> (usize, f64) {
    v.iter().map(|x| x.abs()).enumerate().fold((0, 0.0), |b, (i, x)| if x > b.1 { (i, x) } else { b })
}

/// Decide whether `f` is layerwise equivariant for `action` (see the module docs).
pub fn decide_layerwise(f: &Mlp, action: &GroupAction, opts: &LayerwiseOptions) -> Result<LayerwiseVerdict, TheoryError> {
    super::equivariance::check_dims(f, action)?;
    let k = action.num_generators();
    let mut per_layer: Vec<Vec<ScaledPermutation>> = vec![Vec::with_capacity(k); f.depth() - 1];
    let mut ambiguous = false;
    for s in 0..k {
        let mut search = GeneratorSearch {
            f,
            rho_out: &action.output.generators[s],
            tol: opts.tol,
            nodes: 0,
            max_nodes: opts.max_search_nodes,
            aborted: false,
            ambiguous: false,
            first_failure: None,
        };
        let mut chain = Vec::with_capacity(f.depth() - 1);
        let ok = search.extend(0, &action.input.generators[s], &mut chain);
        ambiguous |= search.ambiguous;
        if !ok {
            let (layer, row, reason) = search.first_failure.expect("a failed search records its first failure");
            return Ok(LayerwiseVerdict::NotLayerwise(NotLayerwise { layer, generator: s, row, reason, ambiguous }));
        }
        for (j, rho) in chain.into_iter().enumerate() {
            per_layer[j].push(rho);
        }
    }
    let group = action.group(opts.tol, opts.group_cap)?;
    if let Some(mut failure) = check_hidden_group_law(&group, &per_layer, opts.tol) {
        failure.ambiguous = ambiguous;
        return Ok(LayerwiseVerdict::NotLayerwise(failure));
    }
    Ok(LayerwiseVerdict::LayerwiseEquivariant(LayerwiseEquivariant { hidden: per_layer, group_order: group.order(), ambiguous }))
}

/// Group law on the hidden side: with ρ_j(e) := product of the generator matrices along the BFS
/// word of e, check ρ_j(e)·ρ_j(s) = ρ_j(e·s) for every element e and generator s of G. Returns the
/// first violation (layer 1-based, generator s, first differing row, word of e).
pub fn check_hidden_group_law(group: &FiniteGroup, hidden: &[Vec<ScaledPermutation>], tol: f64) -> Option<NotLayerwise> {
    for (j, gens) in hidden.iter().enumerate() {
        let mats: Vec<Array2<f64>> = gens.iter().map(ScaledPermutation::to_matrix).collect();
        let n = mats[0].nrows();
        let of_element: Vec<Array2<f64>> = group.words.iter().map(|w| w.iter().fold(linalg::identity(n), |m, &s| m.dot(&mats[s]))).collect();
        for e in 0..group.order() {
            for (s, m_s) in mats.iter().enumerate() {
                let lhs = of_element[e].dot(m_s);
                let rhs = &of_element[group.right[e][s]];
                let diff = &lhs - rhs;
                let (row, v) = worst_row(&diff);
                if v > tol * max_abs(rhs).max(1.0) {
                    return Some(NotLayerwise {
                        layer: j + 1,
                        generator: s,
                        row,
                        reason: NotLayerwiseReason::GroupLaw { element_word: group.words[e].clone() },
                        ambiguous: false,
                    });
                }
            }
        }
    }
    None
}

/// Rescale hidden neurons so that every hidden representation becomes a plain permutation.
///
/// For hidden layer j choose c_i > 0 with c_{π_s(i)} = c_i · d_i for every generator s (where
/// `ρ_j(s)[i, π_s(i)]` = d_i), propagating along the orbits of the neurons from c = 1 at one
/// neuron per orbit; then C ρ_j(s) C^{-1} has entries c_i d_i / c_{π_s(i)} = 1. This is
/// consistent because ρ_j is a representation of a *finite* group (a positive scale returned to
/// itself along a relation has finite order, hence is 1); an inconsistency is reported as
/// [`TheoryError::Normalisation`]. The network changes by W_j ↦ C_j W_j C_{j−1}^{-1},
/// b_j ↦ C_j b_j, which computes the same function because σ(C z) = C σ(z) for positive diagonal C.
pub fn normalise_scales(f: &Mlp, lw: &LayerwiseEquivariant, tol: f64) -> Result<(Mlp, LayerwiseEquivariant), TheoryError> {
    if lw.hidden.len() + 1 != f.depth() {
        return Err(TheoryError::Shape("hidden representations do not match the network".into()));
    }
    let mut cs: Vec<Array1<f64>> = Vec::with_capacity(lw.hidden.len());
    let mut hidden = Vec::with_capacity(lw.hidden.len());
    for (j, gens) in lw.hidden.iter().enumerate() {
        let n = f.layers[j].out_dim();
        let mut c: Vec<Option<f64>> = vec![None; n];
        for root in 0..n {
            if c[root].is_some() {
                continue;
            }
            c[root] = Some(1.0);
            let mut stack = vec![root];
            while let Some(i) = stack.pop() {
                let ci = c[i].expect("assigned before pushing");
                for p in gens {
                    // forward edge i → π(i): c_{π(i)} = c_i d_i
                    let fwd = p.perm[i];
                    if c[fwd].is_none() {
                        c[fwd] = Some(ci * p.row_scale(i));
                        stack.push(fwd);
                    }
                    // backward edge π^{-1}(i) → i: c_{π^{-1}(i)} = c_i / d_{π^{-1}(i)}
                    let back = p.perm.iter().position(|&t| t == i).expect("bijection");
                    if c[back].is_none() {
                        c[back] = Some(ci / p.row_scale(back));
                        stack.push(back);
                    }
                }
            }
        }
        let c: Array1<f64> = c.into_iter().map(|v| v.expect("every neuron reached")).collect();
        let mut plain = Vec::with_capacity(gens.len());
        for (s, p) in gens.iter().enumerate() {
            for i in 0..n {
                let entry = c[i] * p.row_scale(i) / c[p.perm[i]];
                if (entry - 1.0).abs() > tol {
                    return Err(TheoryError::Normalisation(format!("layer {}, generator {s}, neuron {i}: rescaled entry {entry}", j + 1)));
                }
            }
            plain.push(ScaledPermutation::plain(p.perm.clone()));
        }
        hidden.push(plain);
        cs.push(c);
    }
    // W_j ↦ C_j W_j C_{j−1}^{-1}, b_j ↦ C_j b_j (C_0 = C_L = I).
    let layers = f
        .layers
        .iter()
        .enumerate()
        .map(|(j, l)| {
            let mut w = l.w.clone();
            let mut b = l.b.clone();
            if let Some(c) = cs.get(j) {
                w *= &c.view().insert_axis(Axis(1));
                b *= c;
            }
            if j > 0 {
                w /= &cs[j - 1].view().insert_axis(Axis(0));
            }
            Layer { w, b }
        })
        .collect();
    let g = Mlp::new(layers)?;
    Ok((g, LayerwiseEquivariant { hidden, group_order: lw.group_order, ambiguous: lw.ambiguous }))
}

/// Hidden representation matrices as `[layer][generator]` (convenience for comparisons).
pub fn hidden_matrices(lw: &LayerwiseEquivariant) -> Vec<Vec<Array2<f64>>> {
    lw.hidden.iter().map(|g| g.iter().map(ScaledPermutation::to_matrix).collect()).collect()
}

/// Duplicate every hidden neuron of layer `j` (1-based): the copy gets the same incoming row and
/// the outgoing weight is split in halves, so the function is unchanged. Used to exhibit the
/// ambiguity of the row matching.
pub fn duplicate_neurons(f: &Mlp, j: usize) -> Result<Mlp, TheoryError> {
    if j == 0 || j >= f.depth() {
        return Err(TheoryError::Shape(format!("layer {j} is not a hidden layer")));
    }
    let mut layers = f.layers.clone();
    let l = &f.layers[j - 1];
    layers[j - 1] = Layer {
        w: concatenate(Axis(0), &[l.w.view(), l.w.view()]).expect("same columns"),
        b: concatenate(Axis(0), &[l.b.view(), l.b.view()]).expect("vectors"),
    };
    let next = &f.layers[j];
    let half = &next.w * 0.5;
    layers[j] = Layer { w: concatenate(Axis(1), &[half.view(), half.view()]).expect("same rows"), b: next.b.clone() };
    Mlp::new(layers)
}

#[cfg(test)]
mod tests {
    use super::super::group::Representation;
    use super::super::linalg::max_abs_diff;
    use super::super::reynolds::layerwise_equivariant_mlp;
    use super::super::{DEFAULT_TOL, check_equivariance, sample};
    use super::*;

    fn actions() -> Vec<GroupAction> {
        vec![
            GroupAction::invariant(Representation::swap(2, 0, 1), 1),
            GroupAction::same_on_output(Representation::cyclic_shift(3)),
            GroupAction::invariant(Representation::hflip_image(1, 2, 3), 2),
            GroupAction::same_on_output(Representation::sign_flip(2, 1)),
            GroupAction::invariant(Representation::sign_flip(2, 0).join(&Representation::sign_flip(2, 1)).unwrap(), 1),
        ]
    }

    fn decide(f: &Mlp, a: &GroupAction) -> LayerwiseVerdict {
        decide_layerwise(f, a, &LayerwiseOptions::default()).unwrap()
    }

    /// Multiply neuron i of hidden layer j by c_i > 0 (function-preserving).
    fn rescale_randomly(f: &Mlp, seed: u64) -> Mlp {
        let mut rng = sample::rng(seed);
        let mut layers = f.layers.clone();
        for j in 0..f.depth() - 1 {
            let n = layers[j].out_dim();
            let c: Array1<f64> = (0..n).map(|_| sample::uniform(&mut rng, 0.3, 3.0)).collect();
            layers[j].w *= &c.view().insert_axis(Axis(1));
            layers[j].b *= &c;
            layers[j + 1].w /= &c.view().insert_axis(Axis(0));
        }
        Mlp::new(layers).unwrap()
    }

    #[test]
    fn layerwise_equivariant_nets_are_recognised_with_their_hidden_permutations() {
        for (a, action) in actions().into_iter().enumerate() {
            for seed in 0..20 {
                let copies: &[usize] = if seed % 2 == 0 { &[2] } else { &[1, 2] };
                let net = layerwise_equivariant_mlp(&action, copies, seed, true, DEFAULT_TOL).unwrap();
                let verdict = decide(&net.mlp, &action);
                let lw = verdict.layerwise().unwrap_or_else(|| panic!("action {a} seed {seed}: {verdict:?}"));
                assert!(!lw.ambiguous);
                for (found, built) in hidden_matrices(lw).iter().zip(&net.hidden) {
                    for (x, y) in found.iter().zip(built) {
                        assert!(max_abs_diff(x, y) < 1e-9);
                    }
                }
            }
        }
    }

    #[test]
    fn rescaled_neurons_give_scaled_permutations_and_normalisation_restores_permutations() {
        for (a, action) in actions().into_iter().enumerate() {
            for seed in 0..20 {
                let net = layerwise_equivariant_mlp(&action, &[2, 1], seed, true, DEFAULT_TOL).unwrap();
                let g = rescale_randomly(&net.mlp, 100 + seed);
                let lw = decide(&g, &action).layerwise().cloned().unwrap();
                assert!(!lw.all_plain(1e-6), "action {a} seed {seed}: rescaling should show in D");
                let (h, plain) = normalise_scales(&g, &lw, 1e-8).unwrap();
                assert!(plain.all_plain(0.0));
                let x = sample::normal_matrix(&mut sample::rng(seed), 32, g.input_dim());
                assert!(h.max_output_diff(&g, &x) < 1e-10);
                let again = decide(&h, &action).layerwise().cloned().unwrap();
                assert!(again.all_plain(1e-8));
                assert_eq!(again.hidden.iter().flatten().map(|p| &p.perm).collect::<Vec<_>>(), lw.hidden.iter().flatten().map(|p| &p.perm).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn random_networks_fail_at_the_first_row_of_layer_one() {
        for seed in 0..50 {
            let f = Mlp::random(&[3, 6, 5, 3], seed).unwrap();
            let action = GroupAction::same_on_output(Representation::cyclic_shift(3));
            let n = decide(&f, &action).failure().cloned().unwrap();
            assert_eq!((n.layer, n.generator, n.row), (1, 0, 0));
            assert!(matches!(n.reason, NotLayerwiseReason::NoPositiveMultiple { .. }));
        }
    }

    #[test]
    fn non_invariant_output_bias_fails_at_the_last_layer() {
        let action = GroupAction::same_on_output(Representation::cyclic_shift(3));
        for seed in 0..20 {
            let mut net = layerwise_equivariant_mlp(&action, &[1, 1], seed, true, DEFAULT_TOL).unwrap().mlp;
            net.layers[2].b[1] += 0.5;
            let n = decide(&net, &action).failure().cloned().unwrap();
            assert_eq!(n.layer, 3);
            assert!(matches!(n.reason, NotLayerwiseReason::FinalBias { .. }));
        }
    }

    #[test]
    fn perturbed_output_weight_fails_at_the_last_hidden_layer_by_outgoing_mismatch() {
        let action = GroupAction::invariant(Representation::swap(2, 0, 1), 1);
        for seed in 0..20 {
            let mut net = layerwise_equivariant_mlp(&action, &[2], seed, false, DEFAULT_TOL).unwrap().mlp;
            net.layers[1].w[(0, 3)] += 0.25;
            let n = decide(&net, &action).failure().cloned().unwrap();
            assert_eq!(n.layer, 1);
            assert!(matches!(n.reason, NotLayerwiseReason::OutgoingMismatch { .. }));
        }
    }

    #[test]
    fn linear_network_is_decided_by_the_output_condition_alone() {
        let action = GroupAction::same_on_output(Representation::swap(2, 0, 1));
        let sym = Mlp::from_weights(vec![linalg::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]).unwrap()]).unwrap();
        let asym = Mlp::from_weights(vec![linalg::from_rows(&[vec![1.0, 2.0], vec![3.0, 1.0]]).unwrap()]).unwrap();
        assert!(decide(&sym, &action).is_layerwise());
        let n = decide(&asym, &action).failure().cloned().unwrap();
        assert_eq!(n.layer, 1);
        assert!(matches!(n.reason, NotLayerwiseReason::FinalWeights { .. }));
    }

    #[test]
    fn layerwise_verdict_implies_equivariance() {
        for action in actions() {
            for seed in 0..10 {
                let net = layerwise_equivariant_mlp(&action, &[1, 1], seed, true, DEFAULT_TOL).unwrap();
                assert!(decide(&net.mlp, &action).is_layerwise());
                assert!(check_equivariance(&net.mlp, &action, 32, seed).unwrap().is_equivariant(1e-10));
            }
        }
    }

    #[test]
    fn duplicated_neurons_make_the_matching_ambiguous_but_still_layerwise() {
        for (a, action) in actions().into_iter().enumerate() {
            for seed in 0..10 {
                let net = layerwise_equivariant_mlp(&action, &[1, 1], seed, true, DEFAULT_TOL).unwrap();
                for j in 1..=2 {
                    let dup = duplicate_neurons(&net.mlp, j).unwrap();
                    let v = decide(&dup, &action);
                    let lw = v.layerwise().unwrap_or_else(|| panic!("action {a} seed {seed} layer {j}: {v:?}"));
                    assert!(lw.ambiguous);
                }
            }
        }
    }

    #[test]
    fn hidden_representations_close_to_a_group_of_the_same_order_as_g() {
        // "Homomorphic image consistent with G": adding the hidden matrices to the generators of
        // G = ⟨(ρ_in(s), ρ_out(s))⟩ does not enlarge the group, and involutions stay involutions.
        for action in actions() {
            let order = action.group(DEFAULT_TOL, 64).unwrap().order();
            for seed in 0..10 {
                let net = layerwise_equivariant_mlp(&action, &[1, 2], seed, true, DEFAULT_TOL).unwrap();
                let g = rescale_randomly(&net.mlp, seed);
                let lw = decide(&g, &action).layerwise().cloned().unwrap();
                let gens: Vec<Vec<Array2<f64>>> = (0..action.num_generators())
                    .map(|s| {
                        let mut t = vec![action.input.generators[s].clone(), action.output.generators[s].clone()];
                        t.extend(lw.hidden.iter().map(|layer| layer[s].to_matrix()));
                        t
                    })
                    .collect();
                let hidden_group = super::super::close_group(&gens, 1e-8, 64).unwrap();
                assert_eq!(hidden_group.order(), order);
                hidden_group.check_group_law().unwrap();
                for (s, rin) in action.input.generators.iter().enumerate() {
                    if max_abs_diff(&rin.dot(rin), &Array2::eye(rin.nrows())) < 1e-12 {
                        for layer in &lw.hidden {
                            assert!(layer[s].compose(&layer[s]).is_identity(1e-9));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn hidden_generators_violating_a_relation_fail_the_group_law() {
        // Swap has order 2, but a 3-cycle on the hidden side does not square to the identity.
        let action = GroupAction::invariant(Representation::swap(2, 0, 1), 1);
        let group = action.group(DEFAULT_TOL, 16).unwrap();
        let bad = vec![vec![ScaledPermutation::plain(vec![1, 2, 0])]];
        let n = check_hidden_group_law(&group, &bad, DEFAULT_TOL).unwrap();
        assert_eq!((n.layer, n.generator), (1, 0));
        assert!(matches!(n.reason, NotLayerwiseReason::GroupLaw { .. }));
        // A transposition (or a scaled one with reciprocal scales) is fine.
        let good = vec![vec![ScaledPermutation { perm: vec![1, 0, 2], scales: vec![2.0, 0.5, 1.0] }]];
        assert!(check_hidden_group_law(&group, &good, DEFAULT_TOL).is_none());
        // Scales whose product around the 2-cycle is not 1 violate g² = e.
        let scaled = vec![vec![ScaledPermutation { perm: vec![1, 0, 2], scales: vec![2.0, 2.0, 1.0] }]];
        assert!(check_hidden_group_law(&group, &scaled, DEFAULT_TOL).is_some());
    }
}
