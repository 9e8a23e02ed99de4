#!/usr/bin/env bash
# Installs the system packages WatchCache needs to build and test on a fresh Debian machine:
# libnghttp2-dev (the HTTP/2 framing library the server links), libsqlite3-dev (the durable
# storage, through GRDB), zlib1g-dev (gzipped responses) and curl (the end-to-end tests' HTTP/1.1 and HTTP/2 client),
# nghttp2-client (nghttp and h2load: many streams on one connection), etcd-server and etcd-client
# (the etcd storage's tests start a real etcd, through scripts/etcd.sh) and openssl (test
# certificate authorities and client certificates).
# Idempotent; needs root.
set -euo pipefail
packages=(libnghttp2-dev libsqlite3-dev zlib1g-dev pkg-config curl nghttp2-client etcd-server etcd-client openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
