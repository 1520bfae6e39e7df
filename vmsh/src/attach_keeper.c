// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh attach's keeper: what detaches when vmsh cannot (issue 19).
 *
 * A vmsh that ends without detaching (SIGKILL, the OOM killer, a crash)
 * would leave the guest with two devices nobody serves: a request to the
 * disk never completes (a sync or a read of the tools image hangs in D
 * state), and a write to the hvc console busy-waits with interrupts off for
 * a host that never takes the buffer (virtio_console's __send_to_port),
 * which can wedge a vCPU. vmsh's RAM, stage1 and its fds also stay in the
 * hypervisor.
 *
 * So once the hypervisor is set up, just before vmsh tells stage1 to go,
 * vmsh forks a keeper: a copy of itself that sleeps on a pipe. From then on
 * vmsh changes nothing in the hypervisor but guest memory and, while it
 * traps the vCPUs, their registers; the trap ends with vmsh (ptrace lets a
 * dead tracer's threads go). So the keeper's copy of everything vmsh added
 * stays exact. What moves on is shared or read back: the devices live in
 * shared memory (virtio_dev__alloc), so the keeper finds them as vmsh left
 * them, registers and queues included; a request vmsh had popped and not
 * finished is found from the guest's used rings (virtio_mmio__resync), and
 * stage2's status from the block device's control area. vmsh stops the
 * keeper (a byte on the pipe) before it changes the hypervisor again:
 * around the steady state's entry (then a new one is forked) and before it
 * detaches. If the pipe ends without that byte and vmsh is gone, the keeper
 * detaches in its place exactly as vmsh does on SIGTERM: it traps the vCPUs
 * again unless steady, serves the devices, stage1 stops CMD and removes the
 * devices (or, told to stop before it went, never adds them), and every
 * memslot, mapping and fd goes; then it exits. Its messages go to vmsh's
 * stderr; the guest's output is dropped.
 *
 * Not covered: a vmsh killed before that point (the first second or two
 * of an attach: the guest then has no device of vmsh's; stage1, told
 * nothing, gives up waiting for its go), while it enters the steady state
 * (a few ms), or while it detaches. And guest accesses to the devices'
 * registers between vmsh's death and the keeper's trap (milliseconds; the
 * access vmsh was serving, too) reach the hypervisor as accesses to
 * unassigned memory: a read gives 0 (a probe then fails), a write is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "util.h"

#define KEEPER_STAND_DOWN 'q'
#define KEEPER_EXIT_WAIT_MS 10000 /* from the pipe's end to vmsh's exit */

/*
 * Whether vmsh is gone: its fds close before it is reaped, so the pipe's
 * end comes a little before; its pidfd says when it has exited.
 */
static bool keeper__vmsh_gone(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, KEEPER_EXIT_WAIT_MS);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* The keeper's life: wait for vmsh to end; detach if it did not say it would. */
static void keeper__main(struct attach *a, int fd, pid_t vmsh, int pidfd)
{
	char c = 0;
	ssize_t n;
	int err = 0;

	/* out of the terminal's process group: Ctrl-C is vmsh's business */
	setsid();
	prctl(PR_SET_NAME, "vmsh-keeper");
	/* nothing of vmsh's terminal or pipes: a reader of them sees vmsh's end */
	attach__loop_orphan(a);
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0 || !keeper__vmsh_gone(pidfd))
		_exit(0); /* vmsh detaches itself (or closed the pipe and lives on) */

	pr_err("attach: vmsh (pid %d) ended without detaching; its keeper (pid %d) detaches in "
	       "its place",
	       (int)vmsh, (int)getpid());
	attach__stage2_status(a);
	if (!a->steady) {
		/* vmsh's trap ended with it: the keeper traces the vCPUs now */
		a->trapping = false;
		err = attach__start_trap(a, false);
		if (err) {
			pr_err("attach: keeper: cannot trap the vCPUs (%s): nothing done, the "
			       "devices stay unserved",
			       strerror(-err));
			_exit(1);
		}
	}
	for (int d = 0; !err && d < ATTACH_NDEV; d++)
		err = virtio_mmio__resync(a->dev[d]);
	if (err) {
		pr_err(
		    "attach: keeper: the guest's rings cannot be read: nothing done, the devices "
		    "stay unserved");
		_exit(1);
	}
	/* what vmsh had not taken yet, and the interrupts it may not have sent */
	for (unsigned int q = 0; q < ATTACH_NQUEUES; q++)
		virtio_mmio__queue_notify(a->dev[q == 0 ? ATTACH_BLK : ATTACH_CON],
					  q == 0 ? 0 : q - 1);
	a->stop_signal = SIGKILL;
	err = attach__detach(a);
	if (!err)
		pr_err("attach: keeper: detached: CMD stopped, the devices removed from the guest, "
		       "the hypervisor as it was");
	attach__loop_fini(a);
	fflush(stderr);
	_exit(err ? 1 : 0);
}

static int keeper__fork(struct attach *a)
{
	pid_t vmsh = getpid(), pid;
	int p[2], pidfd, err;

	/* opened here, so that it cannot name another process that took vmsh's pid */
	pidfd = (int)syscall(SYS_pidfd_open, vmsh, 0);
	if (pidfd < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC)) {
		err = -errno;
		close(pidfd);
		return err;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		close(pidfd);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		keeper__main(a, p[0], vmsh, pidfd);
	}
	close(p[0]);
	close(pidfd);
	a->keeper_pid = pid;
	a->keeper_fd = p[1];
	return 0;
}

void attach__keeper_start(struct attach *a)
{
	int err = keeper__fork(a);

	if (!err)
		pr_info("keeper pid %d detaches in vmsh's place should vmsh be killed",
			(int)a->keeper_pid);
	else if (!a->keeper_said)
		pr_err("attach: no keeper (%s): should vmsh be killed, the guest's devices stay "
		       "unserved",
		       strerror(-err));
	if (err)
		a->keeper_said = true;
}

void attach__keeper_stop(struct attach *a)
{
	char c = KEEPER_STAND_DOWN;

	if (a->keeper_fd < 0)
		return;
	if (write(a->keeper_fd, &c, 1) != 1)
		pr_debug("keeper: %s", strerror(errno));
	close(a->keeper_fd);
	a->keeper_fd = -1;
	/* it exits as soon as it reads the byte */
	while (waitpid(a->keeper_pid, NULL, 0) < 0 && errno == EINTR)
		;
	a->keeper_pid = 0;
}
