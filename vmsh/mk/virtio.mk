# virtio-mmio transport, split virtqueues, virtio-blk and virtio-console (virtio.h).
VMSH_VIRTIO_OBJS := $(BUILD)/vmsh/src/virtio_mmio.o $(BUILD)/vmsh/src/virtio_blk.o \
	$(BUILD)/vmsh/src/virtio_console.o $(BUILD)/vmsh/src/iopool.o
VMSH_OBJS += $(VMSH_VIRTIO_OBJS)

# An in-test driver against fake guest RAM; blk's backing file is a temp
# file in $TMPDIR (default /tmp), unlinked as soon as it is open.
UNIT_TESTS += $(BUILD)/tests/vmsh_virtio
$(BUILD)/tests/vmsh_virtio: $(BUILD)/vmsh/tests/test_virtio.o \
	$(BUILD)/vmsh/tests/test_virtio_queues.o $(BUILD)/vmsh/tests/test_virtio_calls.o \
	$(BUILD)/vmsh/tests/test_virtio_pool.o \
	$(VMSH_VIRTIO_OBJS) \
	$(BUILD)/vmsh/src/guest_mem.o $(BUILD)/vmsh/src/util.o
LDLIBS_vmsh_virtio := -lcmocka -lpthread

# libFuzzer target for the transport, the split virtqueues and both device
# models against a hostile guest (vmsh/tests/fuzz/fuzz_virtio.c), built
# with clang apart from the rest (-fsanitize=fuzzer,address,undefined):
#   make fuzz                       run it FUZZ_SECONDS (60 s) from its corpus
#   make fuzz FUZZ_SECONDS=3600     the long run
# The corpus grows in $(BUILD)/fuzz/corpus, starting from the checked-in
# seeds; a crash leaves its input in $(BUILD)/fuzz/artifacts and fails.
# make check-full runs it (libFuzzer is Debian's libclang-rt-14-dev, in
# scripts/install-deps); make check does not.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_VIRTIO_SRCS := vmsh/tests/fuzz/fuzz_virtio.c vmsh/src/virtio_mmio.c \
	vmsh/src/virtio_blk.c vmsh/src/virtio_console.c vmsh/src/iopool.c vmsh/src/guest_mem.c \
	vmsh/src/util.c
FUZZ_DIR := $(BUILD)/fuzz

$(FUZZ_DIR)/fuzz_virtio: $(FUZZ_VIRTIO_SRCS) $(wildcard vmsh/include/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) -std=gnu11 -Wall -Wextra -Werror -O1 -g -D_GNU_SOURCE $(CPPFLAGS) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer $(FUZZ_VIRTIO_SRCS) -o $@

# -close_fd_mask=2: the devices' pr_err messages about the guest's errors
# go nowhere; libFuzzer's and the sanitizers' reports still come out.
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_DIR)/fuzz_virtio
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	@echo "fuzz: vmsh virtio devices for $(FUZZ_SECONDS) s"
	$(Q)$(FUZZ_DIR)/fuzz_virtio -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_DIR)/corpus vmsh/tests/fuzz/seeds

check-full: fuzz

.PHONY: fuzz
