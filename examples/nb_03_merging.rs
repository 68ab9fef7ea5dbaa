//! Generated from notebooks/03-merging.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::display::{Markdown, Svg};
    use relu_symmetries::experiments::study::{StudySpec, PairResult, report::{StudyReport, markdown_tables, strongest_repair}, figures};
    use relu_symmetries::experiments::merge::Method;
    use relu_symmetries::merge::RepairMode;
    use relu_symmetries::notebook::{repo, scratch};
    let spec = StudySpec::decisive();
    let study = StudyReport::build(&spec, &repo().join("runs/study"), &repo().join("results/study"))?;
    let tables = markdown_tables(&study);
    fn table(tables: &[(String, String)], stem: &str) -> Markdown {
        Markdown(tables.iter().find(|t| t.0 == stem).map(|t| t.1.clone()).unwrap_or_else(|| format!("no table {stem}")))
    }
    table(&tables, "headline-activation");

    let out = scratch("03-merging")?;
    Svg::draw(&out.join("headline.svg"), |p| figures::headline_figure(&study, Method::Activation, p))?;

    let pairs = repo().join("results/study/pairs");
    let gcnn = PairResult::read(&pairs.join("gcnn-flip-s0-activation.json"))?;
    let ordinary = PairResult::read(&pairs.join("twin-flip-s0--flip-s1-activation.json"))?;
    fn shown(r: &PairResult) -> Vec<relu_symmetries::experiments::merge::MergeOutcome> {
        [RepairMode::None, strongest_repair()].iter().filter_map(|&m| r.outcome(m).cloned()).collect()
    }
    let (g, o) = (shown(&gcnn), shown(&ordinary));
    Svg::draw(&out.join("curves.svg"), |p| figures::curves_figure("flip-s0", Method::Activation, &g.iter().collect::<Vec<_>>(), &o.iter().collect::<Vec<_>>(), figures::CurveMetric::Accuracy, p))?;

    use relu_symmetries::{device::DeviceChoice, notebook, train::Checkpoint};
    use relu_symmetries::experiments::merge::{MergeConfig, Partner, merge_experiments};
    let a = "flip-s0";
    let partner: Option<&str> = None;
    let cfg = MergeConfig {
        method: Method::Activation,
        alphas: vec![0.0, 0.25, 0.5, 0.75, 1.0],
        stats_images: 2000,
        eval_images: Some(2000), // a class-stratified sample of the test set; None: all 10,000
        ..spec.merge.clone()
    };
    let repairs = [RepairMode::None, RepairMode::BnReset, RepairMode::Repair];
    let (splits, _) = notebook::cifar10()?;
    let cpu = DeviceChoice::Cpu.resolve(); // burn's flex backend; `cpu.device` is the device
    let runs = repo().join("runs/study");
    let net = Checkpoint::open(&runs.join(a))?.load_model(&cpu.device)?;
    let twin = match partner {
        Some(b) => Some(Checkpoint::open(&runs.join(b))?.load_model(&cpu.device)?),
        None => None,
    };
    let started = std::time::Instant::now();
    let mine = merge_experiments(&net, twin.as_ref().map_or(Partner::Flip, Partner::Twin), &cfg, &repairs, &splits, &cpu.device, false)?;
    format!("{} merges in {:.0} s", mine.len(), started.elapsed().as_secs_f64());

    use relu_symmetries::experiments::study::report::repair_name;
    for oc in &mine {
        let b = &oc.barriers;
        println!(
            "{:>9}: midpoint accuracy barrier {:.2} points, midpoint loss barrier {:.3} nats",
            repair_name(oc.config.repair),
            100.0 * b.midpoint_accuracy.unwrap_or(f64::NAN),
            b.midpoint_loss.unwrap_or(f64::NAN)
        );
    }
    mine[0].curve_table();

    // In a block: top-level variables in evcxr must not borrow each other (`refs` borrows `mine`).
    let figure = {
        let refs: Vec<_> = mine.iter().collect();
        let (gcnn_side, twin_side): (Vec<_>, Vec<_>) = if partner.is_none() { (refs, Vec::new()) } else { (Vec::new(), refs) };
        Svg::draw(&out.join("mine.svg"), |p| figures::curves_figure(a, cfg.method, &gcnn_side, &twin_side, figures::CurveMetric::Accuracy, p))?
    };
    figure;
    Ok(())
}
