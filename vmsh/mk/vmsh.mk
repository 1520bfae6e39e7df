# The vmsh command: main, subcommands, and every module's objects.
VMSH_OBJS += $(BUILD)/vmsh/src/main.o $(BUILD)/vmsh/src/hv.o $(BUILD)/vmsh/src/inspect.o
PROGRAMS += $(BUILD)/bin/vmsh
LDLIBS_vmsh := -lbpf -lelf -lz -ljson-c
LAB_TESTS += vmsh/tests/inspect_matrix.bats vmsh/tests/inspect.bats
LAB_TESTS_FULL += vmsh/tests/inspect_matrix_full.bats
