#!/usr/bin/env python3
"""Summarises a clean build's `cargo build --timings` report as a Markdown table.

Usage: bench/build_timings.py [--build WHAT] TIMING_HTML [FEATURELESS_TREE] > book/src/generated/build-timings.md

TIMING_HTML is target/cargo-timings/cargo-timing.html of a build from an empty target/.
FEATURELESS_TREE (optional) is the output of
`cargo tree --no-default-features -e normal,build --prefix none --format "{p}"`: the units
not in it are the ones the default features (`gpu`, `parquet`, `pytorch`) add, and their
share is reported, with a column saying which of the slowest units are also in it.
WHAT (default "dev profile, all features") says what was built; cargo's report does not record
the features.
"""
import json
import re
import sys


def main():
    args = sys.argv[1:]
    what = "dev profile, all features"
    if args[:1] == ["--build"]:
        what, args = args[1], args[2:]
    html = open(args[0]).read()
    units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
    total_s = float(re.search(r"<td>Total time:</td><td>([\d.]+)s", html).group(1))
    summed = sum(u["duration"] for u in units)
    print(f"Clean `cargo build --timings` ({what}): **{total_s / 60:.1f} min** wall, "
          f"{len(units)} units, {summed:,.0f} unit-seconds in all.\n")
    featureless = None
    if len(args) > 1:
        featureless = {line.strip() for line in open(args[1]) if line.strip()}
        kept = sum(u["duration"] for u in units if f"{u['name']} v{u['version']}" in featureless)
        print(f"Units also built with `--no-default-features` (some of them smaller there): {kept:,.0f} unit-seconds "
              f"({100 * kept / summed:.0f} %); the default features add the other "
              f"{summed - kept:,.0f} ({100 * (summed - kept) / summed:.0f} %).\n")
    if featureless is None:
        print("| unit | seconds | share % |")
        print("|---|---|---|")
    else:
        print("| unit | seconds | share % | also without default features |")
        print("|---|---|---|---|")
    for u in sorted(units, key=lambda u: -u["duration"])[:20]:
        name = f"{u['name']} v{u['version']}"
        target = u.get("target", "").strip()
        label = f"`{u['name']}`" + (f" ({target})" if target else "")
        row = f"| {label} | {u['duration']:.1f} | {100 * u['duration'] / summed:.1f} |"
        if featureless is not None:
            row += " yes |" if name in featureless else " no |"
        print(row)


if __name__ == "__main__":
    main()
