/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcache: what an attach learnt of a running guest kernel, kept for the next
 * attach to it: its exported symbols, where its banner and export table lie,
 * and the struct layouts stage1 needs (from its BTF). A later attach then
 * neither scans the kernel image nor parses its BTF again.
 *
 * An entry is keyed by where the kernel lies (its virtual and physical base:
 * KASLR's choice at boot) and is used only when the guest still has, at the
 * recorded addresses, the same banner (which names the build) and the same
 * export table byte for byte (FNV-1a over it); anything else is a miss, the
 * attach scans as without the cache and writes the entry again. The guest's
 * memory is no more trusted for this than for the scan itself. Entries live
 * in vmsh's cache directory (image.h), under kernels/.
 */
#ifndef VMSH_KCACHE_H
#define VMSH_KCACHE_H

#include "guest.h"
#include "kbtf.h"

/*
 * @k as guest__kernel_base() left it; on a hit fills the rest of @k and @l
 * and returns 0. -ENOENT: no entry; -ESTALE: the entry is for another kernel
 * or is damaged (the caller scans); -ENOMEM.
 */
int kcache__load(const struct guest_mem *m, const struct guest_mmu *mmu, struct guest_kernel *k,
		 struct guest_layout *l);
/* Writes @k and @l (whole: renamed into place). 0 or a negative errno. */
int kcache__store(const struct guest_mem *m, const struct guest_mmu *mmu,
		  const struct guest_kernel *k, const struct guest_layout *l);
/* Where the entry for @k is; 0 or a negative errno. */
int kcache__path(const struct guest_kernel *k, char *path, size_t len);

#endif
