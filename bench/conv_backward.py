#!/usr/bin/env python3
"""A convolution's backward pass two ways, in PyTorch: its own kernel against burn's generic formulas.

burn 0.22's LibTorch backend (burn-tch) runs the forward convolution with PyTorch's kernel, but
not the backward pass: burn-autodiff asks the backend for the gradients of x and of the weight,
and burn-tch leaves both to burn-backend's generic formulas (`ops/modules/conv.rs`):

* x's gradient as a transposed convolution of the output's gradient with the weight
  (`conv2d_x_backward`), which burn-tch does run with PyTorch's `conv_transpose2d`;
* the weight's gradient as a convolution over swapped axes (`conv2d_weight_grad_no_groups`):
  x with batch and channels swapped, convolved with the output's gradient swapped the same way as
  its kernel, i.e. a convolution whose "kernel" is the whole feature map.

PyTorch's own training step calls `aten::convolution_backward`, oneDNN's backward kernels. This
script times both on the convolutions of VGG11 at the given widths (batch 500, 32x32 inputs,
channels-last as relusym feeds LibTorch, or the plain layout), checks that they agree, and prints
milliseconds per call (best of `--repeats`, the two ways alternating).

    bench/.venv/bin/python bench/conv_backward.py --widths 0.25,1 --threads 2 --out results/cpu/conv-backward.txt
"""
import argparse
import datetime
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import write_atomic  # noqa: E402

# VGG11's convolutions: (input channels, output channels, map side) at width 1.
VGG11 = [(3, 64, 32), (64, 128, 16), (128, 256, 8), (256, 256, 8), (256, 512, 4), (512, 512, 4), (512, 512, 2), (512, 512, 2)]


def pytorch_gradients(x, w, g, mask):
    """aten::convolution_backward for a 3x3 convolution with padding 1; `mask` picks (x, weight, bias)."""
    return torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)


def pytorch_backward(x, w, g):
    gx, gw, _ = pytorch_gradients(x, w, g, [True, True, False])
    return gx, gw


def burn_backward(x, w, g):
    # burn-backend conv2d_x_backward: a transposed convolution (output padding 0 for these shapes)
    gx = F.conv_transpose2d(g, w, None, stride=1, padding=1, output_padding=0, dilation=1)
    # burn-backend conv2d_weight_grad_no_groups: stride and dilation trade places
    gw = F.conv2d(x.transpose(0, 1), g.transpose(0, 1), None, stride=1, padding=1, dilation=1).transpose(0, 1)
    return gx, gw


def best(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="0.25,1")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--plain-layout", action="store_true", help="NCHW inputs instead of channels-last")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.contiguous_format if a.plain_layout else torch.channels_last
    lines = [
        f"# VGG11 convolutions' backward (gradients of x and weight), batch {a.batch}, {'plain' if a.plain_layout else 'channels-last'} "
        f"inputs, PyTorch {torch.__version__}, {a.threads} threads, {datetime.date.today()}; ms per call, best of {a.repeats}:",
        "#   bench/conv_backward.py --widths " + a.widths + f" --threads {a.threads}" + (" --plain-layout" if a.plain_layout else ""),
        "#   pytorch = aten::convolution_backward (what PyTorch's training runs); burn = burn-backend's formulas (what upstream burn-tch 0.22 runs; vendor/burn-tch runs PyTorch's)",
        "#   x ms / w ms: one gradient alone (PyTorch's kernel with one output, burn's formula); forward ms: the forward convolution",
        f"{'width':>5} {'layer':>5} {'cin':>4} {'cout':>4} {'side':>4} {'pytorch ms':>11} {'burn ms':>9} {'ratio':>6} "
        f"{'pt x ms':>8} {'pt w ms':>8} {'burn x ms':>10} {'burn w ms':>10} {'forward ms':>11}",
    ]
    print("\n".join(lines), flush=True)
    for width in [float(v) for v in a.widths.split(",")]:
        tp = tb = 0.0
        for k, (cin, cout, side) in enumerate(VGG11):
            cin = cin if k == 0 else max(1, int(cin * width))
            cout = max(1, int(cout * width))
            x = torch.randn(a.batch, cin, side, side).contiguous(memory_format=fmt)
            w = torch.randn(cout, cin, 3, 3) * 0.1
            g = torch.randn(a.batch, cout, side, side).contiguous(memory_format=fmt)
            px, pw = pytorch_backward(x, w, g)
            bx, bw = burn_backward(x, w, g)
            scale = max(pw.abs().max().item(), 1.0)
            assert torch.allclose(px, bx, rtol=1e-3, atol=1e-3 * max(px.abs().max().item(), 1.0)), "x gradients differ"
            assert torch.allclose(pw, bw, rtol=1e-3, atol=1e-3 * scale), "weight gradients differ"
            p_ms = b_ms = float("inf")
            for _ in range(2):  # alternate the two ways
                p_ms = min(p_ms, best(lambda: pytorch_backward(x, w, g), a.repeats))
                b_ms = min(b_ms, best(lambda: burn_backward(x, w, g), a.repeats))
            bx_ms = best(lambda: F.conv_transpose2d(g, w, None, stride=1, padding=1), a.repeats)
            bw_ms = best(lambda: F.conv2d(x.transpose(0, 1), g.transpose(0, 1), None, padding=1).transpose(0, 1), a.repeats)
            px_ms = best(lambda: pytorch_gradients(x, w, g, [True, False, False]), a.repeats)
            pw_ms = best(lambda: pytorch_gradients(x, w, g, [False, True, False]), a.repeats)
            f_ms = best(lambda: F.conv2d(x, w, None, padding=1), a.repeats)
            tp += p_ms
            tb += b_ms
            line = (f"{width:>5g} {k:>5} {cin:>4} {cout:>4} {side:>4} {p_ms:>11.1f} {b_ms:>9.1f} {b_ms / p_ms:>6.2f} "
                    f"{px_ms:>8.1f} {pw_ms:>8.1f} {bx_ms:>10.1f} {bw_ms:>10.1f} {f_ms:>11.1f}")
            lines.append(line)
            print(line, flush=True)
        line = f"{width:>5g} {'all':>5} {'':>4} {'':>4} {'':>4} {tp:>11.1f} {tb:>9.1f} {tb / tp:>6.2f}"
        lines.append(line)
        print(line, flush=True)
    if a.out:
        write_atomic(a.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
