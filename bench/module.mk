# bench/module.mk: the long benchmarks that are not part of `make bench`.
$(BUILD)/bench/accuracy: bench/accuracy.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

.PHONY: bench-accuracy
# Model vs real QEMU migrations (about 10 minutes). ACCURACY_ARGS=--quick for 3 runs.
bench-accuracy: $(BUILD)/bench/accuracy $(BUILD)/cutover test-assets
	$(BUILD)/bench/accuracy $(ACCURACY_ARGS)
