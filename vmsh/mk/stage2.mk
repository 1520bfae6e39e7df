# stage2: the program vmsh's stage1 starts in the guest. A static musl binary
# with its own flags (never the sanitizer's: it runs in the guest), small
# because vmsh will embed it. The status protocol it shares with vmsh
# (stage2_proto.h) is also linked into vmsh and unit-tested here.
MUSL_CC ?= musl-gcc
STAGE2 := $(BUILD)/vmsh/guest/stage2
STAGE2_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Os -static -s -D_GNU_SOURCE -Ivmsh/include
STAGE2_SRCS := vmsh/stage2/stage2.c vmsh/stage2/ns.c vmsh/stage2/proto.c

PROGRAMS += $(STAGE2)
$(STAGE2): $(STAGE2_SRCS) vmsh/stage2/stage2.h vmsh/include/stage2_proto.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSL    $@")
	$(Q)$(MUSL_CC) $(STAGE2_CFLAGS) $(STAGE2_SRCS) -o $@

VMSH_OBJS += $(BUILD)/vmsh/stage2/proto.o

UNIT_TESTS += $(BUILD)/tests/vmsh_stage2_proto
$(BUILD)/tests/vmsh_stage2_proto: $(BUILD)/vmsh/tests/test_stage2_proto.o $(BUILD)/vmsh/stage2/proto.o
LDLIBS_vmsh_stage2_proto := -lcmocka

LAB_TESTS += vmsh/tests/stage2.bats

# Job control and a terminal that does not read, during an attach (issue 19):
# ~4 minutes of a lab host.
LAB_TESTS += vmsh/tests/attach_jobctl.bats
