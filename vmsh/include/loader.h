/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stage1 loader: parses stage1.so (ELF64 x86-64 ET_DYN, built by
 * vmsh/mk/stage1.mk and embedded as stage1_blob), lays it out at a guest
 * virtual base, and links it against the guest kernel's exported symbols.
 * The result is a byte image plus the page ranges and protections the page
 * mapper needs, and the gvas of stage1_entry and of the shared struct
 * stage1_abi (stage1_abi.h), which vmsh fills in the image before upload.
 *
 * The blob is ours, but it is still parsed strictly: any malformed header,
 * segment, symbol or relocation is -EINVAL (with a pr_err), never a crash.
 */
#ifndef VMSH_LOADER_H
#define VMSH_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "stage1_abi.h"

/* stage1.so as built, embedded by stage1_blob.S. */
extern const unsigned char stage1_blob[];
extern const unsigned char stage1_blob_end[];

#define LOADER_PAGE_SIZE 4096ULL
#define LOADER_MAX_SEGMENTS 8
#define LOADER_MAX_EXTRA 4
#define LOADER_MAX_AREAS (LOADER_MAX_SEGMENTS + LOADER_MAX_EXTRA)
#define LOADER_MAX_IMAGE (256ULL << 20)

/* Protections, as PROT_READ/WRITE/EXEC in <sys/mman.h>. */
#define LOADER_PROT_R 0x1
#define LOADER_PROT_W 0x2
#define LOADER_PROT_X 0x4

/* Pages [gva, gva + size) are buf[offset, offset + size), mapped with prot. */
struct loader_area {
	uint64_t gva;
	uint64_t size;
	uint64_t offset;
	int prot; /* LOADER_PROT_*: R, RW or RX (never W and X) */
};

struct stage1_image {
	uint8_t *buf; /* the whole image, page-aligned; BSS and gaps are zero */
	size_t size;  /* a multiple of the page size */
	uint64_t gva; /* where buf[0] goes */
	struct loader_area areas[LOADER_MAX_AREAS]; /* sorted by gva, disjoint */
	size_t nareas;
	uint64_t entry_gva;		      /* stage1_entry: the vCPU's new RIP */
	uint64_t abi_gva;		      /* struct stage1_abi */
	size_t abi_offset;		      /* ... at buf + abi_offset */
	uint64_t extra_gva[LOADER_MAX_EXTRA]; /* the caller's extra areas, read-only */
	size_t extra_offset[LOADER_MAX_EXTRA];
	size_t nextra;
};

/*
 * Resolve an imported symbol (a function or a data object) to its guest
 * virtual address: 0, -ENOENT if the guest does not have it, or another
 * negative errno.
 */
typedef int (*loader_resolve_fn)(void *ctx, const char *name, uint64_t *addr);

struct loader;

/* Parse and validate blob (copied; it may go away); 0 or -EINVAL/-ENOMEM. */
int loader__open(struct loader **lp, const void *blob, size_t size);
void loader__close(struct loader *l);

/* Bytes of guest virtual space the segments need, before the extra areas. */
uint64_t loader__segments_size(const struct loader *l);

/* The symbols stage1 imports (undefined in .dynsym), for checks and messages. */
size_t loader__nimports(const struct loader *l);
const char *loader__import(const struct loader *l, size_t i);

/* The import linked where the guest lacks name (imports.h), or NULL. */
const char *loader__alternative(const char *name);

/*
 * Lay out and link the image with link address 0 at base (page-aligned):
 * each PT_LOAD at base + p_vaddr, then nextra read-only areas of
 * extra_sizes[i] bytes (each page-aligned), e.g. stage2 and the strings.
 * Own definitions are used first, then resolve(ctx, name), then
 * resolve(ctx, loader__alternative(name)); a weak import the guest lacks
 * becomes 0, any other missing one is -ENOENT with "the guest kernel does
 * not export NAME" (or "exports neither NAME nor OTHER"). The ABI header stage1 was built
 * with must match stage1_abi.h (-EINVAL). 0 or a negative errno; img is
 * freed with loader__image_free() on success only.
 */
int loader__load(const struct loader *l, uint64_t base, const size_t *extra_sizes, size_t nextra,
		 loader_resolve_fn resolve, void *ctx, struct stage1_image *img);
void loader__image_free(struct stage1_image *img);

/* The shared struct inside img->buf, to fill before the upload. */
struct stage1_abi *loader__abi(struct stage1_image *img);

/*
 * Pack argv (argc >= 1) and envp (may be NULL), NULL-terminated, into extra
 * area `extra` of img and point the ABI's strings_gva/argv/envp at them;
 * -E2BIG if they do not fit the area or the ABI's arrays, -EINVAL otherwise.
 */
int loader__set_args(struct stage1_image *img, size_t extra, char *const argv[],
		     char *const envp[]);

/*
 * vmsh's table (kbtf.c uses it where the guest's BTF does not say):
 * WORK_DATA_INIT() of a kernel, from its release ("6.1.0-13-amd64") or its
 * banner ("Linux version 6.1.0-13-amd64 (...)"): WORK_STRUCT_NO_POOL, the
 * last pool id (31 bits set) shifted above the off-queue flags, whose width
 * changed in 6.10 (16 bits of disable depth, BH bit). Kernels before 5.10
 * (the oldest checked against its BTF) are -ENOTSUP; an unparsable string is -EINVAL. Assumes
 * CONFIG_DEBUG_OBJECTS_WORK=n, as every distribution kernel has it.
 */
int loader__work_data_init(const char *release, uint64_t *data);

#endif
