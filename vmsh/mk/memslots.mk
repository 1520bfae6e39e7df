# memslots: the KVM memslots of another process's VM, read by an eBPF kprobe
# on kvm_vm_ioctl (libbpf, CO-RE). The BPF object is built with its own flags
# (never the sanitizer's) and embedded in memslots.o through a skeleton.
BPF_CLANG ?= clang
BPFTOOL ?= bpftool
# clang -target bpf does not search the multiarch directory (asm/types.h)
MEMSLOTS_BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -D__TARGET_ARCH_x86 \
	-Wall -Wextra -Wno-unused-parameter -Werror \
	-I/usr/include/bpf -idirafter /usr/include/$(shell $(BPF_CLANG) -print-multiarch 2>/dev/null)

$(BUILD)/vmsh/memslots.bpf.o: vmsh/src/memslots.bpf.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) $(MEMSLOTS_BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/vmsh/memslots.skel.h: $(BUILD)/vmsh/memslots.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name memslots_bpf >$@.tmp && mv $@.tmp $@

$(BUILD)/vmsh/src/memslots.o: $(BUILD)/vmsh/memslots.skel.h
$(BUILD)/vmsh/src/memslots.o: CPPFLAGS += -I$(BUILD)/vmsh
VMSH_OBJS += $(BUILD)/vmsh/src/memslots.o $(BUILD)/vmsh/src/hostbtf.o

# Needs real KVM and kprobes: built here, run in a lab host by memslots.bats.
PROGRAMS += $(BUILD)/tests/vmsh_memslots_selftest
$(BUILD)/tests/vmsh_memslots_selftest: $(BUILD)/vmsh/tests/memslots_selftest.o \
	$(BUILD)/vmsh/src/memslots.o $(BUILD)/vmsh/src/hostbtf.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_memslots_selftest := -lbpf -lelf -lz
LAB_TESTS += vmsh/tests/memslots.bats

# The cut-down host BTF (hostbtf.c), made from the probe's own object.
UNIT_TESTS += $(BUILD)/tests/vmsh_hostbtf
$(BUILD)/vmsh/tests/test_hostbtf.o: CPPFLAGS += -DMEMSLOTS_BPF_OBJ='"$(abspath $(BUILD)/vmsh/memslots.bpf.o)"'
$(BUILD)/tests/vmsh_hostbtf: $(BUILD)/vmsh/tests/test_hostbtf.o $(BUILD)/vmsh/src/hostbtf.o \
	$(BUILD)/vmsh/src/util.o | $(BUILD)/vmsh/memslots.bpf.o
LDLIBS_vmsh_hostbtf := -lcmocka -lbpf -lelf -lz
