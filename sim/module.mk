# sim/module.mk: `make bench-sim` builds and runs the simulator benchmark,
# with SimGrid side by side when libsimgrid-dev is installed (pkg-config
# simgrid; an optional bench dependency, never one of cutover's).
SIMGRID_LIBS := $(shell pkg-config --libs simgrid 2>/dev/null)
ifneq ($(SIMGRID_LIBS),)
SG_EVAC := $(BUILD)/bench/sg_evac
$(SG_EVAC): bench/simgrid/sg_evac.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O2 -o $@ $< $(shell pkg-config --cflags simgrid) $(SIMGRID_LIBS)
endif

.PHONY: bench-sim
bench-sim: $(BUILD)/bench/bench_sim $(BUILD)/cutover $(SG_EVAC)
	BUILD=$(BUILD) $(BUILD)/bench/bench_sim
