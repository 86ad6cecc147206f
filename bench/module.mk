# bench/module.mk: the long benchmarks that are not part of `make bench`.
$(BUILD)/bench/accuracy: bench/accuracy.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

.PHONY: bench-accuracy
# Model vs real QEMU migrations: the two fixed costs fitted on the calibration
# set (12 runs), then both it and the held-out set (12 other runs) scored,
# two rounds (about 25 minutes on a loaded 2-core machine; docs/accuracy.md).
# ACCURACY_ARGS replaces the defaults, e.g. ACCURACY_ARGS=--quick (3 runs a
# set, one round). The per-run JSON goes to $(BUILD)/bench-accuracy.json.
ACCURACY_ARGS ?= --repeat 2
bench-accuracy: $(BUILD)/bench/accuracy $(BUILD)/cutover test-assets
	$(BUILD)/bench/accuracy $(ACCURACY_ARGS) --json $(BUILD)/bench-accuracy.json

# Every policy on every workload of the test guest on real QEMU (10 to 40
# minutes). By default over a tc-shaped veth into a network namespace (needs
# root, ip, tc): BENCH_LINK=shaped|loopback|both, BENCH_LINK_RATE=400Mbit,
# BENCH_MTU=9000, BENCH_REPEAT=3 (bench/bench_policies.c lists the others).
# bench_policies skips itself under `make bench` unless
# CUTOVER_BENCH_POLICIES is set. The markdown tables and the issue 12
# targets go to stdout and $(BUILD)/bench-policies.md.
.PHONY: bench-policies
bench-policies: $(BUILD)/bench/bench_policies $(BUILD)/cutover test-assets
	CUTOVER_BENCH_POLICIES=1 BUILD=$(BUILD) $(BUILD)/bench/bench_policies | tee $(BUILD)/bench-policies.md

# cutover evacuate against the fixed schedules of Nova (1 at a time), VDSM (3),
# KubeVirt (2) and all-at-once, each under that system's default policy, on
# the cluster lab (3 hosts, 6 VMs on h1; needs root; one fresh cluster per
# run, 1-3 min each). BENCH_EVAC_SCENARIOS=link,link100,stream,hot,
# BENCH_EVAC_SCHEDULES=cutover,nova,vdsm,kubevirt,all, BENCH_EVAC_REPEAT=1,
# BENCH_EVAC_LINK=400Mbit, BENCH_EVAC_SLOW_LINK=100Mbit, BENCH_EVAC_STREAM_NIC=2Gbit, BENCH_EVAC_BUDGET=300ms,
# BENCH_EVAC_DEADLINE=90s, BENCH_EVAC_ALLOW=auto-converge (cutover's --allow; the
# fixed schedules keep their own) (bench/bench_evacuate.c). Table and issue 12 targets
# to stdout and $(BUILD)/bench-evacuate.md, one JSON line per run to
# $(BUILD)/bench-evacuate.jsonl.
.PHONY: bench-evacuate
bench-evacuate: $(BUILD)/bench/bench_evacuate $(BUILD)/cutover test-assets
	CUTOVER_BENCH_EVACUATE=1 BUILD=$(BUILD) BENCH_EVAC_JSON=$(BUILD)/bench-evacuate.jsonl \
	  $(BUILD)/bench/bench_evacuate | tee $(BUILD)/bench-evacuate.md

# How close `cutover cycle --forecast` comes to the real cycle on the cluster
# lab (issue 14, part 3; needs root; 15-40 min): per scenario a fresh lab,
# BENCH_FC_HISTORY (2) earlier cycles as history, `cutover inventory`, then
# the scored cycle with --forecast --history (never its own journal), the
# forecast beside the actual field by field. BENCH_FC_SCENARIOS=mix200,
# mix100,busy400,valfail, BENCH_FC_CYCLE_TIMEOUT=900 (s per cycle),
# BENCH_FC_KEEP=1 keeps the journals (bench/bench_forecast.c). Table and
# targets to stdout and $(BUILD)/bench-forecast.md, one JSON line per
# scenario to $(BUILD)/bench-forecast.jsonl.
.PHONY: bench-forecast
bench-forecast: $(BUILD)/bench/bench_forecast $(BUILD)/cutover test-assets
	CUTOVER_BENCH_FORECAST=1 BUILD=$(BUILD) BENCH_FC_JSON=$(BUILD)/bench-forecast.jsonl \
	  $(BUILD)/bench/bench_forecast | tee $(BUILD)/bench-forecast.md
