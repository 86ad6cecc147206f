# fuzz/fuzz.mk: libFuzzer targets (clang, ASan + UBSan), one per parser.
# A target is fuzz/fuzz_NAME.c, its seed corpus fuzz/corpus/NAME/ (committed),
# the sources it links FUZZ_SRC_NAME below. Not part of `make check`:
#   make fuzz                         build every target into build-fuzz/
#   make fuzz-NAME-run FUZZ_SECONDS=60   fuzz one for that long
#   make fuzz-ci                      each for FUZZ_CI_SECONDS on its corpus,
#                                     one summary line (part of `make ci`)
# New inputs go to build-fuzz/corpus-NAME (not committed), findings to
# build-fuzz/artifacts/; any finding fails fuzz-ci.
FUZZ_CC         ?= clang
FUZZ_BUILD      ?= build-fuzz
FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 25
FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -fno-omit-frame-pointer -I. $(PKG_CFLAGS) \
              -DCUTOVER_VERSION='"fuzz"' -DCUTOVER_REV='"fuzz"'

FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SRC_cluster     := $(wildcard sim/*.c place/*.c model/*.c util/*.c) traces/profile.c traces/dirty_trace.c
FUZZ_SRC_history     := $(FUZZ_SRC_cluster) cycle/history.c cycle/journal.c
FUZZ_SRC_inventory   := inventory/file.c inventory/save.c traces/dirty_trace.c util/units.c \
                        util/diag.c util/jsonpos.c model/dirty.c
FUZZ_SRC_dirty_trace := traces/dirty_trace.c traces/profile.c util/units.c util/diag.c \
                        util/jsonpos.c model/dirty.c
FUZZ_SRC_pcap        := meter/pcapdecode.c meter/pcapio.c meter/pcapmeter.c meter/linkstat.c meter/flowtab.c util/clock.c \
                        util/diag.c
FUZZ_SRC_qmp_reader  := drivers/qmp.c drivers/driver.c util/diag.c util/clock.c
FUZZ_SRC_units       := util/units.c util/diag.c
FUZZ_SRC_journal     := cycle/journal.c util/diag.c
FUZZ_SRC_calibration := evacuate/learn.c evacuate/plan.c $(wildcard model/*.c place/*.c) \
                        sim/share.c traces/dirty_trace.c traces/profile.c util/units.c \
                        util/diag.c util/jsonpos.c
# Longest input worth trying in bytes (default 4096): a QMP transcript, a cluster.
FUZZ_MAXLEN_qmp_reader := 70000
FUZZ_MAXLEN_cluster    := 65536
FUZZ_MAXLEN_history    := 16384
FUZZ_MAXLEN_units      := 64
FUZZ_MAXLEN_journal    := 16384
FUZZ_MAXLEN_calibration := 16384

define FUZZ_template
$(FUZZ_BUILD)/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) $(wildcard */*.h)
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: needs $(FUZZ_CC) (Debian: clang; scripts/install-deps.sh)" >&2; exit 69; }
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $$@ fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) $(PKG_LIBS) -lpthread -lm

.PHONY: fuzz-$(1) fuzz-$(1)-run
fuzz-$(1): $(FUZZ_BUILD)/fuzz_$(1)
fuzz-$(1)-run: $(FUZZ_BUILD)/fuzz_$(1)
	FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh $(FUZZ_SECONDS) $(1):$(or $(FUZZ_MAXLEN_$(1)),4096)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_template,$(t))))

.PHONY: fuzz fuzz-ci
fuzz: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz-ci:
	@FUZZ_BUILD=$(FUZZ_BUILD) MAKE="$(MAKE)" fuzz/run.sh --build $(FUZZ_CI_SECONDS) \
	  $(foreach t,$(FUZZ_TARGETS),$(t):$(or $(FUZZ_MAXLEN_$(t)),4096))
