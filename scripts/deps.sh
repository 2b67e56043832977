#!/usr/bin/env bash
# Installs the Debian packages konseki needs to build, test and benchmark,
# skipping the ones already present. Idempotent; needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang
  libhyperscan-dev libre2-dev libfastjson-dev libconcurrentqueue-dev librelp-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  libcli11-dev libssl-dev
  bsdutils rsyslog rsyslog-relp rsyslog-gnutls prometheus gnutls-bin openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # rsyslog and prometheus are only peers for tests: never let apt start them.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in rsyslog prometheus; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
      $SUDO systemctl stop "$svc" || true
    fi
  done
fi
