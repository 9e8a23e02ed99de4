#!/usr/bin/env bash
# Connection churn: does the server keep anything per HTTP/2 connection once it has closed?
# Starts `BINARY serve --in-memory` on PORT, opens ROUNDS x 1,000 short HTTP/2 connections with
# h2load (1,000 at a time, one GET /healthz each) and prints the server's RSS and its live HTTP/2
# connection handlers (watchcache_connection_handlers) after every EVERY rounds.
#   scripts/connection-churn.sh [BINARY] [PORT] [ROUNDS] [EVERY]
set -euo pipefail
bin=${1:-.build/release/watchcache}; port=${2:-18080}; rounds=${3:-20}; every=${4:-4}
command -v h2load >/dev/null || { echo "connection-churn: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }
ulimit -n 20000
"$bin" serve --in-memory --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status"; }
handlers() {
  curl -s --http1.1 "http://127.0.0.1:$port/metrics" | awk '/^watchcache_connection_handlers\{protocol="h2"\}/ {print $2}'
}
echo "connections  RSS MiB  live h2 handlers"
printf '%11d  %7s  %s\n' 0 "$(rss)" "$(handlers)"
for round in $(seq 1 "$rounds"); do
  out=$(h2load -c 1000 -m 1 -n 1000 "http://127.0.0.1:$port/healthz" 2>&1 || true)
  grep -q '1000 succeeded' <<<"$out" || { echo "round $round: $(grep 'requests:' <<<"$out")" >&2; }
  if (( round % every == 0 )); then
    sleep 1
    printf '%11d  %7s  %s\n' $((round * 1000)) "$(rss)" "$(handlers)"
  fi
done
