/* tests/inventory/test_inventory_input.c: `cutover inventory` without a
 * cluster: bad flags and files (one line, sysexits code, FILE:LINE: field),
 * an unreachable host named, and the writer: an inventory built in code is
 * saved with a measured VM's trace beside it and loads with
 * co_sim_load_file, with the defaulted figures listed in "source". */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inventory/inventory.h"
#include "sim/sim.h"
#include "test_util.h"
#include "util/error.h"

static char out[1 << 16], err[1 << 14], dir[64];

static int one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl != NULL && nl[1] == '\0';
}

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/co-inv-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    if (!dir[0])
        return;
    const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
    pid_t p = fork();
    if (p == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    dir[0] = '\0';
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static int run_inv(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "inventory %s", args);
    return co_test_run(cmd, out, sizeof out, err, sizeof err);
}

Test(inventory_input, bad_flags_are_64)
{
    cr_assert_eq(run_inv("-o /tmp/x.json"), 64);
    cr_assert(one_line(err) && strstr(err, "missing FILE"), "%s", err);
    cr_assert_eq(run_inv("tests/data/history/cluster.json"), 64);
    cr_assert(strstr(err, "missing -o"), "%s", err);
    cr_assert_eq(run_inv("f.json --connect qemu:///system -o x.json"), 64);
    cr_assert_eq(run_inv("--connect qemu:///system -o x.json --mtu 99"), 64);
    cr_assert(strstr(err, "--mtu"), "%s", err);
    cr_assert_eq(run_inv("--connect qemu:///system -o x.json --measure-dirty maybe"), 64);
    cr_assert_eq(run_inv("--connect qemu:///system -o x.json --nic fast"), 64);
    cr_assert_eq(run_inv("--connect a,,b -o x.json"), 64);
    cr_assert(strstr(err, "item 2"), "%s", err);
    cr_assert_eq(run_inv("--connect a,a -o x.json"), 64);
    cr_assert_str_eq(out, "");
}

Test(inventory_input, bad_files, .fini = rm_tmp)
{
    mkdir_tmp();
    char f[128], args[300];
    cr_assert_eq(run_inv("/nonexistent/c.json -o /tmp/x.json"), 66);
    cr_assert(one_line(err) && strstr(err, "/nonexistent/c.json"), "%s", err);
    snprintf(f, sizeof f, "%s/syntax.json", dir);
    write_file(f, "{\n \"hosts\": [\n  {\"name\": \"h1\",\n");
    snprintf(args, sizeof args, "%s -o %s/o.json", f, dir);
    cr_assert_eq(run_inv(args), 65);
    cr_assert(one_line(err) && strstr(err, "syntax.json:4"), "%s", err);
    snprintf(f, sizeof f, "%s/nouri.json", dir);
    write_file(f, "{\"hosts\": [\n {\"name\": \"h1\", \"uri\": \"qemu:///system\"},\n"
                  " {\"name\": \"h2\"}\n]}\n");
    snprintf(args, sizeof args, "%s -o %s/o.json", f, dir);
    cr_assert_eq(run_inv(args), 65);
    cr_assert(one_line(err) && strstr(err, "nouri.json:3: hosts[1]") && strstr(err, "uri"),
              "%s", err);
    snprintf(f, sizeof f, "%s/nic.json", dir);
    write_file(f, "{\"hosts\": [\n {\"name\": \"h1\", \"uri\": \"qemu:///system\",\n"
                  "  \"nic_rate\": \"fast\"}\n]}\n");
    snprintf(args, sizeof args, "%s -o %s/o.json", f, dir);
    cr_assert_eq(run_inv(args), 65);
    cr_assert(one_line(err) && strstr(err, "nic.json:3: hosts[0].nic_rate"), "%s", err);
    snprintf(f, sizeof f, "%s/empty.json", dir);
    write_file(f, "{\"hosts\": []}\n");
    snprintf(args, sizeof args, "%s -o %s/o.json", f, dir);
    cr_assert_eq(run_inv(args), 65);
    cr_assert(strstr(err, "hosts"), "%s", err);
    snprintf(f, sizeof f, "%s/o.json", dir);
    cr_assert_neq(access(f, F_OK), 0, "nothing is written on bad input");
}

/* Nothing listens on port 1: the host is named, exit 69, no file. */
Test(inventory_input, unreachable_host_named, .fini = rm_tmp)
{
    mkdir_tmp();
    char f[128], args[300];
    snprintf(f, sizeof f, "%s/c.json", dir);
    write_file(f, "{\"hosts\": [{\"name\": \"far\", \"uri\": \"qemu+tcp://127.0.0.1:1/system\"}]}");
    snprintf(args, sizeof args, "%s -o %s/o.json --timeout 10s", f, dir);
    cr_assert_eq(run_inv(args), 69, "%s", err);
    cr_assert(one_line(err) && strstr(err, "host far") && strstr(err, "127.0.0.1:1"), "%s", err);
    snprintf(f, sizeof f, "%s/o.json", dir);
    cr_assert_neq(access(f, F_OK), 0);
}

/* The writer: two hosts, three VMs (one measured, one with FILE's curve,
 * one with nothing), saved and loaded back by the simulator. */
Test(inventory_input, saved_file_loads_with_traces, .fini = rm_tmp)
{
    mkdir_tmp();
    char f[128];
    snprintf(f, sizeof f, "%s/cluster.json", dir);
    write_file(f, "{\"hosts\": [\n"
                  " {\"name\": \"a\", \"uri\": \"qemu+tcp://10.0.0.1/system\", \"nic_rate\": "
                  "\"10Gbit\", \"failure_domain\": \"fd1\"},\n"
                  " {\"name\": \"b\", \"uri\": \"qemu+tcp://10.0.0.2/system\", "
                  "\"migration_uri\": \"tcp://10.0.0.2\"}],\n"
                  " \"vms\": [{\"name\": \"given\", \"host\": \"a\", \"vcpus\": 1, \"mem\": "
                  "\"1GiB\", \"dirty\": \"uniform:wss=100MiB,rate=2000\", \"anti_affinity\": "
                  "\"g\"},\n {\"name\": \"gone\", \"host\": \"a\", \"vcpus\": 1, \"mem\": "
                  "\"1GiB\"}],\n"
                  " \"hooks\": {\"patch\": [\"ssh\", \"{host}\", \"apt-get\", \"-y\", "
                  "\"upgrade\"]},\n"
                  " \"plan\": {\"max_hosts_in_maintenance\": 1}}\n");
    co_inv *inv = calloc(1, sizeof *inv);
    co_inv_init(inv);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_inv_from_file(inv, f, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(inv->nhosts, 2);
    snprintf(inv->taken_at, sizeof inv->taken_at, "2026-12-02T06:00:00Z");
    for (int i = 0; i < 2; i++) {
        inv->hosts[i].cores = 8;
        inv->hosts[i].mem_bytes = 32.0 * (1 << 30);
    }
    inv->hosts[1].mtu = 9000; /* as if measured */
    snprintf(inv->hosts[1].mtu_how, sizeof inv->hosts[1].mtu_how, "measured: MTU of eth0");
    inv->vms = calloc(3, sizeof *inv->vms);
    inv->nvms = inv->capvms = 3;
    const char *names[] = {"given", "meas/ured", "none"};
    for (int i = 0; i < 3; i++) {
        co_inv_vm *v = &inv->vms[i];
        snprintf(v->name, sizeof v->name, "%s", names[i]);
        v->host = i == 0 ? 0 : 1;
        v->vcpus = 2;
        v->mem_bytes = 1 << 30;
        snprintf(v->dirty_how, sizeof v->dirty_how, "dirty rate not measured: TCG guest");
        snprintf(v->mem_used_how, sizeof v->mem_used_how, "defaulted: mem_used = mem");
    }
    co_inv_vm *m = &inv->vms[1];
    m->dirty_measured = 1;
    m->mem_used_bytes = 300 << 20;
    snprintf(m->mem_used_how, sizeof m->mem_used_how, "measured: balloon");
    m->trace.n = 1;
    m->trace.window_ms[0] = 1000;
    m->trace.dirty_pages[0] = 5000;
    m->trace.mem_bytes = 1 << 30;
    m->trace.page_size_bytes = 4096;
    m->trace.vcpus = 2;
    snprintf(m->trace.method, sizeof m->trace.method, "calc-dirty-rate/page-sampling");
    snprintf(m->dirty_how, sizeof m->dirty_how, "measured: 19 MiB/s over 1 s");
    co_inv_opts o = {.measure_dirty = 1};
    co_inv_settle(inv, &o);
    cr_assert_float_eq(inv->hosts[0].nic_bytes_per_s, 1.25e9, 1);
    cr_assert(strstr(inv->hosts[0].nic_how, "given: FILE:2"), "%s", inv->hosts[0].nic_how);
    cr_assert_float_eq(inv->hosts[1].nic_bytes_per_s, 125e6, 1);
    cr_assert(!strncmp(inv->hosts[1].nic_how, "defaulted", 9), "%s", inv->hosts[1].nic_how);
    cr_assert_eq(inv->hosts[0].mtu, 1500);
    cr_assert_eq(inv->hosts[1].mtu, 9000);
    char o_path[128];
    snprintf(o_path, sizeof o_path, "%s/inv.json", dir);
    cr_assert_eq(co_inv_save(inv, o_path, &d), CO_OK, "%s", d.msg);
    char tr[160];
    snprintf(tr, sizeof tr, "%s/inv.traces/meas_ured.json", dir);
    cr_assert_eq(access(tr, R_OK), 0, "trace written beside OUT");
    co_sim_cluster *c = NULL;
    cr_assert_eq(co_sim_load_file(o_path, &c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(c->nhosts, 2);
    cr_assert_eq(c->nvms, 3);
    cr_assert_eq(c->hosts[1].mtu, 9000);
    cr_assert_str_eq(c->hosts[1].migration_uri, "tcp://10.0.0.2");
    cr_assert_eq(c->profiles[c->vms[1].profile].dirty.kind, CO_DIRTY_TABLE);
    cr_assert_eq(c->profiles[c->vms[0].profile].dirty.kind, CO_DIRTY_UNIFORM);
    cr_assert_eq(c->profiles[c->vms[2].profile].dirty.kind, CO_DIRTY_NONE);
    cr_assert_float_eq(c->profiles[c->vms[1].profile].zero_fraction, 1 - 300.0 / 1024, 1e-9);
    cr_assert_eq(c->vms[0].group, 0, "FILE's anti_affinity carried");
    cr_assert_eq(c->exec.hook[CO_HOOK_PATCH].argc, 5, "FILE's hooks carried: a cycle file stays one");
    co_sim_cluster_free(c);
    json_t *j = json_load_file(o_path, 0, NULL);
    json_t *src = json_object_get(j, "source");
    char *s = json_dumps(src, 0);
    cr_assert(strstr(s, "b nic_rate 1 Gbit/s: 1 Gbit/s") || strstr(s, "b nic_rate 1 Gbit/s"),
              "%s", s);
    char *def = json_dumps(json_object_get(src, "defaulted"), 0);
    char *gone = json_dumps(json_object_get(src, "in_file_not_running"), 0);
    cr_assert(strstr(def, "none mem_used"), "%s", s);
    cr_assert(strstr(gone, "gone"), "%s", s);
    free(def);
    free(gone);
    free(s);
    json_decref(j);
    co_inv_free(inv);
    free(inv);
}

/* A paused copy of a VM that runs on another host (a rebalance's leftover)
 * is named and not counted; two copies of which none runs is a migration in
 * flight: CO_EBUSY. */
static void put_vm(co_inv *inv, const char *name, int host, int paused)
{
    co_inv_vm *v = &inv->vms[inv->nvms++];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->host = host;
    v->paused = paused;
    v->extra = json_object();
}

Test(inventory_input, paused_leftover_not_counted)
{
    co_inv *inv = malloc(sizeof *inv);
    co_inv_init(inv);
    inv->nhosts = 2;
    snprintf(inv->hosts[0].name, sizeof inv->hosts[0].name, "h1");
    snprintf(inv->hosts[1].name, sizeof inv->hosts[1].name, "h2");
    inv->capvms = 8;
    inv->vms = calloc(8, sizeof *inv->vms);
    put_vm(inv, "vm1", 0, 0);
    put_vm(inv, "vm2", 0, 1); /* leftover on h1 */
    put_vm(inv, "vm3", 1, 1); /* paused, no twin: its own VM */
    put_vm(inv, "vm2", 1, 0);
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_inv_drop_leftovers(inv, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(inv->nvms, 3);
    cr_assert_str_eq(inv->vms[1].name, "vm3");
    cr_assert_str_eq(inv->vms[2].name, "vm2");
    cr_assert_eq(inv->vms[2].host, 1);
    cr_assert_eq(json_array_size(inv->leftovers), 1);
    const char *s = json_string_value(json_array_get(inv->leftovers, 0));
    cr_assert(strstr(s, "vm2: a paused copy on h1 while it runs on h2"), "%s", s);
    json_t *j = co_inv_json(inv);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(j, "source"), "leftovers")), 1);
    json_decref(j);
    /* both copies paused: in flight */
    put_vm(inv, "vm3", 0, 1);
    cr_assert_eq(co_inv_drop_leftovers(inv, &d), CO_EBUSY);
    cr_assert(strstr(d.msg, "VM vm3 is on h2 and h1"), "%s", d.msg);
    co_inv_free(inv);
    free(inv);
}
