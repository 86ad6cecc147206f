#!/usr/bin/env python3
"""bench/simgrid/gen.py: the fleet scenarios of issue 15, written once for
cutover (a cluster file) and once for SimGrid (a platform XML and a list of
migrations for bench/simgrid/sg_evac).

    gen.py KIND HOSTS OUTDIR      KIND: nic | backbone | mixed

HOSTS hosts, 20 VMs each, 25 Gbit/s NIC per host (full duplex); the first
half of the hosts is emptied at once (all migrations start at t = 0, no
concurrency limit, every other step takes 0 s), so the makespan is the
time until the last migration has arrived.
 - nic: no shared link; NICs are the bottlenecks.
 - backbone: the two halves sit behind one backbone of HOSTS/2 x 25 Gbit/s / 4
   (a quarter of what the sources could send): every migration crosses it.
 - mixed: as backbone, VM sizes cycle through 1, 2, 4, 8, 16 GiB.
VMs write no memory (dirty "none", mem_used = mem): SimGrid's live-migration
plugin dirties pages only while the VM computes, so neither side re-sends
pages and both move each VM's memory once (SimGrid: one pre-copy stage of
ramsize bytes; cutover: the model's one pass).
VM k (host-major order over the evacuated hosts) goes to host H/2 + k mod H/2,
which is where cutover's next-fit placement with its rotating cursor puts it
(checked by bench_sim against run 0's timeline), so both sides run the same
migrations.
"""
import json
import os
import sys

GiB = 1 << 30


def main():
    kind, H, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert kind in ("nic", "backbone", "mixed") and H >= 2 and H % 2 == 0
    os.makedirs(out, exist_ok=True)
    half = H // 2
    vph = 20
    sizes = [1, 2, 4, 8, 16] if kind == "mixed" else [4]
    bb_gbit = half * 25 // 4
    shared = kind != "nic"
    hosts, vms, migs = [], [], []
    for h in range(H):
        x = {"name": "h%d" % h, "cores": 256, "mem": "%dGiB" % (2 * vph * 16 + 16),
             "nic_rate": "25Gbit", "mtu": 1500, "channels": 1}
        if shared:
            x["uplink"] = "bb-a" if h < half else "bb-b"
        hosts.append(x)
    k = 0
    for h in range(H):
        for i in range(vph):
            g = sizes[(h * vph + i) % len(sizes)]
            name = "vm%d_%d" % (h, i)
            vms.append({"name": name, "host": "h%d" % h, "vcpus": 2, "mem": "%dGiB" % g,
                        "dirty": {"kind": "none"}})
            if h < half:
                migs.append((name, h, half + k % half, g * GiB))
                k += 1
    zero = {s: "0s" for s in ("health_check", "enter_maintenance", "repo_sync", "apply",
                               "reboot", "validate", "exit_maintenance", "rebalance")}
    cl = {"source": "bench/simgrid/gen.py %s %d" % (kind, H), "hosts": hosts, "vms": vms,
          "plan": {"hosts": ["h%d" % h for h in range(half)], "order": "list",
                   "max_hosts_in_maintenance": half,
                   "concurrency": {"per_host": 0, "per_cluster": 0},
                   "steps": zero, "rebalance": "duration"}}
    if shared:
        cl["uplinks"] = [{"name": "bb-a", "rate": "%dGbit" % bb_gbit},
                         {"name": "bb-b", "rate": "%dGbit" % bb_gbit}]
    with open(os.path.join(out, "cluster.json"), "w") as f:
        json.dump(cl, f)
    # SimGrid: a cluster zone; each host's private link is split duplex
    # (25 Gbit/s each way), every route crosses the backbone (shared), which
    # is a fat pipe of the NICs' sum when it must not constrain.
    bb = "%dGbps" % bb_gbit if shared else "%dGbps" % (H * 25)
    with open(os.path.join(out, "platform.xml"), "w") as f:
        f.write('<?xml version="1.0"?>\n<!DOCTYPE platform SYSTEM '
                '"https://simgrid.org/simgrid.dtd">\n<platform version="4.1">\n'
                '  <cluster id="c" prefix="h" suffix="" radical="0-%d" speed="1Gf" core="256"'
                ' bw="25Gbps" lat="0us" sharing_policy="SPLITDUPLEX" bb_bw="%s" bb_lat="0us"'
                ' bb_sharing_policy="SHARED"/>\n</platform>\n' % (H - 1, bb))
    with open(os.path.join(out, "migrations.txt"), "w") as f:
        for name, s, d, b in migs:
            f.write("%s h%d h%d %d\n" % (name, s, d, b))


if __name__ == "__main__":
    main()
