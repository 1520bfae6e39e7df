# The hypervisor's memory, mapped into vmsh where it is shared (hvmem.h).
VMSH_OBJS += $(BUILD)/vmsh/src/hvmem.o

# maps parsing, and a shared memfd of this very process mapped twice
UNIT_TESTS += $(BUILD)/tests/vmsh_hvmem
$(BUILD)/tests/vmsh_hvmem: $(BUILD)/vmsh/tests/test_hvmem.o $(BUILD)/vmsh/src/hvmem.o \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_hvmem := -lcmocka
