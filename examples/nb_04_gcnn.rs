//! Generated from notebooks/04-gcnn.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::{device::DeviceChoice, group::D4, notebook, train::{self, Checkpoint}};
    use relu_symmetries::batches::Loader;
    use relu_symmetries::tables::{Table, Values};
    let nets = ["noflip-s0", "flip-s0", "inv-s0", "gcnn-s0"];
    let elements = [D4::HFLIP, D4::VFLIP, D4::ROT90, D4 { rot: 2, flip: false }];
    let images = 1000;
    let (splits, _) = notebook::cifar10()?;
    let cpu = DeviceChoice::Cpu.resolve(); // burn's flex backend; `cpu.device` is the device
    let runs = notebook::repo().join("runs/study");
    // In a block, so that the columns built here are not kept as top-level variables.
    let table = {
        let (mut name, mut element): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let (mut agreement, mut change, mut acc): (Vec<f64>, Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new(), Vec::new());
        for net in nets {
            let Ok(ck) = Checkpoint::open(&runs.join(net)) else { println!("{net}: not trained yet"); continue };
            let model = ck.load_model(&cpu.device)?;
            for &g in &elements {
                let inv = {
                    // a class-stratified sample of `images` test images (the test set is stored class by class)
                    let subset = splits.test.evaluation_subset(Some(images));
                    let loader = Loader::ordered(&subset, 500);
                    train::invariance_under(&model, g, &loader, &cpu.device, &notebook::quiet())
                };
                name.push(net.to_string());
                element.push(inv.element.clone());
                agreement.push(100.0 * inv.agreement);
                change.push(inv.relative_logit_change);
                acc.push(100.0 * inv.transformed_accuracy);
            }
        }
        Table::new()
            .col("net", "", Values::Str(name))
            .col("g", "", Values::Str(element))
            .col("agreement", "%", Values::F64(agreement))
            .col("relative logit change", "", Values::F64(change))
            .col("accuracy on g·x", "%", Values::F64(acc))
    };
    table;

    use relu_symmetries::display::{Markdown, Svg};
    use relu_symmetries::experiments::study::{StudySpec, PairResult, report::{StudyReport, markdown_tables}, figures};
    let pairs = notebook::repo().join("results/study/pairs");
    let out = notebook::scratch("04-gcnn")?;
    let mut panels = Vec::new();
    for net in ["flip-s0", "inv-s0", "gcnn-s0"] {
        let (Ok(res), Ok(ck)) = (PairResult::read(&pairs.join(format!("gcnn-{net}-activation.json"))), Checkpoint::open(&runs.join(net))) else {
            println!("{net}: not measured yet");
            continue;
        };
        panels.extend(figures::filter_panels(net, &ck.load_model(&cpu.device)?, &res.alignment));
    }
    Svg::draw(&out.join("filters.svg"), |p| figures::filters_figure(&panels, p))?;

    let spec = StudySpec::decisive();
    let study = StudyReport::build(&spec, &notebook::repo().join("runs/study"), &notebook::repo().join("results/study"))?;
    let net = "flip-s0";
    Svg::draw(&out.join("structure.svg"), |p| figures::structure_figure(&study.structure, net, relu_symmetries::experiments::merge::Method::Activation, p))?;

    let tables = markdown_tables(&study);
    Markdown(tables.iter().filter(|t| t.0 == format!("structure-{net}-activation") || t.0 == format!("errors-{net}-activation")).map(|t| t.1.clone()).collect::<Vec<_>>().join("\n\n"));
    Ok(())
}
