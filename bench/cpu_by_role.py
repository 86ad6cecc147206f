#!/usr/bin/env python3
"""bench/cpu_by_role.py: where the machine's CPU went while a command ran.

Usage: cpu_by_role.py [--json FILE] [--every SECONDS] -- COMMAND [ARG...]

Runs COMMAND (e.g. `make bench-evacuate`), reads every thread's CPU time
from /proc every SECONDS (default 0.5) until COMMAND ends, and prints, by
role, the CPU seconds used and their share: QEMU's vCPU threads (the
guests), QEMU's main loop, QEMU's monitor I/O thread (where libvirt's QMP
commands are read and answered), QEMU's migration threads, libvirtd, the
benchmark itself, everything else. Threads that started and ended between
two reads are missed (a short `ip` or `virsh`). --json FILE also writes
the totals and a time series per read (seconds since the start, CPU ticks
per role), to find where a burst fell.

Why: on this 2-core machine a migration's set-up (libvirt's prepare and
the destination QEMU's start) costs ~1 CPU second, most of it QEMU's
monitor thread and main loop answering libvirt 9.0's ~800 `qom-get` of
the CPU check (docs/evacuate.md, "What a set-up is made of"). Linux-only,
Python 3 standard library only; read-only apart from COMMAND.
"""
import json
import os
import subprocess
import sys
import time
from collections import Counter

CLK_TCK = os.sysconf("SC_CLK_TCK")


def role(proc, thread):
    if proc.startswith("qemu-system"):
        if "CPU" in thread and ("TCG" in thread or "KVM" in thread):
            return "qemu vCPU"
        if thread == "IO mon_iothread":
            return "qemu monitor I/O"
        if thread in ("live_migration", "mig/src/main") or thread.startswith("multifd") \
                or thread.startswith("mig/"):
            return "qemu migration"
        if thread.startswith("qemu-system"):
            return "qemu main loop"
        return "qemu other"
    if proc == "libvirtd":
        return "libvirtd"
    if proc.startswith("bench_") or proc == "cutover":
        return "cutover / bench"
    return "other"


def scan():
    """{(pid, tid): (role, ticks)} for every thread readable now."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                pcomm = f.read().strip()
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            # the thread's name is in parentheses and may hold spaces or ')'
            head, _, tail = s.rpartition(")")
            tcomm = head[head.find("(") + 1:]
            fields = tail.split()
            if len(fields) < 13:
                continue
            # utime and stime, fields 14 and 15 of proc(5)
            out[(pid, tid)] = (role(pcomm, tcomm), int(fields[11]) + int(fields[12]))
    return out


def main(argv):
    every, json_path = 0.5, None
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--every" and i + 1 < len(argv):
            try:
                every = float(argv[i + 1])
            except ValueError:
                every = float("nan")
            if not (0 < every <= 60):
                print(f"cpu_by_role.py: --every '{argv[i + 1]}': seconds, above 0 and at most 60",
                      file=sys.stderr)
                return 64
            i += 2
        elif argv[i] == "--json" and i + 1 < len(argv):
            json_path = argv[i + 1]
            i += 2
        else:
            print(f"cpu_by_role.py: unknown argument '{argv[i]}' (see the usage at the top)",
                  file=sys.stderr)
            return 64
    cmd = argv[i + 1:]
    if not cmd:
        print("usage: cpu_by_role.py [--json FILE] [--every SECONDS] -- COMMAND [ARG...]",
              file=sys.stderr)
        return 64
    t0 = time.time()
    prev = scan()
    try:
        child = subprocess.Popen(cmd)
    except OSError as e:
        print(f"cpu_by_role.py: cannot run '{cmd[0]}': {e.strerror}", file=sys.stderr)
        return 127
    total, series = Counter(), []
    while True:
        done = child.poll() is not None
        try:
            time.sleep(0 if done else every)
        except KeyboardInterrupt:
            # the command got the same SIGINT: let it end, then report
            child.wait()
            done = True
        cur = scan()
        step = Counter()
        for k, (r, ticks) in cur.items():
            d = ticks - (prev[k][1] if k in prev else 0)
            if d > 0:
                step[r] += d
        total.update(step)
        series.append([round(time.time() - t0, 2), dict(step)])
        prev = cur
        if done:
            break
    wall = time.time() - t0
    ncpu = os.cpu_count() or 1
    used_ticks = sum(total.values())
    print(f"cpu_by_role: {wall:.1f} s wall on {ncpu} CPUs ({wall * ncpu:.1f} CPU s), "
          f"{used_ticks / CLK_TCK:.1f} CPU s used", file=sys.stderr)
    for r, ticks in total.most_common():
        print(f"  {r:18s} {ticks / CLK_TCK:8.1f} CPU s  {100.0 * ticks / max(1, used_ticks):5.1f} %",
              file=sys.stderr)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"wall_s": wall, "cpus": ncpu, "clk_tck": CLK_TCK,
                       "cpu_s": {r: t / CLK_TCK for r, t in total.items()},
                       "series": series}, f)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
