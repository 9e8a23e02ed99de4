#!/usr/bin/env bash
# Regenerates the Swift code for WatchCacheEtcd's etcd v3 gRPC client from Protos/etcd/*.proto:
#   Sources/WatchCacheEtcd/Generated/{kv.pb.swift, rpc.pb.swift, rpc.grpc.swift}
# The generated files are committed, so the normal build needs neither protoc nor the plugins;
# run this only after changing a .proto file.
#
# It installs Debian's protobuf-compiler when protoc is missing, builds protoc-gen-swift
# (swift-protobuf) and protoc-gen-grpc-swift-2 (grpc-swift-protobuf) in release mode in a
# scratch package under .build-protoc/ (ignored by git; a first build takes minutes), and runs
# protoc with Visibility=Internal for both plugins and Client=true, Server=false for gRPC.
set -euo pipefail

prog="generate-etcd-grpc.sh"
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

root=$(cd "$(dirname "$0")/.." && pwd)
proto_root="$root/Protos"
protos=(etcd/kv.proto etcd/rpc.proto)
out="$root/Sources/WatchCacheEtcd/Generated"
tools="$root/.build-protoc"

# Versions of the generators; keep in step with the runtime packages WatchCacheEtcd depends on.
swift_protobuf_version="1.39.0"
grpc_swift_protobuf_version="2.4.1"

[ $# -eq 0 ] || die "takes no arguments"
for p in "${protos[@]}"; do
  [ -f "$proto_root/$p" ] || die "missing $proto_root/$p"
done
command -v swift >/dev/null 2>&1 || die "swift not found on PATH"

# 1. protoc
if ! command -v protoc >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "protoc not found and apt-get is unavailable; install protobuf-compiler"
  [ "$(id -u)" = 0 ] || die "protoc not found; installing protobuf-compiler needs root"
  note "installing protobuf-compiler with apt"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show protobuf-compiler >/dev/null 2>&1; then
    apt-get update -qq >&2 || die "apt-get update failed"
  fi
  apt-get install -y -qq protobuf-compiler >/dev/null || die "apt-get install protobuf-compiler failed"
  command -v protoc >/dev/null 2>&1 || die "protoc still not found after installing protobuf-compiler"
fi

# 2. The plugins, in a scratch package (rewritten only when its content changes, so rebuilds
# stay incremental).
mkdir -p "$tools"
manifest=$(cat <<EOF
// swift-tools-version:6.1
// Scratch package written by scripts/generate-etcd-grpc.sh: it only builds the protoc plugins.
import PackageDescription

let package = Package(
    name: "ProtocPlugins",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "$swift_protobuf_version"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "$grpc_swift_protobuf_version"),
    ],
    targets: []
)
EOF
)
if [ ! -f "$tools/Package.swift" ] || [ "$(cat "$tools/Package.swift")" != "$manifest" ]; then
  printf '%s\n' "$manifest" >"$tools/Package.swift"
fi
start=$(date +%s)
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
  note "building $product (release)"
  swift build -c release --package-path "$tools" --product "$product" >&2 \
    || die "building $product failed (see the output above)"
done
bin=$(swift build -c release --package-path "$tools" --show-bin-path) || die "cannot find the plugins' bin path"
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
  [ -x "$bin/$product" ] || die "$bin/$product was not built"
done
note "plugins ready in $(( $(date +%s) - start ))s"

# 3. Generate into a temporary directory, then replace the Generated/ files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
  cd "$proto_root"
  protoc \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    -I . \
    --swift_out="$tmp" \
    --swift_opt=Visibility=Internal \
    --swift_opt=FileNaming=DropPath \
    --grpc-swift-2_out="$tmp" \
    --grpc-swift-2_opt=Visibility=Internal \
    --grpc-swift-2_opt=Client=true \
    --grpc-swift-2_opt=Server=false \
    --grpc-swift-2_opt=FileNaming=DropPath \
    "${protos[@]}"
) || die "protoc failed"

expected=(kv.pb.swift rpc.pb.swift rpc.grpc.swift)
for f in "${expected[@]}"; do
  [ -s "$tmp/$f" ] || die "protoc did not write $f"
done
mkdir -p "$out"
for f in "${expected[@]}"; do
  cp "$tmp/$f" "$out/$f"
done
# The gRPC plugin also writes kv.grpc.swift, which only says "This file contained no services":
# not copied. Flag anything else unexpected.
for f in "$tmp"/*; do
  case " ${expected[*]} kv.grpc.swift " in
    *" $(basename "$f") "*) ;;
    *) note "protoc also wrote $(basename "$f"); not copied" ;;
  esac
done
note "wrote ${expected[*]} to ${out#"$root"/}"
