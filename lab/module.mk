# lab/module.mk: install what `cutover lab` needs at run time besides the
# binary: the test guest and the cluster lab's helper script, where
# co_lab_find_guest() and co_cluster_find_script() look
# ($(PREFIX)/share/cutover, and ../share/cutover from the installed binary);
# `make uninstall` removes them (INSTALLED).
.PHONY: install-lab
install: install-lab
install-lab: $(BUILD)/guest/guest.elf
	install -d $(DESTDIR)$(DATADIR)
	install -m 0644 $(BUILD)/guest/guest.elf $(DESTDIR)$(DATADIR)/guest.elf
	install -m 0755 lab/cluster.sh $(DESTDIR)$(DATADIR)/cluster.sh
	install -m 0644 lab/libvirt-host.sh $(DESTDIR)$(DATADIR)/libvirt-host.sh
INSTALLED += share/cutover/guest.elf share/cutover/cluster.sh share/cutover/libvirt-host.sh
