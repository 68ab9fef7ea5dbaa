//! Generated from notebooks/05-mlp.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::display::Markdown;
    use relu_symmetries::experiments::mlp_conjecture::{MlpConjectureConfig, MlpConjectureReport, mlp_conjecture};
    use relu_symmetries::notebook::repo;
    let committed = MlpConjectureReport::read(&repo().join("results/cpu/mlp-wd5e-4"))?;
    Markdown(committed.markdown_tables().iter().map(|t| format!("**{}**\n\n{}", t.stem, t.text)).collect::<Vec<_>>().join("\n"));

    let cfg = MlpConjectureConfig { weight_decay: 1e-2, seeds: vec![0], ..MlpConjectureConfig::default() };
    let started = std::time::Instant::now();
    let rows = mlp_conjecture(&cfg)?;
    let mine = MlpConjectureReport { config: cfg, rows, seconds: Some(started.elapsed().as_secs_f64()) };
    println!("{:.0} s", mine.seconds.unwrap_or(0.0));
    Markdown(mine.markdown_tables().iter().map(|t| format!("**{}**\n\n{}", t.stem, t.text)).collect::<Vec<_>>().join("\n"));
    Ok(())
}
