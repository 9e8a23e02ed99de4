#!/usr/bin/env bash
# The run command: installs what the build needs, builds a release binary and runs the server
# (`watchcache serve` on 127.0.0.1:8080, HTTP/2 prior knowledge and HTTP/1.1, durable storage in
# ./watchcache-data).
# Arguments are passed to `watchcache serve`; `scripts/run.sh --help` lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product watchcache
exec .build/release/watchcache serve "$@"
