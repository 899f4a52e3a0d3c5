#!/usr/bin/env bash
# System packages Ethos needs: ffmpeg (probe/decode), redis-server (embedded run, tests),
# espeak-ng and sox (test speech), docker-compose (compose validation), chromium (Studio tests),
# docker.io and debootstrap (`make compose-check`: images built from a local Debian base).
# As root it also starts dockerd in the background when no Docker engine answers.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v redis-server >/dev/null || need+=(redis-server)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v chromium >/dev/null || need+=(chromium fonts-dejavu-core)
# Optional: without them `make compose-check` skips, saying why; the tests do not need them.
optional=()
command -v dockerd >/dev/null || optional+=(docker.io)
command -v debootstrap >/dev/null || optional+=(debootstrap)
start_dockerd() {
  # Only as root, only when installed, only when no engine answers already.
  [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null || return 0
  command -v docker >/dev/null && docker info >/dev/null 2>&1 && return 0
  echo "starting dockerd in the background (log: /tmp/ethos-dockerd.log)"
  setsid nohup dockerd >>/tmp/ethos-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 30); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  echo "dockerd did not answer within 30 s (see /tmp/ethos-dockerd.log)" >&2
}
if [ "$(id -u)" -ne 0 ]; then
  [ ${#optional[@]} -eq 0 ] || echo "optional system packages missing: ${optional[*]} (make compose-check needs them)" >&2
  [ ${#need[@]} -eq 0 ] && exit 0
  echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
need+=("${optional[@]}")
if [ ${#need[@]} -eq 0 ]; then
  start_dockerd
  exit 0
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
start_dockerd
