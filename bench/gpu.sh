#!/usr/bin/env bash
# GPU throughput, relusym (burn's wgpu backend) next to PyTorch-CUDA on the same card: VGG11
# training steps and inference at widths 0.25 / 0.5 / 1, batch 500, without and with BatchNorm.
# For a lent GPU machine; nothing here runs in CI. Writes results/gpu/bench-gpu.json (both sides'
# BenchReport-shaped JSON, the card named by each) and prints the ratios.
#
#   bench/gpu.sh            # needs cargo, a Vulkan driver for wgpu, and python3 with torch (CUDA)
#
# Steps per width: 20 timed after 3 untimed (a GPU needs more than the CPU benchmark's 3 to settle).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-20}
warmup=${WARMUP:-3}
out=results/gpu
mkdir -p "$out"
cargo build --release --features gpu --bin relusym
python3 -c "import torch; assert torch.cuda.is_available(), 'PyTorch sees no CUDA device'"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
for bn in "" "--batch-norm"; do
    tag=${bn:+-bn}
    target/release/relusym bench --device gpu --widths 0.25,0.5,1 --batch 500 --steps "$steps" --warmup "$warmup" $bn --json \
        > "$out/relusym$tag.json"
    python3 bench/torch_vgg.py --device cuda --widths 0.25,0.5,1 --batch 500 --steps "$steps" --warmup "$warmup" $bn \
        > "$out/torch$tag.json"
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
report = {}
print(f"{'width':>6} {'BN':>3} {'relusym train/s':>16} {'torch train/s':>14} {'ratio':>6} {'relusym infer/s':>16} {'torch infer/s':>14} {'ratio':>6}")
for tag in ["", "-bn"]:
    r = json.load(open(out / f"relusym{tag}.json")); t = json.load(open(out / f"torch{tag}.json"))
    report[f"relusym{tag}"] = r; report[f"torch{tag}"] = t
    for a, b in zip(r["rows"], t["rows"]):
        tr, ir = a["train_images_per_s"] / b["train_images_per_s"], a["infer_images_per_s"] / b["infer_images_per_s"]
        print(f"{a['width']:>6} {'yes' if tag else 'no':>3} {a['train_images_per_s']:>16.0f} {b['train_images_per_s']:>14.0f} {tr:>6.2f} "
              f"{a['infer_images_per_s']:>16.0f} {b['infer_images_per_s']:>14.0f} {ir:>6.2f}")
(out / "bench-gpu.json").write_text(json.dumps(report, indent=1) + "\n")
print(f"relusym: {report['relusym']['device']}; PyTorch: {report['torch']['device']}")
PY
