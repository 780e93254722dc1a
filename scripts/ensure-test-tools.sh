#!/usr/bin/env bash
# Installs what the tests use beyond Rust: a Python virtual environment with the InfluxDB 1.x
# client the compatibility test writes through (`influxdb` from PyPI) and Schemathesis for the
# /v1 contract check (`schemathesis`), both pinned, and the browser the web console's test drives
# (Debian's `chromium` with `chromium-driver`, headless). Safe to run repeatedly; does nothing
# when everything is there. Prints the environment's python on stdout (everything else goes to
# stderr).
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing the console test's browser: chromium chromium-driver" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install chromium" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi

venv="${METAD_TEST_VENV:-$HOME/.cache/metad/venv}"
python="$venv/bin/python"
# What the tests use from PyPI, pinned: the InfluxDB 1.x client, and Schemathesis for the /v1
# contract check (scripts/check-api-contract.sh).
packages=("influxdb==5.3.2" "schemathesis==4.32.5")
# Whether the venv holds every package at its pinned version.
pinned_installed() {
  "$python" - "${packages[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        found = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if found != wanted:
        sys.exit(1)
PY
}
if [ -x "$python" ] && pinned_installed >/dev/null 2>&1; then
  echo "$python"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: install Python 3 first" >&2; exit 1; }
echo "installing test tools into $venv: ${packages[*]}" >&2
[ -x "$python" ] || python3 -m venv "$venv" >&2
"$python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2
echo "$python"
