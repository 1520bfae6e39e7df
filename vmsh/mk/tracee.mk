# The ptrace core and its tests (they fork and trace their own children).
VMSH_OBJS += $(BUILD)/vmsh/src/tracee.o

UNIT_TESTS += $(BUILD)/tests/vmsh_tracee
$(BUILD)/tests/vmsh_tracee: $(BUILD)/vmsh/tests/test_tracee.o $(BUILD)/vmsh/src/tracee.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_tracee := -lcmocka -lpthread

# Lab: SIGKILL at every phase (issue 19): 5 points in make check, 20 under
# check-full; attaches in a row on one guest: 100 in make check (~3.8 s
# each in the nested lab, ~7 minutes of a lab host), 1000 under check-full.
LAB_TESTS += vmsh/tests/attach_kill.bats vmsh/tests/attach_many.bats
LAB_TESTS_FULL += vmsh/tests/attach_kill_full.bats vmsh/tests/attach_many_full.bats
