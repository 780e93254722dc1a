#!/usr/bin/env bash
# The dependency firewall: the pure model (meta-model) and the planner (ae-planner) must not
# depend on RocksDB, tokio, openraft or axum, not even transitively;
# the planner depends on no crate of ours but failure-domains (the spreading rule it shares with
# placement), which depends on nothing at all. The anti-entropy service (ae-service) may use
# tokio, but reaches its node only through its port: no RocksDB, openraft, axum or HTTP. The public
# API (meta-api) and the clients (meta-wire, meta-client, metactl, datad) use no Raft and no
# storage: they depend on the model only. TLS (cluster-tls) depends on no crate of ours.
set -euo pipefail
io='rocksdb|librocksdb-sys|openraft|axum|hyper|reqwest'
check() { # package forbidden-pattern [cargo tree options]
  local package=$1 forbidden=$2
  shift 2
  local tree
  tree=$(cargo tree -p "$package" "$@" -e normal --prefix none)
  if grep -E "^($forbidden) " <<<"$tree"; then
    echo "dependency firewall broken: $package pulls in the crates above" >&2
    exit 1
  fi
  echo "dependency firewall holds: $package depends on $(sort -u <<<"$tree" | wc -l) crates, none of them forbidden"
}
check meta-model "$io|tokio"
check ae-planner "$io|tokio"
if [ "$(cargo tree -p failure-domains -e normal --prefix none | wc -l)" -ne 1 ]; then
  echo "dependency firewall broken: failure-domains depends on another crate" >&2
  exit 1
fi
check ae-service "$io"
raft='rocksdb|librocksdb-sys|openraft|meta-store'
if cargo tree -p cluster-tls --all-features -e normal --prefix none | grep -E '^(meta-|metad|datad|ae-|daemon|failure-domains) '; then
  echo "dependency firewall broken: cluster-tls depends on a crate of ours" >&2
  exit 1
fi
for package in meta-api meta-wire meta-client metactl datad; do
  check "$package" "$raft"
done
if cargo tree -p ae-planner -e normal --prefix none | grep -E '^(meta-|metad|datad|ae-service|daemon)' | grep -v '^ae-planner'; then
  echo "dependency firewall broken: ae-planner depends on a crate of ours" >&2
  exit 1
fi
