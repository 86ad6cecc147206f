/* tests/libvirt/dirtier.c: a tiny multiboot guest for the libvirt test bed.
 *
 * Owns: nothing but guest RAM. QEMU loads this 32-bit ELF with -kernel (its
 * multiboot loader; libvirt <kernel>), so the bed needs no disk image.
 * A migration needs real data to send: an idle SeaBIOS guest is almost all
 * zero pages, which QEMU sends as headers only. The cheap way to fill RAM is
 * a multiboot module (libvirt <initrd>, e.g. a file of random bytes): QEMU's
 * option ROM copies it into guest RAM by fw_cfg DMA, from QEMU's side, in
 * well under a second. Filling from inside the guest (fill_mib) is slow under
 * nested KVM: each first touch of a page costs an EPT fault in two
 * hypervisors, measured at about 3 ms per page on a loaded host.
 * After an optional fill of fill_mib MiB past the modules, the guest either
 * halts (dirty_mib=0: no CPU used) or keeps writing one word per page over
 * the first dirty_mib MiB of the first module (or the fill area), pausing
 * spin iterations between pages, so QEMU sees a steady dirty rate.
 * Parameters come from the kernel command line: "fill_mib=N dirty_mib=N
 * spin=N". It writes "dirtier: ready" on COM1 once RAM is filled. Built freestanding (gcc -m32, ld -m elf_i386), no libc. */
#include <stdint.h>

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0x00000000u
#define MB_INFO_CMDLINE (1u << 2)
#define AREA_START 0x00400000u /* 4 MiB: above our image, stack and the BIOS */
#define PAGE 4096u

struct mb_header {
    uint32_t magic, flags, checksum;
};
__attribute__((section(".multiboot"), used, aligned(4)))
static const struct mb_header mb_hdr = {MB_MAGIC, MB_FLAGS, (uint32_t)-(MB_MAGIC + MB_FLAGS)};

#define MB_INFO_MODS (1u << 3)

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};
struct mb_module {
    uint32_t mod_start, mod_end, string, reserved;
};

uint8_t dirtier_stack[16384] __attribute__((aligned(16), used));

/* COM1 without set-up: QEMU's UART takes writes to its data register as is. */
static void say(const char *m)
{
    for (; *m; m++)
        __asm__ volatile("outb %0, %1" : : "a"(*m), "Nd"((uint16_t)0x3f8));
}

/* Value of "key=N" in the command line s (words split by spaces), or def. */
static uint32_t arg(const char *s, const char *key, uint32_t def)
{
    for (const char *start = s; s && *s; s++) {
        if (s != start && s[-1] != ' ')
            continue;
        const char *k = key, *p = s;
        while (*k && *p == *k)
            k++, p++;
        if (*k == '\0' && *p == '=') {
            uint32_t v = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint32_t)(*p - '0');
            return v;
        }
    }
    return def;
}

__attribute__((noreturn, used)) void dirtier_main(uint32_t magic, const struct mb_info *mbi)
{
    const char *cmd = 0;
    if (magic == 0x2BADB002u && (mbi->flags & MB_INFO_CMDLINE))
        cmd = (const char *)(uintptr_t)mbi->cmdline;
    uint32_t fill_mib = arg(cmd, "fill_mib", 0);
    uint32_t dirty_mib = arg(cmd, "dirty_mib", 0);
    uint32_t spin = arg(cmd, "spin", 1000);
    /* Modules (already in RAM): the fill goes after them, dirtying in them. */
    uint32_t fill_start = AREA_START, mod_start = 0, mod_end = 0;
    if (magic == 0x2BADB002u && (mbi->flags & MB_INFO_MODS) && mbi->mods_count > 0) {
        const struct mb_module *m = (const struct mb_module *)(uintptr_t)mbi->mods_addr;
        mod_start = (m[0].mod_start + PAGE - 1) & ~(PAGE - 1);
        mod_end = m[0].mod_end & ~(PAGE - 1);
        for (uint32_t i = 0; i < mbi->mods_count; i++)
            if (m[i].mod_end > fill_start)
                fill_start = (m[i].mod_end + PAGE - 1) & ~(PAGE - 1);
    }
    /* Never run past the RAM the BIOS reported (mem_upper KiB above 1 MiB),
     * keeping 1 MiB spare at the top. */
    uint32_t top = 0x100000u + (mbi->mem_upper << 10) - 0x100000u;
    uint32_t end = fill_start + (fill_mib << 20);
    if (end > top || end < fill_start)
        end = top > fill_start ? top : fill_start;
    if (fill_mib == 0)
        end = fill_start;
    volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)fill_start;
    for (uint32_t i = 0; (uint32_t)(uintptr_t)&w[i] < end; i++)
        w[i] = i * 2654435761u | 1u; /* non-zero, not a repeating page */
    say("dirtier: ready\n"); /* the bed waits for this line on the serial file */
    uint32_t dstart = mod_end > mod_start ? mod_start : fill_start;
    uint32_t dlimit = mod_end > mod_start ? mod_end : end;
    uint32_t dend = dstart + (dirty_mib << 20);
    if (dend > dlimit || dend < dstart)
        dend = dlimit;
    if (dirty_mib == 0 || dend <= dstart)
        for (;;)
            __asm__ volatile("cli; hlt");
    for (uint32_t round = 1;; round++)
        for (uint32_t a = dstart; a < dend; a += PAGE) {
            *(volatile uint32_t *)(uintptr_t)a = round;
            for (uint32_t s = 0; s < spin; s++)
                __asm__ volatile("pause");
        }
}

/* Entry: the multiboot loader jumps here in 32-bit protected mode with
 * eax = magic, ebx = info, and no stack. */
__asm__(".globl _start\n"
        "_start:\n"
        "  mov $dirtier_stack + 16384, %esp\n"
        "  push %ebx\n"
        "  push %eax\n"
        "  call dirtier_main\n"
        "1: cli; hlt; jmp 1b\n");
