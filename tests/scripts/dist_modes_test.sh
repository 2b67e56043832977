#!/usr/bin/env bash
# The files that set owners and modes of konseki's folders and files agree
# with each other: the unit (User=, Group=, StateDirectory=, LogsDirectory=
# and their modes), tmpfiles.d, the postinst's fallback without
# systemd-tmpfiles, logrotate's `create` for the alert file, and the
# postinst's group of the config. Members of the daemon's group use the
# console commands (README, "On the console"): they must be able to enter
# both folders and read the alert file after every rotation.
# Also: the report unit does not take from sendmail the set-id and the
# writable /var/spool that the MTA's queue needs.
#
# Usage: tests/scripts/dist_modes_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: dist_modes_test.sh SOURCE_DIR}
unit=$src/dist/konseki.service
report=$src/dist/konseki-report.service
tmpfiles=$src/dist/konseki.tmpfiles
logrotate=$src/dist/konseki.logrotate
postinst=$src/debian/konseki.postinst
config=$src/dist/konseki.yaml
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Value of Key= in a unit file (the last one).
key() { sed -n "s/^$2=//p" "$1" | tail -1; }

user=$(key "$unit" User)
group=$(key "$unit" Group)
[ -n "$user" ] && [ -n "$group" ] || fail "$unit: no User= or Group="

# "<path> <mode> <user> <group>" of each folder, as each file makes it.
check_dir() {
  local path=$1 mode=$2 what
  what=$(awk -v p="$path" '$1 == "d" && $2 == p { print $3, $4, $5 }' "$tmpfiles")
  [ "$what" = "$mode $user $group" ] ||
    fail "$tmpfiles makes $path '$what', the unit '$mode $user $group'"
  what=$(grep -E "install -d .* $path\$" "$postinst" |
    sed -E 's/.*-o ([^ ]+) -g ([^ ]+) -m ([0-7]+) .*/\3 \1 \2/')
  [ "$what" = "$mode $user $group" ] ||
    fail "$postinst makes $path '$what', the unit '$mode $user $group'"
  # The group may enter it; others may not.
  (( (8#$mode & 8#050) == 8#050 )) || fail "$path $mode: group $group cannot enter it"
  (( (8#$mode & 8#007) == 0 )) || fail "$path $mode: open to others"
}
[ "$(key "$unit" StateDirectory)" = konseki ] || fail "$unit: StateDirectory= is not konseki"
[ "$(key "$unit" LogsDirectory)" = konseki ] || fail "$unit: LogsDirectory= is not konseki"
check_dir /var/lib/konseki "$(key "$unit" StateDirectoryMode)"
check_dir /var/log/konseki "$(key "$unit" LogsDirectoryMode)"

# The alert file logrotate rotates is the config's, in LogsDirectory=, and
# the file it creates is the daemon's, readable by its group only.
alerts=$(awk '/^alerts:/ { a = 1; next } /^[^ #]/ { a = 0 } a && $1 == "file:" { print $2 }' "$config")
[ "$alerts" = /var/log/konseki/alerts.jsonl ] || fail "$config: alerts.file is '$alerts'"
grep -qE "^$alerts \{" "$logrotate" || fail "$logrotate does not rotate $alerts"
read -r mode fuser fgroup < <(awk '$1 == "create" { print $2, $3, $4 }' "$logrotate")
[ "$fuser:$fgroup" = "$user:$group" ] ||
  fail "$logrotate creates $alerts as $fuser:$fgroup; the daemon (and its console users) are $user:$group"
(( (8#$mode & 8#040) == 8#040 )) || fail "$logrotate: mode $mode, group $group cannot read $alerts"
(( (8#$mode & 8#007) == 0 )) || fail "$logrotate: mode $mode, others can read $alerts"

# Rotated files are named by number whatever /etc/logrotate.conf says, and
# the postrotate's SIGHUP reaches the daemon alone: the report and `alerts
# --follow` run as the same user and die of a SIGHUP (scen14 prod 2).
grep -qE "^\s*nodateext\s*\$" "$logrotate" || fail "$logrotate: no nodateext"
service=$(basename "$unit")
grep -qE "systemctl kill --kill-whom=main --signal=HUP $service " "$logrotate" ||
  fail "$logrotate: the postrotate does not signal $service's main process"
# Without systemd, logrotate's pkill pattern finds the daemon however the
# docs start it, and never the console commands of the same user.
pattern=$(sed -nE "s/.*pkill -HUP -u $user -f '([^']*)'.*/\\1/p" "$logrotate")
[ -n "$pattern" ] || fail "$logrotate: no pkill -f pattern for the non-systemd case"
for daemon in "$(key "$unit" ExecStart)" \
  "konseki --config /etc/konseki/konseki.yaml" "konseki -c /etc/konseki/konseki.yaml" \
  "/usr/local/bin/konseki --config=/etc/konseki/konseki.yaml"; do
  grep -qE -- "$pattern" <<<"$daemon" || fail "logrotate's pkill misses the daemon '$daemon'"
done
for console in "konseki alerts --follow" "/usr/bin/konseki report --config /etc/konseki/konseki.yaml" \
  "konseki status -c /etc/konseki/konseki.yaml" "konseki check-config /etc/konseki/konseki.yaml"; do
  if grep -qE -- "$pattern" <<<"$console"; then fail "logrotate's pkill would signal '$console'"; fi
done

# The config is the daemon's group's, which the console reads too.
grep -qE "^\s*chgrp $group /etc/konseki/konseki.yaml\$" "$postinst" ||
  fail "$postinst does not give the config to group $group"

# The report runs as the same user and group, and may run sendmail.
[ "$(key "$report" User):$(key "$report" Group)" = "$user:$group" ] ||
  fail "$report: not $user:$group"
for bad in NoNewPrivileges=yes RestrictSUIDSGID=yes ProtectSystem=strict; do
  if grep -qx "$bad" "$report"; then
    fail "$report: $bad keeps sendmail from queueing the mail (set-id postdrop, /var/spool)"
  fi
done

if [ "$failures" -ne 0 ]; then exit 1; fi
echo "OK: owners and modes agree ($user:$group)"
