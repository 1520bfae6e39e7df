/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hostbtf: the host kernel's types that a BPF object's CO-RE relocations
 * need, and nothing else, for libbpf's btf_custom_path.
 *
 * Without it libbpf parses the host's whole vmlinux BTF (4-6 MB, ~100k
 * types; ~100 ms in the nested lab) on every load, to relocate the dozen
 * fields the memslots probe reads. Here, for every struct or union the
 * object declares that the kernel also has (vmlinux or, for kvm's types,
 * the kvm module's split BTF), the kernel's size and the kernel's offset of
 * each member the object declares are written into a small BTF of its own:
 * what bpftool's "gen min_core_btf" makes, for the field relocations such
 * a probe uses. Members the kernel lacks are left out, so that libbpf still
 * fails the load where it would have failed with the full BTF.
 *
 * The result is kept in vmsh's cache directory (util__cache_dir), under
 * host/, named by a key of this boot (boot_id: the kernel cannot change
 * without a reboot), of the kvm module's BTF (which a reload may change)
 * and of the BPF object's bytes; a later load with the same key reuses it
 * (a few KiB read). Entries of other keys are removed when one is stored.
 */
#ifndef VMSH_HOSTBTF_H
#define VMSH_HOSTBTF_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

/*
 * A path to the cut-down BTF of the running kernel for the BPF object
 * @obj_bytes (its ELF, as a skeleton embeds it), whose types are vmlinux's
 * or @module's (NULL: vmlinux's only), into @path: the cached file
 * when there is one for this key, else one made now (from @local, the
 * object's own BTF, which the caller gets by opening the object; NULL when
 * the caller has not opened it: then -ENOENT says "open it and call
 * again"). A made file is stored in the cache, or, where that cannot be
 * written, left in an unnamed temporary file that @path names
 * (/proc/self/fd/N, closed by hostbtf__put). 0 or a negative errno; on an
 * error the caller loads with libbpf's own search.
 */
int hostbtf__get(const void *obj_bytes, size_t obj_len, const char *module, const struct btf *local,
		 char *path, size_t len);
/*
 * Releases what hostbtf__get() left open for @path (if anything); @failed:
 * a load with it failed, so a cached file is removed (the next get makes it
 * afresh, and the caller loads with libbpf's own search meanwhile).
 */
void hostbtf__put(const char *path, bool failed);

/*
 * The cut-down BTF itself: for @local's named structs and unions, the types
 * of @kernel (vmlinux's BTF or a module's split BTF on it) as described
 * above. A new BTF, or NULL with errno set.
 */
struct btf *hostbtf__project(const struct btf *local, const struct btf *kernel);

#endif
