#!/usr/bin/env bash
# Build the Ethos images (deploy/Dockerfile targets), tagged ${ETHOS_IMAGE_PREFIX}<target>:${ETHOS_IMAGE_TAG}.
#   deploy/build.sh                       gateway cpu-worker fer-worker stt-cpu redis s3-standin
#   deploy/build.sh gateway stt-cuda      just those
# Environment:
#   BASE_IMAGE        Debian bookworm base (default: debian:bookworm-slim if present or pullable,
#                     else ethos-base:bookworm made by deploy/base-image.sh)
#   EXTRA_CA_BUNDLE   a PEM file trusted by pip during the build only (proxies that intercept TLS)
#   ETHOS_IMAGE_PREFIX / ETHOS_IMAGE_TAG   default "ethos-" / "latest"
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${ETHOS_IMAGE_PREFIX:-ethos-}"
tag="${ETHOS_IMAGE_TAG:-latest}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gateway cpu-worker fer-worker stt-cpu redis s3-standin)

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1 \
     || timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim
  else
    echo "debian:bookworm-slim cannot be pulled: making a local base with debootstrap"
    bash deploy/base-image.sh ethos-base:bookworm
    base=ethos-base:bookworm
  fi
fi

# The extra CA bundle travels in the build context (deploy/.build/, ignored by git), and only
# the builder stages read it.
mkdir -p deploy/.build
ca_arg=deploy/no-extra-ca.pem
if [ -n "${EXTRA_CA_BUNDLE:-}" ]; then
  cp "$EXTRA_CA_BUNDLE" deploy/.build/extra-ca.pem
  ca_arg=deploy/.build/extra-ca.pem
fi

# BuildKit skips the stages a target does not need; use it where this CLI has it.
cli=(docker build)
if docker buildx version >/dev/null 2>&1; then
  cli=(docker buildx build --load)
elif [ -x /usr/bin/docker ] && [ "$(/usr/bin/docker version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)" -lt 23 ] 2>/dev/null; then
  export DOCKER_BUILDKIT=1
  cli=(/usr/bin/docker build)
elif [ "$(docker version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)" -lt 23 ] 2>/dev/null; then
  export DOCKER_BUILDKIT=1
else
  export DOCKER_BUILDKIT=0  # the legacy builder: the Dockerfile's stage order keeps it correct
fi

for t in "${targets[@]}"; do
  start=$(date +%s)
  "${cli[@]}" -q -f deploy/Dockerfile --target "$t" \
    --build-arg BASE_IMAGE="$base" --build-arg EXTRA_CA_BUNDLE="$ca_arg" \
    -t "${prefix}${t}:${tag}" . >/dev/null
  size=$(docker image inspect -f '{{.Size}}' "${prefix}${t}:${tag}")
  echo "built ${prefix}${t}:${tag} in $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"
done
