// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot dump: a kprobe on kvm_vm_ioctl() that, the first time the target
 * process (target_tgid) issues an ioctl on one of its VM fds, copies every
 * memslot of every address space of that VM into the global array slots[];
 * and, on every such ioctl, watches for dirty logging turned on (log_seen).
 * The loader (memslots.c) reads the result through the skeleton's mmap'ed
 * .bss.
 *
 * CO-RE: the kernel structs below are declared with only the fields we use
 * and preserve_access_index, so libbpf relocates every offset against the
 * running kernel's BTF (struct kvm and friends live in the kvm module's BTF,
 * /sys/kernel/btf/kvm). Layout assumed (Linux >= 5.16, checked at run time):
 * kvm->memslots[as_id] is the active struct kvm_memslots of an address space;
 * each keeps its slots in id_hash[] (and in two trees we do not use), and
 * node_idx says which of the two node copies in struct kvm_memory_slot belongs
 * to this set. We walk id_hash with bpf_loop() (Linux >= 5.17), one step per
 * callback: unrolled or nested bounded loops over 128 buckets exceed the
 * verifier's limits.
 *
 * Consistency: the kprobe runs without kvm->srcu, so a concurrent
 * KVM_SET_USER_MEMORY_REGION may swap or rewrite the set being walked. Every
 * read is a fault-safe probe read; the walk is reported as EAGAIN (and the
 * loader triggers again) if the set's generation or kvm->memslots[as_id]
 * changed meanwhile, or an update was in progress.
 */
#include <linux/types.h>
#include <linux/bpf.h>

/* The kernel's struct pt_regs (x86-64 names), as vmlinux.h would declare it. */
struct pt_regs {
	unsigned long di;
	unsigned long si;
	unsigned long dx;
} __attribute__((preserve_access_index));
#define __VMLINUX_H__ /* bpf_tracing.h: use the kernel's register names */

#include <bpf_helpers.h>
#include <bpf_tracing.h>
#include <bpf_core_read.h>

#define ENOTSUP 95
#define E2BIG 7
#define EAGAIN 11
#define EINVAL 22

#define MEMSLOTS_MAX 65536 /* two address spaces of KVM_MEM_SLOTS_NUM (32768) */
#define MEMSLOT_GEN_UPDATE_IN_PROGRESS (1ULL << 63)

struct hlist_node {
	struct hlist_node *next;
} __attribute__((preserve_access_index));

struct hlist_head {
	struct hlist_node *first;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct kvm_memslots {
	__u64 generation;
	struct hlist_head id_hash[128];
	int node_idx;
} __attribute__((preserve_access_index));

struct kvm_memory_slot {
	struct hlist_node id_node[2];
	__u64 base_gfn;
	unsigned long npages;
	unsigned long userspace_addr;
	__u32 flags;
	short id;
} __attribute__((preserve_access_index));

struct kvm {
	struct kvm_memslots *memslots[2];
} __attribute__((preserve_access_index));

/* One memslot as the kernel has it; the loader converts it to struct memslot. */
struct memslots_rec {
	__u64 base_gfn;
	__u64 npages;
	__u64 userspace_addr;
	__u32 flags;
	__u16 id;
	__u16 as_id;
};

const volatile __u32 target_tgid; /* set by the loader before load */
/* KVM_SET_USER_MEMORY_REGION and ..._REGION2 (Linux >= 6.8), from the loader */
const volatile __u32 cmd_set_region, cmd_set_region2;

/*
 * The migration watch (attach's steady state): once vmsh sets watch_on
 * (watch_gpa first), any memslot update of the target that turns on dirty
 * logging for the guest-physical address watch_gpa (the kernel's RAM) sets
 * log_seen, for good. Seen on the ioctl's argument, not on the slots: a
 * walk at the ioctl's entry would show the slot as it was, and a migration
 * to a file may be over before the next walk.
 */
__u32 watch_on;
__u64 watch_gpa;
__u32 log_seen;

/* the prefix struct kvm_userspace_memory_region(2) share */
struct region_arg {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
};
#define KVM_MEM_LOG_DIRTY_PAGES 1

/*
 * Protocol with the loader: it sets state to 0 and triggers; the first hit
 * moves it 0 -> 1 (cmpxchg, so one writer), fills nslots, slots[] and error,
 * then moves it to 2. error is 0 or a positive errno.
 */
__u32 state;
__s32 error;
__u32 nslots;
__u32 nas;	  /* address spaces seen */
__u32 walk_steps; /* bpf_loop iterations, for debugging */
struct memslots_rec slots[MEMSLOTS_MAX];

/*
 * The walk's state lives in a map, not on the stack: verifiers before 6.8 (at
 * least Debian's 6.1) check a bpf_loop() callback once, with the caller's
 * stack as it was before the first iteration, and then hard-wire the branches
 * they saw as never taken (e.g. "node != NULL"). A map value reads as unknown
 * every time.
 */
struct walk {
	__u64 set;	/* struct kvm_memslots * */
	__u64 node;	/* struct hlist_node *: next node of the current bucket, or 0 */
	__u64 node_off; /* offsetof(struct kvm_memory_slot, id_node[node_idx]) */
	__u32 bucket;	/* next bucket to start */
	__u32 nbuckets;
	__u32 as_id;
	__s32 err;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walks SEC(".maps");

static long walk_step(__u32 i, void *data)
{
	struct kvm_memory_slot *slot;
	struct kvm_memslots *set;
	struct memslots_rec *rec;
	struct hlist_node *node;
	struct walk *w;
	__u32 n, bucket, zero = 0;

	w = bpf_map_lookup_elem(&walks, &zero);
	if (!w)
		return 1;
	set = (void *)w->set;
	node = (void *)w->node;
	if (!node) {
		/* a local: inside BPF_CORE_READ(), w->bucket would be relocated too */
		bucket = w->bucket;
		if (bucket >= w->nbuckets)
			return 1;
		w->node = (__u64)BPF_CORE_READ(set, id_hash[bucket].first);
		w->bucket = bucket + 1;
		return 0;
	}
	n = nslots;
	if (n >= MEMSLOTS_MAX) {
		w->err = E2BIG;
		return 1;
	}
	slot = (void *)node - w->node_off;
	rec = &slots[n];
	rec->base_gfn = BPF_CORE_READ(slot, base_gfn);
	rec->npages = BPF_CORE_READ(slot, npages);
	rec->userspace_addr = BPF_CORE_READ(slot, userspace_addr);
	rec->flags = BPF_CORE_READ(slot, flags);
	rec->id = BPF_CORE_READ(slot, id);
	rec->as_id = w->as_id;
	nslots = n + 1;
	w->node = (__u64)BPF_CORE_READ(node, next);
	return 0;
}

/* Copy the active memslots of address space as_id; returns 0 or a positive errno. */
static int dump_as(struct kvm *kvm, __u32 as_id)
{
	struct kvm_memslots *set, *again;
	__u32 zero = 0;
	struct walk *w;
	__u64 gen;
	int idx;

	w = bpf_map_lookup_elem(&walks, &zero);
	if (!w)
		return EINVAL;
	set = BPF_CORE_READ(kvm, memslots[as_id]);
	if (!set)
		return 0;
	gen = BPF_CORE_READ(set, generation);
	idx = BPF_CORE_READ(set, node_idx);
	if (gen & MEMSLOT_GEN_UPDATE_IN_PROGRESS)
		return EAGAIN;
	if (idx != 0 && idx != 1)
		return EINVAL;

	w->set = (__u64)set;
	w->node = 0;
	w->node_off = bpf_core_field_offset(struct kvm_memory_slot, id_node) +
		      idx * (bpf_core_field_size(struct kvm_memory_slot, id_node) / 2);
	w->bucket = 0;
	w->nbuckets = bpf_core_field_size(set->id_hash) / sizeof(struct hlist_head);
	w->as_id = as_id;
	w->err = 0;
	/* one step per bucket, one per slot, one to see the end */
	walk_steps += bpf_loop(w->nbuckets + MEMSLOTS_MAX + 1, walk_step, NULL, 0);
	if (w->err)
		return w->err;
	if (w->node || w->bucket < w->nbuckets)
		return E2BIG;

	again = BPF_CORE_READ(kvm, memslots[as_id]);
	if (again != set || BPF_CORE_READ(set, generation) != gen)
		return EAGAIN;
	return 0;
}

static void watch_region(__u32 cmd, unsigned long arg)
{
	struct region_arg r;

	if (!watch_on || !cmd || (cmd != cmd_set_region && cmd != cmd_set_region2) ||
	    bpf_probe_read_user(&r, sizeof(r), (void *)arg))
		return;
	if (!(r.slot >> 16) && (r.flags & KVM_MEM_LOG_DIRTY_PAGES) &&
	    watch_gpa >= r.guest_phys_addr && watch_gpa - r.guest_phys_addr < r.memory_size)
		log_seen = 1;
}

SEC("kprobe/kvm_vm_ioctl")
int BPF_KPROBE(vmsh_memslots, struct file *filp, unsigned int ioctl, unsigned long arg)
{
	struct kvm *kvm;
	__u32 as_id;
	int err = 0;

	if (bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	watch_region(ioctl, arg);
	if (__sync_val_compare_and_swap(&state, 0, 1) != 0)
		return 0;

	nslots = 0;
	walk_steps = 0;
	/* kvm_memslots before 5.16 was an array of slots: not supported */
	if (!bpf_core_field_exists(struct kvm_memslots, id_hash) ||
	    !bpf_core_field_exists(struct kvm_memslots, node_idx) ||
	    !bpf_core_field_exists(struct kvm_memory_slot, id_node)) {
		err = ENOTSUP;
		goto out;
	}

	kvm = BPF_CORE_READ(filp, private_data);
	nas = bpf_core_field_size(kvm->memslots) / sizeof(kvm->memslots[0]);
	for (as_id = 0; as_id < 2 && as_id < nas && !err; as_id++)
		err = dump_as(kvm, as_id);
out:
	error = err;
	__sync_fetch_and_add(&state, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
