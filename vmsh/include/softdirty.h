/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which pages of a process were written since a point in time: the kernel's
 * soft-dirty bits (Documentation/admin-guide/mm/soft-dirty.rst). Writing 4
 * to /proc/PID/clear_refs clears them and write-protects the process's
 * pages; the next write to each page (by the process, by KVM for its guest,
 * by the kernel on its behalf) faults once and sets the bit again, which
 * /proc/PID/pagemap shows as bit 55. vmsh coredump --live uses it to copy
 * again, in a short final hold, what the guest wrote during the live copy.
 * Only the soft-dirty bits (read by checkpoint tools such as CRIU) change.
 */
#ifndef VMSH_SOFTDIRTY_H
#define VMSH_SOFTDIRTY_H

#include <stdint.h>
#include <sys/types.h>

#define SOFTDIRTY_PAGE 4096u

/*
 * Whether this kernel keeps soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): tried
 * on a page of this process. 1, 0, or a negative errno (no /proc).
 */
int softdirty__supported(void);
/* Clear process pid's soft-dirty bits. 0 or a negative errno. */
int softdirty__clear(pid_t pid);
/*
 * For each run of soft-dirty pages of pid in [hva, hva + len) (both page
 * aligned), fn(ctx, run_hva, run_len); stops at fn's first non-zero return
 * and returns it. 0, or a negative errno from reading pagemap.
 */
int softdirty__for_each(pid_t pid, uint64_t hva, uint64_t len,
			int (*fn)(void *ctx, uint64_t hva, uint64_t len), void *ctx);

#endif
