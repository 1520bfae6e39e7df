// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh-load's stress mode (see load.h and the usage text in vmsh-load.c):
 * writers and readers on O_DIRECT files of self-describing blocks, a
 * watchdog for lost completions, and a final read-back of every block.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"

#define STRESS_BLOCK 4096
#define STRESS_MAX_RUN 16 /* blocks per request in the stress test */
#define STRESS_HANG_NS (10 * NSEC)
#define MAGIC 0x766d73682d6c6f64ull /* "vmsh-lod" */

/* ---- stress ---- */

/* The head of every 4 KiB block; the rest is pseudo-random from the head. */
struct block_head {
	uint64_t magic;
	uint32_t file, index;
	uint64_t gen;
	uint64_t sum; /* over the whole block with sum = 0 */
};

struct stress_file {
	int fd;
	char path[4096];
	uint32_t nblocks;
	/* per block: seqcount (odd while a write is in flight) and generation */
	atomic_uint_fast64_t *seq;
	uint64_t *gen; /* written by the file's writer only */
};

struct worker {
	unsigned id;
	bool writer;
	pthread_t th;
	/* the request in flight: its start (0: none) and what it is */
	atomic_int_fast64_t busy_since;
	atomic_uint_fast32_t busy_file, busy_block, busy_count;
	uint64_t ops, blocks, skipped;
};

static struct {
	struct stress_file *files;
	unsigned nfiles;
	atomic_uint finished; /* workers that returned */
	int64_t deadline;
} S;

static uint64_t block_sum(const void *blk)
{
	const uint64_t *w = blk;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < STRESS_BLOCK / 8; i++) {
		uint64_t v = i == offsetof(struct block_head, sum) / 8 ? 0 : w[i];
		h = (h ^ v) * 0x100000001b3ull;
		h ^= h >> 32;
	}
	return h;
}

static void make_block(void *blk, uint32_t file, uint32_t index, uint64_t gen)
{
	struct block_head *h = blk;
	uint64_t seed = ((uint64_t)file << 48) ^ ((uint64_t)index << 24) ^ gen ^ 0x5eed;
	fill_random(blk, STRESS_BLOCK, seed);
	h->magic = MAGIC;
	h->file = file;
	h->index = index;
	h->gen = gen;
	h->sum = 0;
	h->sum = block_sum(blk);
}

/* Check one block against what it must be; describe a mismatch in why. */
static bool check_block(const void *blk, uint32_t file, uint32_t index, uint64_t gen, char *why,
			size_t whylen)
{
	const struct block_head *h = blk;
	if (h->magic != MAGIC)
		snprintf(why, whylen, "bad magic %#" PRIx64, h->magic);
	else if (h->sum != block_sum(blk))
		snprintf(why, whylen, "bad checksum (block says file %u block %u gen %" PRIu64 ")",
			 h->file, h->index, h->gen);
	else if (h->file != file || h->index != index)
		snprintf(why, whylen, "misplaced: holds file %u block %u", h->file, h->index);
	else if (h->gen != gen)
		snprintf(why, whylen, "stale: generation %" PRIu64 ", expected %" PRIu64, h->gen,
			 gen);
	else
		return true;
	return false;
}

static void stress_fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: stress FAILED: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	printf("stress FAILED\n");
	fflush(stdout);
	_exit(1);
}

static void io_begin(struct worker *w, uint32_t file, uint32_t block, uint32_t count)
{
	atomic_store(&w->busy_file, file);
	atomic_store(&w->busy_block, block);
	atomic_store(&w->busy_count, count);
	atomic_store(&w->busy_since, now_ns());
}

static void io_end(struct worker *w)
{
	atomic_store(&w->busy_since, 0);
}

static void xfer(struct worker *w, bool write, uint32_t file, uint32_t first, uint32_t count,
		 void *buf)
{
	struct stress_file *f = &S.files[file];
	size_t len = (size_t)count * STRESS_BLOCK;
	off_t off = (off_t)first * STRESS_BLOCK;
	io_begin(w, file, first, count);
	ssize_t n = write ? pwrite(f->fd, buf, len, off) : pread(f->fd, buf, len, off);
	io_end(w);
	if (n != (ssize_t)len)
		stress_fail("%s of %s blocks %u-%u: %s", write ? "write" : "read", f->path, first,
			    first + count - 1, n < 0 ? strerror(errno) : "short transfer");
}

static void *stress_writer(void *arg)
{
	struct worker *w = arg;
	struct stress_file *f = &S.files[w->id];
	uint64_t seed = 0xabcdef + w->id;
	char *buf = xalloc_aligned(STRESS_MAX_RUN * STRESS_BLOCK);
	while (now_ns() < S.deadline) {
		uint32_t count = 1 + (uint32_t)(splitmix(&seed) % STRESS_MAX_RUN);
		if (count > f->nblocks)
			count = f->nblocks;
		uint32_t first = (uint32_t)(splitmix(&seed) % (f->nblocks - count + 1));
		for (uint32_t i = 0; i < count; i++) {
			uint32_t b = first + i;
			atomic_fetch_add(&f->seq[b], 1); /* odd: in flight */
			make_block(buf + (size_t)i * STRESS_BLOCK, w->id, b, f->gen[b] + 1);
		}
		xfer(w, true, w->id, first, count, buf);
		for (uint32_t i = 0; i < count; i++) {
			f->gen[first + i]++;
			atomic_fetch_add(&f->seq[first + i], 1); /* even: done */
		}
		w->ops++;
		w->blocks += count;
		/* now and then a flush request */
		if (w->ops % 64 == 0) {
			io_begin(w, w->id, 0, 0);
			if (fdatasync(f->fd))
				stress_fail("fdatasync %s: %s", f->path, strerror(errno));
			io_end(w);
		}
	}
	free(buf);
	atomic_fetch_add(&S.finished, 1);
	return NULL;
}

static void *stress_reader(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x13579 + w->id;
	char *buf = xalloc_aligned(STRESS_MAX_RUN * STRESS_BLOCK);
	uint64_t before[STRESS_MAX_RUN];
	char why[256];
	while (now_ns() < S.deadline) {
		uint32_t file = (uint32_t)(splitmix(&seed) % S.nfiles);
		struct stress_file *f = &S.files[file];
		uint32_t count = 1 + (uint32_t)(splitmix(&seed) % STRESS_MAX_RUN);
		if (count > f->nblocks)
			count = f->nblocks;
		uint32_t first = (uint32_t)(splitmix(&seed) % (f->nblocks - count + 1));
		for (uint32_t i = 0; i < count; i++)
			before[i] = atomic_load(&f->seq[first + i]);
		xfer(w, false, file, first, count, buf);
		for (uint32_t i = 0; i < count; i++) {
			uint64_t s = before[i];
			/* a block a writer touched meanwhile may be torn: not checked */
			if (s % 2 || atomic_load(&f->seq[first + i]) != s) {
				w->skipped++;
				continue;
			}
			if (!check_block(buf + (size_t)i * STRESS_BLOCK, file, first + i, s / 2,
					 why, sizeof(why)))
				stress_fail("read of %s block %u: %s", f->path, first + i, why);
			w->blocks++;
		}
		w->ops++;
	}
	free(buf);
	atomic_fetch_add(&S.finished, 1);
	return NULL;
}

int cmd_stress(struct opts *o)
{
	unsigned nw = o->writers, nr = o->readers, nt = nw + nr;
	uint32_t nblocks = (uint32_t)((uint64_t)o->file_mib * 1024 * 1024 / STRESS_BLOCK);
	struct worker *ws = calloc(nt, sizeof(*ws));
	char *buf = xalloc_aligned(STRESS_MAX_RUN * STRESS_BLOCK);
	char why[256];
	int64_t t0, t1;
	if (!nblocks)
		die("--file-mib must be at least 1");
	S.nfiles = nw;
	S.files = calloc(nw, sizeof(*S.files));
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Every block gets generation 0 before the clock starts. */
	for (unsigned i = 0; i < nw; i++) {
		struct stress_file *f = &S.files[i];
		snprintf(f->path, sizeof(f->path), "%s/stress-%u.dat", o->path, i);
		f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0644);
		if (f->fd < 0)
			die("open %s with O_DIRECT: %s", f->path, strerror(errno));
		f->nblocks = nblocks;
		f->seq = calloc(nblocks, sizeof(*f->seq));
		f->gen = calloc(nblocks, sizeof(*f->gen));
		for (uint32_t b = 0; b < nblocks; b += STRESS_MAX_RUN) {
			uint32_t count =
			    nblocks - b < STRESS_MAX_RUN ? nblocks - b : STRESS_MAX_RUN;
			for (uint32_t k = 0; k < count; k++)
				make_block(buf + (size_t)k * STRESS_BLOCK, i, b + k, 0);
			ssize_t n = pwrite(f->fd, buf, (size_t)count * STRESS_BLOCK,
					   (off_t)b * STRESS_BLOCK);
			if (n != (ssize_t)count * STRESS_BLOCK)
				die("write %s: %s", f->path,
				    n < 0 ? strerror(errno) : "short write");
		}
		if (fsync(f->fd))
			die("fsync %s: %s", f->path, strerror(errno));
	}
	printf("stress start dir=%s writers=%u readers=%u file_mib=%u secs=%.0f\n", o->path, nw, nr,
	       o->file_mib, o->secs);
	t0 = now_ns();
	S.deadline = t0 + (int64_t)(o->secs * NSEC);
	for (unsigned i = 0; i < nt; i++) {
		ws[i].writer = i < nw;
		ws[i].id = i < nw ? i : i - nw;
		if (pthread_create(&ws[i].th, NULL, ws[i].writer ? stress_writer : stress_reader,
				   &ws[i]))
			die("pthread_create failed");
	}
	/* The watchdog: a request in flight for more than 10 s is a lost completion. */
	int64_t next_report = t0 + 10 * NSEC;
	for (;;) {
		bool all_done = atomic_load(&S.finished) == nt;
		for (unsigned i = 0; i < nt; i++) {
			int64_t since = atomic_load(&ws[i].busy_since);
			if (since && now_ns() - since > STRESS_HANG_NS)
				stress_fail(
				    "%s %u: a request on %s (blocks %u+%u%s) has not completed for "
				    "%.1f s: lost completion?",
				    ws[i].writer ? "writer" : "reader", ws[i].id,
				    S.files[atomic_load(&ws[i].busy_file)].path,
				    (unsigned)atomic_load(&ws[i].busy_block),
				    (unsigned)atomic_load(&ws[i].busy_count),
				    atomic_load(&ws[i].busy_count) ? "" : ", a flush",
				    (double)(now_ns() - since) / NSEC);
		}
		if (all_done)
			break;
		if (now_ns() >= next_report) {
			uint64_t wr = 0, rd = 0;
			for (unsigned i = 0; i < nt; i++)
				*(ws[i].writer ? &wr : &rd) += ws[i].ops;
			fprintf(stderr,
				"%s: stress %.0f s: %" PRIu64 " writes, %" PRIu64 " reads\n", prog,
				(double)(now_ns() - t0) / NSEC, wr, rd);
			next_report += 10 * NSEC;
		}
		usleep(200 * 1000);
	}
	for (unsigned i = 0; i < nt; i++)
		pthread_join(ws[i].th, NULL);
	t1 = now_ns();

	/* Every block, read back, must be its last generation. */
	uint64_t final_blocks = 0;
	struct worker fin = { .id = 0 };
	for (unsigned i = 0; i < nw; i++) {
		struct stress_file *f = &S.files[i];
		if (fsync(f->fd))
			stress_fail("fsync %s: %s", f->path, strerror(errno));
		for (uint32_t b = 0; b < f->nblocks; b += STRESS_MAX_RUN) {
			uint32_t count =
			    f->nblocks - b < STRESS_MAX_RUN ? f->nblocks - b : STRESS_MAX_RUN;
			int64_t s = now_ns();
			xfer(&fin, false, i, b, count, buf);
			if (now_ns() - s > STRESS_HANG_NS)
				stress_fail("final read of %s blocks %u+%u took %.1f s", f->path, b,
					    count, (double)(now_ns() - s) / NSEC);
			for (uint32_t k = 0; k < count; k++) {
				if (!check_block(buf + (size_t)k * STRESS_BLOCK, i, b + k,
						 f->gen[b + k], why, sizeof(why)))
					stress_fail("final check of %s block %u: %s", f->path,
						    b + k, why);
				final_blocks++;
			}
		}
		close(f->fd);
		if (unlink(f->path))
			stress_fail("unlink %s: %s", f->path, strerror(errno));
	}
	uint64_t wops = 0, wblk = 0, rops = 0, rblk = 0, skipped = 0;
	for (unsigned i = 0; i < nt; i++) {
		if (ws[i].writer) {
			wops += ws[i].ops;
			wblk += ws[i].blocks;
		} else {
			rops += ws[i].ops;
			rblk += ws[i].blocks;
			skipped += ws[i].skipped;
		}
	}
	double s = (double)(t1 - t0) / NSEC;
	printf("stress ok secs=%.1f writes=%" PRIu64 " write_mib=%.1f reads=%" PRIu64
	       " verified_blocks=%" PRIu64 " skipped_blocks=%" PRIu64 " final_blocks=%" PRIu64
	       " errors=0\n",
	       s, wops, (double)wblk * STRESS_BLOCK / 1048576, rops, rblk, skipped, final_blocks);
	free(buf);
	return 0;
}
