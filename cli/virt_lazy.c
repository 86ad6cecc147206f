/* cli/virt_lazy.c: libvirt loaded on first use, for build/cutover only.
 *
 * Owns: a definition of every libvirt function cutover calls, each of which
 * loads libvirt.so.0 (dlopen, RTLD_LOCAL) the first time any of them is
 * called and forwards to the library's own function. Linked into
 * build/cutover and build/cutover-mpi in place of -lvirt (Makefile), never
 * into libcutover.a: tests and benchmarks link libvirt as before.
 *
 * Why: linking libvirt maps it and its 60-odd dependencies (glib, gnutls,
 * libxml2, ...) and runs their constructors at start-up, 12.5 MB of
 * resident memory before main() on Debian 12 (a program that only returns
 * 0: 0.9 MB, with -lvirt: 13.6 MB). Commands that never talk to libvirt
 * (simulate, model, tune) should not pay it; issue 15 asks for a tenth of
 * SimGrid's memory on a 100-host simulation (SimGrid: 69 MB).
 *
 * Contract: the same prototypes as <libvirt/libvirt.h> (the compiler checks
 * them against it). When libvirt.so.0 cannot be loaded every function fails
 * the way libvirt reports a failure (NULL, -1, 0 for virNodeGetFreeMemory),
 * and virGetLastError / virGetLastErrorMessage say that the library could
 * not be loaded and why (dlerror). Thread-safe (pthread_once, atomic
 * pointers). */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>

#include "cli/lazy.h"

CO_LAZY_LIBRARY("libvirt.so.0", 512)
static virError lib_error = {.code = VIR_ERR_INTERNAL_ERROR, .domain = VIR_FROM_NONE,
                             .message = lib_err, .level = VIR_ERR_ERROR};

FWD(int, virInitialize, -1, (void), ())
FWD(virConnectPtr, virConnectOpen, NULL, (const char *name), (name))
FWD(int, virConnectClose, -1, (virConnectPtr c), (c))
FWD(int, virConnectGetVersion, -1, (virConnectPtr c, unsigned long *v), (c, v))
FWD(int, virConnectGetLibVersion, -1, (virConnectPtr c, unsigned long *v), (c, v))
FWD(const char *, virConnectGetType, NULL, (virConnectPtr c), (c))
FWD(int, virConnectGetAllDomainStats, -1,
    (virConnectPtr c, unsigned int st, virDomainStatsRecordPtr **ret, unsigned int fl),
    (c, st, ret, fl))
FWD(int, virConnectListAllInterfaces, -1,
    (virConnectPtr c, virInterfacePtr **ifaces, unsigned int fl), (c, ifaces, fl))
FWD(int, virInterfaceFree, -1, (virInterfacePtr i), (i))
FWD(const char *, virInterfaceGetName, NULL, (virInterfacePtr i), (i))
FWD(char *, virInterfaceGetXMLDesc, NULL, (virInterfacePtr i, unsigned int fl), (i, fl))
FWD(int, virConnectSetKeepAlive, -1, (virConnectPtr c, int i, unsigned int n), (c, i, n))
FWD(int, virConnectListAllDomains, -1, (virConnectPtr c, virDomainPtr **d, unsigned int fl),
    (c, d, fl))
FWD(int, virConnectCompareHypervisorCPU, -1,
    (virConnectPtr c, const char *emu, const char *arch, const char *machine,
     const char *virttype, const char *xml, unsigned int fl),
    (c, emu, arch, machine, virttype, xml, fl))
FWD(int, virConnectDomainEventRegisterAny, -1,
    (virConnectPtr c, virDomainPtr d, int id, virConnectDomainEventGenericCallback cb,
     void *opaque, virFreeCallback freecb),
    (c, d, id, cb, opaque, freecb))
FWD(int, virConnectDomainEventDeregisterAny, -1, (virConnectPtr c, int id), (c, id))
FWD(int, virNodeGetInfo, -1, (virConnectPtr c, virNodeInfoPtr i), (c, i))
FWD(unsigned long long, virNodeGetFreeMemory, 0, (virConnectPtr c), (c))
FWD(virDomainPtr, virDomainLookupByName, NULL, (virConnectPtr c, const char *n), (c, n))
FWD(virDomainPtr, virDomainLookupByID, NULL, (virConnectPtr c, int id), (c, id))
FWD(virDomainPtr, virDomainLookupByUUIDString, NULL, (virConnectPtr c, const char *u), (c, u))
FWD(virDomainPtr, virDomainDefineXML, NULL, (virConnectPtr c, const char *x), (c, x))
FWD(int, virDomainCreate, -1, (virDomainPtr d), (d))
FWD(int, virDomainShutdown, -1, (virDomainPtr d), (d))
FWD(int, virDomainDestroy, -1, (virDomainPtr d), (d))
FWD(int, virDomainFree, -1, (virDomainPtr d), (d))
FWD(int, virDomainSuspend, -1, (virDomainPtr d), (d))
FWD(int, virDomainResume, -1, (virDomainPtr d), (d))
FWD(int, virDomainIsActive, -1, (virDomainPtr d), (d))
FWD(int, virDomainAbortJob, -1, (virDomainPtr d), (d))
FWD(int, virDomainGetInfo, -1, (virDomainPtr d, virDomainInfoPtr i), (d, i))
FWD(int, virDomainGetState, -1, (virDomainPtr d, int *s, int *r, unsigned int fl), (d, s, r, fl))
FWD(const char *, virDomainGetName, NULL, (virDomainPtr d), (d))
FWD(int, virDomainGetUUIDString, -1, (virDomainPtr d, char *b), (d, b))
FWD(char *, virDomainGetXMLDesc, NULL, (virDomainPtr d, unsigned int fl), (d, fl))
FWD(int, virDomainUpdateDeviceFlags, -1, (virDomainPtr d, const char *x, unsigned int fl),
    (d, x, fl))
FWD(int, virDomainListGetStats, -1,
    (virDomainPtr *d, unsigned int st, virDomainStatsRecordPtr **ret, unsigned int fl),
    (d, st, ret, fl))
FWD_VOID(virDomainStatsRecordListFree, (virDomainStatsRecordPtr *s), (s))
FWD(int, virDomainGetJobInfo, -1, (virDomainPtr d, virDomainJobInfoPtr i), (d, i))
FWD(int, virDomainGetControlInfo, -1, (virDomainPtr d, virDomainControlInfoPtr i,
    unsigned int fl), (d, i, fl))
FWD(int, virDomainGetJobStats, -1,
    (virDomainPtr d, int *type, virTypedParameterPtr *p, int *np, unsigned int fl),
    (d, type, p, np, fl))
FWD(int, virDomainMigrateToURI3, -1,
    (virDomainPtr d, const char *uri, virTypedParameterPtr p, unsigned int np, unsigned int fl),
    (d, uri, p, np, fl))
FWD(int, virDomainMigrateGetMaxDowntime, -1,
    (virDomainPtr d, unsigned long long *t, unsigned int fl), (d, t, fl))
FWD(int, virDomainMigrateSetMaxDowntime, -1,
    (virDomainPtr d, unsigned long long t, unsigned int fl), (d, t, fl))
FWD(int, virDomainMigrateGetMaxSpeed, -1, (virDomainPtr d, unsigned long *b, unsigned int fl),
    (d, b, fl))
FWD(int, virDomainMigrateSetMaxSpeed, -1, (virDomainPtr d, unsigned long b, unsigned int fl),
    (d, b, fl))
FWD(int, virDomainMigrateStartPostCopy, -1, (virDomainPtr d, unsigned int fl), (d, fl))
FWD(int, virDomainStartDirtyRateCalc, -1, (virDomainPtr d, int s, unsigned int fl), (d, s, fl))
FWD(int, virEventRegisterDefaultImpl, -1, (void), ())
FWD(int, virEventRunDefaultImpl, -1, (void), ())
FWD(int, virTypedParamsGetInt, -1,
    (virTypedParameterPtr p, int np, const char *n, int *v), (p, np, n, v))
FWD(int, virTypedParamsGetLLong, -1,
    (virTypedParameterPtr p, int np, const char *n, long long *v), (p, np, n, v))
FWD(int, virTypedParamsGetULLong, -1,
    (virTypedParameterPtr p, int np, const char *n, unsigned long long *v), (p, np, n, v))
FWD(int, virTypedParamsGetString, -1,
    (virTypedParameterPtr p, int np, const char *n, const char **v), (p, np, n, v))
FWD(int, virTypedParamsAddInt, -1,
    (virTypedParameterPtr *p, int *np, int *mp, const char *n, int v), (p, np, mp, n, v))
FWD(int, virTypedParamsAddULLong, -1,
    (virTypedParameterPtr *p, int *np, int *mp, const char *n, unsigned long long v),
    (p, np, mp, n, v))
FWD(int, virTypedParamsAddString, -1,
    (virTypedParameterPtr *p, int *np, int *mp, const char *n, const char *v), (p, np, mp, n, v))
FWD_VOID(virTypedParamsFree, (virTypedParameterPtr p, int np), (p, np))
FWD_VOID(virResetLastError, (void), ())
FWD_VOID(virSetErrorFunc, (void *ud, virErrorFunc h), (ud, h))

virErrorPtr virGetLastError(void)
{
    LAZY(virGetLastError)
    return f != NULL ? f() : &lib_error;
}

const char *virGetLastErrorMessage(void)
{
    LAZY(virGetLastErrorMessage)
    return f != NULL ? f() : lib_err;
}
