#!/usr/bin/env python3
"""PyTorch's side of `relusym bench`: VGG11 training and inference throughput on the CPU.

The same work as `relusym bench --widths W --batch B --steps S --warmup K [--batch-norm] --json`
(`src/bench.rs`): VGG11 at width W (REPAIR's CIFAR variant, `[64, M, 128, M, 256, 256, M, 512, 512,
M, 512, 512, M] x W`, optional BatchNorm after every conv, a linear classifier on the 1x1 map),
random N(0, 1) images of 3x32x32 and labels i mod 10, SGD with momentum 0.9 and weight decay 5e-4;
K untimed and S timed training steps (forward, cross-entropy, backward, step, then a read of the
loss), and S timed inference passes (eval mode, no autograd) after one untimed one. With
`--channels-last` the inputs are laid out channels-last in memory, as relusym's batches are (oneDNN
then keeps that layout through the network). Prints a JSON
object shaped like relusym's `BenchReport`: {"device": ..., "rows": [{width, batch_norm, batch,
train_images_per_s, infer_images_per_s, train_steps, params}]}.

    python3 bench/torch_vgg.py --widths 0.25,0.5,1 --batch 500 --steps 3 --warmup 1 --threads 2
    python3 bench/torch_vgg.py --device cuda --steps 20 --warmup 3     # on a GPU (bench/gpu.sh)
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class VGG(nn.Module):
    """VGG11 at width `w` (REPAIR's CIFAR variant), optional BatchNorm after every conv; the
    convs and norms in `features` are relusym's `convs.{i}` and `norms.{i}` in order."""

    def __init__(self, w, batch_norm=False):
        super().__init__()
        self.w, self.bn = w, batch_norm
        layers, c = [], 3
        for v in CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                o = max(1, round(v * w))
                layers.append(nn.Conv2d(c, o, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(o))
                layers.append(nn.ReLU(inplace=True))
                c = o
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def bench_width(w, batch_norm, batch, warmup, steps, device="cpu", channels_last=False):
    torch.manual_seed(0)
    model = VGG(w, batch_norm).to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=layout)
    y = torch.arange(batch, device=device) % 10
    model.train()
    timed = 0.0
    for s in range(warmup + steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if s >= warmup:
            timed += time.perf_counter() - t
    model.eval()
    xi = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=layout)
    reps = max(steps, 1)
    with torch.inference_mode():
        model(xi).sum().item()
        t = time.perf_counter()
        for _ in range(reps):
            model(xi).sum().item()
        infer = time.perf_counter() - t
    return {
        "width": w,
        "batch_norm": batch_norm,
        "batch": batch,
        "channels_last": channels_last,
        "train_images_per_s": batch * steps / max(timed, 1e-9),
        "infer_images_per_s": batch * reps / max(infer, 1e-9),
        "train_steps": steps,
        "params": params,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="0.25,0.5,1")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-norm", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU (each step ends with a read of the loss, which synchronises)")
    ap.add_argument("--channels-last", action="store_true",
                    help="inputs laid out channels-last in memory (as relusym's batches are); the model stays as created")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = [bench_width(float(w), a.batch_norm, a.batch, a.warmup, a.steps, a.device, a.channels_last) for w in a.widths.split(",")]
    if a.device == "cpu":
        device = f"PyTorch {torch.__version__} (CPU, {torch.get_num_threads()} threads)"
    else:
        device = f"PyTorch {torch.__version__} ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})"
    print(json.dumps({"device": device, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
