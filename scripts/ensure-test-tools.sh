#!/usr/bin/env bash
# Installs what the tests use beyond Rust: a Python virtual environment with the InfluxDB 1.x
# client the compatibility test writes through (`influxdb` from PyPI). Safe to run repeatedly;
# does nothing when it is there. Prints the environment's python on stdout.
set -euo pipefail

venv="${METAD_TEST_VENV:-$HOME/.cache/metad/venv}"
python="$venv/bin/python"
if [ -x "$python" ] && "$python" -c 'import influxdb' >/dev/null 2>&1; then
  echo "$python"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: install Python 3 first" >&2; exit 1; }
echo "installing test tools into $venv: influxdb==5.3.2" >&2
python3 -m venv "$venv" >&2
"$python" -m pip install --quiet --disable-pip-version-check 'influxdb==5.3.2' >&2
echo "$python"
