# Recipes that rebuild data, results, figures, notebooks and the book.
# `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

cifar_url := "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
relusym := "cargo run --release --quiet --bin relusym --"

default:
    @just --list

# Put CIFAR-10 under data/cifar10: unpack $CIFAR10_ARCHIVE if set, else download the official binaries.
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

# The main job: train the `cpu` preset on CIFAR-10, with and without flip augmentation.
train-cpu:
    {{relusym}} train --dataset cifar10 --data data/cifar10 --scale cpu --seed 0 --out runs/cpu/flip-s0
    {{relusym}} train --dataset cifar10 --data data/cifar10 --scale cpu --seed 0 --no-flip-aug --out runs/cpu/noflip-s0

# A few-second end-to-end check on generated data.
smoke:
    {{relusym}} train --dataset synthetic --scale smoke --device cpu --out runs/smoke
    {{relusym}} eval --checkpoint runs/smoke --device cpu

# Throughput of VGG11 at widths 0.25, 0.5, 1 (batch 500).
bench device="auto":
    {{relusym}} bench --device {{device}}

# Every test (what CI runs).
test:
    cargo test

# Build the book (needs mdbook 0.5: `cargo install mdbook --version ^0.5`).
book:
    mdbook build book

# Check the notebooks' Rust cells compile (needs evcxr_jupyter).
notebooks:
    @ls notebooks/*.ipynb
