# bench/module.mk: the long benchmarks that are not part of `make bench`.
$(BUILD)/bench/accuracy: bench/accuracy.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

.PHONY: bench-accuracy
# Model vs real QEMU migrations (about 10 minutes). ACCURACY_ARGS=--quick for 3 runs.
bench-accuracy: $(BUILD)/bench/accuracy $(BUILD)/cutover test-assets
	$(BUILD)/bench/accuracy $(ACCURACY_ARGS)

# Every policy on every workload of the test guest on real QEMU (about 10
# minutes). bench_policies skips itself under `make bench` unless
# CUTOVER_BENCH_POLICIES is set. The markdown table goes to stdout and
# $(BUILD)/bench-policies.md.
.PHONY: bench-policies
bench-policies: $(BUILD)/bench/bench_policies $(BUILD)/cutover test-assets
	CUTOVER_BENCH_POLICIES=1 BUILD=$(BUILD) $(BUILD)/bench/bench_policies | tee $(BUILD)/bench-policies.md
