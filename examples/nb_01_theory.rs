//! Generated from notebooks/01-theory.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::theory;
    let seed: u64 = 0;
    let report = theory::try_theory_report(seed)?;
    let sections = report.sections();
    sections.iter().map(|s| s.stem).collect::<Vec<_>>();

    println!("{}\n{}", sections[0].title, sections[0].text);

    use relu_symmetries::ndarray::array;
    let a = array![[0.0, 2.0, 0.0], [1.5, 0.0, 0.0], [0.0, 0.0, 0.5]];
    match theory::relu_commutation(&a, 1e-12)? {
        theory::ReluCommutation::Commutes(c) => println!("commutes: {:?}", c.scaled_permutation),
        theory::ReluCommutation::DoesNotCommute(f) => println!("does not commute: {f:?}"),
    };

    println!("{}\n{}", sections[1].title, sections[1].text);

    for s in &sections[2..4] {
        println!("{}\n{}\n", s.title, s.text);
    };

    for s in &sections[4..] {
        println!("{}\n{}\n", s.title, s.text);
    }
    println!("every verdict as the theory predicts: {}", report.all_as_predicted());
    Ok(())
}
