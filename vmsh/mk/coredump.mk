# vmsh coredump (coredump.h): the ELF core file (core_elf.c), the command
# (coredump.c), and the soft-dirty bits its --live pass reads (softdirty.c).
VMSH_OBJS += $(BUILD)/vmsh/src/core_elf.o $(BUILD)/vmsh/src/coredump.o \
	$(BUILD)/vmsh/src/softdirty.o

UNIT_TESTS += $(BUILD)/tests/vmsh_softdirty
$(BUILD)/tests/vmsh_softdirty: $(BUILD)/vmsh/tests/test_softdirty.o $(BUILD)/vmsh/src/softdirty.o
LDLIBS_vmsh_softdirty := -lcmocka

# Layout, notes, sparse writes and the VMCOREINFO search against fake guest
# memory (a temp file in $TMPDIR, default /tmp).
UNIT_TESTS += $(BUILD)/tests/vmsh_coredump
$(BUILD)/tests/vmsh_coredump: $(BUILD)/vmsh/tests/test_coredump.o $(BUILD)/vmsh/src/core_elf.o \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_coredump := -lcmocka

LAB_TESTS += vmsh/tests/coredump.bats
LAB_TESTS_FULL += vmsh/tests/coredump_full.bats

# crash and drgn open the dumps of coredump.bats with the guest kernel's debug
# vmlinux, from its -dbg package, cached beside the kernel (~25 s, once).
lab-ready: lab-vmlinux
lab-vmlinux:
	$(Q)lab/lab vmlinux 6.1-cloud >/dev/null
	$(Q)lab/lab vmlinux 6.12 >/dev/null

.PHONY: lab-vmlinux
