/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio tests' fake guest and in-test driver (test_virtio.c), shared
 * with the console, strictness and fuzz tests (test_virtio_queues.c).
 */
#ifndef VMSH_TEST_VIRTIO_H
#define VMSH_TEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"
#include "virtio.h"

#define HV_BASE 0x7f0000000000ULL
#define HV_SIZE 0x300000ULL
#define RAM_END 0x400000ULL
#define HOLE 0x100000ULL      /* [1M, 2M) is in no slot */
#define DATA 0x200000ULL      /* buffers: slot 1, [2M, 4M) */
#define HDR 0x80000ULL	      /* blk request header */
#define STATUS_GPA 0x80100ULL /* blk status byte */
#define FILE_SECTORS 512      /* 256 KiB backing file */
#define CTL_SECTORS 8

struct fake_hv {
	uint8_t *mem;
	unsigned long bad; /* accesses outside the buffer: must stay 0 */
	/* callback calls (a system call each for a live hypervisor) */
	unsigned long reads, writes;
	/*
	 * Torn copies: the next tear_left 2-byte reads at tear_at return
	 * tear_val[0], tear_val[1], tear_val[0], ... instead of the memory
	 * (as a copy that overlaps the driver's store may).
	 */
	uint8_t *tear_at;
	uint16_t tear_val[2];
	unsigned int tear_left, tear_seen;
	/* Called after every piece the device writes (NULL: none). */
	void (*on_write)(uint8_t *p, size_t len);
};

struct tqueue {
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen, next_desc;
};

struct tdrv {
	struct virtio_dev *dev;
	struct tqueue q[2];
};

struct tbuf {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

extern struct fake_hv hv;
extern struct guest_mem gm;
extern unsigned long mem_calls; /* gm.calls */
extern struct tdrv drv;
extern unsigned int irqs, rx_ready_calls, ctl_calls;
extern uint64_t ctl_off;
extern size_t ctl_len;
extern uint8_t ctl_data[CTL_SECTORS * 512];
extern char out_buf[256];
extern size_t out_len, out_max_per_call;
extern int blk_fd;
extern unsigned int blk_io_threads; /* blk_new's io_threads (default 0) */

/* Fake guest RAM. */
uint8_t *gpa_ptr(uint64_t gpa);
void put16(uint64_t gpa, uint16_t v);
uint16_t get16(uint64_t gpa);
uint32_t get32(uint64_t gpa);
void fill(uint64_t gpa, size_t len, uint8_t seed);

/*
 * Whether gm has the vectored callbacks (the default) or only the scalar
 * ones; for devices created after the call.
 */
void mem_vectored(bool on);
/* The next n 2-byte reads of gpa return a, b, a, b, ... (fake_hv.tear_*). */
void tear_reads(uint64_t gpa, uint16_t a, uint16_t b, unsigned int n);
/*
 * gm through the real process_vm_readv/writev, this process standing in
 * for the hypervisor (hv.mem is its RAM); no fake callback counts calls.
 */
void mem_process(void);
/* Whether gm maps guest RAM into vmsh (ptr_hva, as hvmem.h does); default off. */
void mem_direct(bool on);

/* Devices with the test's callbacks, memory set; cmocka setup/teardown. */
int temp_file(off_t size, int flags);
struct virtio_dev *blk_new(bool ro);
struct virtio_dev *cons_new(void);
int setup(void **state);
int teardown(void **state);

/* The driver: registers, rings, chains. */
uint32_t rd(uint64_t off);
void wr(uint64_t off, uint32_t v);
bool drv_negotiate(struct virtio_dev *dev, uint64_t want, bool accept_all);
void drv_queue(unsigned int q, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used);
void drv_ok(void);
uint64_t ring_base(unsigned int q);
bool drv_start_custom(struct virtio_dev *dev, uint64_t want, bool accept_all, unsigned int nq,
		      uint16_t num);
void drv_start(struct virtio_dev *dev, unsigned int nq);
void drv_desc(unsigned int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next);
void drv_avail(unsigned int q, uint16_t head);
uint16_t drv_post(unsigned int q, const struct tbuf *b, unsigned int n);
bool drv_used(unsigned int q, uint16_t *id, uint32_t *len);
uint8_t blk_req(uint32_t type, uint64_t sector, const struct tbuf *data, unsigned int n,
		uint32_t *used_len);

/* test_virtio_queues.c */
extern const struct CMUnitTest virtio_queue_tests[];
extern const size_t virtio_queue_ntests;
/* test_virtio_calls.c */
extern const struct CMUnitTest virtio_calls_tests[];
extern const size_t virtio_calls_ntests;
/* test_virtio_pool.c */
extern const struct CMUnitTest virtio_pool_tests[];
extern const size_t virtio_pool_ntests;

#endif
