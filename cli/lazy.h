/* cli/lazy.h: a shared library loaded on first use (cli/virt_lazy.c,
 * cli/pcap_lazy.c).
 *
 * Owns the loader both use: CO_LAZY_LIBRARY(SONAME, ERRLEN) defines, in the
 * including file, `lib` (the dlopen handle, RTLD_LOCAL, opened once under
 * pthread_once), `lib_err` (ERRLEN bytes: why it could not be loaded, or
 * which function it lacks) and `lib_sym(name)` (the library's own function,
 * or NULL with lib_err set). LAZY(name) resolves `f`, the forwarded
 * function, once (a racing second resolve stores the same pointer);
 * FWD/FWD_VOID define a forwarding function that fails with `bad` (or does
 * nothing) when the library is missing. */
#ifndef CUTOVER_CLI_LAZY_H
#define CUTOVER_CLI_LAZY_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define CO_LAZY_LIBRARY(SONAME, ERRLEN)                                          \
    static void *lib;                                                            \
    static pthread_once_t lib_once = PTHREAD_ONCE_INIT;                          \
    static char lib_err[ERRLEN];                                                 \
    static void lib_open(void)                                                   \
    {                                                                            \
        lib = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);                             \
        if (lib == NULL) {                                                       \
            const char *e = dlerror();                                           \
            snprintf(lib_err, sizeof lib_err, SONAME " could not be loaded: %s", \
                     e ? e : "unknown dlopen error");                            \
        }                                                                        \
    }                                                                            \
    static void *lib_sym(const char *name)                                       \
    {                                                                            \
        pthread_once(&lib_once, lib_open);                                       \
        if (lib == NULL)                                                         \
            return NULL;                                                         \
        void *f = dlsym(lib, name);                                              \
        if (f == NULL)                                                           \
            snprintf(lib_err, sizeof lib_err, SONAME " has no %s", name);        \
        return f;                                                                \
    }

#define LAZY(name)                                                               \
    static __typeof__(&name) f_;                                                 \
    __typeof__(&name) f = __atomic_load_n(&f_, __ATOMIC_ACQUIRE);                \
    if (f == NULL) {                                                             \
        f = (__typeof__(&name))lib_sym(#name);                                   \
        __atomic_store_n(&f_, f, __ATOMIC_RELEASE);                              \
    }

/* int or pointer result: fail with `bad` when the library is missing */
#define FWD(ret, name, bad, params, args)                                        \
    ret name params                                                              \
    {                                                                            \
        LAZY(name)                                                               \
        if (f == NULL)                                                           \
            return bad;                                                          \
        return f args;                                                           \
    }
#define FWD_VOID(name, params, args)                                             \
    void name params                                                             \
    {                                                                            \
        LAZY(name)                                                               \
        if (f != NULL)                                                           \
            f args;                                                              \
    }

#endif
