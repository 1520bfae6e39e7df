# Entering the guest kernel through one vCPU (vcpu.h).
VMSH_OBJS += $(BUILD)/vmsh/src/vcpu.o
