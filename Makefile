# cutover: one binary (build/cutover), a static library of every module for
# tests and benchmarks, Criterion tests, benchmarks, sanitizer build.
# Modules may add rules in a fragment named <dir>/module.mk (included below).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

# Packages: one pkg-config call each (cflags and libs together), so a missing
# one is named. gsl and jansson are required. libvirt and libpcap are
# optional: without them (absent, or listed in WITHOUT=, e.g.
# `make WITHOUT="libvirt libpcap"`) drivers/drv_virt.c and meter/pcapio.c are
# replaced by stubs that fail with "built without ..." (exit 69), and
# model, tune and simulate work as before. criterion is needed by the tests only.
WITHOUT ?=
PKG_CONFIG ?= pkg-config
REQ_PKGS := gsl jansson
OPT_PKGS := libvirt libpcap
deb_gsl := libgsl-dev
deb_jansson := libjansson-dev
deb_libvirt := libvirt-dev
deb_libpcap := libpcap-dev
deb_criterion := libcriterion-dev
# $(call pkg_flags,NAME): the flags of NAME, or CO_MISSING.
pkg_flags = $(if $(filter $(1),$(WITHOUT)),CO_MISSING,$(shell $(PKG_CONFIG) --cflags --libs $(1) 2>/dev/null || echo CO_MISSING))
pkg_missing = pkg-config cannot find '$(1)' (Debian: $(deb_$(1))); run scripts/install-deps.sh
# Goals that need no package (a fresh machine can still run `make deps`).
NOPKG_GOALS := clean deps uninstall
ifneq ($(filter-out $(NOPKG_GOALS),$(or $(MAKECMDGOALS),all)),)
  $(foreach p,$(REQ_PKGS) $(OPT_PKGS) criterion,$(eval PKGF_$(p) := $(call pkg_flags,$(p))))
  $(foreach p,$(REQ_PKGS),$(if $(filter CO_MISSING,$(PKGF_$(p))),$(error $(call pkg_missing,$(p)))))
  $(foreach p,$(filter-out $(WITHOUT),$(OPT_PKGS)),$(if $(filter CO_MISSING,$(PKGF_$(p))),\
    $(warning $(call pkg_missing,$(p)); building without it)))
endif
HAVE_PKGS  := $(foreach p,$(REQ_PKGS) $(OPT_PKGS),$(if $(filter CO_MISSING,$(PKGF_$(p))),,$(p)))
PKG_ALL    := $(foreach p,$(HAVE_PKGS),$(PKGF_$(p)))
PKG_LIBS   := $(filter -l% -L% -Wl% -pthread,$(PKG_ALL))
PKG_CFLAGS := $(sort $(filter-out -l% -L% -Wl%,$(PKG_ALL)))
PKG_CFLAGS += $(if $(filter libvirt,$(HAVE_PKGS)),-DCO_HAVE_LIBVIRT=1)
PKG_CFLAGS += $(if $(filter libpcap,$(HAVE_PKGS)),-DCO_HAVE_PCAP=1)
CRIT_LIBS  := $(filter-out CO_MISSING,$(filter -l% -L% -Wl% -pthread,$(PKGF_criterion)))

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

MODULE_DIRS := util model drivers engine meter lab place sim evacuate cycle inventory traces cli
# Without libvirt (libpcap) the stubs drivers/drv_virt_none.c and
# lab/cluster_none.c (meter/pcapio_none.c) stand in for drivers/drv_virt.c and
# lab/cluster.c (meter/pcapio.c); tests that use the library are not built.
NOLIB_SRC := $(if $(filter libvirt,$(HAVE_PKGS)),drivers/drv_virt_none.c lab/cluster_none.c,\
               drivers/drv_virt.c lab/cluster.c) \
             $(if $(filter libpcap,$(HAVE_PKGS)),meter/pcapio_none.c,meter/pcapio.c)
LIB_SRC  := $(filter-out cli/main.c cli/virt_lazy.c cli/pcap_lazy.c $(NOLIB_SRC),$(foreach d,$(MODULE_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/cli/main.o
# build/cutover (and cutover-mpi) load libvirt on first use (cli/virt_lazy.c):
# linking it costs 12.5 MB of resident memory at start-up, which simulate,
# model and tune never need. Tests and benchmarks link libvirt directly.
# -lvirt stays last under --as-needed: if a libvirt function is called that
# cli/virt_lazy.c does not define yet, libvirt is linked as before (add it
# there: `ldd build/cutover | grep libvirt` should print nothing).
# Not in sanitizer builds: ASan intercepts libtirpc's xdr_* functions and
# resolves the real ones at start-up; libvirt (and libtirpc) loaded later by
# dlopen leave those pointers NULL, and the first RPC jumps to 0 (seen in
# virNetMessageEncodeHeader under make check-asan).
# libpcap likewise (cli/pcap_lazy.c): it pulls in dbus and systemd, 1.6 ms and
# 1.4 MB at start-up. VIRT_LAZY holds both objects.
VIRT_LAZY_O := $(if $(SANITIZE),,$(if $(filter libvirt,$(HAVE_PKGS)),$(BUILD)/obj/cli/virt_lazy.o))
PCAP_LAZY_O := $(if $(SANITIZE),,$(if $(filter libpcap,$(HAVE_PKGS)),$(BUILD)/obj/cli/pcap_lazy.o))
VIRT_LAZY := $(strip $(VIRT_LAZY_O) $(PCAP_LAZY_O))
VIRT_FALLBACK := -Wl,--as-needed -lvirt -Wl,--no-as-needed
PCAP_FALLBACK := -Wl,--as-needed -lpcap -Wl,--no-as-needed
MAIN_LDLIBS := $(filter-out $(if $(VIRT_LAZY_O),-lvirt) $(if $(PCAP_LAZY_O),-lpcap),$(LDLIBS)) \
               $(if $(VIRT_LAZY_O),$(VIRT_FALLBACK)) $(if $(PCAP_LAZY_O),$(PCAP_FALLBACK))
LIB      := $(BUILD)/libcutover.a

TEST_SRC := $(sort $(wildcard tests/*/test_*.c))
TEST_SRC := $(filter-out $(if $(filter libvirt,$(HAVE_PKGS)),,$(shell grep -l 'libvirt/' $(TEST_SRC))) \
              $(if $(filter libpcap,$(HAVE_PKGS)),,$(shell grep -l 'co_pcap_read\|<pcap\|pcapio' $(TEST_SRC))),$(TEST_SRC))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all check check-asan check-slow bench install uninstall clean fuzz deps tests

all: $(BUILD)/cutover

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The revision is compiled into cli/main.o (--version), bench_policies and
# bench_evacuate:
# they depend on a stamp rewritten only when HEAD moves, so an incremental
# build after a commit does not print a stale revision.
REV_STAMP := $(BUILD)/rev.stamp
.PHONY: rev-stamp-check
rev-stamp-check:
$(REV_STAMP): rev-stamp-check
	@mkdir -p $(dir $@); echo '$(GIT_REV)' | cmp -s - $@ 2>/dev/null || echo '$(GIT_REV)' > $@
$(MAIN_OBJ) $(BUILD)/bench/bench_policies $(BUILD)/bench/bench_evacuate: $(REV_STAMP)

$(BUILD)/cutover: $(MAIN_OBJ) $(VIRT_LAZY) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(MAIN_LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB) $(wildcard tests/*.h tests/*/*.h)
	@$(if $(filter CO_MISSING,$(PKGF_criterion)),echo "$(call pkg_missing,criterion)" >&2; exit 1)
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
	LSAN_OPTIONS="suppressions=$(abspath tests/lsan.supp)$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}" \
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  check

# The build checks: without libvirt/libpcap, install/uninstall (tests/build.sh).
.PHONY: check-build ci
check-build: $(BUILD)/cutover $(BUILD)/guest/guest.elf
	MAKE="$(MAKE)" BUILD=$(BUILD) tests/build.sh

# Everything CI runs (scripts/test.sh): check, check-asan, fuzz-ci,
# check-build, closed by one line summing them (tests/ci.sh).
ci:
	MAKE="$(MAKE)" tests/ci.sh

bench: $(BUILD)/cutover $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# What `make install` puts under $(DESTDIR)$(PREFIX) (INSTALLED, relative to
# PREFIX; module.mk files add theirs, lab/module.mk the test guest and the
# cluster script), and `make uninstall` removes: here the binary, the man
# page, the example cluster simulate's usage names and the recorded dirty
# traces (--dirty trace:FILE).
DATADIR := $(PREFIX)/share/cutover
INSTALLED := bin/cutover share/man/man1/cutover.1 share/cutover/example-cluster.json \
             $(patsubst traces/%,share/cutover/%,$(wildcard traces/recorded/*.json))
# Where the lab looks for what lab/module.mk installs (besides ../share/cutover
# from the binary).
$(BUILD)/obj/lab/lab.o $(BUILD)/obj/lab/cluster.o: CFLAGS += -DCO_DATADIR='"$(DATADIR)"'

install: $(BUILD)/cutover
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(DATADIR)/recorded
	install -m 0755 $(BUILD)/cutover $(DESTDIR)$(PREFIX)/bin/cutover
	install -m 0644 man/cutover.1 $(DESTDIR)$(PREFIX)/share/man/man1/cutover.1
	install -m 0644 traces/example-cluster.json $(DESTDIR)$(DATADIR)/example-cluster.json
	install -m 0644 $(wildcard traces/recorded/*.json) $(DESTDIR)$(DATADIR)/recorded/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED))
	-rmdir $(DESTDIR)$(DATADIR)/recorded $(DESTDIR)$(DATADIR) 2>/dev/null

deps:
	scripts/install-deps.sh

clean:
	rm -rf build build-asan build-fuzz build-nolibs

-include $(wildcard */module.mk */*/module.mk fuzz/*.mk)
-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
