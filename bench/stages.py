#!/usr/bin/env python3
"""Splits an engine profile into the stages of a delivery (docs/BENCHMARKS.md,
"What bounds each target not met").

    perf record -F 1999 -e cpu-clock --call-graph dwarf,16384 -o perf.data -p ENGINE -- sleep 2
    perf script -i perf.data -F ip,sym > stacks.txt
    bench/stages.py stacks.txt US_PER_DELIVERY

Each sample goes to the first stage below with a function on its stack
(signing before the send, the send before the worker, ...), the rest to
the runtime; a stage's microseconds per delivery are its share times the
run's engine CPU per delivery (`engine_cpu_us_per_delivery` of `loadgen run`).
"""
import re
import sys

STAGES = [
    ("signature (HMAC-SHA256)", r"signing::"),
    ("the request's loopback send (kernel)", r"__x64_sys_sendto|__sys_sendto"),
    ("the response's receive and parse", r"recvfrom|ResponseParser|Conn::read"),
    ("journal write (records, CRC, pwrite)",
     r"__x64_sys_pwrite64|Journal::publish|Journal::append|crc32c|append_record"),
    ("group commit (msync, page-cache drops)", r"msync|fadvise|SyncJob|sync::"),
    ("read index (what the API lists)", r"reads::"),
    ("the attempt's outcome (judge, record, free)",
     r"steps::record|steps::judge|Deliveries::free"),
    ("ingest (socket, frames, payload check)", r"ingest::|accept::payload"),
    ("request head and body", r"request::encode|http_wire::"),
    ("the worker: start, claim, budget, buffers, its own code",
     r"delivery::worker|start_worker|exchange::Wire|budget::|steps::next_run"
     r"|steps::claim|steps::admit|end_worker"),
    ("accept: ids, fan-out, queueing",
     r"accept::|route::|Deliveries::accept|catalog::|ids::|Deliveries::enqueue"),
    ("delivery, other", r"delivery::"),
]
RUNTIME = "runtime: scheduling, io_uring, wake-ups"


def stacks(path):
    """The samples of `perf script -F ip,sym` output, each a list of symbols."""
    current = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                if current:
                    yield current
                current = []
                continue
            parts = line.split(" ", 1)
            symbol = parts[1] if len(parts) > 1 else "?"
            current.append(re.sub(r"\+0x[0-9a-f]+$", "", symbol))
    if current:
        yield current


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    us = float(sys.argv[2])
    patterns = [(name, re.compile(p)) for name, p in STAGES]
    counts = {name: 0 for name, _ in STAGES}
    counts[RUNTIME] = 0
    total = 0
    for stack in stacks(sys.argv[1]):
        total += 1
        for name, pattern in patterns:
            if any(pattern.search(frame) for frame in stack):
                counts[name] += 1
                break
        else:
            counts[RUNTIME] += 1
    if total == 0:
        sys.exit("no samples")
    print("| stage | share | µs per delivery |")
    print("|---|---|---|")
    for name, n in counts.items():
        print(f"| {name} | {100 * n / total:.1f} % | {us * n / total:.2f} |")


if __name__ == "__main__":
    main()
