#!/usr/bin/env python3
"""Summarises a clean build's `cargo build --timings` report as a Markdown table.

Usage: bench/build_timings.py TIMING_HTML [FEATURELESS_TREE] > book/src/generated/build-timings.md

TIMING_HTML is target/cargo-timings/cargo-timing.html of a build from an empty target/.
FEATURELESS_TREE (optional) is the output of
`cargo tree --no-default-features -e normal,build --prefix none --format "{p}"`: the units
not in it are the ones the default features (`gpu`, `parquet`, `pytorch`) add, and their
share is reported.
"""
import json
import re
import sys


def main():
    html = open(sys.argv[1]).read()
    units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
    total_s = float(re.search(r"<td>Total time:</td><td>([\d.]+)s", html).group(1))
    summed = sum(u["duration"] for u in units)
    print(f"Clean `cargo build --timings` (dev profile, all features): **{total_s / 60:.1f} min** wall, "
          f"{len(units)} units, {summed:,.0f} unit-seconds in all.\n")
    featureless = None
    if len(sys.argv) > 2:
        featureless = {line.strip() for line in open(sys.argv[2]) if line.strip()}
        kept = sum(u["duration"] for u in units if f"{u['name']} v{u['version']}" in featureless)
        print(f"Units also built with `--no-default-features` (some of them smaller there): {kept:,.0f} unit-seconds "
              f"({100 * kept / summed:.0f} %); the default features add the other "
              f"{summed - kept:,.0f} ({100 * (summed - kept) / summed:.0f} %).\n")
    print("| unit | seconds | share % | also without default features |")
    print("|---|---|---|---|")
    for u in sorted(units, key=lambda u: -u["duration"])[:20]:
        name = f"{u['name']} v{u['version']}"
        target = u.get("target", "").strip()
        label = f"`{u['name']}`" + (f" ({target})" if target else "")
        also = "–" if featureless is None else ("yes" if name in featureless else "no")
        print(f"| {label} | {u['duration']:.1f} | {100 * u['duration'] / summed:.1f} | {also} |")


if __name__ == "__main__":
    main()
