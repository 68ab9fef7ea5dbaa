# Recipes that rebuild data, results, figures, notebooks and the book.
# `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

cifar_url := "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
# The dev profile optimises every dependency (opt-level 3), so this shares one build with `cargo test`.
relusym := "cargo run --quiet --bin relusym --"

default:
    @just --list

# Put CIFAR-10 under data/cifar10: unpack $CIFAR10_ARCHIVE if set, else download the official binaries.
# (relusym itself also reads $CIFAR10_ARCHIVE directly, without unpacking.)
data:
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p data/cifar10
    if [ -n "${CIFAR10_ARCHIVE:-}" ]; then
        echo "unpacking $CIFAR10_ARCHIVE into data/cifar10"
        tar -xzf "$CIFAR10_ARCHIVE" -C data/cifar10
    elif [ ! -e data/cifar10/cifar-10-batches-bin ]; then
        echo "downloading the official CIFAR-10 binaries"
        curl -fL --retry 3 -o data/cifar-10-binary.tar.gz {{cifar_url}}
        tar -xzf data/cifar-10-binary.tar.gz -C data/cifar10
    fi
    {{relusym}} train --dataset cifar10 --data data/cifar10 --scale smoke --out runs/data-check --json > /dev/null
    echo "data/cifar10 is ready (decoded cache in data/cache)"

# The main job: the `cpu` preset on CIFAR-10 — two seeds with flip augmentation, one without, one GCNN.
train-cpu:
    {{relusym}} train --dataset cifar10 --scale cpu --device cpu --seed 0 --out runs/cpu/flip-s0 --resume
    {{relusym}} train --dataset cifar10 --scale cpu --device cpu --seed 1 --out runs/cpu/flip-s1 --resume
    {{relusym}} train --dataset cifar10 --scale cpu --device cpu --seed 0 --no-flip-aug --out runs/cpu/noflip-s0 --resume
    {{relusym}} train --dataset cifar10 --scale cpu --device cpu --seed 0 --model gcnn --out runs/cpu/gcnn-s0 --resume

# The decisive study: train its nets (hours on 2 cores; resumable — run again to continue).
# Its checkpoints are committed under runs/study, so a fresh clone needs no training.
study-train:
    {{relusym}} study train --device cpu

# The ResNet design: two flip-augmented CIFAR ResNet-20s (about 45 minutes each on 2 cores;
# resumable). Committed under runs/resnet.
resnet-train:
    {{relusym}} study train --design resnet --device cpu

# What the study has trained and measured, and what is missing.
study-plan:
    {{relusym}} study plan

# Every study measurement whose nets are trained and whose result is missing (results/study/pairs).
# Delete a result file to measure it again.
results:
    {{relusym}} study measure --device cpu
    {{relusym}} study measure --design resnet --device cpu
    [ -f results/resnet/resnet-flip.json ] || {{relusym}} resnet-flip --device cpu --out results/resnet

# GCNN and ordinary barriers of the cpu-preset nets, both matching methods, with and without REPAIR.
results-cpu:
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p results/cpu
    for m in activation weight; do
        {{relusym}} align --a runs/cpu/flip-s0 --flip --method $m --device cpu --out results/cpu/align-flip-$m --json > results/cpu/align-flip-$m.json
        {{relusym}} align --a runs/cpu/flip-s0 --b runs/cpu/flip-s1 --method $m --device cpu --out results/cpu/align-twin-$m --json > results/cpu/align-twin-$m.json
        for rep in none repair; do
            {{relusym}} merge --a runs/cpu/flip-s0 --flip --method $m --repair $rep --device cpu --out results/cpu/merge-gcnn-$m-$rep --json > results/cpu/merge-gcnn-$m-$rep.json
            {{relusym}} merge --a runs/cpu/flip-s0 --b runs/cpu/flip-s1 --method $m --repair $rep --device cpu --out results/cpu/merge-twin-$m-$rep --json > results/cpu/merge-twin-$m-$rep.json
        done
    done

# The MLP conjecture experiment at two weight decays (trains 12 small MLPs), with its Markdown tables
# for the book. `relusym mlp-conjecture --from DIR --markdown OUT` re-renders saved results alone.
mlp:
    {{relusym}} mlp-conjecture --out results/cpu/mlp-wd5e-4 --markdown book/src/generated/mlp-wd5e-4
    {{relusym}} mlp-conjecture --weight-decay 1e-2 --out results/cpu/mlp-wd1e-2 --markdown book/src/generated/mlp-wd1e-2

# Figures and tables for the book: the study (runs/study, results/study) and the earlier cpu preset.
figures:
    {{relusym}} study report --out book/src/generated/study
    {{relusym}} study report --design resnet --out book/src/generated/resnet
    {{relusym}} figures --runs runs/cpu --results results/cpu --out book/src/generated
    {{relusym}} theory --out book/src/generated/theory

# A few-second end-to-end check on generated data.
smoke:
    {{relusym}} train --dataset synthetic --scale smoke --device cpu --out runs/smoke
    {{relusym}} eval --checkpoint runs/smoke --device cpu

# Throughput of VGG11 at widths 0.25, 0.5, 1 (batch 500).
bench device="auto":
    {{relusym}} bench --device {{device}}

# Paired benchmark against PyTorch (bench/paired.py): sets up bench/.venv with PyTorch from PyPI (run
# on the CPU with 2 threads), alternates relusym and PyTorch on identical work for `rounds` rounds
# (VGG11 training and inference at widths 0.25/0.5/1 with and without BatchNorm, and the whole
# flip-self merge pipeline), writes results/cpu/bench-paired.json and regenerates the Speed chapter's
# table from it. 3–6 minutes a round on 2 cores by machine: run it on a quiet machine.
bench-paired rounds="3":
    #!/usr/bin/env bash
    set -euo pipefail
    just bench-venv
    cargo build --quiet --bin relusym
    bench/.venv/bin/python bench/paired.py --relusym target/debug/relusym --rounds {{rounds}} \
        --checkpoint runs/study/flip-s0 --out results/cpu/bench-paired.json
    {{relusym}} figures --runs runs/cpu --results results/cpu --out book/src/generated

# The same paired benchmark with relusym on burn's LibTorch backend (`--device libtorch`, the
# `libtorch` feature): writes results/cpu/bench-paired-libtorch.json (or `out`: the Intel Xeon's
# run is `just bench-paired-libtorch 3 results/cpu/bench-paired-libtorch-intel-xeon-auto.json`)
# and regenerates the tables.
bench-paired-libtorch rounds="3" out="results/cpu/bench-paired-libtorch.json":
    #!/usr/bin/env bash
    set -euo pipefail
    just libtorch
    bench/.venv/bin/python bench/paired.py --relusym target/libtorch/relusym --device libtorch --rounds {{rounds}} \
        --checkpoint runs/study/flip-s0 --out {{out}}
    {{relusym}} figures --runs runs/cpu --results results/cpu --out book/src/generated

# The same on LibTorch with PyTorch given relusym's heap setting (glibc's MALLOC_MMAP_MAX_=0 and
# MALLOC_TRIM_THRESHOLD_, src/allocator.rs): how much of each ratio is the allocator.
# Writes results/cpu/bench-paired-libtorch-pytorch-heap.json.
# `out` names another file for a run on another machine (the ones committed beside it:
# `just bench-paired-libtorch-pytorch-heap 3 results/cpu/bench-paired-libtorch-pytorch-heap-intel-xeon-auto.json`,
# and with RELUSYM_LAYOUT=channels-last or nchw the -intel-xeon and -intel-xeon-nchw files).
# relusym measures LibTorch's batch layout per width unless RELUSYM_LAYOUT fixes it.
bench-paired-libtorch-pytorch-heap rounds="3" out="results/cpu/bench-paired-libtorch-pytorch-heap.json":
    #!/usr/bin/env bash
    set -euo pipefail
    just libtorch
    bench/.venv/bin/python bench/paired.py --relusym target/libtorch/relusym --device libtorch --rounds {{rounds}} --pytorch-heap keep-freed \
        --checkpoint runs/study/flip-s0 --out {{out}}
    {{relusym}} figures --runs runs/cpu --results results/cpu --out book/src/generated

# Keeps a copy of the flex build as target/flex/relusym, since `just libtorch` rebuilds
# target/debug/relusym with the `libtorch` feature; bench/pipeline_steps.py alternates the sides.
# The merge pipeline step by step, flex and LibTorch against the PyTorch port: results/cpu/pipeline-steps.txt
bench-pipeline-steps rounds="2":
    #!/usr/bin/env bash
    set -euo pipefail
    just bench-venv
    cargo build --quiet --bin relusym
    mkdir -p target/flex
    cp target/debug/relusym target/flex/relusym.tmp && mv target/flex/relusym.tmp target/flex/relusym
    just libtorch
    bench/.venv/bin/python bench/pipeline_steps.py --relusym target/libtorch/relusym:libtorch --relusym target/flex/relusym:cpu \
        --rounds {{rounds}} --checkpoint runs/study/flip-s0 --out results/cpu/pipeline-steps.txt

# The same flip-self merge on flex and on LibTorch: same permutations, accuracies and losses?
# Writes results/cpu/same-merge.txt (needs the CIFAR-10 archive, like the paired runs).
same-merge:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --quiet --bin relusym
    mkdir -p target/flex
    cp target/debug/relusym target/flex/relusym.tmp && mv target/flex/relusym.tmp target/flex/relusym
    just libtorch
    python3 bench/same_merge.py --relusym target/flex/relusym:cpu --relusym target/libtorch/relusym:libtorch \
        --checkpoint runs/study/flip-s0 --out results/cpu/same-merge.txt

# Two alternating rounds under perf, with glibc's malloc defaults and with relusym's heap setting
# (src/allocator.rs); writes results/cpu/merge-profile.txt.
# Where the CPU time of the LibTorch merge goes, by kind of work
profile-merge:
    just libtorch
    bench/.venv/bin/python bench/profile_merge.py --relusym target/libtorch/relusym --device libtorch \
        --checkpoint runs/study/flip-s0 --out results/cpu/merge-profile.txt

# On VGG11's convolutions; writes results/cpu/conv-backward.txt.
# A convolution's backward in PyTorch: its own kernel against burn's generic formulas
bench-conv-backward:
    just bench-venv
    bench/.venv/bin/python bench/conv_backward.py --widths 0.25,1 --threads 2 --out results/cpu/conv-backward.txt

# 2x2 max-pooling in PyTorch: its kernel (with indices) against the strided maxima that relusym's
# LibTorch build runs for inference (vendor/burn-tch); writes results/cpu/max-pool.txt.
bench-max-pool:
    just bench-venv
    OMP_NUM_THREADS=2 bench/.venv/bin/python bench/max_pool.py > results/cpu/max-pool.txt.tmp
    mv results/cpu/max-pool.txt.tmp results/cpu/max-pool.txt

# 2x2 max-pooling in relusym's LibTorch build: the shim's kernels (plain layout) against the
# strided maxima and aten's kernels (channels-last), forward without and with indices and the
# gradient; writes results/cpu/max-pool-shim.txt.
bench-max-pool-shim:
    #!/usr/bin/env bash
    set -euo pipefail
    just bench-venv
    lib=$(bench/.venv/bin/python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
    PATH="$PWD/bench/.venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo build --quiet --profile dev --features libtorch --bench max_pool_shim
    bin=$(ls -t target/debug/deps/max_pool_shim-* | grep -v '\.d$' | head -1)
    { echo "# $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), OMP_NUM_THREADS=2; just bench-max-pool-shim"
      OMP_NUM_THREADS=2 LD_LIBRARY_PATH="$lib" "$bin"; } > results/cpu/max-pool-shim.txt.tmp
    mv results/cpu/max-pool-shim.txt.tmp results/cpu/max-pool-shim.txt

# PyTorch for the benchmarks in bench/.venv: CPU threads only, version 2.9.0 because burn 0.22's
# LibTorch backend (tch 0.22) links against exactly that version.
bench-venv:
    #!/usr/bin/env bash
    set -euo pipefail
    [ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
    bench/.venv/bin/python -c "import torch, numpy, PIL, scipy; assert torch.__version__.startswith('2.9.0')" 2>/dev/null \
        || bench/.venv/bin/python -m pip install --quiet torch==2.9.0 numpy pillow scipy

# relusym with burn's LibTorch backend, linked against bench/.venv's PyTorch, as
# target/libtorch/relusym (run it with `--device libtorch`). The binary carries the path of
# PyTorch's libraries (an rpath, added to its own link step only, so no dependency is rebuilt). The
# build shares target/ with the default one but leaves target/debug/relusym built with the
# `libtorch` feature until the next plain `cargo build`.
libtorch:
    #!/usr/bin/env bash
    set -euo pipefail
    just bench-venv
    lib=$(bench/.venv/bin/python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
    PATH="$PWD/bench/.venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo rustc --quiet --bin relusym --features libtorch \
        -- -C link-arg=-Wl,-rpath,"$lib"
    mkdir -p target/libtorch
    cp target/debug/relusym target/libtorch/relusym.tmp && mv target/libtorch/relusym.tmp target/libtorch/relusym

# The LibTorch backend's own tests (tests/libtorch.rs: the same training and flip-self merge as on
# flex), built with the `libtorch` feature against bench/.venv's PyTorch.
test-libtorch:
    #!/usr/bin/env bash
    set -euo pipefail
    just bench-venv
    lib=$(bench/.venv/bin/python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
    PATH="$PWD/bench/.venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1 LD_LIBRARY_PATH="$lib" cargo test --features libtorch --test libtorch

# The wgpu backend's test (tests/gpu.rs: training steps and a forward pass against flex) on any
# wgpu adapter, e.g. Mesa's lavapipe (`apt-get install mesa-vulkan-drivers libvulkan1`).
test-gpu:
    cargo test --features gpu --test gpu -- --ignored

# GPU throughput next to PyTorch-CUDA on the same card (bench/gpu.sh; for a lent GPU machine:
# needs a Vulkan driver for wgpu and python3 with CUDA-enabled torch). Writes results/gpu/.
bench-gpu:
    bench/gpu.sh

# Every test (what CI runs).
test:
    cargo test

# Build the book (needs mdbook 0.5: `cargo install mdbook --version ^0.5`): regenerate tables and
# figures, render the executed notebooks into it, and build it into book/book.
book: figures notebooks-book
    mdbook build book

# The executed notebooks as book pages (Markdown with their output images) in
# book/src/generated/notebooks; run `just notebooks` first to refresh their outputs.
notebooks-book:
    #!/usr/bin/env bash
    set -euo pipefail
    out=book/src/generated/notebooks
    rm -rf "$out" && mkdir -p "$out"
    for nb in notebooks/*.ipynb; do
        jupyter nbconvert --to markdown --output-dir "$out" "$nb" 2>&1 | grep -v '^\[NbConvertApp\] Writing' || true
    done

# Install Jupyter and the Rust kernel (evcxr_jupyter) and register the kernel: the notebooks' set-up.
notebooks-setup:
    python3 -m pip install --quiet jupyter nbconvert nbclient ipykernel
    cargo install --locked evcxr_jupyter
    evcxr_jupyter --install

# Execute every notebook in place with its outputs, timing each (notebooks/timings.jsonl).
notebooks:
    notebooks/execute.sh

# Execute one notebook, e.g. `just notebook 01-theory`.
notebook name:
    notebooks/execute.sh {{name}}

# Run the study's jobs that are not done, here, in dependency order: writes them to runs/jobs.sh first.
# On a Slurm cluster instead: `relusym study jobs --format slurm > submit.sh` and `bash submit.sh` on a login node.
study-jobs:
    {{relusym}} study jobs --format shell > runs/jobs.sh
    RELUSYM="{{relusym}}" bash runs/jobs.sh
