#!/usr/bin/env bash
# The dependency firewall: the pure model (meta-store without its `storage` feature) and the
# planner (ae-planner) must not depend on RocksDB, tokio, openraft or axum, not even transitively;
# the planner depends on no crate of ours either.
set -euo pipefail
forbidden='^(rocksdb|librocksdb-sys|tokio|openraft|axum|hyper) '
check() { # package [cargo tree options]
  local package=$1
  shift
  local tree
  tree=$(cargo tree -p "$package" "$@" -e normal --prefix none)
  if grep -E "$forbidden" <<<"$tree"; then
    echo "dependency firewall broken: $package pulls in the crates above" >&2
    exit 1
  fi
  echo "dependency firewall holds: $package depends on $(sort -u <<<"$tree" | wc -l) crates, none of them I/O"
}
check meta-store --no-default-features
check ae-planner
if cargo tree -p ae-planner -e normal --prefix none | grep -E '^(meta-|metad|datad)' | grep -v '^ae-planner'; then
  echo "dependency firewall broken: ae-planner depends on a crate of ours" >&2
  exit 1
fi
