#!/usr/bin/env bash
# Builds the runtime image of deploy/Dockerfile without any registry: compiles the binaries on
# this machine, assembles the root filesystem (deploy/assemble-rootfs.sh) and builds the
# Dockerfile's `runtime` stage (FROM scratch) from it. Nothing is pulled.
#
#   deploy/build-image.sh                    # release build, tag metad:latest
#   PROFILE=dev TAG=metad:test deploy/build-image.sh
#   SKIP_BUILD=1 deploy/build-image.sh       # binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-release}
tag=${TAG:-metad:latest}
target=${CARGO_TARGET_DIR:-target}
case "$profile" in
  release) profile_flag=--release; bin_dir="$target/release" ;;
  dev) profile_flag=; bin_dir="$target/debug" ;;
  *) echo "PROFILE must be release or dev, not $profile" >&2; exit 2 ;;
esac
command -v docker >/dev/null || { echo "docker is not installed" >&2; exit 1; }

if [ "${SKIP_BUILD:-}" != 1 ]; then
  scripts/ensure-prereqs.sh
  cargo build $profile_flag -p metad -p datad -p metactl
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
deploy/assemble-rootfs.sh "$context/image" "$bin_dir"
# The runtime stage exactly as deploy/Dockerfile has it, fed from the context, not a build stage.
sed -n '/^FROM scratch AS runtime/,$p' deploy/Dockerfile \
  | sed 's|^COPY --from=build \(--chown=[0-9:]* \)\{0,1\}/image/|COPY \1image/|' >"$context/Dockerfile"
docker build --quiet -t "$tag" "$context" >/dev/null
echo "built image $tag from $bin_dir ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"
