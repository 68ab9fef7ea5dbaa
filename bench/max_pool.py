#!/usr/bin/env python3
"""2x2 max-pooling with stride 2 in PyTorch, three ways, per VGG11 map and memory layout (not run in CI).

What vendor/burn-tch's `max_pool2d` replaces (PATCHED.md): `F.max_pool2d` on a tensor without autograd
(PyTorch's CPU kernel computes the argmax indices as well), against the element-wise maximum of the
even and odd rows, then of the even and odd columns (two `torch.maximum` over strided views: what
relusym's LibTorch build runs for inference), and, for training, the kernel with indices and its
backward. The maps are VGG11's pooled maps at batch 500 for widths 0.25 and 1, in the plain and the
channels-last layout. Prints milliseconds per call (the minimum of five means of ten calls each) and
checks that both forward ways give the same values.

    OMP_NUM_THREADS=2 bench/.venv/bin/python bench/max_pool.py > results/cpu/max-pool.txt
"""
import datetime
import time

import torch
import torch.nn.functional as F

from paired import cpu_model

SHAPES = [(500, 16, 32, 32), (500, 32, 16, 16), (500, 64, 32, 32), (500, 128, 16, 16), (500, 256, 8, 8)]


def ms(f):
    f()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            f()
        best = min(best, (time.perf_counter() - t) / 10 * 1e3)
    return best


def strided(x):
    rows = torch.maximum(x[:, :, 0::2, :], x[:, :, 1::2, :])
    return torch.maximum(rows[:, :, :, 0::2], rows[:, :, :, 1::2])


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print(f"# {datetime.date.today()}, {cpu_model()}, PyTorch {torch.__version__}, {torch.get_num_threads()} threads; ms per call")
    print(f"# {'map':22} {'layout':13} {'max_pool2d':>10} {'strided max':>11} {'with indices':>12} {'backward':>8}")
    for shape in SHAPES:
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(*shape).contiguous(memory_format=layout)
            with torch.inference_mode():
                assert torch.equal(F.max_pool2d(x, 2), strided(x)), shape
                pool, fast = ms(lambda: F.max_pool2d(x, 2)), ms(lambda: strided(x))
                y, idx = F.max_pool2d_with_indices(x, 2)
                g = torch.randn_like(y)
                with_idx = ms(lambda: F.max_pool2d_with_indices(x, 2))
                back = ms(lambda: torch.ops.aten.max_pool2d_with_indices_backward(g, x, [2, 2], [2, 2], [0, 0], [1, 1], False, idx))
            name = "channels-last" if layout == torch.channels_last else "plain"
            print(f"{'x'.join(map(str, shape)):24} {name:13} {pool:10.1f} {fast:11.1f} {with_idx:12.1f} {back:8.1f}")


if __name__ == "__main__":
    main()
