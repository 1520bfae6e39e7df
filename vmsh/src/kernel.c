// SPDX-License-Identifier: GPL-2.0
/*
 * Finding the guest's Linux kernel (x86_64) from outside, through its page
 * tables: where it is mapped (and so its KASLR offset), its banner, and its
 * exported symbols.
 *
 * 1. Mapping. The kernel image is mapped inside the 1 GiB window
 *    0xffffffff80000000-0xffffffffc0000000 and, after cleanup_highmap(),
 *    nothing below _text is: the first mapped address is _text. The image
 *    need not be mapped as one piece (with PTI, freed gaps are unmapped), so
 *    we keep a list of mapped extents and scan all of them.
 * 2. Banner. linux_banner is "Linux version <release> (<builder>) (<cc>)
 *    <UTS_VERSION>\n". Since 6.0 the image also holds a weak copy compiled
 *    before the final link, whose UTS_VERSION lacks the build number
 *    ("# SMP ..." instead of "#1 SMP ..."); printk format strings may also
 *    contain "Linux version". We take the first candidate that is a whole
 *    printable line with "(", "#" and no "%", preferring one where "#" is
 *    followed by a digit, which is the one /proc/version shows.
 * 3. Exported symbols. __ksymtab_strings is a run of NUL-terminated
 *    names (C identifiers) and namespaces; we find it from an exported name
 *    that every kernel has ("init_task", or "_printk"/"printk") and grow it
 *    both ways over such strings. __ksymtab and __ksymtab_gpl follow each other and sit
 *    below it, with __kcrctab (CONFIG_MODVERSIONS) in between: scanning down
 *    from the strings in 4-byte steps, the first position where two
 *    consecutive entries decode to names inside the strings is the end of
 *    __ksymtab_gpl, and the arrays extend down as long as entries stay valid.
 *    PREL32 fields are signed offsets from the field itself (the original
 *    vmsh subtracted them, which is only right for symbols below the table).
 *
 * Everything read here is guest data: reads, sizes, counts and name lengths
 * are capped so that garbage can at worst make us fail with -ENOENT.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "util.h"

/* The kernel image window of x86_64 (__START_KERNEL_map + KERNEL_IMAGE_SIZE). */
/* _text without KASLR: __START_KERNEL_map + CONFIG_PHYSICAL_START (16 MiB). */
#define KERNEL_TEXT_NOKASLR 0xffffffff81000000ULL
/* Start of the kernel half of the address space (4- or 5-level). */
#define KERNEL_HALF_START 0xff00000000000000ULL

#define PAGE_4K 0x1000ULL
/* Merged mapped ranges we track; a real kernel has a handful. */
#define MAX_EXTENTS 1024
/* The image is scanned in chunks this big, overlapping by SCAN_OVERLAP. */
#define SCAN_CHUNK (2ULL << 20)
#define SCAN_OVERLAP 512
/*
 * At most this much of the mapped window is scanned: real images are well
 * below 128 MiB and keep the banner and symbols in .rodata, in their first
 * half; hostile tables could map the whole 1 GiB window.
 */
#define SCAN_MAX (256ULL << 20)
/* Candidate positions of __ksymtab_strings we try, in all. */
#define MAX_ANCHORS 8
/*
 * How much guest memory around an anchor we read to find the strings and
 * the tables: strings up to STRINGS_MAX on either side of the anchor, the
 * tables ending at most KSYMTAB_GAP below the strings (__kcrctab is in
 * between) and at most KSYM_MAX entries long.
 */
#define STRINGS_MAX (4ULL << 20)
#define KSYMTAB_GAP (4ULL << 20)
#define KSYM_MAX 262144
#define KSYM_MIN 16
#define WINDOW_BELOW (STRINGS_MAX + KSYMTAB_GAP + 4ULL * 1024 * 1024)
#define WINDOW_ABOVE STRINGS_MAX
/*
 * A real kernel's strings and tables take about 1 MiB (6.1: 500 KiB of
 * names, 400 KiB of tables): a window this big is tried first, the full
 * one only when what was found touches its edges.
 */
#define SMALL_BELOW (3ULL << 20)
#define SMALL_ABOVE (1ULL << 20)
/* Runs of NULs longer than this end the strings region (padding, zeroes). */
#define STRINGS_MAX_NULS 16
/* Longest exported name we accept (KSYM_NAME_LEN is 512; real ones < 100). */
#define KSYM_NAME_MAX 256

struct extent {
	uint64_t va, len;
	bool nx; /* not executable: .rodata and data, not .text */
};

/* Guest memory copied into a host buffer, addressed by guest-virtual address. */
struct window {
	uint8_t *buf;
	uint64_t va;
	size_t len;
	bool clipped; /* a search ran into the window's edge: a bigger one may find more */
};

struct strings {
	uint64_t start, end; /* [start, end) within the window */
};

static const char *const anchor_names[] = { "init_task", "_printk", "printk" };

struct scan {
	char banner[sizeof(((struct guest_kernel *)0)->banner)];
	uint64_t banner_va;
	bool have_banner, banner_numbered;
	/* Anchors seen in the current chunk, to try before going on. */
	uint64_t anchors[MAX_ANCHORS];
	size_t nanchors, tried;
};

const char *ksymtab_layout__name(enum ksymtab_layout l)
{
	switch (l) {
	case KSYMTAB_NONE:
		return "none";
	case KSYMTAB_PREL32_NS:
		return "prel32-ns";
	case KSYMTAB_PREL32:
		return "prel32";
	case KSYMTAB_ABS64:
		return "abs64";
	}
	return "unknown";
}

size_t guest__ksymtab_entry_size(enum ksymtab_layout l)
{
	switch (l) {
	case KSYMTAB_PREL32_NS:
		return 12;
	case KSYMTAB_PREL32:
		return 8;
	case KSYMTAB_ABS64:
		return 16;
	default:
		return 0;
	}
}

/*
 * Walk the window's page tables and merge the mapped pages into extents.
 * Unmapped regions are skipped as a whole (guest__translate reports the size
 * of the region a missing entry covers), and each step advances by at least
 * 4 KiB, so the walk is bounded whatever the tables hold.
 */
static void kernel__map_extents(const struct guest_mem *m, const struct guest_mmu *mmu,
				struct extent *ext, size_t *n, size_t max)
{
	uint64_t va = GUEST_KERNEL_WINDOW_START;

	*n = 0;
	while (va < GUEST_KERNEL_WINDOW_END) {
		uint64_t gpa, size = PAGE_4K, next;
		bool nx;
		int ret = guest__translate_nx(m, mmu, va, &gpa, &size, &nx);

		if (size < PAGE_4K || (size & (size - 1)))
			size = PAGE_4K;
		next = (va | (size - 1)) + 1;
		if (next <= va || next > GUEST_KERNEL_WINDOW_END)
			next = GUEST_KERNEL_WINDOW_END;
		if (ret == 0) {
			if (*n && ext[*n - 1].va + ext[*n - 1].len == va && ext[*n - 1].nx == nx) {
				ext[*n - 1].len += next - va;
			} else if (*n < max) {
				ext[*n] = (struct extent){ .va = va, .len = next - va, .nx = nx };
				(*n)++;
			} else if (max < MAX_EXTENTS) {
				return; /* as many as asked for */
			} else {
				pr_debug("more than %d mapped ranges in the kernel window",
					 MAX_EXTENTS);
				return;
			}
		}
		va = next;
	}
}

/* guest.h; the scans below look at a region that may have holes. */
void guest__read_virt_fill(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t va,
			   uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t gpa = 0, size = PAGE_4K, chunk;
		int ret = guest__translate(m, mmu, va, &gpa, &size);
		bool mapped = ret == 0;

		if (size < PAGE_4K || (size & (size - 1)))
			size = PAGE_4K;
		chunk = size - (va & (size - 1));
		if (chunk > len)
			chunk = len;
		if (mapped)
			ret = guest__read_phys(m, gpa, buf, (size_t)chunk);
		if (ret < 0 && ret != -EFAULT)
			pr_debug("reading guest 0x%llx: %s", (unsigned long long)va,
				 strerror(-ret));
		if (mapped && ret < 0 && chunk > PAGE_4K - (va & (PAGE_4K - 1))) {
			/* A huge page partly outside guest memory: retry by 4 KiB. */
			chunk = PAGE_4K - (va & (PAGE_4K - 1));
			if (chunk > len)
				chunk = len;
			ret = guest__read_phys(m, gpa, buf, (size_t)chunk);
		}
		if (ret < 0)
			memset(buf, 0, (size_t)chunk);
		buf += chunk;
		va += chunk;
		len -= (size_t)chunk;
	}
}

static bool kernel__printable(char c)
{
	return c >= 0x20 && c < 0x7f;
}

static bool kernel__ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '$';
}

/*
 * Namespace strings share __ksymtab_strings with the names and are not
 * always identifiers: 6.12 (and stable backports) export symbols to
 * "module:kvm,kvm-intel" namespaces.
 */
static bool kernel__token_char(char c)
{
	return c > 0x20 && c < 0x7f;
}

/*
 * Is p (with avail bytes after it) a plausible linux_banner? A whole line,
 * terminated by "\n\0" as the C string is, fitting the banner buffer.
 */
static bool kernel__banner_at(const char *p, size_t avail, char *out, size_t outlen, bool *numbered)
{
	const char *hash;
	size_t n = 0;

	while (n < avail && n < outlen - 1 && p[n] != '\n') {
		if (!kernel__printable(p[n]))
			return false;
		n++;
	}
	if (n + 1 >= avail || p[n] != '\n' || p[n + 1] != '\0')
		return false;
	if (!memchr(p, '(', n) || memchr(p, '%', n))
		return false;
	hash = memchr(p, '#', n);
	if (!hash)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	*numbered = hash + 1 < p + n && hash[1] >= '0' && hash[1] <= '9';
	return true;
}

/*
 * Look for the banner and the anchors in buf (guest address va); only
 * matches that start before limit count, the rest is overlap with the next
 * chunk, which will see them again.
 */
static void kernel__scan_chunk(struct scan *s, const uint8_t *buf, size_t len, size_t limit,
			       uint64_t va)
{
	static const char banner[] = "Linux version ";
	const uint8_t *p = buf, *end = buf + len, *hit;

	while (!s->banner_numbered &&
	       (hit = memmem(p, (size_t)(end - p), banner, sizeof(banner) - 1))) {
		char cand[sizeof(s->banner)];
		bool numbered;

		if ((size_t)(hit - buf) >= limit)
			break;
		if (kernel__banner_at((const char *)hit, (size_t)(end - hit), cand, sizeof(cand),
				      &numbered) &&
		    (!s->have_banner || numbered)) {
			memcpy(s->banner, cand, sizeof(cand));
			s->banner_va = va + (uint64_t)(hit - buf);
			s->have_banner = true;
			s->banner_numbered = numbered;
		}
		p = hit + 1;
	}

	for (size_t a = 0; a < ARRAY_SIZE(anchor_names); a++) {
		char pat[16];
		size_t plen = strlen(anchor_names[a]) + 2;

		/* "\0name\0": a whole string, not the tail or head of another. */
		pat[0] = '\0';
		memcpy(pat + 1, anchor_names[a], plen - 2);
		pat[plen - 1] = '\0';
		p = buf;
		while (s->tried + s->nanchors < MAX_ANCHORS &&
		       (hit = memmem(p, (size_t)(end - p), pat, plen))) {
			if ((size_t)(hit - buf) >= limit)
				break;
			s->anchors[s->nanchors++] = va + (uint64_t)(hit - buf) + 1;
			p = hit + 1;
		}
	}
}

static bool window__has(const struct window *w, uint64_t va, uint64_t len)
{
	return va >= w->va && va - w->va <= w->len && len <= w->len - (va - w->va);
}

/*
 * A NUL-terminated string inside [start, end) of up to KSYM_NAME_MAX-1
 * chars: a non-empty identifier for a name, any token for a namespace.
 */
static bool kernel__string_at(const struct window *w, const struct strings *str, uint64_t va,
			      bool ns)
{
	size_t n = 0;

	if (va < str->start || va >= str->end)
		return false;
	for (; va + n < str->end && n < KSYM_NAME_MAX; n++) {
		char c = (char)w->buf[va + n - w->va];

		if (c == '\0')
			return n > 0 || ns;
		if (!(ns ? kernel__token_char(c) : kernel__ident_char(c)))
			return false;
	}
	return false;
}

/*
 * Grow the strings region around the anchor (a name whose NUL-terminated
 * string starts at va) over NUL-terminated tokens. Identical strings
 * are merged by the linker, tail-merging included, so names need not start
 * after a NUL, and empty strings (namespaces) show up as extra NULs.
 */
static bool kernel__strings_around(struct window *w, uint64_t anchor, struct strings *str)
{
	const char *b = (const char *)w->buf;
	size_t a = (size_t)(anchor - w->va), pos, start, nuls = 0, idents = 0;

	/* Forward, from the anchor, token by token. */
	pos = a;
	str->end = anchor;
	while (pos < w->len && pos - a < STRINGS_MAX) {
		size_t tok = pos;

		while (pos < w->len && kernel__token_char(b[pos]))
			pos++;
		if (pos >= w->len)
			w->clipped = true;
		if (pos >= w->len || b[pos] != '\0')
			break;
		if (pos == tok) {
			if (++nuls > STRINGS_MAX_NULS)
				break;
		} else {
			nuls = 0;
			idents++;
		}
		pos++;
		str->end = w->va + pos;
	}

	/* Backward: b[pos] is the NUL that ends the previous token. */
	start = a;
	nuls = 0;
	pos = a - 1;
	while (pos > 0 && a - pos < STRINGS_MAX && b[pos] == '\0') {
		size_t q = pos;

		while (q > 0 && kernel__token_char(b[q - 1]))
			q--;
		if (q == pos) {
			if (++nuls > STRINGS_MAX_NULS)
				break;
		} else {
			nuls = 0;
			idents++;
		}
		start = q;
		/*
		 * A token not preceded by a NUL is the first string of the
		 * section, glued to whatever comes before: keep it and stop.
		 */
		if (q == 0)
			w->clipped = true;
		if (q == 0 || b[q - 1] != '\0')
			break;
		pos = q - 1;
	}
	if (pos == 0)
		w->clipped = true;
	str->start = w->va + start;
	pr_debug("strings candidate 0x%llx-0x%llx, %zu names", (unsigned long long)str->start,
		 (unsigned long long)str->end, idents);
	return idents >= KSYM_MIN;
}

struct kentry {
	uint64_t value, name, ns;
};

static uint64_t kernel__prel32(const uint8_t *p, uint64_t va)
{
	int32_t off;

	memcpy(&off, p, sizeof(off));
	/* Two's complement wrap-around: negative offsets point below the field. */
	return va + (uint64_t)(int64_t)off;
}

static void ksymtab__decode(enum ksymtab_layout l, const uint8_t *p, uint64_t va, struct kentry *e)
{
	e->ns = 0;
	switch (l) {
	case KSYMTAB_PREL32_NS:
		if (memcmp(p + 8, "\0\0\0\0", 4))
			e->ns = kernel__prel32(p + 8, va + 8);
		/* fallthrough */
	case KSYMTAB_PREL32:
		e->value = kernel__prel32(p, va);
		e->name = kernel__prel32(p + 4, va + 4);
		break;
	case KSYMTAB_ABS64:
		memcpy(&e->value, p, 8);
		memcpy(&e->name, p + 8, 8);
		break;
	default:
		memset(e, 0, sizeof(*e));
	}
}

/*
 * Is the entry at va valid: a name in the strings, a namespace there too
 * (or none), and a value in the kernel half or a small per-cpu offset
 * (exported per-cpu variables are offsets into the per-cpu area)?
 */
static bool ksymtab__valid(const struct window *w, const struct strings *str, enum ksymtab_layout l,
			   uint64_t va, struct kentry *e)
{
	size_t size = guest__ksymtab_entry_size(l);

	if (!window__has(w, va, size))
		return false;
	ksymtab__decode(l, w->buf + (va - w->va), va, e);
	if (!kernel__string_at(w, str, e->name, false))
		return false;
	if (e->ns && !kernel__string_at(w, str, e->ns, true))
		return false;
	return e->value >= KERNEL_HALF_START || e->value < (1ULL << 32);
}

/* Find the tables below the strings: [*start, *start + *n * size). */
static bool ksymtab__find(struct window *w, const struct strings *str, enum ksymtab_layout l,
			  uint64_t *start, size_t *n)
{
	uint64_t size = guest__ksymtab_entry_size(l);
	uint64_t top = str->start & ~3ULL;
	uint64_t low = str->start - w->va > KSYMTAB_GAP ? str->start - KSYMTAB_GAP : w->va;
	struct kentry a, b;

	for (uint64_t end = top; end >= low + 2 * size; end -= 4) {
		uint64_t q;
		size_t count;

		if (!ksymtab__valid(w, str, l, end - size, &a) ||
		    !ksymtab__valid(w, str, l, end - 2 * size, &b) || a.name == b.name)
			continue;
		/* The end of __ksymtab_gpl: extend down through __ksymtab. */
		q = end - 2 * size;
		count = 2;
		while (count < KSYM_MAX && q - w->va >= size &&
		       ksymtab__valid(w, str, l, q - size, &a)) {
			q -= size;
			count++;
		}
		if (q - w->va < size)
			w->clipped = true;
		if (count >= KSYM_MIN) {
			*start = q;
			*n = count;
			return true;
		}
	}
	/* the gap below the strings was cut by the window */
	if (low == w->va)
		w->clipped = true;
	return false;
}

static int ksym__cmp(const void *a, const void *b)
{
	return strcmp(((const struct ksym *)a)->name, ((const struct ksym *)b)->name);
}

static int ksymtab__collect(const struct window *w, const struct strings *str,
			    enum ksymtab_layout l, uint64_t start, size_t n, struct guest_kernel *k)
{
	size_t size = guest__ksymtab_entry_size(l);
	struct ksym *syms = calloc(n, sizeof(*syms));

	if (!syms)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct kentry e;

		/* Validated by ksymtab__find(); checked again, it is cheap. */
		if (!ksymtab__valid(w, str, l, start + i * size, &e))
			goto err;
		syms[i].addr = e.value;
		syms[i].name = strndup((const char *)w->buf + (e.name - w->va), KSYM_NAME_MAX);
		if (!syms[i].name)
			goto err;
	}
	qsort(syms, n, sizeof(*syms), ksym__cmp);
	k->syms = syms;
	k->nsyms = n;
	k->layout = l;
	k->ksymtab_va = start;
	return 0;
err:
	for (size_t i = 0; i < n; i++)
		free(syms[i].name);
	free(syms);
	return -ENOMEM;
}

/*
 * Try the strings candidate at anchor in a window of below/above bytes
 * around it: 0, -ENOENT if it is not, -EAGAIN if a bigger window may
 * find them (or more of them), -ENOMEM.
 */
static int kernel__ksymtab_in(const struct guest_mem *m, const struct guest_mmu *mmu,
			      uint64_t anchor, uint64_t below, uint64_t above,
			      struct guest_kernel *k)
{
	static const enum ksymtab_layout layouts[] = { KSYMTAB_PREL32_NS, KSYMTAB_PREL32,
						       KSYMTAB_ABS64 };
	struct window w = { .clipped = false };
	struct strings str;
	uint64_t end, start;
	size_t i, n;
	int ret = -ENOENT;

	w.va =
	    anchor - GUEST_KERNEL_WINDOW_START > below ? anchor - below : GUEST_KERNEL_WINDOW_START;
	end = GUEST_KERNEL_WINDOW_END - anchor > above ? anchor + above : GUEST_KERNEL_WINDOW_END;
	w.len = (size_t)(end - w.va);
	w.buf = malloc(w.len);
	if (!w.buf)
		return -ENOMEM;
	guest__read_virt_fill(m, mmu, w.va, w.buf, w.len);

	if (!kernel__strings_around(&w, anchor, &str))
		goto out;
	for (i = 0; i < ARRAY_SIZE(layouts); i++)
		if (ksymtab__find(&w, &str, layouts[i], &start, &n))
			break;
	if (w.clipped) {
		ret = -EAGAIN;
		goto out;
	}
	if (i == ARRAY_SIZE(layouts))
		goto out;
	pr_info("%zu exported symbols (%s) at 0x%llx, names at 0x%llx", n,
		ksymtab_layout__name(layouts[i]), (unsigned long long)start,
		(unsigned long long)str.start);
	ret = ksymtab__collect(&w, &str, layouts[i], start, n, k);
out:
	free(w.buf);
	return ret;
}

/* Try the strings candidate at anchor: 0, -ENOENT if it is not, -ENOMEM. */
static int kernel__ksymtab_at(const struct guest_mem *m, const struct guest_mmu *mmu,
			      uint64_t anchor, struct guest_kernel *k)
{
	int ret = kernel__ksymtab_in(m, mmu, anchor, SMALL_BELOW, SMALL_ABOVE, k);

	if (ret != -EAGAIN)
		return ret;
	ret = kernel__ksymtab_in(m, mmu, anchor, WINDOW_BELOW, WINDOW_ABOVE, k);
	return ret == -EAGAIN ? -ENOENT : ret;
}

/*
 * Scan the mapped image chunk by chunk for the banner and for anchors, and
 * try each anchor as soon as it is seen: on a real kernel we stop after
 * .rodata instead of reading the whole image. Both are in .rodata, which
 * a kernel with STRICT_KERNEL_RWX (every distribution's) maps NX, so the
 * non-executable ranges go first and .text, most of the image, is not
 * read at all; the executable ones follow only when that found nothing
 * (rodata=off, or no NX).
 */
static int kernel__scan_image(const struct guest_mem *m, const struct guest_mmu *mmu,
			      const struct extent *ext, size_t n, struct guest_kernel *k)
{
	uint64_t budget = SCAN_MAX;
	struct scan *s = calloc(1, sizeof(*s));
	uint8_t *buf = malloc(SCAN_CHUNK);
	int ret = 0;

	if (!s || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < 2 * n && budget; j++) {
		size_t i = j % n;
		uint64_t va = ext[i].va, left = ext[i].len;

		if (ext[i].nx != (j < n))
			continue;

		while (left && budget && !(s->banner_numbered && k->syms)) {
			size_t len = left > SCAN_CHUNK ? SCAN_CHUNK : (size_t)left;
			size_t limit = len == left ? len : len - SCAN_OVERLAP;

			guest__read_virt_fill(m, mmu, va, buf, len);
			kernel__scan_chunk(s, buf, len, limit, va);
			for (size_t a = 0; a < s->nanchors && !k->syms; a++) {
				s->tried++;
				ret = kernel__ksymtab_at(m, mmu, s->anchors[a], k);
				if (ret == -ENOMEM)
					goto out;
			}
			s->nanchors = 0;
			va += limit;
			left -= limit;
			budget = budget > limit ? budget - limit : 0;
		}
	}
	ret = 0;
	if (!s->have_banner) {
		pr_err("no Linux banner in the kernel image at 0x%llx",
		       (unsigned long long)k->vbase);
		ret = -ENOENT;
	} else if (!k->syms) {
		pr_err("no exported symbol table (__ksymtab) in the kernel image at 0x%llx",
		       (unsigned long long)k->vbase);
		ret = -ENOENT;
	}
	memcpy(k->banner, s->banner, sizeof(k->banner));
	k->banner_va = s->banner_va;
out:
	free(buf);
	free(s);
	return ret;
}

/* The kernel's mapped ranges and its base, virtual and physical. */
static int kernel__locate(const struct guest_mem *m, const struct guest_mmu *mmu,
			  struct guest_kernel *k, struct extent *ext, size_t *n, size_t max)
{
	int ret;

	memset(k, 0, sizeof(*k));
	kernel__map_extents(m, mmu, ext, n, max);
	if (!*n) {
		pr_err("no kernel mapped at 0x%llx-0x%llx (cr3 0x%llx)",
		       (unsigned long long)GUEST_KERNEL_WINDOW_START,
		       (unsigned long long)GUEST_KERNEL_WINDOW_END, (unsigned long long)mmu->cr3);
		return -ENOENT;
	}
	k->vbase = ext[0].va;
	k->kaslr_offset = k->vbase - KERNEL_TEXT_NOKASLR;
	k->paging_levels = mmu->la57 ? 5 : 4;
	ret = guest__translate(m, mmu, k->vbase, &k->pbase, NULL);
	return ret < 0 ? ret : 0;
}

int guest__kernel_base(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_kernel *k)
{
	struct extent ext;
	size_t n;

	/* the base is where the first mapped range starts: no need to walk on */
	return kernel__locate(m, mmu, k, &ext, &n, 1);
}

int guest__find_kernel(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_kernel *k)
{
	struct extent *ext;
	size_t n;
	int ret;

	memset(k, 0, sizeof(*k));
	ext = calloc(MAX_EXTENTS, sizeof(*ext));
	if (!ext) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kernel__locate(m, mmu, k, ext, &n, MAX_EXTENTS);
	if (ret < 0)
		goto out;
	pr_info("kernel at 0x%llx (physical 0x%llx), %zu mapped ranges",
		(unsigned long long)k->vbase, (unsigned long long)k->pbase, n);

	ret = kernel__scan_image(m, mmu, ext, n, k);
out:
	if (ret < 0)
		guest__kernel_free(k);
	free(ext);
	return ret;
}

const struct ksym *guest__kernel_symbol(const struct guest_kernel *k, const char *name)
{
	struct ksym key = { .name = (char *)name };

	if (!k->syms || !name)
		return NULL;
	return bsearch(&key, k->syms, k->nsyms, sizeof(*k->syms), ksym__cmp);
}

void guest__kernel_free(struct guest_kernel *k)
{
	for (size_t i = 0; k->syms && i < k->nsyms; i++)
		free(k->syms[i].name);
	free(k->syms);
	memset(k, 0, sizeof(*k));
}
