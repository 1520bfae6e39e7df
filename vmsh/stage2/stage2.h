/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stage2: the program that vmsh's in-kernel stage1 starts in the guest with
 * call_usermodehelper. Internal to stage2 (a static musl program): stage2.c
 * has the flow, the status reports and the command; ns.c the guest's devices,
 * namespaces and the mount namespace whose root is the image.
 */
#ifndef VMSH_STAGE2_H
#define VMSH_STAGE2_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { NS_PID, NS_NET, NS_UTS, NS_IPC, NS_CGROUP, NS_USER, NS_MNT, NS_COUNT };

struct stage2 {
	/* command line */
	const char *serial;
	const char *device; /* vmsh's disk's platform device, virtio-mmio.ID */
	uint64_t ctl_off;
	const char *console;
	bool caps_none;
	bool read_only; /* mount the image read-only (vmsh could not write it) */
	bool tty_pipe;	/* vmsh's input is a pipe: CMD gets pipes, relayed to the console */
	int pipe_in[2], pipe_out[2];
	char pend[4096]; /* input CMD's pipe did not take yet */
	size_t pend_len;
	char **envs;
	int nenvs;
	char **cmd;

	uint32_t seq;
	int ctl_fd;	     /* the vmsh disk, O_DIRECT: status messages */
	int blk_fd;	     /* the vmsh disk, O_PATH: the source of the image mount */
	int con_fd;	     /* the console, O_RDWR|O_NOCTTY */
	int kmsg_fd;	     /* /dev/kmsg, or -1 */
	int proc_fd;	     /* a procfs of the initial pid namespace */
	int ns_fd[NS_COUNT]; /* PID 1's namespaces; -1 where they are ours */
	int root1_fd;	     /* PID 1's root directory */
	pid_t child;

	/* PID 1's credentials, in PID 1's user namespace */
	uint64_t cap_eff, cap_inh;
	uid_t uid;
	gid_t gid;
};

/* Log "vmsh-stage2: ..." to the kernel log (and stderr when run by hand). */
void stage2__log(struct stage2 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report FAILED (step, errno err, message), clean up, exit(1). */
void stage2__die(struct stage2 *s, const char *step, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* ns.c: each step dies with a report on failure. */
void ns__early_view(struct stage2 *s);	 /* /proc /sys /dev, private mount ns */
void ns__open_devices(struct stage2 *s); /* the disk and the console */
void ns__read_pid1(struct stage2 *s);	 /* namespaces, credentials */
void ns__build_root(struct stage2 *s);	 /* the image as /, the VM at /var/lib/vmsh */
/* In the child, before exec: /proc, the other namespaces, credentials. */
int ns__enter_child(struct stage2 *s, const char **step);

/* Read a small file relative to dirfd, NUL-terminated, trailing newline cut. */
ssize_t stage2__read_file(int dirfd, const char *path, char *buf, size_t len);

#endif
