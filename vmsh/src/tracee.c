// SPDX-License-Identifier: GPL-2.0
/*
 * The ptrace core (x86_64). See tracee.h for the contract.
 *
 * Stops we hold a thread in: the PTRACE_INTERRUPT stop, a group-stop (both
 * PTRACE_EVENT_STOP under PTRACE_SEIZE), or a signal-delivery-stop that came
 * first. The injecting thread leaves its stop and ends in a syscall-exit-stop.
 *
 * Syscall restart: PTRACE_DETACH kicks the tracee with TIF_SIGPENDING
 * (__ptrace_unlink), so every thread, whichever stop it is detached from,
 * passes the kernel's signal path, which applies the restart rules to the
 * registers we restored as found: -ERESTART* becomes a re-executed syscall,
 * or -EINTR when a handler runs for -ERESTARTNOHAND or non-SA_RESTART
 * -ERESTARTSYS. We do not rewrite rax/rip ourselves: a hand-made restart
 * cannot know whether a signal delivered on detach should turn it into EINTR
 * (pause() would re-block after its handler; test_blocked_threads shows it).
 *
 * Signals: one held in a signal-delivery-stop is delivered exactly by
 * PTRACE_DETACH's data. A thread that ran injected syscalls swallowed the
 * signals it met (they would have run handlers mid-injection), keeping each
 * one's siginfo; before detaching it is driven through a signal-delivery-stop
 * of each again, where its siginfo is put back (see tracee__restop).
 *
 * Deadlines: no wait here blocks. A thread in a killable or uninterruptible
 * kernel wait does not take PTRACE_INTERRUPT's stop until that wait ends
 * (hung storage, a userfaultfd whose handler is gone, a vfork parent), and a
 * blocking waitpid() for it would keep every other thread of the hypervisor
 * stopped for as long: a frozen VM. Each wait has a deadline; when it
 * passes, every thread that did stop is let go as found and the hold fails
 * naming the thread, its state and kernel function.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracee.h"
#include "util.h"

#define SYSCALL_INSN_LEN 2
#define SCAN_MAX (16u << 20) /* bytes of one mapping searched for `syscall` */

/* Kernel-internal restart codes, as a stopped syscall shows them in rax. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

unsigned int tracee_deadline_ms = TRACEE_STOP_DEADLINE_MS;

static uint64_t deadline_in(unsigned int ms)
{
	return util__now_ns() + (uint64_t)ms * 1000000u;
}

/* Every request goes through here so that nr_ptrace counts them all. */
static long tracee__ptrace(struct tracee *t, enum __ptrace_request req, pid_t tid, void *addr,
			   void *data)
{
	t->nr_ptrace++;
	vmsh_ptrace_requests++;
	errno = 0;
	return ptrace(req, tid, addr, data);
}

static struct tracee_thread *tracee__find(struct tracee *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

/* Returns the index of the new entry, or -ENOMEM. Pointers into threads[] die. */
static long tracee__add(struct tracee *t, pid_t tid)
{
	struct tracee_thread *n = realloc(t->threads, (t->nthreads + 1) * sizeof(*n));

	if (!n) {
		pr_err("out of memory for thread %d", tid);
		return -ENOMEM;
	}
	t->threads = n;
	memset(&n[t->nthreads], 0, sizeof(*n));
	n[t->nthreads].tid = tid;
	n[t->nthreads].attached = true;
	n[t->nthreads].own_insn = 1; /* not checked yet */
	return (long)t->nthreads++;
}

/* The thread is gone (exited or killed): forget it, keeping inject_idx valid. */
static void tracee__drop(struct tracee *t, size_t i)
{
	pr_debug("thread %d exited while attached", t->threads[i].tid);
	memmove(&t->threads[i], &t->threads[i + 1], (t->nthreads - i - 1) * sizeof(t->threads[0]));
	t->nthreads--;
	if (t->inject_idx > i)
		t->inject_idx--;
	else if (t->inject_idx == i)
		t->inject_idx = 0;
}

static size_t tracee__index(struct tracee *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return i;
	return SIZE_MAX;
}

/*
 * A signal-delivery-stop: the signal is ours to deliver later, with its
 * siginfo. Further ones (only while injecting) go to more_info, beyond that
 * to more_signals (re-sent without their siginfo).
 */
static void tracee__record_signal(struct tracee *t, struct tracee_thread *th, int sig)
{
	siginfo_t si;

	pr_debug("thread %d: holding signal %d", th->tid, sig);
	memset(&si, 0, sizeof(si));
	if (tracee__ptrace(t, PTRACE_GETSIGINFO, th->tid, NULL, &si) < 0)
		si.si_signo = 0; /* delivered with a kernel-made siginfo then */
	/*
	 * A standard signal held already: sent again it would stay one
	 * pending signal (they do not queue), one stop for two expected.
	 */
	if (sig < 32 && th->pending_signal == sig)
		return;
	for (unsigned int k = 0; sig < 32 && k < th->nmore; k++)
		if (th->more_info[k].si_signo == sig)
			return;
	if (!th->pending_signal) {
		th->pending_signal = sig;
		th->pending_info = si;
	} else if (th->nmore < TRACEE_MAX_HELD && si.si_signo == sig) {
		th->more_info[th->nmore++] = si;
	} else if (sig >= 1 && sig <= 64) {
		pr_err("thread %d: signal %d is re-sent without its siginfo (more than %d "
		       "signals arrived while vmsh ran syscalls in it)",
		       th->tid, sig, TRACEE_MAX_HELD + 1);
		th->more_signals |= 1ull << (sig - 1);
	}
}

/*
 * Handles one wait status of threads[i] that is not what the caller waits
 * for. Returns 1 if the thread is now held in a stop, 0 if it must be waited
 * for again (it was resumed), -ESRCH if it is gone, or another negative errno.
 */
static int tracee__handle_status(struct tracee *t, size_t i, int status)
{
	pid_t tid = t->threads[i].tid;
	unsigned int event = (unsigned int)status >> 16;
	unsigned long msg;
	long r;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		tracee__drop(t, i);
		return -ESRCH;
	}
	if (!WIFSTOPPED(status))
		return 0;
	if (event == PTRACE_EVENT_STOP) {
		t->threads[i].stopped = true;
		return 1;
	}
	if (event == PTRACE_EVENT_CLONE) {
		/* The kernel attached the new thread; it stops on its own. */
		if (tracee__ptrace(t, PTRACE_GETEVENTMSG, tid, NULL, &msg) < 0)
			return -errno;
		if (!tracee__find(t, (pid_t)msg)) {
			r = tracee__add(t, (pid_t)msg);
			if (r < 0)
				return (int)r;
			pr_debug("thread %d created thread %lu while attaching", tid, msg);
		}
		/*
		 * This stop consumed our PTRACE_INTERRUPT (any trap does): ask
		 * again, so that it stops once the clone returns, with plain regs.
		 */
		if (tracee__ptrace(t, PTRACE_INTERRUPT, tid, NULL, NULL) < 0 ||
		    tracee__ptrace(t, PTRACE_CONT, tid, NULL, NULL) < 0)
			return -errno;
		return 0;
	}
	if (event || WSTOPSIG(status) == (SIGTRAP | 0x80)) {
		/* No other event is enabled, and no syscall stop was asked for. */
		if (tracee__ptrace(t, PTRACE_CONT, tid, NULL, NULL) < 0)
			return -errno;
		return 0;
	}
	tracee__record_signal(t, &t->threads[i], WSTOPSIG(status));
	t->threads[i].stopped = true;
	return 1;
}

/*
 * A timer signal interrupts a blocking waitpid() at the deadline: a pidfd
 * does not report ptrace stops, and polling with WNOHANG costs a stop's
 * latency several times over (measured: an injected syscall 41 us blocking,
 * 226 us polling). The signal is a real-time one vmsh uses for nothing else,
 * its handler does nothing (it only makes waitpid return EINTR: no
 * SA_RESTART), and the per-thread timer fires again every 10 ms after the
 * deadline, so a first shot that lands just before waitpid blocks is not
 * lost.
 */
#define TRACEE_WAKE_SIGNAL (SIGRTMAX - 2)
#define TRACEE_WAKE_REPEAT_NS 10000000

static __thread timer_t wake_timer;
static __thread pid_t wake_tid; /* the thread it was made for: none after a fork */

static void tracee__wake(int sig)
{
	(void)sig;
}

static int tracee__wake_setup(void)
{
	struct sigaction sa = { .sa_handler = tracee__wake }; /* no SA_RESTART */
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID,
				.sigev_signo = TRACEE_WAKE_SIGNAL };
	sigset_t set;

	/* Unblocked each time: a signal mask set meanwhile must not void the deadline. */
	sigemptyset(&set);
	sigaddset(&set, TRACEE_WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (wake_tid == gettid())
		return 0;
	sev._sigev_un._tid = gettid();
	if (sigaction(TRACEE_WAKE_SIGNAL, &sa, NULL) < 0 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &wake_timer) < 0) {
		pr_err("unable to set up the timer that bounds ptrace waits: %s", strerror(errno));
		return -errno;
	}
	wake_tid = gettid();
	return 0;
}

static int tracee__wake_arm(uint64_t deadline)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(deadline / 1000000000u),
			      .tv_nsec = (long)(deadline % 1000000000u) },
		.it_interval = { .tv_nsec = TRACEE_WAKE_REPEAT_NS },
	};

	if (!deadline)
		its = (struct itimerspec){ 0 }; /* disarm */
	return timer_settime(wake_timer, TIMER_ABSTIME, &its, NULL);
}

/* waitpid(tid) until deadline (CLOCK_MONOTONIC ns): -ETIMEDOUT then. */
static int tracee__waitpid(pid_t tid, int *status, uint64_t deadline)
{
	pid_t r = waitpid(tid, status, __WALL | WNOHANG);
	int err;

	if (r == tid)
		return 0;
	if (r < 0 && errno != EINTR)
		return -errno;
	if (tracee__wake_setup() < 0 || tracee__wake_arm(deadline) < 0) {
		/* No timer: poll, which only costs latency. */
		while ((r = waitpid(tid, status, __WALL | WNOHANG)) != tid) {
			if (r < 0 && errno != EINTR)
				return -errno;
			if (util__now_ns() >= deadline)
				return -ETIMEDOUT;
			usleep(1000);
		}
		return 0;
	}
	for (;;) {
		r = waitpid(tid, status, __WALL);
		err = errno;
		if (r == tid) {
			err = 0;
			break;
		}
		if (err != EINTR) {
			err = -err;
			break;
		}
		if (util__now_ns() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
	}
	tracee__wake_arm(0);
	return err;
}

/* The state letter and its name in /proc/PID/task/TID/stat, and wchan. */
static void tracee__thread_state(pid_t pid, pid_t tid, char *comm, size_t commsz, char *state,
				 char *wchan, size_t wchansz)
{
	char path[96], buf[512];
	const char *open_paren, *close_paren;
	ssize_t n;
	int fd;

	snprintf(comm, commsz, "?");
	*state = '?';
	snprintf(wchan, wchansz, "?");
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		/* "TID (COMM) S ...": COMM may hold spaces and parentheses. */
		open_paren = strchr(buf, '(');
		close_paren = strrchr(buf, ')');
		if (open_paren && close_paren > open_paren && close_paren[1] == ' ') {
			snprintf(comm, commsz, "%.*s", (int)(close_paren - open_paren - 1),
				 open_paren + 1);
			*state = close_paren[2];
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, wchan, wchansz - 1);
		close(fd);
		if (n > 0)
			wchan[n] = '\0';
	}
}

static const char *state_name(char state)
{
	switch (state) {
	case 'R':
		return "running";
	case 'S':
		return "sleeping";
	case 'D':
		return "in an uninterruptible or killable wait";
	case 'T':
		return "stopped";
	case 't':
		return "in a tracing stop";
	case 'Z':
	case 'X':
		return "exiting";
	default:
		return "in an unknown state";
	}
}

/*
 * threads[i] did not reach a stop by its deadline: it stays seized (nothing
 * can let a running tracee go: PTRACE_DETACH needs it stopped), is not waited
 * for again, and the user is told which thread, where it waits, what to do.
 */
static void tracee__stuck(struct tracee *t, size_t i, unsigned int ms, const char *what)
{
	char comm[64], state, wchan[128];
	pid_t tid = t->threads[i].tid;

	t->threads[i].stuck = true;
	t->threads[i].stopped = false;
	tracee__thread_state(t->pid, tid, comm, sizeof(comm), &state, wchan, sizeof(wchan));
	pr_err("thread %d (%s) of process %d did not %s within %u ms: it is %s (state %c, "
	       "kernel function %s; its kernel stack: /proc/%d/task/%d/stack). A thread in a "
	       "killable or uninterruptible wait (storage that hangs, a userfaultfd whose handler "
	       "is gone, a vfork parent whose child runs on) cannot be held: vmsh lets every "
	       "other thread go as it found it; retry when that thread no longer waits",
	       tid, comm, t->pid, what, ms, state_name(state), state,
	       wchan[0] && strcmp(wchan, "0") ? wchan : "unknown", t->pid, tid);
}

/*
 * Waits until the thread tid is held in a stop, or is gone (-ESRCH), for at
 * most ms milliseconds (-ETIMEDOUT: it is marked stuck).
 */
static int tracee__wait_stop(struct tracee *t, pid_t tid, unsigned int ms, const char *what)
{
	uint64_t deadline = deadline_in(ms);
	int status, r;
	size_t i;

	for (;;) {
		r = tracee__waitpid(tid, &status, deadline);
		i = tracee__index(t, tid);
		if (r == -ETIMEDOUT && i != SIZE_MAX) {
			tracee__stuck(t, i, ms, what);
			return r;
		}
		if (r < 0) {
			pr_err("unable to wait for thread %d: %s", tid, strerror(-r));
			if (r == -ECHILD && i != SIZE_MAX)
				tracee__drop(t, i);
			return r == -ECHILD ? -ESRCH : r;
		}
		if (i == SIZE_MAX)
			return -ESRCH;
		r = tracee__handle_status(t, i, status);
		if (r < 0 && r != -ESRCH)
			pr_err("unable to handle a stop of thread %d: %s", tid, strerror(-r));
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

/*
 * Who traces tid (a thread id: ptrace is per thread), 0 if nobody, -1 if the
 * thread is gone or dying (PTRACE_SEIZE says EPERM for an exiting thread
 * too). Tells a clone the kernel attached for us from one traced by others.
 */
static pid_t tracer_of(pid_t pid, pid_t tid)
{
	char path[64], line[256], state = '?';
	pid_t tracer = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "State: %c", &state);
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	}
	fclose(f);
	return state == 'Z' || state == 'X' ? -1 : tracer;
}

static bool tracee__skipped(const struct tracee *t, pid_t tid)
{
	for (size_t i = 0; i < t->nskip; i++)
		if (t->skip[i] == tid)
			return true;
	return false;
}

/*
 * One pass over /proc/PID/task: seize and interrupt every thread we do not
 * hold yet. Returns the number of new threads, or a negative errno.
 * *busy is set when a thread was traced already but is not known to us yet
 * (perhaps a clone whose event we have not read yet).
 */
static int tracee__scan(struct tracee *t, pid_t *busy)
{
	char path[64];
	struct dirent *de;
	int added = 0, r = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	d = opendir(path);
	if (!d) {
		r = -errno;
		pr_err("unable to list threads in %s: %s", path, strerror(errno));
		return r == -ENOENT ? -ESRCH : r;
	}
	*busy = 0;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		long idx;

		if (tid <= 0 || tracee__find(t, tid) || tracee__skipped(t, tid))
			continue;
		if (tracee__ptrace(t, PTRACE_SEIZE, tid, NULL,
				   (void *)(PTRACE_O_TRACECLONE | PTRACE_O_TRACESYSGOOD)) < 0) {
			int err = errno;
			pid_t tracer = err == EPERM ? tracer_of(t->pid, tid) : 0;

			if (err == ESRCH || tracer < 0)
				continue; /* exited meanwhile */
			if (tracer == gettid()) {
				*busy = tid;
				continue;
			}
			if (tracer > 0) {
				r = -EPERM;
				pr_err("unable to seize thread %d of process %d: it is traced by "
				       "process %d already (a debugger, strace, another vmsh?)",
				       tid, t->pid, tracer);
				break;
			}
			r = -err;
			pr_err("unable to seize thread %d of process %d: %s (vmsh needs "
			       "CAP_SYS_PTRACE)",
			       tid, t->pid, strerror(err));
			break;
		}
		idx = tracee__add(t, tid);
		if (idx < 0) {
			r = (int)idx;
			/* Not in threads[]: let it go here, it is still running. */
			tracee__ptrace(t, PTRACE_INTERRUPT, tid, NULL, NULL);
			if (tracee__waitpid(tid, &(int){ 0 }, deadline_in(tracee_deadline_ms)) == 0)
				tracee__ptrace(t, PTRACE_DETACH, tid, NULL, NULL);
			break;
		}
		added++;
		if (tracee__ptrace(t, PTRACE_INTERRUPT, tid, NULL, NULL) < 0 && errno != ESRCH) {
			r = -errno;
			pr_err("unable to interrupt thread %d: %s", tid, strerror(errno));
			break;
		}
	}
	closedir(d);
	return r < 0 ? r : added;
}

/* Waits for every seized thread that is not stopped yet; drops exited ones. */
static int tracee__stop_all(struct tracee *t)
{
	size_t i = 0;
	int r;

	while (i < t->nthreads) {
		pid_t tid = t->threads[i].tid;

		if (t->threads[i].stopped) {
			i++;
			continue;
		}
		r = tracee__wait_stop(t, tid, tracee_deadline_ms, "stop when interrupted");
		if (r == -ESRCH)
			continue; /* dropped: threads[i] is the next one now */
		if (r < 0)
			return r;
		/* A clone may have grown threads[]; restart to catch new ones. */
		i = 0;
	}
	return 0;
}

/*
 * Lets every held thread go, with its registers as found and its held
 * signals; -ESRCH for a thread that died meanwhile is not an error.
 */
static int tracee__release(struct tracee *t);

/* Searches one mapping for the bytes 0f 05; 0 if none. */
static uint64_t find_syscall_in(const struct tracee *t, unsigned char *buf, size_t bufsz,
				uint64_t start, uint64_t end)
{
	uint64_t addr = start;
	unsigned char prev = 0;

	if (end - start > SCAN_MAX)
		end = start + SCAN_MAX;
	while (addr < end) {
		size_t len = end - addr < bufsz ? (size_t)(end - addr) : bufsz;
		struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
		ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);

		if (n <= 0)
			return 0;
		if (prev == 0x0f && buf[0] == 0x05)
			return addr - 1;
		for (ssize_t i = 0; i + 1 < n; i++)
			if (buf[i] == 0x0f && buf[i + 1] == 0x05)
				return addr + (uint64_t)i;
		prev = buf[n - 1];
		addr += (uint64_t)n;
	}
	return 0;
}

/*
 * Finds an existing `syscall` instruction, so no code is ever written. The
 * vdso is tried first (small, always there), then libc, then anything
 * executable.
 */
static int tracee__find_syscall(struct tracee *t)
{
	static const char *const prefer[] = { "[vdso]", "/libc.so", "/libc-", NULL };
	char path[64], line[512], perms[8], name[256];
	const size_t bufsz = 1 << 16;
	uint64_t start, end, found = 0;
	unsigned char *buf;
	FILE *f;

	buf = malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	for (int pass = 0; !found && pass <= (int)ARRAY_SIZE(prefer) - 1; pass++) {
		f = fopen(path, "re");
		if (!f) {
			pr_err("unable to open %s: %s", path, strerror(errno));
			free(buf);
			return -ESRCH;
		}
		while (!found && fgets(line, sizeof(line), f)) {
			name[0] = '\0';
			if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %255s", &start,
				   &end, perms, name) < 3)
				continue;
			if (perms[0] != 'r' || perms[2] != 'x')
				continue;
			if (prefer[pass] && !strstr(name, prefer[pass]))
				continue;
			found = find_syscall_in(t, buf, bufsz, start, end);
		}
		fclose(f);
	}
	free(buf);
	if (!found) {
		pr_err("no `syscall` instruction in the executable mappings of process %d", t->pid);
		return -ENOEXEC;
	}
	t->syscall_insn = found;
	pr_debug("using the syscall instruction at 0x%" PRIx64 " in process %d", found, t->pid);
	return 0;
}

int tracee__attach(struct tracee *t, pid_t pid)
{
	return tracee__attach_except(t, pid, NULL, 0);
}

int tracee__attach_except(struct tracee *t, pid_t pid, const pid_t *skip, size_t nskip)
{
	pid_t busy = 0;
	int r, added;

	memset(t, 0, sizeof(*t));
	t->skip = skip;
	t->nskip = nskip;
	t->pid = pid;
	t->pidfd = -1;
	t->held_since_ns = util__now_ns();

	/* Taken first: whatever we seize below is this process, not a reuse. */
	t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (t->pidfd < 0) {
		r = -errno;
		if (errno == ESRCH)
			pr_err("no process %d (is the hypervisor running?)", pid);
		else
			pr_err("unable to open process %d: %s", pid, strerror(errno));
		return r;
	}

	/* Threads may be created while we seize: repeat until a pass adds none. */
	do {
		added = tracee__scan(t, &busy);
		if (added < 0) {
			r = added;
			goto err_release;
		}
		r = tracee__stop_all(t);
		if (r < 0)
			goto err_release;
		if (busy && !tracee__find(t, busy)) {
			pr_err("unable to seize thread %d of process %d: this process traces it "
			       "already (attached twice?)",
			       busy, pid);
			r = -EPERM;
			goto err_release;
		}
	} while (added > 0 || busy);

	if (!t->nthreads || poll(&(struct pollfd){ .fd = t->pidfd, .events = POLLIN }, 1, 0)) {
		pr_err("process %d exited while vmsh attached to it", pid);
		r = -ESRCH;
		goto err_release;
	}

	t->inject_idx = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		if (t->threads[i].tid == pid)
			t->inject_idx = i;
		if (tracee__ptrace(t, PTRACE_GETREGS, t->threads[i].tid, NULL,
				   &t->threads[i].regs) < 0) {
			r = -errno;
			pr_err("unable to read the registers of thread %d: %s", t->threads[i].tid,
			       strerror(errno));
			goto err_release;
		}
	}

	pr_info("attached to process %d: %zu threads, %lu ptrace requests", pid, t->nthreads,
		t->nr_ptrace);
	return 0;

err_release:
	/*
	 * Threads are seized but not yet stopped only if waiting failed: stop
	 * them, except those that already missed their deadline.
	 */
	for (size_t i = 0; i < t->nthreads;) {
		if (!t->threads[i].stopped && !t->threads[i].stuck &&
		    tracee__wait_stop(t, t->threads[i].tid, tracee_deadline_ms,
				      "stop when interrupted") == -ESRCH)
			continue;
		i++;
	}
	tracee__release(t);
	free(t->threads);
	t->threads = NULL;
	t->nthreads = 0;
	close(t->pidfd);
	t->pidfd = -1;
	return r;
}

/*
 * Resumes the injecting thread with PTRACE_SYSCALL until its next syscall
 * stop, holding any signal it meets on the way for delivery on detach; at
 * most ms milliseconds (-ETIMEDOUT: the thread stays seized, running).
 */
static int tracee__to_syscall_stop(struct tracee *t, pid_t tid, unsigned int ms, const char *what)
{
	uint64_t deadline = deadline_in(ms);
	int status, r;
	size_t i;

	for (;;) {
		if (tracee__ptrace(t, PTRACE_SYSCALL, tid, NULL, NULL) < 0) {
			r = -errno;
			pr_err("unable to resume thread %d: %s", tid, strerror(errno));
			return r;
		}
		i = tracee__index(t, tid);
		if (i != SIZE_MAX)
			t->threads[i].stopped = false;
		r = tracee__waitpid(tid, &status, deadline);
		i = tracee__index(t, tid);
		if (r == -ETIMEDOUT && i != SIZE_MAX) {
			tracee__stuck(t, i, ms, what);
			return r;
		}
		if (r < 0 || i == SIZE_MAX) {
			pr_err("unable to wait for thread %d: %s", tid, strerror(r ? -r : ESRCH));
			return r ? r : -ESRCH;
		}
		if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			t->threads[i].stopped = true;
			return 0;
		}
		r = tracee__handle_status(t, i, status);
		if (r == -ESRCH)
			pr_err("thread %d exited while running an injected syscall", tid);
		if (r < 0)
			return r;
		/*
		 * r == 1: a stop we stepped into on the way (our interrupt, a
		 * group-stop, a signal now recorded): resume again, without it.
		 * r == 0: already resumed (a clone event); PTRACE_SYSCALL again
		 * would fail, so wait for the next stop instead.
		 */
		if (r == 0) {
			r = tracee__wait_stop(t, tid, tracee_deadline_ms, what);
			if (r < 0)
				return r;
		}
	}
}

/*
 * The `syscall` to inject with in th: its own, at RIP-2, when th was stopped
 * inside a syscall (orig_rax >= 0; the kernel has not rewound RIP for a
 * restart yet at our stops), else one found in the executable mappings.
 */
static int tracee__insn(struct tracee *t, struct tracee_thread *th, uint64_t *insn)
{
	unsigned char b[SYSCALL_INSN_LEN];
	struct iovec local = { b, sizeof(b) },
		     remote = { (void *)(uintptr_t)(th->regs.rip - SYSCALL_INSN_LEN), sizeof(b) };
	int r;

	if (th->own_insn == 1) {
		th->own_insn = 0;
		if ((long long)th->regs.orig_rax >= 0 && th->regs.rip >= SYSCALL_INSN_LEN &&
		    process_vm_readv(t->pid, &local, 1, &remote, 1, 0) == sizeof(b) &&
		    b[0] == 0x0f && b[1] == 0x05)
			th->own_insn = th->regs.rip - SYSCALL_INSN_LEN;
	}
	if (th->own_insn) {
		*insn = th->own_insn;
		return 0;
	}
	if (!t->syscall_insn) {
		r = tracee__find_syscall(t);
		if (r < 0)
			return r;
	}
	*insn = t->syscall_insn;
	return 0;
}

/*
 * What the injecting thread sees if vmsh is SIGKILLed at each point (the
 * kernel then unlinks it: a thread in a ptrace stop is woken with
 * TIF_SIGPENDING, so it passes the signal path and its restart rules):
 *
 * 1. Before the SETREGS that loads the injected registers (in its attach
 *    stop, or in the syscall-exit-stop of the previous injection, where its
 *    own registers were put back): as if never held. Its interrupted
 *    syscall restarts (-ERESTART*), or returns -EINTR where a signal
 *    handler runs (the kernel's usual rules), or its user code resumes.
 * 2. After that SETREGS, in the syscall-entry-stop, inside the syscall, or
 *    in the syscall-exit-stop before its registers are put back: the
 *    injected syscall runs to its end without vmsh and returns to insn+2.
 *    With its own `syscall` (RIP-2, a thread stopped in a syscall: QEMU's
 *    main thread in ppoll) that is its own code at its own RIP: its own
 *    syscall appears to return the injected one's result, with rdi, rsi,
 *    rdx, r10, r8, r9 as injected (all but rax, rcx, r11 are its own).
 *    No restart or -EINTR is possible there: the kernel writes rax on the
 *    way out. With a gadget (a thread that was not in a syscall) it would
 *    run the gadget's next instructions: foreign code. vmsh's injected
 *    syscalls do not block, so this window lasts microseconds.
 * 3. After its registers are put back at the exit stop: as 1.
 * A vmsh killed between injections, where it spends nearly all its time
 * (reading and writing memory, waiting for the guest), is always at 1 or 3.
 */
int tracee__syscall(struct tracee *t, long *ret, long nr, const long a[6])
{
	struct tracee_thread *th;
	struct user_regs_struct regs;
	uint64_t insn;
	size_t i;
	pid_t tid;
	int r;

	if (!t->nthreads || t->inject_idx >= t->nthreads) {
		pr_err("no thread of process %d left to run a syscall in", t->pid);
		return -ESRCH;
	}
	th = &t->threads[t->inject_idx];
	tid = th->tid;
	if (!th->stopped) {
		pr_err("thread %d of process %d is not held: no syscall can run in it", tid,
		       t->pid);
		return -ESRCH;
	}
	r = tracee__insn(t, th, &insn);
	if (r < 0)
		return r;

	regs = th->regs;
	regs.rip = insn;
	regs.rax = (unsigned long long)nr;
	regs.rdi = (unsigned long long)a[0];
	regs.rsi = (unsigned long long)a[1];
	regs.rdx = (unsigned long long)a[2];
	regs.r10 = (unsigned long long)a[3];
	regs.r8 = (unsigned long long)a[4];
	regs.r9 = (unsigned long long)a[5];
	/* Not "in a syscall": the kernel's restart logic must leave rip/rax alone. */
	regs.orig_rax = (unsigned long long)-1;
	if (tracee__ptrace(t, PTRACE_SETREGS, tid, NULL, &regs) < 0) {
		r = -errno;
		pr_err("unable to set the registers of thread %d: %s", tid, strerror(errno));
		return r;
	}
	th->resumed = true;
	th->dirty = true;

	/* th dies here: a clone event on the way may grow threads[]. */
	r = tracee__to_syscall_stop(t, tid, tracee_deadline_ms, "enter an injected syscall");
	if (r < 0)
		return r;
	if (tracee__ptrace(t, PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return -errno;
	if (regs.rip != insn + SYSCALL_INSN_LEN || regs.orig_rax != (uint64_t)nr) {
		pr_err("thread %d stopped at 0x%llx in syscall %lld, not in the injected %ld", tid,
		       regs.rip, (long long)regs.orig_rax, nr);
		return -EIO;
	}
	r = tracee__to_syscall_stop(t, tid, TRACEE_SYSCALL_DEADLINE_MS,
				    "return from an injected syscall");
	if (r < 0)
		return r;
	if (tracee__ptrace(t, PTRACE_GETREGS, tid, NULL, &regs) < 0)
		return -errno;
	if (regs.rip != insn + SYSCALL_INSN_LEN) {
		pr_err("thread %d left the injected syscall %ld at 0x%llx", tid, nr, regs.rip);
		return -EIO;
	}
	*ret = (long)regs.rax;
	/* Interrupted by a signal we hold: the caller sees an ordinary EINTR. */
	if (*ret == -ERESTARTSYS || *ret == -ERESTARTNOINTR || *ret == -ERESTARTNOHAND ||
	    *ret == -ERESTART_RESTARTBLOCK)
		*ret = -EINTR;
	/* Its own registers again, until the next injection: point 3 above. */
	i = tracee__index(t, tid);
	if (i == SIZE_MAX)
		return -ESRCH;
	if (tracee__ptrace(t, PTRACE_SETREGS, tid, NULL, &t->threads[i].regs) < 0) {
		r = -errno;
		pr_err("unable to restore the registers of thread %d: %s", tid, strerror(errno));
		return r;
	}
	t->threads[i].dirty = false;
	pr_debug("injected syscall %ld in thread %d: %ld", nr, tid, *ret);
	return 0;
}

int tracee__read(const struct tracee *t, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);

	if (n < 0) {
		pr_err("unable to read %zu bytes at 0x%" PRIx64 " in process %d: %s", len, addr,
		       t->pid, strerror(errno));
		return errno == ESRCH ? -ESRCH : -EFAULT;
	}
	if ((size_t)n != len) {
		pr_err("short read at 0x%" PRIx64 " in process %d: %zd of %zu bytes", addr, t->pid,
		       n, len);
		return -EFAULT;
	}
	return 0;
}

int tracee__write(const struct tracee *t, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_writev(t->pid, &local, 1, &remote, 1, 0);

	if (n < 0) {
		pr_err("unable to write %zu bytes at 0x%" PRIx64 " in process %d: %s", len, addr,
		       t->pid, strerror(errno));
		return errno == ESRCH ? -ESRCH : -EFAULT;
	}
	if ((size_t)n != len) {
		pr_err("short write at 0x%" PRIx64 " in process %d: %zd of %zu bytes", addr, t->pid,
		       n, len);
		return -EFAULT;
	}
	return 0;
}

/*
 * The injecting thread, with its registers restored, swallowed signals while
 * injecting: send them again and drive it through the delivery-stop of
 * each, where PTRACE_SETSIGINFO puts back the siginfo its sender made
 * (tgkill's own says SI_TKILL and loses si_value, si_addr, and the
 * BUS_MCEERR_* codes QEMU needs; rt_tgsigqueueinfo cannot send kernel codes
 * to another process). Each but the last is delivered by PTRACE_CONT from
 * its stop, which sets up its handler and goes on to the next pending
 * signal's stop; on return *sig is the last one, for PTRACE_DETACH.
 */
static int tracee__restop(struct tracee *t, struct tracee_thread *th, int *sig)
{
	siginfo_t info[1 + TRACEE_MAX_HELD];
	bool used[1 + TRACEE_MAX_HELD] = { false };
	uint64_t deadline = deadline_in(tracee_deadline_ms), more = th->more_signals;
	unsigned int ninfo = 0, left = 0;
	pid_t tid = th->tid;
	int status, r, deliver = 0;

	info[ninfo] = th->pending_info;
	info[ninfo++].si_signo = th->pending_signal; /* 0 if GETSIGINFO failed: kept below */
	if (th->pending_info.si_signo != th->pending_signal)
		used[0] = true; /* no siginfo of its own: the kernel makes one */
	for (unsigned int k = 0; k < th->nmore; k++)
		info[ninfo++] = th->more_info[k];
	th->pending_signal = 0;
	th->nmore = 0;
	th->more_signals = 0;
	for (unsigned int k = 0; k < ninfo; k++, left++)
		if (syscall(SYS_tgkill, t->pid, tid, info[k].si_signo) < 0)
			return -errno;
	for (int s = 1; s <= 64; s++)
		if (more & (1ull << (s - 1))) {
			if (syscall(SYS_tgkill, t->pid, tid, s) < 0)
				return -errno;
			left++;
		}

	for (;;) {
		if (tracee__ptrace(t, PTRACE_CONT, tid, NULL, (void *)(uintptr_t)deliver) < 0)
			return -errno;
		deliver = 0;
		r = tracee__waitpid(tid, &status, deadline);
		if (r == -ETIMEDOUT) {
			size_t i = tracee__index(t, tid);

			if (i != SIZE_MAX)
				tracee__stuck(t, i, tracee_deadline_ms,
					      "take back its held signals");
		}
		if (r < 0)
			return r;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (!WIFSTOPPED(status) || status >> 16 != 0 ||
		    WSTOPSIG(status) == (SIGTRAP | 0x80))
			continue; /* any other stop on the way: the signals' stops follow */
		deliver = WSTOPSIG(status);
		/* The first held one of this number: its sender's siginfo. */
		for (unsigned int k = 0; k < ninfo; k++) {
			if (used[k] || info[k].si_signo != deliver)
				continue;
			used[k] = true;
			tracee__ptrace(t, PTRACE_SETSIGINFO, tid, NULL, &info[k]);
			break;
		}
		if (left <= 1) {
			*sig = deliver;
			return 0;
		}
		left--;
	}
}

static int tracee__release(struct tracee *t)
{
	int err = 0;

	for (size_t i = 0; i < t->nthreads; i++) {
		struct tracee_thread *th = &t->threads[i];
		int sig = th->pending_signal, r = 0;

		if (th->attached && th->stuck)
			pr_err(
			    "thread %d of process %d stays seized until it leaves its kernel wait "
			    "(it then stops) or vmsh exits (the kernel then lets it go)",
			    th->tid, t->pid);
		if (!th->attached || !th->stopped)
			continue;
		if (th->dirty && tracee__ptrace(t, PTRACE_SETREGS, th->tid, NULL, &th->regs) < 0)
			r = -errno;
		if (r == 0)
			th->dirty = false;
		if (r == 0 && th->resumed && sig)
			r = tracee__restop(t, th, &sig);
		if (r == 0 &&
		    tracee__ptrace(t, PTRACE_DETACH, th->tid, NULL, (void *)(uintptr_t)sig) < 0)
			r = -errno;
		if (r == -ESRCH) {
			/* Killed while held: reap the trace zombie, nothing to restore. */
			waitpid(th->tid, NULL, __WALL | WNOHANG);
			r = 0;
		}
		if (r < 0) {
			pr_err("unable to detach thread %d of process %d: %s", th->tid, t->pid,
			       strerror(-r));
			err = err ? err : r;
		}
		th->attached = false;
	}
	return err;
}

int tracee__detach(struct tracee *t)
{
	int r;

	r = tracee__release(t);
	free(t->threads);
	t->threads = NULL;
	t->nthreads = 0;
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
	t->held_ns = util__now_ns() - t->held_since_ns;
	pr_info("detached from process %d after %" PRIu64 " us, %lu ptrace requests", t->pid,
		t->held_ns / 1000, t->nr_ptrace);
	return r;
}
