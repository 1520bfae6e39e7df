// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh_testhv: a minimal KVM hypervisor for vmsh's end-to-end tests, whose
 * guest checks itself, so that a test can tell whether anything vmsh did
 * harmed the hypervisor or its VM.
 *
 * The VM: two memslots backed by two anonymous mappings, 64 KiB at gpa 0
 * (slot 0) and 64 KiB at gpa 0x100000 (slot 2, KVM_MEM_LOG_DIRTY_PAGES), and
 * 1 to 4 vCPUs in 16-bit real mode. Each vCPU runs the same code (guest_code
 * below) on its own status block and its own two regions, one in each slot:
 * it fills them with a pattern, then loops forever, checksumming both regions
 * and incrementing a 32-bit counter; every N iterations it reports progress
 * with an OUT, and a checksum mismatch is reported with another OUT and HLT.
 *
 * The hypervisor checks the guest at every report (counter = reports * N,
 * checksums as computed here), prints "ready PID" once every vCPU has made
 * progress, writes what vmsh should see to the facts file (--facts), and
 * runs until SIGTERM or SIGINT. Then each vCPU must report progress once more,
 * the vCPUs are stopped and guest memory is compared with the pattern. Exit
 * status 0 only if every check passed. SIGUSR1 prints the guest counters
 * ("progress N0 N1 ...") and, per vCPU, the value its last MMIO read got and
 * the MMIO exits served here ("mmio 0x7e57/N0 ..."). --corrupt-after-ms flips a word of vCPU 0's
 * region in slot 2 behind the guest's back, to test the test. After each report the vCPU thread
 * sleeps --pace-us, so that spinning vCPUs leave CPU time to the tests and to vmsh (a TCG lab host
 * has only 2 CPUs). An exit we did not expect is reported with the vCPU's registers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ULL
#define SLOT_SIZE (64 * KIB)
#define SLOT0_ID 0
#define SLOT0_GPA 0x0ULL
#define SLOT1_ID 2
#define SLOT1_GPA 0x100000ULL
#define SLOT1_FLAGS KVM_MEM_LOG_DIRTY_PAGES

#define CODE_GPA 0x1000
#define STATUS_GPA 0x800 /* + 0x40 per vCPU */
#define STACK_TOP 0x7f0
#define REGION_A 0x2000	      /* in slot 0 (ds = 0), + REGION_STRIDE per vCPU */
#define ES_SEL 0xffff	      /* es base 0xffff0: offsets 0x10.. reach slot 2 */
#define REGION_B_GPA 0x101000 /* in slot 2, + REGION_STRIDE per vCPU */
#define REGION_STRIDE 0x3000
#define MAX_WORDS (REGION_STRIDE / 2)
#define MAX_VCPUS 4

#define PORT_FILLED 0x10
#define PORT_PROGRESS 0x11
#define PORT_FAIL 0x12

#define PATTERN_STEP 0x9e37

/*
 * At every report the guest reads a word at MMIO_GPA (es:0, the 16 bytes
 * below slot 2 that no slot backs), keeps it in ST_MMIO and writes it back at
 * MMIO_GPA + 4: two KVM_EXIT_MMIOs that this hypervisor serves with
 * MMIO_VALUE, or that vmsh serves instead while it traps KVM_RUN.
 */
#define MMIO_GPA 0xffff0ULL
#define MMIO_VALUE 0x7e57

/* The guest's status block (little-endian, at STATUS_GPA + 0x40 * vCPU). */
enum {
	ST_ITER = 0,   /* u32: iterations done */
	ST_LEFT = 4,   /* u16: iterations until the next report */
	ST_N = 6,      /* u16: iterations per report */
	ST_A = 8,      /* u16: region in slot 0, offset from ds = 0 */
	ST_B = 10,     /* u16: region in slot 2, offset from es = 0xffff */
	ST_WORDS = 12, /* u16: words per region */
	ST_SEED = 14,  /* u16: first word of the pattern */
	ST_EXPA = 16,  /* u16: checksum of region A, as filled */
	ST_EXPB = 18,  /* u16: checksum of region B, as filled */
	ST_FAIL = 20,  /* u16: 1 or 2 when region A or B changed */
	ST_BAD = 22,   /* u16: the checksum that did not match */
	ST_MMIO = 24,  /* u16: what the last MMIO read at MMIO_GPA returned */
	ST_SIZE = 0x40,
};

/*
 * 16-bit real mode, cs = ds = ss = 0, es = 0xffff, bx = the status block
 * (assembled with `as --32` from .code16 source; offsets on the left).
 */
static const uint8_t guest_code[] = {
	/* 00 */ 0x8b, 0x7f, ST_A,	 /* mov ST_A(%bx), %di */
	/* 03 */ 0x8b, 0x4f, ST_WORDS,	 /* mov ST_WORDS(%bx), %cx */
	/* 06 */ 0x8b, 0x47, ST_SEED,	 /* mov ST_SEED(%bx), %ax */
	/* 09 */ 0x31, 0xd2,		 /* xor %dx, %dx */
					 /* fillA: */
	/* 0b */ 0x89, 0x05,		 /* mov %ax, (%di) */
	/* 0d */ 0xd1, 0xc2,		 /* rol $1, %dx */
	/* 0f */ 0x31, 0xc2,		 /* xor %ax, %dx */
	/* 11 */ 0x05, 0x37, 0x9e,	 /* add $PATTERN_STEP, %ax */
	/* 14 */ 0x83, 0xc7, 0x02,	 /* add $2, %di */
	/* 17 */ 0xe2, 0xf2,		 /* loop fillA */
	/* 19 */ 0x89, 0x57, ST_EXPA,	 /* mov %dx, ST_EXPA(%bx) */
	/* 1c */ 0x8b, 0x7f, ST_B,	 /* mov ST_B(%bx), %di */
	/* 1f */ 0x8b, 0x4f, ST_WORDS,	 /* mov ST_WORDS(%bx), %cx */
	/* 22 */ 0x31, 0xd2,		 /* xor %dx, %dx */
					 /* fillB: (the pattern goes on where region A's ended) */
	/* 24 */ 0x26, 0x89, 0x05,	 /* mov %ax, %es:(%di) */
	/* 27 */ 0xd1, 0xc2,		 /* rol $1, %dx */
	/* 29 */ 0x31, 0xc2,		 /* xor %ax, %dx */
	/* 2b */ 0x05, 0x37, 0x9e,	 /* add $PATTERN_STEP, %ax */
	/* 2e */ 0x83, 0xc7, 0x02,	 /* add $2, %di */
	/* 31 */ 0xe2, 0xf1,		 /* loop fillB */
	/* 33 */ 0x89, 0x57, ST_EXPB,	 /* mov %dx, ST_EXPB(%bx) */
	/* 36 */ 0xe6, PORT_FILLED,	 /* out %al, $PORT_FILLED */
					 /* again: */
	/* 38 */ 0x8b, 0x77, ST_A,	 /* mov ST_A(%bx), %si */
	/* 3b */ 0x8b, 0x4f, ST_WORDS,	 /* mov ST_WORDS(%bx), %cx */
	/* 3e */ 0x31, 0xd2,		 /* xor %dx, %dx */
					 /* sumA: */
	/* 40 */ 0xad,			 /* lodsw */
	/* 41 */ 0xd1, 0xc2,		 /* rol $1, %dx */
	/* 43 */ 0x31, 0xc2,		 /* xor %ax, %dx */
	/* 45 */ 0xe2, 0xf9,		 /* loop sumA */
	/* 47 */ 0x3b, 0x57, ST_EXPA,	 /* cmp ST_EXPA(%bx), %dx */
	/* 4a */ 0x75, 0x2b,		 /* jne failA */
	/* 4c */ 0x8b, 0x77, ST_B,	 /* mov ST_B(%bx), %si */
	/* 4f */ 0x8b, 0x4f, ST_WORDS,	 /* mov ST_WORDS(%bx), %cx */
	/* 52 */ 0x31, 0xd2,		 /* xor %dx, %dx */
					 /* sumB: */
	/* 54 */ 0x26, 0xad,		 /* lodsw %es:(%si), %ax */
	/* 56 */ 0xd1, 0xc2,		 /* rol $1, %dx */
	/* 58 */ 0x31, 0xc2,		 /* xor %ax, %dx */
	/* 5a */ 0xe2, 0xf8,		 /* loop sumB */
	/* 5c */ 0x3b, 0x57, ST_EXPB,	 /* cmp ST_EXPB(%bx), %dx */
	/* 5f */ 0x75, 0x1d,		 /* jne failB */
	/* 61 */ 0x83, 0x07, 0x01,	 /* addw $1, ST_ITER(%bx) */
	/* 64 */ 0x83, 0x57, 0x02, 0x00, /* adcw $0, ST_ITER+2(%bx) */
	/* 68 */ 0xff, 0x4f, ST_LEFT,	 /* decw ST_LEFT(%bx) */
	/* 6b */ 0x75, 0xcb,		 /* jnz again */
	/* 6d */ 0x8b, 0x47, ST_N,	 /* mov ST_N(%bx), %ax */
	/* 70 */ 0x89, 0x47, ST_LEFT,	 /* mov %ax, ST_LEFT(%bx) */
	/* 73 */ 0xe6, PORT_PROGRESS,	 /* out %al, $PORT_PROGRESS */
	/* 75 */ 0xeb, 0x14,		 /* jmp mmio */
					 /* failA: */
	/* 77 */ 0xc7, 0x47, ST_FAIL, 0x01, 0x00, /* movw $1, ST_FAIL(%bx) */
	/* 7c */ 0xeb, 0x05,			  /* jmp fail */
						  /* failB: */
	/* 7e */ 0xc7, 0x47, ST_FAIL, 0x02, 0x00, /* movw $2, ST_FAIL(%bx) */
						  /* fail: */
	/* 83 */ 0x89, 0x57, ST_BAD,		  /* mov %dx, ST_BAD(%bx) */
	/* 86 */ 0xe6, PORT_FAIL,		  /* out %al, $PORT_FAIL */
	/* 88 */ 0xf4,				  /* hlt */
	/* 89 */ 0xeb, 0xf8,			  /* jmp fail */
						  /* mmio: */
	/* 8b */ 0x26, 0xa1, 0x00, 0x00,	  /* mov %es:0, %ax */
	/* 8f */ 0x89, 0x47, ST_MMIO,		  /* mov %ax, ST_MMIO(%bx) */
	/* 92 */ 0x26, 0xa3, 0x04, 0x00,	  /* mov %ax, %es:4 */
	/* 96 */ 0xeb, 0xa0,			  /* jmp again */
};

struct vcpu {
	int index, fd;
	pid_t tid;
	pthread_t thread;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *status; /* the status block, in slot 0's mapping */
	uint16_t exp_a, exp_b;
	/* Written by the vCPU thread, read by the main thread. */
	bool filled;
	unsigned long reports;
	uint32_t iter;
	unsigned long mmio_exits; /* MMIO exits served here */
	bool failed;
	char error[256];
};

static struct {
	int kvm, vm;
	uint8_t *slot0, *slot1;
	unsigned nvcpus, every, words, pace_us;
	struct vcpu vcpus[MAX_VCPUS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	volatile bool stop;
} hv = { .kvm = -1, .vm = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmsh_testhv: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t seed_of(unsigned i)
{
	return (uint16_t)(0x1234 + 0x1111 * i);
}

static uint8_t *region_a(unsigned i)
{
	return hv.slot0 + REGION_A + REGION_STRIDE * i;
}

static uint8_t *region_b(unsigned i)
{
	return hv.slot1 + (REGION_B_GPA - SLOT1_GPA) + REGION_STRIDE * i;
}

/* The pattern the guest writes, word by word, and the checksums it keeps. */
static void expected(unsigned i, uint16_t *exp_a, uint16_t *exp_b)
{
	uint16_t v = seed_of(i), sum;

	for (int r = 0; r < 2; r++) {
		sum = 0;
		for (unsigned w = 0; w < hv.words; w++) {
			sum = (uint16_t)((sum << 1 | sum >> 15) ^ v);
			v = (uint16_t)(v + PATTERN_STEP);
		}
		*(r ? exp_b : exp_a) = sum;
	}
}

/* Number of words of vCPU i's regions that differ from the pattern. */
static unsigned pattern_mismatches(unsigned i)
{
	uint16_t v = seed_of(i);
	unsigned bad = 0;

	for (int r = 0; r < 2; r++) {
		const uint8_t *p = r ? region_b(i) : region_a(i);

		for (unsigned w = 0; w < hv.words; w++) {
			bad += get16(p + 2 * w) != v;
			v = (uint16_t)(v + PATTERN_STEP);
		}
	}
	return bad;
}

static void vcpu_error(struct vcpu *v, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&hv.lock);
	if (!v->failed) {
		va_start(ap, fmt);
		vsnprintf(v->error, sizeof(v->error), fmt, ap);
		va_end(ap);
		v->failed = true;
		fprintf(stderr, "vmsh_testhv: vcpu %d: %s\n", v->index, v->error);
	}
	pthread_cond_broadcast(&hv.cond);
	pthread_mutex_unlock(&hv.lock);
}

/* Where the vCPU is, for a message about an exit we did not expect. */
static void vcpu_where(struct vcpu *v, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
		snprintf(buf, len, "(registers: %s)", strerror(errno));
		return;
	}
	snprintf(buf, len,
		 "(cs:ip %04x:%04llx, bx %#llx, cx %#llx, si %#llx, di %#llx, sp %#llx, cr0 %#llx)",
		 sr.cs.selector, (unsigned long long)r.rip, (unsigned long long)r.rbx,
		 (unsigned long long)r.rcx, (unsigned long long)r.rsi, (unsigned long long)r.rdi,
		 (unsigned long long)r.rsp, (unsigned long long)sr.cr0);
}

/* An OUT from the guest; false when the vCPU must stop. */
static bool vcpu_io(struct vcpu *v)
{
	const struct kvm_run *run = v->run;
	uint32_t iter = get32(v->status + ST_ITER);
	char where[200];

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1 || run->io.count != 1) {
		vcpu_where(v, where, sizeof(where));
		vcpu_error(v, "unexpected I/O: port %#x, direction %d, size %d %s", run->io.port,
			   run->io.direction, run->io.size, where);
		return false;
	}
	switch (run->io.port) {
	case PORT_FILLED:
		if (get16(v->status + ST_EXPA) != v->exp_a ||
		    get16(v->status + ST_EXPB) != v->exp_b) {
			vcpu_error(v, "the guest's checksums %#x/%#x are not %#x/%#x",
				   get16(v->status + ST_EXPA), get16(v->status + ST_EXPB), v->exp_a,
				   v->exp_b);
			return false;
		}
		pthread_mutex_lock(&hv.lock);
		v->filled = true;
		pthread_mutex_unlock(&hv.lock);
		return true;
	case PORT_PROGRESS:
		if (!v->filled || iter != (v->reports + 1) * hv.every) {
			vcpu_error(v, "progress report %lu at iteration %u, not %lu",
				   v->reports + 1, iter, (v->reports + 1) * hv.every);
			return false;
		}
		pthread_mutex_lock(&hv.lock);
		v->reports++;
		v->iter = iter;
		pthread_cond_broadcast(&hv.cond);
		pthread_mutex_unlock(&hv.lock);
		if (hv.pace_us) {
			/* leave CPU time to others (the tests, vmsh) */
			struct timespec ts = { .tv_nsec = (long)hv.pace_us * 1000 };

			nanosleep(&ts, NULL);
		}
		return true;
	case PORT_FAIL:
		vcpu_error(v, "the guest found region %c changed (checksum %#x) at iteration %u",
			   get16(v->status + ST_FAIL) == 1 ? 'A' : 'B', get16(v->status + ST_BAD),
			   iter);
		return false;
	default:
		vcpu_where(v, where, sizeof(where));
		vcpu_error(v, "OUT to unknown port %#x %s", run->io.port, where);
		return false;
	}
}

/* The guest's MMIO probe: reads get MMIO_VALUE, writes must bring back what it read. */
static bool vcpu_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint16_t val = MMIO_VALUE;

	if (run->mmio.len != 2 ||
	    (run->mmio.phys_addr != MMIO_GPA + (run->mmio.is_write ? 4 : 0))) {
		vcpu_error(v, "unexpected MMIO %s of %u bytes at %#llx",
			   run->mmio.is_write ? "write" : "read", run->mmio.len,
			   (unsigned long long)run->mmio.phys_addr);
		return false;
	}
	if (run->mmio.is_write) {
		memcpy(&val, run->mmio.data, 2);
		if (val != get16(v->status + ST_MMIO)) {
			vcpu_error(v, "MMIO write of %#x, not the %#x read", val,
				   get16(v->status + ST_MMIO));
			return false;
		}
	} else {
		memcpy(run->mmio.data, &val, 2);
	}
	pthread_mutex_lock(&hv.lock);
	v->mmio_exits++;
	pthread_mutex_unlock(&hv.lock);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16], where[200];

	v->tid = (pid_t)syscall(SYS_gettid);
	snprintf(name, sizeof(name), "vcpu%d", v->index);
	pthread_setname_np(pthread_self(), name);
	while (!hv.stop) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			/* a signal (ours, or a tracer's stop): just run on */
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vcpu_error(v, "KVM_RUN: %s", strerror(errno));
			break;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			if (vcpu_io(v))
				continue;
			break;
		case KVM_EXIT_MMIO:
			if (vcpu_mmio(v))
				continue;
			break;
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_HLT:
			vcpu_where(v, where, sizeof(where));
			vcpu_error(v, "the guest halted %s", where);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			vcpu_error(v, "KVM internal error, suberror %u", v->run->internal.suberror);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			vcpu_error(
			    v, "entry failed, reason %#llx",
			    (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			break;
		default:
			vcpu_where(v, where, sizeof(where));
			vcpu_error(v, "unexpected exit %u %s", v->run->exit_reason, where);
			break;
		}
		break;
	}
	return NULL;
}

static void kick(int sig)
{
	(void)sig;
}

static void add_slot(uint32_t id, uint64_t gpa, uint32_t flags, uint8_t **mem)
{
	struct kvm_userspace_memory_region r;

	*mem = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	r = (struct kvm_userspace_memory_region){ .slot = id,
						  .flags = flags,
						  .guest_phys_addr = gpa,
						  .memory_size = SLOT_SIZE,
						  .userspace_addr = (uintptr_t)*mem };
	if (ioctl(hv.vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION slot %u: %s", id, strerror(errno));
}

static void set_seg(struct kvm_segment *s, uint16_t sel)
{
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
}

static void create_vcpu(struct vcpu *v, int index)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	int size;

	v->index = index;
	v->fd = ioctl(hv.vm, KVM_CREATE_VCPU, index);
	if (v->fd < 0)
		die("KVM_CREATE_VCPU %d: %s", index, strerror(errno));
	size = ioctl(hv.kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		die("mmap of vcpu %d: %s", index, strerror(errno));

	v->status = hv.slot0 + STATUS_GPA + ST_SIZE * index;
	put16(v->status + ST_LEFT, (uint16_t)hv.every);
	put16(v->status + ST_N, (uint16_t)hv.every);
	put16(v->status + ST_A, (uint16_t)(REGION_A + REGION_STRIDE * index));
	put16(v->status + ST_B,
	      (uint16_t)(REGION_B_GPA - ((uint64_t)ES_SEL << 4) + REGION_STRIDE * index));
	put16(v->status + ST_WORDS, (uint16_t)hv.words);
	put16(v->status + ST_SEED, seed_of(index));
	expected(index, &v->exp_a, &v->exp_b);

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS: %s", strerror(errno));
	set_seg(&sregs.cs, 0);
	set_seg(&sregs.ds, 0);
	set_seg(&sregs.ss, 0);
	set_seg(&sregs.fs, 0);
	set_seg(&sregs.gs, 0);
	set_seg(&sregs.es, ES_SEL);
	sregs.cr0 &= ~1ULL; /* real mode */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS: %s", strerror(errno));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	regs.rsp = STACK_TOP - 0x40 * index;
	regs.rbx = STATUS_GPA + ST_SIZE * index;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS: %s", strerror(errno));
}

static json_object *hex(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
	return json_object_new_string(s);
}

static json_object *slot_json(uint32_t id, uint64_t gpa, uint32_t flags, const void *mem)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "slot", json_object_new_int64(id & 0xffff));
	json_object_object_add(o, "address_space", json_object_new_int64(id >> 16));
	json_object_object_add(o, "gpa", hex(gpa));
	json_object_object_add(o, "size", json_object_new_int64(SLOT_SIZE));
	json_object_object_add(o, "hva", hex((uintptr_t)mem));
	json_object_object_add(o, "flags", json_object_new_int64(flags));
	return o;
}

/* What vmsh inspect should report, in its own JSON field names. */
static void write_facts(const char *path)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char tmp[4096];

	json_object_object_add(root, "pid", json_object_new_int(getpid()));
	json_object_object_add(root, "threads", json_object_new_int((int)hv.nvcpus + 1));
	json_object_object_add(root, "vm_fd", json_object_new_int(hv.vm));
	for (unsigned i = 0; i < hv.nvcpus; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "index", json_object_new_int(hv.vcpus[i].index));
		json_object_object_add(o, "fd", json_object_new_int(hv.vcpus[i].fd));
		json_object_object_add(o, "thread", json_object_new_int(hv.vcpus[i].tid));
		json_object_object_add(o, "mode", json_object_new_string("real"));
		json_object_object_add(o, "cpl", json_object_new_int(0));
		json_object_object_add(o, "cr3", hex(0));
		json_object_object_add(o, "cs", json_object_new_int(0));
		json_object_object_add(o, "rip_min", json_object_new_int(CODE_GPA));
		json_object_object_add(o, "rip_max",
				       json_object_new_int(CODE_GPA + (int)sizeof(guest_code) - 1));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "vcpus", arr);
	arr = json_object_new_array();
	json_object_array_add(arr, slot_json(SLOT0_ID, SLOT0_GPA, 0, hv.slot0));
	json_object_array_add(arr, slot_json(SLOT1_ID, SLOT1_GPA, SLOT1_FLAGS, hv.slot1));
	json_object_object_add(root, "memslots", arr);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file_ext(tmp, root, JSON_C_TO_STRING_PRETTY) < 0 || rename(tmp, path))
		die("cannot write %s: %s", path, strerror(errno));
	json_object_put(root);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait until every vCPU is past its fill and has reported after reports[i]. */
static bool wait_progress(const unsigned long *after, unsigned timeout_ms)
{
	struct timespec until;
	bool all = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&hv.lock);
	for (;;) {
		bool failed = false;

		all = true;
		for (unsigned i = 0; i < hv.nvcpus; i++) {
			failed |= hv.vcpus[i].failed;
			all &= hv.vcpus[i].filled && hv.vcpus[i].reports > after[i];
		}
		if (all || failed || pthread_cond_timedwait(&hv.cond, &hv.lock, &until))
			break;
	}
	pthread_mutex_unlock(&hv.lock);
	return all;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmsh_testhv [--vcpus N] [--facts FILE] [--every N] [--words N]\n"
	    "                   [--timeout-ms MS] [--corrupt-after-ms MS] [--pace-us US]\n"
	    "\n"
	    "Runs a self-checking real-mode guest on /dev/kvm (two 64 KiB memslots, N vCPUs,\n"
	    "1 to %d), prints \"ready PID\", writes the facts vmsh should find to FILE (JSON),\n"
	    "and runs until SIGTERM/SIGINT; exit status 0 only if the guest's checks and ours\n"
	    "passed and every vCPU still made progress at the end. SIGUSR1 prints the\n"
	    "guest's iteration counters.\n"
	    "  --every N           iterations between progress reports (default 16)\n"
	    "  --words N           words per checked region (default 256, at most %d)\n"
	    "  --timeout-ms MS     for the first and the last progress report (default 60000)\n"
	    "  --corrupt-after-ms  change guest memory behind its back (the guest must notice)\n"
	    "  --pace-us US        sleep after each progress report (default 1000; 0: spin)\n",
	    MAX_VCPUS, MAX_WORDS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "vcpus", required_argument, NULL, 'c' },
					      { "facts", required_argument, NULL, 'f' },
					      { "every", required_argument, NULL, 'e' },
					      { "words", required_argument, NULL, 'w' },
					      { "timeout-ms", required_argument, NULL, 't' },
					      { "corrupt-after-ms", required_argument, NULL, 'x' },
					      { "pace-us", required_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	unsigned long before[MAX_VCPUS] = { 0 };
	const char *facts = NULL;
	long corrupt_ms = -1, timeout_ms = 60000;
	uint64_t ready_at, held_ms = 0;
	struct sigaction sa = { .sa_handler = kick };
	sigset_t set;
	bool ok = true;
	int c;

	hv.nvcpus = 1;
	hv.every = 16;
	hv.words = 256;
	hv.pace_us = 1000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			hv.nvcpus = (unsigned)atoi(optarg);
			break;
		case 'f':
			facts = optarg;
			break;
		case 'e':
			hv.every = (unsigned)atoi(optarg);
			break;
		case 'w':
			hv.words = (unsigned)atoi(optarg);
			break;
		case 't':
			timeout_ms = atol(optarg);
			break;
		case 'x':
			corrupt_ms = atol(optarg);
			break;
		case 'p':
			hv.pace_us = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || hv.nvcpus < 1 || hv.nvcpus > MAX_VCPUS || hv.every < 1 ||
	    hv.every > 0xffff || hv.words < 1 || hv.words > MAX_WORDS || timeout_ms < 1 ||
	    hv.pace_us > 999999) {
		usage(stderr);
		return 2;
	}

	/* SIGTERM, SIGINT, SIGUSR1 go to sigtimedwait; SIGUSR2 kicks a vCPU out of KVM_RUN. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	hv.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (hv.kvm < 0)
		die("/dev/kvm: %s", strerror(errno));
	if (ioctl(hv.kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		die("unexpected KVM API version");
	hv.vm = ioctl(hv.kvm, KVM_CREATE_VM, 0);
	if (hv.vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	add_slot(SLOT0_ID, SLOT0_GPA, 0, &hv.slot0);
	add_slot(SLOT1_ID, SLOT1_GPA, SLOT1_FLAGS, &hv.slot1);
	memcpy(hv.slot0 + CODE_GPA, guest_code, sizeof(guest_code));
	for (unsigned i = 0; i < hv.nvcpus; i++)
		create_vcpu(&hv.vcpus[i], (int)i);
	for (unsigned i = 0; i < hv.nvcpus; i++)
		if (pthread_create(&hv.vcpus[i].thread, NULL, vcpu_thread, &hv.vcpus[i]))
			die("pthread_create failed");

	if (!wait_progress(before, (unsigned)timeout_ms)) {
		fprintf(stderr, "vmsh_testhv: the guest made no progress within %ld ms\n",
			timeout_ms);
		ok = false;
		goto stop;
	}
	if (facts)
		write_facts(facts);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	ready_at = now_ms();

	for (;;) {
		struct timespec tick = { .tv_nsec = 50 * 1000000 };
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1) {
			pthread_mutex_lock(&hv.lock);
			printf("progress");
			for (unsigned i = 0; i < hv.nvcpus; i++)
				printf(" %u", hv.vcpus[i].iter);
			printf("\nmmio");
			for (unsigned i = 0; i < hv.nvcpus; i++)
				printf(" %#x/%lu", get16(hv.vcpus[i].status + ST_MMIO),
				       hv.vcpus[i].mmio_exits);
			printf("\n");
			pthread_mutex_unlock(&hv.lock);
			fflush(stdout);
		}
		if (corrupt_ms >= 0 && now_ms() - ready_at >= (uint64_t)corrupt_ms) {
			uint8_t *p = region_b(0) + 2 * (hv.words / 2);

			put16(p, (uint16_t)~get16(p));
			fprintf(stderr, "vmsh_testhv: changed the word at gpa %#llx\n",
				(unsigned long long)(REGION_B_GPA + 2 * (hv.words / 2)));
			corrupt_ms = -1;
		}
	}

	/* Every vCPU must still make progress. */
	pthread_mutex_lock(&hv.lock);
	for (unsigned i = 0; i < hv.nvcpus; i++)
		before[i] = hv.vcpus[i].reports;
	pthread_mutex_unlock(&hv.lock);
	held_ms = now_ms();
	if (!wait_progress(before, (unsigned)timeout_ms)) {
		fprintf(stderr, "vmsh_testhv: the guest made no progress after SIGTERM\n");
		ok = false;
	}
	held_ms = now_ms() - held_ms;

stop:
	hv.stop = true;
	for (unsigned i = 0; i < hv.nvcpus; i++) {
		hv.vcpus[i].run->immediate_exit = 1;
		pthread_kill(hv.vcpus[i].thread, SIGUSR2);
	}
	for (unsigned i = 0; i < hv.nvcpus; i++)
		pthread_join(hv.vcpus[i].thread, NULL);

	for (unsigned i = 0; i < hv.nvcpus; i++) {
		struct vcpu *v = &hv.vcpus[i];
		unsigned bad = pattern_mismatches(i);
		uint32_t iter = get32(v->status + ST_ITER);

		if (v->failed)
			ok = false;
		if (bad) {
			fprintf(stderr, "vmsh_testhv: vcpu %u: %u words differ from the pattern\n",
				i, bad);
			ok = false;
		}
		if (get16(v->status + ST_FAIL)) {
			fprintf(stderr, "vmsh_testhv: vcpu %u: the guest reported a mismatch\n", i);
			ok = false;
		}
		if (iter < v->iter || iter - v->iter >= hv.every) {
			fprintf(stderr,
				"vmsh_testhv: vcpu %u: guest counter %u, last reported %u\n", i,
				iter, v->iter);
			ok = false;
		}
		fprintf(stderr, "vmsh_testhv: vcpu %u: %u iterations, %lu reports%s\n", i, iter,
			v->reports, v->failed ? ", FAILED" : "");
	}
	fprintf(stderr, "vmsh_testhv: %s (last progress check took %llu ms)\n",
		ok ? "ok" : "FAILED", (unsigned long long)held_ms);
	return ok ? 0 : 1;
}
