#!/usr/bin/env bash
# A Debian bookworm base image made locally, for sites where Docker Hub is not reachable:
# debootstrap (minbase) from the Debian mirror this host's apt already uses, then `docker import`.
#   deploy/base-image.sh [NAME]        (default ethos-base:bookworm; nothing is done if it exists)
# Needs root and debootstrap. Elsewhere pass BASE_IMAGE=debian:bookworm-slim to deploy/build.sh.
set -euo pipefail
name="${1:-ethos-base:bookworm}"
if docker image inspect "$name" >/dev/null 2>&1; then
  echo "base image $name exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
# The first Debian mirror named in apt's sources (deb822 or one-line format).
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v security | head -1 || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '/^deb / {print $2}' | grep -v security | head -1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d /tmp/ethos-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm from $mirror"
start=$(date +%s)
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$name" >/dev/null
echo "base image $name made in $(( $(date +%s) - start )) s"
