#!/usr/bin/env bash
# The run command: installs what the build needs, builds a release binary and runs it.
# With no arguments it runs the embedding example (a registry, a node-scoped watch, a selector
# transition); with arguments it runs `watchcache ARGS...`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release
if [ $# -eq 0 ]; then
  .build/release/watchcache version
  .build/release/EmbeddingExample
else
  exec .build/release/watchcache "$@"
fi
