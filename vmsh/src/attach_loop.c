// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh attach's session: one thread (the ptrace tracer of the vCPU threads)
 * polls a signalfd (SIGCHLD = a vCPU thread stopped: MMIO exits to serve;
 * SIGINT/SIGTERM/SIGHUP = detach; SIGWINCH = resize), the ioeventfds (queue
 * notifications), the terminal or pipe, and every 20 ms the state stage1
 * keeps in guest memory. stage2's messages arrive as writes to the block
 * device's control area. Devices are only ever touched from this thread.
 *
 * Nothing the user's terminal does may stop this thread while it traces the
 * vCPUs, since every vCPU that exits then waits for it (issue 19, finding
 * 7):
 *   - Job control: SIGTSTP is blocked and read from the signalfd: vmsh says
 *     once that it ignores Ctrl-Z (stopping would freeze the VM) and goes
 *     on. With a terminal on stdin, which is raw, Ctrl-Z is just a byte
 *     for the guest's terminal: CMD's shell there gets it. SIGTTIN and
 *     SIGTTOU are ignored (attach.c). SIGSTOP cannot be caught: never send
 *     it to vmsh.
 *   - Output: the terminal or pipe is written through a non-blocking file
 *     description of its own (reopened by /proc/self/fd, so the shell's is
 *     left blocking), stderr too. vmsh takes the guest's output at once, in
 *     every phase, and never waits for the terminal: the guest's hvc
 *     console spins with interrupts off until the host takes each buffer
 *     (virtio_console's __send_to_port), so a host that waited for a
 *     terminal nobody reads froze a vCPU, and with it the guest
 *     (attach_jobctl.bats). What the terminal has not taken waits in a ring
 *     of OUT_BUF bytes, flushed whenever the terminal can take more; beyond
 *     that, output is dropped (and counted, and said at the end).
 *   - SIGINT/SIGTERM/SIGHUP end any such wait at once. From any state, vmsh
 *     starts to detach within a tick (20 ms; 200 ms steady) and exits within
 *     STOP_TIMEOUT_MS (30 s: stage1 gives stage2 at most 10 + 10 s) plus
 *     the teardown's hold plus OUT_FLUSH_MS (2 s) of last output, with the
 *     VM running.
 *   - Not done: the block device's image I/O (virtio_blk.c) is still
 *     synchronous on this thread; on a local image it is short.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "util.h"

#define TICK_MS 20
#define STEADY_TICK_MS 200	/* steady: events wake vmsh; the tick only looks at stage1 */
#define ENTER_TIMEOUT_MS 10000	/* the vCPU runs stage1's entry */
#define READY_TIMEOUT_MS 120000 /* stage2 started (nested lab hosts are slow) */
#define STOP_TIMEOUT_MS 30000	/* stage1 stopped stage2 and unregistered */
#define ERROR_GRACE_MS 100	/* stage1's entry returns after its ERROR */
#define PROBE_TIMEOUT_MS 3000	/* a driver probes a device as it is added */
#define EOT 0x04		/* ^D: end of input for the guest's terminal */
#define OUT_BUF (16u << 20)	/* the guest's output the terminal did not take yet */
#define OUT_FLUSH_MS 2000	/* at the end, the terminal gets this long to take it */

/* The output side of the one session of this process (see the top). */
static struct {
	int fd;		/* non-blocking where it could be made so; a->out_fd */
	bool own_fd;	/* fd was opened here */
	bool sock;	/* send(MSG_DONTWAIT) */
	bool told_tstp; /* the Ctrl-Z message was printed */
	char *buf;	/* a ring of OUT_BUF bytes: len of them from head on */
	size_t head, len;
	uint64_t dropped;
} out = { .fd = -1 };

static uint64_t now_ms(void)
{
	return util__now_ns() / 1000000;
}

/* Raise device d's line. */
static void raise_line(struct attach *a, int d)
{
	struct attach_irq *line = &a->irq[d];
	uint64_t one = 1;

	attach__steady_sync(a); /* what the guest will read, before it is told to */
	a->irqs++;
	if (line->efd.fd >= 0 && write(line->efd.fd, &one, sizeof(one)) < 0)
		pr_debug("irqfd write (GSI %u): %s", line->gsi, strerror(errno));
}

/* A line two devices share is raised once. */
void attach__notify_irq(struct attach *a)
{
	for (int d = 0; d < ATTACH_NDEV; d++)
		if (d == 0 || a->irq[d].gsi != a->irq[d - 1].gsi)
			raise_line(a, d);
}

static void notify_irq(void *ctx, struct virtio_dev *dev)
{
	struct attach *a = ctx;

	raise_line(a, dev == a->dev[ATTACH_CON] ? ATTACH_CON : ATTACH_BLK);
}

/* write(2) that never blocks on out.fd; -1 with errno set, EAGAIN when full */
static ssize_t out_write(const void *buf, size_t len)
{
	ssize_t n;

	do
		n = out.sock ? send(out.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
			     : write(out.fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* As much of the ring as the terminal takes now; false if it is gone. */
static bool out_flush(void)
{
	while (out.len) {
		size_t run = out.len < OUT_BUF - out.head ? out.len : OUT_BUF - out.head;
		ssize_t n = out_write(out.buf + out.head, run);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0) { /* a closed terminal drops output */
			out.len = out.head = 0;
			return false;
		}
		out.head = (out.head + (size_t)n) % OUT_BUF;
		out.len -= (size_t)n;
	}
	out.head = 0;
	return true;
}

static ssize_t console_output(void *ctx, const void *buf, size_t len)
{
	struct attach *a = ctx;
	const char *p = buf;
	size_t left = len;

	pr_debug("console: %zu bytes from the guest", len);
	if (!a->t_first_output_ns) {
		a->t_first_output_ns = util__now_ns();
		attach__phase(a, "first output");
	}
	if (!out_flush())
		return (ssize_t)len;
	if (!out.len) {
		ssize_t n = out_write(p, left);

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return (ssize_t)len; /* a closed terminal drops output */
		if (n > 0) {
			p += n;
			left -= (size_t)n;
		}
	}
	while (left && out.len < OUT_BUF) {
		size_t tail = (out.head + out.len) % OUT_BUF;
		size_t room = tail >= out.head ? OUT_BUF - tail : out.head - tail;
		size_t take = left < room ? left : room;

		memcpy(out.buf + tail, p, take);
		out.len += take;
		p += take;
		left -= take;
	}
	if (left && !out.dropped)
		pr_debug("console: the terminal does not keep up: dropping output");
	out.dropped += left;
	return (ssize_t)len;
}

/*
 * The output's own non-blocking file description: a terminal or a pipe is
 * reopened through /proc/self/fd (O_NONBLOCK on the shared one would reach
 * the shell too); a socket gets MSG_DONTWAIT; anything else (a file) is
 * written as it is.
 */
static int out_open(int fd)
{
	struct stat st;
	char path[32];
	int nfd;

	out.fd = fd;
	out.own_fd = out.sock = false;
	if (fstat(fd, &st))
		return fd;
	if (S_ISSOCK(st.st_mode)) {
		out.sock = true;
		return fd;
	}
	if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0) {
		pr_debug("attach: cannot reopen fd %d non-blocking: %s", fd, strerror(errno));
		return fd;
	}
	out.fd = nfd;
	out.own_fd = true;
	return nfd;
}

/* vmsh's own messages (stderr) must not block either: they are dropped instead. */
static void stderr_nonblocking(void)
{
	struct stat st;
	int fd;

	if (fstat(STDERR_FILENO, &st) || (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)))
		return;
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	if (fd != STDERR_FILENO) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

/* Ctrl-Z and friends: see the top. The signalfd gets SIGTSTP too. */
static int block_job_control(struct attach *a)
{
	sigset_t tstp, mask;

	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	if (sigprocmask(SIG_BLOCK, &tstp, &mask))
		return -errno;
	sigaddset(&mask, SIGTSTP);
	if (signalfd(a->sigfd, &mask, SFD_CLOEXEC | SFD_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void console_rx_ready(void *ctx)
{
	(void)ctx; /* the loop retries pending input on every turn */
}

/* stage2 wrote its status sector: keep the newest message. */
static void ctl_written(void *ctx, uint64_t offset, const void *data, size_t len)
{
	struct attach *a = ctx;
	unsigned char sector[STAGE2_PROTO_SECTOR];
	struct stage2_status s;
	int err;

	(void)data;
	(void)len;
	if (offset >= STAGE2_PROTO_SECTOR ||
	    virtio_blk__ctl_read(a->dev[ATTACH_BLK], 0, sector, sizeof(sector)))
		return;
	err = stage2_proto__decode(sector, sizeof(sector), &s);
	if (err) {
		if (err != -ENODATA)
			pr_err("attach: a bad status message from the guest: %s", strerror(-err));
		return;
	}
	if (a->have_st2 && s.seq <= a->st2.seq)
		return;
	a->st2 = s;
	a->have_st2 = true;
	pr_debug("stage2 status %u (seq %u)", s.state, s.seq);
	pr_info("stage2: %s (pid %u)%s%s", stage2_proto__state_name(s.state), s.pid,
		s.msg[0] ? ": " : "", s.msg);
	if (s.state == STAGE2_RUNNING)
		attach__phase(a, "stage2 to the command");
	if (s.state == STAGE2_STARTED) {
		int32_t pid = (int32_t)s.pid;
		attach__write_abi(a, offsetof(struct stage1_abi, stage2_pid), &pid, sizeof(pid));
	}
}

void attach__stage2_status(struct attach *a)
{
	ctl_written(a, 0, NULL, 0);
}

int attach__loop_init(struct attach *a)
{
	struct winsize ws = { .ws_col = 80, .ws_row = 24 };
	struct virtio_blk_opts blk = { .host = { notify_irq, a },
				       .fd = a->image_fd,
				       .read_only = a->image_read_only,
				       .serial = a->serial,
				       .ctl_sectors = ATTACH_CTL_SECTORS,
				       .ctl_written = ctl_written,
				       .io_threads = a->o.io_threads };
	struct virtio_console_opts con = { .host = { notify_irq, a },
					   .output = console_output,
					   .rx_ready = console_rx_ready };
	int err;

	err = block_job_control(a);
	if (err) {
		pr_err("attach: cannot block SIGTSTP: %s", strerror(-err));
		return err;
	}
	out.buf = malloc(OUT_BUF);
	if (!out.buf)
		return -ENOMEM;
	out.head = out.len = 0;
	out.dropped = 0;
	out.told_tstp = false;
	if (a->o.pts) {
		a->in_fd = open(a->o.pts, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (a->in_fd < 0 || !isatty(a->in_fd)) {
			pr_err("attach: %s is not a terminal vmsh can open: %s", a->o.pts,
			       strerror(errno ? errno : ENOTTY));
			return -EINVAL;
		}
		a->out_fd = a->in_fd;
		out.fd = a->out_fd;
	} else {
		a->in_fd = STDIN_FILENO;
		a->out_fd = out_open(STDOUT_FILENO);
	}
	stderr_nonblocking();
	if (isatty(a->in_fd))
		ioctl(a->in_fd, TIOCGWINSZ, &ws);
	con.cols = ws.ws_col ? ws.ws_col : 80;
	con.rows = ws.ws_row ? ws.ws_row : 24;
	err = virtio_blk__create(&a->dev[ATTACH_BLK], &blk);
	if (!err)
		err = virtio_console__create(&a->dev[ATTACH_CON], &con);
	if (err)
		pr_err("attach: cannot create the devices: %s", strerror(-err));
	return err;
}

void attach__loop_orphan(struct attach *a)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (out.own_fd)
		close(out.fd);
	if (a->o.pts && a->in_fd >= 0)
		close(a->in_fd);
	out.fd = a->in_fd = a->out_fd = null;
	out.own_fd = null >= 0 && !a->o.pts; /* else loop_fini closes it as in_fd */
	out.sock = false;
	out.head = out.len = 0;
	a->raw_tty = false;
	a->in_eof = a->eot_queued = true;
	a->inlen = 0;
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
}

void attach__loop_fini(struct attach *a)
{
	/* the VM is released: the terminal gets a last, bounded, chance */
	uint64_t until = now_ms() + OUT_FLUSH_MS;

	while (out.fd >= 0 && out.len && out_flush() && out.len && now_ms() < until) {
		struct pollfd pfd = { .fd = out.fd, .events = POLLOUT };

		poll(&pfd, 1, (int)(until - now_ms()));
	}
	out.dropped += out.len;
	if (out.dropped)
		pr_err("attach: the terminal did not keep up: %" PRIu64
		       " bytes of the guest's output were dropped",
		       out.dropped);
	/* TCSANOW: draining could wait for ever on a terminal nobody reads */
	if (a->raw_tty)
		tcsetattr(a->in_fd, TCSANOW, &a->saved_tty);
	a->raw_tty = false;
	for (int d = 0; d < ATTACH_NDEV; d++) {
		virtio_dev__free(a->dev[d]);
		a->dev[d] = NULL;
	}
	if (a->o.pts && a->in_fd >= 0)
		close(a->in_fd);
	if (out.own_fd)
		close(out.fd);
	out.own_fd = false;
	out.fd = -1;
	free(out.buf);
	out.buf = NULL;
	out.head = out.len = 0;
	a->in_fd = a->out_fd = -1;
}

static struct virtio_dev *device_at(struct attach *a, uint64_t gpa, uint64_t *offset)
{
	for (int d = 0; d < ATTACH_NDEV; d++) {
		if (gpa >= a->plan.mmio_gpa[d] && gpa - a->plan.mmio_gpa[d] < GUESTRAM_MMIO_SIZE) {
			*offset = gpa - a->plan.mmio_gpa[d];
			return a->dev[d];
		}
	}
	return NULL;
}

static bool trap_claims(void *ctx, uint64_t gpa, uint32_t len)
{
	uint64_t off = 0;

	return device_at(ctx, gpa, &off) && off + len <= GUESTRAM_MMIO_SIZE;
}

static void trap_serve(void *ctx, uint64_t gpa, uint8_t data[8], uint32_t len, bool is_write)
{
	uint64_t off = 0;
	struct virtio_dev *dev = device_at(ctx, gpa, &off);

	if (!dev)
		return; /* claimed: cannot happen */
	if (is_write) {
		virtio_mmio__write(dev, off, data, len);
	} else {
		memset(data, 0, 8);
		virtio_mmio__read(dev, off, data, len);
	}
}

static void resize(struct attach *a);

static void take_signals(struct attach *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			resize(a);
		} else if (si.ssi_signo == SIGTSTP) {
			if (!out.told_tstp)
				pr_err("attach: Ctrl-Z (SIGTSTP) ignored: a stopped vmsh would "
				       "freeze the VM; SIGINT or SIGTERM detach");
			out.told_tstp = true;
		} else if (si.ssi_signo != SIGCHLD && !a->stop_signal) {
			a->stop_signal = (int)si.ssi_signo;
		}
	}
}

static void resize(struct attach *a)
{
	struct winsize ws;

	if (isatty(a->in_fd) && !ioctl(a->in_fd, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row)
		virtio_console__resize(a->dev[ATTACH_CON], ws.ws_col, ws.ws_row);
}

/* Pending input to the guest's console, as far as its buffers take it. */
static void push_input(struct attach *a)
{
	while (a->inlen) {
		ssize_t n = virtio_console__input(a->dev[ATTACH_CON], a->inbuf, a->inlen);

		if (n <= 0)
			return;
		memmove(a->inbuf, a->inbuf + n, a->inlen - (size_t)n);
		a->inlen -= (size_t)n;
	}
}

/*
 * One turn of the loop: wait up to ms (a tick: TURN_TICK) for anything,
 * handle it. Returns 0, or -ESRCH when the hypervisor is gone.
 */
#define TURN_TICK -1
static int turn(struct attach *a, bool take_input, int ms)
{
	struct pollfd pfd[4 + ATTACH_NQUEUES];
	int n = 0, in_slot = -1, out_slot = -1, done_slot = -1;
	int done_fd = virtio_dev__completion_fd(a->dev[ATTACH_BLK]);

	pfd[n++] = (struct pollfd){ .fd = a->sigfd, .events = POLLIN };
	for (int q = 0; q < ATTACH_NQUEUES; q++)
		pfd[n++] = (struct pollfd){ .fd = a->ioev[q].fd, .events = POLLIN };
	if (done_fd >= 0) {
		done_slot = n;
		pfd[n++] = (struct pollfd){ .fd = done_fd, .events = POLLIN };
	}
	if (take_input && !a->in_eof && a->inlen < sizeof(a->inbuf)) {
		in_slot = n;
		pfd[n++] = (struct pollfd){ .fd = a->in_fd, .events = POLLIN };
	}
	if (out.len && out.fd >= 0) {
		out_slot = n;
		pfd[n++] = (struct pollfd){ .fd = out.fd, .events = POLLOUT };
	}
	if (ms == TURN_TICK)
		ms = a->steady ? STEADY_TICK_MS : TICK_MS;
	if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR)
		return -errno;

	if (pfd[0].revents & POLLIN)
		take_signals(a);
	if (out_slot >= 0 && (pfd[out_slot].revents & (POLLOUT | POLLERR | POLLHUP)))
		out_flush();
	/* stops may have come without a SIGCHLD of their own (they coalesce) */
	if (a->trapping && kvmrun__dispatch(&a->trap)) {
		pr_err("attach: the hypervisor's vCPU threads are gone");
		a->trapping = false;
		return -ESRCH;
	}
	for (int q = 0; q < ATTACH_NQUEUES; q++) {
		uint64_t count;

		if (!(pfd[1 + q].revents & POLLIN) ||
		    read(a->ioev[q].fd, &count, sizeof(count)) != sizeof(count))
			continue;
		a->notifies++;
		virtio_mmio__queue_notify(a->dev[q == 0 ? ATTACH_BLK : ATTACH_CON],
					  q == 0 ? 0 : (uint32_t)q - 1);
	}
	/* the disk's requests done on its I/O threads */
	if (done_slot >= 0 && (pfd[done_slot].revents & POLLIN))
		virtio_mmio__complete(a->dev[ATTACH_BLK], false);
	if (in_slot >= 0 && (pfd[in_slot].revents & (POLLIN | POLLHUP))) {
		ssize_t r = read(a->in_fd, a->inbuf + a->inlen, sizeof(a->inbuf) - a->inlen);

		if (r > 0) {
			a->inlen += (size_t)r;
			a->last_in = a->inbuf[a->inlen - 1];
		} else if (r == 0 || errno != EAGAIN) {
			a->in_eof = true;
		}
	}
	/* a pipe ended: the guest's canonical terminal gets end-of-input, which
	 * takes a second ^D after a line without its newline */
	if (a->in_eof && !a->eot_queued && !isatty(a->in_fd) && a->inlen + 2 <= sizeof(a->inbuf)) {
		if (a->last_in && a->last_in != '\n')
			a->inbuf[a->inlen++] = EOT;
		a->inbuf[a->inlen++] = EOT;
		a->eot_queued = true;
	}
	push_input(a);
	return 0;
}

/*
 * -v: where stage1's time went in the guest, by the guest's own clock (a
 * poll from here would see each state only at a tick): each step from the
 * previous one, from the entry on.
 */
static void print_stage1_times(struct attach *a)
{
	static const char *const step[STAGE1_STATES] = {
		[STAGE1_WORK_STARTED] = "work item started",
		[STAGE1_MODULES] = "modules loaded",
		[STAGE1_DEVICES] = "devices probed",
		[STAGE1_STAGE2_WRITTEN] = "stage2 written",
		[STAGE1_STAGE2_STARTED] = "stage2 started",
		[STAGE1_READY] = "ready",
	};
	uint64_t ns[STAGE1_STATES], prev;
	char line[512];
	size_t n = 0;

	if (attach__read_abi(a, offsetof(struct stage1_abi, state_ns), ns, sizeof(ns)) ||
	    !ns[STAGE1_ENTERED])
		return;
	prev = ns[STAGE1_ENTERED];
	for (unsigned i = STAGE1_ENTERED + 1; i <= STAGE1_READY && n < sizeof(line); i++) {
		if (!step[i] || ns[i] < prev)
			continue;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s %.1f ms", n ? ", " : "",
				      step[i], (double)(ns[i] - prev) / 1e6);
		prev = ns[i];
	}
	pr_info("stage1 in the guest, from its entry: %s", line);
}

static int read_stage1(struct attach *a)
{
	uint32_t state;
	int err = attach__read_abi(a, offsetof(struct stage1_abi, state), &state, sizeof(state));

	if (!err && state != a->stage1_state) {
		a->stage1_state = state;
		if (state == STAGE1_DEVICES)
			attach__phase(a, "stage1 to its devices");
		else if (state == STAGE1_READY) {
			attach__phase(a, "stage1 ready");
			if (vmsh_verbose)
				print_stage1_times(a);
		}
	}
	return err;
}

static void report_stage1_error(struct attach *a)
{
	struct stage1_abi abi;

	if (attach__read_abi(a, 0, &abi, sizeof(abi)))
		return;
	if (abi.failed_step)
		pr_err("attach: stage1 failed in the guest at step %u: %s", abi.failed_step,
		       strerror(abi.error < 0 ? -abi.error : abi.error));
	if (abi.stage2_left)
		pr_err("attach: the guest still has %.*s (removing it gave %d): remove it there",
		       STAGE1_PATH_LEN, abi.stage2_path, abi.stage2_left);
	for (uint32_t i = 0; i < abi.nmodules && i < STAGE1_MAX_MODULES; i++)
		if (abi.module_err[i])
			pr_err("attach: loading %.*s in the guest gave %d", STAGE1_MODULE_LEN,
			       abi.modules[i], abi.module_err[i]);
}

int attach__start_trap(struct attach *a, bool paused)
{
	free(a->trap.vcpus);
	a->trap = (struct kvmrun){ .pid = a->o.pid,
				   .nvcpus = a->hv.nvcpus,
				   .claims = trap_claims,
				   .serve = trap_serve,
				   .ctx = a };
	a->trap.vcpus = calloc(a->hv.nvcpus, sizeof(*a->trap.vcpus));
	free(a->trap_tids);
	a->trap_tids = calloc(a->hv.nvcpus, sizeof(*a->trap_tids));
	if (!a->trap.vcpus || !a->trap_tids)
		return -ENOMEM;
	for (size_t i = 0; i < a->hv.nvcpus; i++)
		a->trap.vcpus[i] = (struct kvmrun_vcpu){ .index = a->hv.vcpus[i].index,
							 .fd = a->hv.vcpus[i].fd,
							 .tid = a->hv.vcpus[i].tid };
	int err = kvmrun__find_runs(a->o.pid, a->trap.vcpus, a->trap.nvcpus);
	if (!err)
		err = paused ? kvmrun__start_paused(&a->trap) : kvmrun__start(&a->trap);
	if (!err)
		a->trapping = true;
	return err;
}

int attach__run(struct attach *a)
{
	uint32_t go = STAGE1_REQ_GO;
	uint64_t start = now_ms(), next_tick = 0, devices_since = 0;
	int err;

	for (int d = 0; d < ATTACH_NDEV; d++)
		virtio_dev__set_mem(a->dev[d], &a->mem);
	/* the terminal first: nothing about it may stop vmsh while it traces */
	if (isatty(a->in_fd) && !tcgetattr(a->in_fd, &a->saved_tty)) {
		struct termios raw = a->saved_tty;

		cfmakeraw(&raw);
		if (!tcsetattr(a->in_fd, TCSANOW, &raw))
			a->raw_tty = true;
	}
	err = attach__start_trap(a, false);
	/* from here on a keeper can take the session over (attach_keeper.c) */
	if (!err)
		attach__keeper_start(a);
	if (!err)
		err = attach__write_abi(a, offsetof(struct stage1_abi, request), &go, sizeof(go));
	if (err)
		return ATTACH_EXIT_ERROR;
	for (;;) {
		bool running = a->have_st2 && a->st2.state == STAGE2_RUNNING;

		if (turn(a, running, TURN_TICK))
			return ATTACH_EXIT_ERROR;
		if (a->migrating)
			return ATTACH_EXIT_ERROR; /* attach__steady_check said why */
		if (a->stop_signal) {
			pr_err("attach: %s: detaching", strsignal(a->stop_signal));
			return 128 + a->stop_signal;
		}
		if (a->have_st2 && a->st2.state == STAGE2_EXITED) {
			/*
			 * stage2 drained the console first (the guest's hvc waits
			 * until vmsh took each buffer): take what is still queued,
			 * without waiting a tick for what will not come.
			 */
			for (int i = 0; i < 3; i++)
				turn(a, false, 0);
			return a->st2.exit_status;
		}
		if (a->have_st2 && a->st2.state == STAGE2_FAILED) {
			pr_err("attach: in the guest, %s failed: %s%s%s", a->st2.step, a->st2.msg,
			       a->st2.err ? ": " : "", a->st2.err ? strerror(a->st2.err) : "");
			return ATTACH_EXIT_ERROR;
		}
		/*
		 * stage2 runs: it opened both devices, so their drivers are done
		 * probing and write no register but QueueNotify and InterruptACK
		 * until stage1 removes them. From here on, stage2's and CMD's
		 * I/O costs the hypervisor no trapped exit.
		 */
		if (a->have_st2 && !a->steady_tried && !a->o.always_trap) {
			a->steady_tried = true;
			if (attach__steady_enter(a))
				return ATTACH_EXIT_ERROR;
		}
		if (now_ms() < next_tick)
			continue;
		next_tick = now_ms() + (a->steady ? STEADY_TICK_MS : TICK_MS);
		/* an idle guest sends no event: a migration is looked for each tick too */
		attach__steady_check(a);
		if (read_stage1(a))
			return ATTACH_EXIT_ERROR;
		if (a->stage1_state == STAGE1_ERROR) {
			report_stage1_error(a);
			return ATTACH_EXIT_ERROR;
		}
		/* platform_device_add() probes at once: a driver would have said hello */
		if (a->stage1_state >= STAGE1_DEVICES && !a->have_st2 && !devices_since &&
		    !virtio_dev__status(a->dev[ATTACH_BLK]))
			devices_since = now_ms();
		if (devices_since && !virtio_dev__status(a->dev[ATTACH_BLK]) &&
		    now_ms() - devices_since > PROBE_TIMEOUT_MS) {
			report_stage1_error(a);
			pr_err(
			    "attach: no driver in the guest took vmsh's devices: its kernel lacks "
			    "virtio_mmio (not built in, and the module could not be loaded)");
			return ATTACH_EXIT_ERROR;
		}
		if (a->stage1_state < STAGE1_ENTERED && now_ms() - start > ENTER_TIMEOUT_MS) {
			pr_err("attach: the guest did not run stage1's entry within %d s",
			       ENTER_TIMEOUT_MS / 1000);
			return ATTACH_EXIT_ERROR;
		}
		if (!a->have_st2 && now_ms() - start > READY_TIMEOUT_MS) {
			pr_err("attach: stage2 did not start in the guest within %d s (stage1 "
			       "state %u)",
			       READY_TIMEOUT_MS / 1000, a->stage1_state);
			if (a->stage1_state >= STAGE1_DEVICES &&
			    !virtio_dev__live(a->dev[ATTACH_BLK]))
				pr_err("attach: the guest never drove the block device: does its "
				       "kernel have virtio_mmio and virtio_blk?");
			return ATTACH_EXIT_ERROR;
		}
	}
}

int attach__stop_guest(struct attach *a)
{
	uint32_t stop = STAGE1_REQ_STOP, gone = 1;
	uint64_t start = now_ms(), done_at = 0;
	bool told_gone = false;

	attach__keeper_stop(a); /* vmsh detaches itself */
	if (!a->entered)
		return 0;
	/* the driver's remove writes registers the steady state does not serve */
	if (attach__steady_leave(a))
		return -EIO;
	if (a->have_st2) {
		int32_t pid = (int32_t)a->st2.pid;
		attach__write_abi(a, offsetof(struct stage1_abi, stage2_pid), &pid, sizeof(pid));
	}
	if (attach__write_abi(a, offsetof(struct stage1_abi, request), &stop, sizeof(stop)))
		return -EIO;
	a->stop_signal = 0;
	for (;;) {
		if (turn(a, false, TURN_TICK))
			return -ESRCH;
		/* stage2 is gone once it says so (its last message); stage1 waits
		 * for that only if it started stage2, and gives up after a while */
		if (!told_gone && a->have_st2 &&
		    (a->st2.state == STAGE2_EXITED || a->st2.state == STAGE2_FAILED)) {
			attach__write_abi(a, offsetof(struct stage1_abi, stage2_gone), &gone,
					  sizeof(gone));
			told_gone = true;
		}
		if (read_stage1(a))
			return -EIO;
		/*
		 * DONE is the kernel's own store, after which the worker runs
		 * only kernel code (stage1/entry.S): stage1's memory may go at
		 * once. ERROR may be the entry's, a few instructions before its
		 * ret: a vCPU may still be there (or in an NMI taken there),
		 * so serve a little longer before the last hold checks RIPs.
		 */
		if (a->stage1_state == STAGE1_DONE)
			return 0;
		if (a->stage1_state == STAGE1_ERROR && !done_at) {
			report_stage1_error(a);
			done_at = now_ms();
		}
		if (done_at && now_ms() - done_at >= ERROR_GRACE_MS)
			return 0;
		if (!done_at && now_ms() - start > STOP_TIMEOUT_MS) {
			pr_err("attach: stage1 did not finish in the guest within %d s (state %u)",
			       STOP_TIMEOUT_MS / 1000, a->stage1_state);
			return -ETIMEDOUT;
		}
	}
}
