#!/usr/bin/env bash
# Installs the Debian packages konseki needs, skipping the ones already
# present. Idempotent; needs root (or sudo).
#
#   scripts/deps.sh build   configure, build and run konseki (scripts/dev run)
#   scripts/deps.sh test    build + the real peers the tests and benchmarks
#                           drive: logger, rsyslogd (RELP, TLS), promtool,
#                           gnutls-cli, openssl, clang (fuzz smoke test),
#                           ripgrep and zstd (bench/archive_search/run),
#                           libfaketime (the log host's clock stepped, for
#                           konseki only: heartbeat and seal tests).
#                           The default (scripts/dev test).
#
# It never stops, starts or disables a system service. rsyslog and prometheus
# are only test peers (each test runs its own), so while apt installs them a
# temporary policy-rc.d (exit 101: "action forbidden") tells invoke-rc.d and
# deb-systemd-invoke not to start them. It is removed afterwards, and an
# existing policy-rc.d is left untouched. KONSEKI_POLICY_RC_D overrides its
# path (for tests).
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config
  libhyperscan-dev libre2-dev libfastjson-dev libconcurrentqueue-dev librelp-dev libpsl-dev
  publicsuffix libgeoip-dev geoip-database
  libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  libcli11-dev libssl-dev libzstd-dev zlib1g-dev libqrencode-dev libsystemd-dev
)
test_packages=(
  clang bsdutils rsyslog rsyslog-relp rsyslog-gnutls prometheus gnutls-bin openssl
  ripgrep zstd debhelper fakeroot lintian libfaketime
)

case "${1:-test}" in
  build) packages=("${build_packages[@]}") ;;
  test) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *)
    echo "usage: scripts/deps.sh [build|test]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
((${#missing[@]})) || exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
policy=${KONSEKI_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$policy" ]; then
  trap '$SUDO rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs packages\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
