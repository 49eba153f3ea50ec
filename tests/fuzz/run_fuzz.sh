#!/bin/sh
# One bounded libFuzzer run, as ctest -L fuzz does it:
#   run_fuzz.sh FUZZER WORKDIR SEED_CORPUS RUNS MAX_SECONDS
# Starts from the seed corpus alone (new inputs go to WORKDIR/corpus, which
# is emptied first, so with -seed=1 a run is repeatable), stops after RUNS
# executions or MAX_SECONDS, and prints one line: executions, time, rate,
# coverage. On a crash or a failed property: the log's end and the input
# saved in WORKDIR/artifacts/.
set -u
bin=$1 work=$2 seeds=$3 runs=$4 secs=$5
name=$(basename "$bin")
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/$name.log"
"$bin" -seed=1 -runs="$runs" -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$seeds" >"$log" 2>&1
rc=$?
stat() { sed -n "s/^stat::$1: *//p" "$log"; }
if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "$name: FAILED (exit $rc); log $log, input in $work/artifacts/"
    exit 1
fi
secs_taken=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
echo "$name: $(stat number_of_executed_units) executions in ${secs_taken}s" \
    "($(stat average_exec_per_sec) exec/s), $cov, $(stat new_units_added) new inputs," \
    "peak RSS $(stat peak_rss_mb) MB (seed 1; log $log)"
