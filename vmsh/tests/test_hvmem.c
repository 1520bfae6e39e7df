// SPDX-License-Identifier: GPL-2.0
/*
 * hvmem: which mappings of /proc/PID/maps can be shared, and the real thing
 * against this test process itself: a shared memfd and a private mapping
 * stand for a hypervisor's shared and private RAM. Reading
 * /proc/self/map_files needs CAP_SYS_ADMIN: without it the shared range is
 * reached through process_vm_readv like the private one, and the test
 * says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvmem.h"

static void test_parse(void **state)
{
	uint64_t s, e, off;

	(void)state;
	/* memfd-backed RAM (QEMU memory-backend-memfd, share=on) */
	assert_int_equal(hvmem__parse_maps_line("7f0000000000-7f0010000000 rw-s 00000000 00:01 "
						"2050 /memfd:pc.ram (deleted)\n",
						0x7f0000001000, 0x1000, &s, &e, &off),
			 0);
	assert_true(s == 0x7f0000000000 && e == 0x7f0010000000 && off == 0);
	/* MAP_SHARED|MAP_ANONYMOUS, at a file offset */
	assert_int_equal(hvmem__parse_maps_line("1000-3000 rw-s 00002000 00:01 77 /dev/zero "
						"(deleted)\n",
						0x2000, 0x1000, &s, &e, &off),
			 0);
	assert_true(off == 0x2000);
	/* QEMU's default RAM: private anonymous */
	assert_int_equal(hvmem__parse_maps_line("1000-3000 rw-p 00000000 00:00 0 \n", 0x1000,
						0x1000, &s, &e, &off),
			 -ENOENT);
	/* shared but read-only, or no inode, or a range that runs past the end */
	assert_int_equal(hvmem__parse_maps_line("1000-3000 r--s 00000000 00:01 5 /x\n", 0x1000,
						0x1000, &s, &e, &off),
			 -ENOENT);
	assert_int_equal(hvmem__parse_maps_line("1000-3000 rw-s 00000000 00:00 0\n", 0x1000, 0x1000,
						&s, &e, &off),
			 -ENOENT);
	assert_int_equal(hvmem__parse_maps_line("1000-3000 rw-s 00000000 00:01 5 /x\n", 0x2000,
						0x2000, &s, &e, &off),
			 -ENOENT);
	assert_int_equal(hvmem__parse_maps_line("1000-3000 rw-s 00000000 00:01 5 /x\n", 0x3000, 0x1,
						&s, &e, &off),
			 -ENOENT);
	assert_int_equal(hvmem__parse_maps_line("garbage\n", 0, 1, &s, &e, &off), -EINVAL);
}

static void test_self(void **state)
{
	const size_t size = 1 << 20;
	int fd = memfd_create("hvmem-test", 0);
	uint8_t *shared, *priv, buf[64];
	struct memslot slots[2];
	struct hvmem h;
	struct guest_mem gm;
	uint64_t mapped;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(shared != MAP_FAILED && priv != MAP_FAILED);
	close(fd);
	slots[0] = (struct memslot){ .id = 0, .gpa = 0, .size = size, .hva = (uintptr_t)shared };
	slots[1] = (struct memslot){ .id = 1, .gpa = size, .size = size, .hva = (uintptr_t)priv };
	assert_int_equal(hvmem__open(&h, getpid(), slots, 2), 0);
	mapped = hvmem__mapped_bytes(&h, slots, 2);
	if (mapped == 0)
		print_message("no CAP_SYS_ADMIN for /proc/self/map_files: shared memory is "
			      "reached with process_vm_readv here\n");
	else
		assert_int_equal(mapped, size); /* the private one never is */
	gm = (struct guest_mem){ .slots = slots,
				 .nslots = 2,
				 .read_hva = hvmem__read,
				 .write_hva = hvmem__write,
				 .readv_hva = hvmem__readv,
				 .writev_hva = hvmem__writev,
				 .ptr_hva = hvmem__ptr,
				 .ctx = &h };
	/* a write through vmsh's mapping is the "hypervisor's" memory, and back */
	assert_int_equal(guest__write_phys(&gm, 0x100, "shared", 6), 0);
	assert_memory_equal(shared + 0x100, "shared", 6);
	memcpy(shared + 0x200, "seen", 4);
	assert_int_equal(guest__read_phys(&gm, 0x200, buf, 4), 0);
	assert_memory_equal(buf, "seen", 4);
	assert_int_equal(guest__write_phys(&gm, size + 0x100, "private", 7), 0);
	assert_memory_equal(priv + 0x100, "private", 7);
	/* across both slots: one mapped, one not */
	memcpy(shared + size - 4, "abcd", 4);
	memcpy(priv, "efgh", 4);
	assert_int_equal(guest__read_phys(&gm, size - 4, buf, 8), 0);
	assert_memory_equal(buf, "abcdefgh", 8);
	/* pointers only where mapped, only within one slot */
	if (mapped) {
		uint8_t *p = guest__phys_ptr(&gm, 0x100, 6, true);

		assert_non_null(p);
		assert_ptr_not_equal(p, shared + 0x100); /* vmsh's own mapping of it */
		assert_memory_equal(p, "shared", 6);
		p[0] = 'S';
		assert_int_equal(shared[0x100], 'S');
	} else {
		assert_null(guest__phys_ptr(&gm, 0x100, 6, true));
	}
	assert_null(guest__phys_ptr(&gm, size + 0x100, 6, false));
	assert_null(guest__phys_ptr(&gm, size - 4, 8, false));
	assert_null(guest__phys_ptr(&gm, 2 * size, 1, false));
	hvmem__close(&h);
	munmap(shared, size);
	munmap(priv, size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests_name("hvmem", tests, NULL, NULL);
}
