#!/usr/bin/env python3
"""tests/data/qmp/record.py: record raw QMP transcripts from a real QEMU.

Starts a source QEMU (SeaBIOS idling, no guest kernel) and a destination with
-incoming, drives a throttled migration over loopback and saves the exact
bytes QEMU sent on the source monitor (OUT.recv) and what we sent (OUT.sent).
The unit tests in tests/drivers/test_qmp_reader.c feed these bytes to the
reader. Usage: record.py OUT [complete|cancel|fail]  (QEMU processes are killed on
exit). complete: a full throttled migration; cancel: auto-converge on,
migrate_cancel after 1.5 s; fail: migrate to a port nobody listens on."""
import json, os, socket, subprocess, sys, tempfile, time

out = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "complete"
tmp = tempfile.mkdtemp(prefix="coqmprec-")
accel = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
# RAM of a BIOS-only guest is all zero pages, which QEMU sends as flags only;
# back the source's RAM with a file of non-zero bytes so the migration moves
# real data (64 MiB at 20 MB/s: about 3.4 s). The destination needs a RAM
# block of the same name ("m").
mem = tmp + "/ram"
with open(mem, "wb") as f:
    f.write(bytes([0x5a]) * (64 << 20))
common = ["qemu-system-x86_64", "-machine", "pc,accel=%s,memory-backend=m" % accel,
          "-nodefaults", "-display", "none", "-m", "64"]
src_mem = ["-object", "memory-backend-file,id=m,size=64M,mem-path=%s,share=off" % mem]
dst_mem = ["-object", "memory-backend-ram,id=m,size=64M"]
src_sock, dst_sock = tmp + "/src.qmp", tmp + "/dst.qmp"
procs = [subprocess.Popen(common + src_mem + ["-qmp", "unix:%s,server=on,wait=off" % src_sock]),
         subprocess.Popen(common + dst_mem + ["-qmp", "unix:%s,server=on,wait=off" % dst_sock,
                                    "-incoming", "tcp:127.0.0.1:%d" % port])]
recv = open(out + ".recv", "wb"); sent = open(out + ".sent", "wb")
try:
    for _ in range(100):
        if os.path.exists(src_sock): break
        time.sleep(0.05)
    c = socket.socket(socket.AF_UNIX); c.connect(src_sock); c.settimeout(10)
    buf = b""
    def readmsg():
        global buf
        while b"\n" not in buf:
            d = c.recv(65536)
            if not d: raise EOFError
            recv.write(d); buf += d
        line, buf = buf.split(b"\n", 1)
        return json.loads(line)
    n = [0]
    def cmd(name, args=None):
        n[0] += 1
        m = {"execute": name, "id": n[0]}
        if args is not None: m["arguments"] = args
        b = json.dumps(m).encode() + b"\n"; sent.write(b); c.sendall(b)
        while True:
            r = readmsg()
            if r.get("id") == n[0]: return r
    readmsg()
    cmd("qmp_capabilities")
    cmd("query-version"); cmd("query-status")
    cmd("no-such-command")
    cmd("query-migrate")
    cmd("query-migrate-parameters"); cmd("query-migrate-capabilities")
    caps = [{"capability": "events", "state": True}]
    if mode == "cancel":
        caps.append({"capability": "auto-converge", "state": True})
    cmd("migrate-set-capabilities", {"capabilities": caps})
    cmd("migrate-set-parameters", {"max-bandwidth": 20 * 1000 * 1000, "downtime-limit": 300})
    cmd("calc-dirty-rate", {"calc-time": 1, "mode": "dirty-bitmap"})
    time.sleep(1.3)
    cmd("query-dirty-rate")
    if mode == "fail":
        d = socket.socket(); d.bind(("127.0.0.1", 0)); dead = d.getsockname()[1]; d.close()
        cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % dead})
    else:
        cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port})
    t0 = time.time()
    while True:
        r = cmd("query-migrate")
        st = r.get("return", {}).get("status")
        if st in ("completed", "failed", "cancelled"): break
        if mode == "cancel" and time.time() - t0 > 1.5 and st == "active":
            cmd("migrate_cancel")
        time.sleep(0.25)
    cmd("query-status")
    if mode != "complete":
        cmd("stop"); cmd("query-status"); cmd("cont")
    time.sleep(0.2)
    cmd("query-migrate")
finally:
    for p in procs: p.kill(); p.wait()
    recv.close(); sent.close()
    for f in os.listdir(tmp): os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
