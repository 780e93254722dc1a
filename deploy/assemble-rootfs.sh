#!/usr/bin/env bash
# Assembles what the runtime image holds, in OUT: OUT/rootfs has our binaries from BIN_DIR, the
# shared libraries they link (as ldd reports them, with the dynamic loader) and a non-root user
# (uid 10001); OUT/data is the (empty) data directory, copied into the image owned by that user.
# Used by deploy/Dockerfile (build stage) and deploy/build-image.sh (on the host, for machines
# without registry access), so both produce the same image.
#
#   deploy/assemble-rootfs.sh OUT BIN_DIR
set -euo pipefail
out=${1:?usage: assemble-rootfs.sh OUT BIN_DIR}
bin_dir=${2:?usage: assemble-rootfs.sh OUT BIN_DIR}

rm -rf "$out"
root="$out/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$out/data"
for binary in metad datad metactl; do
  install -m 0755 "$bin_dir/$binary" "$root/usr/local/bin/$binary"
done
# Every library path ldd names (the loader appears as a bare path).
for lib in $(ldd "$root"/usr/local/bin/* | grep -v ':$' | grep -o '/[^ ]*' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
echo 'metad:x:10001:10001:metad:/var/lib/metad:/nonexistent' >"$root/etc/passwd"
echo 'metad:x:10001:' >"$root/etc/group"
chmod 1777 "$root/tmp"
