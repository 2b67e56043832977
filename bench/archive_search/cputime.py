#!/usr/bin/env python3
"""Runs one command and prints "cpu_seconds wall_seconds lines" for it.

cputime.py OUT_FILE -- CMD ARG...

CPU is user + system time of the command and every process it waited for
(os.wait4's rusage: the kernel's own accounting, microsecond resolution,
not the 10 ms steps of /usr/bin/time's %U/%S). stdout goes to OUT_FILE (a
regular file: ripgrep and GNU grep stop at the first match when stdout is
/dev/null, and a pipe to `wc -l` would add wc's CPU); its lines are counted
afterwards, outside the measurement. stderr is discarded.
"""
import os
import sys
import time

out = sys.argv[1]
assert sys.argv[2] == "--"
cmd = sys.argv[3:]
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
null = os.open(os.devnull, os.O_WRONLY)
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(fd, 1)
    os.dup2(null, 2)
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
os.close(fd)
code = os.waitstatus_to_exitcode(status)
if code not in (0, 1):  # 1: grep's and konseki's "no line matched"
    sys.exit(f"cputime.py: {cmd[0]} exited {code}")
with open(out, "rb") as f:
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
print(f"{ru.ru_utime + ru.ru_stime:.6f} {wall:.6f} {lines}")
