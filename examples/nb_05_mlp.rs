//! Generated from notebooks/05-mlp.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    use relu_symmetries::experiments::mlp_conjecture::*;
    let rows = mlp_conjecture(&MlpConjectureConfig { seeds: vec![0], steps: 5000, weight_decay: 1e-2, ..MlpConjectureConfig::default() }).unwrap();
    for r in rows { println!("{:<7} invariance {:.3} layer errors {:?}", r.variant, r.invariance_error, r.layer_errors); }
}
