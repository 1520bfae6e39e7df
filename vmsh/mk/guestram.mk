# Guest RAM, MMIO windows, interrupt line, irqfd/ioeventfd (guestram.h) and
# mapping the RAM into the guest kernel's page tables (pagemap.h).
VMSH_OBJS += $(BUILD)/vmsh/src/guestram.o $(BUILD)/vmsh/src/irqline.o $(BUILD)/vmsh/src/pagemap.o

# Placement and pin choice, and the hypervisor side against a fake hypervisor.
UNIT_TESTS += $(BUILD)/tests/vmsh_guestram
$(BUILD)/tests/vmsh_guestram: $(BUILD)/vmsh/tests/test_guestram.o $(BUILD)/vmsh/src/guestram.o \
	$(BUILD)/vmsh/src/irqline.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_guestram := -lcmocka

# Mapping into synthetic page tables, checked with guest__translate().
UNIT_TESTS += $(BUILD)/tests/vmsh_pagemap
$(BUILD)/tests/vmsh_pagemap: $(BUILD)/vmsh/tests/test_pagemap.o $(BUILD)/vmsh/src/pagemap.o \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/pagewalk.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_pagemap := -lcmocka
