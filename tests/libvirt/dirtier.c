/* tests/libvirt/dirtier.c: a tiny multiboot guest for the libvirt test bed.
 *
 * Owns: nothing but guest RAM. QEMU loads this 32-bit ELF with -kernel (its
 * multiboot loader; libvirt <kernel>), so the bed needs no disk image. The
 * guest fills fill_mib MiB of RAM with non-zero words, so a migration has real
 * data to send (an idle SeaBIOS guest is almost all zero pages, which QEMU
 * sends as headers only), then either halts (dirty_mib=0: no CPU used) or
 * keeps writing one word per page over the first dirty_mib MiB of that area,
 * pausing spin iterations between pages, so QEMU sees a steady dirty rate.
 * Parameters come from the kernel command line: "fill_mib=N dirty_mib=N
 * spin=N". It writes "dirtier: filled" on COM1 once RAM is filled. Built freestanding (gcc -m32, ld -m elf_i386), no libc. */
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

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
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
    uint32_t fill_mib = arg(cmd, "fill_mib", 64);
    uint32_t dirty_mib = arg(cmd, "dirty_mib", 0);
    uint32_t spin = arg(cmd, "spin", 1000);
    /* Never run past the RAM the BIOS reported (mem_upper KiB above 1 MiB). */
    uint32_t top = 0x100000u + (mbi->mem_upper << 10);
    uint32_t end = AREA_START + (fill_mib << 20);
    if (end > top - 0x100000u)
        end = top - 0x100000u;
    volatile uint32_t *w = (volatile uint32_t *)AREA_START;
    for (uint32_t i = 0; (uint32_t)(uintptr_t)&w[i] < end; i++)
        w[i] = i * 2654435761u | 1u; /* non-zero, not a repeating page */
    say("dirtier: filled\n"); /* the bed waits for this line on the serial file */
    uint32_t dend = AREA_START + (dirty_mib << 20);
    if (dend > end)
        dend = end;
    if (dirty_mib == 0 || dend <= AREA_START)
        for (;;)
            __asm__ volatile("cli; hlt");
    for (uint32_t round = 1;; round++)
        for (uint32_t a = AREA_START; a < dend; a += PAGE) {
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
