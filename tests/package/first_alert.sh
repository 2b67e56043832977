#!/usr/bin/env bash
# Times what a new user does first with the .deb: dpkg -i, start konseki with
# the installed config, send eight sshd failures with logger (one
# ssh.bruteforce; a single failure is a correlation input only), and see it in
# `konseki alerts`. Prints each step's time and the total (README, "First
# install"). Not a ctest test (a figure, not a check).
#
# Usage (root): tests/package/first_alert.sh konseki_0.1.0_amd64.deb
#   KONSEKI_KEEP_DEB=/tmp/k.deb tests/package/deb_test.sh . builds one.
# The daemon is started by hand as root (it drops to `konseki`), as there is
# no systemd in a container; the package's scripts start nothing and a
# policy-rc.d that denies everything is in place while it runs. Needs UDP
# port 514 and 127.0.0.1:9514 free (the installed config's). Purges the
# package and removes what the run wrote under /var/log/konseki afterwards.
set -euo pipefail
deb=$(realpath "$1")
[ "$(id -u)" -eq 0 ] || { echo "needs root (dpkg -i)"; exit 77; }
if dpkg-query -W -f='${Status}' konseki 2>/dev/null | grep -q "install ok installed"; then
  echo "a konseki package is installed already; not replacing it"; exit 77
fi
if ss -Hlnu 'sport = :514' | grep -q . || ss -Hlnt 'sport = :9514' | grep -q .; then
  echo "port 514/udp or 9514/tcp is busy"; exit 77
fi
exec 9>/tmp/konseki-package-test.lock  # one package test at a time (deb_test.sh)
flock -w 1200 9
work=$(mktemp -d)
policy_created=0
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  dpkg --purge konseki >/dev/null 2>&1 || true
  rm -rf /var/log/konseki
  if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  policy_created=1
fi
now() { date +%s.%N; }
secs() { echo "$1 $2" | awk '{printf "%.1f", $2 - $1}'; }

t0=$(now)
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
t1=$(now)
/usr/bin/konseki --config /etc/konseki/konseki.yaml 2>"$work/daemon.log" &
daemon_pid=$!
until grep -q ready "$work/daemon.log"; do
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
  sleep 0.05
done
t2=$(now)
# One failed password is an input only (issue #12); eight from one source
# within two minutes are one ssh.bruteforce alert.
for i in 1 2 3 4 5 6 7 8; do
  logger -n 127.0.0.1 -P 514 -d -t sshd "Failed password for root from 203.0.113.9 port 5002$i ssh2"
done
t3=$(now)
for _ in $(seq 1 600); do
  /usr/bin/konseki alerts >"$work/alerts.txt" 2>&1 || true
  grep -q ssh.bruteforce "$work/alerts.txt" && break
  sleep 0.05
done
grep -q ssh.bruteforce "$work/alerts.txt" || { cat "$work/alerts.txt" "$work/daemon.log"; exit 1; }
t4=$(now)
echo "dpkg -i $(basename "$deb")                 $(secs "$t0" "$t1") s"
echo "konseki --config /etc/konseki/konseki.yaml -> ready $(secs "$t1" "$t2") s"
echo "logger x8 sshd 'Failed password ...'  -> konseki alerts shows ssh.bruteforce $(secs "$t3" "$t4") s later"
echo "total from dpkg -i to the first alert on the console: $(secs "$t0" "$t4") s"
echo "\$ konseki alerts"
cat "$work/alerts.txt"
