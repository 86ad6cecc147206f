# tests/libvirt/module.mk: the multiboot guest the libvirt test bed boots.
# Freestanding 32-bit: QEMU's -kernel multiboot loader refuses 64-bit ELF.
DIRTIER := $(BUILD)/tests/libvirt/dirtier.elf

$(DIRTIER): tests/libvirt/dirtier.c tests/libvirt/dirtier.ld
	@mkdir -p $(dir $@)
	$(CC) -m32 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2 \
	  -Wall -Wextra -c tests/libvirt/dirtier.c -o $@.o
	ld -m elf_i386 --no-warn-rwx-segments -T tests/libvirt/dirtier.ld -o $@ $@.o

test-assets: $(DIRTIER)
