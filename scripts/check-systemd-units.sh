#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd with systemd's own verifier (`systemd-analyze
# verify`: sections, keys and values, and that ExecStart names an executable), pointed at the
# binaries this build made. Any finding fails the check: systemd-analyze exits 0 on unknown keys,
# so its output is what counts. Installs systemd-analyze (Debian's systemd package) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug"
for binary in metad datad; do
  [ -x "$bin/$binary" ] || { echo "$bin/$binary is not built: run cargo build --workspace --bins" >&2; exit 1; }
done
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "installing systemd-analyze (Debian's systemd package)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bin=$(cd "$bin" && pwd)
units=()
for unit in deploy/systemd/*.service; do
  # The units run the installed binaries (/usr/local/bin); check them against the built ones.
  sed "s#/usr/local/bin/#$bin/#g" "$unit" >"$dir/$(basename "$unit")"
  units+=("$dir/$(basename "$unit")")
done
findings=$(systemd-analyze verify --man=no "${units[@]}" 2>&1) || true
if [ -n "$findings" ]; then
  echo "systemd-analyze verify found problems in deploy/systemd:" >&2
  echo "$findings" >&2
  exit 1
fi
echo "systemd units verified: ${units[*]##*/}"
