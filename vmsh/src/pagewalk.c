// SPDX-License-Identifier: GPL-2.0
/*
 * x86_64 page-table walk over guest-physical memory (4- and 5-level paging).
 *
 * The tables are guest data, possibly garbage or hostile: each level reads
 * exactly one 8-byte entry through guest__read_phys() (so a table pointer
 * outside guest RAM is -EFAULT), and the walk has a fixed number of steps,
 * so a table that points at itself, or a cycle of tables, merely produces a
 * strange translation and can never make us loop. Reserved bits that the
 * CPU would fault on (PS in a PML5E/PML4E, non-zero bits between PAT and the
 * frame address of a huge page) make the entry invalid, as they would for
 * the guest's own accesses.
 *
 * Beyond the contract in guest.h: when guest__translate() fails because an
 * entry is missing or invalid, *page_size (if not NULL) is set to the size
 * of the naturally aligned region around gva that this entry covers, so a
 * caller scanning a range can skip all of it (1 GiB for an empty PUD) at
 * once (it may be as large as 2^57 when CR3 itself is outside guest memory).
 * It is 4096 for failures that say nothing about a larger region.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "guest.h"
#include "util.h"

#define PTE_PRESENT (1ULL << 0)
#define PTE_PS (1ULL << 7)
#define PTE_NX (1ULL << 63)
/* Bits 51:12: the architectural maximum; the guest's MAXPHYADDR may be lower. */
#define PTE_ADDR_MASK 0x000ffffffffff000ULL
#define CR3_ADDR_MASK PTE_ADDR_MASK
#define PAGE_SIZE_4K 0x1000ULL

/*
 * A canonical address has all bits above the top translated bit equal to
 * that bit: bit 47 with 4-level paging, bit 56 with 5-level paging.
 */
static bool pagewalk__canonical(uint64_t va, int levels)
{
	int top = levels == 5 ? 56 : 47;
	int64_t sext = (int64_t)(va << (63 - top)) >> (63 - top);

	return (uint64_t)sext == va;
}

int guest__copy_kernel_top(const struct guest_mem *m, struct guest_mmu *mmu)
{
	uint64_t half = (mmu->cr3 & CR3_ADDR_MASK) + (512 - GUEST_MMU_KERNEL_TOP) * 8;
	int ret = guest__read_phys(m, half, mmu->kernel_top, sizeof(mmu->kernel_top));

	mmu->top_copied = !ret;
	return ret < 0 ? ret : 0;
}

int guest__read_top_entry(const struct guest_mem *m, const struct guest_mmu *mmu, unsigned idx,
			  uint64_t *entry)
{
	if (mmu->top_copied && idx >= 512 - GUEST_MMU_KERNEL_TOP && idx < 512) {
		*entry = mmu->kernel_top[idx - (512 - GUEST_MMU_KERNEL_TOP)];
		return 0;
	}
	return guest__read_phys(m, (mmu->cr3 & CR3_ADDR_MASK) + idx * 8ULL, entry, sizeof(*entry));
}

int guest__translate(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     uint64_t *gpa, uint64_t *page_size)
{
	return guest__translate_nx(m, mmu, gva, gpa, page_size, NULL);
}

int guest__translate_nx(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
			uint64_t *gpa, uint64_t *page_size, bool *nx)
{
	int levels = mmu->la57 ? 5 : 4;
	uint64_t table = mmu->cr3 & CR3_ADDR_MASK;
	uint64_t dummy;
	bool dummy_nx;

	if (!page_size)
		page_size = &dummy;
	if (!nx)
		nx = &dummy_nx;
	*page_size = PAGE_SIZE_4K;
	*nx = false;
	if (!pagewalk__canonical(gva, levels)) {
		pr_debug("0x%llx is not canonical", (unsigned long long)gva);
		return -EFAULT;
	}

	/* level 5: PML5, 4: PML4, 3: PDPT, 2: PD, 1: PT */
	for (int level = levels; level >= 1; level--) {
		int shift = 12 + 9 * (level - 1);
		uint64_t size = 1ULL << shift;
		uint64_t idx = (gva >> shift) & 0x1ff;
		uint64_t entry;
		int ret;

		if (level == levels)
			ret = guest__read_top_entry(m, mmu, (unsigned)idx, &entry);
		else
			ret = guest__read_phys(m, table + idx * 8, &entry, sizeof(entry));
		if (ret < 0) {
			/*
			 * Everything the entry pointing to this table covers
			 * (for the top table: the whole half of the address
			 * space) fails the same way.
			 */
			*page_size = size << 9;
			pr_debug("page table at 0x%llx is outside guest memory",
				 (unsigned long long)table);
			return -EFAULT;
		}
		if (!(entry & PTE_PRESENT)) {
			*page_size = size;
			return -EFAULT;
		}
		/* NX at any level makes the page not executable (EFER.NXE: Linux sets it) */
		*nx = *nx || (entry & PTE_NX);
		if (level == 1 || ((entry & PTE_PS) && level <= 3)) {
			/*
			 * A leaf. For huge pages, bit 12 is PAT, and the bits
			 * from 13 up to the page size are reserved.
			 */
			uint64_t frame_mask = PTE_ADDR_MASK & ~(size - 1);

			if (level > 1 && (entry & PTE_ADDR_MASK & (size - 1) & ~(1ULL << 12))) {
				pr_debug("reserved bits in level-%d entry 0x%llx", level,
					 (unsigned long long)entry);
				*page_size = size;
				return -EFAULT;
			}
			if (gpa)
				*gpa = (entry & frame_mask) | (gva & (size - 1));
			*page_size = size;
			return 0;
		}
		if (entry & PTE_PS) {
			/* PS is reserved in PML5 and PML4 entries. */
			pr_debug("PS set in level-%d entry 0x%llx", level,
				 (unsigned long long)entry);
			*page_size = size;
			return -EFAULT;
		}
		table = entry & PTE_ADDR_MASK;
	}
	/* Not reached: level 1 always returns. */
	return -EFAULT;
}

int guest__read_virt(const struct guest_mem *m, const struct guest_mmu *mmu, uint64_t gva,
		     void *buf, size_t len)
{
	char *p = buf;

	if (!len)
		return 0;
	if (gva + (len - 1) < gva)
		return -EFAULT;
	while (len) {
		uint64_t gpa, size, chunk;
		int ret;

		ret = guest__translate(m, mmu, gva, &gpa, &size);
		if (ret < 0)
			return ret;
		chunk = size - (gva & (size - 1));
		if (chunk > len)
			chunk = len;
		ret = guest__read_phys(m, gpa, p, (size_t)chunk);
		if (ret < 0)
			return ret;
		p += chunk;
		gva += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}
