#!/usr/bin/env bash
# The /v1 contract check: starts a real metad (the debug binary this build made) on a free port
# with a fresh data dir, and runs Schemathesis (pinned, in the test venv of
# scripts/ensure-test-tools.sh) against the node's own /v1/openapi.json: every check, the stateful
# phase included (operations linked by the document's OpenAPI links), a fixed seed and a bounded
# budget (about a minute on 2 cores). Any failure, error or server error fails the script.
#
#   CONTRACT_LONG=1   many more examples per operation and stateful scenarios (several minutes)
#   CONTRACT_SEED=N   another seed (default 1); a failure prints its seed and a curl to replay it
#
# What the document cannot say is in tests/contract/ (schemathesis.toml, hooks.py).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/metad"
[ -x "$bin" ] || { echo "$bin is not built: run cargo build -p metad" >&2; exit 1; }
python=$(scripts/ensure-test-tools.sh)
schemathesis="$(dirname "$python")/schemathesis"

dir=$(mktemp -d)
pid=""
stop() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap stop EXIT

# A free port: bound, read, released (the node binds it right after).
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$bin" --node-id 1 --listen "127.0.0.1:$port" --data-dir "$dir/data" --peers "1=127.0.0.1:$port" \
  >"$dir/metad.log" 2>&1 &
pid=$!

ready() { "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url/ready" 2>/dev/null; }
deadline=$(( $(date +%s) + 60 ))
until ready; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "metad did not become ready at $url; its log:" >&2
    cat "$dir/metad.log" >&2
    exit 1
  fi
  sleep 0.2
done

# One data node, so that shard groups get an owner and the cluster is never empty: a restore is
# then refused by state (409 not_empty) instead of replacing the metadata under the run.
"$python" - "$url/v1/data-nodes" <<'PY'
import json, sys, urllib.request
body = json.dumps({"tcp_addr": "contract-seed:8088"}).encode()
request = urllib.request.Request(sys.argv[1], body, {"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=10)
PY

examples=40
[ "${CONTRACT_LONG:-0}" = 1 ] && examples=500
seed="${CONTRACT_SEED:-1}"
echo "contract check: metad at $url, seed $seed, $examples examples per operation"
# Hypothesis keeps its files (character tables, example database) with the run, not in the tree.
export HYPOTHESIS_STORAGE_DIRECTORY="$dir/hypothesis"
status=0
"$schemathesis" --config-file tests/contract/schemathesis.toml --no-color run "$url/v1/openapi.json" \
  --url "$url" --checks all --seed "$seed" --max-examples "$examples" --workers 1 \
  --phases examples,coverage,fuzzing,stateful --generation-database none || status=$?
if [ "$status" -ne 0 ]; then
  echo "contract check failed (seed $seed); the meta node's log: $dir/metad.log (kept below)" >&2
  tail -n 50 "$dir/metad.log" >&2
fi
exit "$status"
