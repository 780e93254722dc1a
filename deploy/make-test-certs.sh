#!/usr/bin/env bash
# Makes a CA and one certificate per node of deploy/compose.yaml (meta1-3, data1-3), for trying
# TLS out (deploy/compose.tls.yaml): each certificate names its host, `localhost` and 127.0.0.1
# (the health checks dial those) and serves as server and client certificate (mutual TLS).
# Keys are written world-readable so the image's unprivileged user can read them through a bind
# mount: for a test setup only; a production CA keeps its key elsewhere and each node's key
# readable by that node alone.
#
#   deploy/make-test-certs.sh [DIR]          # default: deploy/tls
set -euo pipefail
dir=${1:-"$(dirname "$0")/tls"}
mkdir -p "$dir"
cd "$dir"
curve=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${curve[@]}" -days 365 -subj "/CN=metad test CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
for node in meta1 meta2 meta3 data1 data2 data3; do
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$node" >"$node.ext"
  openssl req "${curve[@]}" -subj "/CN=$node" -keyout "$node-key.pem" -out "$node.csr" 2>/dev/null
  openssl x509 -req -in "$node.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 365 -extfile "$node.ext" \
    -out "$node.pem" 2>/dev/null
  rm "$node.csr" "$node.ext"
  chmod 0644 "$node-key.pem"
done
echo "CA and certificates for meta1-3 and data1-3 in $(pwd)"
