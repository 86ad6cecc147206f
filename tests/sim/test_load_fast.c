/* tests/sim/test_load_fast.c: the loader's fast path for VM objects
 * (fast_vm in sim/load.c) gives what jansson's path gives: the same VMs and
 * profiles, and the same first error with the same message. A VM is sent
 * through jansson's path by adding "comment": "\u0041" (an escape, which the
 * fast path leaves to jansson; the comment is ignored; or an escape at the
 * start of the comment it has), so each case is
 * loaded both ways and compared. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"
#include "util/jsonpos.h"

#define HOSTS                                                                           \
    "{\"hosts\": [\n"                                                                   \
    "  {\"name\": \"a\", \"cores\": 30000, \"mem\": \"512GiB\", \"nic_rate\": \"10Gbit\"},\n" \
    "  {\"name\": \"b\", \"cores\": 64, \"mem\": \"512GiB\", \"nic_rate\": \"10Gbit\",\n"  \
    "   \"comment\": \"a \\\"quoted\\\" [brace {\"}\n"                                    \
    "],\n"

/* VM objects the fast path reads (slow = 0) or jansson's path (slow = 1). */
static const char *const good_vms[] = {
    "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 2, \"mem\": \"4GiB\"}",
    "{\"name\":\"v1\",\"host\":\"b\",\"vcpus\":1,\"mem\":4294967296,\"dirty\":{\"kind\":\"none\"}}",
    "{\n  \"mem\": 4.5e9,\n  \"vcpus\": 3, \"host\": \"a\", \"name\": \"v2\",\n"
    "  \"dirty\": { \"kind\" : \"none\" } }",
    "{\"name\": \"v3\", \"host\": \"b\", \"vcpus\": 4, \"mem\": \"1.5GiB\", "
    "\"mem_used\": \"1GiB\", \"passthrough\": true, \"pinned\": false}",
    "{\"name\": \"v4\", \"host\": \"a\", \"vcpus\": 1, \"mem\": 1073741824.0, "
    "\"mem_used\": 0, \"pinned\": true, \"anti_affinity\": \"g1\", \"comment\": \"x\"}",
    "{\"name\": \"v5\", \"host\": \"b\", \"vcpus\": 1, \"mem\": \"2GiB\", "
    "\"anti_affinity\": \"g1\", \"dirty\": \"uniform:wss=1GiB,rate=5000\"}",
    "{\"name\": \"v6\", \"host\": \"a\", \"vcpus\": 100000, \"mem\": 1e11, "
    "\"mem_used\": 0.3e11, \"dirty\": \"hotcold:hot=64MiB,cold=1GiB,hotfrac=0.9,rate=20000\"}",
    "{\"name\": \"v7\", \"host\": \"a\", \"vcpus\": 2, \"mem\": 1048576, \"mem_used\": 1E6}",
    "{\"name\": \"v8\", \"host\": \"b\", \"vcpus\": 2, \"mem\": \"4GiB\", \"dirty\": "
    "{\"kind\": \"uniform\", \"wss\": \"1GiB\", \"rate_pages_per_s\": 100}}",
    "{\"name\": \"v9\", \"host\": \"b\", \"vcpus\": 2, \"mem\": \"4GiB\", "
    "\"dirty\": {\"kind\": \"none\"}}",
};

/* The cluster text of the VMs vms[0..n), each slowed (see above) or not. */
static char *cluster(const char *const *vms, int n, int slow)
{
    size_t cap = 4096;
    for (int i = 0; i < n; i++)
        cap += strlen(vms[i]) + 64;
    char *t = malloc(cap);
    size_t k = (size_t)snprintf(t, cap, "%s\"vms\": [\n", HOSTS);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(vms[i]);
        const char *close = strrchr(vms[i], '}');
        const char *cm = strstr(vms[i], "\"comment\": \"");
        if (slow && cm) { /* escape the comment it has */
            size_t head = (size_t)(cm - vms[i]) + 12;
            k += (size_t)snprintf(t + k, cap - k, "%.*s\\u0041%s", (int)head, vms[i],
                                  vms[i] + head);
        } else if (slow && vms[i][0] == '{' && close) {
            size_t head = (size_t)(close - vms[i]);
            k += (size_t)snprintf(t + k, cap - k, "%.*s, \"comment\": \"\\u0041\"%s", (int)head,
                                  vms[i], close);
        } else {
            memcpy(t + k, vms[i], l);
            k += l;
        }
        k += (size_t)snprintf(t + k, cap - k, "%s\n", i + 1 < n ? "," : "");
    }
    snprintf(t + k, cap - k, "],\n\"plan\": {\"hosts\": [\"a\"]}}\n");
    return t;
}

static int load(const char *text, co_diag *d, co_sim_cluster **c)
{
    co_diag_init(d);
    return co_sim_load_buffer(text, strlen(text), "t.json", c, d);
}

static void same_cluster(const co_sim_cluster *x, const co_sim_cluster *y)
{
    cr_assert_eq(x->nvms, y->nvms);
    cr_assert_eq(x->nprofiles, y->nprofiles);
    cr_assert_eq(x->ngroups, y->ngroups);
    for (int i = 0; i < x->nvms; i++) {
        const co_sim_vm *a = &x->vms[i], *b = &y->vms[i];
        cr_assert_str_eq(a->name, b->name);
        cr_assert(a->host == b->host && a->vcpus == b->vcpus && a->profile == b->profile &&
                      a->passthrough == b->passthrough && a->pinned == b->pinned &&
                      a->group == b->group,
                  "vm %d", i);
        cr_assert(memcmp(&a->mem_bytes, &b->mem_bytes, sizeof(double)) == 0, "vm %d mem", i);
    }
    for (int i = 0; i < x->nprofiles; i++)
        cr_assert(memcmp(&x->profiles[i], &y->profiles[i], sizeof x->profiles[i]) == 0,
                  "profile %d", i);
    for (int i = 0; i < x->ngroups; i++)
        cr_assert_str_eq(x->groups[i], y->groups[i]);
}

Test(load_fast, same_vms_both_ways)
{
    int n = (int)(sizeof good_vms / sizeof *good_vms);
    char *fast = cluster(good_vms, n, 0), *slow = cluster(good_vms, n, 1);
    co_diag d1, d2;
    co_sim_cluster *c1, *c2;
    cr_assert_eq(load(fast, &d1, &c1), CO_OK, "%s", d1.msg);
    cr_assert_eq(load(slow, &d2, &c2), CO_OK, "%s", d2.msg);
    same_cluster(c1, c2);
    cr_assert_eq(c1->nvms, n);
    cr_assert_eq(c1->vms[2].mem_bytes, 4.5e9);
    cr_assert_eq(c1->vms[3].passthrough, 1);
    cr_assert_eq(c1->vms[4].pinned, 1);
    cr_assert_eq(c1->vms[1].profile, c1->vms[0].profile); /* 4 GiB, none: shared */
    co_sim_cluster_free(c1);
    co_sim_cluster_free(c2);
    free(fast);
    free(slow);
}

/* Each bad VM (after a good one) fails with the same code and message both ways. */
Test(load_fast, same_errors_both_ways)
{
    static const char *const bad[] = {
        "{\"name\": \"v0\", \"host\": \"zz\", \"vcpus\": 1, \"mem\": \"1GiB\"}",
        "{\"name\": \"ok\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"mem_used\": \"2GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 0, \"mem\": \"1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 2.0, \"mem\": \"1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1KiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": -5}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"lots\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": 1e999}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": 012}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 99999999999999999999, \"mem\": 1}",
        "{\"name\": \"\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"mem\": \"1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"vcpu\": 1}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"pinned\": null}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"dirty\": \"bogus:x\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", "
        "\"dirty\": \"uniform:wss=1GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", "
        "\"dirty\": {\"kind\": \"nothing\"}}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", "
        "\"dirty\": \"trace:missing.json\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"dirty\": 3}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"anti_affinity\": \"g\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"600GiB\"}",
        "{\"name\": \"v0\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\", \"host\": \"b\"}",
        "[1]",
        "{\"name\": \"v0\", \"host\": \"a\" \"vcpus\": 1}",
    };
    const char *first = "{\"name\": \"v0\", \"host\": \"b\", \"vcpus\": 1, \"mem\": \"1GiB\", "
                        "\"anti_affinity\": \"g\"}";
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *vms[2] = {first, bad[k]};
        char *fast = cluster(vms, 2, 0), *slow = cluster(vms, 2, 1);
        co_diag d1, d2;
        co_sim_cluster *c1 = NULL, *c2 = NULL;
        int r1 = load(fast, &d1, &c1), r2 = load(slow, &d2, &c2);
        if (k == 1) { /* "ok" is a good VM: both load */
            cr_assert(r1 == CO_OK && r2 == CO_OK, "%s / %s", d1.msg, d2.msg);
            same_cluster(c1, c2);
        } else {
            cr_assert_neq(r1, CO_OK, "case %zu loaded", k);
            cr_assert_eq(r1, r2, "case %zu: rc %d vs %d", k, r1, r2);
            cr_assert_str_eq(d1.msg, d2.msg, "case %zu", k);
        }
        co_sim_cluster_free(c1);
        co_sim_cluster_free(c2);
        free(fast);
        free(slow);
    }
}

/* Messages the fast path's VMs give, with their lines, exactly. */
Test(load_fast, messages_name_file_line_field)
{
    static const struct {
        const char *vm, *msg;
    } cases[] = {
        {"{\"name\": \"v\", \"host\": \"zz\", \"vcpus\": 1, \"mem\": \"1GiB\"}",
         "t.json:7: vms[0].host: no host named 'zz'"},
        {"{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, \"mem\": 1048576, \"mem_used\": 2e6}",
         "t.json:7: vms[0].mem_used: is larger than mem"},
        {"{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 7, \"mem\": \"1GiB\", \"dirty\": \"nope\"}",
         "t.json:7: vms[0].dirty: "},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *t = cluster(&cases[k].vm, 1, 0);
        co_diag d;
        co_sim_cluster *c = NULL;
        cr_assert_eq(load(t, &d, &c), CO_EDATA);
        cr_assert(strncmp(d.msg, cases[k].msg, strlen(cases[k].msg)) == 0, "'%s' vs '%s'", d.msg,
                  cases[k].msg);
        free(t);
    }
    const char *two[2] = {"{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\"}",
                          "{\"name\": \"v\", \"host\": \"b\", \"vcpus\": 1, \"mem\": \"1GiB\"}"};
    char *t = cluster(two, 2, 0);
    co_diag d;
    co_sim_cluster *c = NULL;
    cr_assert_eq(load(t, &d, &c), CO_EDATA);
    cr_assert_str_eq(d.msg, "t.json:8: vms[1].name: duplicate VM name 'v'");
    free(t);
}

/* Each host's line (one scan of the text) is co_json_line_of's. */
Test(load_fast, host_lines_as_jsonpos)
{
    const char *vm = good_vms[0];
    char *t = cluster(&vm, 1, 0);
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(t, &d, &c), CO_OK, "%s", d.msg);
    for (int i = 0; i < c->nhosts; i++) {
        char p[32];
        snprintf(p, sizeof p, "hosts[%d]", i);
        cr_assert_eq(c->hosts[i].line, co_json_line_of(t, strlen(t), p), "host %d", i);
    }
    cr_assert_eq(c->hosts[1].line, 3);
    co_sim_cluster_free(c);
    free(t);
    FILE *f = fopen("traces/example-cluster.json", "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_assert_eq(co_sim_load_buffer(buf, n, "ex.json", &c, &d), CO_OK, "%s", d.msg);
    for (int i = 0; i < c->nhosts; i++) {
        char p[32];
        snprintf(p, sizeof p, "hosts[%d]", i);
        cr_assert_eq(c->hosts[i].line, co_json_line_of(buf, n, p), "host %d", i);
    }
    co_sim_cluster_free(c);
}
