# sim/module.mk: `make bench-sim` builds and runs the simulator benchmark.
.PHONY: bench-sim
bench-sim: $(BUILD)/bench/bench_sim
	$(BUILD)/bench/bench_sim
