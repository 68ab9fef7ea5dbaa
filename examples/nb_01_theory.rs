//! Generated from notebooks/01-theory.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused)]
#[rustfmt::skip]
fn main() {

    use relu_symmetries::theory::*;
    let report = theory_report(0);
    println!("{report}");

    let a = ndarray::array![[2.0, 0.0], [0.5, 1.0]];
    println!("{:?}", relu_commutation(&a, 1e-12));
}
