#!/usr/bin/env python3
"""The flip-self merge pipeline step by step: relusym (on each given binary and device) against the
PyTorch port, alternating, writing one line of per-step seconds per run.

Each round runs, one process at a time, every relusym binary given with `--relusym BIN:DEVICE` and
then `bench/repair_reference.py` (the order reversed in even rounds):

    relusym merge --device DEVICE --json --a CK --flip --method activation --repair R --alphas 0,0.5,1 --stats-images 5000
    bench/repair_reference.py --weights W --width WIDTH --stats-images 5000 --threads 2

(W: relusym's export of CK; R: bn-reset for a net with BatchNorm, repair otherwise) and records
each side's own `seconds` (relusym: align, stats, merge_repair, evaluate, total; the port: align,
merge_repair, evaluate, total). The text it writes is included by the book's Speed chapter.

    bench/.venv/bin/python bench/pipeline_steps.py --relusym target/libtorch/relusym:libtorch \\
        --relusym target/debug/relusym:cpu --data $CIFAR10_ARCHIVE --rounds 2 --out results/cpu/pipeline-steps.txt
"""
import argparse
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import HERE, add_merge_args, cpu_model, json_tail, relusym_sides, run, write_atomic  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--relusym", action="append", required=True, help="BIN:DEVICE, e.g. target/libtorch/relusym:libtorch (repeatable)")
    add_merge_args(ap)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stats-images", type=int, default=5000)
    ap.add_argument("--out", default="results/bench/pipeline-steps.txt")
    a = ap.parse_args()

    import torch

    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), RAYON_NUM_THREADS=str(a.threads))
    sides = relusym_sides(a.relusym)
    first_bin = sides[0][0]
    weights = os.path.join(tempfile.mkdtemp(prefix="relusym-steps-"), "weights.safetensors")
    run([first_bin, "export", "--checkpoint", a.checkpoint, "--out", weights], env)
    config = json.load(open(os.path.join(a.checkpoint, "config.json")))
    width = config["net"]["width"]
    repair = "bn-reset" if config["net"].get("batch_norm", False) else "repair"
    merge_args = ["--json", "--a", a.checkpoint, "--flip", "--method", "activation", "--repair", repair, "--alphas", "0,0.5,1",
                  "--stats-images", str(a.stats_images), "--data", a.data]
    port = [sys.executable, os.path.join(HERE, "repair_reference.py"), "--weights", weights, "--data", a.data, "--width", str(width),
            "--stats-images", str(a.stats_images), "--threads", str(a.threads)]

    lines = []
    for r in range(a.rounds):
        order = [("relusym", b, d) for b, d in sides] + [("port", None, None)]
        if r % 2 == 1:
            order.reverse()
        for kind, binary, device in order:
            if kind == "relusym":
                out, _, _, _ = run([binary, "merge", "--device", device] + merge_args, env)
                s = json_tail(out, binary)["seconds"]
                name = "relusym " + {"cpu": "flex", "libtorch": "libtorch"}.get(device, device)
                line = f"{name:17} align {s['align']:5.1f}  stats {s['stats']:5.1f}  merge_repair {s['merge_repair']:5.1f}  evaluate {s['evaluate']:5.1f}  total {s['total']:5.1f}"
            else:
                out, _, _, _ = run(port, env)
                s = json_tail(out, "the port")["seconds"]
                line = f"{'pytorch port':17} align {s['align']:5.1f}  merge_repair {s['merge_repair']:5.1f}  evaluate {s['evaluate']:5.1f}  total {s['total']:5.1f}"
            print(line, flush=True)
            lines.append(line)

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    head = [
        f"# Per-step seconds of the flip-self merge pipeline of {a.checkpoint} (width {width:g}, {repair}), {date},",
        f"# {cpu_model()}, {os.cpu_count()} cores, {a.threads} threads each; {a.rounds} alternating rounds, PyTorch {torch.__version__}:",
        f"#   relusym merge --device DEVICE {' '.join(merge_args)}",
        f"#   bench/repair_reference.py --weights W --width {width:g} --stats-images {a.stats_images} --threads {a.threads} (W: relusym export of the same net)",
        "# relusym: stats = the endpoint statistics' own pass (none for a VGG: read off the alignment's pass); merge_repair = BN reset (5,000 passes)",
        "# + variance ratios before/after (10,000); evaluate = 40,000 passes. Port: merge_repair = BN reset (5,000), evaluate = 80,000, align = layer by layer.",
    ]
    write_atomic(a.out, "\n".join(head + lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
