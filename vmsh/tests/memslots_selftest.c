// SPDX-License-Identifier: GPL-2.0
/*
 * memslots__read() against a VM of our own: create a VM, register memslots of
 * every kind (sizes, a gap, KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES, large
 * and non-zero slot ids, the SMM address space, a deleted slot, enough slots
 * to chain in every id_hash bucket), read them back through the eBPF probe
 * with a trigger that issues KVM_CHECK_EXTENSION on the VM fd, and compare
 * every field. Prints TAP. Needs real KVM with kprobes and BTF (a lab host):
 *   lab/lab host -- build/tests/vmsh_memslots_selftest [-v|-vv]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "memslots.h"
#include "util.h"

#define KIB (1024ULL)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define NMANY 200	      /* more slots than id_hash has buckets (128) */
#define MANY_ID 1000	      /* their ids: MANY_ID .. MANY_ID + NMANY - 1 */
#define MANY_GPA (1ULL << 30) /* their gpas: 4 KiB each, back to back */
#define NTESTS 19

struct want {
	const char *what;
	uint32_t id; /* as_id << 16 | slot */
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
	void *mem;
	bool present; /* registered, and not deleted */
};

enum { W_RAM, W_DIRTY, W_ROM, W_HIGH, W_DELETED, W_SMM, W_LATE, NWANT };

static struct want wants[NWANT] = {
	[W_RAM] = { "2 MiB at 0", 0, 0, 0, 2 * MIB },
	[W_DIRTY] = { "64 KiB, dirty log, adjacent", 1, KVM_MEM_LOG_DIRTY_PAGES, 2 * MIB,
		      64 * KIB },
	[W_ROM] = { "4 KiB read-only, after a gap", 5, KVM_MEM_READONLY, 16 * MIB, 4 * KIB },
	[W_HIGH] = { "1 MiB above 4 GiB, large id", 300, 0, 4 * GIB, 1 * MIB },
	[W_DELETED] = { "deleted", 9, 0, 32 * MIB, 8 * KIB },
	[W_SMM] = { "SMM address space", 1 << 16 | 2, 0, 0x30000, 128 * KIB },
	[W_LATE] = { "added after the first read", 6, 0, 48 * MIB, 16 * KIB },
};

static struct want many[NMANY];

static int ntest;

static bool ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static void skip(const char *what, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++ntest, what, why);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int set_region(int vm, const struct want *w, bool delete)
{
	struct kvm_userspace_memory_region r = {
		.slot = w->id,
		.flags = w->flags,
		.guest_phys_addr = w->gpa,
		.memory_size = delete ? 0 : w->size,
		.userspace_addr = (uint64_t)(uintptr_t)w->mem,
	};

	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		diag("KVM_SET_USER_MEMORY_REGION slot %#x (%s): %s", w->id, w->what,
		     strerror(errno));
		return -errno;
	}
	return 0;
}

static int add_region(int vm, struct want *w)
{
	w->mem = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->mem == MAP_FAILED) {
		diag("mmap %llu bytes: %s", (unsigned long long)w->size, strerror(errno));
		return -errno;
	}
	w->present = set_region(vm, w, false) == 0;
	return w->present ? 0 : -EINVAL;
}

struct trigger_ctx {
	int vm;
	int calls;
	int ret; /* 0: issue the ioctl; < 0: fail with it; 1: return 0 without the ioctl */
};

static int trigger(void *opaque)
{
	struct trigger_ctx *t = opaque;

	t->calls++;
	if (t->ret)
		return t->ret < 0 ? t->ret : 0;
	if (ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) < 0)
		return -errno;
	return 0;
}

static const struct memslot *find(const struct memslot *s, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i];
	return NULL;
}

static bool same(const struct memslot *got, const struct want *w)
{
	return got && got->gpa == w->gpa && got->size == w->size &&
	       got->hva == (uint64_t)(uintptr_t)w->mem && got->flags == w->flags;
}

static void show(const char *prefix, const struct memslot *s)
{
	diag("%s id %#x gpa %#llx size %#llx hva %#llx flags %#x", prefix, s->id,
	     (unsigned long long)s->gpa, (unsigned long long)s->size, (unsigned long long)s->hva,
	     s->flags);
}

/* The slots of got with ids a user can set (not KVM's private ones). */
static size_t count_user(const struct memslot *got, size_t n, int nr_slots)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if ((got[i].id & 0xffff) < (uint32_t)nr_slots)
			c++;
	return c;
}

static void check_want(const struct memslot *got, size_t n, const struct want *w)
{
	const struct memslot *s = find(got, n, w->id);

	if (!ok(same(s, w), "slot %#x (%s): gpa, size, hva and flags", w->id, w->what)) {
		diag("want id %#x gpa %#llx size %#llx hva %#llx flags %#x", w->id,
		     (unsigned long long)w->gpa, (unsigned long long)w->size,
		     (unsigned long long)(uintptr_t)w->mem, w->flags);
		if (s)
			show("got ", s);
		else
			diag("got  nothing with that id");
	}
}

static bool sorted(const struct memslot *got, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (got[i - 1].gpa > got[i].gpa)
			return false;
	return true;
}

/*
 * Another process with a VM of its own, the way vmsh meets a hypervisor: it
 * registers slots like others[], sends their hvas, then issues
 * KVM_CHECK_EXTENSION on its VM fd for every byte it reads, answering each
 * with the ioctl's result, until EOF.
 */
struct hv_child {
	pid_t pid;
	int req, ack;
};

static struct want others[] = {
	{ .what = "other process, 64 KiB", .id = 3, .gpa = 1 * MIB, .size = 64 * KIB },
	{ .what = "other process, dirty log",
	  .id = 42,
	  .flags = KVM_MEM_LOG_DIRTY_PAGES,
	  .gpa = 8 * MIB,
	  .size = 12 * KIB },
};

static void hv_child_run(int kvm, int req, int ack)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0), r = 0;
	char c;

	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (vm < 0 || add_region(vm, &others[i]) < 0)
			r = -1;
	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (write(ack, &others[i].mem, sizeof(others[i].mem)) != sizeof(others[i].mem))
			_exit(1);
	if (write(ack, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	while (read(req, &c, 1) == 1) {
		r = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) < 0 ? -errno : 0;
		if (write(ack, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

static int hv_child_start(struct hv_child *hv, int kvm)
{
	int req[2], ack[2], r = -1;

	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0)
		return -errno;
	hv->pid = fork();
	if (hv->pid < 0)
		return -errno;
	if (hv->pid == 0) {
		close(req[1]);
		close(ack[0]);
		hv_child_run(kvm, req[0], ack[1]);
	}
	close(req[0]);
	close(ack[1]);
	hv->req = req[1];
	hv->ack = ack[0];
	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (read(hv->ack, &others[i].mem, sizeof(others[i].mem)) != sizeof(others[i].mem))
			return -EPIPE;
	if (read(hv->ack, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return r;
}

static int hv_child_trigger(void *opaque)
{
	struct hv_child *hv = opaque;
	int r;

	if (write(hv->req, "x", 1) != 1 || read(hv->ack, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	return r;
}

static void hv_child_stop(struct hv_child *hv)
{
	close(hv->req);
	close(hv->ack);
	waitpid(hv->pid, NULL, 0);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

int main(int argc, char **argv)
{
	struct trigger_ctx trig = { .vm = -1 };
	struct hv_child hv;
	struct memslot *got = NULL, *got2 = NULL;
	size_t n = 0, n2 = 0, i, want_n = 0;
	int kvm, err, nr_slots, nas, ro;
	bool setup = true, many_ok = true;
	pid_t self = getpid();

	for (i = 1; i < (size_t)argc; i++)
		if (!strcmp(argv[i], "-v"))
			vmsh_verbose = 1;
		else if (!strcmp(argv[i], "-vv"))
			vmsh_verbose = 2;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("1..0 # SKIP no /dev/kvm: %s\n", strerror(errno));
		return 0;
	}
	trig.vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (trig.vm < 0) {
		printf("Bail out! KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	nr_slots = ioctl(trig.vm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	nas = ioctl(trig.vm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
	ro = ioctl(trig.vm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM);
	if (nr_slots <= MANY_ID + NMANY) {
		printf("Bail out! KVM_CAP_NR_MEMSLOTS is only %d\n", nr_slots);
		return 1;
	}
	printf("1..%d\n", NTESTS);
	diag("KVM_CAP_NR_MEMSLOTS %d, KVM_CAP_MULTI_ADDRESS_SPACE %d, KVM_CAP_READONLY_MEM %d",
	     nr_slots, nas, ro);

	/* 1: set up */
	if (ro <= 0)
		wants[W_ROM].flags = 0;
	for (i = 0; i < NWANT; i++) {
		if (i == W_LATE || (i == W_SMM && nas < 2))
			continue;
		setup &= add_region(trig.vm, &wants[i]) == 0;
	}
	for (i = 0; i < NMANY; i++) {
		many[i] = (struct want){ .what = "one of many",
					 .id = MANY_ID + i,
					 .gpa = MANY_GPA + i * 4 * KIB,
					 .size = 4 * KIB };
		setup &= add_region(trig.vm, &many[i]) == 0;
	}
	setup &= set_region(trig.vm, &wants[W_DELETED], true) == 0;
	wants[W_DELETED].present = false;
	if (!ok(setup, "a VM with %d memslots, one deleted", NWANT - 1 + NMANY)) {
		printf("Bail out! cannot set up memslots\n");
		return 1;
	}
	for (i = 0; i < NWANT; i++)
		want_n += wants[i].present;
	want_n += NMANY;

	/* 2-3: read */
	err = memslots__read(self, trigger, &trig, &got, &n);
	if (!ok(err == 0, "memslots__read of our own pid: %s", err ? strerror(-err) : "0")) {
		printf("Bail out! memslots__read failed\n");
		return 1;
	}
	ok(trig.calls >= 1, "the trigger ran (%d calls)", trig.calls);
	for (i = 0; i < n; i++)
		if ((got[i].id & 0xffff) >= (uint32_t)nr_slots || vmsh_verbose)
			show((got[i].id & 0xffff) >= (uint32_t)nr_slots ? "KVM's private:"
									: "read:",
			     &got[i]);

	/* 4-10 */
	ok(count_user(got, n, nr_slots) == want_n, "%zu user slots read, %zu registered",
	   count_user(got, n, nr_slots), want_n);
	check_want(got, n, &wants[W_RAM]);
	check_want(got, n, &wants[W_DIRTY]);
	if (ro > 0)
		check_want(got, n, &wants[W_ROM]);
	else
		skip("read-only slot", "no KVM_CAP_READONLY_MEM");
	check_want(got, n, &wants[W_HIGH]);
	if (nas >= 2)
		check_want(got, n, &wants[W_SMM]);
	else
		skip("SMM address space slot", "KVM_CAP_MULTI_ADDRESS_SPACE < 2");
	ok(!find(got, n, wants[W_DELETED].id), "deleted slot %#x is absent", wants[W_DELETED].id);

	/* 11: the many slots, chained in the hash buckets */
	for (i = 0; i < NMANY; i++) {
		const struct memslot *s = find(got, n, many[i].id);

		if (!same(s, &many[i])) {
			if (many_ok)
				diag("first mismatch: slot %#x", many[i].id);
			many_ok = false;
		}
	}
	ok(many_ok, "%d slots of 4 KiB (ids %d..%d), every field", NMANY, MANY_ID,
	   MANY_ID + NMANY - 1);

	/* 12 */
	ok(sorted(got, n), "sorted by gpa");

	/* 13-14: a second read sees changes */
	set_region(trig.vm, &wants[W_DIRTY], true);
	wants[W_DIRTY].present = false;
	add_region(trig.vm, &wants[W_LATE]);
	trig.calls = 0;
	err = memslots__read(self, trigger, &trig, &got2, &n2);
	ok(err == 0 && count_user(got2, n2, nr_slots) == want_n &&
	       !find(got2, n2, wants[W_DIRTY].id),
	   "second read after a delete and an add: %s, %zu user slots, deleted one absent",
	   err ? strerror(-err) : "0", err ? 0 : count_user(got2, n2, nr_slots));
	if (err == 0) {
		check_want(got2, n2, &wants[W_LATE]);
	} else {
		ok(false, "slot %#x (%s)", wants[W_LATE].id, wants[W_LATE].what);
	}
	free(got2);
	got2 = NULL;

	/* 15-18: errors */
	trig.ret = -EIO;
	err = memslots__read(self, trigger, &trig, &got2, &n2);
	ok(err == -EIO, "a failing trigger's error comes back (%s)", strerror(-err));
	trig.ret = -ENOTTY;
	trig.calls = 0;
	err = memslots__read(self, trigger, &trig, &got2, &n2);
	ok(err == -ENOTTY && trig.calls == 1, "no retry after a failing trigger");
	trig.ret = 1;
	err = memslots__read(self, trigger, &trig, &got2, &n2);
	ok(err == -ENOENT, "a trigger without a VM ioctl gives ENOENT (%s)", strerror(-err));
	trig.ret = 0;
	err = memslots__read(dead_pid(), trigger, &trig, &got2, &n2);
	ok(err == -ESRCH, "a dead pid gives ESRCH (%s)", strerror(-err));

	/* 19: another process's VM, ours not mixed in */
	err = hv_child_start(&hv, kvm);
	if (err == 0) {
		err = memslots__read(hv.pid, hv_child_trigger, &hv, &got2, &n2);
		hv_child_stop(&hv);
	}
	if (!ok(err == 0 && n2 == ARRAY_SIZE(others) && same(&got2[0], &others[0]) &&
		    same(&got2[1], &others[1]),
		"another process's VM: exactly its %zu slots (%s)", ARRAY_SIZE(others),
		err ? strerror(-err) : "0"))
		for (i = 0; !err && i < n2; i++)
			show("got ", &got2[i]);
	free(got2);

	free(got);
	close(trig.vm);
	close(kvm);
	return 0;
}
