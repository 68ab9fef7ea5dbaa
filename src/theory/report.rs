//! [`theory_report`]: run every result of the theory on concrete (seeded) instances and collect
//! the verdicts, with a short human-readable [`Display`](std::fmt::Display) and JSON via serde.
//!
//! Sections: the Lemma on a few matrices (with witnesses), the counterexamples with the
//! decision's verdicts, the two-layer invertible theorem, normalising scales to permutations, and
//! symmetrisation.

use std::fmt;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::counterexamples::{Counterexample, Mechanism, dead_neuron, paper_pass_through, random_pass_through, zero_outgoing_neuron};
use super::equivariance::check_equivariance;
use super::group::{GroupAction, Representation};
use super::layerwise::{LayerwiseOptions, LayerwiseVerdict, NotLayerwise, NotLayerwiseReason, decide_layerwise, normalise_scales};
use super::linalg::{self, from_rows, to_rows};
use super::mlp::Mlp;
use super::positive::{OutputKind, random_two_layer_invertible, symmetrise, symmetrised_block_permutation, theorem_hidden_reps};
use super::relu_commute::{FailureReason, ReluCommutation, ScaledPermutation, relu_commutation};
use super::{DEFAULT_TOL, TheoryError, sample};

/// Number of random inputs for the equivariance checks in the report.
const SAMPLES: usize = 256;

/// The Lemma applied to one matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LemmaCase {
    /// What the matrix is.
    pub name: String,
    /// The matrix, row by row.
    pub matrix: Vec<Vec<f64>>,
    /// σ(Ax) = Aσ(x) for all x?
    pub commutes: bool,
    /// The P·D factorisation (square invertible commuting A).
    pub scaled_permutation: Option<ScaledPermutation>,
    /// Why not (which case of the proof).
    pub reason: Option<FailureReason>,
    /// The witness x.
    pub witness: Option<Vec<f64>>,
    /// max |σ(Ax) − Aσ(x)| at the witness.
    pub violation: Option<f64>,
}

/// Short form of a [`LayerwiseVerdict`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerdictSummary {
    /// Layerwise equivariant?
    pub layerwise: bool,
    /// Hidden representations per layer and generator, if layerwise.
    pub hidden: Option<Vec<Vec<ScaledPermutation>>>,
    /// The failure with its witness, if not.
    pub failure: Option<NotLayerwise>,
    /// One-line description.
    pub text: String,
}

/// A counterexample and the decision's verdict on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterexampleCase {
    /// Name.
    pub name: String,
    /// Mechanism.
    pub mechanism: Mechanism,
    /// Widths `[n_0, …, n_L]`.
    pub widths: Vec<usize>,
    /// Worst relative equivariance violation on random inputs.
    pub equivariance_rel: f64,
    /// Verdict of the decision procedure.
    pub verdict: VerdictSummary,
    /// (layer, row) where the failure was expected.
    pub expected: (usize, usize),
    /// Did the verdict fail exactly there?
    pub as_expected: bool,
    /// Degenerate neurons: is the network without the neuron layerwise equivariant?
    pub repaired_layerwise: Option<bool>,
}

/// A two-layer invertible example (the theorem).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwoLayerCase {
    /// Name.
    pub name: String,
    /// Worst relative equivariance violation.
    pub equivariance_rel: f64,
    /// Verdict of the decision procedure.
    pub verdict: VerdictSummary,
    /// Did the Lemma find A = W_1 ρ_0(s) W_1^{-1} to be P·D for every generator?
    pub theorem_a_is_pd: bool,
    /// max |ρ_1(s) found − W_1 ρ_0(s) W_1^{-1}| (relative to max |A|).
    pub max_rel_diff_to_theorem: f64,
}

/// Rescaling neurons so that scaled permutations become permutations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NormalisationCase {
    /// Name.
    pub name: String,
    /// Hidden representations before (scaled permutations).
    pub before: Vec<Vec<ScaledPermutation>>,
    /// Are they all plain permutations after rescaling (re-decided on the rescaled network)?
    pub plain_after: bool,
    /// max |f(x) − f_rescaled(x)| on random inputs.
    pub function_diff: f64,
}

/// Symmetrisation of one network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SymmetrisationCase {
    /// Name.
    pub name: String,
    /// |G|.
    pub group_order: usize,
    /// Widths before.
    pub widths_before: Vec<usize>,
    /// Widths after.
    pub widths_after: Vec<usize>,
    /// Relative equivariance violation before.
    pub equivariance_rel_before: f64,
    /// Relative equivariance violation after.
    pub equivariance_rel_after: f64,
    /// max |f̄(x) − f(x)| on random inputs.
    pub diff_to_original: f64,
    /// Verdict before.
    pub layerwise_before: bool,
    /// Verdict after.
    pub verdict_after: VerdictSummary,
    /// Are the hidden representations after exactly the block permutations (g, i) ↦ (g·s, i)?
    pub block_permutation: bool,
}

/// Everything [`theory_report`] computed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TheoryReport {
    /// Seed of the random instances.
    pub seed: u64,
    /// The Lemma on a few matrices.
    pub lemma: Vec<LemmaCase>,
    /// Counterexamples (equivariant, not layerwise equivariant).
    pub counterexamples: Vec<CounterexampleCase>,
    /// Two-layer invertible theorem.
    pub two_layer: Vec<TwoLayerCase>,
    /// Normalising hidden scales.
    pub normalisation: Vec<NormalisationCase>,
    /// Symmetrisation.
    pub symmetrisation: Vec<SymmetrisationCase>,
}

impl TheoryReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report is serialisable")
    }

    /// Did every case come out as the theory predicts?
    pub fn all_as_predicted(&self) -> bool {
        let lemma_ok = self.lemma.iter().all(|c| c.commutes || c.violation.is_some_and(|v| v > DEFAULT_TOL));
        let cex_ok = self.counterexamples.iter().all(|c| c.equivariance_rel < 1e-9 && c.as_expected && c.repaired_layerwise.unwrap_or(true));
        let two_ok = self.two_layer.iter().all(|c| c.equivariance_rel < 1e-8 && c.verdict.layerwise && c.theorem_a_is_pd && c.max_rel_diff_to_theorem < 1e-7);
        let norm_ok = self.normalisation.iter().all(|c| c.plain_after && c.function_diff < 1e-9);
        let sym_ok = self.symmetrisation.iter().all(|c| c.equivariance_rel_after < 1e-9 && c.verdict_after.layerwise);
        lemma_ok && cex_ok && two_ok && norm_ok && sym_ok
    }
}

/// Run the theory on seeded instances (see the module docs). Panics only if a random construction
/// fails, which [`try_theory_report`] reports as an error instead.
pub fn theory_report(seed: u64) -> TheoryReport {
    try_theory_report(seed).expect("the report's constructions are well-formed")
}

/// [`theory_report`] returning construction errors instead of panicking.
pub fn try_theory_report(seed: u64) -> Result<TheoryReport, TheoryError> {
    let opts = LayerwiseOptions::default();
    let mut rng = sample::rng(seed);

    // --- Lemma ---
    let pd = sample::scaled_permutation(&mut rng, 3);
    let mut pd_plus = pd.to_matrix();
    let extra_col = (pd.perm[0] + 1) % 3;
    pd_plus[(0, extra_col)] = 0.5;
    let lemma_inputs: Vec<(String, Array2<f64>)> = vec![
        ("random P·D (3×3)".into(), pd.to_matrix()),
        ("−I (2×2)".into(), -Array2::<f64>::eye(2)),
        ("[[1,1],[0,1]]".into(), from_rows(&[vec![1.0, 1.0], vec![0.0, 1.0]])?),
        ("P·D + 0.5 at (0,{extra_col})".replace("{extra_col}", &extra_col.to_string()), pd_plus),
        ("[[2,0,0],[0,0,3]] (2×3)".into(), from_rows(&[vec![2.0, 0.0, 0.0], vec![0.0, 0.0, 3.0]])?),
        ("random Gaussian (3×3)".into(), sample::normal_matrix(&mut rng, 3, 3)),
    ];
    let lemma = lemma_inputs
        .into_iter()
        .map(|(name, a)| {
            let v = relu_commutation(&a, DEFAULT_TOL)?;
            let (sp, f) = (v.scaled_permutation().cloned(), v.failure().cloned());
            Ok(LemmaCase {
                name,
                matrix: to_rows(&a),
                commutes: matches!(v, ReluCommutation::Commutes(_)),
                scaled_permutation: sp,
                reason: f.as_ref().map(|f| f.reason.clone()),
                witness: f.as_ref().map(|f| f.witness.clone()),
                violation: f.as_ref().map(|f| f.violation),
            })
        })
        .collect::<Result<Vec<_>, TheoryError>>()?;

    // --- counterexamples ---
    let cexs: Vec<Counterexample> = vec![
        paper_pass_through(),
        random_pass_through(&Representation::cyclic_shift(3), false, seed)?,
        zero_outgoing_neuron(&GroupAction::invariant(Representation::hflip_image(1, 2, 2), 1), seed)?,
        dead_neuron(&GroupAction::same_on_output(Representation::cyclic_shift(3)), seed)?,
    ];
    let counterexamples = cexs
        .iter()
        .map(|c| {
            let eq = check_equivariance(&c.mlp, &c.action, SAMPLES, seed)?;
            let v = decide_layerwise(&c.mlp, &c.action, &opts)?;
            let as_expected = v.failure().is_some_and(|n| (n.layer, n.row) == (c.expected_layer, c.expected_row));
            let repaired_layerwise = match &c.repaired {
                Some(r) => Some(decide_layerwise(r, &c.action, &opts)?.is_layerwise()),
                None => None,
            };
            Ok(CounterexampleCase {
                name: c.name.clone(),
                mechanism: c.mechanism,
                widths: c.mlp.widths(),
                equivariance_rel: eq.worst_rel,
                verdict: summarise(&v),
                expected: (c.expected_layer, c.expected_row),
                as_expected,
                repaired_layerwise,
            })
        })
        .collect::<Result<Vec<_>, TheoryError>>()?;

    // --- two-layer theorem ---
    let examples = [
        ("C3 on R³, conjugated input, equivariant output", Representation::cyclic_shift(3), OutputKind::Equivariant, true),
        ("hflip of a 2×3 image, invariant output", Representation::hflip_image(1, 2, 3), OutputKind::Invariant, false),
    ];
    let mut two_layer = Vec::new();
    let mut normalisation = Vec::new();
    for (k, (name, rep, out, conj)) in examples.into_iter().enumerate() {
        let ex = random_two_layer_invertible(&rep, out, conj, seed + k as u64)?;
        let eq = check_equivariance(&ex.mlp, &ex.action, SAMPLES, seed)?;
        let v = decide_layerwise(&ex.mlp, &ex.action, &opts)?;
        let theorem = theorem_hidden_reps(&ex.mlp, &ex.action, 1e-8)?;
        let theorem_a_is_pd = theorem.iter().all(|(_, r)| r.scaled_permutation().is_some());
        let max_rel_diff_to_theorem = match v.layerwise() {
            Some(lw) => theorem.iter().zip(&lw.hidden[0]).map(|((a, _), p)| linalg::max_abs_diff(&p.to_matrix(), a) / linalg::max_abs(a)).fold(0.0, f64::max),
            None => f64::INFINITY,
        };
        if let Some(lw) = v.layerwise() {
            let (g, _) = normalise_scales(&ex.mlp, lw, 1e-8)?;
            let again = decide_layerwise(&g, &ex.action, &opts)?;
            let x = sample::normal_matrix(&mut rng, SAMPLES, ex.mlp.input_dim());
            normalisation.push(NormalisationCase {
                name: name.to_string(),
                before: lw.hidden.clone(),
                plain_after: again.layerwise().is_some_and(|l| l.all_plain(1e-8)),
                function_diff: g.max_output_diff(&ex.mlp, &x),
            });
        }
        two_layer.push(TwoLayerCase {
            name: name.to_string(),
            equivariance_rel: eq.worst_rel,
            verdict: summarise(&v),
            theorem_a_is_pd,
            max_rel_diff_to_theorem,
        });
    }

    // --- symmetrisation ---
    let swap = GroupAction::invariant(Representation::swap(2, 0, 1), 1);
    let random_f = Mlp::random(&[2, 4, 1], seed)?;
    let sym_inputs: Vec<(String, Mlp, GroupAction)> = vec![
        ("random net (not invariant), swap on R²".into(), random_f, swap),
        (cexs[0].name.clone(), cexs[0].mlp.clone(), cexs[0].action.clone()),
        (cexs[3].name.clone(), cexs[3].mlp.clone(), cexs[3].action.clone()),
    ];
    let symmetrisation = sym_inputs
        .into_iter()
        .map(|(name, f, action)| {
            let group = action.group(DEFAULT_TOL, 1024)?;
            let g = symmetrise(&f, &group)?;
            let x = sample::normal_matrix(&mut rng, SAMPLES, f.input_dim());
            let v = decide_layerwise(&g, &action, &opts)?;
            let block_permutation = v.layerwise().is_some_and(|lw| lw.hidden == symmetrised_block_permutation(&group, &f.hidden_widths()));
            Ok(SymmetrisationCase {
                name,
                group_order: group.order(),
                widths_before: f.widths(),
                widths_after: g.widths(),
                equivariance_rel_before: check_equivariance(&f, &action, SAMPLES, seed)?.worst_rel,
                equivariance_rel_after: check_equivariance(&g, &action, SAMPLES, seed)?.worst_rel,
                diff_to_original: g.max_output_diff(&f, &x),
                layerwise_before: decide_layerwise(&f, &action, &opts)?.is_layerwise(),
                verdict_after: summarise(&v),
                block_permutation,
            })
        })
        .collect::<Result<Vec<_>, TheoryError>>()?;

    Ok(TheoryReport { seed, lemma, counterexamples, two_layer, normalisation, symmetrisation })
}

fn summarise(v: &LayerwiseVerdict) -> VerdictSummary {
    match v {
        LayerwiseVerdict::LayerwiseEquivariant(lw) => VerdictSummary {
            layerwise: true,
            hidden: Some(lw.hidden.clone()),
            failure: None,
            text: format!(
                "layerwise equivariant; hidden reps {}{}",
                lw.hidden
                    .iter()
                    .enumerate()
                    .map(|(j, gens)| format!("ρ_{}: {}", j + 1, gens.iter().map(describe_perm).collect::<Vec<_>>().join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
                if lw.ambiguous { " (duplicate neurons: one of several matchings)" } else { "" }
            ),
        },
        LayerwiseVerdict::NotLayerwise(n) => VerdictSummary { layerwise: false, hidden: None, failure: Some(n.clone()), text: describe_failure(n) },
    }
}

/// Cycle notation of the permutation part, with the scales if D ≠ I, e.g. "(0 1)(2 3)".
fn describe_perm(p: &ScaledPermutation) -> String {
    let n = p.dim();
    let mut seen = vec![false; n];
    let mut out = String::new();
    for start in 0..n {
        if seen[start] || p.perm[start] == start {
            seen[start] = true;
            continue;
        }
        let mut cycle = vec![];
        let mut i = start;
        while !seen[i] {
            seen[i] = true;
            cycle.push(i.to_string());
            i = p.perm[i];
        }
        out += &format!("({})", cycle.join(" "));
    }
    if out.is_empty() {
        out = "id".into();
    }
    if !p.is_plain(1e-9) {
        let rows: Vec<String> = (0..n).map(|i| format!("{:.2}", p.row_scale(i))).collect();
        out += &format!(" with row scales [{}]", rows.join(", "));
    }
    out
}

fn fmt_vec(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{}", (x * 1000.0).round() / 1000.0)).collect();
    format!("({})", parts.join(", "))
}

fn describe_failure(n: &NotLayerwise) -> String {
    let what = match &n.reason {
        NotLayerwiseReason::NoPositiveMultiple { transformed_row } => format!(
            "row {} of [W_{}ρ(s)|b_{}] = {} is no positive multiple of any row of [W_{}|b_{}]",
            n.row,
            n.layer,
            n.layer,
            fmt_vec(transformed_row),
            n.layer,
            n.layer
        ),
        NotLayerwiseReason::NotABijection { target } => {
            format!("row {} can only map to row {target}, already taken: no bijection", n.row)
        }
        NotLayerwiseReason::OutgoingMismatch { candidates } => format!("row {} matches rows {candidates:?} but none has the right outgoing weights", n.row),
        NotLayerwiseReason::FinalWeights { violation } => {
            format!("W_Lρ(s) ≠ ρ_out(s)W_L in row {} (by {violation:.3e})", n.row)
        }
        NotLayerwiseReason::FinalBias { violation } => {
            format!("ρ_out(s)b_L ≠ b_L at entry {} (by {violation:.3e})", n.row)
        }
        NotLayerwiseReason::GroupLaw { element_word } => {
            format!("hidden generators violate a relation of G at word {element_word:?}, row {}", n.row)
        }
        NotLayerwiseReason::SearchLimit => "search limit reached".into(),
    };
    format!("NOT layerwise: layer {}, generator {}, row {}: {what}", n.layer, n.generator, n.row)
}

impl fmt::Display for TheoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Theory of ReLU symmetries (Bökman & Kahl 2023, §2), seed {}", self.seed)?;
        writeln!(f)?;
        writeln!(f, "Lemma: σ(Ax) = Aσ(x) ∀x  ⇔  A ≥ 0 with ≤ 1 non-zero per row (invertible: A = P·D)")?;
        for c in &self.lemma {
            let verdict = if c.commutes {
                match &c.scaled_permutation {
                    Some(p) => format!("commutes, A = P·D with perm {:?}, D = diag{}", p.perm, fmt_vec(&p.scales)),
                    None => "commutes (not invertible)".into(),
                }
            } else {
                let why = match &c.reason {
                    Some(FailureReason::NegativeEntry { row, col, value }) => {
                        format!("negative entry a[{row},{col}] = {value:.3}")
                    }
                    Some(FailureReason::TwoNonZerosInRow { row, cols, .. }) => {
                        format!("row {row} has two positive entries (cols {}, {})", cols[0], cols[1])
                    }
                    None => String::new(),
                };
                format!(
                    "does NOT commute: {why}; witness x = {}, |σ(Ax) − Aσ(x)| = {:.3}",
                    fmt_vec(c.witness.as_deref().unwrap_or(&[])),
                    c.violation.unwrap_or(0.0)
                )
            };
            writeln!(f, "  {:<28} {verdict}", c.name)?;
        }
        writeln!(f)?;
        writeln!(f, "Equivariant but not layerwise equivariant (counterexamples):")?;
        for c in &self.counterexamples {
            writeln!(f, "  {} {:?}, equivariance error {:.1e}", c.name, c.widths, c.equivariance_rel)?;
            writeln!(f, "    {} [expected layer {}, row {}: {}]", c.verdict.text, c.expected.0, c.expected.1, if c.as_expected { "ok" } else { "MISMATCH" })?;
            if let Some(r) = c.repaired_layerwise {
                writeln!(f, "    without the degenerate neuron (same function): {}", if r { "layerwise equivariant" } else { "NOT layerwise" })?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Two layers, invertible W_1: ρ_1(s) = W_1ρ_0(s)W_1⁻¹ must be P·D:")?;
        for c in &self.two_layer {
            writeln!(f, "  {}: equivariance error {:.1e}", c.name, c.equivariance_rel)?;
            writeln!(
                f,
                "    Lemma on W_1ρ_0W_1⁻¹: {}; procedure: {}; max rel. diff {:.1e}",
                if c.theorem_a_is_pd { "P·D" } else { "NOT P·D" },
                c.verdict.text,
                c.max_rel_diff_to_theorem
            )?;
        }
        for c in &self.normalisation {
            writeln!(f, "  rescaling neurons ({}): plain permutations after: {}, function change {:.1e}", c.name, c.plain_after, c.function_diff)?;
        }
        writeln!(f)?;
        writeln!(f, "Symmetrisation f̄(x) = (1/|G|) Σ_g ρ_out(g)⁻¹ f(ρ_in(g)x) with a |G|-times wider net:")?;
        for c in &self.symmetrisation {
            writeln!(f, "  {} (|G| = {}): widths {:?} → {:?}", c.name, c.group_order, c.widths_before, c.widths_after)?;
            writeln!(
                f,
                "    equivariance error {:.1e} → {:.1e}; |f̄ − f| = {:.1e}; layerwise {} → {}; blocks permuted (g,i)↦(g·s,i): {}",
                c.equivariance_rel_before, c.equivariance_rel_after, c.diff_to_original, c.layerwise_before, c.verdict_after.layerwise, c.block_permutation
            )?;
        }
        writeln!(f)?;
        write!(f, "All results as the theory predicts: {}", if self.all_as_predicted() { "yes" } else { "NO" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_confirms_every_prediction_for_several_seeds() {
        for seed in 0..4 {
            let r = theory_report(seed);
            assert!(r.all_as_predicted(), "seed {seed}:\n{r}");
            assert!(r.lemma.iter().filter(|c| !c.commutes).all(|c| c.witness.is_some()));
            assert!(r.symmetrisation.iter().all(|c| c.block_permutation), "seed {seed}:\n{r}");
        }
    }

    #[test]
    fn report_serialises_to_json_and_displays() {
        let r = theory_report(0);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["seed"], 0);
        assert_eq!(json["counterexamples"].as_array().unwrap().len(), 4);
        let text = r.to_string();
        assert!(text.contains("All results as the theory predicts: yes"));
        println!("{text}");
    }
}
