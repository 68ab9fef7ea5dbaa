//! torchvision's ResNet50: its derived permutation spec, the flipped network's deviation, loading
//! torchvision-layout weight files (safetensors and PyTorch's zip `.pth`, both written here by
//! hand), and `relusym imagenet` end to end — on tiny random ResNet50s (width 1/16, a few
//! classes) and tiny generated image folders.

mod common;

use std::path::Path;
use std::process::Command;

use burn::module::Param;
use burn::nn::BatchNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use relu_symmetries::align::{Perm, PermSpec, apply_perms, identity_perms};
use relu_symmetries::experiments::imagenet::ImagenetReport;
use relu_symmetries::group::D4;
use relu_symmetries::nets::{ResNet50, ResNet50Config, WeightsError};
use relu_symmetries::testing::{max_abs_diff, one_space_then_all, random_images, relative_diff, with_random_batch_norms};

/// A tiny ResNet50 whose BatchNorms hold random statistics and affine maps (so that permuting
/// them is not trivially harmless).
fn resnet50(cfg: &ResNet50Config, seed: u64) -> ResNet50 {
    with_random_batch_norms(&cfg.init(&Device::flex(), seed).unwrap(), seed + 100)
}

fn tiny(classes: usize) -> ResNet50Config {
    ResNet50Config::new(1.0 / 16.0, classes)
}

#[test]
fn permuting_any_residual_stage_of_the_derived_resnet50_spec_leaves_the_logits_unchanged() {
    let net = resnet50(&tiny(7), 1);
    let spec = PermSpec::from_structure(&net.structure()).unwrap();
    let x = random_images(&Device::flex(), 3, 3, 32, 2);
    let y = net.forward(x.clone());
    let mut rng = StdRng::seed_from_u64(3);
    let streams: Vec<usize> = spec.groups.iter().enumerate().filter(|(_, g)| !g.name.contains('.')).map(|(i, _)| i).collect();
    assert_eq!(streams.len(), 5, "the stem and one stream per stage");
    let sets = one_space_then_all(&spec, &streams, &mut rng);
    for (k, perms) in sets.iter().enumerate() {
        let permuted = net.with_params(&apply_perms(&net.to_params(), &spec, perms).unwrap());
        assert_ne!(permuted.to_params(), net.to_params(), "set {k} moved nothing");
        let err = relative_diff(y.clone(), permuted.forward(x.clone()));
        assert!(err < 1e-4, "set {k}: the permuted ResNet50 differs by {err} (relative)");
    }
    // a stream permuted in one block's write only is not a symmetry: the spec must hold every
    // writer of the stream in one group
    let layer3 = spec.groups.iter().position(|g| g.name == "layer3").unwrap();
    let mut p = identity_perms(&spec);
    p[layer3] = Perm::random(spec.groups[layer3].size, &mut rng);
    let mut params = net.to_params();
    let moved = apply_perms(&params, &spec, &p).unwrap();
    for leaf in ["conv3.weight", "bn3.gamma", "bn3.beta", "bn3.running_mean", "bn3.running_var"] {
        let name = format!("layer3.2.{leaf}");
        params.insert(name.clone(), moved[&name].clone());
    }
    assert!(relative_diff(y, net.with_params(&params).forward(x)) > 1e-2, "permuting one block's write into a stream should change the function");
}

/// The batch shifted right by one column (zeros enter on the left).
fn shifted(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    Tensor::cat(vec![Tensor::zeros([n, c, h, 1], &x.device()), x.slice([0..n, 0..c, 0..h, 0..w - 1])], 3)
}

#[test]
fn the_flipped_resnet50_is_exact_without_strides_and_on_odd_sizes_and_its_even_size_deviation_shrinks_with_the_image() {
    let device = Device::flex();
    // no strides: exact on any size
    let flat = resnet50(&tiny(5).strided(false).with_blocks([1, 1, 1, 1]), 4);
    let x = random_images(&device, 2, 3, 16, 5);
    let err = relative_diff(flat.forward(D4::HFLIP.apply(x.clone())), flat.flipped().forward(x));
    assert!(err < 1e-4, "stride-1 ResNet50: flipped net differs from f∘hflip by {err}");
    // torchvision's strides: exact where every stride-2 layer sees an odd width
    // (33 → 17 → 9 → 5 → 3 → 2; 225 → 113 → 57 → 29 → 15 → 8)
    let net = resnet50(&tiny(5), 6);
    for size in [33, 225] {
        let x = random_images(&device, 2, 3, size, 7);
        let err = relative_diff(net.forward(D4::HFLIP.apply(x.clone())), net.flipped().forward(x));
        assert!(err < 1e-4, "{size}×{size}: flipped net differs from f∘hflip by {err}");
    }
    // even sizes (224 in the experiment): every stride-2 layer samples the mirror images of the
    // columns f samples, shifted by one; the error is not zero, and it shrinks as the image grows
    let mut devs = Vec::new();
    for (size, seed) in [(32, 8), (64, 9), (128, 10), (224, 11)] {
        let x = random_images(&device, 4, 3, size, seed);
        let target = net.forward(D4::HFLIP.apply(x.clone()));
        let flipped_dev = relative_diff(target.clone(), net.flipped().forward(x.clone()));
        let plain_dev = relative_diff(target, net.forward(x.clone()));
        let y = net.forward(x.clone());
        let shift_dev = relative_diff(y, net.forward(shifted(x)));
        eprintln!(
            "tiny ResNet50 (width 1/16), {size}×{size}, random weights, max-abs relative logit deviation: flipped net vs f∘hflip {flipped_dev:.4}; for scale: f vs f∘hflip {plain_dev:.4}, f vs f∘(1-pixel shift) {shift_dev:.4}"
        );
        assert!(flipped_dev > 1e-5, "{size}: a strided flipped ResNet50 on an even size is not exact ({flipped_dev})");
        devs.push(flipped_dev);
    }
    assert!(devs.windows(2).all(|w| w[1] < w[0]), "the deviation should shrink as the image grows: {devs:?}");
    assert!(devs[3] < 0.25, "at 224×224 the flipped net stays within 25 % of the logit scale: {devs:?}");
}

/// A tensor of a hand-written safetensors file: name, dtype, shape, little-endian bytes.
type Entry = (String, &'static str, Vec<usize>, Vec<u8>);

fn f32_entry(name: String, shape: Vec<usize>, values: &[f32]) -> Entry {
    (name, "F32", shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// `net`'s parameters in torchvision's state-dict names and layouts, spelled here independently
/// of the library: BatchNorm `weight`/`bias`, `downsample.0`/`.1`, `fc.weight` as `[out, in]`,
/// and torch's `num_batches_tracked` counters (int64 scalars).
fn torchvision_state(net: &ResNet50) -> Vec<Entry> {
    let mut out = Vec::new();
    let conv = |out: &mut Vec<Entry>, name: &str, c: &Conv2d| out.push(f32_entry(format!("{name}.weight"), c.weight.dims().to_vec(), &values(c.weight.val())));
    let bn = |out: &mut Vec<Entry>, name: &str, b: &BatchNorm| {
        let c = b.gamma.dims().to_vec();
        out.push(f32_entry(format!("{name}.weight"), c.clone(), &values(b.gamma.val())));
        out.push(f32_entry(format!("{name}.bias"), c.clone(), &values(b.beta.val())));
        out.push(f32_entry(format!("{name}.running_mean"), c.clone(), &values(b.running_mean.value_sync())));
        out.push(f32_entry(format!("{name}.running_var"), c, &values(b.running_var.value_sync())));
        out.push((format!("{name}.num_batches_tracked"), "I64", vec![], 1000i64.to_le_bytes().to_vec()));
    };
    conv(&mut out, "conv1", &net.conv1);
    bn(&mut out, "bn1", &net.bn1);
    for (k, stage) in net.layers.iter().enumerate() {
        for (i, b) in stage.iter().enumerate() {
            let l = format!("layer{}.{i}", k + 1);
            conv(&mut out, &format!("{l}.conv1"), &b.conv1);
            bn(&mut out, &format!("{l}.bn1"), &b.bn1);
            conv(&mut out, &format!("{l}.conv2"), &b.conv2);
            bn(&mut out, &format!("{l}.bn2"), &b.bn2);
            conv(&mut out, &format!("{l}.conv3"), &b.conv3);
            bn(&mut out, &format!("{l}.bn3"), &b.bn3);
            if let Some(d) = &b.downsample {
                conv(&mut out, &format!("{l}.downsample.0"), &d.conv);
                bn(&mut out, &format!("{l}.downsample.1"), &d.bn);
            }
        }
    }
    let [n_in, n_out] = net.fc.weight.dims();
    let w = values(net.fc.weight.val());
    let transposed: Vec<f32> = (0..n_out * n_in).map(|j| w[(j % n_in) * n_out + j / n_in]).collect();
    out.push(f32_entry("fc.weight".into(), vec![n_out, n_in], &transposed));
    let bias: &Param<Tensor<1>> = net.fc.bias.as_ref().unwrap();
    out.push(f32_entry("fc.bias".into(), vec![n_out], &values(bias.val())));
    out
}

/// Write a safetensors file by hand: 8-byte little-endian header length, JSON header (padded
/// with spaces to a multiple of 8), then the tensors' bytes back to back.
fn write_safetensors(path: &Path, entries: &[Entry]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, dtype, shape, bytes) in entries {
        header.insert(name.clone(), serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes.len()]}));
        offset += bytes.len();
    }
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut json = serde_json::to_string(&header).unwrap().into_bytes();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend(json);
    for (_, _, _, bytes) in entries {
        file.extend(bytes);
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, file).unwrap();
}

#[test]
fn a_torchvision_layout_safetensors_file_loads_to_the_same_logits_and_bad_files_name_the_tensor() {
    let dir = common::temp_dir("r50-load");
    let net = resnet50(&tiny(6).with_blocks([2, 1, 3, 1]), 10);
    let state = torchvision_state(&net);
    let path = dir.join("resnet50.safetensors");
    write_safetensors(&path, &state);
    let loaded = ResNet50::from_torchvision(&path, &Device::flex()).unwrap();
    assert_eq!(loaded.config(), net.config(), "the architecture is read off the file");
    assert_eq!(loaded.to_params(), net.to_params());
    let x = random_images(&Device::flex(), 2, 3, 32, 11);
    assert_eq!(max_abs_diff(net.forward(x.clone()), loaded.forward(x)), 0.0);

    let check = |entries: Vec<Entry>, tag: &str, what: &dyn Fn(&WeightsError) -> bool, tensor: &str| {
        let p = dir.join(format!("{tag}.safetensors"));
        write_safetensors(&p, &entries);
        let e = ResNet50::from_torchvision(&p, &Device::flex()).unwrap_err();
        assert!(what(&e), "{tag}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&p.display().to_string()) && msg.contains(tensor), "{tag}: {msg}");
    };
    let without = |name: &str| state.iter().filter(|e| e.0 != name).cloned().collect::<Vec<_>>();
    check(without("layer3.1.bn2.running_var"), "missing", &|e| matches!(e, WeightsError::Missing { .. }), "layer3.1.bn2.running_var");
    let mut wrong = state.clone();
    let k = wrong.iter().position(|e| e.0 == "layer2.0.conv2.weight").unwrap();
    let (c, ci) = (wrong[k].2[0], wrong[k].2[1]);
    wrong[k] = f32_entry("layer2.0.conv2.weight".into(), vec![c, ci, 1, 1], &vec![0.0; c * ci]);
    check(wrong, "shape", &|e| matches!(e, WeightsError::Shape { .. }), "layer2.0.conv2.weight");
    let mut extra = state.clone();
    extra.push(f32_entry("layer4.7.conv1.bias".into(), vec![2], &[0.0, 1.0]));
    check(extra, "extra", &|e| matches!(e, WeightsError::Unexpected { .. }), "layer4.7.conv1.bias");
    std::fs::write(dir.join("garbage.pth"), b"not a checkpoint").unwrap();
    let e = ResNet50::from_torchvision(&dir.join("garbage.pth"), &Device::flex()).unwrap_err();
    assert!(matches!(e, WeightsError::Read { .. }) && e.to_string().contains("garbage.pth"), "{e}");
}

/// Write `entries` as PyTorch writes a state dict with `torch.save` (the zip format): a stored
/// zip holding `archive/data.pkl` (a protocol-2 pickle of an `OrderedDict` of tensors rebuilt by
/// `torch._utils._rebuild_tensor_v2` from persistent storage ids), `archive/data/<key>` (each
/// storage's raw little-endian bytes), `archive/byteorder` and `archive/version`.
#[cfg(feature = "pytorch")]
fn write_pth(path: &Path, entries: &[Entry]) {
    let mut pkl: Vec<u8> = vec![0x80, 2];
    let global = |p: &mut Vec<u8>, module: &str, name: &str| p.extend(format!("c{module}\n{name}\n").as_bytes());
    let text = |p: &mut Vec<u8>, s: &str| {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    };
    let int = |p: &mut Vec<u8>, v: usize| {
        p.push(b'J');
        p.extend((v as i32).to_le_bytes());
    };
    global(&mut pkl, "collections", "OrderedDict");
    pkl.extend(b")R(");
    let mut files: Vec<(String, Vec<u8>)> = vec![("archive/byteorder".into(), b"little".to_vec()), ("archive/version".into(), b"3\n".to_vec())];
    for (key, (name, dtype, shape, bytes)) in entries.iter().enumerate() {
        text(&mut pkl, name);
        global(&mut pkl, "torch._utils", "_rebuild_tensor_v2");
        pkl.extend(b"((");
        text(&mut pkl, "storage");
        global(&mut pkl, "torch", if *dtype == "F32" { "FloatStorage" } else { "LongStorage" });
        text(&mut pkl, &key.to_string());
        text(&mut pkl, "cpu");
        int(&mut pkl, shape.iter().product());
        pkl.extend(b"tQ");
        int(&mut pkl, 0);
        pkl.push(b'(');
        shape.iter().for_each(|&d| int(&mut pkl, d));
        pkl.extend(b"t(");
        (0..shape.len()).for_each(|i| int(&mut pkl, shape[i + 1..].iter().product()));
        pkl.extend(b"t\x89");
        global(&mut pkl, "collections", "OrderedDict");
        pkl.extend(b")RtR");
        files.push((format!("archive/data/{key}"), bytes.clone()));
    }
    pkl.extend(b"u.");
    files.insert(0, ("archive/data.pkl".into(), pkl));
    // a zip of stored (uncompressed) members
    let (mut zip, mut central) = (Vec::new(), Vec::new());
    let u16le = |v: &mut Vec<u8>, x: usize| v.extend((x as u16).to_le_bytes());
    let u32le = |v: &mut Vec<u8>, x: usize| v.extend((x as u32).to_le_bytes());
    for (name, data) in &files {
        let (offset, crc) = (zip.len(), crc32fast::hash(data) as usize);
        u32le(&mut zip, 0x0403_4b50);
        for x in [20, 0, 0, 0, 0x21] {
            u16le(&mut zip, x);
        }
        for x in [crc, data.len(), data.len()] {
            u32le(&mut zip, x);
        }
        u16le(&mut zip, name.len());
        u16le(&mut zip, 0);
        zip.extend(name.as_bytes());
        zip.extend(data);
        u32le(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, 0, 0, 0x21] {
            u16le(&mut central, x);
        }
        for x in [crc, data.len(), data.len()] {
            u32le(&mut central, x);
        }
        for x in [name.len(), 0, 0, 0, 0] {
            u16le(&mut central, x);
        }
        u32le(&mut central, 0);
        u32le(&mut central, offset);
        central.extend(name.as_bytes());
    }
    let cd_offset = zip.len();
    zip.extend(&central);
    u32le(&mut zip, 0x0605_4b50);
    for x in [0, 0, files.len(), files.len()] {
        u16le(&mut zip, x);
    }
    u32le(&mut zip, central.len());
    u32le(&mut zip, cd_offset);
    u16le(&mut zip, 0);
    std::fs::write(path, zip).unwrap();
}

#[cfg(feature = "pytorch")]
#[test]
fn a_torchvision_pth_state_dict_loads_to_the_same_logits() {
    let dir = common::temp_dir("r50-pth");
    let net = resnet50(&tiny(4).with_blocks([1, 1, 2, 1]), 13);
    let path = dir.join("resnet50.pth");
    write_pth(&path, &torchvision_state(&net));
    let loaded = ResNet50::from_torchvision(&path, &Device::flex()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config(), net.config());
    assert_eq!(loaded.to_params(), net.to_params());
    let x = random_images(&Device::flex(), 2, 3, 32, 14);
    assert_eq!(max_abs_diff(net.forward(x.clone()), loaded.forward(x)), 0.0);
}

/// `DIR/<class>/<n>.{png,JPEG}` images of varied sizes, colour drawn from the class.
fn image_folder(dir: &Path, classes: &[&str], per_class: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (k, class) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..per_class {
            let (w, h) = (rng.random_range(36..60u32), rng.random_range(36..60u32));
            let base = [(k * 80) as u8, rng.random_range(0..255u8), 128];
            let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([base[0].wrapping_add((x * 3) as u8), base[1], base[2].wrapping_add((y * 2) as u8)]));
            if i % 2 == 0 {
                img.save_with_format(dir.join(class).join(format!("{i}.JPEG")), image::ImageFormat::Jpeg).unwrap();
            } else {
                img.save_with_format(dir.join(class).join(format!("{i}.png")), image::ImageFormat::Png).unwrap();
            }
        }
    }
}

#[test]
fn relusym_imagenet_runs_end_to_end_on_a_tiny_resnet50_and_image_folders() {
    let dir = common::temp_dir("r50-cli");
    let classes = ["n01440764", "n01443537", "n01484850"];
    image_folder(&dir.join("train"), &classes, 4, 1);
    image_folder(&dir.join("val"), &classes, 3, 2);
    let net = resnet50(&tiny(classes.len()).with_blocks([1, 2, 1, 1]), 12);
    let weights = dir.join("weights.safetensors");
    write_safetensors(&weights, &torchvision_state(&net));
    let out = dir.join("out");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let mut args: Vec<String> =
        ["imagenet", "--weights", &s(&weights), "--train", &s(&dir.join("train")), "--val", &s(&dir.join("val"))].iter().map(|a| a.to_string()).collect();
    args.extend(["--stats-images", "8", "--val-images", "6", "--resize", "36", "--crop", "32", "--batch", "4", "--device", "cpu"].map(String::from));
    args.extend(["--out".to_string(), s(&out)]);
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_relusym")).args(&args).args(extra).output().expect("relusym runs");
        assert!(o.status.success(), "relusym imagenet failed:\n{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let report: ImagenetReport = serde_json::from_str(run(&["--json"]).trim()).expect("--json prints an ImagenetReport");
    assert_eq!((report.val_images, report.stats_images), (6, 8));
    assert_eq!(report.architecture, net.config());
    let models: Vec<&str> = report.rows.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(
        models,
        ["original", "all kernels flipped", "merged without alignment", "merged, aligned", "merged, aligned + BN reset", "merged, aligned + REPAIR"]
    );
    for r in &report.rows {
        assert!((0.0..=1.0).contains(&r.top1) && r.top5 >= r.top1 && r.loss.is_finite(), "{r:?}");
        assert!((r.top1 * 6.0 - (r.top1 * 6.0).round()).abs() < 1e-9, "top-1 counts images: {r:?}");
    }
    assert_eq!(report.rows[1].top5, 1.0, "three classes: every label is in the top 5");
    assert_eq!(report.flip_deviation.images, 4, "measured on the first batch");
    assert_eq!(report.spaces.len(), net.structure().spaces.len());
    let figure = report.figure.as_ref().expect("--out writes the figure");
    assert!(std::fs::metadata(figure).unwrap().len() > 1000, "{}", figure.display());
    for file in ["first-layer-filters.png", "imagenet.csv", "imagenet.json"] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let text = run(&[]);
    for needle in ["original", "merged, aligned + REPAIR", "notebook top-1 %", "80.86", "first-layer-filters.png", "ms per validation image"] {
        assert!(text.contains(needle), "the table lacks {needle:?}:\n{text}");
    }
    // a validation folder whose classes do not fit the network is an error naming both
    image_folder(&dir.join("val2"), &classes[..2], 1, 3);
    let o = Command::new(env!("CARGO_BIN_EXE_relusym"))
        .args(["imagenet", "--weights", &s(&weights), "--train", &s(&dir.join("train")), "--val", &s(&dir.join("val2")), "--device", "cpu", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("val2") && stderr.contains("2 class folders") && stderr.contains("3 outputs"), "{stderr}");
}

/// A one-off measurement on this machine (`cargo test --test resnet50 -- --ignored --nocapture`):
/// a random full-width ResNet50 (4 classes, so that a 4-class folder fits): the flipped network's
/// deviation at 224×224, the forward cost per image, and `run_imagenet`'s cost per image on 8
/// statistics and 8 validation JPEGs of 500×375.
#[test]
#[ignore = "a measurement: full-width ResNet50 on the CPU, minutes"]
fn measure_a_full_width_resnet50_on_this_machine() {
    use relu_symmetries::device::DeviceChoice;
    use relu_symmetries::experiments::imagenet::{ImagenetConfig, run_imagenet};
    let device = Device::flex();
    let net = resnet50(&ResNet50Config::new(1.0, 4), 20);
    let x = random_images(&device, 4, 3, 224, 21);
    let t = std::time::Instant::now();
    let y = net.forward(x.clone());
    let _ = y.clone().into_data();
    let forward_ms = 1e3 * t.elapsed().as_secs_f64() / 4.0;
    let target = net.forward(D4::HFLIP.apply(x.clone()));
    let flipped_dev = relative_diff(target.clone(), net.flipped().forward(x.clone()));
    let plain_dev = relative_diff(target, y);
    eprintln!(
        "full-width ResNet50, random weights, 224×224: forward {forward_ms:.0} ms per image (batch 4); flipped net vs f∘hflip {flipped_dev:.4}, f vs f∘hflip {plain_dev:.4} (max-abs, relative)"
    );

    let dir = common::temp_dir("r50-measure");
    let classes = ["a", "b", "c", "d"];
    for split in ["train", "val"] {
        for (k, class) in classes.iter().enumerate() {
            std::fs::create_dir_all(dir.join(split).join(class)).unwrap();
            for i in 0..2 {
                let img = image::RgbImage::from_fn(500, 375, |px, py| image::Rgb([(px / 2) as u8, (py / 2) as u8, (k * 60 + i * 7) as u8]));
                img.save_with_format(dir.join(split).join(class).join(format!("{i}.JPEG")), image::ImageFormat::Jpeg).unwrap();
            }
        }
    }
    let weights = dir.join("resnet50.safetensors");
    write_safetensors(&weights, &torchvision_state(&net));
    let cfg = ImagenetConfig { stats_images: 8, batch_size: 4, out: Some(dir.join("out")), ..ImagenetConfig::new(weights, dir.join("train"), dir.join("val")) };
    let report = run_imagenet(&cfg, &DeviceChoice::Cpu.resolve(), false).unwrap();
    eprintln!("{report}");
}
