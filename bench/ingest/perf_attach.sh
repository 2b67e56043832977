#!/bin/sh
# Attaches `perf record` (software cpu-clock: this VM has no hardware
# counters) to the konseki that bench/ingest/run starts, once it has bound its
# TCP port, until it exits. Usage, next to the harness in another shell:
#   bench/ingest/perf_attach.sh /tmp/konseki-udp.data
# Then: perf report -i /tmp/konseki-udp.data --no-children --sort sym, or
# bench/ingest/perf_stages.py FILE NS_PER_MSG for the time per pipeline stage.
# The process is found by what listens on $PORT (default 5514) with a command
# name starting with "konseki" (so a copy such as /tmp/konseki-final works;
# matching the command line would also match the harness, which names the
# binary in its arguments).
set -eu
out=$1
port=${PORT:-5514}
while :; do
  pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o '"konseki[^"]*",pid=[0-9]*' |
        grep -o '[0-9]*$' | head -n 1 || true)
  [ -n "$pid" ] && break
  sleep 0.05
done
echo "attaching to $pid" >&2
exec perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -o "$out" -p "$pid"
