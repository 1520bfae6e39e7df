/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmsh attach, shared by its two files: attach.c sets up and tears down
 * (hypervisor, guest RAM, stage1, devices, vCPU entry) and attach_loop.c
 * runs the session (the KVM_RUN trap, devices, terminal, stage1 and stage2
 * status) until the command exits or vmsh is told to detach.
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
#include "kvmrun.h"
#include "loader.h"
#include "pagemap.h"
#include "stage2_proto.h"
#include "vcpu.h"
#include "virtio.h"

#define ATTACH_EXIT_ERROR 125 /* vmsh itself failed (like docker run) */
#define ATTACH_CTL_SECTORS 8  /* the block device's control area: 4 KiB */
#define ATTACH_NQUEUES 3      /* blk: 0; console: 0 (rx), 1 (tx) */

enum attach_dev { ATTACH_BLK, ATTACH_CON, ATTACH_NDEV };

struct attach_opts {
	pid_t pid;
	const char *image; /* NULL: the default busybox image */
	const char *pts;   /* NULL: stdin/stdout */
	bool caps_none;	   /* CMD without capabilities (default: PID 1's) */
	char **cmd;	   /* NULL-terminated; default /bin/sh */
};

struct attach {
	struct attach_opts o;
	uint32_t nonce;
	char serial[24], stage2_path[64];

	/* the hypervisor and the guest */
	struct hv hv;
	bool held;
	pid_t hv_pid;	       /* ctx of the process_vm_* accessors */
	struct memslot *slots; /* address space 0, plus our RAM once added */
	size_t nslots;
	struct guest_mem mem;
	struct guest_mmu mmu;
	struct guest_kernel kernel;

	/* what vmsh adds, in the order it is added */
	struct guestram_plan plan;
	struct guestram ram;
	struct stage1_image img;
	uint64_t abi_gpa;
	struct pagemap_undo undo;
	bool mapped;
	uint32_t gsi;
	struct guestram_eventfd irq;
	bool irq_assigned;
	struct guestram_eventfd ioev[ATTACH_NQUEUES];
	bool ioev_assigned[ATTACH_NQUEUES];
	int vcpu; /* the vCPU that took the entry, -1 before */
	bool entered;

	/* devices and the session */
	int image_fd;
	uint64_t image_size;
	bool image_read_only;
	struct virtio_dev *dev[ATTACH_NDEV];
	struct kvmrun trap;
	bool trapping;
	int sigfd;    /* SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGWINCH */
	int in_fd;    /* keystrokes or piped input */
	int out_fd;   /* the command's output */
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
	uint64_t held_ns; /* the hypervisor was stopped this long, all holds together */
	unsigned holds;
};

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

/* attach.c */
int attach__read_abi(struct attach *a, size_t off, void *buf, size_t len);
int attach__write_abi(struct attach *a, size_t off, const void *buf, size_t len);
/* A signal that asks vmsh to detach arrived (read without blocking). */
bool attach__interrupted(struct attach *a);

#endif
