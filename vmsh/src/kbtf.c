// SPDX-License-Identifier: GPL-2.0
/*
 * The guest kernel's BTF and the struct layouts stage1 needs (kbtf.h).
 *
 * Finding it. vmlinux's .BTF section sits in the image's read-only data
 * (RO_DATA in the linker script: after .rodata and the ksymtab, kept after
 * boot), so it is inside the kernel window that guest__find_kernel found,
 * above _text. Its header is struct btf_header: magic 0xeB9F (u16), version
 * 1, flags 0, hdr_len 24, then type_off, type_len, str_off, str_len (u32,
 * relative to the end of the header). The first eight bytes are fixed, so
 * the image is scanned in 2 MiB chunks for them at 4-byte alignment; a hit
 * whose sections are sane and small enough is copied out and handed to
 * libbpf's btf__new, which validates every type and string offset.
 *
 * Deriving the layout. For each piece, BTF first: struct work_struct's size
 * and its members data, entry and func; struct resource's size and start,
 * end, flags (name and desc reported); WORK_DATA_INIT() as
 * WORK_STRUCT_NO_POOL, computed from the enumerators WORK_OFFQ_POOL_SHIFT and
 * WORK_OFFQ_POOL_BITS the way workqueue.h does (or WORK_STRUCT_NO_POOL itself
 * where it is a 64-bit enumerator: in a 32-bit one pahole truncated it).
 * Then vmsh's tables, which hold for 5.10 and later (checked against each
 * lab kernel's BTF by test_loader_kernels.c).
 */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kbtf.h"
#include "loader.h"
#include "util.h"

#define SCAN_CHUNK (2ULL << 20)
#define ABSENT UINT32_MAX

/* WORK_STRUCT_PENDING, INACTIVE, PWQ, LINKED: never set in WORK_DATA_INIT. */
#define WORK_STRUCT_FLAG_MASK 0xfULL

/* The header's first eight bytes: magic, version 1, flags 0, hdr_len 24. */
static const uint8_t btf_head[8] = { 0x9f, 0xeb, 1, 0, KBTF_HDR_LEN, 0, 0, 0 };

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int kbtf__check_header(const void *p, size_t len, uint32_t *total)
{
	const uint8_t *h = p;
	uint64_t type_off, type_len, str_off, str_len, end;

	if (len < KBTF_HDR_LEN || memcmp(h, btf_head, sizeof(btf_head)))
		return -EINVAL;
	type_off = get32(h + 8);
	type_len = get32(h + 12);
	str_off = get32(h + 16);
	str_len = get32(h + 20);
	/* u32 + u32 in u64: no overflow. Types first, aligned; strings after them. */
	if ((type_off & 3) || !type_len || !str_len || type_off + type_len > str_off)
		return -EINVAL;
	end = str_off + str_len;
	if (end > KBTF_MAX_SIZE - KBTF_HDR_LEN)
		return -EFBIG;
	*total = (uint32_t)(KBTF_HDR_LEN + end);
	return 0;
}

/* libbpf's complaints about a guest's blob are debug output, not errors. */
static int kbtf__libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (vmsh_verbose < 2)
		return 0;
	fprintf(stderr, "vmsh: BTF: libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

int kbtf__parse(struct kbtf *b, const void *blob, size_t len)
{
	libbpf_print_fn_t old;
	uint32_t total;
	struct btf *btf;
	int ret;

	memset(b, 0, sizeof(*b));
	ret = kbtf__check_header(blob, len, &total);
	if (ret) {
		pr_debug("BTF: bad header (%s)", strerror(-ret));
		return -EINVAL;
	}
	if (total > len) {
		pr_debug("BTF: %u bytes, only %zu there", total, len);
		return -EINVAL;
	}
	old = libbpf_set_print(kbtf__libbpf_print);
	btf = btf__new(blob, total);
	ret = btf ? 0 : -errno;
	libbpf_set_print(old);
	if (!btf) {
		pr_debug("BTF: libbpf refuses it (%s)", strerror(-ret));
		return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	if (btf__find_by_name_kind(btf, "work_struct", BTF_KIND_STRUCT) <= 0) {
		pr_debug("BTF: no struct work_struct, not vmlinux's");
		btf__free(btf);
		return -EINVAL;
	}
	b->btf = btf;
	b->size = total;
	b->ntypes = btf__type_cnt(btf) - 1;
	return 0;
}

void kbtf__free(struct kbtf *b)
{
	btf__free(b->btf);
	memset(b, 0, sizeof(*b));
}

/* The candidate header at va: copy the blob out whole and parse it. */
static int kbtf__try(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t va,
		     const uint8_t *hdr, struct kbtf *b)
{
	uint32_t total;
	uint8_t *blob;
	int ret;

	if (kbtf__check_header(hdr, KBTF_HDR_LEN, &total))
		return -EINVAL;
	if (total > GUEST_KERNEL_WINDOW_END - va)
		return -EINVAL;
	blob = malloc(total);
	if (!blob)
		return -ENOMEM;
	ret = guest__read_virt(m, mmu, va, blob, total);
	if (ret)
		pr_debug("BTF candidate at 0x%llx: %u bytes not all readable",
			 (unsigned long long)va, total);
	else
		ret = kbtf__parse(b, blob, total);
	free(blob);
	if (!ret)
		b->gva = va;
	return ret;
}

/* Scan [va, end) for the first BTF blob that parses: 0, -ENOENT or -ENOMEM. */
static int kbtf__scan(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t va,
		      uint64_t end, uint8_t *buf, unsigned int *tries, struct kbtf *b)
{
	int ret = -ENOENT;

	/* Chunks overlap by a header, so that every header is whole in one. */
	while (va < end && ret == -ENOENT && *tries < KBTF_MAX_TRIES) {
		size_t len = end - va > SCAN_CHUNK ? SCAN_CHUNK : (size_t)(end - va);
		size_t limit = len == end - va ? len : len - KBTF_HDR_LEN;

		guest__read_virt_fill(m, mmu, va, buf, len);
		for (size_t off = 0; off < limit && off + KBTF_HDR_LEN <= len; off += 4) {
			int r;

			if (memcmp(buf + off, btf_head, sizeof(btf_head)))
				continue;
			r = kbtf__try(m, mmu, va + off, buf + off, b);
			if (r == -ENOMEM || !r) {
				ret = r;
				break;
			}
			if (++*tries >= KBTF_MAX_TRIES)
				break;
		}
		va += limit;
	}
	return ret;
}

int kbtf__find(const struct guest_mem *m, const struct guest_mmu *mmu, const struct guest_kernel *k,
	       struct kbtf *b)
{
	uint64_t va = k->vbase, end, from;
	unsigned int tries = 0;
	uint8_t *buf;
	int ret;

	memset(b, 0, sizeof(*b));
	if (va >= GUEST_KERNEL_WINDOW_END || (va & 3))
		return -ENOENT;
	end = GUEST_KERNEL_WINDOW_END - va > KBTF_SCAN_MAX ? va + KBTF_SCAN_MAX
							   : GUEST_KERNEL_WINDOW_END;
	buf = malloc(SCAN_CHUNK);
	if (!buf)
		return -ENOMEM;
	/*
	 * The linker script puts .BTF at the end of the read-only data, after
	 * the export tables (RO_DATA in vmlinux.lds.h, 4.18 to 6.x): start
	 * there, and read the image from its start (.text, most of it) only if
	 * that finds nothing.
	 */
	from = k->ksymtab_va > va && k->ksymtab_va < end ? k->ksymtab_va & ~3ULL : va;
	ret = kbtf__scan(m, mmu, from, end, buf, &tries, b);
	if (ret == -ENOENT && from > va)
		ret = kbtf__scan(m, mmu, va, from + KBTF_HDR_LEN, buf, &tries, b);
	free(buf);
	if (!ret)
		pr_info("guest kernel BTF at 0x%llx: %u bytes, %u types",
			(unsigned long long)b->gva, b->size, b->ntypes);
	else if (ret == -ENOENT)
		pr_info("no BTF in the guest kernel's image (%u candidates refused)", tries);
	return ret;
}

/* --- the layout ----------------------------------------------------------- */

/*
 * A member of the struct: its byte offset, if it is a whole member of
 * exactly size bytes (not a bitfield); ABSENT otherwise.
 */
static uint32_t kbtf__member(const struct btf *btf, const struct btf_type *t, const char *name,
			     uint32_t size)
{
	const struct btf_member *mb = btf_members(t);

	for (uint16_t i = 0; i < btf_vlen(t); i++) {
		const char *n = btf__name_by_offset(btf, mb[i].name_off);
		uint32_t bits = btf_member_bit_offset(t, i);
		long long sz;

		if (!n || strcmp(n, name))
			continue;
		sz = btf__resolve_size(btf, mb[i].type);
		if ((bits & 7) || btf_member_bitfield_size(t, i) || sz != (long long)size)
			return ABSENT;
		return bits / 8;
	}
	return ABSENT;
}

/* The struct's size, 0 if BTF lacks it; offs[i] of members[i] of sizes[i]. */
static uint32_t kbtf__struct(const struct kbtf *b, const char *name, const char *const members[],
			     const uint32_t sizes[], uint32_t offs[], size_t n)
{
	const struct btf_type *t;
	int id;

	if (!b || !b->btf)
		return 0;
	id = btf__find_by_name_kind(b->btf, name, BTF_KIND_STRUCT);
	if (id <= 0 || !(t = btf__type_by_id(b->btf, (uint32_t)id)))
		return 0;
	for (size_t i = 0; i < n; i++)
		offs[i] = kbtf__member(b->btf, t, members[i], sizes[i]);
	return t->size;
}

/* An enumerator's value (32- or 64-bit enum); false if absent. */
static bool kbtf__enum(const struct kbtf *b, const char *name, uint64_t *val, bool *wide)
{
	uint32_t n;

	if (!b || !b->btf)
		return false;
	n = btf__type_cnt(b->btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);

		if (!t || !btf_is_any_enum(t))
			continue;
		for (uint16_t i = 0; i < btf_vlen(t); i++) {
			uint32_t off =
			    btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
			const char *e = btf__name_by_offset(b->btf, off);

			if (!e || strcmp(e, name))
				continue;
			*wide = btf_is_enum64(t);
			*val = *wide ? btf_enum64_value(&btf_enum64(t)[i])
				     : (uint64_t)(uint32_t)btf_enum(t)[i].val;
			return true;
		}
	}
	return false;
}

/*
 * WORK_DATA_INIT(), or WORK_DATA_STATIC_INIT() where the kernel has
 * CONFIG_DEBUG_OBJECTS_WORK (only then does enum WORK_STRUCT_STATIC_BIT
 * exist): stage1's work item is not known to debugobjects (no INIT_WORK ran),
 * and the static bit is what makes debugobjects take it on its first
 * activation instead of warning "ODEBUG: activate not available".
 */
static bool kbtf__work_data_init(const struct kbtf *b, uint64_t *v)
{
	uint64_t shift, bits, static_bit;
	bool wide, found;

	if (kbtf__enum(b, "WORK_OFFQ_POOL_SHIFT", &shift, &wide) &&
	    kbtf__enum(b, "WORK_OFFQ_POOL_BITS", &bits, &wide)) {
		if (!bits || bits > 32 || shift + bits > 64)
			return false;
		*v = ((1ULL << bits) - 1) << shift;
		found = true;
	} else {
		found = kbtf__enum(b, "WORK_STRUCT_NO_POOL", v, &wide) && wide;
	}
	if (found && kbtf__enum(b, "WORK_STRUCT_STATIC_BIT", &static_bit, &wide)) {
		/* a flag bit below the pool's: anything else is not a static bit */
		if (static_bit < 4 || static_bit >= 8 || (*v & (1ULL << static_bit)))
			return false;
		*v |= 1ULL << static_bit;
	}
	return found;
}

/* "6.1" of "Linux version 6.1.0-13-amd64 (...)" or "6.1.0-13-amd64"; false if neither. */
static bool kbtf__release(const char *banner, char *out, size_t len)
{
	static const char prefix[] = "Linux version ";
	unsigned int major, minor;

	if (!strncmp(banner, prefix, sizeof(prefix) - 1))
		banner += sizeof(prefix) - 1;
	if (sscanf(banner, "%u.%u", &major, &minor) != 2)
		return false;
	snprintf(out, len, "%u.%u", major, minor);
	return true;
}

/* Where a piece came from, or the error when neither BTF nor the tables have it. */
static int kbtf__source(char *src, bool from_btf, bool table, const char *release,
			const struct kbtf *b, const char *piece)
{
	if (from_btf) {
		snprintf(src, KBTF_SOURCE_LEN, "BTF");
		return 0;
	}
	if (table) {
		snprintf(src, KBTF_SOURCE_LEN, "vmsh's table for %s", release);
		return 0;
	}
	if (b && b->btf)
		pr_err(
		    "the guest kernel's BTF has no %s and vmsh has no table for %s: vmsh cannot "
		    "serve this guest (vmsh's tables cover Linux 5.10 and later); the VM was not "
		    "changed",
		    piece, release);
	else
		pr_err("the guest kernel has no BTF (CONFIG_DEBUG_INFO_BTF) and vmsh has no table "
		       "for %s, so it does not know the kernel's %s: vmsh serves kernels 5.10 and "
		       "later, or any kernel built with BTF; the VM was not changed",
		       release, piece);
	return -ENOTSUP;
}

int kbtf__layout(const struct kbtf *b, const char *banner, struct guest_layout *l)
{
	static const char *const work_m[] = { "data", "entry", "func" };
	static const uint32_t work_s[] = { 8, 16, 8 };
	static const char *const res_m[] = { "start", "end", "flags", "name", "desc" };
	static const uint32_t res_s[] = { 8, 8, 8, 8, 8 };
	uint32_t w[3], r[5], wsize, rsize;
	char release[32] = "this kernel";
	bool table = false, have;
	const char *why;
	uint64_t data = 0;
	int ret;

	memset(l, 0, sizeof(*l));
	if (kbtf__release(banner, release, sizeof(release)))
		table = !loader__work_data_init(banner, &data);
	else
		snprintf(release, sizeof(release), "'%.20s'", banner);

	wsize = kbtf__struct(b, "work_struct", work_m, work_s, w, ARRAY_SIZE(w));
	have = wsize && w[0] != ABSENT && w[1] != ABSENT && w[2] != ABSENT;
	ret = kbtf__source(l->work_src, have, table, release, b, "struct work_struct");
	if (ret)
		return ret;
	l->work_size = have ? wsize : 32;
	l->work_data = have ? w[0] : 0;
	l->work_entry = have ? w[1] : 8;
	l->work_func = have ? w[2] : 24;

	rsize = kbtf__struct(b, "resource", res_m, res_s, r, ARRAY_SIZE(r));
	have = rsize && r[0] != ABSENT && r[1] != ABSENT && r[2] != ABSENT;
	ret = kbtf__source(l->res_src, have, table, release, b, "struct resource");
	if (ret)
		return ret;
	l->res_size = have ? rsize : 64;
	l->res_start = have ? r[0] : 0;
	l->res_end = have ? r[1] : 8;
	l->res_flags = have ? r[2] : 24;
	l->res_name = have ? r[3] : 16;
	l->res_desc = have ? r[4] : 32;

	have = kbtf__work_data_init(b, &l->work_data_init);
	ret = kbtf__source(l->work_data_init_src, have, table, release, b,
			   "WORK_DATA_INIT() (enum WORK_OFFQ_POOL_SHIFT, WORK_OFFQ_POOL_BITS)");
	if (ret)
		return ret;
	if (!have)
		l->work_data_init = data;

	if (kbtf__check_layout(l, &why)) {
		pr_err("the guest kernel's layout is not one stage1 can use (%s; work_struct %s, "
		       "resource %s, WORK_DATA_INIT %s): the VM was not changed",
		       why, l->work_src, l->res_src, l->work_data_init_src);
		return -EINVAL;
	}
	return 0;
}

static bool disjoint(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return (uint64_t)a + alen <= b || (uint64_t)b + blen <= a;
}

int kbtf__check_layout(const struct guest_layout *l, const char **why)
{
	const char *w = NULL;

	if (!l->work_size || l->work_size > STAGE1_WORK_SIZE)
		w = "struct work_struct is larger than stage1's buffer";
	else if (!stage1_layout__field_ok(l->work_data, 8, l->work_size) ||
		 !stage1_layout__field_ok(l->work_entry, 16, l->work_size) ||
		 !stage1_layout__field_ok(l->work_func, 8, l->work_size))
		w = "a field of struct work_struct is unaligned or outside it";
	else if (!disjoint(l->work_data, 8, l->work_entry, 16) ||
		 !disjoint(l->work_data, 8, l->work_func, 8) ||
		 !disjoint(l->work_entry, 16, l->work_func, 8))
		w = "fields of struct work_struct overlap";
	else if (!l->res_size || l->res_size > STAGE1_RES_SIZE || (l->res_size & 7))
		w = "struct resource is larger than stage1's buffer or not 8-byte sized";
	else if (!stage1_layout__field_ok(l->res_start, 8, l->res_size) ||
		 !stage1_layout__field_ok(l->res_end, 8, l->res_size) ||
		 !stage1_layout__field_ok(l->res_flags, 8, l->res_size))
		w = "a field of struct resource is unaligned or outside it";
	else if (!disjoint(l->res_start, 8, l->res_end, 8) ||
		 !disjoint(l->res_start, 8, l->res_flags, 8) ||
		 !disjoint(l->res_end, 8, l->res_flags, 8))
		w = "fields of struct resource overlap";
	else if (!l->work_data_init || (l->work_data_init & WORK_STRUCT_FLAG_MASK))
		w = "WORK_DATA_INIT is 0 or has WORK_STRUCT flag bits set";
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

void kbtf__fill_abi(const struct guest_layout *l, struct stage1_abi *abi)
{
	abi->work_data_init = l->work_data_init;
	abi->layout = (struct stage1_layout){ .work_size = l->work_size,
					      .work_data = l->work_data,
					      .work_entry = l->work_entry,
					      .work_func = l->work_func,
					      .res_size = l->res_size,
					      .res_start = l->res_start,
					      .res_end = l->res_end,
					      .res_flags = l->res_flags };
}
