//! [`theory_report`]: run every result of the theory on concrete (seeded) instances and collect
//! the verdicts, as text ([`TheoryReport::sections`], one [`TheorySection`] per result, and their
//! concatenation as [`Display`](std::fmt::Display)) and as JSON via serde.
//!
//! Sections: the Lemma on a few matrices (with witnesses), the counterexamples with the
//! decision's verdicts, the two-layer invertible theorem, normalising scales to permutations,
//! symmetrisation, and the verdict over all of them.

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
        self.lemma_as_predicted()
            && self.counterexamples_as_predicted()
            && self.two_layer_as_predicted()
            && self.normalisation_as_predicted()
            && self.symmetrisation_as_predicted()
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

/// Suffix of [`VerdictSummary::text`] when the row matching had to choose among duplicate neurons.
const AMBIGUOUS_NOTE: &str = " (duplicate neurons: one of several matchings)";

fn summarise(v: &LayerwiseVerdict) -> VerdictSummary {
    match v {
        LayerwiseVerdict::LayerwiseEquivariant(lw) => VerdictSummary {
            layerwise: true,
            hidden: Some(lw.hidden.clone()),
            failure: None,
            text: format!("layerwise equivariant; hidden reps {}{}", hidden_reps(&lw.hidden).join("; "), if lw.ambiguous { AMBIGUOUS_NOTE } else { "" }),
        },
        LayerwiseVerdict::NotLayerwise(n) => VerdictSummary { layerwise: false, hidden: None, failure: Some(n.clone()), text: describe_failure(n) },
    }
}

/// One entry per hidden layer j: "ρ_j: " and the generators' scaled permutations.
fn hidden_reps(hidden: &[Vec<ScaledPermutation>]) -> Vec<String> {
    hidden.iter().enumerate().map(|(j, gens)| format!("ρ_{}: {}", j + 1, gens.iter().map(describe_perm).collect::<Vec<_>>().join(", "))).collect()
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

/// Where the decision procedure failed: "layer 1, generator 0, row 4".
fn failure_place(n: &NotLayerwise) -> String {
    format!("layer {}, generator {}, row {}", n.layer, n.generator, n.row)
}

/// Why the decision procedure failed, in pieces that read as one sentence when joined by spaces
/// (the report's text breaks lines only between pieces).
fn failure_reason(n: &NotLayerwise) -> Vec<String> {
    match &n.reason {
        NotLayerwiseReason::NoPositiveMultiple { transformed_row } => vec![
            format!("row {} of [W_{}ρ(s)|b_{}] =", n.row, n.layer, n.layer),
            fmt_vec(transformed_row),
            format!("is no positive multiple of any row of [W_{}|b_{}]", n.layer, n.layer),
        ],
        NotLayerwiseReason::NotABijection { target } => vec![format!("row {} can only map to row {target}, already taken: no bijection", n.row)],
        NotLayerwiseReason::OutgoingMismatch { candidates } => {
            vec![format!("row {} matches rows {candidates:?} but none has the right outgoing weights", n.row)]
        }
        NotLayerwiseReason::FinalWeights { violation } => vec![format!("W_Lρ(s) ≠ ρ_out(s)W_L in row {} (by {violation:.3e})", n.row)],
        NotLayerwiseReason::FinalBias { violation } => vec![format!("ρ_out(s)b_L ≠ b_L at entry {} (by {violation:.3e})", n.row)],
        NotLayerwiseReason::GroupLaw { element_word } => vec![format!("hidden generators violate a relation of G at word {element_word:?}, row {}", n.row)],
        NotLayerwiseReason::SearchLimit => vec!["search limit reached".into()],
    }
}

fn describe_failure(n: &NotLayerwise) -> String {
    format!("NOT layerwise: {}: {}", failure_place(n), failure_reason(n).join(" "))
}

/// The widest line, in characters, of a [`TheorySection`]'s title and text: what fits in a code
/// block of the book's 750-pixel content column (about 88 monospace characters) with a margin.
pub const SECTION_WIDTH: usize = 84;

/// One part of a [`TheoryReport`] as text: one result of the theory and what it gave on the
/// report's instances. [`TheoryReport::sections`] lists them; the report's
/// [`Display`](fmt::Display) is their concatenation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TheorySection {
    /// Short name, usable as a file stem: `lemma`, `counterexamples`, `two-layers`,
    /// `normalisation`, `symmetrisation` or `verdict`.
    pub stem: &'static str,
    /// The result in one line, e.g. "Lemma: σ(Ax) = Aσ(x) for all x ⇔ …".
    pub title: String,
    /// The instances and their verdicts: indented lines, none wider than [`SECTION_WIDTH`]
    /// characters, without a final newline.
    pub text: String,
}

/// Title, then text, on separate lines (no final newline).
impl fmt::Display for TheorySection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() { write!(f, "{}", self.title) } else { write!(f, "{}\n{}", self.title, self.text) }
    }
}

/// Lines of a section's text, wrapped to [`SECTION_WIDTH`].
#[derive(Default)]
struct Lines(Vec<String>);

impl Lines {
    /// Add `text` indented by `indent` spaces. A line wider than [`SECTION_WIDTH`] is broken at
    /// spaces, its continuation lines indented two more.
    fn push(&mut self, indent: usize, text: impl AsRef<str>) {
        self.push_parts(indent, &[text.as_ref()]);
    }

    /// Add `parts`, separated by spaces, indented by `indent`: as many whole parts on a line as
    /// fit in [`SECTION_WIDTH`], continuation lines indented two more. A part too wide for a
    /// line of its own is broken at spaces.
    fn push_parts(&mut self, indent: usize, parts: &[&str]) {
        let room = SECTION_WIDTH.saturating_sub(indent + 2);
        let units: Vec<&str> = parts.iter().flat_map(|p| if p.chars().count() > room { p.split(' ').collect() } else { vec![*p] }).collect();
        let mut line = " ".repeat(indent);
        let mut empty = true;
        for unit in units {
            let fits = line.chars().count() + 1 + unit.chars().count() <= SECTION_WIDTH;
            if !empty && !fits {
                self.0.push(std::mem::replace(&mut line, " ".repeat(indent + 2)));
                empty = true;
            }
            if !empty {
                line.push(' ');
            }
            line.push_str(unit);
            empty = false;
        }
        self.0.push(line);
    }

    /// The lines joined by newlines, trailing spaces removed.
    fn text(&self) -> String {
        self.0.iter().map(|l| l.trim_end()).collect::<Vec<_>>().join("\n")
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "as predicted" } else { "NOT as predicted" }
}

impl TheoryReport {
    /// The Lemma cases are as predicted: commuting, or a witness that violates σ(Ax) = Aσ(x).
    fn lemma_as_predicted(&self) -> bool {
        self.lemma.iter().all(|c| c.commutes || c.violation.is_some_and(|v| v > DEFAULT_TOL))
    }

    /// The counterexamples are equivariant, fail exactly where expected and (degenerate neurons)
    /// become layerwise equivariant without the degenerate neuron.
    fn counterexamples_as_predicted(&self) -> bool {
        self.counterexamples.iter().all(|c| c.equivariance_rel < 1e-9 && c.as_expected && c.repaired_layerwise.unwrap_or(true))
    }

    /// The two-layer examples are layerwise equivariant with ρ_1 = W_1ρ_0W_1⁻¹ = P·D.
    fn two_layer_as_predicted(&self) -> bool {
        self.two_layer.iter().all(|c| c.equivariance_rel < 1e-8 && c.verdict.layerwise && c.theorem_a_is_pd && c.max_rel_diff_to_theorem < 1e-7)
    }

    /// Rescaling gives plain permutations and keeps the function.
    fn normalisation_as_predicted(&self) -> bool {
        self.normalisation.iter().all(|c| c.plain_after && c.function_diff < 1e-9)
    }

    /// Symmetrised networks are equivariant and layerwise equivariant.
    fn symmetrisation_as_predicted(&self) -> bool {
        self.symmetrisation.iter().all(|c| c.equivariance_rel_after < 1e-9 && c.verdict_after.layerwise)
    }

    /// The report as text, one section per result of the theory, in the order of the paper:
    /// `lemma`, `counterexamples`, `two-layers`, `normalisation`, `symmetrisation`, and the
    /// `verdict` over all of them. Every line fits in [`SECTION_WIDTH`] characters; the report's
    /// [`Display`](fmt::Display) is the sections joined by blank lines.
    pub fn sections(&self) -> Vec<TheorySection> {
        vec![
            self.lemma_section(),
            self.counterexamples_section(),
            self.two_layer_section(),
            self.normalisation_section(),
            self.symmetrisation_section(),
            self.verdict_section(),
        ]
    }

    fn lemma_section(&self) -> TheorySection {
        let mut l = Lines::default();
        let name_width = self.lemma.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        for c in &self.lemma {
            let name = format!("{}{}", c.name, " ".repeat(name_width - c.name.chars().count()));
            let details = name_width + 6;
            if c.commutes {
                match &c.scaled_permutation {
                    Some(p) => {
                        l.push(2, format!("{name}  commutes: A = P·D"));
                        l.push(details, format!("perm {:?}, D = diag{}", p.perm, fmt_vec(&p.scales)));
                    }
                    None => l.push(2, format!("{name}  commutes (not invertible)")),
                }
            } else {
                l.push(2, format!("{name}  does NOT commute"));
                match &c.reason {
                    Some(FailureReason::NegativeEntry { row, col, value }) => l.push(details, format!("negative entry a[{row},{col}] = {value:.3}")),
                    Some(FailureReason::TwoNonZerosInRow { row, cols, .. }) => {
                        l.push(details, format!("row {row} has two positive entries (cols {}, {})", cols[0], cols[1]))
                    }
                    None => {}
                }
                l.push(details, format!("witness x = {}: |σ(Ax) − Aσ(x)| = {:.3}", fmt_vec(c.witness.as_deref().unwrap_or(&[])), c.violation.unwrap_or(0.0)));
            }
        }
        TheorySection {
            stem: "lemma", title: "Lemma: σ(Ax) = Aσ(x) ∀x  ⇔  A ≥ 0 with ≤ 1 non-zero per row (invertible: A = P·D)".into(), text: l.text()
        }
    }

    fn counterexamples_section(&self) -> TheorySection {
        let mut l = Lines::default();
        for c in &self.counterexamples {
            l.push(2, format!("{}, widths {:?}", c.name, c.widths));
            l.push(4, format!("equivariance error {:.1e}", c.equivariance_rel));
            let (layer, row) = c.expected;
            match &c.verdict.failure {
                Some(n) => {
                    let verdict = format!("decision procedure: NOT layerwise at {}", failure_place(n));
                    let place = if c.as_expected { "as expected".to_string() } else { format!("(expected layer {layer}, row {row}: MISMATCH)") };
                    l.push_parts(4, &[&format!("{verdict},"), &place]);
                    push_reason(&mut l, n);
                }
                None => {
                    l.push(4, format!("decision procedure: layerwise equivariant (expected NOT at layer {layer}, row {row}: MISMATCH)"));
                    push_verdict_details(&mut l, &c.verdict);
                }
            }
            if let Some(r) = c.repaired_layerwise {
                l.push(4, format!("without the degenerate neuron (same function): {}", if r { "layerwise equivariant" } else { "NOT layerwise" }));
            }
        }
        TheorySection { stem: "counterexamples", title: "Equivariant but not layerwise equivariant (counterexamples)".into(), text: l.text() }
    }

    fn two_layer_section(&self) -> TheorySection {
        let mut l = Lines::default();
        for c in &self.two_layer {
            l.push(2, format!("{}: equivariance error {:.1e}", c.name, c.equivariance_rel));
            l.push(4, format!("Lemma on A = W_1ρ_0(s)W_1⁻¹: {}", if c.theorem_a_is_pd { "A = P·D" } else { "A is NOT P·D" }));
            match &c.verdict.failure {
                Some(n) => {
                    l.push(4, format!("decision procedure: NOT layerwise at {}", failure_place(n)));
                    push_reason(&mut l, n);
                }
                None => {
                    l.push(4, "decision procedure: layerwise equivariant");
                    push_verdict_details(&mut l, &c.verdict);
                }
            }
            l.push(4, format!("largest relative difference between ρ_1(s) found and A: {:.1e}", c.max_rel_diff_to_theorem));
        }
        TheorySection { stem: "two-layers", title: "Two layers, invertible W_1: ρ_1(s) = W_1ρ_0(s)W_1⁻¹ must be P·D".into(), text: l.text() }
    }

    fn normalisation_section(&self) -> TheorySection {
        let mut l = Lines::default();
        for c in &self.normalisation {
            l.push(2, &c.name);
            for rep in hidden_reps(&c.before) {
                l.push(4, format!("before: {rep}"));
            }
            l.push(4, format!("after rescaling: plain permutations {}; largest change of f {:.1e}", c.plain_after, c.function_diff));
        }
        TheorySection { stem: "normalisation", title: "Rescaling hidden neurons turns the P·D into plain permutations (same function)".into(), text: l.text() }
    }

    fn symmetrisation_section(&self) -> TheorySection {
        let mut l = Lines::default();
        for c in &self.symmetrisation {
            l.push(2, format!("{}, |G| = {}", c.name, c.group_order));
            l.push(4, format!("widths {:?} → {:?}; layerwise {} → {}", c.widths_before, c.widths_after, c.layerwise_before, c.verdict_after.layerwise));
            l.push(4, format!("equivariance error {:.1e} → {:.1e}; |f̄ − f| = {:.1e}", c.equivariance_rel_before, c.equivariance_rel_after, c.diff_to_original));
            l.push(4, format!("hidden reps are the block permutations (g, i) ↦ (g·s, i): {}", c.block_permutation));
        }
        TheorySection {
            stem: "symmetrisation",
            title: "Symmetrisation f̄(x) = (1/|G|) Σ_g ρ_out(g)⁻¹ f(ρ_in(g)x) with a |G|-times wider net".into(),
            text: l.text(),
        }
    }

    fn verdict_section(&self) -> TheorySection {
        let mut l = Lines::default();
        let parts = [
            ("Lemma", self.lemma.len(), "matrices", self.lemma_as_predicted()),
            ("counterexamples", self.counterexamples.len(), "networks", self.counterexamples_as_predicted()),
            ("two layers", self.two_layer.len(), "networks", self.two_layer_as_predicted()),
            ("normalisation", self.normalisation.len(), "networks", self.normalisation_as_predicted()),
            ("symmetrisation", self.symmetrisation.len(), "networks", self.symmetrisation_as_predicted()),
        ];
        for (name, n, what, ok) in parts {
            l.push(2, format!("{name:<16} {:<14} {}", format!("{n} {what}"), yes_no(ok)));
        }
        l.push(0, format!("All results as the theory predicts: {}", if self.all_as_predicted() { "yes" } else { "NO" }));
        TheorySection { stem: "verdict", title: format!("Verdict (Bökman & Kahl 2023, §2; instances from seed {})", self.seed), text: l.text() }
    }
}

/// Why the decision procedure failed, indented under its verdict, broken only between pieces.
fn push_reason(l: &mut Lines, n: &NotLayerwise) {
    let pieces = failure_reason(n);
    l.push_parts(6, &pieces.iter().map(String::as_str).collect::<Vec<_>>());
}

/// The hidden representations a layerwise verdict found, one line per hidden layer.
fn push_verdict_details(l: &mut Lines, v: &VerdictSummary) {
    if let Some(hidden) = &v.hidden {
        for rep in hidden_reps(hidden) {
            l.push(6, rep);
        }
    }
    if v.text.ends_with(AMBIGUOUS_NOTE) {
        l.push(6, AMBIGUOUS_NOTE.trim());
    }
}

impl fmt::Display for TheoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sections: Vec<String> = self.sections().iter().map(ToString::to_string).collect();
        write!(f, "{}", sections.join("\n\n"))
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

    #[test]
    fn sections_concatenate_to_the_display_output() {
        let r = theory_report(0);
        let joined = r.sections().iter().map(ToString::to_string).collect::<Vec<_>>().join("\n\n");
        assert_eq!(r.to_string(), joined);
    }

    #[test]
    fn every_section_line_fits_in_a_book_code_block_of_at_most_100_columns() {
        const { assert!(SECTION_WIDTH <= 100) };
        for seed in 0..4 {
            for s in theory_report(seed).sections() {
                for line in s.to_string().lines() {
                    assert!(line.chars().count() <= SECTION_WIDTH, "seed {seed}, section {}: {} columns:\n{line}", s.stem, line.chars().count());
                }
            }
        }
    }

    #[test]
    fn section_stems_are_distinct_file_names_in_the_papers_order() {
        let stems: Vec<&str> = theory_report(0).sections().iter().map(|s| s.stem).collect();
        assert_eq!(stems, ["lemma", "counterexamples", "two-layers", "normalisation", "symmetrisation", "verdict"]);
    }

    #[test]
    fn every_case_is_reported_in_its_own_section() {
        let r = theory_report(1);
        let sections = r.sections();
        let text = |stem: &str| sections.iter().find(|s| s.stem == stem).map(|s| s.text.clone()).unwrap_or_default();
        assert!(r.lemma.iter().all(|c| text("lemma").contains(&c.name)));
        assert!(r.counterexamples.iter().all(|c| text("counterexamples").contains(&c.name)));
        assert!(r.two_layer.iter().all(|c| text("two-layers").contains(&c.name)));
        assert!(r.normalisation.iter().all(|c| text("normalisation").contains(&c.name)));
        assert!(r.symmetrisation.iter().all(|c| text("symmetrisation").contains(&c.name)));
        let witnesses = r.lemma.iter().filter(|c| !c.commutes).count();
        assert_eq!(text("lemma").matches("witness x = ").count(), witnesses);
        assert!(text("verdict").ends_with("All results as the theory predicts: yes"));
    }

    #[test]
    fn a_failing_case_makes_its_section_and_the_verdict_say_so() {
        let mut r = theory_report(0);
        r.counterexamples[0].as_expected = false;
        let sections = r.sections();
        assert!(sections[1].text.contains("MISMATCH"), "{}", sections[1]);
        let verdict = &sections[5].text;
        assert!(verdict.contains("NOT as predicted") && verdict.ends_with("predicts: NO"), "{verdict}");
    }

    #[test]
    fn parts_are_kept_whole_when_a_line_must_break() {
        let vector = format!("({})", ["-0.123"; 8].join(", "));
        let parts = ["row 3 of [W_2ρ(s)|b_2] =", vector.as_str(), "is no positive multiple of any row of [W_2|b_2]"];
        let mut l = Lines::default();
        l.push_parts(6, &parts);
        let text = l.text();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines, parts, "{text}");
        let mut short = Lines::default();
        short.push_parts(6, &["row 0 =", "(3, 1, 0)", "is no positive multiple"]);
        assert_eq!(short.text(), "      row 0 = (3, 1, 0) is no positive multiple");
    }

    #[test]
    fn long_lines_are_broken_at_spaces_with_a_hanging_indent() {
        let mut l = Lines::default();
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        l.push(4, words.join(" "));
        let text = l.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|x| x.chars().count() <= SECTION_WIDTH));
        assert!(lines[0].starts_with("    w0") && lines[1].starts_with("      w"));
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), words);
    }
}
