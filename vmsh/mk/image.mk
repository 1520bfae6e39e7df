# vmsh image: tool images (ext4, built without root) and the default busybox
# image; its tests run here.
VMSH_OBJS += $(BUILD)/vmsh/src/image.o
HOST_TESTS += vmsh/tests/test_image.bats
