// SPDX-License-Identifier: GPL-2.0
/*
 * stage2: runs in the guest, started by vmsh's stage1 through
 * call_usermodehelper (uid 0, every capability, the initial namespaces, no
 * environment, no open fds). It reports its progress to vmsh through the
 * control area of vmsh's disk (stage2_proto.h), builds a mount namespace
 * whose root is the image on that disk with the VM's root at /var/lib/vmsh,
 * runs CMD there on vmsh's console, and leaves nothing behind in the guest.
 *
 *   stage2 --serial S --ctl-offset BYTES [--device NAME] [--console PATH]
 *          [--caps keep|none] [--env NAME=VALUE]... -- CMD [ARGS...]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stage2.h"
#include "stage2_proto.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define ENVIRON_MAX (64 * 1024)

extern char **environ;

ssize_t stage2__read_file(int dirfd, const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)total < len - 1 && (n = read(fd, buf + total, len - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	if (total && buf[total - 1] == '\n')
		buf[--total] = '\0';
	return total;
}

static void vlog(struct stage2 *s, const char *fmt, va_list ap)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "vmsh-stage2: ");

	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	strcat(line, "\n");
	if (s->kmsg_fd >= 0 && write(s->kmsg_fd, line, strlen(line)) < 0)
		s->kmsg_fd = -1;
	/* Useful when run by hand; with the usermode helper, stderr is /dev/null. */
	if (write(2, line, strlen(line)) < 0)
		return;
}

void stage2__log(struct stage2 *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(s, fmt, ap);
	va_end(ap);
}

static int report(struct stage2 *s, uint32_t state, int status, int err, const char *step,
		  const char *msg)
{
	static unsigned char sector[STAGE2_PROTO_SECTOR] __attribute__((aligned(4096)));
	struct stage2_status st = { .seq = ++s->seq,
				    .state = state,
				    .pid = (uint32_t)getpid(),
				    .exit_status = status,
				    .err = err };
	int n;

	snprintf(st.step, sizeof(st.step), "%s", step);
	snprintf(st.msg, sizeof(st.msg), "%s", msg);
	n = stage2_proto__encode(&st, sector, sizeof(sector));
	if (n < 0 || s->ctl_fd < 0)
		return -EINVAL;
	if (pwrite(s->ctl_fd, sector, (size_t)n, (off_t)s->ctl_off) != n) {
		stage2__log(s, "cannot write the status: %s", strerror(errno));
		return -EIO;
	}
	return 0;
}

/* A process is ours if it lives in our private mount namespace. */
static int kill_ours(struct stage2 *s)
{
	struct stat self, st;
	struct dirent *e;
	char path[64];
	int killed = 0, fd;
	DIR *d;

	if (fstatat(s->proc_fd, "self/ns/mnt", &self, 0))
		return 0;
	fd = openat(s->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "%ld/ns/mnt", pid);
		if (fstatat(s->proc_fd, path, &st, 0) || st.st_ino != self.st_ino ||
		    st.st_dev != self.st_dev)
			continue;
		if (!kill((pid_t)pid, SIGKILL))
			killed++;
	}
	closedir(d);
	return killed;
}

/*
 * Kill every process of our mount namespace (CMD, what it left running) so
 * that the namespace and its mounts go away when we exit. Bounded: a process
 * stuck in the kernel is left after about two seconds, with a log line.
 */
static void kill_all(struct stage2 *s)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int round;

	/* Our own dead child is a zombie without namespaces: it is not counted. */
	for (round = 0; round < 100 && kill_ours(s); round++)
		nanosleep(&ts, NULL);
	if (round == 100)
		stage2__log(s, "some processes of the image's namespace do not die");
}

void stage2__die(struct stage2 *s, const char *step, int err, const char *fmt, ...)
{
	char msg[STAGE2_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stage2__log(s, "%s: %s%s%s", step, msg, err ? ": " : "", err ? strerror(err) : "");
	report(s, STAGE2_FAILED, 0, err, step, msg);
	if (s->child > 0)
		kill_all(s);
	exit(1);
}

static void usage(void)
{
	static const char text[] =
	    "usage: stage2 --serial S --ctl-offset BYTES [--device NAME] [--console PATH]\n"
	    "              [--caps keep|none] [--env NAME=VALUE]... [--read-only] [--tty-pipe]\n"
	    "              -- CMD [ARGS...]\n";

	if (write(2, text, sizeof(text) - 1) < 0)
		return;
}

/* Returns NULL, or what is wrong with the command line. */
static const char *parse_args(struct stage2 *s, int argc, char **argv)
{
	static char *envs[64];
	int i;

	s->envs = envs;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--read-only")) {
			s->read_only = true;
			continue;
		}
		if (!strcmp(a, "--tty-pipe")) {
			s->tty_pipe = true;
			continue;
		}
		if (!v)
			return "an option lacks its value";
		if (!strcmp(a, "--serial")) {
			s->serial = v;
		} else if (!strcmp(a, "--ctl-offset")) {
			errno = 0;
			s->ctl_off = strtoull(v, &end, 10);
			if (errno || *end || !*v || s->ctl_off % 512)
				return "--ctl-offset must be a multiple of 512";
		} else if (!strcmp(a, "--device")) {
			if (strchr(v, '/') || !*v || strlen(v) > 64)
				return "--device needs a platform device's name";
			s->device = v;
		} else if (!strcmp(a, "--console")) {
			s->console = v;
		} else if (!strcmp(a, "--caps")) {
			if (strcmp(v, "keep") && strcmp(v, "none"))
				return "--caps must be keep or none";
			s->caps_none = !strcmp(v, "none");
		} else if (!strcmp(a, "--env")) {
			if (!strchr(v, '=') || *v == '=' || s->nenvs == (int)ARRAY_LEN(envs))
				return "--env needs NAME=VALUE (at most 64)";
			envs[s->nenvs++] = (char *)v;
		} else {
			return "unknown option";
		}
		i++;
	}
	if (!s->serial || !s->ctl_off)
		return "--serial and --ctl-offset are required";
	if (i >= argc)
		return "no command after --";
	s->cmd = argv + i;
	return NULL;
}

/* No fd is open under the usermode helper: fill 0-2 so that no file we open lands there. */
static void fill_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			open("/", O_PATH);
	}
}

/* PID 1's environment, then PATH unless it has one, then each --env. */
static char **build_env(struct stage2 *s)
{
	static char buf[ENVIRON_MAX];
	char **env;
	size_t n = 0, cap;
	ssize_t len = 0, r;
	int fd = openat(s->proc_fd, "1/environ", O_RDONLY | O_CLOEXEC);

	while (fd >= 0 && len < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	if (fd >= 0)
		close(fd);
	buf[len] = '\0';
	cap = (size_t)len / 2 + 3 + s->nenvs;
	env = calloc(cap, sizeof(*env));
	if (!env)
		stage2__die(s, "environ", ENOMEM, "no memory for the environment");
	for (char *p = buf; p < buf + len; p += strlen(p) + 1)
		if (strchr(p, '=') && *p != '=' && n < cap - 2 - s->nenvs)
			env[n++] = p;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(env[i], "PATH=", 5))
			goto have_path;
	env[n++] = DEFAULT_PATH;
have_path:
	for (int e = 0; e < s->nenvs; e++) {
		size_t nl = strchr(s->envs[e], '=') - s->envs[e] + 1, i;

		for (i = 0; i < n && strncmp(env[i], s->envs[e], nl); i++)
			;
		env[i] = s->envs[e];
		if (i == n)
			n++;
	}
	env[n] = NULL;
	return env;
}

struct child_err {
	int err;
	char step[STAGE2_STEP_LEN];
};

static void __attribute__((noreturn)) child_fail(int pipefd, const char *step, int err, int code)
{
	struct child_err ce = { .err = err };

	snprintf(ce.step, sizeof(ce.step), "%s", step);
	if (write(pipefd, &ce, sizeof(ce)) < 0)
		_exit(code);
	_exit(code);
}

static void __attribute__((noreturn)) child(struct stage2 *s, char **env, int pipefd)
{
	const char *step = "setsid";
	sigset_t none;

	if (setsid() < 0)
		child_fail(pipefd, step, errno, 1);
	/* Only a terminal session gets the console as its controlling tty: when
	 * a session leader exits, the kernel hangs its (non-pty) tty up, and
	 * stage2 would lose what it still relays from CMD's pipes. */
	if (!s->tty_pipe && ioctl(s->con_fd, TIOCSCTTY, 1) < 0)
		child_fail(pipefd, "console-ctty", errno, 1);
	if (s->tty_pipe) {
		/* like ssh -T: CMD gets pipes (so a shell is not interactive), relayed */
		if (dup2(s->pipe_in[0], 0) < 0 || dup2(s->pipe_out[1], 1) < 0 ||
		    dup2(s->pipe_out[1], 2) < 0)
			child_fail(pipefd, "pipe-dup", errno, 1);
	} else if (dup2(s->con_fd, 0) < 0 || dup2(s->con_fd, 1) < 0 || dup2(s->con_fd, 2) < 0) {
		child_fail(pipefd, "console-dup", errno, 1);
	}
	if (ns__enter_child(s, &step))
		child_fail(pipefd, step, errno, 1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL); /* ignored by stage2, which an exec would keep */
	environ = env;
	execvp(s->cmd[0], s->cmd);
	if (errno == ENOENT)
		dprintf(2, "vmsh-stage2: %s: not found in the image\n", s->cmd[0]);
	else
		dprintf(2, "vmsh-stage2: %s: %s\n", s->cmd[0], strerror(errno));
	child_fail(pipefd, "exec", errno, errno == ENOENT ? 127 : 126);
}

/* Was vmsh's SIGTERM/SIGHUP (or a SIGINT by hand) delivered? 0 or the signal. */
static int take_signal(const sigset_t *set, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	int sig = sigtimedwait(set, NULL, &ts);

	return sig == SIGCHLD ? 0 : sig > 0 ? sig : 0;
}

/*
 * vmsh's input is a pipe: the console is canonical without echo or output
 * processing, so vmsh's ^D at the end of its input is a read of 0 here;
 * CMD's pipes are relayed to and from it.
 */
static void pipe_setup(struct stage2 *s)
{
	struct termios t;

	if (pipe2(s->pipe_in, O_CLOEXEC) || pipe2(s->pipe_out, O_CLOEXEC))
		stage2__die(s, "pipe", errno, "cannot make CMD's pipes");
	if (!tcgetattr(s->con_fd, &t)) {
		t.c_lflag |= ICANON;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ISIG | IEXTEN);
		t.c_iflag &= ~(tcflag_t)(ICRNL | INLCR | IGNCR | IXON);
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(s->con_fd, TCSANOW, &t);
	}
}

static void write_all(int fd, const char *buf, ssize_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= w;
	}
}

/*
 * One round of relaying, waiting up to ms. Input goes to CMD without ever
 * blocking (a CMD that writes before it reads must not deadlock us): what
 * its pipe does not take waits in pend, and the console is not read meanwhile.
 */
static void pipe_relay(struct stage2 *s, int ms)
{
	bool in_open = s->pipe_in[1] >= 0;
	struct pollfd p[3] = { { .fd = in_open && !s->pend_len ? s->con_fd : -1, .events = POLLIN },
			       { .fd = s->pipe_out[0], .events = POLLIN },
			       { .fd = in_open && s->pend_len ? s->pipe_in[1] : -1,
				 .events = POLLOUT } };
	char buf[4096];
	ssize_t n;

	if (poll(p, 3, ms) <= 0)
		return;
	if (p[0].revents & (POLLIN | POLLHUP)) {
		n = read(s->con_fd, s->pend, sizeof(s->pend));
		if (n > 0) {
			s->pend_len = (size_t)n;
			p[2].revents = POLLOUT;
		} else if (n == 0) {
			close(s->pipe_in[1]); /* end of vmsh's input */
			s->pipe_in[1] = -1;
		}
	}
	if (s->pend_len && (p[2].revents & (POLLOUT | POLLERR))) {
		n = write(s->pipe_in[1], s->pend, s->pend_len);
		if (n > 0) {
			memmove(s->pend, s->pend + n, s->pend_len - (size_t)n);
			s->pend_len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			s->pend_len = 0; /* CMD closed its input: drop what it will never read */
		}
	}
	if (p[1].revents & (POLLIN | POLLHUP)) {
		n = read(s->pipe_out[0], buf, sizeof(buf));
		if (n > 0)
			write_all(s->con_fd, buf, n);
	}
}

static int run(struct stage2 *s, const sigset_t *sigs)
{
	struct child_err ce;
	char msg[STAGE2_MSG_LEN];
	char **env = build_env(s);
	int p[2], status, sig, code;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		stage2__die(s, "pipe", errno, "cannot make a pipe");
	if (s->tty_pipe) {
		pipe_setup(s);
		signal(SIGPIPE, SIG_IGN); /* CMD may close its input before reading it all */
	}
	if (take_signal(sigs, 0))
		stage2__die(s, "signal", EINTR, "detached before CMD ran");
	s->child = fork();
	if (s->child < 0)
		stage2__die(s, "fork", errno, "cannot fork");
	if (!s->child) {
		close(p[0]);
		child(s, env, p[1]);
	}
	close(p[1]);
	if (s->tty_pipe) {
		close(s->pipe_in[0]);
		close(s->pipe_out[1]);
		fcntl(s->pipe_out[0], F_SETFL, O_NONBLOCK);
		fcntl(s->pipe_in[1], F_SETFL, O_NONBLOCK);
	}
	do
		n = read(p[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof(ce) && strcmp(ce.step, "exec")) {
		waitpid(s->child, NULL, 0);
		stage2__die(s, ce.step, ce.err, "cannot prepare CMD");
	}
	if (n <= 0) {
		stage2__log(s, "running %s (pid %d)", s->cmd[0], s->child);
		report(s, STAGE2_RUNNING, 0, 0, "run", s->cmd[0]);
	}
	for (;;) {
		pid_t r = waitpid(s->child, &status, WNOHANG);

		if (r == s->child)
			break;
		if (r < 0 && errno != EINTR)
			stage2__die(s, "wait", errno, "lost CMD");
		if (s->tty_pipe)
			pipe_relay(s, 50);
		sig = take_signal(sigs, s->tty_pipe ? 0 : 1000);
		if (sig) {
			stage2__log(s, "signal %d: stopping %s", sig, s->cmd[0]);
			kill_all(s);
		}
	}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	kill_all(s);
	/* what CMD wrote last (its pipe's other ends are gone with it and its children) */
	for (int i = 0; s->tty_pipe && i < 64; i++)
		pipe_relay(s, 0);
	/* every byte of CMD's reaches vmsh before vmsh hears that CMD exited: the
	 * hvc driver's buffer drains only as the host takes the virtio buffers */
	tcdrain(s->con_fd);
	if (n == (ssize_t)sizeof(ce))
		snprintf(msg, sizeof(msg), "%s: %s", s->cmd[0],
			 ce.err == ENOENT ? "not found in the image" : strerror(ce.err));
	else
		snprintf(msg, sizeof(msg), "%s exited with %d", s->cmd[0], code);
	stage2__log(s, "%s", msg);
	return report(s, STAGE2_EXITED, code, n == (ssize_t)sizeof(ce) ? ce.err : 0,
		      n == (ssize_t)sizeof(ce) ? "exec" : "exit", msg);
}

int main(int argc, char **argv)
{
	struct stage2 s = { .ctl_fd = -1,
			    .blk_fd = -1,
			    .con_fd = -1,
			    .kmsg_fd = -1,
			    .proc_fd = -1,
			    .root1_fd = -1 };
	const char *bad;
	sigset_t sigs;
	int unlink_err = 0;

	for (int i = 0; i < NS_COUNT; i++)
		s.ns_fd[i] = -1;
	fill_std_fds();
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_SETMASK, &sigs, NULL);
	/* The guest keeps nothing: our file exists only until we run. */
	if (argc > 0 && strchr(argv[0], '/') && unlink(argv[0]) && errno != ENOENT)
		unlink_err = errno;
	bad = parse_args(&s, argc, argv);
	if (bad && (!s.serial || !s.ctl_off)) {
		usage();
		return 2;
	}

	ns__early_view(&s);
	ns__open_devices(&s);
	if (bad) {
		usage();
		stage2__die(&s, "args", EINVAL, "%s", bad);
	}
	if (unlink_err)
		stage2__die(&s, "unlink-self", unlink_err, "cannot remove %s", argv[0]);
	report(&s, STAGE2_STARTED, 0, 0, "start", "");
	ns__read_pid1(&s);
	ns__build_root(&s);
	return run(&s, &sigs) ? 1 : 0;
}
