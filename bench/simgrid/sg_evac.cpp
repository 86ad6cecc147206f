/* bench/simgrid/sg_evac.cpp: the evacuation scenarios of issue 15 in
 * SimGrid 3.32 (s4u and its live-migration plugin), for `make bench-sim`
 * to run beside cutover. Not part of cutover; built only when pkg-config
 * finds simgrid.
 *
 *   sg_evac PLATFORM.xml MIGRATIONS.txt [--cfg=...]
 *
 * MIGRATIONS.txt (bench/simgrid/gen.py): one line per VM, "name src dst
 * ram_bytes". Each VM is created on its source host and started; one actor
 * per VM, on the source host, calls sg_vm_migrate() at t = 0 (the first
 * half of the hosts emptied at once, no limit). The VMs run no task, so
 * the plugin's dirty-page tracking sees no computed flops and dirties
 * nothing: pre-copy stage 1 sends ram_bytes, stage 2 finds nothing to
 * resend, stage 3 sends the (empty) rest. Prints the simulated makespan
 * (the clock when the last migration returned) on stdout: "makespan_s X". */
#include <simgrid/plugins/live_migration.h>
#include <simgrid/s4u.hpp>
#include <simgrid/s4u/VirtualMachine.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sg4 = simgrid::s4u;

int main(int argc, char** argv)
{
    sg4::Engine e(&argc, argv);
    if (argc != 3) {
        std::fprintf(stderr, "usage: sg_evac PLATFORM.xml MIGRATIONS.txt [--cfg=...]\n");
        return 64;
    }
    sg_vm_live_migration_plugin_init();
    e.load_platform(argv[1]);
    std::ifstream in(argv[2]);
    if (!in) {
        std::fprintf(stderr, "sg_evac: cannot read %s\n", argv[2]);
        return 66;
    }
    std::string line;
    long n = 0;
    double last_s = 0;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string name, src, dst;
        unsigned long long bytes;
        if (!(ls >> name >> src >> dst >> bytes)) {
            std::fprintf(stderr, "sg_evac: %s:%ld: expected \"name src dst bytes\"\n", argv[2], n + 1);
            return 65;
        }
        sg4::Host* s = e.host_by_name(src);
        sg4::Host* d = e.host_by_name(dst);
        sg4::VirtualMachine* vm = s->create_vm(name, 1, (size_t)bytes);
        vm->start();
        sg4::Actor::create("mig-" + name, s, [vm, d, &last_s]() {
            sg_vm_migrate(vm, d);
            last_s = sg4::Engine::get_clock();
        });
        n++;
    }
    e.run();
    std::printf("migrations %ld\nmakespan_s %.6f\n", n, last_s);
    return 0;
}
