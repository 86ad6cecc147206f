# cutover: one binary (build/cutover), a static library of every module for
# tests and benchmarks, Criterion tests, benchmarks, sanitizer build.
# Modules may add rules in a fragment named <dir>/module.mk (included below).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS      := gsl jansson libvirt libpcap
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_LIBS  := $(shell pkg-config --libs criterion 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

OPT      ?= -O2
SANITIZE ?=
CFLAGS   ?=
CFLAGS   += -std=gnu11 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -I. $(PKG_CFLAGS) -DCUTOVER_VERSION='"$(VERSION)"' -DCUTOVER_REV='"$(GIT_REV)"' \
            $(SANITIZE)
LDFLAGS  += $(SANITIZE)
LDLIBS   += $(PKG_LIBS) -lpthread -lm

MODULE_DIRS := util model drivers engine meter lab sim traces cli
LIB_SRC  := $(filter-out cli/main.c,$(foreach d,$(MODULE_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/cli/main.o
LIB      := $(BUILD)/libcutover.a

TEST_SRC := $(sort $(wildcard tests/*/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all check check-asan check-slow bench install clean fuzz deps tests

all: $(BUILD)/cutover

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/cutover: $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) $(CRIT_LIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

tests: $(BUILD)/cutover $(TEST_BIN) test-assets

# test-assets: things tests need besides the binaries (module.mk files add to it).
.PHONY: test-assets
test-assets:

check: tests
	CUTOVER_BIN=$(abspath $(BUILD)/cutover) BUILD=$(BUILD) tests/run.sh $(TEST_BIN)

# Slow suites (Linux guest under TCG, two libvirtd): opt-in.
check-slow: tests
	CUTOVER_SLOW=1 CUTOVER_BIN=$(abspath $(BUILD)/cutover) BUILD=$(BUILD) tests/run.sh $(TEST_BIN)

check-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  check

bench: $(BUILD)/cutover $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

install: $(BUILD)/cutover
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/cutover $(DESTDIR)$(PREFIX)/bin/cutover
	install -m 0644 man/cutover.1 $(DESTDIR)$(PREFIX)/share/man/man1/cutover.1

deps:
	scripts/install-deps.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard */module.mk */*/module.mk fuzz/*.mk)
-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
