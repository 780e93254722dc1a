#!/usr/bin/env bash
# Seed scenario 1 by hand, with real processes: three meta nodes and three data nodes on
# loopback, a database with replication factor 2, data written, then one data node dies for good
# and is replaced. Prints every metactl command with its real output (the README walkthrough is
# a run of this script). Needs built binaries: `cargo build -p metad -p metactl -p datad`.
#
#   scripts/demo-node-replacement.sh            # binaries from ${CARGO_TARGET_DIR:-target}/debug
#   BIN=target/release scripts/demo-node-replacement.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug}"
for b in metad metactl datad; do
  [ -x "$BIN/$b" ] || { echo "missing $BIN/$b: run cargo build -p metad -p metactl -p datad" >&2; exit 1; }
done
DIR="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

META="127.0.0.1:18091,127.0.0.1:18191,127.0.0.1:18291"
PEERS="1=127.0.0.1:18091,2=127.0.0.1:18191,3=127.0.0.1:18291"
ctl() {
  echo "\$ metactl $*"
  "$BIN/metactl" --url "$META" "$@"
  echo
}
start_datad() { # slot port [datad options]
  local slot=$1 port=$2
  shift 2
  "$BIN/datad" --meta "$META" --listen "127.0.0.1:$port" --data-dir "$DIR/data-$slot" "$@" >"$DIR/data-$slot.log" 2>&1 &
  PIDS+=($!)
  DATA_PID[$slot]=$!
  disown
}
wait_http() { # url
  for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}

for id in 1 2 3; do
  "$BIN/metad" --node-id "$id" --listen "127.0.0.1:18$((id - 1))91" --peers "$PEERS" --data-dir "$DIR/meta-$id" \
    >"$DIR/meta-$id.log" 2>&1 &
  PIDS+=($!)
  disown
done
for id in 1 2 3; do wait_http "http://127.0.0.1:18$((id - 1))91/ready"; done

declare -a DATA_PID
for slot in 1 2 3; do
  start_datad "$slot" "1818$slot"
  wait_http "http://127.0.0.1:1818$slot/health"
  ctl add-data "127.0.0.1:1818$slot"
done
ctl create-database telegraf --replication 2 --shard-duration 1h

# Four hours of points (one shard group each) through data node 1.
for hour in 0 1 2 3; do
  ts=$(( 1704067200000000000 + hour * 3600000000000 ))
  body=$(for i in $(seq 0 199); do echo "cpu,host=h$((i % 5)) usage=$i.5 $(( ts + i * 1000000 ))"; done)
  curl -sf -XPOST "http://127.0.0.1:18181/write?db=telegraf" --data-binary "$body"
done
ctl show-shards

echo "# data node 127.0.0.1:18181 dies for good (kill -9); a new machine joins"
kill -9 "${DATA_PID[1]}"
start_datad 4 18184 --max-copy-rate 4096
wait_http "http://127.0.0.1:18184/health"
ctl add-data 127.0.0.1:18184
ctl remove-data --force 127.0.0.1:18181

entropy_json() { "$BIN/metactl" --url "$META" --json entropy show; }
wait_entropy() { # description, grep pattern that must match
  for _ in $(seq 600); do entropy_json | grep -q "$2" && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}
# The leader plans once its grace period after taking over is past; copies are throttled on the
# new node (--max-copy-rate) so the repair can be watched in flight.
wait_entropy "a claimed copy task" '"state": "claimed"'
ctl entropy show
for _ in $(seq 600); do
  report=$(entropy_json)
  if echo "$report" | grep -q '"under_replicated": \[\]' && echo "$report" | grep -q '"tasks": \[\]'; then break; fi
  sleep 0.1
done
ctl entropy show
ctl show-shards
