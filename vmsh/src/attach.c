// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh attach PID [-f IMAGE] [--pts PATH] [-- CMD ARGS...]
 *
 * Set-up, in phases that each have an exact inverse in attach__teardown():
 *  1. hold the hypervisor: its fds, threads, memslots, vCPU registers;
 *     let it run again while the guest kernel and its symbols are found
 *  2. hold it again: new guest RAM (a memslot), stage1 linked against the
 *     guest's exports and mapped into its kernel page tables, stage2 and
 *     the strings beside it; an interrupt line, an irqfd and ioeventfds
 *  3. point a vCPU that could take an interrupt at stage1's entry; let the
 *     hypervisor run, trapping its vCPUs' MMIO exits (attach_loop.c)
 *  4. tell stage1 to go: it registers the devices and starts stage2, which
 *     runs CMD in a container and reports through the block device
 * A failure or a signal at any phase unwinds what was done, and leaves the
 * hypervisor as it was. vmsh's exit status is CMD's, or 125 if vmsh failed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "commands.h"
#include "image.h"
#include "iopool.h"
#include "kcache.h"
#include "util.h"

#define PT_POOL_PAGES 16	    /* page tables for the mapping */
#define REG_PAGES ATTACH_NDEV	    /* the devices' registers in steady state */
#define STRINGS_SIZE 4096	    /* stage2's argv and envp */
#define ENTER_TRIES 200		    /* times a vCPU is looked for, 10 ms apart */
#define LEAVE_TRIES 50		    /* times vmsh waits for no vCPU in stage1 */
#define VMSH_PLATFORM_ID 0x766d0000 /* "vm": virtio-mmio.<id> of our devices */

extern const unsigned char stage2_blob[], stage2_blob_end[];

static const char *const guest_modules[] = { "virtio_mmio", "virtio_blk", "virtio_console" };

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmsh attach PID [-f IMAGE] [--pts PATH] [--caps keep|none]\n"
	    "                   [--always-trap] [--no-kernel-cache] [--nice N]\n"
	    "                   [--io-threads N] [-v]\n"
	    "                   [-- CMD [ARG...]]\n"
	    "Runs CMD (default: an interactive /bin/sh) from a filesystem image inside\n"
	    "the running KVM VM of hypervisor PID, in a container that sees the VM's\n"
	    "processes and network, with the VM's root at /var/lib/vmsh. Needs no\n"
	    "agent in the guest and no support in the hypervisor; leaves nothing\n"
	    "behind when CMD exits or vmsh gets SIGINT/SIGTERM/SIGHUP.\n"
	    "  -f, --image IMAGE  an ext2/3/4 image (default: busybox, built and cached\n"
	    "                     by `vmsh image default`)\n"
	    "      --pts PATH     use this terminal (e.g. /dev/pts/3) for CMD's stdio\n"
	    "      --caps keep|none  keep PID 1's capabilities (default), or run CMD as\n"
	    "                     root without any\n"
	    "      --always-trap  trace the hypervisor's vCPU threads for the whole session\n"
	    "                     (default: only until the guest has probed the devices;\n"
	    "                     then the VM runs untraced, its devices exit-less)\n"
	    "      --no-kernel-cache  analyse the guest kernel afresh and keep nothing (default:\n"
	    "                     an attach to a kernel vmsh has seen, at the same place with\n"
	    "                     the same banner and export table, reuses what it found)\n"
	    "      --nice N       vmsh's niceness while attached (default: -5 if started at 0\n"
	    "                     and allowed to, so that it serves a request the guest\n"
	    "                     waits for before the vCPU runs on where they share a CPU;\n"
	    "                     else as started)\n"
	    "      --io-threads N  threads that serve the disk's requests beside vmsh's own,\n"
	    "                     so that several are in flight (default %d, at most %d;\n"
	    "                     0: one request at a time)\n"
	    "  -v                 progress on stderr (-vv: debug)\n"
	    "Exit status: CMD's; 128+N after signal N; 125 if vmsh failed (the VM keeps\n"
	    "running either way).\n",
	    ATTACH_IO_THREADS, IOPOOL_MAX_THREADS);
}

void attach__phase(struct attach *a, const char *name)
{
	for (unsigned i = 0; i < a->nphases; i++)
		if (a->phases[i].name == name)
			return;
	if (a->nphases < ATTACH_MAX_PHASES)
		a->phases[a->nphases++] = (struct attach_phase){ name, util__now_ns() };
}

/* -v: "phases: set-up 3 ms, memslots and vCPUs 210 ms, ..." each from the previous mark */
static void print_phases(const struct attach *a)
{
	char line[1024];
	size_t n = 0;
	uint64_t prev = a->t_start_ns;

	for (unsigned i = 0; i < a->nphases && n < sizeof(line); i++) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %.0f ms", i ? ", " : "",
				      a->phases[i].name, (double)(a->phases[i].ns - prev) / 1e6);
		prev = a->phases[i].ns;
	}
	if (a->nphases)
		pr_info("phases: %s", line);
}

static int parse_args(struct attach_opts *o, int argc, char **argv)
{
	static const struct option opts[] = { { "image", required_argument, NULL, 'f' },
					      { "pts", required_argument, NULL, 'p' },
					      { "caps", required_argument, NULL, 'c' },
					      { "always-trap", no_argument, NULL, 't' },
					      { "no-kernel-cache", no_argument, NULL, 'K' },
					      { "nice", required_argument, NULL, 'n' },
					      { "io-threads", required_argument, NULL, 'T' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	static char *default_cmd[] = { "/bin/sh", NULL };
	char *end;
	long pid;
	int c;

	o->io_threads = ATTACH_IO_THREADS;
	while ((c = getopt_long(argc, argv, "f:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->image = optarg;
			break;
		case 'p':
			o->pts = optarg;
			break;
		case 'c':
			if (strcmp(optarg, "keep") && strcmp(optarg, "none")) {
				pr_err("attach: --caps takes keep or none");
				return -EINVAL;
			}
			o->caps_none = !strcmp(optarg, "none");
			break;
		case 't':
			o->always_trap = true;
			break;
		case 'K':
			o->no_kernel_cache = true;
			break;
		case 'n': {
			long n = strtol(optarg, &end, 10);

			if (!*optarg || *end || n < -20 || n > 19) {
				pr_err("attach: --nice takes a niceness from -20 to 19, not '%s'",
				       optarg);
				return -EINVAL;
			}
			o->nice = (int)n;
			o->nice_set = true;
			break;
		}
		case 'T': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (!isdigit((unsigned char)*optarg) || *end || n > IOPOOL_MAX_THREADS) {
				pr_err("attach: --io-threads takes a number from 0 to %d, not '%s'",
				       IOPOOL_MAX_THREADS, optarg);
				return -EINVAL;
			}
			o->io_threads = (unsigned)n;
			break;
		}
		case 'v':
			vmsh_verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0 || pid > INT32_MAX) {
		pr_err("attach: '%s' is not a process id", argv[optind]);
		return -EINVAL;
	}
	o->pid = (pid_t)pid;
	optind++;
	/* getopt moved the options before PID and stopped at "--" */
	o->cmd = optind < argc ? &argv[optind] : default_cmd;
	return 0;
}

/*
 * vmsh's niceness while attached. The guest waits for each disk request,
 * and where vmsh and the vCPU thread share a CPU, the host's scheduler
 * (CFS) lets vmsh, woken by the guest's notification, run before the vCPU
 * only if vmsh has had less than its share of the CPU. A disk at full
 * speed keeps both at about half, so the vCPU ran on: the guest went idle
 * (HLT: an exit, a timer reprogrammed on the way in and out) before vmsh
 * served the request, one HLT per request in the nested lab, where
 * sequential reads reached 0.89 of the hypervisor's disk. QEMU spreads its
 * I/O over threads that each use less CPU than the vCPU, and they run at
 * once. At -5, vmsh leads for the bursts in which it serves a request and
 * sleeps otherwise: no HLT, 0.98. A niceness the user chose (started
 * under nice(1), or --nice) is kept; without CAP_SYS_NICE it stays as is.
 */
#define ATTACH_NICE -5

static void set_nice(const struct attach_opts *o)
{
	int now, want;

	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);
	if (now == -1 && errno)
		return;
	want = o->nice_set ? o->nice : now ? now : ATTACH_NICE;
	if (want == now)
		return;
	if (setpriority(PRIO_PROCESS, 0, want) < 0) {
		if (o->nice_set)
			pr_err("attach: cannot run at niceness %d (needs CAP_SYS_NICE): %s; "
			       "going on at %d",
			       want, strerror(errno), now);
		else
			pr_debug("attach: staying at niceness %d: %s", now, strerror(errno));
		return;
	}
	pr_debug("attach: niceness %d (was %d)", want, now);
}

/* The image: a regular file holding an ext2/3/4 filesystem, in 512-byte sectors. */
static int open_image(struct attach *a)
{
	unsigned char magic[2];
	struct stat st;

	a->image_fd = open(a->o.image, O_RDWR | O_CLOEXEC);
	if (a->image_fd < 0 && (errno == EROFS || errno == EACCES)) {
		a->image_read_only = true; /* CMD gets it read-only */
		a->image_fd = open(a->o.image, O_RDONLY | O_CLOEXEC);
	}
	if (a->image_fd < 0) {
		pr_err("cannot open the image %s: %s", a->o.image, strerror(errno));
		return -errno;
	}
	if (fstat(a->image_fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 2048) {
		pr_err("the image %s is not a filesystem image file", a->o.image);
		return -EINVAL;
	}
	if (pread(a->image_fd, magic, 2, 1080) != 2 || magic[0] != 0x53 || magic[1] != 0xef) {
		pr_err("the image %s is not an ext2/3/4 filesystem (build one with `vmsh image "
		       "build DIR -o IMAGE`)",
		       a->o.image);
		return -EINVAL;
	}
	if (st.st_size % 512) {
		pr_err("the image %s is %lld bytes, not a whole number of 512-byte sectors",
		       a->o.image, (long long)st.st_size);
		return -EINVAL;
	}
	a->image_size = (uint64_t)st.st_size;
	return 0;
}

bool attach__interrupted(struct attach *a)
{
	struct signalfd_siginfo si;

	while (!a->stop_signal && read(a->sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP)
			a->stop_signal = (int)si.ssi_signo;
	if (a->stop_signal)
		pr_err("attach: interrupted by %s", strsignal(a->stop_signal));
	return a->stop_signal != 0;
}

int attach__read_abi(struct attach *a, size_t off, void *buf, size_t len)
{
	return guest__read_phys(&a->mem, a->abi_gpa + off, buf, len);
}

int attach__write_abi(struct attach *a, size_t off, const void *buf, size_t len)
{
	return guest__write_phys(&a->mem, a->abi_gpa + off, buf, len);
}

int attach__hold(struct attach *a)
{
	size_t nskip = 0;
	int err;

	/* the vCPU threads a paused trap keeps stopped are held already */
	if (a->trapping)
		nskip = kvmrun__tids(&a->trap, a->trap_tids, a->trap.nvcpus);
	err = tracee__attach_except(&a->hv.t, a->o.pid, a->trap_tids, nskip);

	if (!err) {
		a->held = true;
		hv__map_vcpu_threads(&a->hv.t, a->hv.vcpus, a->hv.nvcpus);
	}
	return err;
}

int attach__release(struct attach *a)
{
	int err = tracee__detach(&a->hv.t);

	a->held = false;
	a->held_ns += a->hv.t.held_ns;
	a->holds++;
	return err;
}

static int memslot_cmp(const void *x, const void *y)
{
	const struct memslot *p = x, *q = y;

	return p->gpa < q->gpa ? -1 : p->gpa > q->gpa;
}

/*
 * The layouts stage1 needs, from the guest's BTF or vmsh's tables, before
 * anything is done to the VM: a guest vmsh cannot serve is refused unharmed.
 */
static int attach__layout(struct attach *a)
{
	struct kbtf btf;
	int err;

	err = kbtf__find(&a->mem, &a->mmu, &a->kernel, &btf);
	if (err && err != -ENOENT)
		return err;
	err = kbtf__layout(&btf, a->kernel.banner, &a->layout);
	kbtf__free(&btf);
	if (err)
		return err;
	pr_info("stage1 layout: work_struct from %s, resource from %s, WORK_DATA_INIT 0x%" PRIx64
		" from %s",
		a->layout.work_src, a->layout.res_src, a->layout.work_data_init,
		a->layout.work_data_init_src);
	return 0;
}

/*
 * vmsh's memslot and its writes (process_vm_writev, its mapping of guest
 * RAM) are invisible to KVM's dirty log and to the hypervisor's own: a
 * migrated or snapshotted guest would carry page tables that point at RAM
 * the destination does not have, and stale pages. Migration and savevm log
 * every RAM slot, so the slot of the kernel image tells; a display's
 * framebuffer slot (QEMU's VGA logs its own all the time) does not stop an
 * attach.
 */
static int attach__check_dirty_log(struct attach *a)
{
	const struct memslot *s = hv__dirty_logged(a->hv.slots, a->hv.nslots, a->kernel.pbase);

	if (!s)
		return 0;
	pr_err("attach: the VM is being migrated or snapshotted (KVM logs the dirty pages of "
	       "its RAM, memslot %u): attach after it ends",
	       s->id);
	return -EBUSY;
}

/* Phase 1: what the hypervisor and the guest are; the hypervisor runs again. */
static int discover(struct attach *a)
{
	uint64_t ram = 0;
	struct guest_mmu mmu;
	pid_t hv_pid = a->o.pid;
	struct guest_mem held_mem;
	int err, v = -1;

	err = hv__open(&a->hv, a->o.pid);
	if (err)
		return err;
	a->held = true;
	err = hv__read_memslots(&a->hv);
	/* address space 0 only, sorted, with room for our RAM */
	a->slots = err ? NULL : calloc(a->hv.nslots + 1, sizeof(*a->slots));
	if (!err && !a->slots)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < a->hv.nslots; i++)
		if (!(a->hv.slots[i].id >> 16))
			a->slots[a->nslots++] = a->hv.slots[i];
	if (!err)
		qsort(a->slots, a->nslots, sizeof(*a->slots), memslot_cmp);
	held_mem = (struct guest_mem){ .slots = a->slots,
				       .nslots = a->nslots,
				       .read_hva = guest__read_hva_process,
				       .ctx = &hv_pid };
	if (!err) {
		v = vcpu__kernel_mmu(&a->hv, &mmu);
		if (v < 0 && v != -ENOENT)
			err = v; /* no vCPU in long mode is said after the release */
	}
	/*
	 * In the hold: the CR3 may be a short-lived process's, its tables
	 * freed once it runs on (a PTI user PGD is swapped for the kernel's).
	 */
	if (!err && v >= 0) {
		err = pagemap__kernel_mmu(&held_mem, mmu.cr3, mmu.la57, &a->mmu);
		if (err)
			pr_err("attach: vCPU %d's page tables (CR3 0x%llx) are outside the guest's "
			       "RAM: is the guest a 64-bit Linux that has booted?",
			       a->hv.vcpus[v].index, (unsigned long long)mmu.cr3);
	}
	if (err)
		return err;
	err = attach__release(a);
	if (err)
		return err;
	attach__phase(a, "memslots and vCPUs");
	if (v < 0) {
		pr_err("attach: no vCPU is in long mode: is the guest a 64-bit Linux that has "
		       "booted?");
		return -ENOENT;
	}
	/* guest RAM the hypervisor shares (memfd, shm) is mapped into vmsh too */
	err = hvmem__open(&a->hvmem, a->o.pid, a->slots, a->nslots);
	if (err)
		return err;
	a->mem = (struct guest_mem){ .slots = a->slots,
				     .nslots = a->nslots,
				     .read_hva = hvmem__read,
				     .write_hva = hvmem__write,
				     .readv_hva = hvmem__readv,
				     .writev_hva = hvmem__writev,
				     .ptr_hva = hvmem__ptr,
				     .ctx = &a->hvmem,
				     .calls = &a->mem_calls };
	for (size_t i = 0; i < a->nslots; i++)
		ram += a->slots[i].size;
	pr_info("guest RAM: %" PRIu64 " of %" PRIu64 " MiB shared by the hypervisor, mapped into "
		"vmsh",
		hvmem__mapped_bytes(&a->hvmem, a->slots, a->nslots) >> 20, ram >> 20);
	/* a kernel an earlier attach analysed, still as it was: no scan, no BTF */
	bool cached = !a->o.no_kernel_cache && !guest__kernel_base(&a->mem, &a->mmu, &a->kernel) &&
		      !kcache__load(&a->mem, &a->mmu, &a->kernel, &a->layout);
	if (!cached)
		err = guest__find_kernel(&a->mem, &a->mmu, &a->kernel);
	if (err)
		return err;
	attach__phase(a, "kernel scan");
	pr_info("guest kernel: %s%s", a->kernel.banner,
		cached ? " (from vmsh's cache: the same banner and export table as before)" : "");
	err = attach__check_dirty_log(a);
	if (err)
		return err;
	if (cached)
		return 0;
	err = attach__layout(a);
	if (!err && !a->o.no_kernel_cache) {
		int e = kcache__store(&a->mem, &a->mmu, &a->kernel, &a->layout);
		if (e)
			pr_info("the guest kernel not cached for the next attach: %s",
				strerror(-e));
	}
	return err;
}

static int resolve_symbol(void *ctx, const char *name, uint64_t *addr)
{
	const struct ksym *s = guest__kernel_symbol(ctx, name);

	if (!s)
		return -ENOENT;
	*addr = s->addr;
	return 0;
}

static uint64_t page_align(uint64_t n)
{
	return (n + LOADER_PAGE_SIZE - 1) & ~(LOADER_PAGE_SIZE - 1);
}

#define CPUID_FEW 100 /* entries asked for first: QEMU sets some 50 */
#define CPUID_MAX 256 /* KVM_MAX_CPUID_ENTRIES */

/* vCPU 0's CPUID entries (KVM_GET_CPUID2), malloc'd into *c. */
static int guest_cpuid(struct attach *a, struct kvm_cpuid2 **c)
{
	uint32_t nent = CPUID_FEW;
	long ret;
	int err;

	for (;;) {
		size_t size = sizeof(**c) + nent * sizeof((*c)->entries[0]);

		*c = calloc(1, size);
		if (!*c)
			return -ENOMEM;
		(*c)->nent = nent;
		err = __hv_ioctl(&a->hv, a->hv.vcpus[0].fd, KVM_GET_CPUID2, *c, size, &ret);
		if (!err && ret == -E2BIG && nent < CPUID_MAX) {
			/* more entries than asked for: KVM does not say how many */
			free(*c);
			nent = CPUID_MAX;
			continue;
		}
		if (!err && ret < 0) {
			pr_err("KVM_GET_CPUID2 inside the hypervisor failed: %s",
			       strerror((int)-ret));
			err = (int)ret;
		}
		if (!err && (*c)->nent > nent)
			err = -EINVAL; /* not KVM's answer */
		if (err) {
			free(*c);
			*c = NULL;
		}
		return err;
	}
}

/* The guest's physical address width (guest_limits): leaf 0x80000008's EAX. */
static unsigned guest_phys_bits(uint32_t eax)
{
	unsigned guest = (eax >> 16) & 0xff, max = eax & 0xff;

	/*
	 * GuestPhysBits (EAX[23:16]), when set, is how many bits of a GPA the
	 * hypervisor supports (with 4-level EPT/NPT: 48), which may be fewer
	 * than MAXPHYADDR (EAX[7:0]); RAM above it would be unreachable.
	 */
	if (guest >= 32 && (guest < max || max < 32))
		return guest;
	return max >= 32 ? max : 36; /* 36: the architectural default without the leaf */
}

/* The guest's physical address width and the VM's slot count. */
static int guest_limits(struct attach *a, unsigned *phys_bits, unsigned *nr_slots)
{
	struct kvm_cpuid2 *cpuid;
	long ret;
	int err;

	err = guest_cpuid(a, &cpuid);
	if (err)
		return err;
	*phys_bits = 36;
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == 0x80000008)
			*phys_bits = guest_phys_bits(cpuid->entries[i].eax);
	free(cpuid);
	err = __hv_ioctl_value(&a->hv, a->hv.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS, &ret);
	if (err)
		return err;
	*nr_slots = ret > 0 ? (unsigned)ret : 32;
	return 0;
}

/*
 * The kernel's own page tables, read again in this hold: from a vCPU in
 * kernel mode, checked to lead to the kernel image's tables (a PTI user PGD
 * is replaced by the kernel's), the kernel half of the top table copied for
 * after the hold. vmsh writes only there.
 */
static int attach__kernel_tables(struct attach *a)
{
	struct guest_mmu mmu;
	int v = vcpu__kernel_mmu(&a->hv, &mmu), err;

	if (v == -ENOENT)
		pr_err("attach: no vCPU is in long mode any more: is the guest rebooting?");
	if (v < 0)
		return v;
	if (pagemap__kernel_root(&a->mem, &mmu, &a->kernel))
		return -EINVAL;
	err = guest__copy_kernel_top(&a->mem, &mmu);
	if (err)
		return err;
	if (mmu.cr3 != a->mmu.cr3)
		pr_debug("kernel page tables: CR3 0x%llx (vCPU %d), was 0x%llx",
			 (unsigned long long)mmu.cr3, a->hv.vcpus[v].index,
			 (unsigned long long)a->mmu.cr3);
	a->mmu = mmu;
	return 0;
}

/*
 * Whether stage1's entry is mapped, to where vmsh put it, in the page tables
 * the vCPU runs on (s->sregs.cr3): RIP changes only if so.
 */
static bool entry_mapped(struct attach *a, const struct vcpu_state *s)
{
	struct guest_mmu own = { .cr3 = s->sregs.cr3, .la57 = s->sregs.cr4 & CR4_LA57 };
	uint64_t gpa;

	return !guest__translate(&a->mem, &own, a->img.entry_gva, &gpa, NULL) &&
	       gpa == a->plan.ram_gpa + (a->img.entry_gva - a->img.gva);
}

/* An interrupt line for each device (irqline.c). */
static int irq_find(struct attach *a)
{
	uint32_t gsi[ATTACH_NDEV];
	int err = guestram__irq_find(&a->hv, gsi, ATTACH_NDEV);

	for (int d = 0; !err && d < ATTACH_NDEV; d++)
		a->irq[d].gsi = gsi[d];
	return err;
}

/* Fill the shared struct: devices, modules, stage2 and its arguments. */
static int configure_stage1(struct attach *a)
{
	struct stage1_abi *abi = loader__abi(&a->img);
	size_t stage2_size = (size_t)(stage2_blob_end - stage2_blob);
	char ctl[32], blkdev[32], *argv[64], *envp[4] = { NULL };
	size_t argc = 0, envc = 0;
	char term[128];
	int err;

	kbtf__fill_abi(&a->layout, abi);
	abi->work_cpu = 0;
	abi->ndevices = ATTACH_NDEV;
	for (int d = 0; d < ATTACH_NDEV; d++)
		abi->devices[d] = (struct stage1_device){ .base = a->plan.mmio_gpa[d],
							  .size = GUESTRAM_MMIO_SIZE,
							  .irq = a->irq[d].gsi,
							  .id = VMSH_PLATFORM_ID +
								(int)(a->nonce & 0xfff) * 4 + d };
	abi->nmodules = ARRAY_SIZE(guest_modules);
	for (size_t i = 0; i < ARRAY_SIZE(guest_modules); i++)
		snprintf(abi->modules[i], STAGE1_MODULE_LEN, "%s", guest_modules[i]);
	abi->go_timeout_ms = 20000;
	abi->stop_timeout_ms = 5000;
	snprintf(abi->stage2_path, sizeof(abi->stage2_path), "%s", a->stage2_path);
	memcpy(a->img.buf + a->img.extra_offset[0], stage2_blob, stage2_size);
	abi->stage2_gva = a->img.extra_gva[0];
	abi->stage2_size = stage2_size;

	snprintf(ctl, sizeof(ctl), "%" PRIu64, a->image_size);
	argv[argc++] = a->stage2_path;
	argv[argc++] = "--serial";
	argv[argc++] = a->serial;
	argv[argc++] = "--ctl-offset";
	argv[argc++] = ctl;
	/* stage2 must not touch the disks of a vmsh killed earlier (stage2.c) */
	snprintf(blkdev, sizeof(blkdev), "virtio-mmio.%d", abi->devices[ATTACH_BLK].id);
	argv[argc++] = "--device";
	argv[argc++] = blkdev;
	if (a->image_read_only)
		argv[argc++] = "--read-only";
	if (a->o.caps_none) {
		argv[argc++] = "--caps";
		argv[argc++] = "none";
	}
	if (!isatty(a->in_fd))
		argv[argc++] = "--tty-pipe";
	if (isatty(a->in_fd) && getenv("TERM")) {
		snprintf(term, sizeof(term), "TERM=%s", getenv("TERM"));
		argv[argc++] = "--env";
		argv[argc++] = term;
	}
	argv[argc++] = "--";
	for (char **c = a->o.cmd; *c; c++) {
		if (argc >= STAGE1_MAX_ARGV) {
			pr_err("attach: more than %d words in the command", STAGE1_MAX_ARGV - 8);
			return -E2BIG;
		}
		argv[argc++] = *c;
	}
	argv[argc] = NULL;
	envp[envc++] = "PATH=/sbin:/bin:/usr/sbin:/usr/bin";
	envp[envc] = NULL;
	err = loader__set_args(&a->img, 1, argv, envp);
	if (err)
		pr_err("attach: the command does not fit in %d bytes of arguments", STRINGS_SIZE);
	return err;
}

/* Phase 2: guest RAM, stage1 in it and in the kernel's page tables, devices. */
static int prepare(struct attach *a)
{
	struct loader *l = NULL;
	size_t stage2_size = (size_t)(stage2_blob_end - stage2_blob);
	size_t extra[2] = { stage2_size, STRINGS_SIZE };
	struct pagemap_range ranges[LOADER_MAX_AREAS];
	struct pagemap_pool pool;
	struct pagemap_prot prot = { .ranges = ranges };
	unsigned phys_bits, nr_slots;
	uint64_t len, gva;
	int err;

	err = loader__open(&l, stage1_blob, (size_t)(stage1_blob_end - stage1_blob));
	if (err)
		return err;
	len = loader__segments_size(l) + page_align(stage2_size) + page_align(STRINGS_SIZE);
	err = attach__hold(a);
	/* a migration may have begun since phase 1: the slots again */
	if (!err)
		err = hv__read_memslots(&a->hv);
	if (!err)
		err = attach__check_dirty_log(a);
	if (!err)
		err = attach__kernel_tables(a);
	if (!err)
		err = guest_limits(a, &phys_bits, &nr_slots);
	if (!err)
		err = guestram__choose(a->slots, a->nslots, nr_slots, phys_bits,
				       len + (PT_POOL_PAGES + REG_PAGES) * LOADER_PAGE_SIZE,
				       &a->plan);
	if (!err)
		err = irq_find(a);
	if (!err)
		err = guestram__add(&a->hv, &a->plan, &a->ram);
	if (err)
		goto out;
	a->slots[a->nslots++] = guestram__memslot(&a->ram);
	a->mem.nslots = a->nslots;
	hvmem__add(&a->hvmem, a->ram.slot.hva, a->ram.slot.size); /* else process_vm */

	err = pagemap__find_free_range(&a->mem, &a->mmu, len, &gva);
	/*
	 * A different 2 MiB of the free GiB each time: the guest may still hold
	 * translations of an earlier attach's pages (it gets no TLB flush when
	 * they go); they must not point into this attach's image.
	 */
	if (!err && len <= (1ULL << 29))
		gva += (uint64_t)((a->nonce >> 8) % 256) * (2ULL << 20);
	if (!err)
		err = loader__load(l, gva, extra, 2, resolve_symbol, &a->kernel, &a->img);
	if (err)
		goto out;
	a->abi_gpa = a->plan.ram_gpa + a->img.abi_offset;
	err = configure_stage1(a);
	if (err)
		goto out;
	for (size_t i = 0; i < a->img.nareas; i++)
		ranges[i] = (struct pagemap_range){
			.offset = a->img.areas[i].gva - a->img.gva,
			.len = a->img.areas[i].size,
			.prot = ((a->img.areas[i].prot & LOADER_PROT_W) ? PAGEMAP_WRITE : 0) |
				((a->img.areas[i].prot & LOADER_PROT_X) ? PAGEMAP_EXEC : 0)
		};
	prot.nranges = a->img.nareas;
	pool =
	    (struct pagemap_pool){ .gpa = a->plan.ram_gpa + a->img.size, .npages = PT_POOL_PAGES };
	a->regs_gpa = pool.gpa + PT_POOL_PAGES * LOADER_PAGE_SIZE;
	/* the image first: the guest sees the mapping only once it is complete */
	err = guest__write_phys(&a->mem, a->plan.ram_gpa, a->img.buf, a->img.size);
	if (!err)
		err = pagemap__map(&a->mem, &a->mmu, a->img.gva, a->plan.ram_gpa, a->img.size,
				   &prot, &pool, &a->undo);
	if (err)
		goto out;
	a->mapped = true;
	pr_info("stage1: %zu KiB at gva 0x%" PRIx64 ", gpa 0x%" PRIx64 " (slot %u), devices at "
		"0x%" PRIx64 " (GSI %u) and 0x%" PRIx64 " (GSI %u)",
		a->img.size >> 10, a->img.gva, a->plan.ram_gpa, a->plan.slot, a->plan.mmio_gpa[0],
		a->irq[0].gsi, a->plan.mmio_gpa[1], a->irq[1].gsi);

	/* interrupts out (an irqfd per device, two on a shared line), queue notifications in */
	for (int d = 0; d < ATTACH_NDEV; d++) {
		err = guestram__eventfd_open(&a->hv, &a->irq[d].efd);
		if (!err)
			err = guestram__irqfd_assign(&a->hv, &a->irq[d].efd, a->irq[d].gsi);
		if (err)
			goto out;
		a->irq[d].assigned = true;
	}
	for (int q = 0; q < ATTACH_NQUEUES; q++) {
		uint64_t addr = a->plan.mmio_gpa[q == 0 ? ATTACH_BLK : ATTACH_CON] + 0x50;
		uint32_t match = q == 0 ? 0 : (uint32_t)q - 1;

		err = guestram__eventfd_open(&a->hv, &a->ioev[q]);
		if (!err)
			err = guestram__ioeventfd_assign(&a->hv, &a->ioev[q], addr, match);
		if (err)
			goto out;
		a->ioev_assigned[q] = true;
	}
out:
	loader__close(l);
	return err;
}

static bool all_vcpu_threads(const struct attach *a)
{
	for (size_t i = 0; i < a->hv.nvcpus; i++)
		if (!a->hv.vcpus[i].tid)
			return false;
	return true;
}

/* Phase 3: a vCPU that could take an interrupt now is pointed at stage1. */
static int enter(struct attach *a)
{
	struct vcpu_state s;
	int v = -EAGAIN, err;
	bool unmapped = false;

	for (int tries = 0; tries < ENTER_TRIES; tries++) {
		v = vcpu__pick(&a->hv, &s);
		/* the trap needs every vCPU's thread: seen only while in KVM_RUN */
		if (v >= 0 && !all_vcpu_threads(a))
			v = -EAGAIN;
		if (v >= 0 && !entry_mapped(a, &s)) {
			pr_debug("vCPU %d's page tables (CR3 0x%llx) do not map stage1's entry",
				 a->hv.vcpus[v].index, (unsigned long long)s.sregs.cr3);
			unmapped = true;
			v = -EAGAIN;
		}
		if (v != -EAGAIN)
			break;
		/* every vCPU busy in user mode or with interrupts off: let it run */
		err = attach__release(a);
		if (err)
			return err;
		if (attach__interrupted(a))
			return -EINTR;
		usleep(10000);
		err = attach__hold(a);
		if (err)
			return err;
	}
	if (v == -EAGAIN) {
		pr_err("attach: no vCPU was in the kernel with interrupts enabled and no exit "
		       "pending in %d tries%s",
		       ENTER_TRIES,
		       unmapped ? " (some ran on page tables that do not map stage1: "
				  "not the kernel's?)"
				: "");
		return -EBUSY;
	}
	if (v < 0)
		return v;
	err = attach__write_abi(a, offsetof(struct stage1_abi, orig_rip), &s.regs.rip, 8);
	if (!err)
		err = vcpu__enter(&a->hv, (size_t)v, &s, a->img.entry_gva);
	if (err)
		return err;
	a->vcpu = v;
	a->entered = true;
	pr_info("vCPU %d enters stage1 from 0x%llx%s", a->hv.vcpus[v].index,
		(unsigned long long)s.regs.rip,
		s.mp.mp_state == KVM_MP_STATE_HALTED ? " (it was halted)" : "");
	return attach__release(a);
}

/* Whether some vCPU is executing stage1's pages (the hypervisor is held). */
static bool vcpu_in_stage1(struct attach *a)
{
	for (size_t i = 0; i < a->hv.nvcpus; i++) {
		struct kvm_regs regs;

		if (!hv_vcpu_ioctl(&a->hv, i, KVM_GET_REGS, &regs) && regs.rip >= a->img.gva &&
		    regs.rip - a->img.gva < a->img.size)
			return true;
	}
	return false;
}

/*
 * Take back everything, last added first. guest_done: stage1 has finished
 * (or never ran), so its memory can go; otherwise it stays, with a warning.
 */
static int teardown(struct attach *a, bool guest_done)
{
	bool ram_still_mapped = false;
	int err = 0;

	if (a->trapping && kvmrun__stop(&a->trap))
		err = -EIO;
	a->trapping = false;
	free(a->trap.vcpus);
	a->trap.vcpus = NULL;
	free(a->trap_tids);
	a->trap_tids = NULL;
	if (!a->held && !a->hv.scratch)
		return err; /* nothing was added to the hypervisor */
	if (!a->held && a->hv.scratch && attach__hold(a))
		return -EIO;
	for (int tries = 0; guest_done && a->entered && a->held && vcpu_in_stage1(a); tries++) {
		if (tries == LEAVE_TRIES || attach__release(a) ||
		    (usleep(20000), attach__hold(a))) {
			guest_done = false;
			break;
		}
	}
	if (!a->held)
		return -EIO;
	if (attach__steady_remove(a))
		err = -EIO;
	if (a->mapped && guest_done) {
		if (pagemap__unmap(&a->mem, &a->undo)) {
			/*
			 * Some entries still link our tables and pages: the RAM
			 * behind them stays, or the guest would walk into
			 * unbacked memory (emulation failure, a dead VM).
			 */
			pr_err("attach: stage1's mapping could not be taken out of the guest's "
			       "page tables: its RAM stays");
			ram_still_mapped = true;
			err = -EIO;
		}
		a->mapped = false;
	}
	for (int q = ATTACH_NQUEUES - 1; q >= 0; q--) {
		uint64_t addr = a->plan.mmio_gpa[q == 0 ? ATTACH_BLK : ATTACH_CON] + 0x50;

		if (a->ioev_assigned[q] &&
		    guestram__ioeventfd_deassign(&a->hv, &a->ioev[q], addr,
						 q == 0 ? 0 : (uint32_t)q - 1))
			err = -EIO;
		a->ioev_assigned[q] = false;
		if (a->ioev[q].hv_fd >= 0 && guestram__eventfd_close(&a->hv, &a->ioev[q]))
			err = -EIO;
	}
	for (int d = ATTACH_NDEV - 1; d >= 0; d--) {
		struct attach_irq *line = &a->irq[d];

		if (line->assigned && guestram__irqfd_deassign(&a->hv, &line->efd, line->gsi))
			err = -EIO;
		line->assigned = false;
		if (line->efd.hv_fd >= 0 && guestram__eventfd_close(&a->hv, &line->efd))
			err = -EIO;
	}
	if (a->ram.added) {
		if (guest_done && !ram_still_mapped) {
			if (guestram__remove(&a->hv, &a->ram))
				err = -EIO;
		} else if (ram_still_mapped) {
			pr_err("attach: the guest still maps stage1's %" PRIu64 " KiB at gva "
			       "0x%" PRIx64 ": they stay (memslot %u), the VM is unharmed",
			       a->ram.slot.size >> 10, a->img.gva, a->plan.slot);
		} else {
			pr_err("attach: stage1 did not finish in the guest: its %" PRIu64
			       " KiB stay mapped at gva 0x%" PRIx64 " (memslot %u) so the guest "
			       "cannot crash on them",
			       a->ram.slot.size >> 10, a->img.gva, a->plan.slot);
		}
	}
	if (hv__close(&a->hv))
		err = -EIO;
	a->held = false;
	a->held_ns += a->hv.t.held_ns;
	a->holds++;
	return err;
}

int attach__detach(struct attach *a)
{
	int err = attach__stop_guest(a);

	attach__phase(a, "stop in the guest");
	err = teardown(a, err == 0);
	if (err)
		pr_err("attach: the hypervisor could not be restored completely");
	attach__phase(a, "teardown");
	return err ? -EIO : 0;
}

int cmd_attach(int argc, char **argv)
{
	struct attach *a = calloc(1, sizeof(*a));
	char image[4096];
	sigset_t mask;
	int rc = ATTACH_EXIT_ERROR, err;

	if (!a)
		return ATTACH_EXIT_ERROR;
	a->image_fd = a->in_fd = a->out_fd = a->sigfd = -1;
	for (int d = 0; d < ATTACH_NDEV; d++)
		a->irq[d] = (struct attach_irq){ .efd = { .hv_fd = -1, .fd = -1 } };
	a->ack.hv_fd = a->ack.fd = -1;
	for (int q = 0; q < ATTACH_NQUEUES; q++)
		a->ioev[q].hv_fd = a->ioev[q].fd = -1;
	a->vcpu = -1;
	a->keeper_fd = -1;
	a->hv.vm_fd = -1;
	a->t_start_ns = util__now_ns();
	if (parse_args(&a->o, argc, argv)) {
		free(a);
		return 2;
	}
	set_nice(&a->o);
	if (!a->o.image) {
		if (image__default(image, sizeof(image), false))
			goto out;
		a->o.image = image;
	}
	if (getrandom(&a->nonce, sizeof(a->nonce), 0) != sizeof(a->nonce))
		a->nonce = (uint32_t)util__now_ns() ^ (uint32_t)getpid();
	snprintf(a->serial, sizeof(a->serial), "vmsh-%08x", a->nonce);
	snprintf(a->stage2_path, sizeof(a->stage2_path), "/dev/.vmsh-%08x", a->nonce);

	/* signals are read from a signalfd, between phases and in the loop */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* a job-control stop while vmsh traces the vCPUs would freeze the VM:
	 * in the background, terminal writes go on and reads fail instead */
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	a->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->sigfd < 0 || open_image(a) || attach__loop_init(a))
		goto out;

	attach__phase(a, "set-up");
	err = discover(a);
	attach__phase(a, "kernel layout");
	if (!err && !attach__interrupted(a))
		err = prepare(a);
	attach__phase(a, "prepare");
	if (!err && !attach__interrupted(a))
		err = enter(a);
	attach__phase(a, "enter");
	if (err || a->stop_signal) {
		/* stage1 never ran if no vCPU was pointed at it */
		if (teardown(a, !a->entered))
			pr_err("attach: the hypervisor could not be restored completely");
		else if (err && !a->entered)
			/* the errno too: a step that failed without a word is still named */
			pr_err(
			    "attach: failed (%s): the VM runs on as it was: vmsh changed nothing "
			    "in it",
			    strerror(err < 0 ? -err : err));
		if (a->stop_signal)
			rc = 128 + a->stop_signal;
		goto out;
	}
	rc = attach__run(a);
	attach__phase(a, "command");
	if (attach__detach(a))
		rc = ATTACH_EXIT_ERROR;
	/* the figures the benchmarks read (-v) */
	pr_info("timing: first output after %.1f ms; hypervisor stopped %.1f ms in %u holds",
		a->t_first_output_ns ? (double)(a->t_first_output_ns - a->t_start_ns) / 1e6 : -1.0,
		a->held_ns / 1e6, a->holds);
	print_phases(a);
out:
	attach__keeper_stop(a);
	attach__loop_fini(a);
	if (a->image_fd >= 0)
		close(a->image_fd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	loader__image_free(&a->img);
	hvmem__close(&a->hvmem);
	guest__kernel_free(&a->kernel);
	hv__free(&a->hv);
	free(a->slots);
	free(a);
	return rc;
}
