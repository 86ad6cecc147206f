#!/bin/bash
# scripts/rename-prefixes-2026-12.sh: one prefix per module (issue 11, part 4).
#
# Renames, in every tracked *.c *.h *.md *.mk and man/ file:
#   engine/policy:   co_policy_*            -> co_pol_*
#                    co_action, co_action_name -> co_pol_action, co_pol_action_name
#                    enum co_act_kind       -> enum co_pol_act_kind
#   drivers/driver:  co_driver, co_driver_ops -> co_drv, co_drv_ops
#                    co_mig_stats[_init], co_mig_status[_name|_parse],
#                    co_mig_tunables[_init] -> co_drv_stats[_init], co_drv_status[...],
#                                              co_drv_tunables[_init]
#                    CO_MIG_<QEMU status>   -> CO_DRV_MIG_<QEMU status>
#                    (co_mig_* stays the migration model's, model/migration.h)
#   util/clock:      co_now_ms, co_lab_now_ms -> co_clock_ms
# and adds #include "util/clock.h" after the first quoted include of a .c
# file that calls co_clock_ms without including it.
#
# Idempotent: re-run it after merging a branch that still uses the old
# names, then build. Run from anywhere inside the work tree.
set -eu
cd "$(git rev-parse --show-toplevel)"

git ls-files -z -- '*.c' '*.h' '*.md' '*.mk' 'man/*' | xargs -0 -r sed -i -E \
    -e 's/\bco_policy_/co_pol_/g' \
    -e 's/\bco_action_name\b/co_pol_action_name/g' \
    -e 's/\bco_action\b/co_pol_action/g' \
    -e 's/\bco_act_kind\b/co_pol_act_kind/g' \
    -e 's/\bco_driver_ops\b/co_drv_ops/g' \
    -e 's/\bco_driver\b/co_drv/g' \
    -e 's/\bco_mig_(stats_init|stats|status_name|status_parse|status|tunables_init|tunables)\b/co_drv_\1/g' \
    -e 's/\bCO_MIG_(NONE|SETUP|ACTIVE|CANCELLING|CANCELLED|COMPLETED|FAILED|POSTCOPY_ACTIVE|POSTCOPY_PAUSED|POSTCOPY_RECOVER|COLO|PRE_SWITCHOVER|DEVICE|WAIT_UNPLUG)\b/CO_DRV_MIG_\1/g' \
    -e 's/\bco_(lab_)?now_ms\b/co_clock_ms/g'

# The first quoted include is the module's own header: unconditional, so
# the clock's include never lands inside an #ifdef.
git grep -l -w -z co_clock_ms -- '*.c' | while IFS= read -r -d '' f; do
    grep -q '"util/clock.h"' "$f" && continue
    awk 'done == 0 && /^#include "/ { print; print "#include \"util/clock.h\""; done = 1; next }
         { print }' "$f" >"$f.rename-tmp"
    mv "$f.rename-tmp" "$f"
done
