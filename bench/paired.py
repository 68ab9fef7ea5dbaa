#!/usr/bin/env python3
"""Paired benchmark: relusym against PyTorch on identical work, alternating, with medians of ratios.

Each round runs, one process at a time and in alternating order (relusym first in odd rounds,
PyTorch first in even ones, so slow drifts of the machine cancel):

* VGG11 training steps and inference at widths 0.25 / 0.5 / 1, batch 500, without and with
  BatchNorm: `relusym bench --widths W ...` against `bench/torch_vgg.py --widths W ...` (one process
  per width, so each process's peak memory belongs to one width), and against the same with
  `--channels-last`. On LibTorch relusym lays its batches out in whichever memory layout it
  measures to be faster for the model (`src/batches.rs`, `choose_layout`; channels-last runs small
  widths up to twice as fast), unless RELUSYM_LAYOUT fixes one, and each row records which it used;
  PyTorch's default layout is the plain one, so each throughput row carries both PyTorch layouts and
  both ratios;
* the whole flip-self merge pipeline on the same exported weights (each side's own `total` seconds:
  matching, statistics, merge + repair, evaluation; and separately the process's wall time): `relusym merge --a CK --flip
  --method activation --repair R --alphas 0,0.5,1 --stats-images 5000` against
  `bench/repair_reference.py` (the CPU port of REPAIR's notebook code), R = bn-reset for a net with
  BatchNorm, repair otherwise. relusym runs twice per round: as it comes, which also measures the
  variance collapse at alpha = 1/2 (two more passes of the statistics stream), and with
  `--no-variance-ratios`, which computes what the port computes; both are compared with the same
  port run.

For every row it records each side's value per round, the per-round ratio (relusym's speed over
PyTorch's: > 1 means relusym is faster), the median ratio with its range, each process's peak
resident memory (`ru_maxrss` of the finished child, from `os.wait4`) and the machine's 1-minute load
average before each process. The JSON it writes is read by `relusym` (`PairedBench` in
`src/experiments/results.rs`), which renders the Speed chapter's table from it.

relusym's binary keeps freed memory in its heap (glibc's `M_MMAP_MAX=0`, `src/allocator.rs`); its
bench report says so and the JSON records it (`relusym_heap`). PyTorch runs with glibc's defaults,
or with `--pytorch-heap keep-freed` with the same settings through glibc's environment variables
(`pytorch_heap`), to show how much of a ratio is the allocator.

relusym runs on `--device cpu` (burn's flex backend, the default build) or `--device libtorch`
(burn's LibTorch backend: a build with the `libtorch` feature linked against this venv's PyTorch,
`just bench-paired-libtorch`); the JSON names which.

    just bench-paired            # sets up bench/.venv with PyTorch, then runs this
    bench/.venv/bin/python bench/paired.py --relusym target/debug/relusym \\
        --checkpoint runs/study/flip-s0 --data $CIFAR10_ARCHIVE --rounds 3 --out results/bench/paired.json
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTHS = [0.25, 0.5, 1.0]
GLIBC_TUNABLES = ["MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"]


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_atomic(path, text):
    """Write `text` to `path` whole or not at all: a temporary file beside it, fsynced, renamed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run(cmd, env=None):
    """Run `cmd` to completion; return (stdout, wall seconds, peak RSS in MiB, load before)."""
    before = load1()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with exit code {p.returncode}:\n{stderr[-3000:]}")
    return stdout, wall, usage.ru_maxrss / 1024.0, before


def json_tail(text, what):
    """The last JSON object printed (relusym and the scripts print exactly one)."""
    start = text.find("{")
    if start < 0:
        sys.exit(f"{what}: no JSON in its output:\n{text[-2000:]}")
    return json.loads(text[start:])


def add_merge_args(ap):
    """The options every merge benchmark shares: the net to merge with its flipped self, and the data."""
    ap.add_argument("--checkpoint", default="runs/study/flip-s0", help="the net of the merge pipeline")
    ap.add_argument("--data", default=os.environ.get("CIFAR10_ARCHIVE", "data/cifar10"), help="CIFAR-10 (archive or folder)")


def relusym_sides(specs):
    """`--relusym BIN:DEVICE` values as (binary, device) pairs."""
    sides = []
    for spec in specs:
        binary, sep, device = spec.rpartition(":")
        if not sep or not binary or not device:
            sys.exit(f"--relusym {spec}: expected BIN:DEVICE, e.g. target/libtorch/relusym:libtorch")
        sides.append((binary, device))
    return sides


class Row:
    def __init__(self, task, setting, unit, higher_is_better):
        self.task, self.setting, self.unit, self.higher = task, setting, unit, higher_is_better
        self.relusym, self.pytorch, self.pytorch_cl = [], [], []
        self.relusym_rss, self.pytorch_rss, self.pytorch_cl_rss, self.load = [], [], [], []
        self.relusym_cl = []  # per round: whether relusym's inputs were channels-last

    def add(self, side, value, rss, load):
        getattr(self, side).append(value)
        getattr(self, side + "_rss").append(rss)
        self.load.append(load)

    def ratios(self, other):
        n = min(len(self.relusym), len(other))
        return [(self.relusym[i] / other[i]) if self.higher else (other[i] / self.relusym[i]) for i in range(n)]

    def to_json(self):
        ratios = self.ratios(self.pytorch)
        extra = {} if not self.pytorch_cl else {
            "pytorch_channels_last": self.pytorch_cl,
            "ratios_channels_last": self.ratios(self.pytorch_cl),
            "pytorch_channels_last_max_rss_mib": self.pytorch_cl_rss,
        }
        if self.relusym_cl:
            extra["relusym_channels_last"] = self.relusym_cl
        return {
            "task": self.task,
            "setting": self.setting,
            "unit": self.unit,
            "higher_is_better": self.higher,
            "relusym": self.relusym,
            "pytorch": self.pytorch,
            "ratios": ratios,
            "relusym_max_rss_mib": self.relusym_rss,
            "pytorch_max_rss_mib": self.pytorch_rss,
            "load_1min_before": self.load,
            **extra,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--relusym", default="target/debug/relusym", help="the relusym binary")
    add_merge_args(ap)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="timed training steps (and inference passes) per width")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stats-images", type=int, default=5000)
    ap.add_argument("--skip-pipeline", action="store_true", help="throughput rows only")
    ap.add_argument("--device", default="cpu", choices=["cpu", "libtorch"], help="relusym's device: flex or burn's LibTorch backend")
    ap.add_argument("--pytorch-heap", default="glibc-default", choices=["glibc-default", "keep-freed"],
                    help="PyTorch's allocator: glibc's defaults, or relusym's setting through MALLOC_MMAP_MAX_ / MALLOC_TRIM_THRESHOLD_")
    ap.add_argument("--out", default="results/bench/paired.json")
    a = ap.parse_args()

    import torch  # the venv's PyTorch; imported here so --help works without it

    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), RAYON_NUM_THREADS=str(a.threads))
    for v in GLIBC_TUNABLES + ["RELUSYM_MALLOC"]:
        env.pop(v, None)  # each side's heap is this script's choice, not the caller's
    torch_env = dict(env)
    if a.pytorch_heap == "keep-freed":
        torch_env.update(MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(2**31 - 1))
    relusym_heap = None
    rows = {}

    def row(task, setting, unit, higher):
        key = (task, setting)
        if key not in rows:
            rows[key] = Row(task, setting, unit, higher)
        return rows[key]

    weights = os.path.join(tempfile.mkdtemp(prefix="relusym-paired-"), "weights.safetensors")
    run([a.relusym, "export", "--checkpoint", a.checkpoint, "--out", weights], env)
    config = json.load(open(os.path.join(a.checkpoint, "config.json")))
    width = config["net"]["width"]
    bn_net = config["net"].get("batch_norm", False)
    repair = "bn-reset" if bn_net else "repair"

    started = time.time()
    for r in range(a.rounds):
        sides = ["relusym", "pytorch"] if r % 2 == 0 else ["pytorch", "relusym"]
        throughput_sides = ["relusym", "pytorch", "pytorch_cl"] if r % 2 == 0 else ["pytorch_cl", "pytorch", "relusym"]
        for bn in (False, True):
            for w in WIDTHS:
                setting = f"width {w:g}, {'BN' if bn else 'no BN'}"
                for side in throughput_sides:
                    if side == "relusym":
                        cmd = [a.relusym, "bench", "--device", a.device, "--json", "--widths", str(w), "--batch", str(a.batch), "--steps", str(a.steps), "--warmup", "1"]
                        if bn:
                            cmd.append("--batch-norm")
                    else:
                        cmd = [py, os.path.join(HERE, "torch_vgg.py"), "--widths", str(w), "--batch", str(a.batch), "--steps", str(a.steps), "--warmup", "1", "--threads", str(a.threads)]
                        if bn:
                            cmd.append("--batch-norm")
                        if side == "pytorch_cl":
                            cmd.append("--channels-last")
                    out, _, rss, load = run(cmd, env if side == "relusym" else torch_env)
                    report = json_tail(out, side.replace("_cl", " (channels-last)"))
                    if side == "relusym":
                        relusym_heap = report.get("heap", "glibc-default")
                    if side == "relusym" and a.device == "libtorch" and not report["device"].startswith("libtorch"):
                        sys.exit(f"{a.relusym} was built without the libtorch feature (it ran on {report['device']})")
                    res = report["rows"][0]
                    if side == "relusym":
                        layout = res.get("layout") or {}
                        for task in ("training", "inference"):
                            row(task, setting, "images/s", True).relusym_cl.append(bool(layout.get("channels_last", False)))
                    row("training", setting, "images/s", True).add(side, res["train_images_per_s"], rss, load)
                    row("inference", setting, "images/s", True).add(side, res["infer_images_per_s"], rss, load)
                    print(f"round {r + 1} {side:8} {setting}: train {res['train_images_per_s']:.0f}, inference {res['infer_images_per_s']:.0f} images/s, {rss:.0f} MiB", flush=True)
        if a.skip_pipeline:
            continue
        setting = f"flip-self merge, {os.path.basename(os.path.normpath(a.checkpoint))} (width {width:g}), {repair}"
        # relusym's default also measures the variance collapse at alpha = 1/2 (two more passes of
        # the statistics stream), which the port does not; the second relusym run computes what
        # the port computes, and is compared with the same port run.
        lean = setting + ", no variance ratios"
        for side in sides:
            if side == "relusym":
                cmd = [a.relusym, "merge", "--device", a.device, "--json", "--a", a.checkpoint, "--flip", "--method", "activation", "--repair", repair,
                       "--alphas", "0,0.5,1", "--stats-images", str(a.stats_images), "--data", a.data]
                runs = [(setting, cmd), (lean, cmd + ["--no-variance-ratios"])]
            else:
                runs = [(setting, [py, os.path.join(HERE, "repair_reference.py"), "--weights", weights, "--data", a.data, "--width", str(width),
                                   "--stats-images", str(a.stats_images), "--threads", str(a.threads)])]
            for name, cmd in runs:
                out, wall, rss, load = run(cmd, env if side == "relusym" else torch_env)
                # Both report their own seconds per step; `total` leaves out start-up and loading the
                # data (relusym reads its decoded cache, the port decodes the JPEGs with PIL each run).
                total = json_tail(out, side)["seconds"]["total"]
                for rowname in [name] if side == "relusym" else [setting, lean]:
                    row("pipeline", rowname, "s", False).add(side, total, rss, load)
                if name == setting:
                    row("pipeline, wall", setting + ", with start-up and data loading", "s", False).add(side, wall, rss, load)
                print(f"round {r + 1} {side:8} pipeline ({name}): {total:.1f} s ({wall:.1f} s wall), {rss:.0f} MiB", flush=True)

    layout = os.environ.get("RELUSYM_LAYOUT", "auto") if a.device == "libtorch" else "nchw"
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": a.threads,
        "pytorch": torch.__version__,
        "relusym": a.relusym,
        "relusym_device": a.device,
        # src/batches.rs: on LibTorch RELUSYM_LAYOUT fixes the batches' layout, or (auto, the
        # default) relusym measures both per model; each throughput row records what it used
        "relusym_layout": layout,
        "relusym_channels_last": layout == "channels-last",
        "relusym_heap": relusym_heap or "glibc-default",
        "pytorch_heap": a.pytorch_heap,
        "rounds": a.rounds,
        "batch": a.batch,
        "steps": a.steps,
        "seconds": time.time() - started,
        "rows": [r.to_json() for r in rows.values()],
    }
    write_atomic(a.out, json.dumps(result, indent=1))
    for rw in result["rows"]:
        med = statistics.median(rw["ratios"]) if rw["ratios"] else float("nan")
        cl = rw.get("ratios_channels_last")
        cl = f", {statistics.median(cl):.2f} against channels-last PyTorch" if cl else ""
        print(f"{rw['task']:9} {rw['setting']:40} ratio {med:.2f} (relusym / PyTorch speed){cl}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
