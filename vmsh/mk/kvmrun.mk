# The KVM_RUN trap (kvmrun.h): MMIO exits served while the hypervisor runs.
VMSH_OBJS += $(BUILD)/vmsh/src/kvmrun.o

# Drives the trap against vmsh_testhv (testhv.bats).
PROGRAMS += $(BUILD)/tests/vmsh_kvmrun_probe
$(BUILD)/tests/vmsh_kvmrun_probe: $(BUILD)/vmsh/tests/kvmrun_probe.o $(BUILD)/vmsh/src/kvmrun.o \
	$(BUILD)/vmsh/src/hv.o $(BUILD)/vmsh/src/tracee.o $(BUILD)/vmsh/src/memslots.o $(BUILD)/vmsh/src/hostbtf.o \
	$(BUILD)/vmsh/src/guest_mem.o \
	$(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_kvmrun_probe = $(LDLIBS_vmsh)

# Finding kvm_run in /proc/PID/maps.
UNIT_TESTS += $(BUILD)/tests/vmsh_kvmrun
$(BUILD)/tests/vmsh_kvmrun: $(BUILD)/vmsh/tests/test_kvmrun.o $(BUILD)/vmsh/src/kvmrun.o \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_kvmrun := -lcmocka
