#!/usr/bin/env bash
# syslog-ng's suppress() summary, from a real syslog-ng 3.38 to a real
# konseki: sshd writes the same password failure six times (one connection:
# same pid, same port), syslog-ng forwards the first and then "Last message
# 'Failed password for ' repeated 5 times, suppressed by syslog-ng on HOST",
# and konseki must count six failures: the success that follows is
# ssh.bruteforce_success with count 6 (five needed). Without the notice's
# replay it is one failure and no such alert.
#
# syslog-ng comes from scripts/fetch-syslog-ng.sh (apt-get download and
# dpkg -x into a private prefix: it conflicts with rsyslog in apt); it runs
# as this user, on a socket and files of its own in a temp dir.
#
# Usage: syslog_ng_suppress_test.sh KONSEKI SOURCE_DIR
# Exit 77 (skipped) without logger or when syslog-ng cannot be fetched.
set -euo pipefail

konseki=$1
src=$(cd "$2" && pwd)
command -v logger >/dev/null || { echo "SKIP: util-linux logger missing"; exit 77; }
work=$(mktemp -d /tmp/konseki-sng-XXXXXX)
k_pid=
s_pid=
cleanup() {
  if [ -n "$s_pid" ]; then kill "$s_pid" 2>/dev/null || true; wait "$s_pid" 2>/dev/null || true; fi
  if [ -n "$k_pid" ]; then kill "$k_pid" 2>/dev/null || true; wait "$k_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in konseki.err syslog-ng.out alerts.jsonl; do
    [ -e "$work/$f" ] && { echo "--- $f"; tail -20 "$work/$f"; }
  done
  find "$work/archive" -type f -exec tail -5 {} \; 2>/dev/null || true
  exit 1
}

prefix=$("$src/scripts/fetch-syslog-ng.sh" 2>"$work/fetch.log") ||
  { tail -5 "$work/fetch.log"; echo "SKIP: syslog-ng could not be fetched"; exit 77; }

cat >"$work/konseki.yaml" <<CONF
listen:
  - tcp://127.0.0.1:0
archive:
  dir: $work/archive
alerts:
  file: $work/alerts.jsonl
  stdout: false
metrics:
  listen: ""
heartbeat:
  state_dir: $work/state
allow_root: true
CONF
"$konseki" -c "$work/konseki.yaml" 2>"$work/konseki.err" &
k_pid=$!
port=
for _ in $(seq 1 100); do
  if grep -q ready "$work/konseki.err"; then
    port=$(sed -n 's|.*listening on tcp://127.0.0.1:\([0-9]*\).*|\1|p' "$work/konseki.err" | head -1)
    break
  fi
  sleep 0.1
done
[ -n "$port" ] || fail "konseki did not start"

cat >"$work/syslog-ng.conf" <<CONF
@version: 3.38
options { keep-hostname(yes); };
source s { unix-dgram("$work/log.sock"); };
destination d { network("127.0.0.1" port($port) transport(tcp) suppress(2)); };
log { source(s); destination(d); };
CONF
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LD_LIBRARY_PATH="$prefix/usr/lib/$multiarch:$prefix/lib/$multiarch:$prefix/usr/lib/syslog-ng:$prefix/usr/lib/$multiarch/syslog-ng" \
  "$prefix/usr/sbin/syslog-ng" --module-path="$prefix/usr/lib/syslog-ng/3.38" -F \
  -f "$work/syslog-ng.conf" -R "$work/persist" -p "$work/syslog-ng.pid" -c "$work/syslog-ng.ctl" \
  >"$work/syslog-ng.out" 2>&1 &
s_pid=$!
for _ in $(seq 1 100); do [ -S "$work/log.sock" ] && break; sleep 0.1; done
[ -S "$work/log.sock" ] || fail "syslog-ng did not open its socket"

failure="Failed password for root from 203.0.113.61 port 40000 ssh2"
for _ in 1 2 3 4 5 6; do logger -u "$work/log.sock" -t sshd --id=3000 "$failure"; done
# suppress(2): the summary goes out 2 s after the last repeat, or before the
# next other line; the success follows it.
sleep 3
logger -u "$work/log.sock" -t sshd --id=3001 "Accepted password for root from 203.0.113.61 port 40001 ssh2"
for _ in $(seq 1 100); do
  grep -q '"sign":"ssh.bruteforce_success"' "$work/alerts.jsonl" 2>/dev/null && break
  sleep 0.1
done
grep -rq "Last message 'Failed password for ' repeated 5 times, suppressed by syslog-ng" "$work/archive" ||
  fail "syslog-ng wrote no suppress summary (its wording changed?)"
alert=$(grep '"sign":"ssh.bruteforce_success"' "$work/alerts.jsonl" || true)
[ -n "$alert" ] || fail "no ssh.bruteforce_success: the summary did not count"
case "$alert" in
  *'"count":6'*) ;;
  *) fail "want count 6 (1 + 5 suppressed): $alert" ;;
esac
echo "PASS: syslog-ng's summary of 5 suppressed failures counted: ssh.bruteforce_success count 6"
