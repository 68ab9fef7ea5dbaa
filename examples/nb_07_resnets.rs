//! Generated from notebooks/07-resnets.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::device::DeviceChoice;
    use relu_symmetries::display::{Markdown, Svg};
    use relu_symmetries::experiments::resnet_flip::{FlipProbeConfig, flip_probe};
    let cpu = DeviceChoice::Cpu.resolve(); // burn's flex backend; `cpu.device` is the device
    let probe_cfg = FlipProbeConfig { resnet50: vec![(1.0 / 16.0, vec![32, 33, 64, 65])], resnet20: vec![(0.5, vec![32, 33])], images: 4, seed: 0 };
    let probe = flip_probe(&probe_cfg, &cpu.device, &cpu.description)?;
    Markdown(probe.markdown());

    use relu_symmetries::experiments::merge::Method;
    use relu_symmetries::experiments::study::{Design, figures, report::{StudyReport, markdown_tables}};
    use relu_symmetries::notebook::{repo, scratch};
    let design = Design::Resnet;
    let spec = design.spec();
    let study = StudyReport::build(&spec, &repo().join(design.runs()), &repo().join(design.results()))?;
    let tables = markdown_tables(&study);
    fn table(tables: &[(String, String)], stem: &str) -> Markdown {
        Markdown(tables.iter().find(|t| t.0 == stem).map(|t| t.1.clone()).unwrap_or_else(|| format!("no table {stem}")))
    }
    table(&tables, "nets");

    table(&tables, "headline-activation");

    let out = scratch("07-resnets")?;
    Svg::draw(&out.join("headline.svg"), |p| figures::headline_figure(&study, Method::Activation, p))?;

    use relu_symmetries::experiments::merge::{MergeConfig, Partner, merge_experiments};
    use relu_symmetries::experiments::study::report::repair_name;
    use relu_symmetries::merge::RepairMode;
    use relu_symmetries::{notebook, train::Checkpoint};
    let a = "flip-s0";
    let partner: Option<&str> = None;
    let cfg = MergeConfig {
        method: Method::Activation,
        alphas: vec![0.0, 0.5, 1.0],
        stats_images: 1000,
        eval_images: Some(1000), // a class-stratified sample of the test set; None: all 10,000
        ..spec.merge.clone()
    };
    let repairs = [RepairMode::None, RepairMode::BnReset, RepairMode::Repair];
    let (splits, _) = notebook::cifar10()?;
    let runs = repo().join(design.runs());
    let net = Checkpoint::open(&runs.join(a))?.load_model(&cpu.device)?;
    let twin = match partner {
        Some(b) => Some(Checkpoint::open(&runs.join(b))?.load_model(&cpu.device)?),
        None => None,
    };
    let started = std::time::Instant::now();
    let mine = merge_experiments(&net, twin.as_ref().map_or(Partner::Flip, Partner::Twin), &cfg, &repairs, &splits, &cpu.device, false)?;
    for oc in &mine {
        let b = &oc.barriers;
        println!(
            "{:>9}: midpoint accuracy barrier {:.2} points, midpoint loss barrier {:.3} nats",
            repair_name(oc.config.repair),
            100.0 * b.midpoint_accuracy.unwrap_or(f64::NAN),
            b.midpoint_loss.unwrap_or(f64::NAN)
        );
    }
    format!("{} merges in {:.0} s", mine.len(), started.elapsed().as_secs_f64());

    // In a block: top-level variables in evcxr must not borrow each other (`refs` borrows `mine`).
    let figure = {
        let refs: Vec<_> = mine.iter().collect();
        let (gcnn_side, twin_side): (Vec<_>, Vec<_>) = if partner.is_none() { (refs, Vec::new()) } else { (Vec::new(), refs) };
        Svg::draw(&out.join("mine.svg"), |p| figures::curves_figure(a, cfg.method, &gcnn_side, &twin_side, figures::CurveMetric::Accuracy, p))?
    };
    figure;
    Ok(())
}
