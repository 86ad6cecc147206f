# lab/module.mk: install what `cutover lab` needs at run time besides the
# binary: the test guest and the cluster lab's helper script, where
# co_lab_find_guest() and co_cluster_find_script() look
# ($(PREFIX)/share/cutover).
.PHONY: install-lab
install: install-lab
install-lab: $(BUILD)/guest/guest.elf
	install -d $(DESTDIR)$(PREFIX)/share/cutover
	install -m 0644 $(BUILD)/guest/guest.elf $(DESTDIR)$(PREFIX)/share/cutover/guest.elf
	install -m 0755 lab/cluster.sh $(DESTDIR)$(PREFIX)/share/cutover/cluster.sh
