#!/usr/bin/env python3
"""Where the CPU time of a flip-self merge goes, by kind of work, with and without the heap setting.

Runs the benchmarked merge (`relusym merge --device D --flip --method activation --repair bn-reset
--alphas 0,0.5,1 --stats-images 5000`) under `perf record` (sampling both threads' CPU time),
once with glibc's malloc defaults (`RELUSYM_MALLOC=glibc`) and once with relusym's own setting
(freed memory kept in the heap, `src/allocator.rs`), alternating for `--rounds` rounds, and sorts
the samples into categories by library and symbol: the convolutions (oneDNN, whose kernels are
generated at run time and show as `[JIT]`), element-wise kernels, max-pooling, matrix products,
the OpenMP runtime, the kernel's page-fault and page-zeroing code, the rest of the kernel, relusym's
own code and everything else. Shares are of all samples of the process.

    bench/.venv/bin/python bench/profile_merge.py --relusym target/libtorch/relusym --device libtorch \\
        --checkpoint runs/study/flip-s0 --out results/cpu/merge-profile.txt
"""
import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import add_merge_args, write_atomic  # noqa: E402

PAGE_FAULT = re.compile(r"clear_page|page_fault|do_anonymous_page|handle_mm_fault|__handle_mm_fault|folio|lru|memcg|"
                        r"alloc_pages|get_page_from_freelist|rmqueue|unmap|zap_|free_pages|free_unref|release_pages|"
                        r"mas_|vma|mmap|munmap|do_user_addr_fault|charge|pte|tlb")
CATEGORIES = ["convolution", "element-wise", "max-pool", "matrix product", "OpenMP runtime",
              "kernel: page faults and zeroing", "kernel: other", "relusym", "other"]


def category(dso, sym):
    if dso.startswith("[JIT]") or "dnnl" in sym or "brgemm" in sym or "jit_" in sym:
        return "convolution"
    if dso == "[kernel.kallsyms]":
        return "kernel: page faults and zeroing" if PAGE_FAULT.search(sym) else "kernel: other"
    if "max_pool" in sym:
        return "max-pool"
    if "gemm" in sym or "mkl_" in sym:
        return "matrix product"
    if "VectorizedLoop" in sym or "vectorized_" in sym or "reduce" in sym.lower() or "Reduction" in sym:
        return "element-wise"
    if dso.startswith("libgomp"):
        return "OpenMP runtime"
    if dso == "relusym" or "relu_symmetries" in sym or "burn" in sym:
        return "relusym"
    return "other"


def profile(cmd, env):
    """(category → share of the samples in %, the merge's own total seconds)."""
    out = tempfile.mktemp(suffix=".perf")
    rec = subprocess.run(["perf", "record", "-q", "-F", "999", "-o", out, "--"] + cmd, env=env,
                         capture_output=True, text=True)
    if rec.returncode != 0:
        sys.exit(f"perf record failed:\n{rec.stderr[-2000:]}")
    seconds = json.loads(rec.stdout[rec.stdout.index("{"):])["seconds"]["total"]
    rep = subprocess.run(["perf", "report", "-i", out, "--stdio", "--no-children", "--sort", "dso,sym", "-g", "none",
                          "--percent-limit", "0"], capture_output=True, text=True, check=True)
    os.unlink(out)
    shares = collections.Counter()
    for line in rep.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S.*?)\s+\[(.)\]\s+(.*)", line)
        if m:
            shares[category(m.group(2).strip(), m.group(4))] += float(m.group(1))
    return shares, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--relusym", default="target/libtorch/relusym")
    ap.add_argument("--device", default="libtorch")
    add_merge_args(ap)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="results/cpu/merge-profile.txt")
    a = ap.parse_args()
    cmd = [a.relusym, "merge", "--device", a.device, "--json", "--a", a.checkpoint, "--flip", "--method", "activation",
           "--repair", "bn-reset", "--alphas", "0,0.5,1", "--stats-images", "5000", "--data", a.data]
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "RELUSYM_MALLOC")}
    base.update(OMP_NUM_THREADS=str(a.threads), RAYON_NUM_THREADS=str(a.threads))
    sides = {"glibc defaults": dict(base, RELUSYM_MALLOC="glibc"), "freed memory kept": base}
    runs = {k: [] for k in sides}
    for r in range(a.rounds):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            runs[name].append(profile(cmd, sides[name]))
            print(f"round {r + 1} {name}: {runs[name][-1][1]:.1f} s", flush=True)

    lines = [
        f"# CPU time of the flip-self merge by kind of work, {datetime.date.today()}, relusym on {a.device}, "
        f"{a.threads} threads, {a.rounds} alternating rounds of perf record -F 999 (both threads' samples):",
        "#   bench/profile_merge.py --relusym " + a.relusym + " --device " + a.device + " --checkpoint " + a.checkpoint,
        "#   (merge: " + " ".join(cmd[1:-2]) + "); per column: share of the process's samples, each round; last row: the merge's own total seconds",
    ]
    width = max(len(c) for c in CATEGORIES)
    head = f"{'category':<{width}}  " + "  ".join(f"{n:>{12 * a.rounds + 2 * (a.rounds - 1)}}" for n in sides)
    lines.append(head)
    for c in CATEGORIES:
        cells = ["  ".join(f"{run[0].get(c, 0.0):11.1f}%" for run in runs[n]) for n in sides]
        lines.append(f"{c:<{width}}  " + "  ".join(cells))
    cells = ["  ".join(f"{run[1]:11.1f}s" for run in runs[n]) for n in sides]
    lines.append(f"{'merge total':<{width}}  " + "  ".join(cells))
    text = "\n".join(lines) + "\n"
    write_atomic(a.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
