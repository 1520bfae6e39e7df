# Guest memory, page-table walk and guest kernel discovery (guest.h).
VMSH_OBJS += $(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/pagewalk.o $(BUILD)/vmsh/src/kernel.o \
	$(BUILD)/vmsh/src/kcache.o

VMSH_GUEST_OBJS := $(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/pagewalk.o \
	$(BUILD)/vmsh/src/kernel.o $(BUILD)/vmsh/src/kcache.o $(BUILD)/vmsh/src/util.o

# Synthetic guest memory and hand-built page tables.
UNIT_TESTS += $(BUILD)/tests/vmsh_guest
$(BUILD)/tests/vmsh_guest: $(BUILD)/vmsh/tests/test_guest.o $(VMSH_GUEST_OBJS)
LDLIBS_vmsh_guest := -lcmocka

# Real Debian kernels from the lab's cache, loaded into synthetic guest memory.
UNIT_TESTS += $(BUILD)/tests/vmsh_kernel_image
$(BUILD)/tests/vmsh_kernel_image: $(BUILD)/vmsh/tests/test_kernel_image.o \
	$(BUILD)/vmsh/tests/kernel_images.o $(VMSH_GUEST_OBJS)
LDLIBS_vmsh_kernel_image := -lcmocka

# The guest kernel's BTF and the struct layouts stage1 needs (kbtf.h): against
# synthetic BTF and guest memory, and the lab cache's real kernels.
VMSH_OBJS += $(BUILD)/vmsh/src/kbtf.o
UNIT_TESTS += $(BUILD)/tests/vmsh_kbtf
$(BUILD)/tests/vmsh_kbtf: $(BUILD)/vmsh/tests/test_kbtf.o $(BUILD)/vmsh/tests/kernel_images.o \
	$(BUILD)/vmsh/src/kbtf.o $(BUILD)/vmsh/src/loader.o $(VMSH_GUEST_OBJS)
LDLIBS_vmsh_kbtf := -lcmocka -lbpf -lelf
