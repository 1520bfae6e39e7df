/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest kernel's own type information (BTF) and the kernel struct
 * layouts stage1 needs from it. A kernel built with CONFIG_DEBUG_INFO_BTF
 * (Debian's are) keeps its vmlinux .BTF section in the image's read-only
 * data after boot (/sys/kernel/btf/vmlinux serves it): vmsh finds it in
 * guest memory, validates it with libbpf, and reads from it the layout of
 * struct work_struct and struct resource and WORK_DATA_INIT(). Where the
 * guest has no BTF, or its BTF lacks a piece, vmsh's own tables (checked
 * against the BTF of every lab kernel, 5.10 and later) stand in; where
 * neither has it, the guest cannot be served and the error says which piece
 * is missing.
 *
 * The BTF is guest data: its header is checked before anything is copied,
 * its size is capped (KBTF_MAX_SIZE), libbpf validates the rest, and every
 * value derived from it is checked (kbtf__check_layout) before stage1 gets it.
 */
#ifndef VMSH_KBTF_H
#define VMSH_KBTF_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"
#include "stage1_abi.h"

#define KBTF_MAGIC 0xeb9f
#define KBTF_HDR_LEN 24
/* The largest BTF accepted; vmlinux BTF is 4-8 MiB today. */
#define KBTF_MAX_SIZE (64u << 20)
/* How much of the kernel window above _text is scanned for it. */
#define KBTF_SCAN_MAX (256ULL << 20)
/* Header candidates copied and validated, at most, per scan. */
#define KBTF_MAX_TRIES 8

struct btf;

/* A guest kernel's BTF; btf is NULL when the guest has none (or it is unusable). */
struct kbtf {
	struct btf *btf; /* libbpf's parsed copy */
	uint64_t gva;	 /* where the blob (its header) is in the guest */
	uint32_t size;	 /* bytes, header included */
	uint32_t ntypes; /* types, without the void type 0 */
};

/* "BTF" or "vmsh's table for 6.1": where a value of struct guest_layout came from. */
#define KBTF_SOURCE_LEN 48

/*
 * What stage1 writes into kernel memory itself. Offsets and sizes in bytes.
 * res_name and res_desc are not written (stage1 zeroes them, as every field
 * it does not set); they are reported only, UINT32_MAX where absent.
 */
struct guest_layout {
	uint32_t work_size, work_data, work_entry, work_func;
	char work_src[KBTF_SOURCE_LEN];
	uint32_t res_size, res_start, res_end, res_name, res_flags, res_desc;
	char res_src[KBTF_SOURCE_LEN];
	uint64_t work_data_init; /* WORK_DATA_INIT(): WORK_STRUCT_NO_POOL */
	char work_data_init_src[KBTF_SOURCE_LEN];
};

/*
 * Does the header at p (len readable bytes) look like a BTF header whose
 * sections are sane? Fills *total (header + sections) on success: 0, or
 * -EINVAL (bad magic, version, flags, header length, offsets or overlap),
 * -EFBIG (over KBTF_MAX_SIZE). Touches nothing but p[0, 24).
 */
int kbtf__check_header(const void *p, size_t len, uint32_t *total);

/*
 * Parse a BTF blob copied out of the guest: the header check above, then
 * libbpf's btf__new, and it must define struct work_struct (the vmlinux
 * BTF, not a module's). 0 (b filled, gva 0: the caller sets it) or -EINVAL
 * (pr_debug says why) or -ENOMEM. The blob is copied by libbpf.
 */
int kbtf__parse(struct kbtf *b, const void *blob, size_t len);

/*
 * Scan the kernel image of k (from its export table, k->ksymtab_va, where the
 * kernel has .BTF; then from k->vbase; at most KBTF_SCAN_MAX of the kernel
 * window) for a BTF header at 4-byte alignment, copy the first
 * candidate that passes kbtf__check_header out with the checked accessors
 * and keep the first that kbtf__parse accepts (at most KBTF_MAX_TRIES).
 * 0 with b filled; -ENOENT (b->btf NULL, not an error: the guest may have
 * no BTF) or -ENOMEM. Reads guest memory only; never needs the hypervisor held.
 */
int kbtf__find(const struct guest_mem *m, const struct guest_mmu *mmu, const struct guest_kernel *k,
	       struct kbtf *b);
void kbtf__free(struct kbtf *b);

/*
 * Derive the layout stage1 needs, each piece from b's BTF where it has it
 * (b may be NULL or have no btf) and otherwise from vmsh's tables for the
 * release in banner ("Linux version 6.1.0-13-amd64 ..." or "6.1.0-13-amd64").
 * The result is checked with kbtf__check_layout. 0, or -ENOTSUP with a
 * pr_err naming the missing piece, what the user can do, and that the VM
 * was not changed (nothing has been done to it when this runs), or -EINVAL
 * when a derived value is insane (pr_err too).
 */
int kbtf__layout(const struct kbtf *b, const char *banner, struct guest_layout *l);

/*
 * Are l's values usable by stage1: work_struct fits STAGE1_WORK_SIZE and
 * resource STAGE1_RES_SIZE, the fields stage1 writes are 8-aligned, inside
 * the struct and disjoint, and WORK_DATA_INIT has no WORK_STRUCT flag bit
 * (PENDING would make queue_work_on refuse the work). 0 or -EINVAL, with
 * *why (may be NULL) naming the check that failed.
 */
int kbtf__check_layout(const struct guest_layout *l, const char **why);

/* Copy l into the ABI's layout fields and work_data_init. */
void kbtf__fill_abi(const struct guest_layout *l, struct stage1_abi *abi);

#endif
