# The lab: scripts in lab/, one C helper (labcon) and its unit tests.
CPPFLAGS += -Ilab/include

PROGRAMS += $(BUILD)/bin/labcon
$(BUILD)/bin/labcon: $(BUILD)/lab/src/labcon.o $(BUILD)/lab/src/serial_proto.o

UNIT_TESTS += $(BUILD)/tests/lab_serial_proto
$(BUILD)/tests/lab_serial_proto: $(BUILD)/lab/tests/test_serial_proto.o $(BUILD)/lab/src/serial_proto.o
LDLIBS_lab_serial_proto := -lcmocka

HOST_TESTS += lab/tests/host.bats
LAB_TESTS += lab/tests/vms.bats
