/* tests/cycle/test_cycle.c: `cutover cycle` on the cluster lab (real
 * libvirtd per host, tc-shaped links, TCG guests). Every cluster is 3 hosts
 * x 4 guests of 64 MiB at 200 Mbit/s (vm1, vm4 on h1; vm2 on h2; vm3 on
 * h3); h1 is the canary. The hooks are the scripts in tests/cycle/hooks/
 * (patch bumps STATE/HOST.version and promises it, validate reports it) and
 * the reboot hook is `cutover lab cluster reboot DIR {host}`. Each test
 * tears its cluster down in .fini (the lab's watchdog does if the test
 * process dies).
 *   dry_run            (default suite, ~25 s) the plan names each host in
 *                      order (canary first), each VM's destination and
 *                      predicted time; nothing moves; --history seeds the
 *                      evacuations with a past journal's newest calibration
 *                      (said, and the prediction grows); an unreachable
 *                      host (a file naming a fourth URI) exits 69
 *   full_cycle         (CUTOVER_SLOW=1) every host patched (version 1) and
 *                      validated (with validate_vm), every VM running exactly once, none
 *                      paused, back home, heartbeats without ERR; report
 *                      fields; the timeline converts; each drain's
 *                      calibration journaled
 *   parallel_hosts     (CUTOVER_SLOW=1) max_hosts_in_maintenance 2: h1
 *                      alone, then h2 and h3 at once (their journal spans
 *                      overlap); each VM evacuated once, running once,
 *                      home, none paused
 *   canary_fails       (CUTOVER_SLOW=1) h1's validate fails: the cycle
 *                      stops (exit 1, "stopped"), h2 and h3 untouched
 *   host_never_returns (CUTOVER_SLOW=1) the reboot hook kills h1 for good,
 *                      return_timeout 5 s: stopped, h1 left in
 *                      maintenance, h2 and h3 untouched, its VMs run once
 *   unmovable_after_return (CUTOVER_SLOW=1) a VM with a CD-ROM on h2 is shut
 *                      down for h2's patch and started again there after
 *   kill_during_evacuate, kill_during_patch, kill_during_preflight,
 *   kill_during_reboot, kill_during_validate, kill_during_rebalance
 *                      (CUTOVER_SLOW=1) kill -9 of cutover while a
 *                      migration runs / while the patch hook runs / as
 *                      that step starts / while a VM goes home; a second
 *                      cycle on the journal meanwhile
 *                      is refused; --resume completes; no VM migrated twice
 *                      for one evacuation, none paused */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_fx.h"

static char state[128];          /* the hooks' state directory */
static char cfile[300], jpath[300];
static const char *vm_names[] = {"vm1", "vm2", "vm3", "vm4"};

static void fini(void)
{
    /* CUTOVER_TEST_KEEP=DIR: the journal, hook logs and the lab's daemon
     * logs of the test are copied there first (a hang is read from them) */
    const char *keep = getenv("CUTOVER_TEST_KEEP");
    if (keep && state[0]) {
        const char *cp[] = {"/bin/cp", "-a", state, keep, NULL};
        run(cp, NULL, NULL, -1);
        if (fx_dir[0]) {
            const char *cp2[] = {"/bin/cp", "-a", fx_dir, keep, NULL};
            run(cp2, NULL, NULL, -1);
        }
    }
    fx_fini();
    if (state[0]) {
        const char *argv[] = {"/bin/rm", "-rf", state, NULL};
        run(argv, NULL, NULL, -1);
        state[0] = '\0';
    }
}

static const char *slow(void)
{
    const char *why = unavailable();
    if (why)
        return why;
    return getenv("CUTOVER_SLOW") ? NULL : "slow (a lab cycle, 2-4 min under TCG): CUTOVER_SLOW=1";
}

static void hook_path(char *out, size_t len, const char *name)
{
    char cwd[256];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(out, len, "%s/tests/cycle/hooks/%s", cwd, name);
}

static char bin_abs[300];

/* Bring the lab up and write FILE = its cluster.json plus hooks and plan.
 * reboot_hook: "reboot" (the lab's) or "die" (never returns). */
static json_t *setup(const char *reboot_hook, const char *return_timeout)
{
    const char *flags[] = {"--hosts", "3", "--vms", "4", "--mem", "64MiB", "--nic", "200Mbit",
                           NULL};
    json_t *lab = up(flags);
    snprintf(state, sizeof state, "/tmp/co-cyc-st-XXXXXX");
    cr_assert_not_null(mkdtemp(state));
    char p[300];
    snprintf(p, sizeof p, "%s/cluster.json", fx_dir);
    json_t *c = json_load_file(p, 0, NULL);
    cr_assert_not_null(c);
    char patch[300], validate[300], die[300];
    hook_path(patch, sizeof patch, "patch.sh");
    hook_path(validate, sizeof validate, "validate.sh");
    hook_path(die, sizeof die, "die.sh");
    if (!realpath(bin(), bin_abs))
        snprintf(bin_abs, sizeof bin_abs, "%s", bin());
    json_t *hooks = json_pack("{s:[s,s,s], s:[s,s,s]}", "patch", patch, state, "{host}",
                              "validate", validate, state, "{host}");
    if (!strcmp(reboot_hook, "die"))
        json_object_set_new(hooks, "reboot", json_pack("[s,s,s]", die, fx_dir, "{host}"));
    else
        json_object_set_new(hooks, "reboot", json_pack("[s,s,s,s,s,s]", bin_abs, "lab",
                                                       "cluster", "reboot", fx_dir, "{host}"));
    json_object_set_new(c, "hooks", hooks);
    json_object_set_new(c, "plan", json_pack("{s:[s], s:{s:s}}", "canary", "h1", "execution",
                                             "return_timeout", return_timeout));
    snprintf(cfile, sizeof cfile, "%s/cycle.json", state);
    snprintf(jpath, sizeof jpath, "%s/journal.jsonl", state);
    cr_assert_eq(json_dump_file(c, cfile, JSON_INDENT(1)), 0);
    json_decref(c);
    return lab;
}

static void each_vm_once(json_t *lab, const int *want_host)
{
    for (int i = 0; i < 4; i++) {
        int where, paused;
        int n = running_on(json_object_get(lab, "hosts"), vm_names[i], &where, &paused);
        cr_expect_eq(n, 1, "%s runs on %d hosts", vm_names[i], n);
        cr_expect(!paused, "%s is paused somewhere", vm_names[i]);
        if (want_host && want_host[i] >= 0)
            cr_expect_eq(where, want_host[i], "%s on h%d, expected h%d", vm_names[i], where + 1,
                         want_host[i] + 1);
    }
}

/* Every VM heard for 2 s, or up to 10 s until each was: a guest that just
 * migrated back under TCG on a loaded machine may take a while. */
static void lab_heartbeats_clean(void)
{
    char p[300];
    snprintf(p, sizeof p, "%s/lab.json", fx_dir);
    json_t *lj = json_load_file(p, 0, NULL);
    cr_assert_not_null(lj);
    heartbeats_clean(lj, vm_names, 4, 2000, 10000);
    json_decref(lj);
}

static int version_of(const char *host)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s.version", state, host);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    int v = 0;
    if (fscanf(f, "%d", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static json_t *host_of(json_t *rep, const char *name)
{
    json_t *hs = json_object_get(rep, "hosts");
    for (size_t i = 0; i < json_array_size(hs); i++)
        if (!strcmp(jstr(json_array_get(hs, i), "name"), name))
            return json_array_get(hs, i);
    cr_assert_fail("no host %s in the report", name);
    return NULL;
}

/* Journal records of kind ev (and vm, when not NULL) with purpose. */
static int count_recs(const char *ev, const char *vm, const char *status, const char *purpose)
{
    json_error_t je;
    FILE *f = fopen(jpath, "r");
    cr_assert_not_null(f);
    char *line = NULL; /* a calibration record runs to tens of KB */
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, 0, &je);
        if (!r)
            continue;
        const char *e = json_string_value(json_object_get(r, "ev"));
        const char *v = json_string_value(json_object_get(r, "vm"));
        const char *s = json_string_value(json_object_get(r, "status"));
        const char *p = json_string_value(json_object_get(r, "purpose"));
        if (e && !strcmp(e, ev) && (!vm || (v && !strcmp(v, vm))) &&
            (!status || (s && !strcmp(s, status))) && (!purpose || (p && !strcmp(p, purpose))))
            n++;
        json_decref(r);
    }
    free(line);
    fclose(f);
    return n;
}

/* Every VM's evacuation completed exactly once in the journal. */
static void evacuated_once(void)
{
    for (int i = 0; i < 4; i++) {
        int n = count_recs("mig_end", vm_names[i], "completed", "evacuate");
        cr_expect_eq(n, 1, "%s evacuated %d times", vm_names[i], n);
    }
}

static json_t *run_cycle(const char *const *extra, int *rc)
{
    static char out[MAX_OUT], err[MAX_OUT];
    const char *argv[16] = {bin(), "cycle", cfile, "--journal", jpath, "--json"};
    int n = 6;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    *rc = run(argv, out, err, -1);
    json_t *rep = json_loads(out, 0, NULL);
    cr_assert_not_null(rep, "exit %d, no JSON: %s / %s", *rc, out, err);
    if (*rc != 0)
        fprintf(stderr, "cycle exit %d: %s", *rc, err);
    return rep;
}

static void full_result_checks(json_t *lab, json_t *rep)
{
    cr_expect_str_eq(jstr(rep, "status"), "completed");
    cr_expect(json_real_value(json_object_get(rep, "window_s")) > 0);
    const char *hosts[] = {"h1", "h2", "h3"};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(version_of(hosts[i]), 1, "%s version %d", hosts[i], version_of(hosts[i]));
        json_t *h = host_of(rep, hosts[i]);
        cr_expect_str_eq(jstr(h, "state"), "done");
        cr_expect_str_eq(jstr(h, "firmware"), "not configured");
        cr_expect(strstr(jstr(h, "version_check"), "as promised"), "%s",
                  jstr(h, "version_check"));
        json_t *st = json_object_get(h, "steps_ms");
        cr_expect(json_number_value(json_object_get(st, "evacuate")) > 0);
        cr_expect(json_number_value(json_object_get(st, "reboot")) > 0);
    }
    cr_expect_str_eq(jstr(json_array_get(json_object_get(rep, "hosts"), 0), "name"), "h1",
                     "the canary goes first");
    json_t *vms = json_object_get(rep, "vms");
    cr_expect_eq(json_array_size(vms), 4);
    for (size_t i = 0; i < json_array_size(vms); i++) {
        json_t *v = json_array_get(vms, i);
        cr_expect(json_number_value(json_object_get(v, "stun_ms")) > 0, "%s stun",
                  jstr(v, "name"));
        cr_expect_str_eq(jstr(v, "now_on"), jstr(v, "host"), "%s not home", jstr(v, "name"));
    }
    int home[] = {0, 1, 2, 0};
    each_vm_once(lab, home);
    lab_heartbeats_clean();
}

Test(cycle, dry_run, .fini = fini, .timeout = 300)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    static char out[MAX_OUT], err[MAX_OUT];
    const char *argv[] = {bin(), "cycle", cfile, "--dry-run", "--json", NULL};
    int rc = run(argv, out, err, -1);
    cr_assert_eq(rc, 0, "dry run exit %d: %s", rc, err);
    json_t *p = json_loads(out, 0, NULL);
    cr_assert_not_null(p, "%s", out);
    cr_expect_str_eq(jstr(p, "status"), "planned");
    json_t *hs = json_object_get(p, "hosts");
    cr_assert_eq(json_array_size(hs), 3);
    cr_expect_str_eq(jstr(json_array_get(hs, 0), "name"), "h1");
    cr_expect(json_is_true(json_object_get(json_array_get(hs, 0), "canary")));
    json_t *h1vms = json_object_get(json_array_get(hs, 0), "vms");
    cr_expect_eq(json_array_size(h1vms), 2);
    for (size_t i = 0; i < json_array_size(h1vms); i++) {
        json_t *v = json_array_get(h1vms, i);
        const char *to = jstr(v, "to");
        cr_expect(!strcmp(to, "h2") || !strcmp(to, "h3"), "%s -> %s", jstr(v, "name"), to);
        cr_expect(json_number_value(json_object_get(v, "predicted_time_ms")) > 0);
    }
    cr_expect_str_eq(jstr(p, "firmware"), "not configured");
    double t0 = json_number_value(json_object_get(json_array_get(h1vms, 0), "predicted_time_ms"));
    json_decref(p);

    /* --history: the newest calibration record of a past journal seeds the
     * evacuations (these TCG guests are not measured: 0 pages/s without it);
     * its windows say h1's VMs write 3000-4000 pages/s */
    char hist[300];
    snprintf(hist, sizeof hist, "%s/past.jsonl", state);
    FILE *hf = fopen(hist, "w");
    cr_assert_not_null(hf);
    fputs("{\"seq\":1,\"t_ms\":1,\"ev\":\"cycle_start\",\"hosts\":[]}\n", hf);
    for (int k = 0; k < 2; k++) /* an older one, then the newest (used) */
        fprintf(hf, "{\"seq\":%d,\"t_ms\":%d,\"ev\":\"calibration\",\"host\":\"h1\","
                "\"calibration\":{\"format\":\"cutover-evacuate-calibration/1\","
                "\"learned_at\":\"2026-12-0%dT00:00:00Z\",\"vms\":["
                "{\"name\":\"vm1\",\"factor\":1,\"windows\":[{\"dur_ms\":6000,"
                "\"pages\":%d,\"syncs\":1,\"bulk\":true},{\"dur_ms\":1000,\"pages\":%d,"
                "\"syncs\":1,\"bulk\":false}]},{\"name\":\"vm4\",\"factor\":1,\"windows\":"
                "[{\"dur_ms\":1000,\"pages\":3000,\"syncs\":1,\"bulk\":false}]}]}}\n",
                k + 2, k + 2, k + 1, k ? 14000 : 10, k ? 4000 : 1);
    fclose(hf);
    const char *argvh[] = {bin(), "cycle", cfile, "--dry-run", "--json", "--history", hist, NULL};
    rc = run(argvh, out, err, -1);
    cr_assert_eq(rc, 0, "dry run --history exit %d: %s", rc, err);
    p = json_loads(out, 0, NULL);
    cr_assert_not_null(p, "%s", out);
    int said = 0;
    size_t ni;
    json_t *nt;
    json_array_foreach(json_object_get(p, "notes"), ni, nt)
        said |= strstr(json_string_value(nt), "calibration of history") &&
                strstr(json_string_value(nt), "2026-12-02");
    cr_expect(said, "the seed is said: %s", out);
    h1vms = json_object_get(json_array_get(json_object_get(p, "hosts"), 0), "vms");
    double t1 = json_number_value(json_object_get(json_array_get(h1vms, 0), "predicted_time_ms"));
    cr_expect_gt(t1, t0 * 1.2, "%s planned with its learnt 4000 pages/s: %g ms, not %g",
                 jstr(json_array_get(h1vms, 0), "name"), t1, t0);
    json_decref(p);
    each_vm_once(lab, (int[]){0, 1, 2, 0});
    cr_expect_eq(access(jpath, F_OK), -1, "the dry run wrote a journal");

    /* a host that does not answer: exit 69, the plan still printed */
    json_t *c = json_load_file(cfile, 0, NULL);
    json_t *h3 = json_array_get(json_object_get(c, "hosts"), 2);
    json_object_set_new(h3, "uri", json_string("qemu+tcp://169.254.1.77/system"));
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.json", state);
    json_dump_file(c, bad, 0);
    json_decref(c);
    const char *argv2[] = {bin(), "cycle", bad, "--dry-run", NULL};
    rc = run(argv2, out, err, -1);
    cr_expect_eq(rc, 69, "unreachable: exit %d: %s", rc, err);
    cr_expect(strstr(out, "UNREACHABLE") != NULL, "%s", out);
    json_decref(lab);
}

/* Set plan keys of the written file (obj's members replace plan's) and,
 * with exec, plan.execution's. */
static void plan_set(json_t *obj, json_t *exec)
{
    json_t *c = json_load_file(cfile, 0, NULL);
    cr_assert_not_null(c);
    json_t *p = json_object_get(c, "plan");
    if (obj)
        json_object_update(p, obj);
    if (exec)
        json_object_update(json_object_get(p, "execution"), exec);
    cr_assert_eq(json_dump_file(c, cfile, JSON_INDENT(1)), 0);
    json_decref(c);
    json_decref(obj);
    json_decref(exec);
}

/* [first step_start, host_end] of host in the journal, wall-clock ms. */
static void host_span(const char *host, double *t0, double *t1)
{
    FILE *f = fopen(jpath, "r");
    cr_assert_not_null(f);
    char line[8192];
    *t0 = *t1 = -1;
    while (fgets(line, sizeof line, f)) {
        json_t *r = json_loads(line, 0, NULL);
        const char *e = json_string_value(json_object_get(r, "ev"));
        const char *h = json_string_value(json_object_get(r, "host"));
        double t = json_number_value(json_object_get(r, "t_ms"));
        if (e && h && !strcmp(h, host)) {
            if (!strcmp(e, "step_start") && *t0 < 0)
                *t0 = t;
            if (!strcmp(e, "host_end"))
                *t1 = t;
        }
        json_decref(r);
    }
    fclose(f);
    cr_assert(*t0 > 0 && *t1 > 0, "%s: no span in the journal", host);
}

Test(cycle, full_cycle, .fini = fini, .timeout = 900)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    /* the built-in validate_vm too: one VM onto each returned host */
    plan_set(NULL, json_pack("{s:b}", "validate_vm", 1));
    int rc;
    const char *extra[] = {"--forecast", NULL};
    json_t *rep = run_cycle(extra, &rc);
    cr_expect_eq(rc, 0, "cycle exit %d", rc);
    full_result_checks(lab, rep);
    cr_expect_not_null(json_object_get(rep, "forecast"));
    /* every evacuation moved each VM once */
    evacuated_once();
    /* validate_vm moved a VM onto each host (its home, here: the rebalance
     * had nothing left for it) */
    for (int i = 0; i < 3; i++) {
        json_t *st = NULL;
        FILE *f = fopen(jpath, "r");
        char line[8192], want[32];
        snprintf(want, sizeof want, "h%d", i + 1);
        while (f && fgets(line, sizeof line, f)) {
            json_t *r = json_loads(line, 0, NULL);
            if (!strcmp(json_string_value(json_object_get(r, "ev")) ?: "", "step_end") &&
                !strcmp(json_string_value(json_object_get(r, "step")) ?: "", "validate") &&
                !strcmp(json_string_value(json_object_get(r, "host")) ?: "", want)) {
                json_decref(st);
                st = json_incref(json_object_get(r, "validate_vm"));
            }
            json_decref(r);
        }
        if (f)
            fclose(f);
        cr_expect_not_null(st, "%s: no validate_vm in its validate step", want);
        json_decref(st);
    }
    cr_expect(count_recs("mig_end", NULL, "completed", "validate") >= 3, "validate moves: %d",
              count_recs("mig_end", NULL, "completed", "validate"));
    /* what each drain learnt is journaled for the next drains and cycles */
    cr_expect(count_recs("calibration", NULL, NULL, NULL) >= 3, "calibration records: %d",
              count_recs("calibration", NULL, NULL, NULL));
    static char out[MAX_OUT], err[MAX_OUT];
    const char *tl[] = {bin(), "cycle", "--timeline", jpath, NULL};
    cr_expect_eq(run(tl, out, err, -1), 0, "%s", err);
    cr_expect(strstr(out, "migration,h1,") && strstr(out, "step,h3,reboot,"), "%s", out);
    json_decref(rep);
    json_decref(lab);
}

/* (CUTOVER_SLOW=1) plan.max_hosts_in_maintenance 2: the canary h1 alone,
 * then h2 and h3 at once (the lab's hosts share no failure domain); every
 * VM evacuated once, running exactly once, none paused, home at the end. */
Test(cycle, parallel_hosts, .fini = fini, .timeout = 900)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    plan_set(json_pack("{s:i}", "max_hosts_in_maintenance", 2), NULL);
    int rc;
    json_t *rep = run_cycle(NULL, &rc);
    cr_expect_eq(rc, 0, "cycle exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "completed");
    const char *hosts[] = {"h1", "h2", "h3"};
    double t0[3], t1[3];
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(version_of(hosts[i]), 1, "%s version %d", hosts[i], version_of(hosts[i]));
        cr_expect_str_eq(jstr(host_of(rep, hosts[i]), "state"), "done");
        host_span(hosts[i], &t0[i], &t1[i]);
    }
    cr_expect(t1[0] <= t0[1] && t1[0] <= t0[2], "the canary h1 ran alone");
    cr_expect(t0[1] < t1[2] && t0[2] < t1[1], "h2 [%.0f, %.0f] and h3 [%.0f, %.0f] did not "
              "overlap", t0[1], t1[1], t0[2], t1[2]);
    evacuated_once();
    int home[] = {0, 1, 2, 0};
    each_vm_once(lab, home);
    lab_heartbeats_clean();
    json_decref(rep);
    json_decref(lab);
}

Test(cycle, canary_fails, .fini = fini, .timeout = 600)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    char f[300];
    snprintf(f, sizeof f, "%s/fail-h1", state);
    FILE *ff = fopen(f, "w");
    cr_assert_not_null(ff);
    fclose(ff);
    int rc;
    json_t *rep = run_cycle(NULL, &rc);
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "stopped");
    cr_expect(strstr(jstr(rep, "reason"), "canary h1 failed validate"), "%s",
              jstr(rep, "reason"));
    cr_expect_str_eq(jstr(host_of(rep, "h2"), "state"), "untouched");
    cr_expect_str_eq(jstr(host_of(rep, "h3"), "state"), "untouched");
    cr_expect_eq(version_of("h2"), 0);
    cr_expect_eq(version_of("h3"), 0);
    each_vm_once(lab, (int[]){-1, 1, 2, -1});
    json_decref(rep);
    json_decref(lab);
}

Test(cycle, host_never_returns, .fini = fini, .timeout = 600)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("die", "5s");
    int rc;
    json_t *rep = run_cycle(NULL, &rc);
    cr_expect_eq(rc, 1, "exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "stopped");
    cr_expect(strstr(jstr(rep, "reason"), "did not come back") &&
              strstr(jstr(rep, "reason"), "stays in maintenance"), "%s", jstr(rep, "reason"));
    cr_expect(strstr(jstr(host_of(rep, "h1"), "state"), "reboot"), "%s",
              jstr(host_of(rep, "h1"), "state"));
    cr_expect_str_eq(jstr(host_of(rep, "h2"), "state"), "untouched");
    cr_expect_str_eq(jstr(host_of(rep, "h3"), "state"), "untouched");
    /* vm1 and vm4 left h1 before it died and run once elsewhere */
    for (int i = 0; i < 4; i++) {
        json_t *hosts = json_object_get(lab, "hosts");
        int n = 0;
        for (size_t k = 1; k < json_array_size(hosts); k++)
            n += dom_state(jstr(json_array_get(hosts, k), "uri"), vm_names[i]) ==
                 VIR_DOMAIN_RUNNING;
        cr_expect_eq(n, 1, "%s runs on %d of h2, h3", vm_names[i], n);
    }
    json_decref(rep);
    json_decref(lab);
}

/* Start the cycle in the background; kill -9 it once the journal holds a
 * record matching (ev, step); then a second cycle is refused; --resume. */
static void kill_and_resume(const char *ev, const char *step, const char *also, int at_once)
{
    json_t *lab = setup("reboot", "60s");
    if (at_once > 1)
        plan_set(json_pack("{s:i}", "max_hosts_in_maintenance", at_once), NULL);
    if (!strcmp(step, "apply")) {
        char f[300];
        snprintf(f, sizeof f, "%s/slow-patch", state);
        FILE *ff = fopen(f, "w");
        cr_assert_not_null(ff);
        fputs("4\n", ff);
        fclose(ff);
    }
    const char *first[] = {bin(), "cycle", cfile, "--journal", jpath, NULL};
    pid_t pid = fx_spawn(first);
    int seen = 0;
    for (int t = 0; t < 3000 && !seen; t++) {
        usleep(100000);
        FILE *f = fopen(jpath, "r");
        char line[8192];
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, ev) && strstr(line, step) && (!also || strstr(line, also)))
                seen = 1;
        if (f)
            fclose(f);
    }
    cr_assert(seen, "no %s %s in the journal", ev, step);
    /* a second cycle on the same journal while the first holds it */
    static char out[MAX_OUT], err[MAX_OUT];
    const char *second[] = {bin(), "cycle", cfile, "--journal", jpath, "--resume", NULL};
    int rc2 = run(second, out, err, -1);
    cr_expect_eq(rc2, 75, "second cycle: exit %d: %s", rc2, err);
    kill(pid, SIGKILL);
    (void)fx_reap(pid);
    if (!strcmp(step, "apply")) {
        /* the orphaned patch hook finishes on its own (a crashed
         * orchestrator's hook is not ours to kill); wait for it */
        char f[300];
        snprintf(f, sizeof f, "%s/slow-patch", state);
        unlink(f);
        for (int t = 0; t < 100 && version_of("h1") == 0; t++)
            usleep(100000);
    }
    int rc;
    const char *extra[] = {"--resume", NULL};
    json_t *rep = run_cycle(extra, &rc);
    cr_expect_eq(rc, 0, "resume exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "completed");
    cr_expect(count_recs("resume", NULL, NULL, NULL) == 1);
    evacuated_once();
    int home[] = {0, 1, 2, 0};
    each_vm_once(lab, home);
    lab_heartbeats_clean();
    json_decref(rep);
    json_decref(lab);
}

/* kill -9 as the journal shows EV with STEP (a step's start, or a
 * migration's purpose), then --resume: one test per kind of step. */
#define KILL_TEST(name, ev, step)                                                          \
    Test(cycle, name, .fini = fini, .timeout = 900)                                      \
    {                                                                                     \
        const char *why = slow();                                                         \
        if (why)                                                                          \
            cr_skip_test("%s", why);                                                      \
        kill_and_resume("\"" ev "\"", "\"" step "\"", NULL, 1);                           \
    }

KILL_TEST(kill_during_evacuate, "mig_start", "evacuate")
KILL_TEST(kill_during_patch, "step_start", "apply")
/* the other kinds: preflight (a libvirt probe and the plan), the reboot
 * hook and the wait for the host, validate, a migration home */
KILL_TEST(kill_during_preflight, "step_start", "preflight")
KILL_TEST(kill_during_reboot, "step_start", "reboot")
KILL_TEST(kill_during_validate, "step_start", "validate")
KILL_TEST(kill_during_rebalance, "mig_start", "rebalance")

/* (CUTOVER_SLOW=1) max_hosts_in_maintenance 2: kill -9 once h3's
 * evacuation has begun (h2 and h3 are in maintenance at once then), then
 * --resume: both hosts' work is picked up, no VM evacuated twice, each
 * running once, none paused, home. */
Test(cycle, kill_during_parallel_hosts, .fini = fini, .timeout = 900)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    kill_and_resume("\"mig_start\"", "\"evacuate\"", "\"from\":\"h3\"", 2);
}

/* (CUTOVER_SLOW=1) plan.rebalance "balance", only h1 patched: h1's two VMs
 * leave for h2 and h3; once h1 is back, free memory is evened out: at least
 * one rebalance move, VM counts per host within one of each other, every VM
 * running once, none paused. */
Test(cycle, balance_rebalance, .fini = fini, .timeout = 900)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    plan_set(json_pack("{s:[s], s:s}", "hosts", "h1", "rebalance", "balance"), NULL);
    int rc;
    json_t *rep = run_cycle(NULL, &rc);
    cr_expect_eq(rc, 0, "cycle exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "completed");
    cr_expect_eq(version_of("h1"), 1);
    cr_expect_eq(count_recs("mig_end", NULL, "completed", "evacuate"), 2);
    int moves = count_recs("mig_end", NULL, "completed", "rebalance");
    cr_expect(moves >= 1, "no rebalance move");
    int count[3] = {0, 0, 0};
    for (int i = 0; i < 4; i++) {
        int where, paused;
        int n = running_on(json_object_get(lab, "hosts"), vm_names[i], &where, &paused);
        cr_expect_eq(n, 1, "%s runs on %d hosts", vm_names[i], n);
        cr_expect(!paused, "%s is paused somewhere", vm_names[i]);
        if (n == 1 && where >= 0 && where < 3)
            count[where]++;
    }
    int lo = count[0], hi = count[0];
    for (int h = 1; h < 3; h++) {
        lo = count[h] < lo ? count[h] : lo;
        hi = count[h] > hi ? count[h] : hi;
    }
    cr_expect(hi - lo <= 1, "not balanced: %d / %d / %d VMs", count[0], count[1], count[2]);
    lab_heartbeats_clean();
    json_decref(rep);
    json_decref(lab);
}

/* A persistent copy of vm1 named vmcd on uri (h2) with a CD-ROM holding an
 * image: evacuate's blocker "CD-ROM or floppy with media". */
static void define_cdrom_domain(const char *from_uri, const char *uri, const char *iso)
{
    const char *nx = fx_cdrom_xml(from_uri, iso);
    virConnectPtr c = virConnectOpen(uri);
    virDomainPtr d;
    cr_assert_not_null(c);
    d = virDomainDefineXML(c, nx);
    virErrorPtr e = virGetLastError();
    cr_assert_not_null(d, "define vmcd: %s", e && e->message ? e->message : "?");
    cr_assert_eq(virDomainCreate(d), 0, "start vmcd");
    virDomainFree(d);
    virConnectClose(c);
}

/* (CUTOVER_SLOW=1) a VM that cannot live-migrate (CD-ROM with media) on h2,
 * unmovable "after-return", only h2 patched: it is shut down, reported as
 * an outage, and runs again on h2 after the host returned; the others are
 * evacuated and come home. */
Test(cycle, unmovable_after_return, .fini = fini, .timeout = 600)
{
    const char *why = slow();
    if (why)
        cr_skip_test("%s", why);
    json_t *lab = setup("reboot", "60s");
    json_t *hosts = json_object_get(lab, "hosts");
    const char *h1 = jstr(json_array_get(hosts, 0), "uri"), *h2 = jstr(json_array_get(hosts, 1),
                                                                          "uri");
    char iso[300];
    snprintf(iso, sizeof iso, "%s/cd.iso", state);
    int fd = open(iso, O_CREAT | O_WRONLY, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, 1 << 20), 0);
    close(fd);
    define_cdrom_domain(h1, h2, iso);
    json_t *c = json_load_file(cfile, 0, NULL);
    json_object_set_new(c, "plan", json_pack("{s:[s], s:{s:s, s:s}}", "hosts", "h2", "execution",
                                             "return_timeout", "60s", "unmovable",
                                             "after-return"));
    cr_assert_eq(json_dump_file(c, cfile, 0), 0);
    json_decref(c);
    int rc;
    json_t *rep = run_cycle(NULL, &rc);
    cr_expect_eq(rc, 0, "exit %d", rc);
    cr_expect_str_eq(jstr(rep, "status"), "completed");
    json_t *out = json_object_get(rep, "outages");
    cr_expect_eq(json_array_size(out), 2, "outages: %zu", json_array_size(out));
    if (json_array_size(out) == 2) {
        cr_expect_str_eq(jstr(json_array_get(out, 0), "action"), "shutdown");
        cr_expect(strstr(jstr(json_array_get(out, 0), "reason"), "CD-ROM"));
        cr_expect_str_eq(jstr(json_array_get(out, 1), "action"), "start");
        cr_expect_str_eq(jstr(json_array_get(out, 1), "host"), "h2");
    }
    cr_expect_eq(dom_state(h2, "vmcd"), VIR_DOMAIN_RUNNING, "vmcd not running on h2");
    cr_expect_eq(version_of("h2"), 1);
    int home[] = {0, 1, 2, 0};
    each_vm_once(lab, home);
    json_decref(rep);
    json_decref(lab);
}
