//! Generated from notebooks/06-speed.ipynb by tests/notebooks.rs — edit the notebook, not this file.

#[allow(unused, clippy::all)]
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use relu_symmetries::display::Markdown;
    use relu_symmetries::notebook::repo;
    let tables = [
        ("relusym on flex", "bench-paired"),
        ("relusym on LibTorch", "bench-paired-libtorch"),
        ("relusym on LibTorch, PyTorch with the same heap setting", "bench-paired-libtorch-pytorch-heap"),
        ("relusym on LibTorch, latest run", "bench-paired-libtorch-intel-xeon-pool-shim"),
        ("relusym on LibTorch, latest run, PyTorch with the same heap setting", "bench-paired-libtorch-pytorch-heap-intel-xeon-pool-shim"),
    ];
    let page = tables
        .iter()
        .map(|(title, name)| {
            let table = std::fs::read_to_string(repo().join(format!("book/src/generated/{name}.md")))?;
            Ok(format!("### {title}\n\n{table}\n"))
        })
        .collect::<std::io::Result<String>>()?;
    Markdown(page.clone());

    use relu_symmetries::{bench, device::DeviceChoice};
    use relu_symmetries::tables::{Table, Values};
    let device = DeviceChoice::Cpu.resolve();
    let (widths, batch_norm, batch, warmup, steps) = ([0.125, 0.25], true, 128, 1, 3);
    let mut rows = Vec::new();
    for w in widths {
        rows.push(bench::bench_width(&device, w, batch_norm, batch, warmup, steps)?);
    }
    Table::new()
        .col("width", "", Values::F64(rows.iter().map(|r| r.width).collect()))
        .col("parameters", "", Values::I64(rows.iter().map(|r| r.params as i64).collect()))
        .col("training", "images/s", Values::F64(rows.iter().map(|r| r.train_images_per_s).collect()))
        .col("inference", "images/s", Values::F64(rows.iter().map(|r| r.infer_images_per_s).collect()));
    Ok(())
}
