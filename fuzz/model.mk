# fuzz/model.mk: libFuzzer targets for the trace and profile parsers (clang).
# `make fuzz-dirty-trace` builds and runs it for FUZZ_SECONDS (default 60).
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -I. $(shell pkg-config --cflags jansson gsl)
FUZZ_LIBS = $(shell pkg-config --libs jansson gsl) -lm

build-fuzz/fuzz_dirty_trace: fuzz/fuzz_dirty_trace.c traces/dirty_trace.c traces/profile.c \
		util/units.c util/diag.c util/jsonpos.c model/dirty.c
	@command -v clang >/dev/null || { echo "fuzz: needs clang (apt-get install clang)"; exit 69; }
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LIBS)

.PHONY: fuzz-dirty-trace
fuzz-dirty-trace: build-fuzz/fuzz_dirty_trace
	@mkdir -p build-fuzz/corpus-dirty-trace
	cp -n tests/data/trace-*.json build-fuzz/corpus-dirty-trace/ 2>/dev/null || true
	build-fuzz/fuzz_dirty_trace -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus-dirty-trace
