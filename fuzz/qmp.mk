# fuzz/qmp.mk: libFuzzer build of the QMP reader (drivers/qmp.c). Not part of
# `make check`. `make fuzz-qmp` builds build-fuzz/fuzz_qmp_reader;
# `make fuzz-qmp-run` fuzzes for FUZZ_SECONDS (default 60) from the recorded
# transcripts in tests/data/qmp, keeping new inputs in build-fuzz/corpus-qmp.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_QMP_SRC := fuzz/fuzz_qmp_reader.c drivers/qmp.c drivers/driver.c util/diag.c util/clock.c

.PHONY: fuzz-qmp fuzz-qmp-run
fuzz: fuzz-qmp
fuzz-qmp: $(FUZZ_BUILD)/fuzz_qmp_reader

$(FUZZ_BUILD)/fuzz_qmp_reader: $(FUZZ_QMP_SRC) drivers/qmp.h drivers/driver.h util/diag.h util/clock.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
	  $(shell pkg-config --cflags jansson) -o $@ $(FUZZ_QMP_SRC) \
	  $(shell pkg-config --libs jansson) -lm

fuzz-qmp-run: $(FUZZ_BUILD)/fuzz_qmp_reader
	@mkdir -p $(FUZZ_BUILD)/corpus-qmp
	$(FUZZ_BUILD)/fuzz_qmp_reader -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	  $(FUZZ_BUILD)/corpus-qmp tests/data/qmp
