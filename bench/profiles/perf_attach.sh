#!/bin/sh
# Attaches `perf record` (software cpu-clock: this VM has no hardware
# counters) to the konseki that bench/ingest/run starts, once it has bound its
# TCP port, until it exits. Usage, next to the harness in another shell:
#   bench/profiles/perf_attach.sh /tmp/konseki-udp.data [binary-path-substring]
# Then: perf report -i /tmp/konseki-udp.data --no-children --sort sym
set -eu
out=$1
match=${2:-build-perf/konseki}
port=${PORT:-5514}
while :; do
  pid=$(pgrep -n -f -- "$match" || true)
  if [ -n "$pid" ] && ss -ltnpH "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
    break
  fi
  sleep 0.05
done
echo "attaching to $pid" >&2
exec perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -o "$out" -p "$pid"
