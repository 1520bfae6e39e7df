# vmsh: one fragment per module in vmsh/mk/, each adding its objects to
# VMSH_OBJS and its tests to UNIT_TESTS / LAB_TESTS.
CPPFLAGS += -Ivmsh/include
VMSH_OBJS :=
include $(sort $(wildcard vmsh/mk/*.mk))
# After the fragments: the binary links every module.
$(BUILD)/bin/vmsh: $(VMSH_OBJS)
