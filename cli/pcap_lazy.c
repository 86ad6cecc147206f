/* cli/pcap_lazy.c: libpcap loaded on first use, for build/cutover only.
 *
 * Owns: a definition of every libpcap function cutover calls (meter/pcapio.c),
 * each of which loads libpcap.so.0.8 (dlopen, RTLD_LOCAL) the first time any
 * of them is called and forwards to the library's own function. Linked into
 * build/cutover and build/cutover-mpi in place of -lpcap (Makefile), never
 * into libcutover.a: tests and benchmarks link libpcap as before. The same
 * scheme as cli/virt_lazy.c (the loader: cli/lazy.h).
 *
 * Why: Debian's libpcap pulls in libdbus, libsystemd and their dependencies
 * (libgcrypt, liblzma, libzstd, liblz4, libcap, libgpg-error), mapped and
 * initialised before main(): about 1.6 ms of CPU and 1.4 MB of resident
 * memory for a program that only returns 0 (measured: 0.64 against 2.24 ms,
 * 1.0 against 2.5 MB). Only `cutover record` and `watch`/`linkstat` with a
 * capture need it; a 100-host `cutover simulate` takes about 10 ms.
 *
 * Contract: the same prototypes as <pcap/pcap.h> (the compiler checks them
 * against it). When the library cannot be loaded, the functions that take
 * an error buffer write the reason there (dlerror) and fail as libpcap
 * does (NULL or PCAP_ERROR); the others cannot be reached without a handle
 * those returned, and fail with NULL, -1 or PCAP_ERROR all the same.
 * Thread-safe (pthread_once, atomic pointers). */
#include <pcap/pcap.h>
#include <stdio.h>

#include "cli/lazy.h"

CO_LAZY_LIBRARY("libpcap.so.0.8", PCAP_ERRBUF_SIZE)

/* the functions with an error buffer: the reason goes there */
#define FWD_ERRBUF(ret, name, params, args)                                      \
    ret name params                                                              \
    {                                                                            \
        LAZY(name)                                                               \
        if (f == NULL) {                                                         \
            snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", lib_err);                   \
            return NULL;                                                         \
        }                                                                        \
        return f args;                                                           \
    }

FWD_ERRBUF(pcap_t *, pcap_create, (const char *source, char *errbuf), (source, errbuf))
FWD_ERRBUF(pcap_t *, pcap_fopen_offline_with_tstamp_precision,
           (FILE *fp, u_int precision, char *errbuf), (fp, precision, errbuf))
FWD(int, pcap_activate, PCAP_ERROR, (pcap_t *p), (p))
FWD_VOID(pcap_breakloop, (pcap_t *p), (p))
FWD_VOID(pcap_close, (pcap_t *p), (p))
FWD(int, pcap_compile, PCAP_ERROR,
    (pcap_t *p, struct bpf_program *fp, const char *str, int optimize, bpf_u_int32 netmask),
    (p, fp, str, optimize, netmask))
FWD(int, pcap_datalink, PCAP_ERROR, (pcap_t *p), (p))
FWD(const char *, pcap_datalink_val_to_name, NULL, (int dlt), (dlt))
FWD(int, pcap_dispatch, PCAP_ERROR, (pcap_t *p, int cnt, pcap_handler cb, u_char *user),
    (p, cnt, cb, user))
FWD_VOID(pcap_dump, (u_char *user, const struct pcap_pkthdr *h, const u_char *sp),
         (user, h, sp))
FWD_VOID(pcap_dump_close, (pcap_dumper_t *p), (p))
FWD(int, pcap_dump_flush, -1, (pcap_dumper_t *p), (p))
FWD(pcap_dumper_t *, pcap_dump_open, NULL, (pcap_t *p, const char *fname), (p, fname))
FWD_VOID(pcap_freecode, (struct bpf_program *fp), (fp))
FWD(int, pcap_get_selectable_fd, -1, (pcap_t *p), (p))
FWD(int, pcap_get_tstamp_precision, PCAP_ERROR, (pcap_t *p), (p))
FWD(char *, pcap_geterr, lib_err, (pcap_t *p), (p))
FWD(int, pcap_next_ex, PCAP_ERROR,
    (pcap_t *p, struct pcap_pkthdr **h, const u_char **data), (p, h, data))
FWD(int, pcap_offline_filter, 0,
    (const struct bpf_program *fp, const struct pcap_pkthdr *h, const u_char *pkt),
    (fp, h, pkt))
FWD(int, pcap_set_buffer_size, PCAP_ERROR, (pcap_t *p, int size), (p, size))
FWD(int, pcap_set_datalink, PCAP_ERROR, (pcap_t *p, int dlt), (p, dlt))
FWD(int, pcap_set_immediate_mode, PCAP_ERROR, (pcap_t *p, int on), (p, on))
FWD(int, pcap_set_promisc, PCAP_ERROR, (pcap_t *p, int on), (p, on))
FWD(int, pcap_set_snaplen, PCAP_ERROR, (pcap_t *p, int snaplen), (p, snaplen))
FWD(int, pcap_set_timeout, PCAP_ERROR, (pcap_t *p, int ms), (p, ms))
FWD(int, pcap_set_tstamp_precision, PCAP_ERROR, (pcap_t *p, int precision), (p, precision))
FWD(int, pcap_setfilter, PCAP_ERROR, (pcap_t *p, struct bpf_program *fp), (p, fp))
FWD(int, pcap_setnonblock, PCAP_ERROR, (pcap_t *p, int nonblock, char *errbuf),
    (p, nonblock, errbuf))
FWD(int, pcap_stats, PCAP_ERROR, (pcap_t *p, struct pcap_stat *ps), (p, ps))
