//! Generated from notebooks/02-training.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::display::{Markdown, Svg};
    use relu_symmetries::experiments::study::{StudySpec, report::{StudyReport, markdown_tables}, figures};
    use relu_symmetries::notebook::{repo, scratch};
    let spec = StudySpec::decisive();
    let study = StudyReport::build(&spec, &repo().join("runs/study"), &repo().join("results/study"))?;
    let tables = markdown_tables(&study);
    Markdown(tables.iter().find(|t| t.0 == "nets").map(|t| t.1.clone()).unwrap_or_default());

    use relu_symmetries::train::Checkpoint;
    use figures::TrainingCurve;
    let runs = ["noflip-s0", "flip-s0", "inv-s0"];
    let curves: Vec<(String, Vec<_>)> = runs
        .iter()
        .filter_map(|r| Some((r.to_string(), Checkpoint::open(&repo().join("runs/study").join(r)).ok()?.metrics().ok()?)))
        .collect();
    let out = scratch("02-training")?;
    Svg::draw(&out.join("accuracy.svg"), |p| figures::training_figure(&curves, TrainingCurve::Accuracy, p))?;

    Svg::draw(&out.join("loss.svg"), |p| figures::training_figure(&curves, TrainingCurve::Loss, p))?;

    Svg::draw(&out.join("flip-agreement.svg"), |p| figures::training_figure(&curves, TrainingCurve::FlipAgreement, p))?;

    Svg::draw(&out.join("logit-change.svg"), |p| figures::training_figure(&curves, TrainingCurve::LogitChange, p))?;

    use relu_symmetries::{device::DeviceChoice, notebook, train::{self, TrainConfig, TrainOptions}};
    let (splits, info) = notebook::cifar10()?;
    let cfg = TrainConfig {
        width: 0.125,
        epochs: 2,
        warmup_epochs: 0.5,
        eval_every: 1,
        subset: Some(5000),     // training images (a seeded random sample)
        test_subset: Some(2000), // a class-stratified sample of the test set
        flip_augmentation: true,
        invariance_loss: 0.0,   // 1.0 is the study's inv variant
        ..spec.config(relu_symmetries::experiments::study::Variant::Flip, 0.125, 0)
    };
    let opts = TrainOptions { out: out.join("mine"), resume: false, progress: false, log_epochs: true, stop_after: None, keep_epochs: Vec::new() };
    let summary = train::train(&cfg, &splits, info, &DeviceChoice::Cpu.resolve(), &opts)?;
    let mine = vec![("mine".to_string(), Checkpoint::open(&opts.out)?.metrics()?)];
    Svg::draw(&out.join("mine.svg"), |p| figures::training_figure(&mine, TrainingCurve::FlipAgreement, p))?;

    format!("test accuracy {:.2} %, flip agreement {:.2} %", 100.0 * summary.test.accuracy, 100.0 * summary.test.flip_agreement);
    Ok(())
}
