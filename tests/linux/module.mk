# tests/linux/module.mk: the real Linux guest of the ping-drop test (Debian's
# kernel package and a busybox initramfs, cached in $(BUILD)/linux-guest; the
# first build downloads the package) and the ping-drop benchmark.
# Not in test-assets: `make check` stays offline and fast; the slow test
# (tests/linux/test_pingdrop.c, CUTOVER_SLOW=1) builds the guest itself.
.PHONY: linux-guest bench-pingdrop
linux-guest:
	BUILD=$(BUILD) tests/linux/build-guest.sh $(BUILD)/linux-guest

# One fresh guest per policy, migrated while pinged every millisecond; the
# markdown table goes to stdout and $(BUILD)/bench-pingdrop.md, one JSON line
# per run to $(BUILD)/bench-pingdrop.jsonl. PINGDROP_POLICIES=adaptive,qemu...
bench-pingdrop: $(BUILD)/cutover
	rm -f $(BUILD)/bench-pingdrop.jsonl
	PINGDROP_JSONL=$(abspath $(BUILD))/bench-pingdrop.jsonl CUTOVER_BIN=$(abspath $(BUILD)/cutover) \
	  BUILD=$(BUILD) tests/linux/pingdrop.sh table $(PINGDROP_POLICIES) | tee $(BUILD)/bench-pingdrop.md

# The pinger of the ping-drop run: one echo request per interval whether or
# not the guest has answered (iputils ping slows to one per 10 ms then).
PINGER := $(BUILD)/tests/linux/pinger
$(PINGER): tests/linux/pinger.c tests/pcap_test_util.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Itests -o $@ $< -lm

test-assets: $(PINGER)
bench-pingdrop: $(PINGER)
