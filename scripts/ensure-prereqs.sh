#!/usr/bin/env bash
# Installs what a fresh machine lacks to build the project: libclang (bindgen for librocksdb-sys)
# and a C++ compiler. Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

missing=()
# The library list is read whole before it is searched: `ldconfig -p | grep -q` would fail under
# pipefail whenever grep stops reading early (SIGPIPE), making libclang look missing every time.
libraries=$(ldconfig -p 2>/dev/null || true)
if ! grep -Eq 'libclang(-[0-9.]+)?\.so' <<<"$libraries" && [ -z "${LIBCLANG_PATH:-}" ]; then
  missing+=(libclang-dev clang)
fi
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install the Rust toolchain (rustup) first" >&2; exit 1; }

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing build prerequisites: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
