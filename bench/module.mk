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

# Every policy on every workload of the test guest on real QEMU (about 10
# minutes). bench_policies skips itself under `make bench` unless
# CUTOVER_BENCH_POLICIES is set. The markdown table goes to stdout and
# $(BUILD)/bench-policies.md.
.PHONY: bench-policies
bench-policies: $(BUILD)/bench/bench_policies $(BUILD)/cutover test-assets
	CUTOVER_BENCH_POLICIES=1 BUILD=$(BUILD) $(BUILD)/bench/bench_policies | tee $(BUILD)/bench-policies.md
