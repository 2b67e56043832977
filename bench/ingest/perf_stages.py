#!/usr/bin/env python3
"""Groups a flat konseki profile by pipeline stage, for bench/RESULTS.md's
"where each 100 ns per message goes".

    perf record -e cpu-clock -F 1999 -o FILE -p <konseki pid>   # see perf_attach.sh
    bench/ingest/perf_stages.py FILE NS_PER_MSG

NS_PER_MSG is the run's CPU per message (bench/ingest/run's "CPU s/M msgs" x
1000). Prints a Markdown row per stage: share of samples and ns per message.
Symbols are matched by name, first rule first; kernel symbols have no caller
here, so the three kernel rows are approximate.
"""
import collections
import re
import subprocess
import sys

STAGES = [
    ("kernel: archive write(2) (page-cache copy, ext4)",
     r"\[k\].*(folio|ext4|filemap|generic_perform_write|iomap|balance_dirty|block_write|jbd2|"
     r"mark_buffer|__block_commit|xas_|_copy_from_iter|copy_page_from_iter|vfs_write|ksys_write|"
     r"file_update_time|generic_write)"),
    ("kernel: scheduling, wake-ups, futex",
     r"\[k\].*(finish_task_switch|schedule|futex|_raw_spin_unlock_irq|try_to_wake|irqentry|"
     r"native_write_msr|enqueue_task|dequeue_task|update_curr|pick_next|__switch_to|hrtimer|"
     r"tick_|rcu_|do_nanosleep|select_task|ttwu|psi_)"),
    ("kernel: socket receive (read / recvmmsg copy, skb, syscalls)", r"\[k\]"),
    ("Hyperscan scan + RuleSet", r"libhs|RuleSet|re2::|libre2"),
    ("archive line (escaping, host sanitising, file cache, Append)",
     r"AppendEscaped|SanitizeHost|Archive|ArchiveEntry|ArchiveFileCache|AppendLineRest|FormatStamp"),
    ("parse (RFC 5424/3164, UTF-8 check, timestamps)",
     r"Parser::|Rfc5424|Rfc3164|NextField|ReadIsoTimestamp|IsValidUtf8|ScanUtf8|ReadTag|ParseRfc|"
     r"Timestamp|ParsePri|LocalZone"),
    ("framing + listener loop",
     r"Framer|StreamListener|UdpListener|StreamConnection|Connection::|HandleDatagram|"
     r"FormatSender|SenderAddress"),
    ("route + hand-off (Router::Push, moodycamel, semaphore)",
     r"Router|moodycamel|Batch|HostShard|PackedMessage|Semaphore"),
    ("heartbeat", r"Heartbeat|HostInfo|CadenceEstimator"),
    ("correlation", r"Correlat|KeyTable"),
    ("worker loop, metrics", r"Worker::|Counter|Metrics"),
    ("libc/libstdc++ memmove, memchr, hashing (mixed callers)",
     r"libc\.so|libstdc\+\+|_Hash_bytes|memmove|memchr|memcmp"),
]


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    data, ns_per_msg = sys.argv[1], float(sys.argv[2])
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym",
                          "--stdio"], capture_output=True, text=True, check=True).stdout
    shares: collections.Counter[str] = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(.*)", line)
        if not m:
            continue
        pct, symbol = float(m.group(1)), m.group(2)
        stage = next((name for name, rx in STAGES if re.search(rx, symbol)), "other")
        shares[stage] += pct
    print("| stage | % of samples | ns/msg |\n|---|---:|---:|")
    for stage, pct in shares.most_common():
        print(f"| {stage} | {pct:.1f} | {pct / 100 * ns_per_msg:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
