//! Generated from notebooks/03-merging.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    use relu_symmetries::{data::SyntheticSpec, device::DeviceChoice, train::*, experiments::merge::*, merge::RepairMode};
    let splits = SyntheticSpec { n_train: 600, n_test: 200, ..SyntheticSpec::default() }.generate();
    let info = || relu_symmetries::data::DatasetInfo::describe(relu_symmetries::data::DatasetKind::Synthetic, None, &splits);
    let mut nets = Vec::new();
    for seed in [0u64, 1] {
        let cfg = TrainConfig { model: ModelKind::Vgg11Bn, width: 0.125, epochs: 3, batch_size: 50, warmup_epochs: 0.5, seed, ..TrainConfig::default() };
        let out = format!("/tmp/nb-merge-{seed}");
        let opts = TrainOptions { out: out.clone().into(), resume: false, progress: false, log_epochs: false, stop_after: None, keep_epochs: Vec::new() };
        train(&cfg, &splits, info(), &DeviceChoice::Cpu.resolve(), &opts).unwrap();
        nets.push(Checkpoint::open(std::path::Path::new(&out)).unwrap().load_model(&burn::tensor::Device::flex()).unwrap());
    }

    let cfg = MergeConfig { repair: RepairMode::BnReset, alphas: vec![0.0, 0.5, 1.0], stats_images: 400, batch_size: 200, ..MergeConfig::default() };
    let d = burn::tensor::Device::flex();
    let gcnn = merge_experiment(&nets[0], Partner::Flip, &cfg, &splits, &d, false).unwrap();
    let ordinary = merge_experiment(&nets[0], Partner::Twin(&nets[1]), &cfg, &splits, &d, false).unwrap();
    println!("GCNN barrier {:?}\nordinary barrier {:?}", gcnn.barriers, ordinary.barriers);
}
