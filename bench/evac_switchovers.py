#!/usr/bin/env python3
"""bench/evac_switchovers.py: what each switchover of bench-evacuate ran beside.

Usage: evac_switchovers.py RESULTS.jsonl:LOGDIR [...]
  RESULTS.jsonl  what BENCH_EVAC_JSON wrote; LOGDIR what BENCH_EVAC_LOG_DIR
                 got (one directory per drain, SCENARIO-SCHEDULE-RUN, with the
                 drain's evacuate.jsonl).

For every completed VM of every drain (all schedules), its switchover is the
window of QEMU's downtime ending at the VM's end in the run log. It is put in
one class: overlapping another VM's switchover or not, and a migration's
start (a destination QEMU's set-up) falling in it or not. Prints, per
scenario and class, how many there were, their median QEMU downtime and how
many went over 300 ms (docs/evacuate.md, "The hold"). Read-only; Python 3
standard library only.
"""
import json
import os
import statistics
import sys
from collections import defaultdict


def drains(pair):
    res, logs = pair.rsplit(":", 1)
    with open(res) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if not r.get("ran"):
                continue
            d = os.path.join(logs, "%s-%s-%d" % (r["scenario"], r["schedule"], r["run"] + 1))
            p = os.path.join(d, "evacuate.jsonl")
            if os.path.exists(p):
                with open(p) as g:
                    yield r, [json.loads(x) for x in g if x.strip()]


def main(argv):
    if len(argv) < 2 or any(":" not in a for a in argv[1:]):
        sys.stderr.write(__doc__)
        return 64
    by = defaultdict(list)
    for pair in argv[1:]:
        for r, ev in drains(pair):
            starts = {e["vm"]: e["t_ms"] for e in ev if e.get("event") == "start"}
            ends = {e["vm"]: e["t_ms"] for e in ev if e.get("event") == "end"}
            win = {}
            for v in r["vms"]:
                q = v.get("qemu_downtime_ms")
                if q is not None and v["name"] in ends and v.get("status") == "completed":
                    win[v["name"]] = (ends[v["name"]] - q, ends[v["name"]], q)
            for n, (fr, to, q) in win.items():
                ov = any(o != n and win[o][0] < to and win[o][1] > fr for o in win)
                su = any(o != n and fr - 150 <= t <= to for o, t in starts.items())
                key = (r["scenario"], "beside another switchover" if ov else "apart",
                       "a set-up starts in it" if su else "-")
                by[key].append(q)
    print("| scenario | switchover | set-up | n | median ms | over 300 ms |")
    print("|---|---|---|---|---|---|")
    for k in sorted(by):
        L = by[k]
        over = sum(x > 300 for x in L)
        print("| %s | %s | %s | %d | %.0f | %d (%.0f %%) |" % (
            k[0], k[1], k[2], len(L), statistics.median(L), over, 100.0 * over / len(L)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
