// SPDX-License-Identifier: GPL-2.0
/*
 * stage1 itself, run on the host: the loader links the real stage1.so
 * against fake kernel functions defined here, the image is mapped with the
 * protections the loader asked for, and the real entry and work function
 * run in this process. The entry is entered by a jump from assembly with
 * every register set to a known value and must come back to orig_rip with
 * all of them (and RFLAGS and RSP) unchanged; the worker is driven through
 * its protocol by the fake msleep, which plays vmsh's part.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kbtf.h"
#include "loader.h"
#include "util.h"

#define STAGE2_SIZE ((5u << 20) / 2) /* 2.5 MiB: three kernel_write()s */

/* --- entering through assembly, as a redirected vCPU would -------------- */

uint64_t harness_target, harness_rsp, harness_rsp_after, harness_flags, harness_flags_after;
uint64_t harness_out[15];
void entry_harness(uint64_t entry);
extern char harness_return[];

/* rax rbx rcx rdx rsi rdi rbp r8 .. r15 = 0x0101010101010101 * (1 .. 15) */
__asm__(
    "	.text\n"
    "	.globl entry_harness\n"
    "entry_harness:\n"
    "	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
    "	mov %rdi, harness_target(%rip)\n"
    "	mov %rsp, harness_rsp(%rip)\n"
    "	movabs $0x0101010101010101, %rax\n	movabs $0x0202020202020202, %rbx\n"
    "	movabs $0x0303030303030303, %rcx\n	movabs $0x0404040404040404, %rdx\n"
    "	movabs $0x0505050505050505, %rsi\n	movabs $0x0606060606060606, %rdi\n"
    "	movabs $0x0707070707070707, %rbp\n	movabs $0x0808080808080808, %r8\n"
    "	movabs $0x0909090909090909, %r9\n	movabs $0x0a0a0a0a0a0a0a0a, %r10\n"
    "	movabs $0x0b0b0b0b0b0b0b0b, %r11\n	movabs $0x0c0c0c0c0c0c0c0c, %r12\n"
    "	movabs $0x0d0d0d0d0d0d0d0d, %r13\n	movabs $0x0e0e0e0e0e0e0e0e, %r14\n"
    "	movabs $0x0f0f0f0f0f0f0f0f, %r15\n"
    "	stc\n	std\n"
    "	pushfq\n	popq harness_flags(%rip)\n"
    "	jmp *harness_target(%rip)\n"
    "	.globl harness_return\n"
    "harness_return:\n"
    "	mov %rsp, harness_rsp_after(%rip)\n"
    "	pushfq\n	popq harness_flags_after(%rip)\n"
    "	mov %rax, harness_out+0(%rip)\n	mov %rbx, harness_out+8(%rip)\n"
    "	mov %rcx, harness_out+16(%rip)\n	mov %rdx, harness_out+24(%rip)\n"
    "	mov %rsi, harness_out+32(%rip)\n	mov %rdi, harness_out+40(%rip)\n"
    "	mov %rbp, harness_out+48(%rip)\n	mov %r8, harness_out+56(%rip)\n"
    "	mov %r9, harness_out+64(%rip)\n	mov %r10, harness_out+72(%rip)\n"
    "	mov %r11, harness_out+80(%rip)\n	mov %r12, harness_out+88(%rip)\n"
    "	mov %r13, harness_out+96(%rip)\n	mov %r14, harness_out+104(%rip)\n"
    "	mov %r15, harness_out+112(%rip)\n"
    "	cld\n"
    "	mov harness_rsp(%rip), %rsp\n"
    "	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
    "	ret\n");

/* --- the fake kernel ----------------------------------------------------- */

struct fake_pdev {
	char name[32];
	int id;
	uint8_t res[2][STAGE1_RES_SIZE]; /* struct resource, as the ABI's layout says */
	unsigned nres;
	bool added, unregistered, put;
};

static struct {
	struct stage1_abi *abi;
	/* script */
	uint32_t go_at_ms; /* request GO once this much was slept; 0: never */
	bool stop_when_ready, gone_on_kill;
	int add_error_at; /* platform_device_add of this device index fails; -1 */
	int etxtbsy, exec_error, module_error;
	/* /sys/module as the guest has it: "NAME=STATE" (live, coming) or "NAME" (built in) */
	const char *sysmod[STAGE1_MAX_MODULES];
	unsigned sysfs_opens;
	/* record */
	uint32_t slept_ms, states_seen;
	unsigned queued, order;
	int cpu;
	void *wq, *work;
	char modules[STAGE1_MAX_MODULES][STAGE1_MODULE_LEN];
	unsigned nmodules;
	struct fake_pdev pdevs[STAGE1_MAX_DEVICES];
	unsigned npdevs, unregister_order[STAGE1_MAX_DEVICES], nunregistered;
	char path[STAGE1_PATH_LEN];
	int open_flags, open_mode, opened, closed;
	uint8_t *written;
	size_t nwritten;
	unsigned writes, execs;
	char *argv[STAGE1_MAX_ARGV + 1], *envp[STAGE1_MAX_ENVP + 1];
	int killed, kill_sig, got_pid, put_pid;
	char rm_path[STAGE1_PATH_LEN], rm_arg[STAGE1_PATH_LEN];
	int rms, rm_error;
	/* the kernel's memcpy, as the worker's tail: where it returns, what state it saw */
	unsigned final_stores;
	uint32_t state_before_final;
	void *final_return;
	/* the irq_work the entry queues; its flags when the final state was stored */
	uint8_t *iw;
	unsigned iw_queued, iw_runs, busy_until_ms;
	uint32_t iw_flags_at_final;
} K;

static uint32_t *iw_flags(void)
{
	return (uint32_t *)(K.iw + 8);
}

static uint8_t fake_pid_struct;
static void *fake_system_long_wq = (void *)0x5157;

static int fake_printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vmsh_verbose)
		vfprintf(stderr, fmt, ap);
	va_end(ap);
	return 0;
}

static bool fake_queue_work_on(int cpu, void *wq, void *work)
{
	assert_true(K.iw && K.iw_runs == 1); /* from the irq_work's interrupt only */
	K.queued++;
	K.cpu = cpu;
	K.wq = wq;
	K.work = work;
	return true;
}

/* vmsh's side of the protocol, one poll at a time. */
static void fake_msleep(unsigned int ms)
{
	struct stage1_abi *a = K.abi;

	K.slept_ms += ms;
	if (K.busy_until_ms && K.slept_ms >= K.busy_until_ms)
		*iw_flags() &= ~2u;
	K.states_seen |= 1u << a->state;
	if (K.slept_ms > 10 * 60 * 1000)
		fail_msg("stage1 polls for ever (state %u)", a->state);
	if (K.go_at_ms && K.slept_ms >= K.go_at_ms && a->request == STAGE1_REQ_WAIT)
		a->request = STAGE1_REQ_GO;
	if (K.stop_when_ready && a->state == STAGE1_READY) {
		a->stage2_pid = 4242;
		a->request = STAGE1_REQ_STOP;
	}
}

static int fake_request_module(bool wait, const char *fmt, ...)
{
	va_list ap;

	assert_true(wait);
	assert_string_equal(fmt, "%s");
	va_start(ap, fmt);
	snprintf(K.modules[K.nmodules], STAGE1_MODULE_LEN, "%s", va_arg(ap, const char *));
	va_end(ap);
	return K.nmodules++ == 1 ? K.module_error : 0;
}

static void *fake_pdev_alloc(const char *name, int id)
{
	struct fake_pdev *p = &K.pdevs[K.npdevs++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	p->id = id;
	return p;
}

static int fake_pdev_add_resources(struct fake_pdev *p, const uint8_t *res, unsigned n)
{
	uint32_t size = K.abi->layout.res_size;

	assert_true(n <= 2);
	for (unsigned i = 0; i < n; i++)
		memcpy(p->res[i], res + i * size, size);
	p->nres = n;
	return 0;
}

/* The 8 bytes at off of resource i (or of the work item) as stage1 wrote them. */
static uint64_t get64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int fake_pdev_add(struct fake_pdev *p)
{
	if (K.add_error_at == p - K.pdevs)
		return -EEXIST;
	p->added = true;
	return 0;
}

static void fake_pdev_put(struct fake_pdev *p)
{
	assert_false(p->added);
	p->put = true;
}

static void fake_pdev_unregister(struct fake_pdev *p)
{
	assert_true(p->added && !p->unregistered);
	p->unregistered = true;
	K.unregister_order[K.nunregistered++] = (unsigned)(p - K.pdevs);
}

/* An open file of /sys/module: the state its initstate reads. */
static struct sysfs_file {
	const char *state;
} sysfs_file;

/* /sys/module/NAME[/initstate] as K.sysmod has them; NULL: no such file. */
static struct sysfs_file *fake_sysfs_open(const char *path)
{
	const char *name = path + strlen("/sys/module/"), *slash = strchr(name, '/');
	size_t len = slash ? (size_t)(slash - name) : strlen(name);

	K.sysfs_opens++;
	assert_true(!slash || !strcmp(slash, "/initstate"));
	for (unsigned i = 0; i < STAGE1_MAX_MODULES && K.sysmod[i]; i++) {
		const char *m = K.sysmod[i], *eq = strchr(m, '=');

		if (strncmp(m, name, len) || (m[len] != '\0' && m[len] != '='))
			continue;
		if (slash && !eq)
			return NULL; /* built in: no initstate */
		sysfs_file.state = eq ? eq + 1 : NULL;
		return &sysfs_file;
	}
	return NULL;
}

static void *fake_filp_open(const char *path, int flags, unsigned short mode)
{
	if (!strncmp(path, "/sys/module/", strlen("/sys/module/"))) {
		void *f = fake_sysfs_open(path);

		assert_int_equal(flags, 0);
		return f ? f : (void *)(intptr_t)-ENOENT;
	}
	snprintf(K.path, sizeof(K.path), "%s", path);
	K.open_flags = flags;
	K.open_mode = mode;
	K.opened++;
	return &K.opened;
}

static long fake_kernel_write(void *f, const void *buf, size_t count, long long *pos)
{
	assert_ptr_equal(f, &K.opened);
	assert_int_equal(*pos, K.nwritten);
	K.written = realloc(K.written, K.nwritten + count);
	assert_non_null(K.written);
	memcpy(K.written + K.nwritten, buf, count);
	K.nwritten += count;
	*pos += (long long)count;
	K.writes++;
	return (long)count;
}

static long fake_kernel_read(void *f, void *buf, size_t count, long long *pos)
{
	size_t n;

	assert_ptr_equal(f, &sysfs_file);
	assert_non_null(sysfs_file.state);
	n = strlen(sysfs_file.state) < count ? strlen(sysfs_file.state) : count;
	memcpy(buf, sysfs_file.state, n);
	*pos += (long long)n;
	return (long)n;
}

static int fake_filp_close(void *f, void *id)
{
	if (f == &sysfs_file)
		return 0;
	assert_ptr_equal(f, &K.opened);
	assert_null(id);
	K.closed++;
	return 0;
}

static int fake_call_usermodehelper(const char *path, char **argv, char **envp, int wait)
{
	if (wait == 2) { /* UMH_WAIT_PROC: rm of stage2's file */
		K.rms++;
		assert_string_equal(argv[0], path);
		assert_string_equal(argv[1], "-f");
		assert_null(argv[3]);
		snprintf(K.rm_path, sizeof(K.rm_path), "%s", path);
		snprintf(K.rm_arg, sizeof(K.rm_arg), "%s", argv[2]);
		return K.rm_error;
	}
	assert_string_equal(path, K.path);
	assert_int_equal(wait, 1); /* UMH_WAIT_EXEC */
	K.execs++;
	if (K.etxtbsy-- > 0)
		return -ETXTBSY;
	for (int i = 0; i <= STAGE1_MAX_ARGV && (K.argv[i] = argv[i]); i++)
		;
	for (int i = 0; i <= STAGE1_MAX_ENVP && (K.envp[i] = envp[i]); i++)
		;
	return K.exec_error;
}

static void *fake_find_get_pid(int nr)
{
	assert_int_equal(nr, 4242);
	K.got_pid++;
	return &fake_pid_struct;
}

static int fake_kill_pid(void *pid, int sig, int priv)
{
	assert_ptr_equal(pid, &fake_pid_struct);
	assert_int_equal(priv, 1);
	K.killed++;
	K.kill_sig = sig;
	if (K.gone_on_kill)
		K.abi->stage2_gone = 1;
	return 0;
}

static void fake_put_pid(void *pid)
{
	assert_ptr_equal(pid, &fake_pid_struct);
	K.put_pid++;
}

/*
 * The worker's last act: the kernel's memcpy makes the final store. It is
 * tail-called: it returns straight to the work function's caller, so its
 * return address is not in stage1's code.
 */
static void *fake_memcpy(void *dst, const void *src, size_t n)
{
	K.final_stores++;
	K.final_return = __builtin_return_address(0);
	K.state_before_final = K.abi->state;
	K.iw_flags_at_final = K.iw ? *iw_flags() : 0xff;
	assert_ptr_equal(dst, &K.abi->state);
	assert_int_equal(n, 1);
	return memcpy(dst, src, n);
}

/* irq_work_queue: claim (PENDING | BUSY) and raise the self-IPI. */
static bool fake_irq_work_queue(void *iw)
{
	K.iw_queued++;
	if (K.iw && (*iw_flags() & 1))
		return false;
	K.iw = iw;
	assert_int_equal(*iw_flags(), 0x8); /* HARD_IRQ */
	*iw_flags() |= 0x3;
	return true;
}

/* The self-IPI: irq_work_single(). BUSY stays set for busy_until_ms of sleep. */
static void run_irq_work(void)
{
	void (*func)(void *);
	uint32_t flags;

	memcpy(&func, K.iw + 16, sizeof(func));
	flags = *iw_flags() & ~1u;
	*iw_flags() = flags;
	K.iw_runs++;
	func(K.iw);
	if (!K.busy_until_ms)
		*iw_flags() = flags & ~2u;
}

static const struct {
	const char *name;
	void *addr;
} fakes[] = {
	{ "memcpy", (void *)fake_memcpy },
	{ "irq_work_queue", (void *)fake_irq_work_queue },
	{ "_printk", (void *)fake_printk },
	{ "queue_work_on", (void *)fake_queue_work_on },
	{ "system_long_wq", &fake_system_long_wq },
	{ "msleep", (void *)fake_msleep },
	{ "__request_module", (void *)fake_request_module },
	{ "platform_device_alloc", (void *)fake_pdev_alloc },
	{ "platform_device_add_resources", (void *)fake_pdev_add_resources },
	{ "platform_device_add", (void *)fake_pdev_add },
	{ "platform_device_put", (void *)fake_pdev_put },
	{ "platform_device_unregister", (void *)fake_pdev_unregister },
	{ "filp_open", (void *)fake_filp_open },
	{ "filp_close", (void *)fake_filp_close },
	{ "kernel_write", (void *)fake_kernel_write },
	{ "kernel_read", (void *)fake_kernel_read },
	{ "call_usermodehelper", (void *)fake_call_usermodehelper },
	{ "find_get_pid", (void *)fake_find_get_pid },
	{ "kill_pid", (void *)fake_kill_pid },
	{ "put_pid", (void *)fake_put_pid },
};

static int fake_resolve(void *ctx, const char *name, uint64_t *addr)
{
	(void)ctx;
	for (size_t i = 0; i < ARRAY_SIZE(fakes); i++)
		if (!strcmp(fakes[i].name, name)) {
			*addr = (uint64_t)(uintptr_t)fakes[i].addr;
			return 0;
		}
	return -ENOENT;
}

/* --- a loaded stage1, configured as vmsh would --------------------------- */

struct run {
	uint8_t *mem;
	size_t size;
	struct stage1_image img;
};

static char *const argv0[] = { "/dev/.vmsh-1234", "--serial", "vmsh0", "--", "sh", NULL };
static char *const envp0[] = { "PATH=/bin:/sbin", "TERM=linux", NULL };

static int setup(void **state)
{
	size_t extra[2] = { STAGE2_SIZE, 4096 };
	struct run *r = calloc(1, sizeof(*r));
	struct stage1_abi *a;
	struct loader *l;

	assert_non_null(r);
	memset(&K, 0, sizeof(K));
	K.add_error_at = -1;
	assert_int_equal(loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob)), 0);
	r->size = loader__segments_size(l) + STAGE2_SIZE + 4096 + 8192;
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->mem != MAP_FAILED);
	assert_int_equal(
	    loader__load(l, (uint64_t)(uintptr_t)r->mem, extra, 2, fake_resolve, NULL, &r->img), 0);
	loader__close(l);
	assert_true(r->img.size <= r->size);
	for (size_t i = 0; i < STAGE2_SIZE; i++)
		r->img.buf[r->img.extra_offset[0] + i] = (uint8_t)(i * 7 + (i >> 12));
	assert_int_equal(loader__set_args(&r->img, 1, argv0, envp0), 0);
	a = loader__abi(&r->img);
	a->orig_rip = (uint64_t)(uintptr_t)harness_return;
	{
		struct guest_layout gl;

		assert_int_equal(kbtf__layout(NULL, "6.12.0", &gl), 0);
		kbtf__fill_abi(&gl, a);
	}
	a->ndevices = 2;
	a->devices[0] =
	    (struct stage1_device){ .base = 0xd0000000, .size = 0x1000, .irq = 6, .id = 7 };
	a->devices[1] =
	    (struct stage1_device){ .base = 0xd0001000, .size = 0x200, .irq = 5, .id = 8 };
	a->nmodules = 3;
	snprintf(a->modules[0], STAGE1_MODULE_LEN, "virtio_mmio");
	snprintf(a->modules[1], STAGE1_MODULE_LEN, "virtio_blk");
	snprintf(a->modules[2], STAGE1_MODULE_LEN, "virtio_console");
	snprintf(a->stage2_path, sizeof(a->stage2_path), "%s", argv0[0]);
	a->stage2_gva = r->img.extra_gva[0];
	a->stage2_size = STAGE2_SIZE;

	/* Then the image goes into "guest RAM", with the mapper's protections. */
	memcpy(r->mem, r->img.buf, r->img.size);
	for (size_t i = 0; i < r->img.nareas; i++) {
		const struct loader_area *ar = &r->img.areas[i];

		assert_int_equal(mprotect(r->mem + ar->offset, ar->size, ar->prot), 0);
	}
	K.abi = (struct stage1_abi *)(r->mem + r->img.abi_offset);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct run *r = *state;

	munmap(r->mem, r->size);
	loader__image_free(&r->img);
	free(K.written);
	free(r);
	return 0;
}

static void enter(struct run *r)
{
	memset(harness_out, 0, sizeof(harness_out));
	entry_harness(r->img.entry_gva);
	assert_int_equal(harness_rsp_after, harness_rsp);
	assert_int_equal(harness_flags_after, harness_flags);
	assert_int_equal(harness_flags & 0x401, 0x401); /* CF and DF */
	for (uint64_t i = 0; i < 15; i++)
		assert_int_equal(harness_out[i], 0x0101010101010101ULL * (i + 1));
	/* interrupts on again at the original RIP: the irq_work's IPI comes in */
	if (K.iw && (*iw_flags() & 1))
		run_irq_work();
}

/* The kernel runs the queued work: work->func(work). */
static __attribute__((noinline)) void run_worker(void)
{
	void (*func)(void *);

	assert_int_equal(K.queued, 1);
	memcpy(&func, (uint8_t *)K.work + K.abi->layout.work_func, sizeof(func));
	func(K.work);
	__asm__ __volatile__("" ::: "memory"); /* no tail call here: the return is ours */
}

/*
 * Finding 5 of issue 19: the final state is stored once, by the kernel's
 * memcpy, which returns into the kernel (here run_worker), not into stage1.
 */
static void assert_final_by_kernel(const struct run *r)
{
	uint8_t *ret = K.final_return;

	assert_int_equal(K.final_stores, 1);
	assert_int_equal(K.iw_flags_at_final & 3, 0); /* the kernel is done with the irq_work */
	assert_true(K.state_before_final != STAGE1_DONE && K.state_before_final != STAGE1_ERROR);
	assert_true(K.abi->state == STAGE1_DONE || K.abi->state == STAGE1_ERROR);
	assert_true(ret < (uint8_t *)(uintptr_t)r->img.areas[0].gva || ret >= r->mem + r->size);
}

/* --- tests ----------------------------------------------------------------- */

static void test_entry(void **state)
{
	struct run *r = *state;
	uint64_t w[4];

	enter(r);
	assert_int_equal(K.queued, 1);
	assert_ptr_equal(K.wq, fake_system_long_wq);
	assert_ptr_equal(K.work, K.abi->work);
	assert_int_equal(K.abi->state, STAGE1_ENTERED);
	/* INIT_WORK: data, an empty list, and func at an ENDBR in the code. */
	memcpy(w, K.abi->work, sizeof(w));
	assert_int_equal(w[0], 0x7fffffffULL << 21);
	assert_int_equal(w[1], (uint64_t)(uintptr_t)(K.abi->work + 8));
	assert_int_equal(w[2], (uint64_t)(uintptr_t)(K.abi->work + 8));
	assert_true(w[3] >= r->img.areas[1].gva &&
		    w[3] < r->img.areas[1].gva + r->img.areas[1].size);
	assert_int_equal(r->img.areas[1].prot, LOADER_PROT_R | LOADER_PROT_X);
	assert_memory_equal((void *)(uintptr_t)w[3], "\xf3\x0f\x1e\xfa", 4);
	/* A second entry only returns. */
	enter(r);
	assert_int_equal(K.queued, 1);
}

static void test_worker_runs_and_stops(void **state)
{
	struct run *r = *state;
	const struct stage1_abi *a = K.abi;

	K.go_at_ms = 300;
	K.stop_when_ready = true;
	K.gone_on_kill = true;
	K.etxtbsy = 2;
	K.module_error = -ENOENT;
	enter(r);
	run_worker();

	assert_int_equal(a->state, STAGE1_DONE);
	assert_final_by_kernel(r);
	assert_int_equal(K.rms, 0); /* a running stage2 removes its file itself */
	assert_true(a->irq_work_cpu >= 0 && a->irq_work_cpu < 4096);
	assert_int_equal(a->failed_step, STAGE1_STEP_NONE);
	assert_true(K.states_seen & (1u << STAGE1_WORK_STARTED));
	assert_true(K.states_seen & (1u << STAGE1_READY));
	assert_true(K.slept_ms >= 300);
	assert_int_equal(K.nmodules, 3);
	assert_string_equal(K.modules[2], "virtio_console");
	assert_int_equal(a->module_err[0], 0);
	assert_int_equal(a->module_err[1], -ENOENT);
	assert_int_equal(K.npdevs, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct fake_pdev *p = &K.pdevs[i];

		assert_string_equal(p->name, "virtio-mmio");
		assert_int_equal(p->id, a->devices[i].id);
		assert_int_equal(p->nres, 2);
		assert_int_equal(get64(p->res[0], 0), a->devices[i].base);
		assert_int_equal(get64(p->res[0], 8), a->devices[i].base + a->devices[i].size - 1);
		assert_int_equal(get64(p->res[0], 16), 0); /* name: NULL */
		assert_int_equal(get64(p->res[0], 24), 0x200);
		assert_int_equal(get64(p->res[1], 0), a->devices[i].irq);
		assert_int_equal(get64(p->res[1], 8), a->devices[i].irq);
		assert_int_equal(get64(p->res[1], 24), 0x400);
		for (uint32_t off = 32; off < 64; off += 8)
			assert_int_equal(get64(p->res[0], off) | get64(p->res[1], off), 0);
		assert_true(p->unregistered && !p->put);
		assert_int_equal(a->pdev[i], 0);
	}
	assert_int_equal(K.unregister_order[0], 1);
	assert_int_equal(K.unregister_order[1], 0);
	assert_string_equal(K.path, "/dev/.vmsh-1234");
	assert_int_equal(K.open_flags, 01 | 0100 | 01000 | 0200);
	assert_int_equal(K.open_mode, 0700);
	assert_int_equal(K.closed, 1);
	assert_int_equal(K.writes, 3);
	assert_int_equal(K.nwritten, STAGE2_SIZE);
	assert_memory_equal(K.written, r->img.buf + r->img.extra_offset[0], STAGE2_SIZE);
	assert_int_equal(K.execs, 3);
	for (int i = 0; argv0[i]; i++)
		assert_string_equal(K.argv[i], argv0[i]);
	assert_null(K.argv[5]);
	assert_string_equal(K.envp[1], "TERM=linux");
	assert_null(K.envp[2]);
	assert_int_equal(K.killed, 1);
	assert_int_equal(K.kill_sig, 15);
	assert_int_equal(K.got_pid, K.put_pid);
}

/*
 * Modules the guest has already (live, or built in: /sys/module without an
 * initstate) are not asked for again; one still coming is.
 */
static void test_worker_skips_present_modules(void **state)
{
	struct run *r = *state;
	const struct stage1_abi *a = K.abi;

	K.go_at_ms = 10;
	K.stop_when_ready = true;
	K.gone_on_kill = true;
	K.sysmod[0] = "virtio_mmio=live";
	K.sysmod[1] = "virtio_blk";
	K.sysmod[2] = "virtio_console=coming";
	enter(r);
	run_worker();

	assert_int_equal(a->state, STAGE1_DONE);
	assert_int_equal(K.nmodules, 1);
	assert_string_equal(K.modules[0], "virtio_console");
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(a->module_err[i], 0);
	/* live: its initstate; built in: initstate, then the directory; coming: initstate */
	assert_int_equal(K.sysfs_opens, 4);
	assert_int_equal(K.opened, 1); /* stage2's file only */
}

static void test_worker_go_timeout(void **state)
{
	K.abi->go_timeout_ms = 500;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_final_by_kernel(*(struct run **)state);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_WAIT_GO);
	assert_int_equal(K.abi->error, -ETIMEDOUT);
	assert_true(K.slept_ms >= 500 && K.slept_ms < 1000);
	assert_int_equal(K.npdevs + K.opened + K.nmodules, 0);
}

static void test_worker_stop_before_go(void **state)
{
	K.abi->request = STAGE1_REQ_STOP;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_DONE);
	assert_int_equal(K.npdevs + K.opened + K.nmodules, 0);
}

static void test_worker_device_fails(void **state)
{
	K.go_at_ms = 50;
	K.add_error_at = 1;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_DEV_ADD);
	assert_int_equal(K.abi->error, -EEXIST);
	assert_true(K.pdevs[0].unregistered);
	assert_true(K.pdevs[1].put && !K.pdevs[1].added);
	assert_int_equal(K.opened, 0);
}

static void test_worker_exec_fails(void **state)
{
	K.go_at_ms = 50;
	K.exec_error = -ENOEXEC;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_EXEC);
	assert_int_equal(K.abi->error, -ENOEXEC);
	assert_true(K.pdevs[0].unregistered && K.pdevs[1].unregistered);
	assert_final_by_kernel(*(struct run **)state);
	/* the file stage2 never ran from is removed (issue 19, finding 10) */
	assert_int_equal(K.rms, 1);
	assert_string_equal(K.rm_path, "/bin/rm");
	assert_string_equal(K.rm_arg, "/dev/.vmsh-1234");
	assert_int_equal(K.abi->stage2_left, 0);
}

/* rm is nowhere: both tries fail, vmsh is told the file is left. */
static void test_worker_exec_fails_rm_fails(void **state)
{
	K.go_at_ms = 50;
	K.exec_error = -ENOEXEC;
	K.rm_error = -ENOENT;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_EXEC);
	assert_int_equal(K.rms, 2);
	assert_string_equal(K.rm_path, "/usr/bin/rm");
	assert_int_equal(K.abi->stage2_left, -ENOENT);
}

/*
 * The entry only queues an irq_work (it may run in the idle task, where RCU
 * is not watching); queue_work_on runs in that irq_work's interrupt.
 */
static void test_entry_via_irq_work(void **state)
{
	enter(*state);
	assert_int_equal(K.iw_queued, 1);
	assert_int_equal(K.iw_runs, 1);
	assert_int_equal(K.queued, 1);
	/* on the CPU the irq_work ran on (lsl works in user space too, as the vDSO's) */
	assert_int_equal(K.cpu, K.abi->irq_work_cpu);
	assert_true(K.cpu >= 0 && K.cpu < 4096);
	assert_int_equal(K.abi->state, STAGE1_ENTERED);
	assert_int_equal(*iw_flags() & 3, 0);
	/* a second entry queues nothing */
	enter(*state);
	assert_int_equal(K.iw_queued, 1);
}

/* The kernel still holds the irq_work (BUSY): no final state until it lets go. */
static void test_worker_waits_for_irq_work(void **state)
{
	K.abi->request = STAGE1_REQ_STOP;
	K.busy_until_ms = 700;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_DONE);
	assert_true(K.slept_ms >= 700);
	assert_final_by_kernel(*(struct run **)state);
}

/*
 * The entry's code, in the kernel, returns through `sti; ret`: interrupts
 * stay off to the original RIP, so no task is preempted inside stage1.
 */
static void test_entry_returns_under_sti_shadow(void **state)
{
	struct run *r = *state;
	const uint8_t *code = (const uint8_t *)(uintptr_t)r->img.entry_gva;
	bool cli = false, sti_ret = false;

	/* the entry is well under 256 bytes; its first bytes: endbr64, lea, pushfq */
	for (size_t i = 0; i + 1 < 256; i++) {
		if (code[i] == 0xfa && i < 24)
			cli = true;
		if (code[i] == 0xfb && code[i + 1] == 0xc3)
			sti_ret = true;
	}
	assert_true(cli);
	assert_true(sti_ret);
}

static void test_worker_stage2_stuck(void **state)
{
	K.go_at_ms = 50;
	K.stop_when_ready = true;
	K.abi->stop_timeout_ms = 400;
	enter(*state);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_WAIT_GONE);
	assert_int_equal(K.killed, 1);
	assert_true(K.states_seen & (1u << STAGE1_STOPPING));
	assert_true(K.pdevs[0].unregistered && K.pdevs[1].unregistered);
}

/* Another kernel's layout (fields reordered, a field before start): stage1 follows it. */
static void test_other_layout(void **state)
{
	struct run *r = *state;
	struct stage1_abi *a = K.abi;
	const uint8_t *w = a->work;

	a->layout = (struct stage1_layout){ .work_size = 32,
					    .work_data = 8,
					    .work_entry = 16,
					    .work_func = 0,
					    .res_size = 80,
					    .res_start = 16,
					    .res_end = 24,
					    .res_flags = 48 };
	memset(a->work, 0xaa, sizeof(a->work));
	K.go_at_ms = 50;
	K.stop_when_ready = true;
	K.gone_on_kill = true;
	enter(r);
	assert_int_equal(a->state, STAGE1_ENTERED);
	assert_int_equal(get64(w, 8), 0x7fffffffULL << 21);
	assert_int_equal(get64(w, 16), (uint64_t)(uintptr_t)(w + 16));
	assert_int_equal(get64(w, 24), (uint64_t)(uintptr_t)(w + 16));
	assert_memory_equal((void *)(uintptr_t)get64(w, 0), "\xf3\x0f\x1e\xfa", 4);
	assert_int_equal(w[32], 0xaa); /* nothing past the struct */
	run_worker();
	assert_int_equal(a->state, STAGE1_DONE);
	for (unsigned i = 0; i < 2; i++) {
		const struct fake_pdev *p = &K.pdevs[i];

		assert_int_equal(get64(p->res[0], 16), a->devices[i].base);
		assert_int_equal(get64(p->res[0], 24), a->devices[i].base + a->devices[i].size - 1);
		assert_int_equal(get64(p->res[0], 48), 0x200);
		assert_int_equal(get64(p->res[1], 16), a->devices[i].irq);
		assert_int_equal(get64(p->res[1], 48), 0x400);
		for (uint32_t off = 0; off < 80; off += 8)
			if (off != 16 && off != 24 && off != 48)
				assert_int_equal(get64(p->res[0], off) | get64(p->res[1], off), 0);
	}
}

/* A work_struct layout stage1 cannot write: refused at entry, nothing queued. */
static void test_bad_work_layout(void **state)
{
	static const struct stage1_layout bad[] = {
		{ .work_size = STAGE1_WORK_SIZE + 8, .work_entry = 8, .work_func = 24 },
		{ .work_size = 32, .work_entry = 24, .work_func = 8 }, /* entry runs past */
		{ .work_size = 32, .work_data = 4, .work_entry = 8, .work_func = 24 },
		/* CONFIG_LOCKDEP: a lockdep_map only the kernel's INIT_WORK sets up */
		{ .work_size = 72, .work_data = 16, .work_entry = 40, .work_func = 0 },
	};
	struct run *r = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		K.abi->entered = 0;
		K.abi->state = STAGE1_NONE;
		K.abi->layout = bad[i];
		K.abi->layout.res_size = 64;
		enter(r);
		assert_int_equal(K.queued, 0);
		assert_int_equal(K.abi->state, STAGE1_ERROR);
		assert_int_equal(K.abi->failed_step, STAGE1_STEP_CONFIG);
		assert_int_equal(K.abi->error, -EINVAL);
	}
}

/* A resource layout stage1 cannot write: a config error, no device. */
static void test_bad_res_layout(void **state)
{
	struct run *r = *state;

	K.abi->layout.res_flags = 60; /* past the end of 64 bytes */
	K.go_at_ms = 50;
	enter(r);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_CONFIG);
	assert_int_equal(K.npdevs, 0);
}

static void test_worker_bad_config(void **state)
{
	struct run *r = *state;

	/* An argv string that runs off the end of the string area. */
	mprotect(r->mem + r->img.extra_offset[1], 4096, PROT_READ | PROT_WRITE);
	memset(r->mem + r->img.extra_offset[1], 'x', 4096);
	K.abi->argv[1] = 4000;
	K.go_at_ms = 50;
	enter(r);
	run_worker();
	assert_int_equal(K.abi->state, STAGE1_ERROR);
	assert_int_equal(K.abi->failed_step, STAGE1_STEP_CONFIG);
	assert_int_equal(K.abi->error, -EINVAL);
	assert_int_equal(K.npdevs + K.opened + K.nmodules, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_runs_and_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_skips_present_modules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_go_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_stop_before_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_device_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_exec_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_exec_fails_rm_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_via_irq_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_waits_for_irq_work, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_returns_under_sti_shadow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_worker_stage2_stuck, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_work_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_res_layout, setup, teardown),
	};

	if (getenv("VMSH_TEST_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_TEST_VERBOSE"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
