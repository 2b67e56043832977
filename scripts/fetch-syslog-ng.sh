#!/usr/bin/env bash
# Unpacks syslog-ng (daemon + loggen) into a private prefix without
# installing it. syslog-ng-core conflicts with rsyslog in apt, and the ingest
# benchmark needs both, so this script `apt-get download`s the .deb files and
# `dpkg -x`es them; nothing under /etc, /usr or the service manager changes.
#
# Usage: scripts/fetch-syslog-ng.sh [PREFIX]
#   PREFIX defaults to ${KONSEKI_PEERS_DIR:-$HOME/.cache/konseki}/syslog-ng.
# Prints the prefix on stdout when done. Idempotent: a prefix whose
# syslog-ng and loggen already start is left alone.
#
# Running it afterwards (bench/ingest/run does this for you):
#   LD_LIBRARY_PATH=$P/usr/lib/x86_64-linux-gnu:$P/usr/lib/syslog-ng \
#     $P/usr/sbin/syslog-ng --module-path=$P/usr/lib/syslog-ng/3.38 ...
set -euo pipefail

prefix="${1:-${KONSEKI_PEERS_DIR:-$HOME/.cache/konseki}/syslog-ng}"
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"

log() { echo "fetch-syslog-ng: $*" >&2; }

libpath() {
  local p="$1"
  printf '%s' "$p/usr/lib/$multiarch:$p/lib/$multiarch:$p/usr/lib/syslog-ng:$p/usr/lib/$multiarch/syslog-ng"
}

# Everything that the binaries need but this system lacks ("not found" lines).
missing_libs() {
  local p="$1" f
  for f in "$p/usr/sbin/syslog-ng" "$p/usr/bin/loggen" "$p"/usr/lib/syslog-ng/*/lib*.so \
           "$p"/usr/lib/"$multiarch"/libsyslog-ng*.so*; do
    [ -e "$f" ] || continue
    LD_LIBRARY_PATH="$(libpath "$p")" ldd "$f" 2>/dev/null | awk '/not found/ {print $1}'
  done | sort -u
}

works() {
  local p="$1"
  [ -x "$p/usr/sbin/syslog-ng" ] && [ -x "$p/usr/bin/loggen" ] || return 1
  [ -z "$(missing_libs "$p")" ] || return 1
  LD_LIBRARY_PATH="$(libpath "$p")" "$p/usr/sbin/syslog-ng" --version >/dev/null 2>&1
}

if works "$prefix"; then
  log "already unpacked in $prefix"
  echo "$prefix"
  exit 0
fi

if ! apt-cache show syslog-ng-core >/dev/null 2>&1; then
  log "apt does not know syslog-ng-core; running apt-get update"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
fi

debs="$(mktemp -d)"
trap 'rm -rf "$debs"' EXIT
mkdir -p "$prefix"

download_and_unpack() {
  local pkg="$1"
  log "downloading $pkg"
  (cd "$debs" && { apt-get download -qq "$pkg:$arch" >/dev/null 2>&1 || apt-get download -qq "$pkg" >/dev/null; })
  local deb
  for deb in "$debs"/"${pkg}"_*.deb; do
    [ -e "$deb" ] || { log "no .deb for $pkg"; return 1; }
    dpkg -x "$deb" "$prefix"
    rm -f "$deb"
  done
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# syslog-ng-core carries syslog-ng and loggen, the base modules (afsocket,
# affile, syslogformat, ...) and libsyslog-ng itself.
download_and_unpack syslog-ng-core

# Its direct library dependencies that are not installed on this machine.
for dep in $(apt-cache depends --no-recommends --no-suggests --no-enhances \
               --no-conflicts --no-breaks --no-replaces syslog-ng-core 2>/dev/null |
             awk '/Depends:/ && $2 ~ /^lib/ {print $2}' | sort -u); do
  installed "$dep" || download_and_unpack "$dep"
done

# Whatever ldd still cannot find: map each missing soname to its package.
for _ in 1 2 3; do
  missing="$(missing_libs "$prefix")"
  [ -n "$missing" ] || break
  for so in $missing; do
    pkg="$(apt-file search -l "$so" 2>/dev/null | head -1 || true)"
    if [ -z "$pkg" ]; then
      # Without apt-file: guess the Debian name from the soname
      # (libivykis.so.0 -> libivykis0, libnet.so.1 -> libnet1).
      base="${so%%.so*}"
      ver="${so##*.so.}"; ver="${ver%%.*}"
      pkg="$base$ver"
      apt-cache show "$pkg" >/dev/null 2>&1 || pkg="$base-$ver"
    fi
    log "ldd: $so missing, fetching $pkg"
    download_and_unpack "$pkg" || true
  done
done

if ! works "$prefix"; then
  log "unpacked into $prefix but it does not start; missing: $(missing_libs "$prefix" | tr '\n' ' ')"
  exit 1
fi
log "ready: $(LD_LIBRARY_PATH="$(libpath "$prefix")" "$prefix/usr/sbin/syslog-ng" --version 2>/dev/null | head -1 || true)"
echo "$prefix"
