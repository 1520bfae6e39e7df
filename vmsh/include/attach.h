/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmsh attach, shared by its two files: attach.c sets up and tears down
 * (hypervisor, guest RAM, stage1, devices, vCPU entry) and attach_loop.c
 * runs the session (the KVM_RUN trap, devices, terminal, stage1 and stage2
 * status) until the command exits or vmsh is told to detach; once the
 * devices are probed, attach_steady.c takes the trap away (exit-less
 * registers) until detach.
 */
#ifndef VMSH_ATTACH_H
#define VMSH_ATTACH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

#include "guest.h"
#include "guestram.h"
#include "hv.h"
#include "hvmem.h"
#include "kbtf.h"
#include "kvmrun.h"
#include "loader.h"
#include "pagemap.h"
#include "stage2_proto.h"
#include "vcpu.h"
#include "virtio.h"

#define ATTACH_MAX_PHASES 20
#define ATTACH_EXIT_ERROR 125 /* vmsh itself failed (like docker run) */
#define ATTACH_CTL_SECTORS 8  /* the block device's control area: 4 KiB */
#define ATTACH_NQUEUES 3      /* blk: 0; console: 0 (rx), 1 (tx) */
#define ATTACH_IO_THREADS 16  /* --io-threads' default */

enum attach_dev { ATTACH_BLK, ATTACH_CON, ATTACH_NDEV };

struct attach_opts {
	pid_t pid;
	const char *image;    /* NULL: the default busybox image */
	const char *pts;      /* NULL: stdin/stdout */
	bool caps_none;	      /* CMD without capabilities (default: PID 1's) */
	bool always_trap;     /* no steady state: trap the vCPUs until detach */
	bool no_kernel_cache; /* analyse the kernel afresh, store nothing (kcache.h) */
	bool nice_set;	      /* --nice: run at niceness nice (default: attach.c's set_nice) */
	int nice;
	unsigned io_threads; /* the disk's (virtio_blk_opts) */
	char **cmd;	     /* NULL-terminated; default /bin/sh */
};

struct attach {
	struct attach_opts o;
	uint32_t nonce;
	char serial[24], stage2_path[64];

	/* the hypervisor and the guest */
	struct hv hv;
	bool held;
	struct hvmem hvmem;    /* ctx of the guest memory accessors */
	struct memslot *slots; /* address space 0, plus our RAM once added */
	size_t nslots;
	struct guest_mem mem;
	struct guest_mmu mmu;
	struct guest_kernel kernel;
	struct guest_layout layout; /* the kernel structs stage1 fills (kbtf.h) */

	/* what vmsh adds, in the order it is added */
	struct guestram_plan plan;
	struct guestram ram;
	struct stage1_image img;
	uint64_t abi_gpa;
	struct pagemap_undo undo;
	bool mapped;
	/* each device's interrupt line (irqline.c: two where two are free) */
	struct attach_irq {
		uint32_t gsi;
		struct guestram_eventfd efd;
		bool assigned;
	} irq[ATTACH_NDEV];
	struct guestram_eventfd ioev[ATTACH_NQUEUES];
	bool ioev_assigned[ATTACH_NQUEUES];
	uint64_t regs_gpa; /* in our RAM: the devices' register pages */
	int vcpu;	   /* the vCPU that took the entry, -1 before */
	bool entered;

	/* devices and the session */
	int image_fd;
	uint64_t image_size;
	bool image_read_only;
	struct virtio_dev *dev[ATTACH_NDEV];
	struct kvmrun trap;
	bool trapping;	  /* the vCPU threads are traced (maybe paused) */
	pid_t *trap_tids; /* nvcpus: what attach__hold leaves to the trap */
	/* the steady state (attach_steady.c) */
	bool steady, steady_tried;
	bool migrating;		  /* dirty logging seen while steady: detaching */
	struct memslot regs_slot; /* read-only, over both MMIO windows */
	bool regs_added;
	struct guestram_eventfd ack; /* InterruptACK writes of both devices */
	bool ack_assigned[ATTACH_NDEV];
	struct {
		uint32_t status, generation;
		bool config; /* InterruptStatus shows a config change, for good */
	} sync[ATTACH_NDEV]; /* what the register pages show */
	uint64_t steady_since_ns, steady_ns;
	uint64_t steady_cpu_ns;	     /* vmsh's CPU time: at entry, then while steady */
	unsigned long steady_ptrace; /* at entry; then: requests while steady */
	unsigned long irqs, steady_irqs;
	unsigned long mem_calls, steady_mem_calls; /* process_vm_readv/writev */
	unsigned long notifies, steady_notifies;   /* queue notifications */
	pid_t keeper_pid;			   /* attach_keeper.c, 0 when there is none */
	int keeper_fd;				   /* its pipe, -1 without one */
	bool keeper_said;			   /* that there can be none was said */
	int sigfd;				   /* SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGWINCH */
	int in_fd;				   /* keystrokes or piped input */
	int out_fd;				   /* the command's output */
	bool raw_tty; /* in_fd's terminal set raw; restored at the end */
	struct termios saved_tty;
	bool in_eof, eot_queued;
	char inbuf[4096];
	size_t inlen;
	char last_in; /* the last byte read from in_fd, 0 before any */
	uint32_t stage1_state;
	struct stage2_status st2;
	bool have_st2;
	int stop_signal; /* the signal that asked vmsh to detach, 0 if none */
	uint64_t t_start_ns, t_first_output_ns;
	/* -v: where the time from start to the end went (attach__phase) */
	struct attach_phase {
		const char *name;
		uint64_t ns;
	} phases[ATTACH_MAX_PHASES];
	unsigned nphases;
	uint64_t held_ns; /* the hypervisor was stopped this long, all holds together */
	unsigned holds;
};

/*
 * Note that phase NAME (a string literal) ends now; the first time only.
 * -v prints them all at the end, each with the time it took.
 */
void attach__phase(struct attach *a, const char *name);

/* attach_loop.c */
int attach__loop_init(struct attach *a);
/*
 * Serve the session until CMD exits, stage1 or stage2 fail, or a signal
 * asks vmsh to detach. Returns CMD's exit status, or ATTACH_EXIT_ERROR.
 */
int attach__run(struct attach *a);
/*
 * Ask stage1 to stop stage2 and unregister the devices, serving them
 * meanwhile. 0 once stage1 is done (its memory may then go), -ETIMEDOUT or
 * another negative errno if not (vmsh must then leave its memory in place).
 */
int attach__stop_guest(struct attach *a);
void attach__loop_fini(struct attach *a);

/*
 * In the keeper, which must not hold vmsh's terminal or pipes: input ends,
 * output goes to /dev/null, the terminal's modes are not touched (the
 * shell restores those of a job that a signal killed).
 */
void attach__loop_orphan(struct attach *a);

/* Raise every device's interrupt (irqfd), the register pages updated first. */
void attach__notify_irq(struct attach *a);
/*
 * Trace the vCPU threads (the KVM_RUN trap), paused or running; 0 or a
 * negative errno.
 */
int attach__start_trap(struct attach *a, bool paused);

/* attach_steady.c */
/*
 * Leave the trap for exit-less registers if both devices are live (and
 * steady state is possible and wanted). 0 when steady, or still trapping
 * after a failure it reported; a negative errno if neither.
 */
int attach__steady_enter(struct attach *a);
/* Back to the trap, before the guest removes the devices. 0 or -errno. */
int attach__steady_leave(struct attach *a);
/*
 * While steady: whether the hypervisor turned on dirty logging for the
 * kernel's RAM since (live migration, savevm), seen by the memslot probe
 * when the hypervisor issues its own VM ioctls; costs one load when nothing
 * happened. -EBUSY (reported once, a->migrating set, and a->stop_signal set
 * to SIGTERM if unset, so that the session detaches) or 0. Called from
 * attach__steady_sync (each interrupt); the loop may call it every tick.
 */
int attach__steady_check(struct attach *a);
/* Bring the register pages up to date with the devices (steady only). */
void attach__steady_sync(struct attach *a);
/* Remove the read-only slot and the InterruptACK ioeventfds (held). */
int attach__steady_remove(struct attach *a);

/* attach_keeper.c */
/*
 * Fork the keeper: a copy of vmsh that detaches in its place if vmsh ends
 * without detaching. Only while vmsh changes nothing in the hypervisor but
 * guest memory and the trap's registers: once both devices are live, until
 * a steady-state transition or the detach (which stop it first). Without
 * one (fork failed) the session goes on, and says so once.
 */
void attach__keeper_start(struct attach *a);
/* Tell the keeper to exit and reap it; none: nothing. */
void attach__keeper_stop(struct attach *a);
/* stage2's last status as the control area holds it (the keeper's copy is older). */
void attach__stage2_status(struct attach *a);

/* attach.c */
/*
 * Stop CMD and stage1 in the guest, then take back everything vmsh added.
 * 0, or -EIO when something had to stay (said).
 */
int attach__detach(struct attach *a);
/*
 * Stop every thread of the hypervisor (for injection), and let it go. With
 * the trap on, it must be paused: its vCPU threads stay its own.
 */
int attach__hold(struct attach *a);
int attach__release(struct attach *a);
int attach__read_abi(struct attach *a, size_t off, void *buf, size_t len);
int attach__write_abi(struct attach *a, size_t off, const void *buf, size_t len);
/* A signal that asks vmsh to detach arrived (read without blocking). */
bool attach__interrupted(struct attach *a);

#endif
