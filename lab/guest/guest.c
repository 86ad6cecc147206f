/* lab/guest/guest.c: cutover's test guest, a freestanding 32-bit kernel.
 *
 * Owns: everything the guest does after boot.S hands over. QEMU loads it with
 * `-kernel guest.elf -append "rate=20000 pattern=uniform wss=64M"`. It
 *   1. reads the command line and the RAM map from the multiboot info,
 *   2. calibrates the TSC against PIT channel 2 (the classic method Linux's
 *      pit_calibrate_tsc uses), because pacing and heartbeats run on the TSC,
 *   3. fills every page of RAM above itself with non-zero content, so QEMU's
 *      zero-page detection cannot shortcut the migration,
 *   4. then loops forever: every millisecond a heartbeat line on COM1, and in
 *      between, page writes at the configured rate and pattern, and, when no
 *      write is due, verification of one page at a time (a continuous sweep);
 *      with idle=hlt, a share of the sweep per tick and then HLT until PIT
 *      channel 0's next interrupt (the vCPU idles as a real guest's does).
 * Every page's content is a function of its physical page number and a
 * generation counter kept in a table, so a page that arrives stale, misplaced
 * or damaged after a migration is found and reported as "ERR ...".
 * docs/lab.md describes the command line and the serial protocol.
 *
 * Constraints: no paging, no interrupts but idle=hlt's timer (we poll the
 * TSC), no libc, no 64-bit division (Debian's gcc -m32 has no libgcc for it):
 * every division is 32-bit.
 * State lives in one struct on the boot stack, passed explicitly. */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PAGE_SIZE 4096u
#define PAGE_WORDS (PAGE_SIZE / 4)
#define COM1 0x3F8
#define MAX_PHASES 16
#define CMDLINE_MAX 512
/* Page header word: high byte tags our pages, low 24 bits hold the pfn
 * (pfns below 4 GiB need 20 bits). */
#define PAGE_TAG 0xC5000000u

/* gcc may emit calls to these for struct copies and clears. */
void *memset(void *d, int c, u32 n);
void *memcpy(void *d, const void *s, u32 n);
void *memset(void *d, int c, u32 n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}
void *memcpy(void *d, const void *s, u32 n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* ---- port I/O and TSC ---- */

static inline void outb(u16 port, u8 v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

/* ---- configuration and state ---- */

enum pattern { PAT_UNIFORM, PAT_HOTCOLD, PAT_SEQ };

struct phase {
    u32 dur_ms;
    u32 rate;   /* pages per second */
};

struct guest {
    /* configuration (command line) */
    int pattern;
    u32 rate;              /* pages/s when no phases are given */
    u32 wss_kib, hot_kib, cold_kib;   /* 0 = default */
    u32 hotfrac_q16;       /* share of writes to the hot set, in 1/65536 */
    u32 seed;
    u32 stats_ms;          /* period of ST lines */
    u32 tlbflush_ms;       /* period of TLB flushes, 0 = never */
    u32 idle_hlt;          /* idle=hlt (default): sleep between ticks; spin: poll */
    u32 verify_per_tick;   /* idle=hlt: pages verified per tick */
    u32 verified_ms;       /* idle=hlt: the tick whose verification is done */
    struct phase phases[MAX_PHASES];
    u32 nphases;
    /* memory layout */
    u32 *gen;              /* generation of each test page */
    u8 *base;              /* first test page */
    u32 npages;            /* test pages */
    u32 wss_pages, hot_pages, cold_pages;
    u32 mem_top;           /* end of usable RAM (bytes) */
    /* time */
    u32 tsc_per_ms;
    u32 ms;                /* TSC milliseconds since boot */
    u32 next_stats_ms, next_flush_ms;
    u32 hb_seq;
    u32 stalls;            /* times the clock jumped > 4 ms (VM paused) */
    /* work */
    u32 fill_next;         /* next page to fill; == npages when done */
    u32 fill_ms;
    u32 phase, phase_ms;
    u32 cur_rate;
    u32 acc;               /* rate accumulator, in pages*1000 */
    u32 pending;           /* page writes due */
    u32 seq_next;
    u32 rng;
    u32 dirtied;
    u32 sweep_next, sweeps;
    u32 errors, err_lines_this_s;
    u32 tx_drops;
};

/* ---- serial (16550 on COM1, polled) ---- */

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB to set the divisor */
    outb(COM1 + 0, 0x01); /* 115200 baud (QEMU ignores it) */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0xC7); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

/* Send len bytes. Each port access is a VM exit (tens of microseconds under
 * nested KVM), so a line goes out with one `rep outsb`, which KVM hands to
 * QEMU in a single exit, 16 bytes (the FIFO) at a time. For ordinary lines
 * we first wait for an empty transmitter (LSR bit 5) and give up, dropping
 * the rest, if a stuck backend keeps it full. Heartbeats skip the wait
 * (check_lsr = 0): QEMU's UART transmits synchronously on each write, so the
 * FIFO is empty whenever the backend is not stuck, and one exit per
 * millisecond keeps the heartbeat's cost small. */
static void serial_write(struct guest *g, const char *s, u32 len, int check_lsr)
{
    while (len > 0) {
        u32 spin = 0;
        while (check_lsr && (inb(COM1 + 5) & 0x20) == 0) {
            if (++spin > 100000) {
                g->tx_drops++;
                return;
            }
        }
        u32 n = len < 16 ? len : 16;
        const char *src = s;
        u32 cnt = n;
        __asm__ volatile("rep outsb" : "+S"(src), "+c"(cnt) : "d"((u16)COM1) : "memory");
        s += n;
        len -= n;
    }
}

/* A line under construction. */
struct line {
    char buf[256];
    u32 len;
};

static void ln_str(struct line *l, const char *s)
{
    while (*s && l->len < sizeof l->buf - 1)
        l->buf[l->len++] = *s++;
}
static void ln_u32(struct line *l, u32 v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && l->len < sizeof l->buf - 1)
        l->buf[l->len++] = tmp[--n];
}
static void ln_hex(struct line *l, u32 v)
{
    ln_str(l, "0x");
    for (int s = 28; s >= 0; s -= 4)
        if (l->len < sizeof l->buf - 1)
            l->buf[l->len++] = "0123456789abcdef"[(v >> s) & 15];
}
static void ln_kv(struct line *l, const char *k, u32 v)
{
    ln_str(l, " ");
    ln_str(l, k);
    ln_str(l, "=");
    ln_u32(l, v);
}
static void ln_send(struct guest *g, struct line *l)
{
    l->buf[l->len++] = '\n';
    serial_write(g, l->buf, l->len, 1);
    l->len = 0;
}
static void ln_send_hb(struct guest *g, struct line *l)
{
    l->buf[l->len++] = '\n';
    serial_write(g, l->buf, l->len, 0);
    l->len = 0;
}

/* Flush the (soft)TLB by toggling CR4.PGE. Without paging nothing else
 * flushes it, and QEMU 7.2's TCG only re-arms dirty tracking of a page when
 * its TLB entry is refilled (fixed in QEMU 9.0, "physmem: Fix migration
 * dirty bitmap coherency with TCG memory access"): a page that stays in
 * the TLB, like our stack, would be migrated stale. docs/lab.md. */
static void tlb_flush_all(void)
{
    u32 cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 ^ 0x80u) : "memory");
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
}

/* ---- idle=hlt: a timer interrupt to wake from HLT ----
 *
 * A guest that polls the TSC keeps its vCPU busy: six lab guests under TCG
 * are six host threads at 100 % on a 2-core machine, and the migrations'
 * own threads (QEMU's migration thread and main loop, libvirtd) wait for
 * the CPU at every switchover (bench-evacuate: idle guests at 300 - 650 ms
 * of downtime alone). With idle=hlt the guest sleeps between its ticks and
 * PIT channel 0 wakes it: IRQ 0 through the 8259 PIC remapped to vector 32.
 * The IDT holds no exception vector (0 - 31): an exception faults to a triple
 * fault and a reset, as with no IDT at all. */
#define IDT_VECTORS 256
static unsigned long long idt[IDT_VECTORS] __attribute__((aligned(8)));
extern char irq0_entry[]; /* boot.S: EOI to the PIC, iret */

static void timer_init(u32 hz)
{
    u32 h = (u32)irq0_entry;
    /* every vector from 32 up (a spurious one included) to the handler */
    for (u32 v = 32; v < IDT_VECTORS; v++)
        idt[v] = (unsigned long long)((h & 0xFFFFu) | (0x08u << 16)) |
                 ((unsigned long long)((h & 0xFFFF0000u) | 0x8E00u) << 32);
    struct {
        u16 limit;
        u32 base;
    } __attribute__((packed)) idtr = {sizeof idt - 1, (u32)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    /* the PICs: ICW1..4, IRQ 0-7 at vectors 32-39 and 8-15 at 40-47,
     * every line masked but IRQ 0 */
    outb(0x20, 0x11);
    outb(0xA0, 0x11);
    outb(0x21, 0x20);
    outb(0xA1, 0x28);
    outb(0x21, 0x04);
    outb(0xA1, 0x02);
    outb(0x21, 0x01);
    outb(0xA1, 0x01);
    outb(0x21, 0xFE);
    outb(0xA1, 0xFF);
    /* the local APIC in virtual-wire mode, the PIC's output through LINT0
     * as ExtINT: SeaBIOS leaves it so, qboot (the labs' firmware) does not */
    volatile u32 *lapic = (volatile u32 *)0xFEE00000u;
    lapic[0xF0 / 4] = 0x100u | 0xFFu; /* spurious-interrupt register: enabled */
    lapic[0x350 / 4] = 0x700u;        /* LVT LINT0: ExtINT, unmasked */
    /* PIT channel 0, lobyte/hibyte, mode 2 (rate generator) */
    u32 div = 1193182u / hz;
    outb(0x43, 0x34);
    outb(0x40, (u8)(div & 0xff));
    outb(0x40, (u8)(div >> 8));
}

/* Sleep until the next interrupt: STI's one-instruction shadow makes the
 * pair atomic, so a tick between them is not lost. */
static void idle_wait(void)
{
    __asm__ volatile("sti; hlt; cli" : : : "memory");
}

/* ---- TSC calibration against PIT channel 2 ---- */

/* Program channel 2 in mode 0 (interrupt on terminal count) for 50 ms with
 * its gate on and the speaker off, then poll the OUT2 bit of port 0x61. The
 * TSC ticks counted meanwhile / 50 = ticks per ms. Returns 0 if the PIT never
 * fires (then the caller assumes a default and says so). */
static u32 calibrate_tsc_per_ms(void)
{
    const u32 ms = 50, latch = 1193182u * 50u / 1000u; /* 59659 */
    outb(0x61, (u8)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xB0); /* channel 2, lobyte/hibyte, mode 0, binary */
    outb(0x42, (u8)(latch & 0xff));
    outb(0x42, (u8)(latch >> 8));
    u64 t0 = rdtsc();
    u32 spin = 0;
    while ((inb(0x61) & 0x20) == 0)
        if (++spin > 50000000u)
            return 0;
    u64 dt = rdtsc() - t0;
    if (dt >> 32) /* > 85 GHz: nonsense */
        return 0;
    return (u32)dt / ms;
}

/* ---- command line ---- */

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Parse a decimal integer at *p; advances *p. Returns 0 on no digits or
 * overflow of 32 bits. */
static int parse_u32(const char **p, u32 *out)
{
    const char *s = *p;
    u32 v = 0;
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9') {
        u32 d = (u32)(*s - '0');
        if (v > (0xFFFFFFFFu - d) / 10)
            return 0;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 1;
}

/* Size in KiB: "64M", "64MiB", "1G", "4096K", "65536k", or bytes "1048576". */
static int parse_kib(const char *s, u32 *kib)
{
    u32 v;
    if (!parse_u32(&s, &v))
        return 0;
    u32 mult; /* KiB per unit, or 0 for bytes */
    if (*s == '\0' || streq(s, "B"))
        mult = 0;
    else if (streq(s, "K") || streq(s, "k") || streq(s, "KiB"))
        mult = 1;
    else if (streq(s, "M") || streq(s, "MiB"))
        mult = 1024;
    else if (streq(s, "G") || streq(s, "GiB"))
        mult = 1024 * 1024;
    else
        return 0;
    if (mult == 0) {
        *kib = v / 1024;
        return 1;
    }
    if (v > 0xFFFFFFFFu / mult)
        return 0;
    *kib = v * mult;
    return 1;
}

/* Duration in ms: "500ms", "5s". Advances *p past it. */
static int parse_ms(const char **p, u32 *ms)
{
    u32 v;
    if (!parse_u32(p, &v))
        return 0;
    if ((*p)[0] == 'm' && (*p)[1] == 's') {
        *p += 2;
        *ms = v;
        return 1;
    }
    if ((*p)[0] == 's') {
        *p += 1;
        if (v > 0xFFFFFFFFu / 1000)
            return 0;
        *ms = v * 1000;
        return 1;
    }
    return 0;
}

/* "0.9" or "1" -> fraction in 1/65536 (clamped to 65536). */
static int parse_frac(const char *s, u32 *q16)
{
    u32 whole = 0, num = 0, den = 1;
    if (!parse_u32(&s, &whole))
        return 0;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9') {
            if (den < 100000) {
                num = num * 10 + (u32)(*s - '0');
                den *= 10;
            }
            s++;
        }
    }
    if (*s != '\0' || whole > 1)
        return 0;
    u32 v = whole * 65536u + num * 65536u / den; /* num < den <= 1e5: no overflow */
    *q16 = v > 65536u ? 65536u : v;
    return 1;
}

/* "5s:1000,500ms:50000" */
static int parse_phases(struct guest *g, const char *s)
{
    g->nphases = 0;
    while (*s) {
        if (g->nphases == MAX_PHASES)
            return 0;
        struct phase *ph = &g->phases[g->nphases];
        if (!parse_ms(&s, &ph->dur_ms) || *s != ':')
            return 0;
        s++;
        if (!parse_u32(&s, &ph->rate))
            return 0;
        g->nphases++;
        if (*s == ',')
            s++;
        else if (*s != '\0')
            return 0;
    }
    return g->nphases > 0;
}

/* Apply one key=value token. Returns 0 and a reason when it is bad. */
static int apply_kv(struct guest *g, const char *k, const char *v, const char **why)
{
    const char *p = v;
    *why = "bad value";
    if (streq(k, "rate"))
        return parse_u32(&p, &g->rate) && *p == '\0';
    if (streq(k, "pattern")) {
        if (streq(v, "uniform"))
            g->pattern = PAT_UNIFORM;
        else if (streq(v, "hotcold"))
            g->pattern = PAT_HOTCOLD;
        else if (streq(v, "seq"))
            g->pattern = PAT_SEQ;
        else {
            *why = "expected uniform, hotcold or seq";
            return 0;
        }
        return 1;
    }
    if (streq(k, "wss"))
        return parse_kib(v, &g->wss_kib);
    if (streq(k, "hot"))
        return parse_kib(v, &g->hot_kib);
    if (streq(k, "cold"))
        return parse_kib(v, &g->cold_kib);
    if (streq(k, "hotfrac"))
        return parse_frac(v, &g->hotfrac_q16);
    if (streq(k, "seed"))
        return parse_u32(&p, &g->seed) && *p == '\0';
    if (streq(k, "stats"))
        return parse_ms(&p, &g->stats_ms) && *p == '\0' && g->stats_ms > 0;
    if (streq(k, "phases"))
        return parse_phases(g, v);
    if (streq(k, "tlbflush"))
        return parse_ms(&p, &g->tlbflush_ms) && *p == '\0';
    if (streq(k, "idle")) {
        if (streq(v, "hlt") || streq(v, "spin")) {
            g->idle_hlt = streq(v, "hlt");
            return 1;
        }
        *why = "not hlt or spin";
        return 0;
    }
    *why = "unknown key";
    return 0;
}

/* Tokens are separated by spaces; tokens without '=' (QEMU puts the kernel
 * file name first) are skipped. Returns 0 after printing "BAD ..." for the
 * first bad token. */
static int parse_cmdline(struct guest *g, char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char *tok = s, *eq = 0;
        while (*s && *s != ' ') {
            if (*s == '=' && !eq)
                eq = s;
            s++;
        }
        char save = *s;
        *s = '\0';
        if (eq) {
            *eq = '\0';
            const char *why;
            if (!apply_kv(g, tok, eq + 1, &why)) {
                struct line l = {.len = 0};
                ln_str(&l, "BAD cmdline ");
                ln_str(&l, tok);
                ln_str(&l, "=");
                ln_str(&l, eq + 1);
                ln_str(&l, ": ");
                ln_str(&l, why);
                ln_send(g, &l);
                return 0;
            }
            *eq = '=';
        }
        *s = save;
    }
    return 1;
}

/* ---- multiboot info ---- */

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
};
struct mb_mmap {
    u32 size;
    u32 base_lo, base_hi, len_lo, len_hi;
    u32 type;
} __attribute__((packed));

/* End of the RAM block that starts at or below 1 MiB + kernel: the e820 map
 * when present (it excludes what the firmware reserved at the top of RAM),
 * else mem_upper. Capped below 4 GiB. */
static u32 ram_top(const struct mb_info *mb, u32 kernel_end)
{
    u32 top = 0;
    if (mb->flags & (1u << 6)) {
        u32 p = mb->mmap_addr, end = mb->mmap_addr + mb->mmap_length;
        while (p + sizeof(struct mb_mmap) <= end) {
            const struct mb_mmap *e = (const struct mb_mmap *)p;
            if (e->type == 1 && e->base_hi == 0 && e->base_lo <= kernel_end) {
                u64 e_end = (u64)e->base_lo + ((u64)e->len_hi << 32) + e->len_lo;
                u32 t = e_end > 0xFFFFF000ull ? 0xFFFFF000u : (u32)e_end;
                if (t > kernel_end && t > top)
                    top = t;
            }
            p += e->size + 4;
        }
    }
    if (top == 0 && (mb->flags & 1u)) {
        u32 kib = mb->mem_upper > 0x3FFBFC00u / 1024 ? 0x3FFBFC00u / 1024 : mb->mem_upper;
        top = 0x100000u + kib * 1024u;
    }
    return top & ~(PAGE_SIZE - 1);
}

/* ---- page content ---- */

static inline u32 mix32(u32 x)
{
    /* a 32-bit finaliser (murmur3 style): spreads pfn and gen over all bits */
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return x;
}

/* Word j of the page with frame number pfn at generation gen. Word 0 tags
 * the frame, word 1 the generation, the rest an arithmetic sequence whose
 * start and step depend on both, so no two (pfn, gen) pages are alike and no
 * page is all zero. */
static inline void page_seed(u32 pfn, u32 gen, u32 *start, u32 *step)
{
    *start = mix32(pfn * 0x9E3779B9u ^ gen);
    *step = mix32(gen * 0x7FEB352Du + pfn) | 1u;
}

static void page_write(u32 *w, u32 pfn, u32 gen)
{
    u32 x, step;
    page_seed(pfn, gen, &x, &step);
    w[0] = PAGE_TAG | pfn;
    w[1] = gen;
    for (u32 j = 2; j < PAGE_WORDS; j++) {
        w[j] = x;
        x += step;
    }
}

static inline u32 *page_ptr(struct guest *g, u32 i)
{
    return (u32 *)(g->base + i * PAGE_SIZE);
}

/* Check test page i against its expected generation; report and repair a
 * mismatch (so each corruption is reported once). Returns 1 if good. */
static int page_verify(struct guest *g, u32 i)
{
    u32 *w = page_ptr(g, i);
    u32 pfn = (u32)w >> 12, gen = g->gen[i];
    u32 x, step, bad = PAGE_WORDS, got = 0, want = 0;
    page_seed(pfn, gen, &x, &step);
    if (w[0] != (PAGE_TAG | pfn)) {
        bad = 0, got = w[0], want = PAGE_TAG | pfn;
    } else if (w[1] != gen) {
        bad = 1, got = w[1], want = gen;
    } else {
        u32 diff = 0;
        for (u32 j = 2; j < PAGE_WORDS; j++) {
            diff |= w[j] ^ x;
            x += step;
        }
        if (diff == 0)
            return 1;
        page_seed(pfn, gen, &x, &step); /* slow path: find the first bad word */
        for (u32 j = 2; j < PAGE_WORDS; j++, x += step)
            if (w[j] != x) {
                bad = j, got = w[j], want = x;
                break;
            }
    }
    g->errors++;
    if (g->err_lines_this_s < 20) { /* keep the serial line usable */
        g->err_lines_this_s++;
        struct line l = {.len = 0};
        ln_str(&l, "ERR page=");
        ln_u32(&l, i);
        ln_str(&l, " pfn=");
        ln_hex(&l, pfn);
        ln_kv(&l, "gen", gen);
        ln_kv(&l, "word", bad);
        ln_str(&l, " got=");
        ln_hex(&l, got);
        ln_str(&l, " want=");
        ln_hex(&l, want);
        ln_send(g, &l);
    }
    page_write(w, pfn, gen);
    return 0;
}

/* ---- workload ---- */

static inline u32 rng_next(struct guest *g)
{
    u32 x = g->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g->rng = x;
    return x;
}
static inline u32 below(u32 r, u32 n) /* r scaled to [0, n) without division */
{
    return (u32)(((u64)r * n) >> 32);
}

static u32 pick_page(struct guest *g)
{
    switch (g->pattern) {
    case PAT_HOTCOLD:
        if (g->cold_pages == 0 || (rng_next(g) >> 16) < g->hotfrac_q16)
            return below(rng_next(g), g->hot_pages);
        return g->hot_pages + below(rng_next(g), g->cold_pages);
    case PAT_SEQ: {
        u32 i = g->seq_next++;
        if (g->seq_next >= g->wss_pages)
            g->seq_next = 0;
        return i;
    }
    default:
        return below(rng_next(g), g->wss_pages);
    }
}

/* Dirty one page: check what is there, then write the next generation. */
static void dirty_one(struct guest *g)
{
    u32 i = pick_page(g);
    page_verify(g, i);
    u32 gen = g->gen[i] + 1;
    if (gen == 0)
        gen = 1;
    g->gen[i] = gen;
    page_write(page_ptr(g, i), (u32)page_ptr(g, i) >> 12, gen);
    g->dirtied++;
}

static void set_phase_rate(struct guest *g)
{
    g->cur_rate = g->nphases ? g->phases[g->phase].rate : g->rate;
}

/* Called once per guest millisecond after the fill: advance the phase and
 * add this millisecond's share of page writes (rate/1000, carried exactly). */
static void tick_workload(struct guest *g)
{
    if (g->nphases && g->phase + 1 < g->nphases &&
        ++g->phase_ms >= g->phases[g->phase].dur_ms) {
        g->phase++;
        g->phase_ms = 0;
        set_phase_rate(g);
        struct line l = {.len = 0};
        ln_str(&l, "PHASE");
        ln_kv(&l, "n", g->phase);
        ln_kv(&l, "rate", g->cur_rate);
        ln_send(g, &l);
    }
    g->acc += g->cur_rate;
    u32 due = g->acc / 1000;
    g->acc -= due * 1000;
    /* a guest that cannot keep up drops the backlog beyond one second */
    if (g->pending + due > g->cur_rate + 1000)
        g->pending = g->cur_rate + 1000;
    else
        g->pending += due;
}

static void layout(struct guest *g, u32 kernel_end)
{
    u32 start = (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    u32 avail = g->mem_top > start ? g->mem_top - start : 0;
    /* each test page costs 4 KiB plus 4 bytes of generation table */
    u32 n = avail / (PAGE_SIZE + 4);
    u32 table_bytes = (n * 4 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    while (n > 0 && table_bytes + n * PAGE_SIZE > avail)
        n--;
    g->gen = (u32 *)start;
    g->base = (u8 *)(start + table_bytes);
    g->npages = n;

    u32 kpp = PAGE_SIZE / 1024; /* KiB per page */
    u32 w = g->wss_kib ? g->wss_kib / kpp : n;
    g->wss_pages = w == 0 ? 1 : (w > n ? n : w);
    u32 h = g->hot_kib ? g->hot_kib / kpp : 4096; /* 16 MiB */
    g->hot_pages = h == 0 ? 1 : (h > n ? n : h);
    u32 c = g->cold_kib ? g->cold_kib / kpp : n - g->hot_pages;
    g->cold_pages = c > n - g->hot_pages ? n - g->hot_pages : c;
}

void guest_main(u32 magic, const struct mb_info *mb);
void guest_main(u32 magic, const struct mb_info *mb)
{
    extern char _end[];
    struct guest g;
    memset(&g, 0, sizeof g);
    g.pattern = PAT_UNIFORM;
    g.rate = 1000;
    g.hotfrac_q16 = 58982; /* 0.9 */
    g.seed = 1;
    g.idle_hlt = 1; /* idle=hlt unless the command line says spin */
    g.stats_ms = 1000;
    serial_init();

    if (magic != 0x2BADB002u) {
        struct line l = {.len = 0};
        ln_str(&l, "BAD not started by a multiboot loader");
        ln_send(&g, &l);
        for (;;)
            __asm__ volatile("hlt");
    }
    /* Copy the command line first: QEMU puts it right above the kernel, in
     * RAM we are about to fill. */
    char cmd[CMDLINE_MAX];
    cmd[0] = '\0';
    if (mb->flags & (1u << 2)) {
        const char *s = (const char *)mb->cmdline;
        u32 n = 0;
        while (s[n] && n < CMDLINE_MAX - 1) {
            cmd[n] = s[n];
            n++;
        }
        cmd[n] = '\0';
    }
    g.mem_top = ram_top(mb, (u32)_end);
    int ok = parse_cmdline(&g, cmd);

    u32 tpm = calibrate_tsc_per_ms();
    int guessed = 0;
    if (tpm == 0) {
        tpm = 1000000; /* assume 1 GHz rather than hang */
        guessed = 1;
    }
    g.tsc_per_ms = tpm;
    /* The buffer after the kernel held QEMU's multiboot data; only now, with
     * the command line copied, may the test pages cover it. */
    layout(&g, (u32)_end);
    g.rng = g.seed ? g.seed : 1;
    set_phase_rate(&g);
    g.next_stats_ms = g.stats_ms;

    struct line l = {.len = 0};
    ln_str(&l, "BOOT cutover-guest v1");
    ln_kv(&l, "mem_top_kib", g.mem_top / 1024);
    ln_kv(&l, "tsc_khz", tpm);
    ln_kv(&l, "pages", g.npages);
    ln_str(&l, " base=");
    ln_hex(&l, (u32)g.base);
    ln_str(&l, g.pattern == PAT_HOTCOLD ? " pattern=hotcold"
               : g.pattern == PAT_SEQ   ? " pattern=seq"
                                        : " pattern=uniform");
    ln_kv(&l, "rate", g.cur_rate);
    ln_kv(&l, "wss_pages", g.wss_pages);
    ln_kv(&l, "hot_pages", g.hot_pages);
    ln_kv(&l, "cold_pages", g.cold_pages);
    ln_kv(&l, "phases", g.nphases);
    ln_kv(&l, "tlbflush_ms", g.tlbflush_ms);
    if (guessed)
        ln_str(&l, " tsc=guessed");
    ln_send(&g, &l);
    if (!ok || g.npages == 0) {
        if (g.npages == 0) {
            ln_str(&l, "BAD no RAM above the kernel");
            ln_send(&g, &l);
        }
        for (;;)
            __asm__ volatile("hlt");
    }

    if (g.idle_hlt) {
        /* a whole sweep of RAM about every 2 s, as the spinning guest
         * does on this machine at low load */
        g.verify_per_tick = g.npages / 2000 + 1;
        g.verified_ms = 0xFFFFFFFFu;
        timer_init(2000); /* 0.5 ms: a heartbeat at most ~0.5 ms late */
    }
    u64 next = rdtsc() + tpm;
    for (;;) {
        u64 now = rdtsc();
        if (now >= next) {
            /* Late by several ms: the vCPU did not run (host contention;
             * a paused VM's TSC stops under QEMU, so pauses rarely show
             * here). Send one heartbeat, not a burst, but let the workload
             * catch up on up to 500 ms of page writes so the dirty rate
             * holds in host time. */
            u32 ticks = 1;
            if (now - next > 4ull * tpm) {
                u64 late = now - next;
                g.stalls++;
                ticks += late >= 500ull * tpm ? 500 : (u32)late / tpm;
                next = now + tpm;
            } else {
                next += tpm;
            }
            g.ms += ticks;
            l.len = 0;
            ln_str(&l, "HB ");
            ln_u32(&l, ++g.hb_seq);
            ln_send_hb(&g, &l);
            if (g.fill_next == g.npages)
                for (u32 k = 0; k < ticks; k++)
                    tick_workload(&g);
            if (g.tlbflush_ms && g.ms >= g.next_flush_ms) {
                tlb_flush_all();
                g.next_flush_ms = g.ms + g.tlbflush_ms;
            }
            if (g.ms >= g.next_stats_ms) {
                g.next_stats_ms = g.ms - g.ms % g.stats_ms + g.stats_ms;
                g.err_lines_this_s = 0;
                ln_str(&l, "ST");
                ln_kv(&l, "ms", g.ms);
                ln_kv(&l, "rate", g.cur_rate);
                ln_kv(&l, "dirtied", g.dirtied);
                ln_kv(&l, "pending", g.pending);
                ln_kv(&l, "sweeps", g.sweeps);
                ln_kv(&l, "err", g.errors);
                ln_kv(&l, "stalls", g.stalls);
                ln_kv(&l, "drops", g.tx_drops);
                ln_send(&g, &l);
            }
            continue;
        }
        if (g.fill_next < g.npages) {
            /* one page per clock check: a first touch can cost a nested
             * EPT fault (~100 us) */
            u32 i = g.fill_next++;
            g.gen[i] = 1;
            page_write(page_ptr(&g, i), (u32)page_ptr(&g, i) >> 12, 1);
            if (g.fill_next == g.npages) {
                g.fill_ms = g.ms;
                ln_str(&l, "READY");
                ln_kv(&l, "fill_ms", g.fill_ms);
                ln_kv(&l, "pages", g.npages);
                ln_send(&g, &l);
            }
            continue;
        }
        if (g.idle_hlt && !g.pending) {
            /* this tick's share of the sweep, then sleep to the next */
            if (g.verified_ms != g.ms) {
                g.verified_ms = g.ms;
                for (u32 k = 0; k < g.verify_per_tick; k++) {
                    page_verify(&g, g.sweep_next);
                    if (++g.sweep_next == g.npages) {
                        g.sweep_next = 0;
                        g.sweeps++;
                    }
                }
                continue;
            }
            idle_wait();
            continue;
        }
        /* Several pages per clock check: rdtsc itself may exit under nested
         * KVM (~1-5 us), a page costs ~1-2 us. */
        for (int k = 0; k < 8; k++) {
            if (g.pending) {
                g.pending--;
                dirty_one(&g);
            } else {
                page_verify(&g, g.sweep_next);
                if (++g.sweep_next == g.npages) {
                    g.sweep_next = 0;
                    g.sweeps++;
                }
            }
        }
    }
}
