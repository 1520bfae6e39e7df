# stage1: freestanding code for the guest kernel (vmsh/stage1/), linked
# into a position-independent stage1.so with its own flags (never the
# sanitizer's), checked (check.sh), and embedded in vmsh by stage1_blob.S;
# the loader (loader.h) relocates it against the guest kernel's exports.
STAGE1_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -fPIC -fvisibility=hidden \
	-mno-red-zone -mgeneral-regs-only \
	-fno-stack-protector -ffreestanding -fno-builtin -nostdlib -fno-plt \
	-fcf-protection=branch -fno-jump-tables -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fno-strict-aliasing -fno-common \
	-fno-tree-loop-distribute-patterns -Wframe-larger-than=256 -Ivmsh/include
STAGE1_LDFLAGS := -shared -nostdlib -Wl,-z,now -Wl,--hash-style=gnu -Wl,-z,text \
	-Wl,-z,noexecstack -Wl,-z,separate-code -Wl,-z,max-page-size=4096 \
	-Wl,--build-id=none
STAGE1_SO := $(BUILD)/vmsh/stage1/stage1.so

$(BUILD)/vmsh/stage1/%.o: vmsh/stage1/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(STAGE1_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/vmsh/stage1/%.o: vmsh/stage1/%.S
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(STAGE1_CFLAGS) -MMD -MP -c $< -o $@

$(STAGE1_SO): $(BUILD)/vmsh/stage1/entry.o $(BUILD)/vmsh/stage1/stage1.o \
		vmsh/stage1/check.sh vmsh/stage1/imports.h
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(STAGE1_CFLAGS) $(STAGE1_LDFLAGS) $(filter %.o,$^) -o $@.tmp
	$(Q)vmsh/stage1/check.sh $@.tmp vmsh/stage1/imports.h
	$(Q)mv $@.tmp $@

$(BUILD)/vmsh/src/stage1_blob.o: vmsh/src/stage1_blob.S $(STAGE1_SO)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) -DSTAGE1_SO='"$(STAGE1_SO)"' -c $< -o $@

VMSH_OBJS += $(BUILD)/vmsh/src/loader.o $(BUILD)/vmsh/src/stage1_blob.o

# The real stage1.so, loaded against fake and real (lab cache) kernels, and
# a fixture with the relocation types stage1 does not use (a PLT call).
LOADER_FIXTURE := $(BUILD)/vmsh/tests/loader_fixture.so
$(LOADER_FIXTURE): vmsh/tests/loader_fixture.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(filter-out -fno-plt,$(STAGE1_CFLAGS)) $(STAGE1_LDFLAGS) -MMD -MP $< -o $@

$(BUILD)/vmsh/tests/loader_fixture_blob.o: vmsh/src/stage1_blob.S $(LOADER_FIXTURE)
	@$(if $(Q),echo "  AS      $@")
	$(Q)$(CC) -DBLOB=loader_fixture -DSTAGE1_SO='"$(LOADER_FIXTURE)"' -c $< -o $@

UNIT_TESTS += $(BUILD)/tests/vmsh_loader
$(BUILD)/tests/vmsh_loader: $(BUILD)/vmsh/tests/test_loader.o \
	$(BUILD)/vmsh/tests/test_loader_kernels.o $(BUILD)/vmsh/tests/kernel_images.o \
	$(BUILD)/vmsh/src/loader.o \
	$(BUILD)/vmsh/src/stage1_blob.o $(BUILD)/vmsh/tests/loader_fixture_blob.o \
	$(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_loader := -lcmocka -lelf -lbpf

# stage1's entry and work function, run here against a fake kernel.
UNIT_TESTS += $(BUILD)/tests/vmsh_stage1
$(BUILD)/tests/vmsh_stage1: $(BUILD)/vmsh/tests/test_stage1.o $(BUILD)/vmsh/src/loader.o \
	$(BUILD)/vmsh/src/stage1_blob.o $(BUILD)/vmsh/src/util.o $(BUILD)/vmsh/src/kbtf.o \
	$(VMSH_GUEST_OBJS)
LDLIBS_vmsh_stage1 := -lcmocka -lelf -lbpf
