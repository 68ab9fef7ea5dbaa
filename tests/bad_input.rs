//! Every parser against damaged input: truncated, bit-flipped, overwritten and random bytes derived
//! from a valid file (seeded, so a failure reproduces). No input may panic, and every error must
//! name the file it is about. Each test prints how many inputs it ran.

mod common;

use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use relu_symmetries::data::cifar::{folder_spec, parse_cifar_batch};
use relu_symmetries::data::fashion_mnist::{parse_idx, read_idx};
use relu_symmetries::data::image_folder::load_image_folder;
use relu_symmetries::experiments::results::{MergeReport, read_result};
use relu_symmetries::experiments::study::PairResult;
use relu_symmetries::train::{Checkpoint, ModelKind};

/// `n` damaged variants of `valid`: truncations, bit flips, overwritten spans, random bytes.
fn mutations(valid: &[u8], n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec![Vec::new(), valid[..valid.len() / 2].to_vec()];
    while out.len() < n {
        let mut v = valid.to_vec();
        match rng.random_range(0..4) {
            0 => v.truncate(rng.random_range(0..valid.len().max(1))),
            1 => {
                for _ in 0..rng.random_range(1..9) {
                    let i = rng.random_range(0..v.len().max(1));
                    if let Some(b) = v.get_mut(i) {
                        *b ^= 1 << rng.random_range(0..8);
                    }
                }
            }
            2 => {
                let start = rng.random_range(0..v.len().max(1));
                let end = (start + rng.random_range(1..64)).min(v.len());
                for b in &mut v[start..end] {
                    *b = rng.random();
                }
            }
            _ => v = (0..rng.random_range(0..2 * valid.len().max(1))).map(|_| rng.random()).collect(),
        }
        out.push(v);
    }
    out
}

/// Run `parse` on every input: no panic, and errors name `file`. Returns (inputs, errors).
fn check_all<T, E: std::fmt::Display>(what: &str, inputs: &[Vec<u8>], file: &str, mut parse: impl FnMut(&[u8]) -> Result<T, E>) -> (usize, usize) {
    let mut errors = 0;
    for (i, input) in inputs.iter().enumerate() {
        match catch_unwind(AssertUnwindSafe(|| parse(input))) {
            Err(_) => panic!("{what}: input {i} ({} bytes) panicked", input.len()),
            Ok(Err(e)) => {
                errors += 1;
                let msg = e.to_string();
                assert!(msg.contains(file), "{what}: input {i}: error does not name {file}: {msg}");
            }
            Ok(Ok(_)) => {}
        }
    }
    eprintln!("{what}: {} damaged inputs, {errors} rejected with an error naming the file, none panicked", inputs.len());
    (inputs.len(), errors)
}

fn cifar_records(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).flat_map(|_| std::iter::once(rng.random_range(0..10u8)).chain((0..3072).map(|_| rng.random::<u8>())).collect::<Vec<_>>()).collect()
}

#[test]
fn cifar_binary_batches_never_panic_and_errors_name_the_file() {
    let path = Path::new("/data/cifar-10-batches-bin/data_batch_1.bin");
    let inputs = mutations(&cifar_records(4, 1), 500, 1);
    // Any byte is a valid pixel, so a flipped pixel bit is a valid batch; what must be rejected is
    // an empty file, a length that is not whole records, and a label byte outside 0..10.
    let invalid = inputs.iter().filter(|b| b.is_empty() || b.len() % 3073 != 0 || b.chunks(3073).any(|r| r[0] >= 10)).count();
    let (_, errors) = check_all("CIFAR binary batch", &inputs, "data_batch_1.bin", |b| parse_cifar_batch(path, b, "cifar10/train"));
    assert_eq!(errors, invalid, "exactly the malformed batches are rejected");
}

fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn idx_files_never_panic_and_errors_name_the_file() {
    let valid = idx_bytes(0x0000_0803, &[3, 4, 4], &[7; 48]);
    let path = Path::new("/data/fashion/train-images-idx3-ubyte");
    let (n, errors) = check_all("IDX (in memory)", &mutations(&valid, 500, 2), "train-images-idx3-ubyte", |b| parse_idx(path, b, 0x0000_0803));
    assert!(errors > n / 2);
    // through the file reader too, gzip-compressed (damage to the compressed stream)
    let dir = common::temp_dir("fuzz-idx");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&valid).unwrap();
    let gz = gz.finish().unwrap();
    let file = dir.join("t10k-images-idx3-ubyte.gz");
    check_all("IDX (.gz file)", &mutations(&gz, 200, 3), "t10k-images-idx3-ubyte.gz", |b| {
        std::fs::write(&file, b).unwrap();
        read_idx(&file, 0x0000_0803)
    });
}

fn png(rng: &mut StdRng) -> Vec<u8> {
    let img = image::RgbImage::from_fn(32, 32, |_, _| image::Rgb([rng.random(), rng.random(), rng.random()]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn image_folder_archives_never_panic_and_errors_name_the_archive() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut tar = tar::Builder::new(Vec::new());
    for split in ["train", "test"] {
        for class in ["airplane", "cat"] {
            let bytes = png(&mut rng);
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("cifar10-images/{split}/{class}/0.png"), bytes.as_slice()).unwrap();
        }
    }
    let tar = tar.into_inner().unwrap();
    let gz = |raw: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    };
    let dir = common::temp_dir("fuzz-tar");
    let file = dir.join("cifar10-images.tar.gz");
    let spec = folder_spec();
    let load = |b: &[u8]| {
        std::fs::write(&file, b).unwrap();
        load_image_folder(&file, &spec)
    };
    // the valid archive loads
    assert_eq!(load(&gz(&tar)).unwrap().train.len, 2);
    // damage to the compressed stream, and to the tar (headers, PNG bytes) under intact gzip
    let (a, _) = check_all("image-folder .tar.gz (gzip damaged)", &mutations(&gz(&tar), 150, 5), "cifar10-images.tar.gz", load);
    let tar_damaged: Vec<Vec<u8>> = mutations(&tar, 150, 6).iter().map(|t| gz(t)).collect();
    let (b, _) = check_all("image-folder .tar.gz (tar damaged)", &tar_damaged, "cifar10-images.tar.gz", load);
    assert_eq!(a + b, 300);
}

#[test]
fn checkpoints_never_panic_and_errors_name_the_file() {
    let splits = common::tiny_splits(100, 50, 8);
    let dir = common::temp_dir("fuzz-ckpt");
    common::quick_train(&common::quick_config(ModelKind::Vgg11Bn, 1, 0), &splits, &dir, false);
    let config = std::fs::read(dir.join("config.json")).unwrap();
    let model = std::fs::read(dir.join("model.bpk")).unwrap();
    let metrics = std::fs::read(dir.join("metrics.jsonl")).unwrap();
    let device = Device::flex();
    let mut total = 0;
    total += check_all("checkpoint config.json", &mutations(&config, 300, 9), "config.json", |b| {
        std::fs::write(dir.join("config.json"), b).unwrap();
        Checkpoint::open(&dir)
    })
    .0;
    std::fs::write(dir.join("config.json"), &config).unwrap();
    total += check_all("checkpoint model.bpk", &mutations(&model, 150, 10), "model.bpk", |b| {
        std::fs::write(dir.join("model.bpk"), b).unwrap();
        Checkpoint::open(&dir).unwrap().load_model(&device)
    })
    .0;
    std::fs::write(dir.join("model.bpk"), &model).unwrap();
    total += check_all("checkpoint metrics.jsonl", &mutations(&metrics, 200, 11), "metrics.jsonl", |b| {
        std::fs::write(dir.join("metrics.jsonl"), b).unwrap();
        Checkpoint::open(&dir).unwrap().metrics()
    })
    .0;
    assert_eq!(total, 650);
}

#[test]
fn result_files_never_panic_and_errors_name_the_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let merge = std::fs::read(root.join("results/cpu/merge-gcnn-activation-repair.json")).unwrap();
    let pair = std::fs::read(root.join("results/study/pairs/gcnn-flip-s0-activation.json")).unwrap();
    let dir = common::temp_dir("fuzz-results");
    let (f1, f2) = (dir.join("merge-x.json"), dir.join("gcnn-x.json"));
    check_all("merge result JSON", &mutations(&merge, 300, 12), "merge-x.json", |b| {
        std::fs::write(&f1, b).unwrap();
        read_result::<MergeReport>(&f1)
    });
    check_all("study pair result JSON", &mutations(&pair, 200, 13), "gcnn-x.json", |b| {
        std::fs::write(&f2, b).unwrap();
        PairResult::read(&f2)
    });
}
