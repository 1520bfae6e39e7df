# Entering the guest kernel through one vCPU (vcpu.h).
VMSH_OBJS += $(BUILD)/vmsh/src/vcpu.o

# Which vCPU may take the entry (vcpu.h's pure rules).
UNIT_TESTS += $(BUILD)/tests/vmsh_vcpu
$(BUILD)/tests/vmsh_vcpu: $(BUILD)/vmsh/tests/test_vcpu.o $(BUILD)/vmsh/src/vcpu.o \
	$(BUILD)/vmsh/src/kvmrun.o $(BUILD)/vmsh/src/hv.o $(BUILD)/vmsh/src/tracee.o \
	$(BUILD)/vmsh/src/memslots.o $(BUILD)/vmsh/src/hostbtf.o $(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_vcpu = $(LDLIBS_vmsh) -lcmocka
