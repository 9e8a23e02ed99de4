#!/usr/bin/env bash
# The test command (CI runs exactly this): installs what the build needs, runs the whole suite,
# checks the README's embedding example prints what the README says, builds the library's DocC
# documentation (no warnings), builds the benchmarks so
# they cannot rot, and fuzzes every fuzz target for a short while.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-python-client.sh

swift build --build-tests
swift test --skip-build

echo "== README example"
output=$(.build/debug/EmbeddingExample)
echo "$output"
if [ "$output" != "DELETED web-0 at 2" ]; then
  echo "README example printed something else than the README shows" >&2
  exit 1
fi

echo "== Documentation (DocC; a warning is an error)"
swift package --disable-sandbox generate-documentation --target WatchCache --warnings-as-errors

echo "== Benchmarks build"
swift build --package-path Benchmarks

echo "== Fuzzing, 10 s per target (libFuzzer + AddressSanitizer)"
scripts/fuzz.sh all 10
