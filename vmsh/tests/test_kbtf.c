// SPDX-License-Identifier: GPL-2.0
/*
 * kbtf.c: the guest kernel's BTF and the layouts stage1 needs.
 *
 * Synthetic BTF, built with libbpf's writer: the header checks (corrupt,
 * truncated, oversized), parsing and fuzzing (never a crash), each piece of
 * the layout from BTF, from vmsh's tables, or missing with a message that
 * names it, and insane values refused. Synthetic guest memory: the blob
 * found behind decoys and across a scan chunk's edge, not found when it is
 * cut short by unmapped memory.
 *
 * The lab cache's real kernels (kernel_images.h; a missing one skips, with
 * the reason printed): their vmlinux .BTF parses, gives the layouts vmsh's
 * tables have, and is found where the section is once the vmlinux is
 * loaded into synthetic guest memory with a KASLR offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kbtf.h"
#include "kernel_images.h"
#include "loader.h"
#include "util.h"

#define MiB (1ULL << 20)
#define KASLR 0x2a00000ULL
#define TEXT 0xffffffff81000000ULL
#define IMAGE_GPA (2 * MiB)
#define HV_BASE 0x7f0000000000ULL

/* --- synthetic BTF ------------------------------------------------------ */

struct synth {
	bool no_work, no_res, no_enums, no_pool_shift;
	uint32_t work_size, work_data; /* 0: 32 and 0 */
	uint32_t res_size, res_start;  /* 0: 64 and 0 */
	uint32_t pool_shift, pool_bits;
	uint64_t no_pool;    /* a WORK_STRUCT_NO_POOL enum64 enumerator, if not 0 */
	uint32_t static_bit; /* WORK_STRUCT_STATIC_BIT (CONFIG_DEBUG_OBJECTS_WORK), if not 0 */
};

/* A vmlinux-like BTF: work_struct, list_head, resource, the workqueue enums. */
static struct btf *synth_btf(const struct synth *o)
{
	struct btf *btf = btf__new_empty();
	uint32_t wsize = o->work_size ? o->work_size : 32, rsize = o->res_size ? o->res_size : 64;
	int lng, ptr, list;

	assert_non_null(btf);
	lng = btf__add_int(btf, "long unsigned int", 8, 0);
	ptr = btf__add_ptr(btf, 0);
	list = btf__add_struct(btf, "list_head", 16);
	assert_true(lng > 0 && ptr > 0 && list > 0);
	assert_int_equal(btf__add_field(btf, "next", ptr, 0, 0), 0);
	assert_int_equal(btf__add_field(btf, "prev", ptr, 64, 0), 0);
	if (!o->no_work) {
		assert_true(btf__add_struct(btf, "work_struct", wsize) > 0);
		assert_int_equal(btf__add_field(btf, "data", lng, o->work_data * 8, 0), 0);
		assert_int_equal(btf__add_field(btf, "entry", list, 64, 0), 0);
		assert_int_equal(btf__add_field(btf, "func", ptr, 192, 0), 0);
	}
	if (!o->no_res) {
		static const char *const names[] = { "end",  "name",   "flags",
						     "desc", "parent", "sibling" };
		uint32_t start = o->res_start;

		assert_true(btf__add_struct(btf, "resource", rsize) > 0);
		assert_int_equal(btf__add_field(btf, "start", lng, start * 8, 0), 0);
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			assert_int_equal(btf__add_field(btf, names[i], i == 1 ? ptr : lng,
							(start + 8 + 8 * (uint32_t)i) * 8, 0),
					 0);
	}
	if (!o->no_enums) {
		assert_true(btf__add_enum(btf, NULL, 4) > 0);
		if (!o->no_pool_shift)
			assert_int_equal(btf__add_enum_value(btf, "WORK_OFFQ_POOL_SHIFT",
							     o->pool_shift ? o->pool_shift : 5),
					 0);
		assert_int_equal(btf__add_enum_value(btf, "WORK_OFFQ_POOL_BITS",
						     o->pool_bits ? o->pool_bits : 31),
				 0);
		if (o->static_bit)
			assert_int_equal(
			    btf__add_enum_value(btf, "WORK_STRUCT_STATIC_BIT", o->static_bit), 0);
	}
	if (o->no_pool) {
		assert_true(btf__add_enum64(btf, NULL, 8, false) > 0);
		assert_int_equal(btf__add_enum64_value(btf, "WORK_STRUCT_NO_POOL", o->no_pool), 0);
	}
	return btf;
}

/* Its raw bytes, as they would sit in guest memory (malloc'd). */
static uint8_t *synth_blob(const struct synth *o, uint32_t *len)
{
	struct btf *btf = synth_btf(o);
	const void *raw = btf__raw_data(btf, len);
	uint8_t *p = malloc(*len);

	assert_non_null(raw);
	assert_non_null(p);
	memcpy(p, raw, *len);
	btf__free(btf);
	return p;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* --- stderr, to check what pr_err says ------------------------------------ */

static int saved_stderr = -1;
static FILE *captured;

static void capture_begin(void)
{
	fflush(stderr);
	captured = tmpfile();
	assert_non_null(captured);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(captured), 2) == 2);
}

/* What was written to stderr since capture_begin (static buffer). */
static const char *capture_end(void)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved_stderr, 2) == 2);
	close(saved_stderr);
	rewind(captured);
	n = fread(buf, 1, sizeof(buf) - 1, captured);
	buf[n] = '\0';
	fclose(captured);
	return buf;
}

/* --- header, parse ---------------------------------------------------------- */

static void test_header(void **state)
{
	uint8_t h[KBTF_HDR_LEN] = { 0x9f, 0xeb, 1, 0, 24, 0, 0, 0 };
	uint8_t bad[KBTF_HDR_LEN];
	uint32_t total = 0;

	(void)state;
	put32(h + 8, 0);
	put32(h + 12, 1000);
	put32(h + 16, 1000);
	put32(h + 20, 200);
	assert_int_equal(kbtf__check_header(h, sizeof(h), &total), 0);
	assert_int_equal(total, 24 + 1200);
	assert_int_equal(kbtf__check_header(h, sizeof(h) - 1, &total), -EINVAL);
	/* each fixed byte, and each section rule */
	for (size_t i = 0; i < 8; i++) {
		memcpy(bad, h, sizeof(h));
		bad[i] ^= 0x10;
		assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EINVAL);
	}
	memcpy(bad, h, sizeof(h));
	put32(bad + 8, 2); /* unaligned types */
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EINVAL);
	memcpy(bad, h, sizeof(h));
	put32(bad + 12, 0); /* no types */
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EINVAL);
	memcpy(bad, h, sizeof(h));
	put32(bad + 20, 0); /* no strings */
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EINVAL);
	memcpy(bad, h, sizeof(h));
	put32(bad + 16, 999); /* strings overlap the types */
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EINVAL);
	memcpy(bad, h, sizeof(h));
	put32(bad + 12, 0xfffffff0); /* u32 sums that would wrap */
	put32(bad + 16, 0xfffffff0);
	put32(bad + 20, 0xfffffff0);
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EFBIG);
	memcpy(bad, h, sizeof(h));
	put32(bad + 20, KBTF_MAX_SIZE); /* over the cap */
	assert_int_equal(kbtf__check_header(bad, sizeof(bad), &total), -EFBIG);
}

static void test_parse(void **state)
{
	struct synth o = { 0 };
	struct kbtf b;
	uint32_t len;
	uint8_t *blob = synth_blob(&o, &len);

	(void)state;
	assert_int_equal(kbtf__parse(&b, blob, len), 0);
	assert_non_null(b.btf);
	assert_int_equal(b.size, len);
	assert_int_equal(b.ntypes, 6);
	kbtf__free(&b);
	assert_null(b.btf);
	/* truncated: every length short of the whole */
	for (uint32_t n = 0; n < len; n++) {
		assert_int_equal(kbtf__parse(&b, blob, n), -EINVAL);
		assert_null(b.btf);
	}
	/* a string section that says it is larger than what follows */
	put32(blob + 20, len);
	assert_int_equal(kbtf__parse(&b, blob, len), -EINVAL);
	free(blob);

	/* valid BTF, but not vmlinux's */
	o.no_work = true;
	blob = synth_blob(&o, &len);
	assert_int_equal(kbtf__parse(&b, blob, len), -EINVAL);
	free(blob);
}

/* Damaged blobs: parsed or refused, and what parses yields a checked layout. */
static void test_fuzz(void **state)
{
	struct synth o = { 0 };
	uint32_t len, parsed = 0;
	uint8_t *blob = synth_blob(&o, &len), *copy = malloc(len);

	(void)state;
	assert_non_null(copy);
	srandom(42);
	for (int i = 0; i < 5000; i++) {
		struct guest_layout l;
		struct kbtf b;

		memcpy(copy, blob, len);
		for (int f = 0; f < 1 + i % 4; f++)
			copy[(size_t)random() % len] ^= (uint8_t)(1u << (random() % 8));
		if (kbtf__parse(&b, copy, len))
			continue;
		parsed++;
		capture_begin();
		if (!kbtf__layout(&b, "4.19.0", &l))
			assert_int_equal(kbtf__check_layout(&l, NULL), 0);
		capture_end();
		kbtf__free(&b);
	}
	print_message("fuzz: %u of 5000 damaged blobs still parsed\n", parsed);
	free(copy);
	free(blob);
}

/* --- layout ------------------------------------------------------------------ */

static void test_layout_from_btf(void **state)
{
	/* lockdep makes work_struct larger; a resource with a field before start */
	struct synth o = { .work_size = 72, .res_size = 72, .res_start = 8, .pool_shift = 9 };
	struct guest_layout l;
	struct kbtf b = { .btf = synth_btf(&o) };

	(void)state;
	/* BTF wins over the table, and serves a kernel the table does not know */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(
		    kbtf__layout(&b, i ? "Linux version 4.19.0-20-amd64 (x) #1" : "6.12", &l), 0);
		assert_int_equal(l.work_size, 72);
		assert_int_equal(l.work_data, 0);
		assert_int_equal(l.work_entry, 8);
		assert_int_equal(l.work_func, 24);
		assert_int_equal(l.res_size, 72);
		assert_int_equal(l.res_start, 8);
		assert_int_equal(l.res_end, 16);
		assert_int_equal(l.res_name, 24);
		assert_int_equal(l.res_flags, 32);
		assert_int_equal(l.res_desc, 40);
		assert_int_equal(l.work_data_init, 0x7fffffffULL << 9);
		assert_string_equal(l.work_src, "BTF");
		assert_string_equal(l.res_src, "BTF");
		assert_string_equal(l.work_data_init_src, "BTF");
	}
	btf__free(b.btf);

	/* CONFIG_DEBUG_OBJECTS_WORK: WORK_DATA_STATIC_INIT(), pool shifted by one */
	o = (struct synth){ .static_bit = 4, .pool_shift = 6 };
	b.btf = synth_btf(&o);
	assert_int_equal(kbtf__layout(&b, "6.1", &l), 0);
	assert_int_equal(l.work_data_init, (0x7fffffffULL << 6) | 0x10);
	btf__free(b.btf);
	/* a static bit that overlaps the pool bits is not believed */
	o = (struct synth){ .static_bit = 5, .pool_shift = 5 };
	b.btf = synth_btf(&o);
	assert_int_not_equal(l.work_data_init, 0);
	assert_true(kbtf__layout(&b, "6.1", &l) != 0 || strcmp(l.work_data_init_src, "BTF"));
	btf__free(b.btf);

	/* WORK_STRUCT_NO_POOL as a 64-bit enumerator, where the pool enums are gone */
	o = (struct synth){ .no_pool_shift = true, .no_pool = 0xfffffffe0ULL };
	b.btf = synth_btf(&o);
	assert_int_equal(kbtf__layout(&b, "6.1", &l), 0);
	assert_int_equal(l.work_data_init, 0xfffffffe0ULL);
	assert_string_equal(l.work_data_init_src, "BTF");
	btf__free(b.btf);
}

static void test_layout_tables(void **state)
{
	struct guest_layout l;
	struct kbtf none = { 0 };

	(void)state;
	assert_int_equal(kbtf__layout(NULL, "Linux version 6.1.0-13-amd64 (debian) #1 SMP", &l), 0);
	assert_int_equal(l.work_size, 32);
	assert_int_equal(l.work_entry, 8);
	assert_int_equal(l.work_func, 24);
	assert_int_equal(l.res_size, 64);
	assert_int_equal(l.res_flags, 24);
	assert_int_equal(l.work_data_init, 0x7fffffffULL << 5);
	assert_string_equal(l.work_src, "vmsh's table for 6.1");
	assert_string_equal(l.res_src, "vmsh's table for 6.1");
	assert_string_equal(l.work_data_init_src, "vmsh's table for 6.1");
	assert_int_equal(kbtf__layout(&none, "6.12.48+deb13-amd64", &l), 0);
	assert_int_equal(l.work_data_init, 0x7fffffffULL << 21);
	assert_string_equal(l.res_src, "vmsh's table for 6.12");
}

/* BTF with some pieces: the rest from the table, or an error naming the piece. */
static void test_layout_partial(void **state)
{
	struct synth o = { .no_res = true, .no_enums = true };
	struct guest_layout l;
	struct kbtf b = { .btf = synth_btf(&o) };
	const char *msg;

	(void)state;
	assert_int_equal(kbtf__layout(&b, "6.1.0", &l), 0);
	assert_string_equal(l.work_src, "BTF");
	assert_string_equal(l.res_src, "vmsh's table for 6.1");
	assert_string_equal(l.work_data_init_src, "vmsh's table for 6.1");
	assert_int_equal(l.res_size, 64);

	capture_begin();
	assert_int_equal(kbtf__layout(&b, "4.19.0-20-amd64", &l), -ENOTSUP);
	msg = capture_end();
	assert_non_null(strstr(msg, "the guest kernel's BTF has no struct resource"));
	assert_non_null(strstr(msg, "no table for 4.19"));
	assert_non_null(strstr(msg, "the VM was not changed"));
	btf__free(b.btf);

	/* pool bits no 64-bit value can hold: not from BTF */
	o = (struct synth){ .pool_bits = 40 };
	b.btf = synth_btf(&o);
	assert_int_equal(kbtf__layout(&b, "6.1", &l), 0);
	assert_string_equal(l.work_data_init_src, "vmsh's table for 6.1");
	capture_begin();
	assert_int_equal(kbtf__layout(&b, "5.4.0", &l), -ENOTSUP);
	msg = capture_end();
	assert_non_null(strstr(msg, "WORK_DATA_INIT"));
	btf__free(b.btf);

	o = (struct synth){ .no_work = true };
	b.btf = synth_btf(&o);
	capture_begin();
	assert_int_equal(kbtf__layout(&b, "4.19", &l), -ENOTSUP);
	msg = capture_end();
	assert_non_null(
	    strstr(msg, "BTF has no struct work_struct and vmsh has no table for 4.19"));
	btf__free(b.btf);

	capture_begin();
	assert_int_equal(kbtf__layout(NULL, "Linux version 4.19.0-20-amd64 (x) #1", &l), -ENOTSUP);
	msg = capture_end();
	assert_non_null(strstr(msg, "has no BTF (CONFIG_DEBUG_INFO_BTF)"));
	assert_non_null(strstr(msg, "no table for 4.19"));
	assert_non_null(strstr(msg, "the VM was not changed"));
	capture_begin();
	assert_int_equal(kbtf__layout(NULL, "garbage", &l), -ENOTSUP);
	msg = capture_end();
	assert_non_null(strstr(msg, "no table for 'garbage'"));
}

/* Values stage1 cannot use are refused, whichever source they came from. */
static void test_layout_insane(void **state)
{
	static const struct synth bad[] = {
		{ .work_size = STAGE1_WORK_SIZE + 8 }, /* larger than stage1's buffer */
		{ .work_data = 4 },		       /* unaligned */
		{ .work_data = 8 },		       /* overlaps entry */
		{ .res_size = STAGE1_RES_SIZE + 8, .res_start = 80 },
		{ .res_size = 60 },  /* not a multiple of 8 */
		{ .pool_shift = 2 }, /* WORK_STRUCT_PENDING set */
	};
	struct guest_layout l, ok;
	const char *why;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct kbtf b = { .btf = synth_btf(&bad[i]) };
		const char *msg;

		capture_begin();
		assert_int_equal(kbtf__layout(&b, "6.1", &l), -EINVAL);
		msg = capture_end();
		assert_non_null(strstr(msg, "the VM was not changed"));
		btf__free(b.btf);
	}
	assert_int_equal(kbtf__layout(NULL, "6.1", &ok), 0);
	assert_int_equal(kbtf__check_layout(&ok, &why), 0);
	assert_null(why);
	l = ok;
	l.res_end = l.res_flags;
	assert_int_equal(kbtf__check_layout(&l, &why), -EINVAL);
	assert_string_equal(why, "fields of struct resource overlap");
	l = ok;
	l.work_func = l.work_size - 4;
	assert_int_equal(kbtf__check_layout(&l, &why), -EINVAL);
	l = ok;
	l.work_data_init = 0;
	assert_int_equal(kbtf__check_layout(&l, &why), -EINVAL);
}

static void test_fill_abi(void **state)
{
	struct stage1_abi abi = { 0 };
	struct guest_layout l;

	(void)state;
	assert_int_equal(kbtf__layout(NULL, "6.12", &l), 0);
	kbtf__fill_abi(&l, &abi);
	assert_int_equal(abi.work_data_init, 0x7fffffffULL << 21);
	assert_int_equal(abi.layout.work_size, 32);
	assert_int_equal(abi.layout.work_entry, 8);
	assert_int_equal(abi.layout.work_func, 24);
	assert_int_equal(abi.layout.res_size, 64);
	assert_int_equal(abi.layout.res_end, 8);
	assert_int_equal(abi.layout.res_flags, 24);
}

/* --- synthetic guest memory ---------------------------------------------------- */

struct guest {
	uint8_t *mem;
	size_t size;
	struct memslot slot;
	struct guest_mem gm;
	struct guest_mmu mmu;
	struct guest_kernel k;
};

static int guest_read_hva(void *ctx, uint64_t hva, void *buf, size_t len)
{
	struct guest *g = ctx;

	if (hva < HV_BASE || hva - HV_BASE > g->size || len > g->size - (hva - HV_BASE))
		return -EFAULT;
	memcpy(buf, g->mem + (hva - HV_BASE), len);
	return 0;
}

/*
 * One slot: page tables at gpa 0x1000-0x3fff, the image at IMAGE_GPA, mapped
 * with 2 MiB pages at TEXT + KASLR, mapped bytes of it (rounded up to 2 MiB).
 */
static void guest_init(struct guest *g, size_t image, size_t mapped)
{
	uint64_t pd[512] = { 0 }, e;

	image = (image + 2 * MiB - 1) & ~(2 * MiB - 1);
	g->size = IMAGE_GPA + image;
	g->mem = calloc(1, g->size);
	assert_non_null(g->mem);
	g->slot = (struct memslot){ .id = 0, .gpa = 0, .size = g->size, .hva = HV_BASE };
	g->gm = (struct guest_mem){
		.slots = &g->slot, .nslots = 1, .read_hva = guest_read_hva, .ctx = g
	};
	g->mmu = (struct guest_mmu){ .cr3 = 0x1000 };
	e = 0x2000 | 3;
	memcpy(g->mem + 0x1000 + 8 * 511, &e, 8);
	e = 0x3000 | 3;
	memcpy(g->mem + 0x2000 + 8 * 510, &e, 8);
	for (uint64_t off = 0; off < mapped && off < image; off += 2 * MiB)
		pd[((TEXT + KASLR + off) >> 21) & 0x1ff] = (IMAGE_GPA + off) | 0x83;
	memcpy(g->mem + 0x3000, pd, sizeof(pd));
	g->k = (struct guest_kernel){ .vbase = TEXT + KASLR };
}

static uint8_t *guest_at(struct guest *g, uint64_t off)
{
	return g->mem + IMAGE_GPA + off;
}

static void test_find(void **state)
{
	struct synth o = { 0 };
	uint32_t len;
	uint8_t *blob = synth_blob(&o, &len), *p;
	uint64_t at = 2 * MiB - 12; /* the header across the first chunk's edge */
	struct guest g;
	struct kbtf b;

	(void)state;
	guest_init(&g, 8 * MiB, 8 * MiB);
	/* nothing there */
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), -ENOENT);
	assert_null(b.btf);

	/* decoys first: a header with insane sizes, one that libbpf refuses */
	p = guest_at(&g, 0x1000);
	memcpy(p, blob, KBTF_HDR_LEN);
	put32(p + 20, 0);
	p = guest_at(&g, 0x3000);
	memcpy(p, blob, len);
	memset(p + KBTF_HDR_LEN, 0xff, 16);
	memcpy(guest_at(&g, at), blob, len);
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, TEXT + KASLR + at);
	assert_int_equal(b.size, len);
	kbtf__free(&b);

	/* the real one cut short by unmapped memory */
	memset(guest_at(&g, at), 0, len);
	at = 4 * MiB - 40;
	memcpy(guest_at(&g, at), blob, len);
	free(g.mem);
	guest_init(&g, 8 * MiB, 4 * MiB);
	memcpy(guest_at(&g, at), blob, len);
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), -ENOENT);

	/* behind more decoys than are tried: not found, and no more reads */
	memcpy(guest_at(&g, 3 * MiB), blob, len);
	for (int i = 0; i < KBTF_MAX_TRIES; i++) {
		p = guest_at(&g, 0x10000 * (uint64_t)(i + 1));
		memcpy(p, blob, len);
		memset(p + KBTF_HDR_LEN, 0xff, 16);
	}
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), -ENOENT);
	free(g.mem);
	free(blob);
}

/*
 * With the export table's address known, the scan starts there (.BTF ends
 * the read-only data, after it) and reads the image before it only when
 * nothing comes after.
 */
static void test_find_from_ksymtab(void **state)
{
	struct synth o = { 0 };
	uint32_t len;
	uint8_t *blob = synth_blob(&o, &len);
	struct guest g;
	struct kbtf b;

	(void)state;
	guest_init(&g, 8 * MiB, 8 * MiB);
	memcpy(guest_at(&g, 1 * MiB), blob, len);
	memcpy(guest_at(&g, 6 * MiB + 0x40), blob, len);
	g.k.ksymtab_va = g.k.vbase + 5 * MiB + 2; /* not aligned: the scan aligns it */
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, g.k.vbase + 6 * MiB + 0x40);
	kbtf__free(&b);
	/* nothing after it: the image from its start */
	memset(guest_at(&g, 6 * MiB + 0x40), 0, len);
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, g.k.vbase + 1 * MiB);
	kbtf__free(&b);
	/* a header across the export table's address is whole in the second scan */
	memset(guest_at(&g, 1 * MiB), 0, len);
	memcpy(guest_at(&g, 5 * MiB - 8), blob, len);
	g.k.ksymtab_va = g.k.vbase + 5 * MiB;
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, g.k.vbase + 5 * MiB - 8);
	kbtf__free(&b);
	free(g.mem);
	free(blob);
}

/* --- the lab's kernels ----------------------------------------------------------- */

static void check_kernel(const char *kernel)
{
	struct blob vmlinux = { 0 };
	struct guest_layout l, t;
	const Elf64_Shdr *sh;
	uint64_t text_pa = UINT64_MAX, end_pa = 0;
	char release[128];
	struct guest g;
	struct kbtf b;
	struct elf e;

	if (!kernel_images__vmlinux(kernel, &vmlinux))
		skip();
	elf__open(&e, &vmlinux);
	assert_true(kernel_images__release(kernel, release, sizeof(release)));
	sh = elf__section(&e, ".BTF");
	if (!sh) {
		print_message("%s: no .BTF section: layouts come from vmsh's tables\n", kernel);
		assert_int_equal(kbtf__layout(NULL, release, &l), 0);
		blob__free(&vmlinux);
		return;
	}

	/* The section as is: the layouts vmsh's tables have, from BTF. */
	assert_int_equal(kbtf__parse(&b, vmlinux.data + sh->sh_offset, sh->sh_size), 0);
	assert_int_equal(kbtf__layout(&b, release, &l), 0);
	assert_int_equal(kbtf__layout(NULL, release, &t), 0);
	assert_string_equal(l.work_src, "BTF");
	assert_string_equal(l.res_src, "BTF");
	assert_string_equal(l.work_data_init_src, "BTF");
	assert_non_null(strstr(t.work_src, "vmsh's table for"));
	assert_int_equal(l.work_size, t.work_size);
	assert_int_equal(l.work_data, t.work_data);
	assert_int_equal(l.work_entry, t.work_entry);
	assert_int_equal(l.work_func, t.work_func);
	assert_int_equal(l.res_size, t.res_size);
	assert_int_equal(l.res_start, t.res_start);
	assert_int_equal(l.res_end, t.res_end);
	assert_int_equal(l.res_name, t.res_name);
	assert_int_equal(l.res_flags, t.res_flags);
	assert_int_equal(l.res_desc, t.res_desc);
	assert_int_equal(l.work_data_init, t.work_data_init);
	kbtf__free(&b);

	/* The vmlinux in guest memory: found where the section is. */
	for (size_t i = 0; i < e.eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(&e, i);

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_paddr < text_pa)
			text_pa = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > end_pa)
			end_pa = ph->p_paddr + ph->p_memsz;
	}
	assert_true(end_pa > text_pa && end_pa - text_pa < 512 * MiB);
	guest_init(&g, end_pa - text_pa, end_pa - text_pa);
	for (size_t i = 0; i < e.eh->e_phnum; i++) {
		const Elf64_Phdr *ph = elf__phdr(&e, i);

		if (ph->p_type == PT_LOAD)
			memcpy(guest_at(&g, ph->p_paddr - text_pa), vmlinux.data + ph->p_offset,
			       ph->p_filesz);
	}
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, sh->sh_addr + KASLR);
	assert_int_equal(b.size, sh->sh_size);
	kbtf__free(&b);
	/* as attach looks for it: from the export table on, which comes first */
	const Elf64_Shdr *ksymtab = elf__section(&e, "__ksymtab");
	assert_non_null(ksymtab);
	assert_true(ksymtab->sh_addr < sh->sh_addr);
	g.k.ksymtab_va = ksymtab->sh_addr + KASLR;
	assert_int_equal(kbtf__find(&g.gm, &g.mmu, &g.k, &b), 0);
	assert_int_equal(b.gva, sh->sh_addr + KASLR);
	print_message("%s: BTF at +0x%llx, %u bytes, %u types; work_struct %u, resource %u, "
		      "WORK_DATA_INIT 0x%llx, as vmsh's tables have them\n",
		      kernel, (unsigned long long)(b.gva - g.k.vbase), b.size, b.ntypes,
		      l.work_size, l.res_size, (unsigned long long)l.work_data_init);
	kbtf__free(&b);
	free(g.mem);
	blob__free(&vmlinux);
}

#define KERNEL_TEST(test, kernel)                                                                  \
	static void test(void **state)                                                             \
	{                                                                                          \
		(void)state;                                                                       \
		check_kernel(kernel);                                                              \
	}
KERNEL_IMAGES(KERNEL_TEST)
#define KERNEL_UNIT_TEST(test, kernel) cmocka_unit_test(test),

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_layout_from_btf),
		cmocka_unit_test(test_find_from_ksymtab),
		cmocka_unit_test(test_layout_tables),
		cmocka_unit_test(test_layout_partial),
		cmocka_unit_test(test_layout_insane),
		cmocka_unit_test(test_fill_abi),
		cmocka_unit_test(test_find),
		KERNEL_IMAGES(KERNEL_UNIT_TEST) /* every kernel in the lab's list */
	};

	if (getenv("VMSH_TEST_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_TEST_VERBOSE"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
