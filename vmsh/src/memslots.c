// SPDX-License-Identifier: GPL-2.0
/*
 * Memslots of another process's VM: loads memslots.bpf.c (a kprobe on
 * kvm_vm_ioctl, CO-RE) through its generated skeleton, lets the caller's
 * trigger make the hypervisor issue an ioctl on its VM fd, and converts what
 * the probe copied into struct memslot. See memslots.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/kvm.h>
#include <limits.h>

#include "hostbtf.h"
#include "memslots.h"
#include "util.h"

/* Must match memslots.bpf.c: the skeleton uses the type but does not define it. */
struct memslots_rec {
	uint64_t base_gfn;
	uint64_t npages;
	uint64_t userspace_addr;
	uint32_t flags;
	uint16_t id;
	uint16_t as_id;
};

#include "memslots.skel.h"

/* Linux 6.8's (struct kvm_userspace_memory_region2: 160 bytes), newer than our headers */
#ifdef KVM_SET_USER_MEMORY_REGION2
#define MEMSLOTS_SET_REGION2 KVM_SET_USER_MEMORY_REGION2
#else
#define MEMSLOTS_SET_REGION2 _IOW(KVMIO, 0x49, char[160])
#endif

_Static_assert(sizeof(struct memslots_rec) == 32, "memslots_rec layout");

#define MEMSLOTS_PAGE_SHIFT 12 /* gfn to gpa on x86 */
#define MEMSLOTS_TRIES 8       /* triggers before giving up on a changing set */
#define MEMSLOTS_WAIT_MS 1000  /* for a walk that another hypervisor thread started */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (vmsh_verbose < 2 || level == LIBBPF_DEBUG)
		return 0;
	fprintf(stderr, "vmsh: libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* What the kernel must offer; each failure says what is missing. */
static int memslots__check_kernel(void)
{
	if (!path_exists("/sys/kernel/btf/vmlinux")) {
		pr_err("unable to read memslots: the kernel has no BTF (CONFIG_DEBUG_INFO_BTF)");
		return -EOPNOTSUPP;
	}
	if (!path_exists("/sys/module/kvm")) {
		pr_err("unable to read memslots: the kvm module is not loaded");
		return -ENODEV;
	}
	/* loadable kvm module (it has an initstate) without its own BTF */
	if (path_exists("/sys/module/kvm/initstate") && !path_exists("/sys/kernel/btf/kvm")) {
		pr_err("unable to read memslots: the kvm module has no BTF "
		       "(CONFIG_DEBUG_INFO_BTF_MODULES)");
		return -EOPNOTSUPP;
	}
	if (!path_exists("/sys/bus/event_source/devices/kprobe") &&
	    !path_exists("/sys/kernel/tracing/kprobe_events") &&
	    !path_exists("/sys/kernel/debug/tracing/kprobe_events")) {
		pr_err("unable to read memslots: the kernel has no kprobes (CONFIG_KPROBES)");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int memslot_cmp(const void *a, const void *b)
{
	const struct memslot *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

/*
 * Trigger once and wait for the probe's walk; returns 0, or a negative errno
 * (reported, except -EAGAIN for a set that changed under the walk unless this
 * is the last try).
 */
static int memslots__snapshot(struct memslots_bpf *skel, pid_t pid, int (*trigger)(void *ctx),
			      void *ctx, bool last)
{
	struct timespec pause = { .tv_nsec = 1000000 };
	uint32_t state;
	int err, ms;

	__atomic_store_n(&skel->bss->state, 0, __ATOMIC_SEQ_CST);
	err = trigger(ctx);
	if (err < 0) {
		pr_err("unable to make process %d issue a VM ioctl: %s", (int)pid, strerror(-err));
		return err;
	}
	/* The hypervisor's ioctl ran the probe synchronously, unless another of its
	 * threads won the race and is still walking. */
	for (ms = 0;; ms++) {
		state = __atomic_load_n(&skel->bss->state, __ATOMIC_SEQ_CST);
		if (state != 1 || ms == MEMSLOTS_WAIT_MS)
			break;
		nanosleep(&pause, NULL);
	}
	if (state == 0) {
		pr_err("unable to read memslots: process %d issued no ioctl on a KVM VM fd",
		       (int)pid);
		return -ENOENT;
	}
	if (state != 2) {
		pr_err("unable to read memslots: the probe did not finish");
		return -ETIMEDOUT;
	}
	err = skel->bss->error;
	pr_debug("memslots: probe walked %u steps, %u address spaces, %u slots, error %d",
		 skel->bss->walk_steps, skel->bss->nas, skel->bss->nslots, err);
	switch (err) {
	case 0:
		return 0;
	case EAGAIN:
		if (!last)
			return -EAGAIN;
		pr_err("unable to read memslots: they kept changing (%d tries)", MEMSLOTS_TRIES);
		return -EAGAIN;
	case E2BIG:
		pr_err("unable to read memslots: more than %zu", ARRAY_SIZE(skel->bss->slots));
		return -E2BIG;
	case ENOTSUP:
		pr_err(
		    "unable to read memslots: unknown struct kvm_memslots layout (Linux < 5.16)");
		return -EOPNOTSUPP;
	default:
		pr_err("unable to read memslots: inconsistent struct kvm_memslots (%s)",
		       strerror(err));
		return -EINVAL;
	}
}

static int memslots__convert(const struct memslots_bpf *skel, struct memslot **slots,
			     size_t *nslots)
{
	size_t i, n = skel->bss->nslots;
	struct memslot *out;

	if (n > ARRAY_SIZE(skel->bss->slots))
		return -EINVAL;
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		pr_err("unable to read memslots: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct memslots_rec *r = &skel->bss->slots[i];

		if (r->base_gfn >> (64 - MEMSLOTS_PAGE_SHIFT) ||
		    r->npages >> (64 - MEMSLOTS_PAGE_SHIFT) ||
		    (r->base_gfn + r->npages) >> (64 - MEMSLOTS_PAGE_SHIFT)) {
			pr_err("unable to read memslots: slot %u: gfn %#llx + %llu pages overflows",
			       r->id, (unsigned long long)r->base_gfn,
			       (unsigned long long)r->npages);
			free(out);
			return -EINVAL;
		}
		out[i].id = (uint32_t)r->as_id << 16 | r->id;
		out[i].flags = r->flags;
		out[i].gpa = r->base_gfn << MEMSLOTS_PAGE_SHIFT;
		out[i].size = r->npages << MEMSLOTS_PAGE_SHIFT;
		out[i].hva = r->userspace_addr;
	}
	qsort(out, n, sizeof(*out), memslot_cmp);
	*slots = out;
	*nslots = n;
	return 0;
}

struct memslots_probe {
	struct memslots_bpf *skel;
	pid_t pid;
};

/*
 * The probe's skeleton, opened with the kernel's types cut down to what it
 * relocates (hostbtf.h) where they can be had: then libbpf need not parse
 * the kernel's whole BTF. @btf_path: what was used ("" for libbpf's own).
 */
static struct memslots_bpf *open_skel(char *btf_path, size_t len)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct memslots_bpf *skel;
	size_t obj_len;
	const void *obj = memslots_bpf__elf_bytes(&obj_len);
	int err = hostbtf__get(obj, obj_len, "kvm", NULL, btf_path, len);

	if (err == -ENOENT) {
		skel = memslots_bpf__open();
		if (!skel)
			return NULL;
		err = hostbtf__get(obj, obj_len, "kvm", bpf_object__btf(skel->obj), btf_path, len);
		if (err) {
			pr_debug("memslots: no cut-down kernel types (%s)", strerror(-err));
			btf_path[0] = '\0';
			return skel;
		}
		memslots_bpf__destroy(skel);
	}
	if (err) {
		btf_path[0] = '\0';
		return memslots_bpf__open();
	}
	opts.btf_custom_path = btf_path;
	return memslots_bpf__open_opts(&opts);
}

/* The skeleton, opened and loaded; NULL with errno set (said with -vv by libbpf). */
static struct memslots_bpf *load_skel(pid_t pid, bool cut_types)
{
	char btf_path[PATH_MAX] = "";
	struct memslots_bpf *skel =
	    cut_types ? open_skel(btf_path, sizeof(btf_path)) : memslots_bpf__open();
	int err;

	if (!skel)
		return NULL;
	skel->rodata->target_tgid = (uint32_t)pid;
	skel->rodata->cmd_set_region = KVM_SET_USER_MEMORY_REGION;
	skel->rodata->cmd_set_region2 = MEMSLOTS_SET_REGION2;
	err = memslots_bpf__load(skel);
	hostbtf__put(btf_path, err != 0);
	if (!err)
		return skel;
	memslots_bpf__destroy(skel);
	if (btf_path[0]) {
		/* what the cut-down types lack, the whole BTF may have: try that */
		pr_debug("memslots: the load with %s failed (%s); with the kernel's whole BTF",
			 btf_path, strerror(-err));
		return load_skel(pid, false);
	}
	errno = -err;
	return NULL;
}

int memslots__open(pid_t pid, struct memslots_probe **out)
{
	struct memslots_probe *p;
	uint64_t t0 = util__now_ns(), t1;
	int err;

	*out = NULL;
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) {
		pr_err("unable to read memslots: no process %d", (int)pid);
		return -ESRCH;
	}
	err = memslots__check_kernel();
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p) {
		pr_err("unable to read memslots: out of memory");
		return -ENOMEM;
	}
	p->pid = pid;
	libbpf_set_print(libbpf_print);
	p->skel = load_skel(pid, true);
	if (!p->skel) {
		err = -errno;
		pr_err("unable to load the memslots BPF program: %s "
		       "(needs Linux >= 5.17, BTF for kvm, CAP_BPF and CAP_PERFMON; -vv shows why)",
		       strerror(-err));
		goto fail;
	}
	t1 = util__now_ns();
	err = memslots_bpf__attach(p->skel);
	if (err) {
		pr_err("unable to attach a kprobe to kvm_vm_ioctl: %s", strerror(-err));
		goto fail;
	}
	pr_debug("memslots: BPF probe loaded in %.1f ms, attached in %.1f ms",
		 (double)(t1 - t0) / 1e6, (double)(util__now_ns() - t1) / 1e6);
	*out = p;
	return 0;
fail:
	memslots__close(p);
	return err;
}

int memslots__collect(struct memslots_probe *p, int (*trigger)(void *ctx), void *ctx,
		      struct memslot **slots, size_t *nslots)
{
	int err, try;

	for (try = 1;; try++) {
		err = memslots__snapshot(p->skel, p->pid, trigger, ctx, try == MEMSLOTS_TRIES);
		if (err != -EAGAIN || try == MEMSLOTS_TRIES)
			break;
		pr_debug("memslots: changed while read, try %d", try + 1);
	}
	if (!err)
		err = memslots__convert(p->skel, slots, nslots);
	return err;
}

void memslots__arm(struct memslots_probe *p)
{
	__atomic_store_n(&p->skel->bss->state, 0, __ATOMIC_SEQ_CST);
}

void memslots__watch(struct memslots_probe *p, uint64_t gpa)
{
	__atomic_store_n(&p->skel->bss->watch_gpa, gpa, __ATOMIC_SEQ_CST);
	__atomic_store_n(&p->skel->bss->watch_on, 1, __ATOMIC_SEQ_CST);
}

bool memslots__watch_hit(const struct memslots_probe *p)
{
	return __atomic_load_n(&p->skel->bss->log_seen, __ATOMIC_SEQ_CST);
}

int memslots__poll(struct memslots_probe *p, struct memslot **slots, size_t *nslots)
{
	uint32_t state = __atomic_load_n(&p->skel->bss->state, __ATOMIC_SEQ_CST);
	int err;

	if (state != 2)
		return 0;
	err =
	    p->skel->bss->error ? -p->skel->bss->error : memslots__convert(p->skel, slots, nslots);
	memslots__arm(p);
	return err ? err : 1;
}

void memslots__close(struct memslots_probe *p)
{
	if (!p)
		return;
	memslots_bpf__destroy(p->skel);
	free(p);
}

int memslots__read(pid_t pid, int (*trigger)(void *ctx), void *ctx, struct memslot **slots,
		   size_t *nslots)
{
	struct memslots_probe *p;
	int err = memslots__open(pid, &p);

	if (err)
		return err;
	err = memslots__collect(p, trigger, ctx, slots, nslots);
	memslots__close(p);
	return err;
}
