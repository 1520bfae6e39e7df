# virtio-mmio transport, split virtqueues, virtio-blk and virtio-console (virtio.h).
VMSH_VIRTIO_OBJS := $(BUILD)/vmsh/src/virtio_mmio.o $(BUILD)/vmsh/src/virtio_blk.o \
	$(BUILD)/vmsh/src/virtio_console.o
VMSH_OBJS += $(VMSH_VIRTIO_OBJS)

# An in-test driver against fake guest RAM; blk's backing file is a temp
# file in $TMPDIR (default /tmp), unlinked as soon as it is open.
UNIT_TESTS += $(BUILD)/tests/vmsh_virtio
$(BUILD)/tests/vmsh_virtio: $(BUILD)/vmsh/tests/test_virtio.o \
	$(BUILD)/vmsh/tests/test_virtio_queues.o $(BUILD)/vmsh/tests/test_virtio_calls.o \
	$(VMSH_VIRTIO_OBJS) \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_virtio := -lcmocka
