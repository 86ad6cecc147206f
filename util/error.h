/* util/error.h: cutover's error codes, shared by every module.
 *
 * Owns: the negative error-code space (libuv style: 0 is success, a negative
 * CO_E* value is a failure) and its mapping to sysexits(3) exit codes.
 * Header-only constants plus two lookup functions in util/diag.c; model/
 * uses only the constants, so it still calls nothing of ours. */
#ifndef CUTOVER_UTIL_ERROR_H
#define CUTOVER_UTIL_ERROR_H

enum co_err {
    CO_OK = 0,
    CO_EUSAGE = -1,     /* bad flag or flag value          -> EX_USAGE 64 */
    CO_EDATA = -2,      /* malformed input data            -> EX_DATAERR 65 */
    CO_ENOINPUT = -3,   /* input file missing/unreadable   -> EX_NOINPUT 66 */
    CO_EUNAVAIL = -4,   /* peer (QEMU, libvirtd) not there -> EX_UNAVAILABLE 69 */
    CO_ESOFTWARE = -5,  /* internal error                  -> EX_SOFTWARE 70 */
    CO_EOS = -6,        /* system call failed              -> EX_OSERR 71 */
    CO_ECANTCREAT = -7, /* cannot create output file       -> EX_CANTCREAT 73 */
    CO_EIO = -8,        /* read/write error                -> EX_IOERR 74 */
    CO_ETIMEDOUT = -9,  /* peer did not answer in time     -> EX_TEMPFAIL 75 */
    CO_EPROTO = -10,    /* peer broke its protocol         -> EX_PROTOCOL 76 */
    CO_ENOPERM = -11,   /* permission denied               -> EX_NOPERM 77 */
    CO_ECONFIG = -12,   /* environment misconfigured       -> EX_CONFIG 78 */
    CO_ENOMEM = -13,    /* out of memory                   -> EX_OSERR 71 */
    CO_EBUSY = -14,     /* resource held by another user   -> EX_TEMPFAIL 75 */
    CO_ECANCELED = -15, /* cancelled by signal or operator -> EX_TEMPFAIL 75 */
    CO_EFAILED = -16,   /* operation ran and failed (e.g. migration aborted) -> 1 */
    CO_ERANGE = -17,    /* value out of the accepted range -> EX_DATAERR 65 */
};

/* Short stable name ("EUSAGE") and one-line description of a code. */
const char *co_err_name(int err);
const char *co_strerror(int err);
/* The sysexits-style process exit code for err (0 for CO_OK). */
int co_exit_code(int err);

#endif
