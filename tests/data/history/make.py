#!/usr/bin/env python3
"""Writes the synthetic journals of tests/data/history (committed; run once).
Cycles on the 3-host cluster.json: step durations lognormal (apply: median
200 s, sigma 0.3) or Weibull (reboot: scale 240 s, shape 4), one migration
per host at 0.5 of the 10 Gbit/s line, one apply failure in cycle 3 and a
validate failure. Seeded: the same files every time."""
import json, random, math

rng = random.Random(14)
STEPS = [("health_check", lambda: rng.lognormvariate(math.log(45e3), 0.2)),
         ("enter_maintenance", lambda: rng.lognormvariate(math.log(5e3), 0.1)),
         ("evacuate", None),
         ("repo_sync", lambda: rng.lognormvariate(math.log(100e3), 0.25)),
         ("apply", lambda: rng.lognormvariate(math.log(200e3), 0.3)),
         ("reboot", lambda: rng.weibullvariate(240e3, 4.0)),
         ("validate", lambda: rng.lognormvariate(math.log(50e3), 0.2)),
         ("exit_maintenance", lambda: rng.lognormvariate(math.log(4e3), 0.1)),
         ("rebalance", lambda: rng.lognormvariate(math.log(20e3), 0.3))]

def cycle(f, t0, seq, fail_apply=None, fail_validate=None):
    t = t0
    def rec(**kw):
        nonlocal seq
        seq += 1
        kw = {"seq": seq, "t_ms": int(t), **kw}
        f.write(json.dumps(kw) + "\n")
    rec(ev="cycle_start", file="cluster.json", hosts=["h1", "h2", "h3"], pid=1, version="0.1.0")
    for i, h in enumerate(["h1", "h2", "h3"]):
        other = ["h1", "h2", "h3"][(i + 1) % 3]
        ok_host = True
        for name, draw in STEPS:
            rec(ev="step_start", host=h, step=name)
            if name == "evacuate":
                rec(ev="mig_start", vm="vm%d" % (i + 1), to=other, purpose="evacuate", **{"from": h})
                b = 4 * 2**30 * rng.uniform(1.02, 1.1)
                ms = b / (0.5 * 1.25e9) * 1000
                t += ms
                rec(ev="mig_end", vm="vm%d" % (i + 1), to=other, status="completed",
                    time_ms=round(ms), downtime_ms=round(rng.uniform(40, 90)), bytes=int(b),
                    **{"from": h})
                rec(ev="step_end", host=h, step=name, ok=True, duration_ms=round(ms + 200), hook_exit=None)
                continue
            d = draw()
            t += d
            if (name == "apply" and fail_apply == h) or (name == "validate" and fail_validate == h):
                rec(ev="step_end", host=h, step=name, ok=False, duration_ms=round(d),
                    error="hook exited 1", hook_exit=1)
                ok_host = False
                break
            rec(ev="step_end", host=h, step=name, ok=True, duration_ms=round(d), hook_exit=0)
        rec(ev="host_end", host=h, ok=ok_host, reason="" if ok_host else "step failed")
    rec(ev="cycle_end", status="completed", window_ms=int(t - t0), reason="")
    return seq

with open("cycle1.jsonl", "w") as f:
    cycle(f, 1.7e12, 0)
with open("cycle2.jsonl", "w") as f:
    s = cycle(f, 1.7e12 + 1e7, 0)
with open("cycle3.jsonl", "w") as f:
    cycle(f, 1.7e12 + 2e7, 0, fail_apply="h2", fail_validate="h3")
