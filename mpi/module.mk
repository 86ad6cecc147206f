# mpi/module.mk: build/cutover-mpi, the Monte Carlo of `cutover simulate`
# split across MPI ranks (docs/simulate.md). Built only when mpicc exists
# (Debian: libopenmpi-dev, openmpi-bin; `scripts/install-deps.sh --bench`);
# cutover itself never links MPI.
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPICC),)
CUTOVER_MPI := $(BUILD)/cutover-mpi
$(BUILD)/obj/mpi/main.o: mpi/main.c
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -MMD -MP -c $< -o $@
$(CUTOVER_MPI): $(BUILD)/obj/mpi/main.o $(VIRT_LAZY) $(LIB)
	$(MPICC) $(LDFLAGS) -o $@ $^ $(MAIN_LDLIBS)
all: $(CUTOVER_MPI)
tests: $(CUTOVER_MPI)
bench-sim: $(CUTOVER_MPI)
-include $(BUILD)/obj/mpi/main.d
# installed beside cutover when it was built
INSTALLED += bin/cutover-mpi
.PHONY: install-mpi
install: install-mpi
install-mpi: $(CUTOVER_MPI)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(CUTOVER_MPI) $(DESTDIR)$(PREFIX)/bin/cutover-mpi
endif
