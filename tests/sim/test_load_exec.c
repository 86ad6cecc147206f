/* tests/sim/test_load_exec.c: the execution part of the cluster file
 * (top-level "hooks", plan "execution"; sim/sim.h co_sim_exec): good input
 * read with its defaults, each bad case named FILE:LINE: PATH, the files
 * that exist today (traces/example-cluster.json, a cluster.json written by
 * `cutover lab cluster up`) still load, and simulate ignores the section. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

/* lines 1-4 */
#define HOSTS                                                                   \
    "{\"hosts\": [\n"                                                           \
    "  {\"name\": \"a\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"},\n" \
    "  {\"name\": \"b\", \"cores\": 8, \"mem\": \"32GiB\", \"nic_rate\": \"10Gbit\"}\n"  \
    "],\n"

static int load(const char *text, co_diag *d, co_sim_cluster **c)
{
    co_diag_init(d);
    return co_sim_load_buffer(text, strlen(text), "t.json", c, d);
}

/* The whole message must be want (so file, line and path are exact), or
 * start with it when prefix is set. */
static void expect_bad(const char *text, const char *want)
{
    co_diag d;
    co_sim_cluster *c = NULL;
    int rc = load(text, &d, &c);
    cr_assert_eq(rc, CO_EDATA, "rc %d (%s) for: %s", rc, d.msg, text);
    cr_assert_null(c);
    cr_assert(strncmp(d.msg, want, strlen(want)) == 0, "message\n  '%s'\ndoes not start with\n  '%s'",
              d.msg, want);
}

Test(load_exec, defaults_without_the_sections)
{
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(HOSTS "\"vms\": []}", &d, &c), CO_OK, "%s", d.msg);
    const co_sim_exec *x = &c->exec;
    for (int k = 0; k < CO_HOOK_N; k++) {
        cr_assert_null(x->hook[k].argv, "%s", co_sim_hook_name(k));
        cr_assert_eq(x->hook[k].argc, 0);
        double want = k == CO_HOOK_REBOOT || k == CO_HOOK_FIRMWARE ? 1800e3
                      : k >= CO_HOOK_MTU_PROBE                      ? 30e3
                                                                    : 600e3;
        cr_assert_float_eq(x->hook[k].timeout_ms, want, 1e-9, "%s", co_sim_hook_name(k));
    }
    cr_assert_float_eq(x->return_timeout_ms, 600e3, 1e-9);
    cr_assert_float_eq(x->return_backoff_ms, 1e3, 1e-9);
    cr_assert_float_eq(x->clock_skew_max_ms, 300e3, 1e-9);
    cr_assert_float_eq(x->scratch_min_bytes, 1073741824.0, 1e-9);
    cr_assert_eq(x->fail_hosts_max, 0);
    cr_assert_eq(x->fail_vms_over_budget_max, -1);
    cr_assert_eq(x->unmovable, CO_UNMOV_SHUTDOWN);
    cr_assert_eq(x->validate_vm, 0);
    cr_assert_eq(x->mtu_check, 1);
    co_sim_cluster_free(c);
    /* the same from the function the cycle can call on a cluster built in code */
    co_sim_exec e;
    co_sim_exec_defaults(&e);
    cr_assert_float_eq(e.hook[CO_HOOK_FIRMWARE].timeout_ms, 1800e3, 1e-9);
    cr_assert_eq(e.mtu_check, 1);
}

Test(load_exec, hook_names)
{
    const char *want[CO_HOOK_N] = {"before_cycle", "preflight", "stage", "enter_maintenance",
                                   "patch", "reboot", "firmware", "validate",
                                   "exit_maintenance", "after_cycle", "mtu_probe", "clock_probe",
                                   "scratch_probe"};
    for (int k = 0; k < CO_HOOK_N; k++)
        cr_assert_str_eq(co_sim_hook_name(k), want[k]);
    cr_assert_str_eq(co_sim_hook_name(CO_HOOK_N), "?");
    cr_assert_str_eq(co_sim_hook_name(-1), "?");
    cr_assert_eq(co_sim_hook_placeholder("{host}"), 0);
    cr_assert_eq(co_sim_hook_placeholder("{journal_dir}"), 4);
    cr_assert_eq(co_sim_hook_placeholder("{hostname}"), -1);
    cr_assert_eq(co_sim_hook_placeholder("host"), -1);
    cr_assert_str_eq(co_sim_hook_embedded("--host={host}"), "{host}");
    cr_assert_str_eq(co_sim_hook_embedded("{uri}/x"), "{uri}");
    cr_assert_null(co_sim_hook_embedded("{uri}"));
    cr_assert_null(co_sim_hook_embedded("{hostname}"));
    cr_assert_null(co_sim_hook_embedded("find . -exec {} ;"));
    cr_assert_eq(co_sim_probe_placeholder("{peer}"), 0);
    cr_assert_eq(co_sim_probe_placeholder("{peer_addr}"), 1);
    cr_assert_eq(co_sim_probe_placeholder("{mtu}"), 2);
    cr_assert_eq(co_sim_probe_placeholder("{payload}"), 3);
    cr_assert_eq(co_sim_probe_placeholder("{host}"), -1);
    cr_assert_str_eq(co_sim_hook_embedded("-s{payload}"), "{payload}");
}

/* hooks.mtu_probe: an argv like the others, plus its own placeholders */
Test(load_exec, mtu_probe)
{
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(HOSTS "\"hooks\": {\"mtu_probe\": [\"ssh\", \"{host}\", \"ping\", \"-M\", "
                            "\"do\", \"-s\", \"{payload}\", \"{peer_addr}\", \"{peer}\", "
                            "\"{mtu}\"]}}",
                      &d, &c),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(c->exec.hook[CO_HOOK_MTU_PROBE].argc, 10);
    cr_assert_str_eq(c->exec.hook[CO_HOOK_MTU_PROBE].argv[6], "{payload}");
    cr_assert_float_eq(c->exec.hook[CO_HOOK_MTU_PROBE].timeout_ms, 30e3, 1e-9);
    co_sim_cluster_free(c);
    cr_assert_eq(load(HOSTS "\"hooks\": {\"mtu_probe\": {\"argv\": [\"p\", \"{peer_addr}\"], "
                            "\"timeout\": \"5s\"}}}",
                      &d, &c),
                 CO_OK, "%s", d.msg);
    cr_assert_float_eq(c->exec.hook[CO_HOOK_MTU_PROBE].timeout_ms, 5e3, 1e-9);
    co_sim_cluster_free(c);
    expect_bad(HOSTS "\"hooks\": {\n \"mtu_probe\": [\"ping\", \"-s{payload}\"]}}",
               "t.json:6: hooks.mtu_probe[1]: '-s{payload}' holds the placeholder {payload} "
               "inside a larger string");
    expect_bad(HOSTS "\"hooks\": {\n \"mtu_probe\": [\"{peer_addr}\"]}}",
               "t.json:6: hooks.mtu_probe[0]: the program (argv[0]) must be named");
    expect_bad(HOSTS "\"hooks\": {\n \"mtu_probe\": []}}",
               "t.json:6: hooks.mtu_probe: empty argv");
    expect_bad(HOSTS "\"hooks\": {\n \"mtu_probe\": \"ping {peer_addr}\"}}",
               "t.json:6: hooks.mtu_probe: expected an argv array of strings");
    /* a peer placeholder in a hook that runs once per host */
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": [\"x\",\n \"{peer}\"]}}",
               "t.json:7: hooks.patch[1]: {peer} is a placeholder of hooks.mtu_probe only");
}

/* each host's line is kept (cutover cycle names a host without uri by it) */
Test(load_exec, host_lines)
{
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(HOSTS "\"vms\": []}", &d, &c), CO_OK, "%s", d.msg);
    cr_assert_eq(c->hosts[0].line, 2);
    cr_assert_eq(c->hosts[1].line, 3);
    co_sim_cluster_free(c);
}

#define GOOD                                                                               \
    HOSTS                                                                                  \
    "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, \"mem\": \"1GiB\"}],\n"      \
    "\"hooks\": {\n"                                                                       \
    "  \"comment\": \"argv arrays, no shell\",\n"                                          \
    "  \"before_cycle\": [\"/usr/local/bin/mgmt-upgrade\"],\n"                             \
    "  \"patch\": [\"ssh\", \"{host}\", \"apt-get\", \"-y\", \"upgrade\"],\n"               \
    "  \"reboot\": {\"argv\": [\"ssh\", \"{host}\", \"systemctl\", \"reboot\"], "           \
    "\"timeout\": \"10min\"},\n"                                                           \
    "  \"validate\": {\"argv\": [\"check\", \"--uri\", \"{uri}\", \"\"]},\n"               \
    "  \"after_cycle\": [\"logger\", \"cycle done; $(not run)\"]\n"                        \
    "},\n"                                                                                 \
    "\"plan\": {\"canary\": [\"a\"], \"execution\": {\n"                                   \
    "  \"return_timeout\": \"15min\", \"return_backoff\": \"2s\", \"clock_skew_max\": \"1min\",\n" \
    "  \"failure_budget\": {\"hosts\": 1, \"vms_over_budget\": 3},\n"                      \
    "  \"unmovable\": \"after-return\", \"validate_vm\": true, \"mtu_check\": false,\n"    \
    "  \"comment\": \"what cutover cycle needs\"}}}\n"

Test(load_exec, good_file)
{
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(GOOD, &d, &c), CO_OK, "%s", d.msg);
    const co_sim_exec *x = &c->exec;
    const co_sim_hook *p = &x->hook[CO_HOOK_PATCH];
    cr_assert_eq(p->argc, 5);
    const char *pw[] = {"ssh", "{host}", "apt-get", "-y", "upgrade"};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(p->argv[i], pw[i]);
    cr_assert_null(p->argv[5]);
    cr_assert_float_eq(p->timeout_ms, 600e3, 1e-9);
    const co_sim_hook *r = &x->hook[CO_HOOK_REBOOT];
    cr_assert_eq(r->argc, 4);
    cr_assert_str_eq(r->argv[3], "reboot");
    cr_assert_float_eq(r->timeout_ms, 600e3, 1e-9, "10min");
    const co_sim_hook *v = &x->hook[CO_HOOK_VALIDATE];
    cr_assert_eq(v->argc, 4);
    cr_assert_str_eq(v->argv[3], "", "an empty argument is an argument");
    cr_assert_float_eq(v->timeout_ms, 600e3, 1e-9);
    cr_assert_str_eq(x->hook[CO_HOOK_AFTER_CYCLE].argv[1], "cycle done; $(not run)");
    cr_assert_eq(x->hook[CO_HOOK_BEFORE_CYCLE].argc, 1);
    cr_assert_null(x->hook[CO_HOOK_STAGE].argv);
    cr_assert_null(x->hook[CO_HOOK_FIRMWARE].argv);
    cr_assert_float_eq(x->hook[CO_HOOK_FIRMWARE].timeout_ms, 1800e3, 1e-9);
    cr_assert_float_eq(x->return_timeout_ms, 900e3, 1e-9);
    cr_assert_float_eq(x->return_backoff_ms, 2e3, 1e-9);
    cr_assert_float_eq(x->clock_skew_max_ms, 60e3, 1e-9);
    cr_assert_eq(x->fail_hosts_max, 1);
    cr_assert_eq(x->fail_vms_over_budget_max, 3);
    cr_assert_eq(x->unmovable, CO_UNMOV_AFTER_RETURN);
    cr_assert_eq(x->validate_vm, 1);
    cr_assert_eq(x->mtu_check, 0);
    cr_assert_eq(c->plan.canary[0], 1, "the rest of the plan still read");
    co_sim_cluster_free(c);
}

Test(load_exec, vms_over_budget_any_and_leave)
{
    co_diag d;
    co_sim_cluster *c;
    cr_assert_eq(load(HOSTS "\"plan\": {\"execution\": {\"failure_budget\": "
                            "{\"vms_over_budget\": \"any\"}, \"unmovable\": \"leave\"}}}",
                      &d, &c),
                 CO_OK, "%s", d.msg);
    cr_assert_eq(c->exec.fail_vms_over_budget_max, -1);
    cr_assert_eq(c->exec.fail_hosts_max, 0);
    cr_assert_eq(c->exec.unmovable, CO_UNMOV_LEAVE);
    co_sim_cluster_free(c);
}

/* ---- bad hooks: exact FILE:LINE: PATH: message ---- */

Test(load_exec, placeholder_inside_a_larger_string)
{
    expect_bad(HOSTS "\"hooks\": {\n"
                     " \"patch\": [\"ssh\", \"{host}\",\n"
                     "   \"--host={host}\"]\n"
                     "}}",
               "t.json:7: hooks.patch[2]: '--host={host}' holds the placeholder {host} inside a "
               "larger string: placeholders must be whole elements");
    expect_bad(HOSTS "\"hooks\": {\n"
                     " \"reboot\": {\"argv\": [\"virsh\", \"-c\",\n"
                     "   \"{uri}?no_verify=1\"]}\n"
                     "}}",
               "t.json:7: hooks.reboot.argv[2]: '{uri}?no_verify=1' holds the placeholder "
               "{uri} inside a larger string: placeholders must be whole elements");
}

Test(load_exec, unknown_hook)
{
    expect_bad(HOSTS "\"hooks\": {\n \"pach\": [\"x\"]}}",
               "t.json:6: hooks.pach: unknown field (see docs/simulate.md)");
}

Test(load_exec, empty_argv)
{
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": []}}",
               "t.json:6: hooks.patch: empty argv: give the program and its arguments, or leave "
               "the hook out");
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": {\"argv\": []}}}",
               "t.json:6: hooks.patch.argv: empty argv");
}

Test(load_exec, non_string_elements)
{
    expect_bad(HOSTS "\"hooks\": {\n \"stage\": [\"fetch\",\n 3]}}",
               "t.json:7: hooks.stage[1]: expected a string (every argv element is one)");
    expect_bad(HOSTS "\"hooks\": {\n \"stage\": [\"fetch\", null]}}",
               "t.json:6: hooks.stage[1]: expected a string");
    expect_bad(HOSTS "\"hooks\": {\n \"stage\": [[\"fetch\"]]}}",
               "t.json:6: hooks.stage[0]: expected a string");
    /* jansson refuses a NUL inside a string before we see it */
    expect_bad(HOSTS "\"hooks\": {\n \"stage\": [\"a\\u0000b\"]}}", "t.json:6:21: JSON syntax");
}

Test(load_exec, shell_string_refused)
{
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": \"ssh {host} apt-get -y upgrade\"}}",
               "t.json:6: hooks.patch: expected an argv array of strings, or {\"argv\": [...], "
               "\"timeout\": \"10min\"}");
}

Test(load_exec, program_must_be_named)
{
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": [\"\", \"x\"]}}",
               "t.json:6: hooks.patch[0]: the program (argv[0]) is empty");
    expect_bad(HOSTS "\"hooks\": {\n \"patch\": [\"{host}\"]}}",
               "t.json:6: hooks.patch[0]: the program (argv[0]) must be named, not a "
               "placeholder");
}

Test(load_exec, hook_object_fields)
{
    expect_bad(HOSTS "\"hooks\": {\n \"reboot\": {\"timeout\": \"5min\"}}}",
               "t.json:6: hooks.reboot: missing \"argv\"");
    expect_bad(HOSTS "\"hooks\": {\n \"reboot\": {\"argv\": [\"r\"],\n \"timout\": \"5min\"}}}",
               "t.json:7: hooks.reboot.timout: unknown field");
    expect_bad(HOSTS "\"hooks\": {\n \"reboot\": {\"argv\": [\"r\"],\n \"timeout\": \"soon\"}}}",
               "t.json:7: hooks.reboot.timeout: 'soon' is not a time");
    expect_bad(HOSTS "\"hooks\": {\n \"reboot\": {\"argv\": [\"r\"], \"timeout\": 0}}}",
               "t.json:6: hooks.reboot.timeout: expected a time");
    expect_bad(HOSTS "\"hooks\": {\n \"reboot\": {\"argv\": \"r\"}}}",
               "t.json:6: hooks.reboot.argv: expected an argv array of strings");
}

Test(load_exec, hooks_not_an_object)
{
    expect_bad(HOSTS "\"hooks\":\n [\"patch\"]}", "t.json:6: hooks: expected an object of hooks");
}

/* ---- bad plan.execution ---- */

#define EXEC(body) HOSTS "\"plan\": {\"execution\": {\n" body "}}}"

Test(load_exec, execution_fields)
{
    expect_bad(EXEC(" \"retrun_timeout\": \"5min\""),
               "t.json:6: plan.execution.retrun_timeout: unknown field");
    expect_bad(EXEC(" \"return_timeout\": \"5 parsecs\""),
               "t.json:6: plan.execution.return_timeout: '5 parsecs' is not a time");
    expect_bad(EXEC(" \"return_backoff\": 3"),
               "t.json:6: plan.execution.return_backoff: expected a time");
    expect_bad(EXEC(" \"clock_skew_max\": \"0s\""),
               "t.json:6: plan.execution.clock_skew_max: 0 is out of range");
    expect_bad(EXEC(" \"unmovable\": \"migrate\""),
               "t.json:6: plan.execution.unmovable: 'migrate' is not shutdown, after-return or "
               "leave");
    expect_bad(EXEC(" \"validate_vm\": \"yes\""),
               "t.json:6: plan.execution.validate_vm: expected true or false");
    expect_bad(EXEC(" \"mtu_check\": 1"), "t.json:6: plan.execution.mtu_check: expected true or "
                                          "false");
    expect_bad(EXEC(" \"failure_budget\": {\n \"hosts\": -1}"),
               "t.json:7: plan.execution.failure_budget.hosts: -1 is out of range");
    expect_bad(EXEC(" \"failure_budget\": {\n \"vms_over_budget\": \"all\"}"),
               "t.json:7: plan.execution.failure_budget.vms_over_budget: expected an integer >= "
               "0 or \"any\"");
    expect_bad(EXEC(" \"failure_budget\": {\n \"vm\": 2}"),
               "t.json:7: plan.execution.failure_budget.vm: unknown field");
    expect_bad(EXEC(" \"failure_budget\": 2"),
               "t.json:6: plan.execution.failure_budget: expected an object");
    expect_bad(HOSTS "\"plan\": {\n\"execution\": true}}", "t.json:6: plan.execution: expected an "
                                                          "object");
}

/* ---- files that exist ---- */

Test(load_exec, example_cluster_still_loads)
{
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file("traces/example-cluster.json", &c, &d), CO_OK, "%s", d.msg);
    cr_assert_null(c->exec.hook[CO_HOOK_PATCH].argv);
    co_sim_cluster_free(c);
}

/* tests/sim/data/lab-cluster.json is a cluster.json as `cutover lab cluster
 * up` wrote it (lab/cluster.c cluster_json: uri, migration_uri, mtu, dirty
 * objects, comments); an operator adds "hooks" and plan "execution" to it. */
Test(load_exec, lab_cluster_json_loads_with_and_without_hooks)
{
    const char *path = "tests/sim/data/lab-cluster.json";
    co_diag d;
    co_diag_init(&d);
    co_sim_cluster *c;
    cr_assert_eq(co_sim_load_file(path, &c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(c->nhosts, 3);
    cr_assert_str_eq(c->hosts[0].uri, "qemu+tcp://169.254.101.1/system");
    co_sim_cluster_free(c);

    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_t *hooks = json_pack("{s:[s,s,s,s,s], s:[s,s,s,s,s,s], s:{s:[s,s,s], s:s}}", "patch",
                              "/usr/local/lib/cutover/bump-version", "{journal_dir}", "{host}",
                              "--to", "2", "reboot", "cutover", "lab", "cluster", "reboot",
                              "/tmp/lab", "{host}", "validate", "argv", "check-version",
                              "{uri}", "2", "timeout", "90s");
    cr_assert_not_null(hooks);
    json_object_set_new(root, "hooks", hooks);
    json_object_set_new(root, "plan",
                        json_pack("{s:[s], s:{s:s, s:{s:i}}}", "canary", "h1", "execution",
                                  "return_timeout", "60s", "failure_budget", "hosts", 0));
    char *text = json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    co_diag_init(&d);
    int rc = co_sim_load_buffer(text, strlen(text), "lab-cycle.json", &c, &d);
    free(text);
    cr_assert_eq(rc, CO_OK, "%s", d.msg);
    cr_assert_eq(c->exec.hook[CO_HOOK_REBOOT].argc, 6);
    cr_assert_str_eq(c->exec.hook[CO_HOOK_VALIDATE].argv[1], "{uri}");
    cr_assert_float_eq(c->exec.hook[CO_HOOK_VALIDATE].timeout_ms, 90e3, 1e-9);
    cr_assert_float_eq(c->exec.return_timeout_ms, 60e3, 1e-9);
    co_sim_cluster_free(c);
}

/* The simulator ignores the section: a run of the file with hooks and
 * execution is the run of the file without them, to the bit. */
Test(load_exec, simulate_ignores_execution)
{
    const char *plain = HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, "
                              "\"mem\": \"1GiB\", \"dirty\": \"uniform:wss=256MiB,rate=2000\"}],\n"
                              "\"plan\": {\"canary\": [\"a\"]}}\n";
    const char *with = HOSTS "\"vms\": [{\"name\": \"v\", \"host\": \"a\", \"vcpus\": 1, "
                             "\"mem\": \"1GiB\", \"dirty\": \"uniform:wss=256MiB,rate=2000\"}],\n"
                             "\"hooks\": {\"patch\": [\"p\", \"{host}\"], \"reboot\": "
                             "{\"argv\": [\"r\"], \"timeout\": \"1s\"}},\n"
                             "\"plan\": {\"canary\": [\"a\"], \"execution\": {\"return_timeout\": "
                             "\"1s\", \"unmovable\": \"leave\", \"validate_vm\": true}}}\n";
    co_diag d;
    co_sim_cluster *a, *b;
    cr_assert_eq(load(plain, &d, &a), CO_OK, "%s", d.msg);
    cr_assert_eq(load(with, &d, &b), CO_OK, "%s", d.msg);
    co_sim_run *ra = co_sim_run_new(a), *rb = co_sim_run_new(b);
    cr_assert(ra && rb);
    for (uint64_t i = 0; i < 5; i++) {
        co_sim_run_result x, y;
        cr_assert_eq(co_sim_run_once(ra, 7, i, &x), CO_OK);
        cr_assert_eq(co_sim_run_once(rb, 7, i, &y), CO_OK);
        cr_assert(x.window_ms == y.window_ms && x.migrations == y.migrations &&
                      x.events == y.events && x.host_hours == y.host_hours,
                  "run %d differs", (int)i);
        cr_assert(co_sim_run_stun_ms(ra)[0] == co_sim_run_stun_ms(rb)[0]);
    }
    co_sim_run_free(ra);
    co_sim_run_free(rb);
    co_sim_cluster_free(a);
    co_sim_cluster_free(b);
}
