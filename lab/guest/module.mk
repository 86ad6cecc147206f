# lab/guest/module.mk: build the freestanding 32-bit test guest (multiboot
# kernel loaded by QEMU's -kernel) with the host's gcc. Output:
# $(BUILD)/guest/guest.elf. Never sanitized: it runs on bare (virtual) metal.

GUEST_DIR    := $(BUILD)/guest
GUEST_ELF    := $(GUEST_DIR)/guest.elf
GUEST_CFLAGS := -m32 -march=i686 -std=gnu11 -O2 -g -Wall -Wextra -ffreestanding -nostdlib \
                -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
                -fno-builtin -mno-sse -mno-sse2 -mno-mmx -mno-red-zone
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,lab/guest/guest.ld \
                 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

$(GUEST_DIR)/%.o: lab/guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.o: lab/guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_ELF): $(GUEST_DIR)/boot.o $(GUEST_DIR)/guest.o lab/guest/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $(GUEST_DIR)/boot.o $(GUEST_DIR)/guest.o
	@if nm $@ | grep -q ' U '; then echo "guest: undefined symbols:"; nm $@ | grep ' U '; rm -f $@; exit 1; fi

.PHONY: guest
guest: $(GUEST_ELF)
test-assets: $(GUEST_ELF)
