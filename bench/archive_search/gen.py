#!/usr/bin/env python3
"""Writes a synthetic konseki archive made of the real corpus lines.

gen.py OUT_DIR [--mb N] [--hosts H] [--days D]

Lines are "<received RFC 3339 micros> <sender> <raw>" as outputs/archive.h
writes them; raw lines come from ../shared/corpus (every file), cycled, with
the PID and numbers varied so the data does not repeat exactly. Receive
times increase through each day; every host gets every day.
"""
import argparse
import os
import random
import re

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--mb", type=int, default=256)
ap.add_argument("--hosts", type=int, default=8)
ap.add_argument("--days", type=int, default=4)
ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "../../../shared/corpus"))
a = ap.parse_args()

lines = []
for root, _, files in os.walk(a.corpus):
    for f in files:
        if f == "README.md":
            continue
        with open(os.path.join(root, f), errors="replace") as fh:
            lines += [l.rstrip("\n") for l in fh if l.strip()]
rnd = random.Random(1)
num = re.compile(r"\d+")
per_file = a.mb * 1024 * 1024 // (a.hosts * a.days)
for h in range(a.hosts):
    host = "host%02d" % h
    os.makedirs(os.path.join(a.out, host), exist_ok=True)
    for d in range(a.days):
        path = os.path.join(a.out, host, "2025-12-%02d.log" % (d + 1))
        size, i, out = 0, 0, []
        n_est = per_file // 170 + 1
        while size < per_file:
            us = int(i * 86400e6 / n_est) + rnd.randrange(1000)
            s, f = divmod(us, 1000000)
            ts = "2025-12-%02dT%02d:%02d:%02d.%06dZ" % (d + 1, s // 3600 % 24, s // 60 % 60, s % 60, f)
            raw = lines[rnd.randrange(len(lines))]
            raw = num.sub(lambda m: str(rnd.randrange(10 ** min(len(m.group()), 6))), raw, count=1)
            l = "%s 192.0.2.%d <13>%s\n" % (ts, h + 1, raw)
            out.append(l)
            size += len(l)
            i += 1
        with open(path, "w") as fh:
            fh.writelines(out)
