#!/usr/bin/env python3
"""The same flip-self merge on two relusym devices: do they find the same permutations, accuracies
and losses? Writes a short text report (the book's Speed chapter cites it).

    python3 bench/same_merge.py --relusym target/flex/relusym:cpu --relusym target/libtorch/relusym:libtorch \\
        --checkpoint runs/study/flip-s0 --out results/cpu/same-merge.txt

Each side runs `relusym align --device DEVICE --json --a CK --flip --method activation
--stats-images 5000` (the permutations) and `relusym merge` with the same alignment options,
`--repair bn-reset --alphas 0,0.5,1`; the report says whether every layer's permutation is
identical and gives, per α, each side's accuracy and loss.
"""
import argparse
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import add_merge_args, json_tail, relusym_sides, run, write_atomic  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--relusym", action="append", required=True, help="BIN:DEVICE (exactly two)")
    add_merge_args(ap)
    ap.add_argument("--repair", default="bn-reset")
    ap.add_argument("--out", default="results/cpu/same-merge.txt")
    a = ap.parse_args()
    if len(a.relusym) != 2:
        sys.exit("give exactly two --relusym BIN:DEVICE")
    sides = []
    for binary, device in relusym_sides(a.relusym):
        common = ["--device", device, "--json", "--a", a.checkpoint, "--flip", "--method", "activation",
                  "--stats-images", "5000", "--data", a.data]
        aligned = json_tail(run([binary, "align", *common])[0], f"{binary} align")
        merged = json_tail(run([binary, "merge", *common, "--repair", a.repair, "--alphas", "0,0.5,1"])[0], f"{binary} merge")
        sides.append((device, aligned, merged))
    (da, aa, ra), (db, ab, rb) = sides
    lines = [
        f"# {datetime.date.today()}: flip-self merge of {a.checkpoint} (activation matching, {a.repair}, α = 0, 0.5, 1, 5,000 statistics images)",
        f"# on {da} and on {db}; written by bench/same_merge.py",
    ]
    same = [p["perm"] == q["perm"] for p, q in zip(aa["layers"], ab["layers"])]
    lines.append(f"permutations identical in {sum(same)} of {len(same)} layers")
    corr = max(abs(p - q) for p, q in zip(ra["alignment"]["matched_corr"], rb["alignment"]["matched_corr"]))
    lines.append(f"matched correlations: largest difference {corr:.1e}")
    lines.append(f"{'alpha':>5}  {da + ' accuracy':>16}  {db + ' accuracy':>20}  {da + ' loss':>10}  {db + ' loss':>14}  loss difference")
    for p, q in zip(ra["curve"], rb["curve"]):
        pm, qm = p, q
        lines.append(f"{p['alpha']:>5}  {pm['accuracy']:>16.4f}  {qm['accuracy']:>20.4f}  {pm['loss']:>10.6f}  {qm['loss']:>14.6f}  {abs(pm['loss'] - qm['loss']):.1e}")
    text = "\n".join(lines) + "\n"
    write_atomic(a.out, text)
    print(text, end="")


if __name__ == "__main__":
    main()
