#!/usr/bin/env bash
# Starts and stops a local etcd (1 or 3 members, loopback only) for tests and benchmarks.
#
#   scripts/etcd.sh start [--members 1|3] [--port P] [--dir D] [--tls]
#       Starts members n1..nN with client ports P, P+2, P+4 and peer ports P+1, P+3, P+5
#       (default P=23790) on 127.0.0.1, data in D/nN, logs in D/nN.log, pids in D/nN.pid
#       (default D: a new mktemp directory, named on stderr). Returns once every member
#       answers `etcdctl endpoint health`; prints the client URLs, comma-separated, on stdout.
#       --tls: clients speak TLS and must present a certificate: openssl makes a CA, a serving
#       certificate for 127.0.0.1 and a client certificate in D/tls (ca.pem, server.pem,
#       server-key.pem, client.pem, client-key.pem); the URLs are https.
#   scripts/etcd.sh stop --dir D
#       Stops the members started in D (data and logs are kept).
#   scripts/etcd.sh bin
#       Prints the etcd binary's path (installing it first if needed), then etcdctl's.
#
# Installs Debian's etcd-server and etcd-client with apt when etcd is missing.
# Environment: ETCD_BIN / ETCDCTL_BIN override the binaries (default: PATH, then /usr/bin);
# ETCD_START_TIMEOUT (seconds, default 60) bounds the wait for health.
set -euo pipefail

prog="etcd.sh"
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

usage() {
  cat >&2 <<'EOF'
usage: scripts/etcd.sh start [--members 1|3] [--port P] [--dir D] [--tls]
       scripts/etcd.sh stop --dir D
       scripts/etcd.sh bin
EOF
  exit 2
}

# Finds a binary: the override variable, then PATH, then /usr/bin (Debian's location).
find_bin() { # name override
  local name=$1 override=$2
  if [ -n "$override" ]; then echo "$override"; return 0; fi
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  if [ -x "/usr/bin/$name" ]; then echo "/usr/bin/$name"; return 0; fi
  return 1
}

ensure_etcd() {
  local var
  for var in ETCD_BIN ETCDCTL_BIN; do
    if [ -n "${!var:-}" ] && [ ! -x "${!var}" ]; then
      die "$var='${!var}' is not an executable file"
    fi
  done
  if ETCD=$(find_bin etcd "${ETCD_BIN:-}") && ETCDCTL=$(find_bin etcdctl "${ETCDCTL_BIN:-}"); then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "etcd/etcdctl not found and apt-get is unavailable; install etcd 3.4+ or set ETCD_BIN and ETCDCTL_BIN"
  [ "$(id -u)" = 0 ] || die "etcd/etcdctl not found; installing etcd-server and etcd-client needs root"
  note "installing etcd-server and etcd-client with apt"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show etcd-server etcd-client >/dev/null 2>&1; then
    apt-get update -qq >&2 || die "apt-get update failed"
  fi
  apt-get install -y -qq etcd-server etcd-client >/dev/null || die "apt-get install etcd-server etcd-client failed"
  ETCD=$(find_bin etcd "${ETCD_BIN:-}") || die "etcd still not found after installing etcd-server"
  ETCDCTL=$(find_bin etcdctl "${ETCDCTL_BIN:-}") || die "etcdctl still not found after installing etcd-client"
}

# True if pid is alive and is the member started with data dir D/name: its command line holds
# that data dir (guards against recycled pids; also matches during nohup's exec of etcd).
is_member_pid() { # pid dir name
  local pid=$1 dir=$2 name=$3
  is_uint "$pid" || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$dir/$name"
}

port_in_use() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

stop_dir() { # dir
  local dir=$1 pidfile pid name stopped=0 i
  [ -d "$dir" ] || die "no such directory: $dir"
  dir=$(cd "$dir" && pwd -P)
  for pidfile in "$dir"/n*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    pid=$(cat "$pidfile")
    if is_member_pid "$pid" "$dir" "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do
        is_member_pid "$pid" "$dir" "$name" || break
        sleep 0.1
      done
      if is_member_pid "$pid" "$dir" "$name"; then
        note "$name (pid $pid) did not exit on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      stopped=$((stopped + 1))
    else
      note "$name (pid $pid) was not running"
    fi
    rm -f "$pidfile"
  done
  note "stopped $stopped member(s) in $dir"
}

# Makes a CA, a serving certificate for 127.0.0.1/localhost and a client certificate in $1.
make_certificates() { # dir
  local tls=$1
  command -v openssl >/dev/null 2>&1 || die "--tls needs openssl"
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=watchcache-test-ca" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=etcd" -keyout server-key.pem -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile server.ext -out server.pem 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=watchcache" -keyout client-key.pem -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
      -extfile client.ext -out client.pem 2>/dev/null
  ) || die "openssl could not make the certificates in $tls"
}

cmd_start() {
  local members=1 port=23790 dir="" tls=0
  while [ $# -gt 0 ]; do
    case $1 in
      --members) [ $# -ge 2 ] || die "--members needs a value"; members=$2; shift 2 ;;
      --members=*) members=${1#*=}; shift ;;
      --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
      --port=*) port=${1#*=}; shift ;;
      --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
      --dir=*) dir=${1#*=}; shift ;;
      --tls) tls=1; shift ;;
      -h | --help) usage ;;
      *) die "unknown option for start: $1" ;;
    esac
  done
  case $members in 1 | 3) ;; *) die "--members must be 1 or 3, not '$members'" ;; esac
  is_uint "$port" && [ "$port" -ge 1 ] && [ "$port" -le 65530 ] || die "--port must be a number from 1 to 65530, not '$port'"

  ensure_etcd

  local i pidfile
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    dir=$(cd "$dir" && pwd -P)
    for i in $(seq 1 "$members"); do
      pidfile="$dir/n$i.pid"
      if [ -e "$pidfile" ] && is_member_pid "$(cat "$pidfile")" "$dir" "n$i"; then
        die "etcd n$i is already running from $dir (pid $(cat "$pidfile")); run: scripts/etcd.sh stop --dir $dir"
      fi
    done
  fi

  local cluster="" urls="" client_port peer_port scheme=http
  [ "$tls" = 1 ] && scheme=https
  for i in $(seq 1 "$members"); do
    client_port=$((port + 2 * (i - 1)))
    peer_port=$((client_port + 1))
    port_in_use "$client_port" && die "port $client_port (client of n$i) is already in use on 127.0.0.1"
    port_in_use "$peer_port" && die "port $peer_port (peer of n$i) is already in use on 127.0.0.1"
    cluster="${cluster:+$cluster,}n$i=http://127.0.0.1:$peer_port"
    urls="${urls:+$urls,}$scheme://127.0.0.1:$client_port"
  done

  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/watchcache-etcd.XXXXXX") || die "mktemp failed"
  fi
  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd -P)

  local extra=() help tlsctl=()
  if [ "$tls" = 1 ]; then
    make_certificates "$dir/tls"
    extra+=(--cert-file "$dir/tls/server.pem" --key-file "$dir/tls/server-key.pem"
      --trusted-ca-file "$dir/tls/ca.pem" --client-cert-auth)
    tlsctl=(--cacert "$dir/tls/ca.pem" --cert "$dir/tls/client.pem" --key "$dir/tls/client-key.pem")
  fi
  help=$("$ETCD" --help 2>&1 || true)
  # Periodic watch progress notifications every 5 s (default 10 min), where this etcd has the flag.
  if grep -q -- '--experimental-watch-progress-notify-interval' <<<"$help"; then
    extra+=(--experimental-watch-progress-notify-interval=5s)
  fi
  # Structured logs (3.4 defaults to the deprecated capnslog and warns about it).
  if grep -q -- "Specify 'zap'" <<<"$help"; then
    extra+=(--logger=zap)
  fi

  local token
  token="watchcache-$(basename "$dir")-$$"
  for i in $(seq 1 "$members"); do
    client_port=$((port + 2 * (i - 1)))
    peer_port=$((client_port + 1))
    # Clean data dir: a fresh cluster each start (the token changes, old data would not match).
    rm -rf "${dir:?}/n$i"
    nohup "$ETCD" \
      --name "n$i" \
      --data-dir "$dir/n$i" \
      --listen-client-urls "$scheme://127.0.0.1:$client_port" \
      --advertise-client-urls "$scheme://127.0.0.1:$client_port" \
      --listen-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
      --initial-cluster "$cluster" \
      --initial-cluster-state new \
      --initial-cluster-token "$token" \
      "${extra[@]}" \
      </dev/null >"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
  done

  local timeout=${ETCD_START_TIMEOUT:-60} deadline healthy url
  is_uint "$timeout" || die "ETCD_START_TIMEOUT must be a number of seconds, not '$timeout'"
  deadline=$(($(date +%s) + timeout))
  while :; do
    healthy=0
    for i in $(seq 1 "$members"); do
      is_member_pid "$(cat "$dir/n$i.pid")" "$dir" "n$i" || {
        stop_dir "$dir" 2>/dev/null
        die "etcd n$i exited during startup; see $dir/n$i.log"
      }
      url="$scheme://127.0.0.1:$((port + 2 * (i - 1)))"
      if ETCDCTL_API=3 "$ETCDCTL" --endpoints="$url" "${tlsctl[@]}" --dial-timeout=1s --command-timeout=2s \
        endpoint health >/dev/null 2>&1; then
        healthy=$((healthy + 1))
      fi
    done
    [ "$healthy" -eq "$members" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      stop_dir "$dir" 2>/dev/null
      die "etcd not healthy after ${timeout}s ($healthy of $members members); see $dir/n*.log"
    fi
    sleep 0.2
  done

  note "$members member(s) healthy, data in $dir; stop with: scripts/etcd.sh stop --dir $dir"
  echo "$urls"
}

cmd_stop() {
  local dir=""
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
      --dir=*) dir=${1#*=}; shift ;;
      --tls) tls=1; shift ;;
      -h | --help) usage ;;
      *) die "unknown option for stop: $1" ;;
    esac
  done
  [ -n "$dir" ] || die "stop needs --dir D (the directory given to, or printed by, start)"
  stop_dir "$dir"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  bin) [ $# -eq 0 ] || die "bin takes no options"; ensure_etcd; echo "$ETCD"; echo "$ETCDCTL" ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$command' (expected start, stop or bin)" ;;
esac
