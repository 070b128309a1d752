#!/usr/bin/env bash
# fuzz/run.sh TARGET N   — run N fuzzed inputs through one harness (fuzz/TARGET.py), or through
#                          every harness in turn with TARGET=all. See fuzz/README.md.
#
# Seeds come from fuzz/corpus/TARGET/ (never written to); what the fuzzer finds interesting goes
# to a scratch directory (FUZZ_WORK, default a fresh temporary one, removed afterwards). A
# crash or hang is saved as fuzz/artifacts/TARGET/crash-… and the exit status is non-zero; the
# run's whole log is kept as fuzz/artifacts/TARGET/last.log.
# Each run ends with one line: FUZZ-RESULT {json} (the figures docs/reliability.md records).
#
# Environment: PYTHON (default .venv/bin/python), FUZZ_WORK, FUZZ_MAX_LEN (4096 octets),
# FUZZ_TIMEOUT (wall seconds before libFuzzer calls an input hung, 10; the harness itself calls
# more than 1 s of CPU a hang), FUZZ_STRICT=1 (stop at known, reported crashes too).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TARGETS="smpp cmpp sgip smgp receipt cli_decode engine_config fakesmsc_config daemon_request"

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh TARGET|all N    (targets: $TARGETS)" >&2
    exit 2
fi

run_one() {
    local target=$1 runs=$2
    if [ ! -f "fuzz/$target.py" ]; then
        echo "no harness fuzz/$target.py (targets: $TARGETS)" >&2
        return 2
    fi
    local work=${FUZZ_WORK:-} made=""
    if [ -z "$work" ]; then
        work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
        made=$work
    fi
    mkdir -p "$work" "fuzz/artifacts/$target"
    local stats="$work/stats.json" log="$work/fuzz.log"
    rm -f "$stats"
    local started=$SECONDS
    FUZZ_STATS_FILE=$stats "$PYTHON" "fuzz/$target.py" \
        -atheris_runs="$runs" -max_len="${FUZZ_MAX_LEN:-4096}" -timeout="${FUZZ_TIMEOUT:-10}" \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target/" "$work/corpus" "fuzz/corpus/$target" \
        >"$log" 2>&1 &
    local pid=$!
    mkdir -p "$work/corpus"
    wait $pid
    local rc=$?
    local figures coverage
    figures=$(cat "$stats" 2>/dev/null || echo '{}')
    # libFuzzer's last status line: edges covered, features, corpus entries/octets.
    coverage=$(grep -a -o -E "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*" "$log" | tail -1)
    cp "$log" "fuzz/artifacts/$target/last.log"
    grep -a -E "Uncaught|Error|KNOWN CRASH|ERROR:|timeout|SUMMARY" "$log" | head -20 >&2
    echo "FUZZ-RESULT {\"target\": \"$target\", \"exit\": $rc, \"wall_s\": $((SECONDS - started)), \"libfuzzer\": \"$coverage\", \"stats\": $figures}"
    if [ -n "$made" ]; then
        rm -rf "$made"
    fi
    return $rc
}

if [ "$1" = all ]; then
    failed=0
    for target in $TARGETS; do
        run_one "$target" "$2" || failed=1
    done
    exit $failed
fi
run_one "$1" "$2"
