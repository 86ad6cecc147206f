#!/usr/bin/env python3
"""traces/make_cluster.py: derive traces/example-cluster.json from ../shared/data.

Sources (public traces; cite them when you use the output):
  - Bitbrains "Rnd" trace, Grid Workloads Archive GWA-T-12 (TU Delft), month
    2013-07, first 7 days of 100 VMs (300 s samples): VM sizes (cores,
    provisioned memory), memory in use, and activity (CPU MHz, disk writes).
  - Alibaba cluster-trace-v2018, machine_meta.csv: machine ids, failure
    domains (failure_domain_1), cores (96 per machine).

What is derived, and how:
  hosts     the first 4 machines (file order, status USING) of each of the
            first 3 failure_domain_1 values met in machine_meta.csv: 12 hosts
            of 96 cores. Alibaba normalises memory to 0-100; we take 100 as
            384 GiB (a common 2-socket size), so the VMs fill about 40 % of it.
            NICs (25 Gbit, MTU 9000, 4 multifd channels) and one 40 Gbit
            uplink per failure domain are assumptions, not in the trace.
  vms       every Bitbrains VM with cores and memory > 0 and memory <= 96 GiB
            (the 511 GiB one fits no host; two VMs report no size).
            vcpus = max cores seen, mem = max provisioned memory,
            mem_used = 95th percentile of memory usage (what pre-copy must send;
            the rest are zero pages).
  dirty     no public trace records dirty pages, so activity stands in:
              rate_pages_per_s = 5 * CPU usage [MHz] + disk write [KB/s] / 4
            CPU work writes memory roughly in proportion to cycles (5 pages
            per MHz-second puts one busy 2.6 GHz core at 13,000 pages/s,
            about 53 MB/s, within the range Clark et al. (NSDI 2005) measured
            for busy servers), and every 4 KB written to disk dirties a
            page-cache page first. The curve is "uniform" over the memory in
            use (wss = mem_used), and the rate is an empirical distribution:
            16 quantiles of the VM's week, so each simulated run migrates the
            VM at a random moment of its week.
  groups    illustrative, not in the trace: VMs with >= 16 vCPUs form the
            anti-affinity group "large"; the two VMs with the highest network
            throughput are marked passthrough (SR-IOV NICs), and the first
            1-core VM is pinned.
  placement first-fit of VMs in trace order onto hosts, keeping each host
            under 60 % of memory and 2 vCPUs per core, and anti-affinity.

Run from the project root:  python3 traces/make_cluster.py > traces/example-cluster.json
(the data directory can be given as the first argument; default ../shared/data).
"""
import glob
import json
import os
import sys

GIB = 1 << 30
HOST_MEM = 384 * GIB
HOSTS_PER_DOMAIN = 4
DOMAINS = 3


def quantile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(q * len(sorted_vals))))
    return sorted_vals[k]


def read_hosts(path):
    order, members = [], {}
    with open(path) as f:
        for line in f:
            mid, _ts, fd1, _fd2, cpus, _mem, status = line.strip().split(",")
            if status != "USING":
                continue
            if fd1 not in members:
                if len(order) == DOMAINS:
                    continue
                order.append(fd1)
                members[fd1] = []
            ms = members[fd1]
            if mid not in [m for m, _ in ms] and len(ms) < HOSTS_PER_DOMAIN:
                ms.append((mid, int(cpus)))
            if len(order) == DOMAINS and all(len(members[d]) == HOSTS_PER_DOMAIN for d in order):
                break
    hosts = []
    for d in order:
        for mid, cpus in members[d]:
            hosts.append({"name": mid, "cores": cpus, "mem": "384GiB", "nic_rate": "25Gbit",
                          "mtu": 9000, "channels": 4, "failure_domain": "fd-" + d,
                          "rack": "fd-" + d, "uplink": "up-fd-" + d})
    uplinks = [{"name": "up-fd-" + d, "rate": "40Gbit"} for d in order]
    return hosts, uplinks


def read_vms(folder):
    vms = []
    for f in sorted(glob.glob(os.path.join(folder, "vm*.csv"))):
        rows = []
        with open(f) as fh:
            next(fh)
            for line in fh:
                x = [v.strip() for v in line.split(";")]
                if len(x) >= 11:
                    rows.append([float(v) for v in x])
        if not rows:
            continue
        cores = int(max(r[1] for r in rows))
        mem_kb = max(r[5] for r in rows)
        if cores <= 0 or mem_kb <= 0 or mem_kb * 1024 > 96 * GIB:
            continue
        used = sorted(r[6] for r in rows)
        rate = sorted(5.0 * r[3] + r[8] / 4.0 for r in rows)
        net = sum(r[9] + r[10] for r in rows) / len(rows)
        mem_b = int(mem_kb * 1024)
        used_b = int(min(max(quantile(used, 0.95) * 1024, 4 << 20), mem_b))
        vals = [round(quantile(rate, (i + 0.5) / 16), 1) for i in range(16)]
        vms.append({"name": os.path.basename(f)[:-4], "vcpus": cores, "mem": mem_b,
                    "mem_used": used_b, "_net": net,
                    "dirty": {"kind": "uniform", "wss": used_b,
                              "rate_pages_per_s": {"dist": "empirical", "values": vals}}})
    return vms


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
    hosts, uplinks = read_hosts(os.path.join(data, "alibaba-2018", "machine_meta.csv"))
    vms = read_vms(os.path.join(data, "bitbrains-rnd"))
    for v in sorted(vms, key=lambda v: -v["_net"])[:2]:
        v["passthrough"] = True
    for v in vms:
        if v["vcpus"] == 1 and not v.get("passthrough"):
            v["pinned"] = True
            break
    for v in vms:
        if v["vcpus"] >= 16:
            v["anti_affinity"] = "large"
    mem = {h["name"]: 0 for h in hosts}
    cpu = {h["name"]: 0 for h in hosts}
    groups = {h["name"]: set() for h in hosts}
    for i, v in enumerate(vms):
        for k in range(len(hosts)):
            h = hosts[(i + k) % len(hosts)]["name"]
            g = v.get("anti_affinity")
            if (mem[h] + v["mem"] <= 0.6 * HOST_MEM and cpu[h] + v["vcpus"] <= 2 * 96
                    and (g is None or g not in groups[h])):
                v["host"] = h
                mem[h] += v["mem"]
                cpu[h] += v["vcpus"]
                if g:
                    groups[h].add(g)
                break
        else:
            sys.exit("make_cluster.py: no host fits %s" % v["name"])
    out_vms = []
    for v in vms:
        o = {"name": v["name"], "host": v["host"], "vcpus": v["vcpus"], "mem": v["mem"],
             "mem_used": v["mem_used"], "dirty": v["dirty"]}
        for k in ("passthrough", "pinned", "anti_affinity"):
            if k in v:
                o[k] = v[k]
        out_vms.append(o)
    doc = {
        "source": "derived by traces/make_cluster.py from the Bitbrains Rnd trace (GWA-T-12, "
                  "TU Delft, 2013-07) and Alibaba cluster-trace-v2018 machine_meta; see the "
                  "script for the mapping",
        "hosts": hosts,
        "uplinks": uplinks,
        "vms": out_vms,
        "plan": {
            "order": "failure_domain",
            "canary": [hosts[0]["name"]],
            "canary_soak": "30min",
            "max_hosts_in_maintenance": 2,
            "concurrency": "kubevirt",
            "cpu_allocation_ratio": 4.0,
            "policy": {"mode": "precopy", "downtime_limit": "300ms", "auto_converge": True},
            "stun_budget": "1s",
            "firmware_fraction": 0.25,
            "steps": {
                "health_check": {"dist": "lognormal", "median": "2min", "sigma": 0.3},
                "enter_maintenance": "30s",
                "repo_sync": {"dist": "uniform", "min": "2min", "max": "6min"},
                "apply": {"dist": "lognormal", "median": "6min", "sigma": 0.4},
                "reboot": {"dist": "normal", "mean": "8min", "sd": "1min"},
                "firmware": {"dist": "lognormal", "median": "15min", "sigma": 0.3},
                "firmware_reboot": {"dist": "normal", "mean": "9min", "sd": "1min"},
                "validate": {"dist": "empirical", "values": ["2min", "3min", "3min", "5min"]},
                "exit_maintenance": "30s",
                "rebalance": "2min"
            },
            "faults": {
                "patch_fail_prob": 0.02,
                "rollback": {"dist": "lognormal", "median": "6min", "sigma": 0.3},
                "no_return_prob": 0.01,
                "repair": {"dist": "weibull", "scale": "4h", "shape": 1.5},
                "migration_abort_prob": 0.01,
                "on_abort": "retry",
                "max_retries": 2,
                "vm_restart": {"dist": "lognormal", "median": "90s", "sigma": 0.3}
            }
        }
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
