/* tests/inventory/test_inventory_lab.c: `cutover inventory` on the cluster
 * lab (3 libvirt hosts, 3 TCG guests; ~20 s): what it finds from the lab's
 * cluster.json and from --connect, and that simulate runs the result.
 * Dirty rates are not measured here (TCG guests, --measure-dirty kvm, the
 * default): QEMU 7.2 under TCG can hang its monitor in the calculation
 * (docs/forecast.md), which would break the lab's guests. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/error.h"

#include "cluster_fx.h"

/* the fixture's helper, unused here */
__attribute__((unused)) static void unused_helpers(void) { (void)dom_state; }

Test(inventory_lab, three_hosts, .fini = fx_fini, .timeout = 300)
{
    const char *why = unavailable();
    if (why)
        cr_skip_test("%s", why);
    const char *flags[] = {"--hosts", "3", "--vms", "3", "--mem", "32MiB", "--nic", "400Mbit",
                           "--mtu", "9000", NULL};
    json_t *lab = up(flags);
    static char out[MAX_OUT], err[MAX_OUT];
    char cj[300], oj[300], oc[300];
    snprintf(cj, sizeof cj, "%s/cluster.json", fx_dir);
    snprintf(oj, sizeof oj, "%s/inv.json", fx_dir);
    snprintf(oc, sizeof oc, "%s/conn.json", fx_dir);
    const char *inv[] = {bin(), "inventory", cj, "-o", oj, "--json", NULL};
    cr_assert_eq(run(inv, out, err, -1), 0, "inventory: %s", err);
    json_t *s = json_loads(out, 0, NULL);
    cr_assert_not_null(s, "%s", out);
    json_t *hs = json_object_get(s, "hosts");
    cr_assert_eq(json_array_size(hs), 3);
    cr_assert_eq(json_array_size(json_object_get(s, "vms")), 3);
    json_t *h1 = json_array_get(hs, 0);
    cr_assert(json_integer_value(json_object_get(h1, "cores")) >= 1);
    cr_assert(json_integer_value(json_object_get(h1, "mem_bytes")) > (1LL << 30));
    cr_assert_float_eq(json_number_value(json_object_get(h1, "nic_bytes_per_s")), 50e6, 1);
    cr_assert(!strncmp(jstr(h1, "nic_how"), "given: FILE", 11), "%s", jstr(h1, "nic_how"));
    json_decref(s);
    /* the file: loads, every lab VM where the lab put it, and simulate runs it */
    co_sim_cluster *c = NULL;
    co_diag d;
    co_diag_init(&d);
    cr_assert_eq(co_sim_load_file(oj, &c, &d), CO_OK, "%s", d.msg);
    cr_assert_eq(c->nhosts, 3);
    cr_assert_eq(c->nvms, 3);
    json_t *lvms = json_object_get(lab, "vms");
    for (int i = 0; i < 3; i++) {
        const char *name = c->vms[i].name;
        int found = 0;
        for (size_t k = 0; k < json_array_size(lvms); k++) {
            json_t *lv = json_array_get(lvms, k);
            if (!strcmp(jstr(lv, "name"), name)) {
                found = 1;
                cr_assert_str_eq(c->hosts[c->vms[i].host].name, jstr(lv, "started_on"), "%s", name);
            }
        }
        cr_assert(found, "%s not in the lab", name);
        cr_assert_float_eq(c->vms[i].mem_bytes, 32.0 * (1 << 20), 1);
        cr_assert_eq(c->vms[i].vcpus, 1);
    }
    cr_assert_eq(c->hosts[0].mtu, 9000);
    co_sim_cluster_free(c);
    const char *sim[] = {bin(), "simulate", oj, "--runs", "5", NULL};
    cr_assert_eq(run(sim, out, err, -1), 0, "simulate: %s", err);
    cr_assert(strstr(out, "window"), "%s", out);
    /* --connect: no FILE, so the MTU comes from libvirt's interface list
     * (the lab's eth0 in each host's namespace) and the NIC from --nic */
    json_t *lh = json_object_get(lab, "hosts");
    char uris[600];
    snprintf(uris, sizeof uris, "%s,%s", jstr(json_array_get(lh, 0), "uri"),
             jstr(json_array_get(lh, 1), "uri"));
    const char *inv2[] = {bin(), "inventory", "--connect", uris, "-o", oc, "--nic", "1Gbit",
                          "--json", NULL};
    cr_assert_eq(run(inv2, out, err, -1), 0, "inventory --connect: %s", err);
    s = json_loads(out, 0, NULL);
    cr_assert_not_null(s);
    h1 = json_array_get(json_object_get(s, "hosts"), 0);
    cr_assert_str_eq(jstr(h1, "name"), "h1");
    cr_assert_eq(json_integer_value(json_object_get(h1, "mtu")), 9000, "%s", jstr(h1, "mtu_how"));
    cr_assert(!strncmp(jstr(h1, "mtu_how"), "measured", 8), "%s", jstr(h1, "mtu_how"));
    cr_assert(!strncmp(jstr(h1, "nic_how"), "given: --nic", 12), "%s", jstr(h1, "nic_how"));
    json_decref(s);
    const char *sim2[] = {bin(), "simulate", oc, "--runs", "5", NULL};
    cr_assert_eq(run(sim2, out, err, -1), 0, "simulate: %s", err);
    json_decref(lab);
}
