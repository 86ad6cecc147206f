/* tests/lab/test_cluster.c: `cutover lab cluster` on real daemons.
 *
 * Every test that brings a cluster up runs `cutover lab cluster down` in its
 * .fini (Criterion runs the fini after a failed assertion too), and ties the
 * cluster to its process through CUTOVER_LAB_WATCH_FD: if the test process
 * dies, lab/cluster.sh's watchdog sees EOF on the pipe and tears it down.
 *   smoke_up_status_down     2 hosts x 1 VM: up, status, cluster.json that
 *                            simulate reads, down leaves nothing (default suite)
 *   three_hosts_shaped       3 hosts x 4 VMs, 400 Mbit/s, MTU 9000: every
 *                            domain runs, each URI answers from here, MTU 9000
 *                            passes, a live migration h1 -> h2 through
 *                            `cutover migrate` runs at most at the link rate
 *                            and leaves the VM running once, reboot kills the
 *                            host's QEMUs and its daemon answers again, down
 *                            leaves nothing (CUTOVER_SLOW=1: ~1.5 min)
 *   down_during_reboot       down while a reboot of h1 is under way (a reboot
 *                            hook orphaned by a killed cycle): down waits for
 *                            it and leaves nothing; a reboot after down says
 *                            "no cluster" (exit 66) and starts nothing
 *                            (default suite, ~20 s)
 *   bad_input                flags and workloads files (no root needed)
 *   sim_keeps_uris           sim/load.c keeps each host's uri and migration_uri */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"

#include "cluster_fx.h"

/* Processes whose command line contains needle. */
static int procs_with(const char *needle)
{
    DIR *dp = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        char path[300], buf[8192];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
            continue;
        for (ssize_t i = 0; i < k; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[k] = '\0';
        if (strstr(buf, needle))
            n++;
    }
    if (dp)
        closedir(dp);
    return n;
}

static int netns_exists(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/run/netns/%s", name);
    return access(p, F_OK) == 0;
}

/* After down: no namespace, root veth, process or file of the cluster. */
static void assert_gone(json_t *j, const char *dir)
{
    char dir_copy[256], sw[64], root_addr[64];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    snprintf(sw, sizeof sw, "%s", jstr(j, "switch_netns"));
    snprintf(root_addr, sizeof root_addr, "host=%s,", jstr(j, "root_addr"));
    const char *argv[] = {bin(), "lab", "cluster", "down", dir_copy, NULL};
    static char err[MAX_OUT];
    cr_assert_eq(run(argv, NULL, err, -1), 0, "down: %s", err);
    cr_assert_eq(run(argv, NULL, err, -1), 0, "second down: %s", err); /* idempotent */
    cr_assert(!netns_exists(sw), "%s left behind", sw);
    json_t *hs = json_object_get(j, "hosts");
    for (size_t i = 0; i < json_array_size(hs); i++)
        cr_assert(!netns_exists(jstr(json_array_get(hs, i), "netns")));
    char dev[32];
    snprintf(dev, sizeof dev, "%.*s", (int)(strlen(sw) - 3), sw); /* coclS-sw -> coclS */
    cr_assert_eq(if_nametoindex(dev), 0u, "veth %s left behind", dev);
    cr_assert_eq(procs_with(root_addr), 0, "QEMU of the cluster left behind");
    cr_assert_eq(procs_with(dir_copy), 0, "a process of the cluster left behind");
    cr_assert_neq(access(dir_copy, F_OK), 0, "%s left behind", dir_copy);
    fx_dir[0] = '\0';
}

Test(cluster, bad_input)
{
    static char out[MAX_OUT], err[MAX_OUT];
    const char *a1[] = {bin(), "lab", "cluster", "up", "/tmp/x", "--hosts", "7", NULL};
    cr_assert_eq(run(a1, out, err, -1), 64);
    cr_assert(strstr(err, "--hosts") && out[0] == '\0', "%s", err);
    const char *a2[] = {bin(), "lab", "cluster", "up", "/tmp/x", "--hosts", "2", "--nic", "fast",
                        NULL};
    cr_assert_eq(run(a2, out, err, -1), 64);
    const char *a3[] = {bin(), "lab", "cluster", "bogus", NULL};
    cr_assert_eq(run(a3, out, err, -1), 64);
    const char *a4[] = {bin(), "lab", "cluster", "up", "/tmp/x", "--hosts", "2", "--mtu", "576",
                        NULL};
    cr_assert_eq(run(a4, out, err, -1), 64);
    /* a bad workloads file is named with file:line (before root is needed) */
    char wf[] = "/tmp/co-cl-wl-XXXXXX";
    int fd = mkstemp(wf);
    cr_assert(fd >= 0);
    const char *text = "# two classes\npattern=uniform rate=2000 wss=16M\n\nrate=1000 wss=9G\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    const char *a5[] = {bin(), "lab", "cluster", "up", "/tmp/x", "--hosts", "2",
                        "--workloads", wf, NULL};
    cr_assert_eq(run(a5, out, err, -1), 65, "%s", err);
    char want[64];
    snprintf(want, sizeof want, "%s:4:", wf);
    cr_assert(strstr(err, want), "error should name %s: %s", want, err);
    cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    fd = open(wf, O_WRONLY | O_TRUNC);
    const char *t2 = "host=h3 rate=10\n";
    cr_assert_eq(write(fd, t2, strlen(t2)), (ssize_t)strlen(t2));
    close(fd);
    cr_assert_eq(run(a5, out, err, -1), 65, "%s", err);
    cr_assert(strstr(err, "h3"), "%s", err);
    unlink(wf);
    /* down of a directory that holds no cluster: nothing to do */
    const char *a6[] = {bin(), "lab", "cluster", "down", "/tmp/co-cl-none-here", NULL};
    if (geteuid() == 0)
        cr_assert_eq(run(a6, out, err, -1), 0, "%s", err);
}

Test(cluster, smoke_up_status_down, .fini = fx_fini, .timeout = 240)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    const char *flags[] = {"--hosts", "2", "--vms", "1", "--mem", "32MiB", NULL};
    json_t *j = up(flags);
    json_t *hs = json_object_get(j, "hosts");
    cr_assert_eq(json_array_size(hs), 2);
    cr_assert_eq(json_array_size(json_object_get(j, "vms")), 1);
    const char *uri1 = jstr(json_array_get(hs, 0), "uri");
    cr_assert_eq(dom_state(uri1, "vm1"), VIR_DOMAIN_RUNNING);
    cr_assert_eq(dom_state(jstr(json_array_get(hs, 1), "uri"), "vm1"), -1);
    /* status sees the same; simulate reads cluster.json */
    static char out[MAX_OUT], err[MAX_OUT];
    const char *st[] = {bin(), "lab", "cluster", "status", fx_dir, "--json", NULL};
    cr_assert_eq(run(st, out, err, -1), 0, "%s", err);
    json_t *s = json_loads(out, 0, NULL);
    cr_assert_not_null(s);
    json_t *h1 = json_array_get(json_object_get(s, "hosts"), 0);
    cr_assert(json_is_true(json_object_get(h1, "up")));
    json_t *d0 = json_array_get(json_object_get(h1, "domains"), 0);
    cr_assert_str_eq(jstr(d0, "state"), "running");
    json_decref(s);
    char cj[300];
    snprintf(cj, sizeof cj, "%s/cluster.json", fx_dir);
    const char *sim[] = {bin(), "simulate", cj, "--runs", "3", NULL};
    cr_assert_eq(run(sim, out, err, -1), 0, "simulate: %s", err);
    json_t *c = json_load_file(cj, 0, NULL);
    cr_assert_not_null(c);
    json_t *ch = json_array_get(json_object_get(c, "hosts"), 1);
    cr_assert_str_eq(jstr(ch, "uri"), jstr(json_array_get(hs, 1), "uri"));
    cr_assert(strncmp(jstr(ch, "migration_uri"), "tcp://", 6) == 0);
    json_decref(c);
    assert_gone(j, fx_dir);
    json_decref(j);
}

/* ping from host a's namespace to addr with the DF bit set */
static int ping_df(const char *netns, const char *addr, const char *size)
{
    const char *argv[] = {"/usr/bin/ip", "netns", "exec", netns, "ping", "-q", "-c", "2",
                          "-W", "2", "-M", "do", "-s", size, addr, NULL};
    return run(argv, NULL, NULL, -1);
}

static double stat_ull(virTypedParameterPtr p, int n, const char *name)
{
    unsigned long long v = 0;
    return virTypedParamsGetULLong(p, n, name, &v) == 1 ? (double)v : -1;
}

Test(cluster, three_hosts_shaped, .fini = fx_fini, .timeout = 600)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    const char *slow = getenv("CUTOVER_SLOW");
    if (!slow || strcmp(slow, "1") != 0)
        cr_skip_test("slow cluster test: run with CUTOVER_SLOW=1 (make check-slow)");
    const double rate_bytes_per_s = 400e6 / 8;
    const char *flags[] = {"--hosts", "3", "--vms", "4", "--nic", "400Mbit", "--mtu", "9000",
                           "--mem", "64MiB", NULL};
    json_t *j = up(flags);
    cr_log_info("up 3 hosts x 4 VMs: %.0f ms",
                json_number_value(json_object_get(j, "up_ms")));
    json_t *hs = json_object_get(j, "hosts"), *vs = json_object_get(j, "vms");
    char uri[3][128], ns[3][64], addr[3][64];
    for (int k = 0; k < 3; k++) {
        json_t *h = json_array_get(hs, (size_t)k);
        snprintf(uri[k], sizeof uri[k], "%s", jstr(h, "uri"));
        snprintf(ns[k], sizeof ns[k], "%s", jstr(h, "netns"));
        const char *u = uri[k] + strlen("qemu+tcp://");
        snprintf(addr[k], sizeof addr[k], "%.*s", (int)(strchr(u, '/') - u), u);
    }
    /* every domain runs where the summary says */
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *v = json_array_get(vs, i);
        int k = atoi(jstr(v, "started_on") + 1) - 1;
        cr_assert_eq(dom_state(uri[k], jstr(v, "name")), VIR_DOMAIN_RUNNING, "%s on h%d",
                     jstr(v, "name"), k + 1);
    }
    /* virsh from the root namespace, by the URI in cluster.json */
    for (int k = 0; k < 3; k++) {
        const char *argv[] = {"/usr/bin/virsh", "-c", uri[k], "list", NULL};
        static char out[MAX_OUT];
        cr_assert_eq(run(argv, out, NULL, -1), 0, "virsh -c %s list", uri[k]);
        cr_assert(strstr(out, "running"), "%s", out);
    }
    /* MTU 9000 end to end through the bridge; one byte more does not pass */
    cr_assert_eq(ping_df(ns[0], addr[1], "8972"), 0, "ping -M do -s 8972 h1 -> h2");
    cr_assert_neq(ping_df(ns[0], addr[1], "8973"), 0, "8973 bytes should not fit MTU 9000");

    /* a live migration h1 -> h2 through cutover migrate */
    static char out[MAX_OUT], err[MAX_OUT];
    const char *mig[] = {bin(), "migrate", "--connect", uri[0], "--domain", "vm1", "--to",
                         uri[1], "--policy", "qemu", "--json", NULL};
    cr_assert_eq(run(mig, out, err, -1), 0, "migrate: %s", err);
    json_t *m = json_loads(out, 0, NULL);
    cr_assert_not_null(m, "%s", out);
    cr_assert_str_eq(jstr(m, "status"), "completed");
    double sent = json_number_value(json_object_get(m, "transferred_bytes"));
    double total_ms = json_number_value(json_object_get(m, "total_time_ms"));
    json_decref(m);
    cr_assert_eq(dom_state(uri[1], "vm1"), VIR_DOMAIN_RUNNING);
    cr_assert_neq(dom_state(uri[0], "vm1"), VIR_DOMAIN_RUNNING);
    cr_assert_neq(dom_state(uri[0], "vm1"), VIR_DOMAIN_PAUSED);
    cr_assert_neq(dom_state(uri[2], "vm1"), VIR_DOMAIN_RUNNING);
    /* the link is shaped: QEMU's own throughput of the completed job, and
     * bytes over the whole migration time, stay within the rate + 10% */
    virSetErrorFunc(NULL, quiet);
    virConnectPtr c2 = virConnectOpen(uri[1]);
    cr_assert_not_null(c2);
    virDomainPtr d2 = virDomainLookupByName(c2, "vm1");
    cr_assert_not_null(d2);
    virTypedParameterPtr par = NULL;
    int np = 0, type;
    cr_assert_eq(virDomainGetJobStats(d2, &type, &par, &np, VIR_DOMAIN_JOB_STATS_COMPLETED), 0);
    double bps = stat_ull(par, np, VIR_DOMAIN_JOB_MEMORY_BPS);
    virTypedParamsFree(par, np);
    virDomainFree(d2);
    virConnectClose(c2);
    cr_log_info("migration h1 -> h2: %.1f MiB in %.0f ms; QEMU's memory bandwidth %.1f Mbit/s "
                "(link 400 Mbit/s)", sent / 1048576, total_ms, bps * 8 / 1e6);
    cr_assert(bps > 0, "no memory_bps in the completed job");
    cr_assert_leq(bps, rate_bytes_per_s * 1.1, "%.0f B/s over a 400 Mbit/s link", bps);
    cr_assert_leq(sent / (total_ms / 1e3), rate_bytes_per_s * 1.1);

    /* reboot h2: its QEMUs (vm2 and the migrated vm1) die, the daemon comes
     * back, vm2 (persistent) is defined but shut off, vm1 (transient there)
     * is gone; h1's and h3's guests are untouched */
    char hb_vm1[96], hb_vm2[96], hb_vm3[96];
    const char *root = jstr(j, "root_addr");
    snprintf(hb_vm1, sizeof hb_vm1, "host=%s,port=%d,", root,
             (int)json_integer_value(json_object_get(json_array_get(vs, 0), "heartbeat_port")));
    snprintf(hb_vm2, sizeof hb_vm2, "host=%s,port=%d,", root,
             (int)json_integer_value(json_object_get(json_array_get(vs, 1), "heartbeat_port")));
    snprintf(hb_vm3, sizeof hb_vm3, "host=%s,port=%d,", root,
             (int)json_integer_value(json_object_get(json_array_get(vs, 2), "heartbeat_port")));
    cr_assert_eq(procs_with(hb_vm1), 1, "vm1 runs exactly once");
    cr_assert_eq(procs_with(hb_vm2), 1);
    const char *rb[] = {bin(), "lab", "cluster", "reboot", fx_dir, "h2", NULL};
    cr_assert_eq(run(rb, out, err, -1), 0, "reboot: %s", err);
    cr_assert_eq(procs_with(hb_vm1), 0, "vm1's QEMU survived the reboot of h2");
    cr_assert_eq(procs_with(hb_vm2), 0, "vm2's QEMU survived the reboot of h2");
    cr_assert_eq(procs_with(hb_vm3), 1, "vm3 on h3 should not notice");
    cr_assert_eq(dom_state(uri[1], "vm2"), VIR_DOMAIN_SHUTOFF);
    cr_assert_eq(dom_state(uri[1], "vm1"), -1);
    cr_assert_eq(dom_state(uri[2], "vm3"), VIR_DOMAIN_RUNNING);
    /* the rebooted host serves again: start vm2 there */
    virConnectPtr c = virConnectOpen(uri[1]);
    cr_assert_not_null(c);
    virDomainPtr d = virDomainLookupByName(c, "vm2");
    cr_assert_not_null(d);
    cr_assert_eq(virDomainCreate(d), 0, "%s", virGetLastErrorMessage());
    virDomainFree(d);
    virConnectClose(c);
    cr_assert_eq(dom_state(uri[1], "vm2"), VIR_DOMAIN_RUNNING);

    assert_gone(j, fx_dir);
    json_decref(j);
}

/* The simulator's loader accepts and keeps the two fields the lab adds. */
Test(cluster, down_during_reboot, .fini = fx_fini, .timeout = 240)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    const char *flags[] = {"--hosts", "2", "--vms", "1", "--mem", "32MiB", NULL};
    json_t *j = up(flags);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", fx_dir);
    /* reboot first, down while it runs: down waits for the reboot and then
     * removes the host it started (before: that host outlived down) */
    const char *rb[] = {bin(), "lab", "cluster", "reboot", dir, "h1", NULL};
    pid_t r = fx_spawn(rb);
    usleep(300 * 1000);
    assert_gone(j, dir);
    /* 0: the reboot took the lock first (the case meant); 66 if a loaded
     * machine let down take it first: either way nothing may be left */
    int rrc = fx_reap(r);
    cr_assert(rrc == 0 || rrc == 66, "reboot: exit %d", rrc);
    json_decref(j);
    /* down first, a reboot arriving while it runs: "no cluster", nothing started */
    j = up(flags);
    snprintf(dir, sizeof dir, "%s", fx_dir);
    const char *dn[] = {bin(), "lab", "cluster", "down", dir, NULL};
    pid_t d = fx_spawn(dn);
    usleep(200 * 1000);
    static char out[MAX_OUT], err[MAX_OUT];
    const char *rb2[] = {bin(), "lab", "cluster", "reboot", dir, "h1", NULL};
    int rc = run(rb2, out, err, -1);
    cr_assert_eq(fx_reap(d), 0);
    cr_assert(rc == 66 || rc == 0, "reboot during down: %d %s", rc, err);
    if (rc == 66)
        cr_assert(strstr(err, "no cluster"), "%s", err);
    assert_gone(j, dir); /* a second down: still nothing left, whichever came first */
    json_decref(j);
}

Test(cluster, sim_keeps_uris)
{
    const char *text =
        "{\"hosts\": [{\"name\": \"h1\", \"cores\": 2, \"mem\": \"8GiB\", \"nic_rate\": \"400Mbit\","
        " \"mtu\": 9000, \"uri\": \"qemu+tcp://169.254.101.1/system\","
        " \"migration_uri\": \"tcp://169.254.101.1\"},"
        " {\"name\": \"h2\", \"cores\": 2, \"mem\": \"8GiB\", \"nic_rate\": \"400Mbit\"}],"
        " \"vms\": [{\"name\": \"vm1\", \"host\": \"h1\", \"vcpus\": 1, \"mem\": \"64MiB\"}]}";
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_buffer(text, strlen(text), "t.json", &c, &d), CO_OK, "%s", d.msg);
    cr_assert_str_eq(c->hosts[0].uri, "qemu+tcp://169.254.101.1/system");
    cr_assert_str_eq(c->hosts[0].migration_uri, "tcp://169.254.101.1");
    cr_assert_null(c->hosts[1].uri);
    co_sim_cluster_free(c);
}
