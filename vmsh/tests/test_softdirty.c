// SPDX-License-Identifier: GPL-2.0
/* softdirty.c against this process's own pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softdirty.h"
#include "skip.h"

#define NPAGES 16

struct runs {
	uint64_t base;
	unsigned n;
	uint64_t first[NPAGES], len[NPAGES];
};

static int collect(void *ctx, uint64_t hva, uint64_t len)
{
	struct runs *r = ctx;

	r->first[r->n] = (hva - r->base) / SOFTDIRTY_PAGE;
	r->len[r->n] = len / SOFTDIRTY_PAGE;
	r->n++;
	return 0;
}

static int stop_at_first(void *ctx, uint64_t hva, uint64_t len)
{
	(void)ctx;
	(void)hva;
	(void)len;
	return 42;
}

/* Pages written after a clear come back as runs, and only they. */
static void test_runs(void **state)
{
	struct runs r = { 0 };
	uint8_t *p;
	int s = softdirty__supported();

	(void)state;
	if (s != 1) {
		skip_because("this kernel keeps no soft-dirty bits (CONFIG_MEM_SOFT_DIRTY)");
	}
	p = mmap(NULL, NPAGES * SOFTDIRTY_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	assert_true(p != MAP_FAILED);
	for (unsigned i = 0; i < NPAGES; i++)
		p[i * SOFTDIRTY_PAGE] = 1;
	assert_int_equal(softdirty__clear(getpid()), 0);
	p[3 * SOFTDIRTY_PAGE] = 2;
	for (unsigned i = 7; i <= 9; i++)
		p[i * SOFTDIRTY_PAGE + 100] = 2;
	(void)p[5 * SOFTDIRTY_PAGE]; /* a read sets nothing */
	r.base = (uint64_t)(uintptr_t)p;
	assert_int_equal(
	    softdirty__for_each(getpid(), r.base, NPAGES * SOFTDIRTY_PAGE, collect, &r), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.first[0], 3);
	assert_int_equal(r.len[0], 1);
	assert_int_equal(r.first[1], 7);
	assert_int_equal(r.len[1], 3);
	/* the callback's verdict stops the walk and is returned */
	assert_int_equal(
	    softdirty__for_each(getpid(), r.base, NPAGES * SOFTDIRTY_PAGE, stop_at_first, NULL),
	    42);
	munmap(p, NPAGES * SOFTDIRTY_PAGE);
}

static void test_bad_input(void **state)
{
	struct runs r = { 0 };

	(void)state;
	assert_int_equal(softdirty__for_each(getpid(), 100, SOFTDIRTY_PAGE, collect, &r), -EINVAL);
	assert_int_equal(softdirty__for_each(getpid(), 0, 100, collect, &r), -EINVAL);
	/* no such process: pid_max is at most 2^22 */
	assert_int_equal(softdirty__for_each(1 << 23, 0, SOFTDIRTY_PAGE, collect, &r), -ENOENT);
	assert_int_equal(softdirty__clear(1 << 23), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
