// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping new guest RAM into the guest kernel's page tables (pagemap.h).
 *
 * pagemap__map() works in two passes. The first walks the guest's tables
 * for every page, reading existing entries (or the change we already plan
 * for them), and builds the new tables in vmsh's memory; nothing is written,
 * so a refusal half-way leaves the guest untouched. The second writes the
 * new tables, then the entries of existing tables that link them (or
 * leaves placed into an existing page table), in the order they were
 * planned; if one of those writes fails, the ones before it are restored.
 * Only entries reached from our own changes count as our tables: a guest
 * entry that happens to point into the new RAM is still a guest table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pagemap.h"
#include "util.h"

#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_NX (1ULL << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL
#define PTE_TABLE (PTE_P | PTE_RW | PTE_A | PTE_D) /* Linux's _KERNPG_TABLE */
#define ENTRIES 512

#define GiB (1ULL << 30)
/*
 * Unused holes of the kernel's address space (Documentation/arch/x86/
 * x86_64/mm.rst, the same for 4- and 5-level paging), both under PML4[511]:
 * the 2 GiB below the kernel image (PDPT entries 508 and 509), then the
 * 444 GiB below the EFI region (entries 0 to 443). The second one is used
 * once the first is taken: a vmsh that was killed inside the guest leaves
 * its GiB mapped, for stage1's code may still run there.
 */
#define HOLE_START 0xffffffff00000000ULL
#define HOLE_FIRST_PDPTE 508
#define HOLE_PDPTES 2
static const struct {
	uint64_t start;
	unsigned first, n;
} pagemap_holes[] = { { HOLE_START, HOLE_FIRST_PDPTE, HOLE_PDPTES },
		      { 0xffffff8000000000ULL, 0, 444 } };

struct pagemap_table {
	uint64_t gpa;
	uint64_t e[ENTRIES];
};

struct pagemap_state {
	const struct guest_mem *m;
	struct pagemap_pool *pool;
	struct pagemap_table *tables; /* new ones, in pool order */
	size_t ntables, tables_cap;
	struct pagemap_change *changes; /* to entries of existing tables */
	size_t nchanges, changes_cap;
};

static int pagemap__read_entry(const struct guest_mem *m, uint64_t table, unsigned idx,
			       uint64_t *entry)
{
	int ret = guest__read_phys(m, table + idx * 8ULL, entry, sizeof(*entry));

	if (ret < 0)
		pr_debug("page table at 0x%llx is outside guest memory", (unsigned long long)table);
	return ret;
}

static bool pagemap__canonical(uint64_t va, int levels)
{
	int top = levels == 5 ? 56 : 47;

	return (uint64_t)((int64_t)(va << (63 - top)) >> (63 - top)) == va;
}

/* The planned value of an existing table's entry, if we change it. */
static struct pagemap_change *pagemap__planned(struct pagemap_state *st, uint64_t gpa)
{
	for (size_t i = 0; i < st->nchanges; i++)
		if (st->changes[i].gpa == gpa)
			return &st->changes[i];
	return NULL;
}

static int pagemap__find_table(const struct pagemap_state *st, uint64_t gpa)
{
	for (size_t i = 0; i < st->ntables; i++)
		if (st->tables[i].gpa == gpa)
			return (int)i;
	return -1;
}

static int pagemap__new_table(struct pagemap_state *st)
{
	struct pagemap_pool *p = st->pool;

	if (p->used + st->ntables >= p->npages) {
		pr_err("the pool of %zu page-table pages is too small for this mapping", p->npages);
		return -ENOSPC;
	}
	if (st->ntables == st->tables_cap) {
		size_t cap = st->tables_cap ? 2 * st->tables_cap : 8;
		struct pagemap_table *t = realloc(st->tables, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		st->tables = t;
		st->tables_cap = cap;
	}
	memset(&st->tables[st->ntables], 0, sizeof(st->tables[0]));
	st->tables[st->ntables].gpa = p->gpa + (p->used + st->ntables) * PAGEMAP_PAGE_SIZE;
	return (int)st->ntables++;
}

static int pagemap__plan_change(struct pagemap_state *st, uint64_t gpa, uint64_t old, uint64_t new)
{
	if (st->nchanges == st->changes_cap) {
		size_t cap = st->changes_cap ? 2 * st->changes_cap : 8;
		struct pagemap_change *c = realloc(st->changes, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		st->changes = c;
		st->changes_cap = cap;
	}
	st->changes[st->nchanges++] = (struct pagemap_change){ .gpa = gpa, .old = old, .new = new };
	return 0;
}

/*
 * Set the entry idx of a table: one of ours (t >= 0) or an existing one at
 * gpa (t < 0), whose entry was zero.
 */
static int pagemap__set(struct pagemap_state *st, int t, uint64_t table, unsigned idx,
			uint64_t value)
{
	if (t >= 0) {
		st->tables[t].e[idx] = value;
		return 0;
	}
	return pagemap__plan_change(st, table + idx * 8ULL, 0, value);
}

/* Plan the leaf for one page: a fixed walk of `levels` steps. */
static int pagemap__plan_page(struct pagemap_state *st, const struct guest_mmu *mmu, uint64_t va,
			      uint64_t leaf)
{
	int levels = mmu->la57 ? 5 : 4;
	uint64_t table = mmu->cr3 & PTE_ADDR_MASK;
	int t = -1; /* index of our table, or -1: an existing one at `table` */

	for (int level = levels; level >= 1; level--) {
		unsigned idx = (va >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
		uint64_t entry;
		bool ours;
		int ret;

		if (t >= 0) {
			entry = st->tables[t].e[idx];
			ours = true;
		} else {
			struct pagemap_change *c = pagemap__planned(st, table + idx * 8ULL);

			ours = c != NULL;
			if (c)
				entry = c->new;
			else if ((ret = level == levels
					    ? guest__read_top_entry(st->m, mmu, idx, &entry)
					    : pagemap__read_entry(st->m, table, idx, &entry)) < 0)
				return ret;
		}

		if (level == 1 || !(entry & PTE_P)) {
			/* Only a zero entry is free (see pagemap.h). */
			if (entry) {
				pr_err("guest page-table entry for 0x%llx (level %d) is in use: "
				       "0x%llx",
				       (unsigned long long)va, level, (unsigned long long)entry);
				return -EEXIST;
			}
			if (level == 1)
				return pagemap__set(st, t, table, idx, leaf);
			int nt = pagemap__new_table(st);
			if (nt < 0)
				return nt;
			ret = pagemap__set(st, t, table, idx, st->tables[nt].gpa | PTE_TABLE);
			if (ret < 0)
				return ret;
			t = nt;
			continue;
		}
		if (entry & PTE_PS) {
			pr_err("guest maps 0x%llx with a %s at level %d: not ours to split",
			       (unsigned long long)va, level > 3 ? "reserved PS bit" : "huge page",
			       level);
			return level > 3 ? -EINVAL : -EEXIST;
		}
		table = entry & PTE_ADDR_MASK;
		if (ours) {
			t = pagemap__find_table(st, table);
			if (t < 0) /* not reached: our entries point to our tables */
				return -EINVAL;
		}
	}
	return -EINVAL; /* not reached: level 1 returns */
}

static int pagemap__check_prot(const struct pagemap_prot *prot, uint64_t len)
{
	if (!prot)
		return 0;
	if (prot->nranges && !prot->ranges)
		return -EINVAL;
	for (size_t i = 0; i < prot->nranges; i++) {
		const struct pagemap_range *r = &prot->ranges[i];

		if (!r->len || (r->offset | r->len) % PAGEMAP_PAGE_SIZE || r->offset > len ||
		    r->len > len - r->offset || r->prot & ~(PAGEMAP_WRITE | PAGEMAP_EXEC))
			return -EINVAL;
		for (size_t j = 0; j < i; j++) {
			const struct pagemap_range *q = &prot->ranges[j];

			if (r->offset < q->offset + q->len && q->offset < r->offset + r->len)
				return -EINVAL;
		}
	}
	return 0;
}

static uint64_t pagemap__leaf(const struct pagemap_prot *prot, uint64_t off, uint64_t gpa)
{
	uint64_t leaf = gpa | PTE_P | PTE_A | PTE_D;
	unsigned p = 0;

	for (size_t i = 0; prot && i < prot->nranges; i++)
		if (off >= prot->ranges[i].offset &&
		    off - prot->ranges[i].offset < prot->ranges[i].len)
			p = prot->ranges[i].prot;
	if (p & PAGEMAP_WRITE)
		leaf |= PTE_RW;
	if (!(p & PAGEMAP_EXEC) && !(prot && prot->no_nx))
		leaf |= PTE_NX;
	return leaf;
}

static int pagemap__check_args(const struct guest_mmu *mmu, uint64_t gva, uint64_t gpa, size_t len,
			       const struct pagemap_pool *pool)
{
	int levels = mmu->la57 ? 5 : 4;

	if (!len || len > PAGEMAP_MAX_LEN || (gva | gpa | len) % PAGEMAP_PAGE_SIZE)
		return -EINVAL;
	if (gva + (len - 1) < gva || gpa + (len - 1) < gpa ||
	    ((gpa + (len - 1)) & ~PTE_ADDR_MASK) >> 12)
		return -EINVAL;
	if (!pagemap__canonical(gva, levels) || !pagemap__canonical(gva + (len - 1), levels) ||
	    (gva ^ (gva + (len - 1))) >> 63)
		return -EINVAL;
	if (!pool || pool->gpa % PAGEMAP_PAGE_SIZE || pool->used > pool->npages ||
	    pool->npages > (PTE_ADDR_MASK >> 12) ||
	    pool->gpa + pool->npages * PAGEMAP_PAGE_SIZE < pool->gpa ||
	    (pool->gpa + pool->npages * PAGEMAP_PAGE_SIZE) > PTE_ADDR_MASK + PAGEMAP_PAGE_SIZE)
		return -EINVAL;
	return 0;
}

/* Write back old values of changes [0, n), last first. */
static int pagemap__restore(const struct guest_mem *m, struct pagemap_change *c, size_t *n)
{
	while (*n) {
		const struct pagemap_change *x = &c[*n - 1];
		int ret = guest__write_phys(m, x->gpa, &x->old, sizeof(x->old));

		if (ret < 0) {
			pr_err("cannot restore the guest page-table entry at 0x%llx: %s",
			       (unsigned long long)x->gpa, strerror(-ret));
			return ret;
		}
		(*n)--;
	}
	return 0;
}

int pagemap__map(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva, uint64_t gpa,
		 size_t len, const struct pagemap_prot *prot, struct pagemap_pool *tables,
		 struct pagemap_undo *undo)
{
	struct pagemap_state st = { .m = m, .pool = tables };
	size_t written = 0;
	int ret;

	if (!undo || undo->n || undo->changes)
		return -EINVAL;
	ret = pagemap__check_args(mmu, gva, gpa, len, tables);
	if (!ret)
		ret = pagemap__check_prot(prot, len);
	if (ret) {
		pr_err("bad guest mapping request: 0x%zx bytes at 0x%llx -> 0x%llx", len,
		       (unsigned long long)gva, (unsigned long long)gpa);
		return ret;
	}

	for (uint64_t off = 0; off < len; off += PAGEMAP_PAGE_SIZE) {
		ret = pagemap__plan_page(&st, mmu, gva + off, pagemap__leaf(prot, off, gpa + off));
		if (ret < 0)
			goto out;
	}
	/* New tables first: nothing points at them yet. */
	for (size_t i = 0; i < st.ntables; i++) {
		ret =
		    guest__write_phys(m, st.tables[i].gpa, st.tables[i].e, sizeof(st.tables[i].e));
		if (ret < 0) {
			pr_err("cannot write a new page table at guest-physical 0x%llx: %s",
			       (unsigned long long)st.tables[i].gpa, strerror(-ret));
			goto out;
		}
	}
	for (; written < st.nchanges; written++) {
		const struct pagemap_change *c = &st.changes[written];

		ret = guest__write_phys(m, c->gpa, &c->new, sizeof(c->new));
		if (ret < 0) {
			pr_err("cannot write the guest page-table entry at 0x%llx: %s",
			       (unsigned long long)c->gpa, strerror(-ret));
			pagemap__restore(m, st.changes, &written);
			goto out;
		}
	}
	tables->used += st.ntables;
	undo->changes = st.changes;
	undo->n = st.nchanges;
	st.changes = NULL;
	pr_debug("mapped 0x%zx bytes at 0x%llx: %zu new tables, %zu entries changed", len,
		 (unsigned long long)gva, st.ntables, undo->n);
out:
	free(st.tables);
	free(st.changes);
	return ret;
}

int pagemap__unmap(const struct guest_mem *m, struct pagemap_undo *undo)
{
	int ret = pagemap__restore(m, undo->changes, &undo->n);

	if (ret < 0)
		return ret;
	free(undo->changes);
	undo->changes = NULL;
	return 0;
}

/*
 * The PDPT under PML5[511] (5-level paging) and PML4[511]: the kernel
 * image's. -EINVAL if an entry on the way is missing or huge: that entry
 * and its level in *entry and *level.
 */
static int pagemap__image_pdpt(const struct guest_mem *m, const struct guest_mmu *mmu,
			       uint64_t *pdpt, uint64_t *entry, int *level)
{
	int top = mmu->la57 ? 5 : 4, ret;
	uint64_t table = 0;

	for (*level = top; *level >= 4; --*level) {
		ret = *level == top ? guest__read_top_entry(m, mmu, ENTRIES - 1, entry)
				    : pagemap__read_entry(m, table, ENTRIES - 1, entry);
		if (ret < 0)
			return ret;
		if (!(*entry & PTE_P) || (*entry & PTE_PS))
			return -EINVAL;
		table = *entry & PTE_ADDR_MASK;
	}
	*pdpt = table;
	return 0;
}

/*
 * Whether gpa is a page of the kernel image: the image is mapped linearly at
 * vbase from pbase (the kernel's high mapping), so the page must be mapped at
 * vbase + (gpa - pbase), inside the kernel image window, by mmu itself.
 */
static bool pagemap__in_image(const struct guest_mem *m, const struct guest_mmu *mmu,
			      const struct guest_kernel *k, uint64_t gpa)
{
	uint64_t va, got;

	if (gpa < k->pbase || gpa - k->pbase >= GUEST_KERNEL_WINDOW_END - k->vbase)
		return false;
	va = k->vbase + (gpa - k->pbase);
	return !guest__translate(m, mmu, va, &got, NULL) && got == gpa;
}

/*
 * The checks of pagemap__kernel_root for one candidate: the table under the
 * top-level entry for the kernel image (PDPT) and the one under it for
 * _text (PD) are both pages of the kernel image (level3_kernel_pgt and
 * level2_kernel_pgt). Every process's kernel PGD shares them with init_mm's;
 * a PTI user PGD has tables of its own there, allocated at run time.
 */
static int pagemap__check_root(const struct guest_mem *m, const struct guest_mmu *mmu,
			       const struct guest_kernel *k, uint64_t *pdpt)
{
	uint64_t entry;
	int ret, level;

	ret = pagemap__image_pdpt(m, mmu, pdpt, &entry, &level);
	if (ret < 0)
		return ret;
	if (!pagemap__in_image(m, mmu, k, *pdpt))
		return -EINVAL;
	ret = pagemap__read_entry(m, *pdpt, (k->vbase >> 30) & (ENTRIES - 1), &entry);
	if (ret < 0)
		return ret;
	if (!(entry & PTE_P) || (entry & PTE_PS) ||
	    !pagemap__in_image(m, mmu, k, entry & PTE_ADDR_MASK))
		return -EINVAL;
	return 0;
}

bool pagemap__pti_user(const struct guest_mem *m, const struct guest_mmu *mmu,
		       struct guest_mmu *kernel)
{
	uint64_t user = mmu->cr3 & PTE_ADDR_MASK, kern = user - PAGEMAP_CR3_PTI_USER;
	uint64_t u[ENTRIES], k[ENTRIES];
	bool used = false;

	if (!(mmu->cr3 & PAGEMAP_CR3_PTI_USER) || guest__read_phys(m, user, u, sizeof(u)) < 0 ||
	    guest__read_phys(m, kern, k, sizeof(k)) < 0)
		return false;
	/*
	 * The user half of a PTI pair is the same in both (pti_set_user_pgtbl
	 * writes it to both; the kernel's copy of a user entry gets NX); the
	 * kernel halves differ, the user PGD mapping only the entry code. Two
	 * PGDs of different processes share no user entry.
	 */
	for (unsigned i = 0; i < ENTRIES / 2; i++) {
		if ((u[i] & ~PTE_NX) != (k[i] & ~PTE_NX))
			return false;
		used |= u[i] & PTE_P;
	}
	if (!used || u[ENTRIES - 1] == k[ENTRIES - 1])
		return false;
	*kernel = (struct guest_mmu){ .cr3 = mmu->cr3 & ~PAGEMAP_CR3_PTI_USER, .la57 = mmu->la57 };
	return true;
}

int pagemap__kernel_mmu(const struct guest_mem *m, uint64_t cr3, bool la57, struct guest_mmu *mmu)
{
	struct guest_mmu kern;

	*mmu = (struct guest_mmu){ .cr3 = cr3, .la57 = la57 };
	if (pagemap__pti_user(m, mmu, &kern)) {
		pr_debug("CR3 0x%llx is a PTI user page table: using the kernel's at 0x%llx",
			 (unsigned long long)cr3, (unsigned long long)kern.cr3);
		*mmu = kern;
	}
	return guest__copy_kernel_top(m, mmu);
}

int pagemap__kernel_root(const struct guest_mem *m, struct guest_mmu *mmu,
			 const struct guest_kernel *k)
{
	struct guest_mmu kern = *mmu;
	uint64_t pdpt = 0, upper = 0;
	int ret;

	if (!pagemap__check_root(m, mmu, k, &pdpt))
		return 0;
	/*
	 * PTI: a vCPU in user mode (or in the entry code before it switched)
	 * runs on the user PGD, the kernel PGD + 4096 (PTI_USER_PGTABLE_BIT,
	 * bit 12 of CR3); the kernel's is the one below it.
	 */
	if (mmu->cr3 & PAGEMAP_CR3_PTI_USER) {
		kern.cr3 = mmu->cr3 & ~PAGEMAP_CR3_PTI_USER;
		kern.top_copied = false; /* that copy was of the user PGD */
		ret = pagemap__check_root(m, &kern, k, &upper);
		if (!ret) {
			pr_info("CR3 0x%llx is a PTI user page table: using the kernel's at 0x%llx",
				(unsigned long long)mmu->cr3, (unsigned long long)kern.cr3);
			*mmu = kern;
			return 0;
		}
	}
	pr_err("the guest page tables at CR3 0x%llx are not the kernel's: the table for the "
	       "kernel image (0x%llx) is not in the kernel image at 0x%llx: vmsh changes "
	       "nothing (try again; report it if it persists)",
	       (unsigned long long)mmu->cr3, (unsigned long long)pdpt,
	       (unsigned long long)k->pbase);
	return -EINVAL;
}

int pagemap__find_free_range(const struct guest_mem *m, const struct guest_mmu *mmu, size_t len,
			     uint64_t *gva)
{
	uint64_t need = ((uint64_t)len + GiB - 1) / GiB, table, entry;
	size_t run = 0;
	int ret, level;

	if (!len || need > HOLE_PDPTES)
		return -EINVAL;
	/* PML5[511] (5-level) and PML4[511]: they map the kernel image. */
	ret = pagemap__image_pdpt(m, mmu, &table, &entry, &level);
	if (ret == -EINVAL)
		pr_err("the guest's level-%d page-table entry for the kernel image is 0x%llx: "
		       "not a Linux kernel's tables?",
		       level, (unsigned long long)entry);
	if (ret < 0)
		return ret;
	for (size_t h = 0; h < ARRAY_SIZE(pagemap_holes); h++) {
		run = 0;
		for (unsigned i = 0; i < pagemap_holes[h].n; i++) {
			ret = pagemap__read_entry(m, table, pagemap_holes[h].first + i, &entry);
			if (ret < 0)
				return ret;
			run = entry ? 0 : run + 1;
			if (run == need) {
				*gva = pagemap_holes[h].start + (uint64_t)(i + 1 - need) * GiB;
				return 0;
			}
		}
	}
	pr_err("the guest uses the unused holes 0x%llx-0x%llx and 0x%llx-0x%llx of its kernel "
	       "address space (vmsh sessions killed inside it keep theirs): no room for %zu "
	       "bytes",
	       HOLE_START, HOLE_START + HOLE_PDPTES * GiB - 1,
	       (unsigned long long)pagemap_holes[1].start,
	       (unsigned long long)(pagemap_holes[1].start + pagemap_holes[1].n * GiB - 1), len);
	return -ENOSPC;
}
