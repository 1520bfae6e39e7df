# vmsh attach (attach.h): set-up and teardown (attach.c), the session
# (attach_loop.c), its exit-less steady state (attach_steady.c), the keeper
# that detaches for a vmsh killed while steady (attach_keeper.c), and stage2
# embedded as stage2_blob for stage1 to write into the guest.
VMSH_OBJS += $(BUILD)/vmsh/src/attach.o $(BUILD)/vmsh/src/attach_loop.o \
	$(BUILD)/vmsh/src/attach_steady.o $(BUILD)/vmsh/src/attach_keeper.o \
	$(BUILD)/vmsh/src/stage2_blob.o

$(BUILD)/vmsh/src/stage2_blob.o: vmsh/src/stage1_blob.S $(BUILD)/vmsh/guest/stage2
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $@")
	$(Q)$(CC) -DBLOB=stage2_blob -DSTAGE1_SO='"$(STAGE2)"' -c $< -o $@

LAB_TESTS += vmsh/tests/attach_matrix.bats vmsh/tests/attach_compat.bats vmsh/tests/attach.bats
LAB_TESTS_FULL += vmsh/tests/attach_compat_full.bats vmsh/tests/attach_migrate.bats
