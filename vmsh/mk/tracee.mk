# The ptrace core and its tests (they fork and trace their own children).
VMSH_OBJS += $(BUILD)/vmsh/src/tracee.o

UNIT_TESTS += $(BUILD)/tests/vmsh_tracee
$(BUILD)/tests/vmsh_tracee: $(BUILD)/vmsh/tests/test_tracee.o $(BUILD)/vmsh/src/tracee.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_tracee := -lcmocka -lpthread
