# bench/module.mk: `make bench-policies`, every policy on every workload of
# the test guest on real QEMU (many minutes; not part of make check or make
# bench). The markdown table goes to stdout and $(BUILD)/bench-policies.md.
.PHONY: bench-policies
bench-policies: $(BUILD)/bench/bench_policies $(BUILD)/cutover test-assets
	CUTOVER_BENCH_POLICIES=1 BUILD=$(BUILD) $(BUILD)/bench/bench_policies | tee $(BUILD)/bench-policies.md
