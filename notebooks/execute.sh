#!/usr/bin/env bash
# Execute notebooks in evcxr_jupyter, in place (outputs saved), one after the other, and append
# one timing line per notebook to notebooks/timings.jsonl.
#
#   notebooks/execute.sh                 # every notebook
#   notebooks/execute.sh 01-theory ...   # some
#
# All kernels build in one folder, target/evcxr (EVCXR_TMPDIR), so the crate's dependencies are
# compiled once per machine: the first notebook run on a machine is "cold", later ones "warm".
# Needs `just notebooks-setup` (jupyter, nbconvert, evcxr_jupyter with its kernel registered).
set -euo pipefail
cd "$(dirname "$0")/.."
export EVCXR_TMPDIR="$PWD/target/evcxr"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
mkdir -p "$EVCXR_TMPDIR"
if [ $# -eq 0 ]; then
    set -- $(ls notebooks/*.ipynb | xargs -n1 basename | sed 's/\.ipynb$//')
fi
for name in "$@"; do
    nb="notebooks/$name.ipynb"
    [ -f "$nb" ] || { echo "no notebook $nb" >&2; exit 1; }
    if [ -n "$(find "$EVCXR_TMPDIR/target" -name "librelu_symmetries-*.rlib" 2>/dev/null | head -1)" ]; then
        state=warm
    else
        state=cold
    fi
    echo "executing $nb ($state build folder)"
    start=$(date +%s)
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    log=$(mktemp)
    jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=10800 \
        --ExecutePreprocessor.kernel_name=rust "$nb" 2>&1 | tee "$log"
    secs=$(( $(date +%s) - start ))
    # How much was built: a "warm" folder still rebuilds every dependency whose features changed.
    crates=$(grep -c '^ *Compiling ' "$log" || true)
    rm -f "$log"
    echo "$nb: $secs s ($state build folder, $crates crates compiled)"
    # load_1min before and after: other work on the machine slows a run (a quiet machine reads ~0).
    evcxr=$(cargo install --list 2>/dev/null | sed -n 's/^evcxr_jupyter v\([^:]*\):$/\1/p')
    printf '{"notebook":"%s","seconds":%d,"build_folder":"%s","crates_compiled":%d,"date":"%s","cores":%d,"load_1min_before":%s,"load_1min_after":%s,"evcxr":"%s"}\n' \
        "$name" "$secs" "$state" "$crates" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$load_before" "$(cut -d' ' -f1 /proc/loadavg)" "${evcxr:-unknown}" \
        >> notebooks/timings.jsonl
done
