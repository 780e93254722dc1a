#!/usr/bin/env bash
# The dependency firewall: the pure model (meta-store without its `storage` feature) must not
# depend on RocksDB, tokio, openraft or axum, not even transitively.
set -euo pipefail
forbidden='^(rocksdb|librocksdb-sys|tokio|openraft|axum|hyper) '
tree=$(cargo tree -p meta-store --no-default-features -e normal --prefix none)
if grep -E "$forbidden" <<<"$tree"; then
  echo "dependency firewall broken: the pure model pulls in the crates above" >&2
  exit 1
fi
echo "dependency firewall holds: the pure model depends on $(sort -u <<<"$tree" | wc -l) crates, none of them I/O"
