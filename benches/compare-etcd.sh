#!/usr/bin/env bash
# metad against etcd, side by side, in one invocation: starts a 3-member etcd cluster (Debian's
# etcd-server 3.4, installed when missing) and, through meta-load, a 3-node metad cluster, both
# on loopback; drives both with the same load tool (small replicated writes at 1, 16, 64 and 256
# clients, then linearizable reads at 64), each run against metad, then etcd through its JSON
# gateway (the same HTTP client), then etcd through its native gRPC API (meta-load's `etcd-grpc`
# feature; protoc and its well-known types, Debian's protobuf-compiler and libprotobuf-dev, are
# installed when missing), back to back, and prints writes/s, p50, p99 and the ratio metad/etcd
# for each etcd path. Disk fsync speed varies a lot between hours here, so only ratios from one
# run mean anything.
#
#   benches/compare-etcd.sh                       # 10 s per run, 20 leader-failover runs
#   DURATION=5s FAILOVER_RUNS=0 benches/compare-etcd.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10s}
clients=${CLIENTS:-1,16,64,256}
failover_runs=${FAILOVER_RUNS:-20}
target="${CARGO_TARGET_DIR:-target}/release"

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto), which etcd's protos import.
[ -f /usr/include/google/protobuf/descriptor.proto ] || missing+=(libprotobuf-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # etcd-server's own service is not wanted: RUNLEVEL=1 keeps it from being started.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/ensure-prereqs.sh
cargo build --release -q -p metad
cargo build --release -q -p meta-load --features etcd-grpc

dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Three members on loopback, each with its own data dir (etcd fsyncs its WAL per batch, as metad).
client_port() { echo $((42279 + $1 * 100)); }
peer_port() { echo $((42280 + $1 * 100)); }
initial=""
for i in 1 2 3; do initial+="${initial:+,}e$i=http://127.0.0.1:$(peer_port "$i")"; done
endpoints=""
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$dir/e$i" \
    --listen-client-urls "http://127.0.0.1:$(client_port "$i")" \
    --advertise-client-urls "http://127.0.0.1:$(client_port "$i")" \
    --listen-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$i")" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token compare-etcd \
    >"$dir/e$i.log" 2>&1 &
  pids+=($!)
  endpoints+="${endpoints:+,}127.0.0.1:$(client_port "$i")"
done
for i in 1 2 3; do
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$(client_port "$i")/health" | grep -q '"health":"true"' && break
    sleep 0.2
  done
done
echo "etcd $(etcd --version | head -1 | awk '{print $3}') at $endpoints"

"$target/meta-load" --metad "$target/metad" --etcd "$endpoints" --clients "$clients" \
  --duration "$duration" --failover-runs "$failover_runs"
