// SPDX-License-Identifier: GPL-2.0
/*
 * stage1: vmsh's code inside the guest kernel. Freestanding: no libc, no
 * SSE, a small stack, and only the kernel symbols listed in imports.h,
 * reached through the GOT the loader fills (see vmsh/src/loader.c).
 *
 * stage1_enter() runs in whatever context the redirected vCPU was in, with
 * interrupts off (entry.S), maybe the idle task where RCU is not watching:
 * it only initialises an irq_work and the work item, and queues the
 * irq_work (NMI-safe: atomics and a self-IPI). stage1_irq_work() then runs
 * in that interrupt, a real one, entered the kernel's way (RCU watching),
 * and queues the work item.
 * stage1_worker() then runs in a kworker (process context, may sleep):
 * wait for GO, request modules, register the virtio-mmio platform devices,
 * write stage2 to a file and start it, report READY, and on STOP undo all
 * of it. Every step's failure lands in stage1_abi (failed_step, error)
 * and the worker unwinds what it did. The final state (DONE or ERROR) is
 * stored by the kernel's memcpy, tail-called from stage1_worker in entry.S,
 * so that once vmsh sees it no task can be inside stage1 (DESIGN.md).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage1_abi.h"

#define barrier() __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#define KERN_ERR "\0013"
#define KERN_INFO "\0016"

/* Linux's values on x86-64 (uapi, unchanged forever). */
#define EIO 5
#define ESRCH 3
#define ENOMEM 12
#define EBUSY 16
#define EINVAL 22
#define ETXTBSY 26
#define ETIMEDOUT 110
#define O_WRONLY 01
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define O_RDONLY 0
#define SIGTERM 15
#define UMH_WAIT_EXEC 1
#define UMH_WAIT_PROC 2
#define IORESOURCE_MEM 0x00000200
#define IORESOURCE_IRQ 0x00000400
#define MAX_ERRNO 4095

/*
 * stage1 polls what vmsh writes into its memory (no event reaches it): every
 * wait starts with 1 ms sleeps (a jiffy or more) and doubles them up to
 * POLL_MS, so that vmsh's GO and stage2's exit are seen within a few ms,
 * while the wait for STOP that lasts the whole session costs 20 wake-ups
 * a second.
 */
#define POLL_MS 50
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 600000
#define EXEC_TRIES 50 /* -ETXTBSY until the deferred fput of our writer */
#define WRITE_CHUNK (1u << 20)

/*
 * The kernel's structs that stage1 fills itself, struct work_struct and
 * struct resource, have the guest kernel's layout, which vmsh found (its BTF,
 * or vmsh's tables) and put in stage1_abi.layout: stage1 zeroes each struct
 * and stores its fields at those offsets, after checking that each is
 * 8-aligned and inside its buffer. No layout is compiled in.
 */
struct work_struct;
struct resource;

struct workqueue_struct;
struct platform_device;
struct file;
struct pid;

/* The imports (imports.h): prototypes as in 5.10 .. 7.x (_printk: printk before 5.15). */
extern int _printk(const char *fmt, ...);
extern bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work);
extern struct workqueue_struct *system_long_wq;
extern void msleep(unsigned int msecs);
/* Weak: a kernel without CONFIG_MODULES has the drivers built in or not at all. */
extern int __request_module(bool wait, const char *fmt, ...) __attribute__((weak));
/* A GSI's Linux irq number: ISA IRQs are not identity-mapped without a PIC (microvm). */
extern int acpi_register_gsi(void *dev, uint32_t gsi, int trigger, int polarity)
    __attribute__((weak));
extern void acpi_unregister_gsi(uint32_t gsi) __attribute__((weak));
/*
 * Entering from a halted vCPU means running in the idle task inside RCU's
 * extended quiescent state (the idle loop's ct_idle_enter/rcu_idle_enter
 * around hlt), where queue_work_on's rcu_read_lock is not allowed: a real
 * interrupt makes RCU watch first (irqentry_enter), and the functions that
 * would let stage1 do that itself (ct_irq_enter_irqson, rcu_irq_enter_irqson)
 * are exported by no lab kernel. irq_work_queue may be called from any
 * context, NMI included, and gets stage1 into a real interrupt.
 */
struct irq_work;
extern bool irq_work_queue(struct irq_work *work);
#define ACPI_EDGE_SENSITIVE 1
#define ACPI_ACTIVE_HIGH 0
extern struct platform_device *platform_device_alloc(const char *name, int id);
extern int platform_device_add_resources(struct platform_device *pdev, const struct resource *res,
					 unsigned int num);
extern int platform_device_add(struct platform_device *pdev);
extern void platform_device_put(struct platform_device *pdev);
extern void platform_device_unregister(struct platform_device *pdev);
extern struct file *filp_open(const char *filename, int flags, unsigned short mode);
extern int filp_close(struct file *filp, void *id);
extern long kernel_write(struct file *file, const void *buf, size_t count, long long *pos);
extern long kernel_read(struct file *file, void *buf, size_t count, long long *pos);
extern int call_usermodehelper(const char *path, char **argv, char **envp, int wait);
extern struct pid *find_get_pid(int nr);
extern int kill_pid(struct pid *pid, int sig, int priv);
extern void put_pid(struct pid *pid);
/* NMI-safe: stage1's entry may run where the timekeeper's own writer was stopped. */
extern uint64_t ktime_get_mono_fast_ns(void) __attribute__((weak));

void stage1_enter(void);
void stage1_irq_work(struct irq_work *iw);
void stage1_worker(struct work_struct *work); /* entry.S */
uint32_t stage1_work(void);
uint8_t stage1_final; /* the final state's byte, for stage1_worker's memcpy */

struct stage1_abi stage1_abi = {
	.magic = STAGE1_ABI_MAGIC,
	.version = STAGE1_ABI_VERSION,
	.size = sizeof(struct stage1_abi),
	.go_timeout_ms = DEFAULT_TIMEOUT_MS,
	.stop_timeout_ms = DEFAULT_TIMEOUT_MS,
};

/* The worker is the only thread that uses these (not the stack: keep it small). */
static char *argv_ptrs[STAGE1_MAX_ARGV + 1];
static char *envp_ptrs[STAGE1_MAX_ENVP + 1];
static uint64_t res[2 * STAGE1_RES_SIZE / 8]; /* two struct resource */
static bool fatal;

/*
 * struct irq_work: the same layout from 5.10 to 7.x (test_loader_kernels.c
 * checks it against every lab kernel's BTF): flags (node.a_flags) at 8,
 * func at 16; 32 bytes with 6.x's irqwait. HARD_IRQ: on PREEMPT_RT, run it
 * in the interrupt, not in the irq_work kthread (which would also touch
 * irqwait after our function returned); older kernels ignore the bit.
 */
#define IRQ_WORK_OFF_FLAGS 8
#define IRQ_WORK_OFF_FUNC 16
#define IRQ_WORK_SIZE 32
#define IRQ_WORK_PENDING 0x1u
#define IRQ_WORK_BUSY 0x2u
#define IRQ_WORK_HARD_IRQ 0x8u
static uint64_t irq_work[IRQ_WORK_SIZE / 8];

static bool is_err(const void *p)
{
	return (unsigned long)p >= (unsigned long)-MAX_ERRNO;
}

static void set_state(uint32_t state)
{
	if (state < STAGE1_STATES && ktime_get_mono_fast_ns)
		WRITE_ONCE(stage1_abi.state_ns[state], ktime_get_mono_fast_ns());
	barrier();
	WRITE_ONCE(stage1_abi.state, state);
	barrier();
}

/* The first fatal error wins; a non-fatal one is kept only until then. */
static void record(uint32_t step, int err, bool is_fatal)
{
	if (fatal || (!is_fatal && READ_ONCE(stage1_abi.failed_step) != STAGE1_STEP_NONE))
		return;
	WRITE_ONCE(stage1_abi.error, err);
	WRITE_ONCE(stage1_abi.failed_step, step);
	if (is_fatal)
		fatal = true;
	_printk(KERN_ERR "vmsh: stage1 step %u failed: %d\n", step, err);
}

/*
 * A work_struct with more than data, entry and func (32 bytes) has a
 * lockdep_map (CONFIG_LOCKDEP), which only the kernel's INIT_WORK can set
 * up (a zeroed one makes lockdep complain and turn itself off): refuse.
 */
static bool work_layout_ok(const struct stage1_layout *l)
{
	return l->work_size == 32 && stage1_layout__field_ok(l->work_data, 8, l->work_size) &&
	       stage1_layout__field_ok(l->work_entry, 16, l->work_size) &&
	       stage1_layout__field_ok(l->work_func, 8, l->work_size);
}

static bool res_layout_ok(const struct stage1_layout *l)
{
	return l->res_size <= STAGE1_RES_SIZE && !(l->res_size & 7) &&
	       stage1_layout__field_ok(l->res_start, 8, l->res_size) &&
	       stage1_layout__field_ok(l->res_end, 8, l->res_size) &&
	       stage1_layout__field_ok(l->res_flags, 8, l->res_size);
}

static void zero(uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = 0;
}

static void put64(uint8_t *p, uint32_t off, uint64_t v)
{
	*(uint64_t *)(p + off) = v;
}

/* Called from entry.S on the interrupted stack, interrupts as they were (on). */
void stage1_enter(void)
{
	const struct stage1_layout *l = &stage1_abi.layout;
	uint8_t *w = stage1_abi.work;

	if (__atomic_exchange_n(&stage1_abi.entered, 1, __ATOMIC_SEQ_CST))
		return;
	if (!work_layout_ok(l)) {
		WRITE_ONCE(stage1_abi.error, -EINVAL);
		WRITE_ONCE(stage1_abi.failed_step, STAGE1_STEP_CONFIG);
		set_state(STAGE1_ERROR);
		return;
	}
	/* INIT_WORK(), with the guest kernel's layout and WORK_DATA_INIT() from vmsh. */
	zero(w, l->work_size);
	put64(w, l->work_data, stage1_abi.work_data_init);
	put64(w, l->work_entry, (uint64_t)(w + l->work_entry));
	put64(w, l->work_entry + 8, (uint64_t)(w + l->work_entry));
	put64(w, l->work_func, (uint64_t)stage1_worker);
	zero((uint8_t *)irq_work, sizeof(irq_work));
	*(uint32_t *)((uint8_t *)irq_work + IRQ_WORK_OFF_FLAGS) = IRQ_WORK_HARD_IRQ;
	put64((uint8_t *)irq_work, IRQ_WORK_OFF_FUNC, (uint64_t)stage1_irq_work);
	set_state(STAGE1_ENTERED);
	/* a fresh irq_work is never pending: false cannot happen */
	if (!irq_work_queue((struct irq_work *)irq_work)) {
		WRITE_ONCE(stage1_abi.error, -EBUSY);
		WRITE_ONCE(stage1_abi.failed_step, STAGE1_STEP_QUEUE);
		set_state(STAGE1_ERROR);
	}
}

/*
 * This CPU's number, as the vDSO's getcpu reads it: Linux (x86-64, 4.19+)
 * puts (node << 12) | cpu in the limit of the GDT's CPUNODE segment
 * (selector 15 * 8 + 3), which lsl reads at any privilege level. -1 if the
 * selector is not valid (ZF clear).
 */
static int this_cpu(void)
{
	uint32_t limit = 0;
	uint8_t ok;

	__asm__ __volatile__("lsl %2, %0\n\tsetz %1"
			     : "=r"(limit), "=q"(ok)
			     : "r"((uint32_t)(15 * 8 + 3))
			     : "cc");
	return ok ? (int)(limit & 0xfff) : -1;
}

/*
 * In hard-IRQ context (the irq_work's interrupt, on the entering CPU, just
 * after the entry returned): no scheduling point until it returns. The work
 * item goes to this same CPU's kworker (system_long_wq is per-CPU, its
 * workers are bound): that task can only run once this interrupt, with the
 * kernel's last accesses to the irq_work after we return (irq_work_single's
 * cmpxchg of its flags and, on PREEMPT_RT, one more read), is over. The
 * worker also waits for BUSY to clear, for the case where this CPU's number
 * could not be read and the work went to work_cpu.
 */
void stage1_irq_work(struct irq_work *iw)
{
	int cpu = this_cpu();

	(void)iw;
	if (cpu < 0)
		cpu = (int)stage1_abi.work_cpu;
	WRITE_ONCE(stage1_abi.irq_work_cpu, cpu);
	if (!queue_work_on(cpu, system_long_wq, (struct work_struct *)stage1_abi.work)) {
		WRITE_ONCE(stage1_abi.error, -EBUSY);
		WRITE_ONCE(stage1_abi.failed_step, STAGE1_STEP_QUEUE);
		set_state(STAGE1_ERROR);
	}
}

/* One poll's sleep (see POLL_MS): *waited grows by it, *step doubles. */
static void poll_sleep(uint32_t *waited, uint32_t *step)
{
	WRITE_ONCE(stage1_abi.heartbeat, stage1_abi.heartbeat + 1);
	msleep(*step);
	*waited += *step;
	*step = *step * 2 > POLL_MS ? POLL_MS : *step * 2;
}

/* The kernel is done with the irq_work (see stage1_irq_work). */
static void wait_irq_work_idle(void)
{
	const uint32_t *flags = (const uint32_t *)((uint8_t *)irq_work + IRQ_WORK_OFF_FLAGS);

	for (uint32_t waited = 0, step = 1; READ_ONCE(*flags) & (IRQ_WORK_PENDING | IRQ_WORK_BUSY);)
		poll_sleep(&waited, &step);
}

static bool str_ok(const char *s, size_t cap)
{
	for (size_t i = 0; i < cap; i++)
		if (!s[i])
			return i > 0;
	return false;
}

/* A string in the string area: its offset is in range and it ends there. */
static char *area_str(uint32_t off)
{
	const char *area = (const char *)stage1_abi.strings_gva;

	if (off >= stage1_abi.strings_size || !str_ok(area + off, stage1_abi.strings_size - off))
		return NULL;
	return (char *)area + off;
}

static uint32_t timeout_ms(uint32_t ms)
{
	if (!ms)
		return DEFAULT_TIMEOUT_MS;
	return ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : ms;
}

/* vmsh wrote it before redirecting the vCPU; check it all before using any. */
static int check_config(void)
{
	const struct stage1_abi *a = &stage1_abi;

	if (a->ndevices > STAGE1_MAX_DEVICES || a->nmodules > STAGE1_MAX_MODULES || a->argc < 1 ||
	    a->argc > STAGE1_MAX_ARGV || a->envc > STAGE1_MAX_ENVP || !a->stage2_gva ||
	    !a->stage2_size || a->stage2_size > STAGE1_MAX_STAGE2 ||
	    a->stage2_gva + a->stage2_size < a->stage2_gva || !a->strings_gva ||
	    a->strings_gva + a->strings_size < a->strings_gva || !res_layout_ok(&a->layout))
		return -EINVAL;
	if (!str_ok(a->stage2_path, sizeof(a->stage2_path)) || a->stage2_path[0] != '/')
		return -EINVAL;
	for (uint32_t i = 0; i < a->nmodules; i++)
		if (!str_ok(a->modules[i], sizeof(a->modules[i])))
			return -EINVAL;
	for (uint32_t i = 0; i < a->ndevices; i++) {
		const struct stage1_device *d = &a->devices[i];

		if (!d->base || (d->size != 0x200 && d->size != 0x1000) ||
		    d->base + d->size < d->base || d->id < 0)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < a->argc; i++)
		if (!(argv_ptrs[i] = area_str(a->argv[i])))
			return -EINVAL;
	argv_ptrs[a->argc] = NULL;
	for (uint32_t i = 0; i < a->envc; i++)
		if (!(envp_ptrs[i] = area_str(a->envp[i])))
			return -EINVAL;
	envp_ptrs[a->envc] = NULL;
	return 0;
}

/*
 * Poll `request` until it is `want` (true) or STOP (false, *stop set), or
 * until the timeout (false); ms == 0 waits for ever.
 */
static bool wait_request(uint32_t want, uint32_t ms, bool *stop)
{
	for (uint32_t waited = 0, step = 1;; poll_sleep(&waited, &step)) {
		uint32_t r = READ_ONCE(stage1_abi.request);

		if (r == want)
			return true;
		if (r == STAGE1_REQ_STOP) {
			*stop = true;
			return false;
		}
		if (ms && waited >= ms)
			return false;
	}
}

static bool wait_gone(uint32_t ms)
{
	for (uint32_t waited = 0, step = 1;; poll_sleep(&waited, &step)) {
		if (READ_ONCE(stage1_abi.stage2_gone))
			return true;
		if (waited >= ms)
			return false;
	}
}

/*
 * stage2's pid, once vmsh knows it (from stage2's first status message, which
 * may come after a STOP that came early), or 0 if stage2 is gone first or
 * does not say within ms.
 */
static int wait_pid(uint32_t ms)
{
	for (uint32_t waited = 0, step = 1;; poll_sleep(&waited, &step)) {
		int nr = READ_ONCE(stage1_abi.stage2_pid);

		if (nr > 0 || READ_ONCE(stage1_abi.stage2_gone) || waited >= ms)
			return nr > 0 ? nr : 0;
	}
}

/*
 * Whether the guest has module @name already, loaded and live or built in
 * (sysfs has /sys/module/NAME then, a loadable module's with an initstate):
 * modprobe would then be a process started for nothing, ~20-30 ms each in
 * the nested lab, on every attach after the first. A module still coming
 * (or going), or no sysfs at /sys, is left to modprobe as before.
 */
static bool module_present(const char *name)
{
	static const char sys[] = "/sys/module/", state[] = "/initstate";
	char path[sizeof(sys) + STAGE1_MODULE_LEN + sizeof(state)], buf[8];
	long long pos = 0;
	struct file *f;
	size_t n = 0;
	long got;

	for (size_t i = 0; sys[i]; i++)
		path[n++] = sys[i];
	for (size_t i = 0; i < STAGE1_MODULE_LEN && name[i]; i++)
		path[n++] = name[i];
	for (size_t i = 0; i < sizeof(state); i++)
		path[n + i] = state[i];
	f = filp_open(path, O_RDONLY, 0);
	if (!is_err(f)) {
		got = kernel_read(f, buf, sizeof(buf), &pos);
		filp_close(f, NULL);
		return got >= 4 && buf[0] == 'l' && buf[1] == 'i' && buf[2] == 'v' && buf[3] == 'e';
	}
	path[n] = '\0'; /* no initstate: built in, if the directory is there */
	f = filp_open(path, O_RDONLY, 0);
	if (is_err(f))
		return false;
	filp_close(f, NULL);
	return true;
}

static void request_modules(void)
{
	for (uint32_t i = 0; i < stage1_abi.nmodules; i++) {
		int ret = -EINVAL;

		if (module_present(stage1_abi.modules[i]))
			ret = 0;
		else if (__request_module)
			ret = __request_module(true, "%s", stage1_abi.modules[i]);
		/* Not fatal: the driver may be built in. */
		WRITE_ONCE(stage1_abi.module_err[i], ret);
		if (ret)
			_printk(KERN_INFO "vmsh: modprobe %s: %d\n", stage1_abi.modules[i], ret);
	}
}

static bool gsi_mapped[STAGE1_MAX_DEVICES];

static void unregister_devices(void)
{
	for (uint32_t i = STAGE1_MAX_DEVICES; i-- > 0;) {
		struct platform_device *pdev = (struct platform_device *)stage1_abi.pdev[i];

		if (pdev)
			platform_device_unregister(pdev);
		WRITE_ONCE(stage1_abi.pdev[i], 0);
		if (gsi_mapped[i] && acpi_unregister_gsi)
			acpi_unregister_gsi(stage1_abi.devices[i].irq);
		gsi_mapped[i] = false;
	}
}

/*
 * Resource i of the array (stride res_size): zero, so that name (NULL:
 * platform_device_add names it after the device), desc and the tree
 * pointers are empty, then start, end and flags. check_config checked the layout.
 */
static void set_resource(uint32_t i, uint64_t start, uint64_t end, uint64_t flags)
{
	const struct stage1_layout *l = &stage1_abi.layout;
	uint8_t *r = (uint8_t *)res + i * l->res_size;

	zero(r, l->res_size);
	put64(r, l->res_start, start);
	put64(r, l->res_end, end);
	put64(r, l->res_flags, flags);
}

static int register_device(uint32_t i)
{
	const struct stage1_device *d = &stage1_abi.devices[i];
	struct platform_device *pdev;
	int ret, irq = (int)d->irq;

	/* vmsh chose a GSI (an IOAPIC pin); the resource wants the guest's irq number */
	if (acpi_register_gsi) {
		irq = acpi_register_gsi(NULL, d->irq, ACPI_EDGE_SENSITIVE, ACPI_ACTIVE_HIGH);
		if (irq < 0) {
			record(STAGE1_STEP_DEV_IRQ, irq, true);
			return irq;
		}
		gsi_mapped[i] = true;
	}
	set_resource(0, d->base, d->base + d->size - 1, IORESOURCE_MEM);
	set_resource(1, (uint64_t)irq, (uint64_t)irq, IORESOURCE_IRQ);

	pdev = platform_device_alloc("virtio-mmio", d->id);
	if (!pdev) {
		record(STAGE1_STEP_DEV_ALLOC, -ENOMEM, true);
		return -ENOMEM;
	}
	/* It copies the resources. */
	ret = platform_device_add_resources(pdev, (const struct resource *)res, 2);
	if (ret) {
		record(STAGE1_STEP_DEV_RES, ret, true);
		goto err_put;
	}
	ret = platform_device_add(pdev);
	if (ret) {
		record(STAGE1_STEP_DEV_ADD, ret, true);
		goto err_put;
	}
	WRITE_ONCE(stage1_abi.pdev[i], (uint64_t)pdev);
	return 0;
err_put:
	platform_device_put(pdev);
	return ret;
}

static bool stage2_created;

static int write_stage2(void)
{
	const char *p = (const char *)stage1_abi.stage2_gva;
	uint64_t left = stage1_abi.stage2_size;
	long long pos = 0;
	struct file *f;
	int ret = 0;

	f = filp_open(stage1_abi.stage2_path, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, 0700);
	if (is_err(f)) {
		record(STAGE1_STEP_OPEN, (int)(long)f, true);
		return (int)(long)f;
	}
	stage2_created = true; /* O_EXCL: the file is ours */
	/* Each round writes at least a byte, or stops. */
	while (left) {
		long n = kernel_write(f, p, left > WRITE_CHUNK ? WRITE_CHUNK : left, &pos);

		if (n <= 0 || (uint64_t)n > left) {
			ret = n < 0 ? (int)n : -EIO;
			record(STAGE1_STEP_WRITE, ret, true);
			break;
		}
		p += n;
		left -= (uint64_t)n;
	}
	filp_close(f, NULL);
	return ret;
}

static int start_stage2(void)
{
	int ret = -ETXTBSY;

	/*
	 * Our writer's final fput is deferred (task work does not run in a
	 * kworker), and exec refuses a file still open for writing.
	 */
	for (int i = 0; i < EXEC_TRIES && ret == -ETXTBSY; i++) {
		if (i)
			msleep(20);
		ret = call_usermodehelper(stage1_abi.stage2_path, argv_ptrs, envp_ptrs,
					  UMH_WAIT_EXEC);
	}
	if (ret)
		record(STAGE1_STEP_EXEC, ret, true);
	return ret;
}

/*
 * stage2's file, when it was created but stage2 never ran (its write or exec
 * failed; a running stage2 unlinks it itself). No exported kernel function
 * unlinks a path in every release (vfs_unlink's arguments changed in 5.12
 * and 6.3), so rm does it. Not fatal; vmsh names a file that is left.
 */
static void remove_stage2(void)
{
	static char rm_opt[] = "-f";
	static const char *const rms[] = { "/bin/rm", "/usr/bin/rm" };
	char *argv[] = { NULL, rm_opt, stage1_abi.stage2_path, NULL };
	int ret = -EINVAL;

	if (!stage2_created)
		return;
	for (uint32_t i = 0; i < sizeof(rms) / sizeof(rms[0]) && ret; i++) {
		argv[0] = (char *)rms[i];
		ret = call_usermodehelper(rms[i], argv, envp_ptrs, UMH_WAIT_PROC);
	}
	WRITE_ONCE(stage1_abi.stage2_left, ret ? ret : 0);
	if (ret)
		_printk(KERN_ERR "vmsh: cannot remove %s: %d\n", stage1_abi.stage2_path, ret);
}

static void stop_stage2(void)
{
	int nr = wait_pid(timeout_ms(stage1_abi.stop_timeout_ms));

	/* a stage2 that is gone already (its command exited) is no error */
	if (nr > 0) {
		struct pid *pid = find_get_pid(nr);

		if (pid) {
			int ret = kill_pid(pid, SIGTERM, 1);

			put_pid(pid);
			if (ret && ret != -ESRCH)
				record(STAGE1_STEP_KILL, ret, false);
		}
	}
	/* The devices go away under stage2's feet only if it does not exit. */
	if (!wait_gone(timeout_ms(stage1_abi.stop_timeout_ms)))
		record(STAGE1_STEP_WAIT_GONE, -ETIMEDOUT, true);
}

/* The work item's body; stage1_worker (entry.S) stores what it returns. */
uint32_t stage1_work(void)
{
	bool stop = false;
	int ret;

	set_state(STAGE1_WORK_STARTED);
	ret = check_config();
	if (ret) {
		record(STAGE1_STEP_CONFIG, ret, true);
		goto out;
	}
	if (!wait_request(STAGE1_REQ_GO, timeout_ms(stage1_abi.go_timeout_ms), &stop)) {
		if (!stop)
			record(STAGE1_STEP_WAIT_GO, -ETIMEDOUT, true);
		goto out;
	}
	request_modules();
	set_state(STAGE1_MODULES);
	for (uint32_t i = 0; i < stage1_abi.ndevices; i++)
		if (register_device(i))
			goto out_devices;
	set_state(STAGE1_DEVICES);
	if (write_stage2())
		goto out_file;
	set_state(STAGE1_STAGE2_WRITTEN);
	if (start_stage2())
		goto out_file;
	set_state(STAGE1_STAGE2_STARTED);
	_printk(KERN_INFO "vmsh: stage1 ready\n");
	set_state(STAGE1_READY);

	wait_request(STAGE1_REQ_STOP, 0, &stop);
	set_state(STAGE1_STOPPING);
	stop_stage2();
	goto out_devices;
out_file:
	remove_stage2();
out_devices:
	unregister_devices();
out:
	_printk(KERN_INFO "vmsh: stage1 done\n");
	wait_irq_work_idle();
	/* Not stored here: stage1_worker has the kernel store it (see entry.S). */
	return fatal ? STAGE1_ERROR : STAGE1_DONE;
}
