#!/usr/bin/env bash
# The Debian package as an admin gets it: builds the .deb with
# `dpkg-buildpackage -us -uc -b` from a copy of the tree (or takes
# $KONSEKI_DEB) with warnings as errors and DEB_BUILD_OPTIONS=noopt (Debian's
# flags at -O0: the daemon's second compile at -O3 took 5-8 of CI's 20
# minutes on 2 cores; scripts/release-check builds the optimized, fortified
# tree, and KONSEKI_DEB_OPTIMIZED=1 builds this package so), installs it with dpkg -i, runs the installed binary's
# check-config and check-rules on the installed config and packs, runs the
# installed daemon on loopback with that config and asks `konseki status`,
# then purges and checks that no file of the package, no config and no state
# remains. It never starts, stops or enables a system service: the package's
# scripts start nothing, and a policy-rc.d that denies everything is in place
# while it runs.
#
# Usage: tests/package/deb_test.sh SOURCE_DIR
# Exit 77 (skipped) without root or dpkg-buildpackage, or when a konseki
# package is installed already (it is not replaced).
set -euo pipefail

src=$(cd "$1" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root (dpkg -i)"; exit 77; fi
for tool in dpkg-buildpackage dh; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool missing (apt-get install debhelper)"; exit 77; fi
done

# One package test at a time on this machine (dpkg has one database), in a
# fixed folder so that ccache finds the previous run's objects (the compile
# flags name the source folder).
exec 9>/tmp/konseki-package-test.lock
flock -w 1200 9
work=/var/tmp/konseki-package-test
rm -rf "$work"
mkdir -p "$work"
policy_created=0
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  rm -rf "$work"
}
trap cleanup EXIT

deb=${KONSEKI_DEB:-}
if [ -z "$deb" ]; then
  # Tracked and new (not ignored) files: the tree as it is, without build dirs.
  mkdir "$work/konseki-0.1.0"
  (cd "$src" && git ls-files -z -co --exclude-standard | grep -zv '^build' |
    xargs -0 tar -cf - --no-recursion) | tar -C "$work/konseki-0.1.0" -xf -
  opt=" noopt"
  if [ -n "${KONSEKI_DEB_OPTIMIZED:-}" ]; then opt=; fi
  start=$(date +%s)
  (cd "$work/konseki-0.1.0" &&
    KONSEKI_CCACHE=1 KONSEKI_WERROR=ON CCACHE_NOHASHDIR=1 DEB_BUILD_OPTIONS="parallel=2$opt" \
      dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || { tail -50 "$work/build.log"; exit 1; }
  echo "built in $(( $(date +%s) - start )) s"
  deb=$(ls "$work"/konseki_*.deb)
  # KONSEKI_KEEP_DEB=FILE keeps a copy (for tests/package/first_alert.sh).
  if [ -n "${KONSEKI_KEEP_DEB:-}" ]; then cp "$deb" "$KONSEKI_KEEP_DEB"; fi
fi
echo "package: $deb"

if dpkg-query -W -f='${Status}' konseki 2>/dev/null | grep -q "install ok installed"; then
  echo "SKIP: a konseki package is installed already; not replacing it"
  exit 77
fi
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  policy_created=1
fi

fail() { echo "FAIL: $*"; dpkg --purge konseki >/dev/null 2>&1 || true; exit 1; }

dpkg -i "$deb"
files=$(dpkg -L konseki)
for f in /usr/bin/konseki /etc/konseki/konseki.yaml /usr/share/konseki/patterns/sshd.yaml \
         /lib/systemd/system/konseki.service /usr/lib/sysusers.d/konseki.conf \
         /usr/lib/tmpfiles.d/konseki.conf /etc/logrotate.d/konseki \
         /usr/share/man/man8/konseki.8.gz /usr/share/man/man5/konseki.yaml.5.gz; do
  [ -e "$f" ] || fail "$f not installed"
done
getent passwd konseki >/dev/null || fail "user konseki not created"
[ "$(stat -c %U /var/lib/konseki)" = konseki ] || fail "/var/lib/konseki not owned by konseki"
[ "$(stat -c %G:%a /etc/konseki/konseki.yaml)" = konseki:640 ] || fail "config not 0640 root:konseki"

/usr/bin/konseki check-config /etc/konseki/konseki.yaml || fail "check-config of the installed config"
/usr/bin/konseki check-rules /usr/share/konseki/patterns >"$work/check-rules.log" || {
  tail "$work/check-rules.log"; fail "check-rules of the installed packs"; }
tail -1 "$work/check-rules.log"

# The installed daemon with the installed config, moved to loopback ports
# and a scratch archive: starts as root, drops to konseki, answers status.
conf="$work/konseki.yaml"
sed -e 's|udp://0.0.0.0:514|udp://127.0.0.1:0|' -e 's|tcp://0.0.0.0:514|tcp://127.0.0.1:0|' \
    -e "s|/var/log/konseki/archive|$work/archive|" -e "s|/var/log/konseki/alerts.jsonl|$work/log/alerts.jsonl|" \
    -e 's|listen: 127.0.0.1:9514|listen: ""|' /etc/konseki/konseki.yaml >"$conf"
install -d -o konseki -g konseki "$work/archive" "$work/log"
chmod 755 "$work"
/usr/bin/konseki -c "$conf" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 600); do
  grep -q ready "$work/daemon.log" && break
  sleep 0.1
done
grep -q ready "$work/daemon.log" || { cat "$work/daemon.log"; fail "daemon did not start"; }
/usr/bin/konseki status -c "$conf" >"$work/status.txt" || { cat "$work/status.txt"; fail "konseki status"; }
grep -q "rules loaded from /usr/share/konseki/patterns" "$work/status.txt" ||
  grep -q "loaded from /usr/share/konseki/patterns" "$work/status.txt" || { cat "$work/status.txt"; fail "status output"; }
[ "$(ps -o user= -p "$daemon_pid")" = konseki ] || fail "daemon still runs as root"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "daemon exit status"
daemon_pid=

dpkg --purge konseki
for f in $files; do
  case "$f" in
    /.|/usr|/usr/bin|/usr/share|/usr/share/doc|/usr/share/man|/usr/share/man/man5|/usr/share/man/man8|/etc|/etc/logrotate.d|/lib|/lib/systemd|/lib/systemd/system|/usr/lib|/usr/lib/sysusers.d|/usr/lib/tmpfiles.d) continue ;;
  esac
  [ -e "$f" ] && fail "$f left after purge"
done
for d in /etc/konseki /var/lib/konseki /var/log/konseki /usr/share/konseki; do
  [ -e "$d" ] && fail "$d left after purge"
done
echo "PASS: installed, checked, ran, purged"
