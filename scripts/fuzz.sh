#!/usr/bin/env bash
# Fuzzes the parsers and protocol handlers that take bytes from clients with libFuzzer
# (Sources/WatchCacheFuzz; targets: `scripts/fuzz.sh list`).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]   one target
#   scripts/fuzz.sh all SECONDS                             every target, SECONDS each
#
# Builds `watchcache-fuzz` with -sanitize=fuzzer,address into .build-fuzz (the first build takes
# minutes; linked with lld: gold fails on the sanitized objects), starts from the committed seeds in Fuzz/corpus/TARGET, keeps what it finds in
# .build-fuzz/corpus/TARGET and writes crashing inputs to .build-fuzz/crashes/TARGET/. Prints each
# run's executions and coverage; exits non-zero when a target crashed, leaked or timed out.
# A crash found becomes a regression input in Fuzz/regressions/TARGET/ (replayed by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/fuzz.sh TARGET|all|list SECONDS [libFuzzer options...]" >&2; exit 64; }
target=$1; shift
bin=.build-fuzz/debug/watchcache-fuzz
if [ "$target" = list ]; then
  swift build --product watchcache-fuzz >/dev/null && .build/debug/watchcache-fuzz --list; exit 0
fi
[ $# -ge 1 ] || { echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options...]" >&2; exit 64; }
seconds=$1; shift
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ] || { echo "fuzz: SECONDS must be a whole number of seconds, at least 1" >&2; exit 64; }
echo "fuzz: building watchcache-fuzz with libFuzzer and AddressSanitizer (.build-fuzz)" >&2
swift build --build-path .build-fuzz --product watchcache-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | grep -E 'error|Compiling watchcache_fuzz|Build complete' >&2 || true
[ -x "$bin" ] || { echo "fuzz: the build failed (run the swift build line above by hand to see why)" >&2; exit 1; }
if [ "$target" = all ]; then targets=$("$bin" --list); else targets=$target; fi
failed=()
for t in $targets; do
  [ -d "Fuzz/corpus/$t" ] || { echo "fuzz: unknown target '$t' (scripts/fuzz.sh list)" >&2; exit 64; }
  mkdir -p ".build-fuzz/corpus/$t" ".build-fuzz/crashes/$t"
  log=".build-fuzz/$t.log"
  seeds=("Fuzz/corpus/$t")
  [ -d "Fuzz/regressions/$t" ] && seeds+=("Fuzz/regressions/$t")
  set +e
  ASAN_OPTIONS=detect_leaks=1 "$bin" "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix=".build-fuzz/crashes/$t/" "$@" ".build-fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1
  status=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E 'DONE|#[0-9]+ +(pulse|NEW|REDUCE)' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
  corpus=$(ls ".build-fuzz/corpus/$t" | wc -l)
  if [ $status -eq 0 ]; then
    echo "fuzz: $t: ${seconds} s, ${runs:-?} executions, ${cov:-cov ?}, corpus ${corpus} inputs, no crash"
  else
    echo "fuzz: $t: FAILED (status $status) after ${runs:-?} executions; log .build-fuzz/$t.log, input in .build-fuzz/crashes/$t/" >&2
    grep -E 'ERROR|SUMMARY|Fatal error|panic' "$log" | head -5 >&2 || true
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
