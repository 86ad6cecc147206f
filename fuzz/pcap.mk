# fuzz/pcap.mk: libFuzzer target for the capture reader (not part of `make check`).
#   make fuzz-pcap                 build build-fuzz/fuzz_pcap (clang, ASan+UBSan)
#   make fuzz-pcap-run FUZZ_SECONDS=60  run it on a copy of the seed corpus
FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_PCAP_SRC := meter/pcapdecode.c meter/pcapio.c meter/pcapmeter.c meter/linkstat.c meter/flowtab.c \
                 util/diag.c util/clock.c
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -I. \
                $(shell pkg-config --cflags libpcap)

.PHONY: fuzz-pcap fuzz-pcap-run
fuzz: fuzz-pcap

fuzz-pcap: $(FUZZ_BUILD)/fuzz_pcap

$(FUZZ_BUILD)/fuzz_pcap: fuzz/fuzz_pcap.c $(FUZZ_PCAP_SRC) $(wildcard meter/pcap*.h meter/linkstat.h meter/flowtab.h util/clock.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/fuzz_pcap.c $(FUZZ_PCAP_SRC) \
	  $(shell pkg-config --libs libpcap)

fuzz-pcap-run: $(FUZZ_BUILD)/fuzz_pcap
	@mkdir -p $(FUZZ_BUILD)/corpus-pcap
	cp -n fuzz/corpus/pcap/* $(FUZZ_BUILD)/corpus-pcap/ 2>/dev/null || true
	$(FUZZ_BUILD)/fuzz_pcap -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus-pcap fuzz/corpus/pcap
