# vmsh_testhv: a minimal KVM hypervisor whose real-mode guest checks its own
# memory, for end-to-end tests of vmsh against a hypervisor of our own: here
# (PVM /dev/kvm, no kprobes: vmsh must fail cleanly) and in a lab host.
PROGRAMS += $(BUILD)/tests/vmsh_testhv
$(BUILD)/tests/vmsh_testhv: $(BUILD)/vmsh/tests/testhv.o
LDLIBS_vmsh_testhv := -ljson-c -lpthread
HOST_TESTS += vmsh/tests/testhv.bats
LAB_TESTS += vmsh/tests/testhv_lab.bats
