VMSH_OBJS += $(BUILD)/vmsh/src/util.o
