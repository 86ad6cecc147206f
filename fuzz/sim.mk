# fuzz/sim.mk: libFuzzer build of the simulator's cluster reader (clang).
# `make fuzz-sim` builds build-fuzz/fuzz_cluster; `make fuzz-sim-run` runs it
# for FUZZ_SECONDS (default 60) on a corpus seeded from traces/ and tests/sim/data.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SIM_SRC := fuzz/fuzz_cluster.c $(wildcard sim/*.c) $(wildcard model/*.c) $(wildcard util/*.c) \
                traces/profile.c traces/dirty_trace.c

.PHONY: fuzz fuzz-sim fuzz-sim-run
fuzz: fuzz-sim

build-fuzz/fuzz_cluster: $(FUZZ_SIM_SRC) $(wildcard sim/*.h model/*.h util/*.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) -std=gnu11 -g -O1 -I. $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	  -DCUTOVER_VERSION='"fuzz"' -DCUTOVER_REV='"fuzz"' -o $@ $(FUZZ_SIM_SRC) $(PKG_LIBS) -lpthread -lm

fuzz-sim: build-fuzz/fuzz_cluster

fuzz-sim-run: build-fuzz/fuzz_cluster
	@mkdir -p build-fuzz/corpus-cluster
	cp -n traces/*cluster*.json tests/sim/data/*.json build-fuzz/corpus-cluster/ 2>/dev/null || true
	build-fuzz/fuzz_cluster -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-cluster
