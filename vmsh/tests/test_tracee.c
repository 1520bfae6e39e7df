// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of the ptrace core against real children: each test forks a process
 * in a known state (threads blocked in syscalls, busy, spawning threads),
 * attaches, injects, detaches, and lets the child report over a pipe what it
 * saw afterwards. A child must not notice it was held, except for time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/userfaultfd.h>

#include "tracee.h"
#include "util.h"

static pid_t child = -1; /* killed by teardown if a test fails half-way */
static int data_pipe[2], report_pipe[2];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Forks fn as the child; pipes are shared, each side keeps its ends. */
static pid_t spawn(void (*fn)(void))
{
	if (pipe(data_pipe) || pipe(report_pipe))
		fail_msg("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		fail_msg("fork: %s", strerror(errno));
	if (child == 0) {
		close(data_pipe[1]);
		close(report_pipe[0]);
		fn();
		_exit(0); /* no atexit, no leak check in the child */
	}
	close(data_pipe[0]);
	close(report_pipe[1]);
	return child;
}

static int teardown(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGKILL);
		/* __WALL: threads a failed test left traced must be reaped too. */
		while (waitpid(-1, NULL, __WALL) > 0)
			;
		close(data_pipe[1]);
		close(report_pipe[0]);
	}
	child = -1;
	return 0;
}

/* Waits for the child to exit on its own; returns its exit status. */
static int reap(void)
{
	int status = -1;

	for (int i = 0; i < 500 && waitpid(child, &status, WNOHANG) == 0; i++)
		usleep(10000);
	assert_true(WIFEXITED(status));
	close(data_pipe[1]);
	close(report_pipe[0]);
	child = -1;
	return WEXITSTATUS(status);
}

static void read_report(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = report_pipe[0], .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, 5000), 1);
		n = read(report_pipe[0], (char *)buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* Runs f(path of each /proc/PID/task/TID/<file>, tid, arg) for every thread. */
static void for_each_task(pid_t pid, const char *file, void (*f)(const char *, pid_t, void *),
			  void *arg)
{
	char path[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, atoi(de->d_name), file);
		f(path, (pid_t)atoi(de->d_name), arg);
	}
	closedir(d);
}

static long status_field(const char *path, const char *key)
{
	char line[256];
	long v = -2;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1; /* the thread exited meanwhile */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static void check_untraced(const char *path, pid_t tid, void *arg)
{
	long tracer = status_field(path, "TracerPid:");

	(void)arg;
	if (tracer > 0)
		fail_msg("thread %d is still traced by %ld", tid, tracer);
}

/* Every thread the kernel lists is one we hold, in a tracing stop. */
static void check_held(const char *path, pid_t tid, void *arg)
{
	struct tracee *t = arg;
	char line[256], state = '?';
	FILE *f;
	size_t i;

	for (i = 0; i < t->nthreads && t->threads[i].tid != tid; i++)
		;
	if (i == t->nthreads)
		fail_msg("thread %d is not held", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "State: %c", &state) == 1)
			break;
	fclose(f);
	if (state != 't')
		fail_msg("thread %d is in state %c, not in a tracing stop", tid, state);
}

struct want_syscalls {
	long nr[4];
	size_t n;
	unsigned int seen; /* bit i: nr[i] is what some thread blocks in */
};

static void note_syscall(const char *path, pid_t tid, void *arg)
{
	struct want_syscalls *w = arg;
	long nr = -1;
	FILE *f = fopen(path, "re");

	(void)tid;
	if (!f)
		return;
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1; /* "running" */
	fclose(f);
	for (size_t i = 0; i < w->n; i++)
		if (w->nr[i] == nr)
			w->seen |= 1u << i;
}

/* Waits until the child's threads block in the given syscalls. */
static void wait_blocked(pid_t pid, struct want_syscalls w)
{
	uint64_t deadline = now_ms() + 3000;

	do {
		w.seen = 0;
		for_each_task(pid, "syscall", note_syscall, &w);
		if (w.seen == (1u << w.n) - 1)
			return;
		usleep(1000);
	} while (now_ms() < deadline);
	fail_msg("child %d never blocked in its syscalls (seen mask %x)", pid, w.seen);
}

static long inject(struct tracee *t, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	const long a[6] = { a0, a1, a2, a3, a4, a5 };
	long ret = 0;

	assert_int_equal(tracee__syscall(t, &ret, nr, a), 0);
	return ret;
}

/* --- 1. threads blocked in read, nanosleep and pause, one busy --- */

static volatile unsigned long counter;
static volatile int stop_busy;
static volatile sig_atomic_t got_usr1;
static volatile pid_t usr1_pid;
static volatile int usr1_code;

struct blocked_report {
	long read_n;
	int read_errno;
	char read_buf[16];
	int sleep_ret, sleep_errno;
	uint64_t sleep_ms;
	int pause_errno;
	int got_usr1;
	pid_t usr1_pid; /* siginfo as the sender made it, */
	int usr1_code;	/* not as vmsh re-raised it */
	unsigned long count_delta;
};
static struct blocked_report rep;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1_pid = si->si_pid;
	usr1_code = si->si_code;
	got_usr1 = 1;
}

static void *reader(void *arg)
{
	(void)arg;
	rep.read_n = read(data_pipe[0], rep.read_buf, sizeof(rep.read_buf) - 1);
	rep.read_errno = errno;
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec ts = { .tv_sec = 2 };
	uint64_t t0 = now_ms();

	(void)arg;
	rep.sleep_ret = nanosleep(&ts, NULL);
	rep.sleep_errno = errno;
	rep.sleep_ms = now_ms() - t0;
	return NULL;
}

static void *busy(void *arg)
{
	(void)arg;
	while (!stop_busy)
		counter++;
	return NULL;
}

static void blocked_child(void)
{
	/* No SA_RESTART: pause() must see EINTR. */
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	pthread_t th[3];
	sigset_t usr1;
	unsigned long c;

	sigaction(SIGUSR1, &sa, NULL);
	/* Only the main thread (the one vmsh injects in) may take SIGUSR1. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_create(&th[0], NULL, reader, NULL);
	pthread_create(&th[1], NULL, sleeper, NULL);
	pthread_create(&th[2], NULL, busy, NULL);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);

	if (pause() < 0)
		rep.pause_errno = errno;
	rep.got_usr1 = got_usr1;
	rep.usr1_pid = usr1_pid;
	rep.usr1_code = usr1_code;
	c = counter;
	usleep(50000);
	rep.count_delta = counter - c;
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	stop_busy = 1;
	pthread_join(th[2], NULL);
	if (write(report_pipe[1], &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
}

static void test_blocked_threads(void **state)
{
	struct tracee t;
	unsigned long c1, c2;
	char pattern[4096], back[4096];
	long addr;
	pid_t pid;

	(void)state;
	pid = spawn(blocked_child);
	wait_blocked(pid, (struct want_syscalls){
			      .nr = { SYS_read, SYS_clock_nanosleep, SYS_pause },
			      .n = 3,
			  });

	assert_int_equal(tracee__attach(&t, pid), 0);
	assert_int_equal(t.nthreads, 4);
	assert_int_equal(t.threads[t.inject_idx].tid, pid);
	for_each_task(pid, "status", check_held, &t);

	/* Held: the busy thread does not count. */
	assert_int_equal(tracee__read(&t, (uintptr_t)&counter, &c1, sizeof(c1)), 0);
	usleep(20000);
	assert_int_equal(tracee__read(&t, (uintptr_t)&counter, &c2, sizeof(c2)), 0);
	assert_true(c1 == c2);

	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	/* The leader was in pause(): its own `syscall` ran it, no gadget was searched. */
	assert_int_equal(t.threads[t.inject_idx].own_insn, t.threads[t.inject_idx].regs.rip - 2);
	assert_int_equal(t.syscall_insn, 0);

	addr = inject(&t, SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	assert_true(addr > 0 && (addr & 4095) == 0);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (char)(i * 7 + 3);
	assert_int_equal(tracee__write(&t, (uint64_t)addr, pattern, sizeof(pattern)), 0);
	assert_int_equal(tracee__read(&t, (uint64_t)addr, back, sizeof(back)), 0);
	assert_memory_equal(pattern, back, sizeof(back));
	assert_int_equal(inject(&t, SYS_munmap, addr, 4096, 0, 0, 0, 0), 0);
	assert_int_equal(tracee__read(&t, (uint64_t)addr, back, 8), -EFAULT);
	assert_int_equal(inject(&t, SYS_munmap, 1, 4096, 0, 0, 0, 0), -EINVAL);

	/* The injecting thread meets it on its next resume; it must not be lost. */
	assert_int_equal(kill(pid, SIGUSR1), 0);
	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);

	assert_int_equal(tracee__detach(&t), 0);
	assert_true(t.nr_ptrace > 0);
	assert_true(t.held_ns > 0);
	for_each_task(pid, "status", check_untraced, NULL);

	assert_int_equal(write(data_pipe[1], "hello", 5), 5);
	read_report(&rep, sizeof(rep));
	assert_int_equal(reap(), 0);

	/* read() restarted, not EINTR, and got what was written after detach. */
	assert_int_equal(rep.read_n, 5);
	assert_string_equal(rep.read_buf, "hello");
	/* nanosleep() restarted (restart_syscall) and ended on time. */
	assert_int_equal(rep.sleep_ret, 0);
	assert_in_range(rep.sleep_ms, 1950, 2500);
	/* The signal sent while held was delivered: pause() saw EINTR. */
	assert_int_equal(rep.got_usr1, 1);
	assert_int_equal(rep.pause_errno, EINTR);
	assert_int_equal(rep.usr1_pid, getpid());
	assert_int_equal(rep.usr1_code, SI_USER);
	assert_true(rep.count_delta > 0);
}

/* --- the injecting thread itself blocked in a syscall --- */

struct leader_report {
	long ret;
	int err;
	uint64_t ms;
	char buf[8];
};

static void leader_read_child(void)
{
	struct leader_report r = { 0 };

	r.ret = read(data_pipe[0], r.buf, sizeof(r.buf) - 1);
	r.err = errno;
	if (write(report_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(1);
}

static void leader_sleep_child(void)
{
	struct timespec ts = { .tv_nsec = 800 * 1000000 };
	struct leader_report r = { 0 };
	uint64_t t0 = now_ms();

	r.ret = nanosleep(&ts, NULL);
	r.err = errno;
	r.ms = now_ms() - t0;
	if (write(report_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(1);
}

static void held_inject_release(pid_t pid)
{
	struct tracee t;

	assert_int_equal(tracee__attach(&t, pid), 0);
	assert_int_equal(t.nthreads, 1);
	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	assert_int_equal(inject(&t, SYS_getppid, 0, 0, 0, 0, 0, 0), getpid());
	assert_int_equal(tracee__detach(&t), 0);
	for_each_task(pid, "status", check_untraced, NULL);
}

static void test_leader_restarts_read(void **state)
{
	struct leader_report r;
	pid_t pid;

	(void)state;
	pid = spawn(leader_read_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_read }, .n = 1 });
	held_inject_release(pid);
	assert_int_equal(write(data_pipe[1], "abc", 3), 3);
	read_report(&r, sizeof(r));
	assert_int_equal(reap(), 0);
	assert_int_equal(r.ret, 3);
	assert_string_equal(r.buf, "abc");
}

static void test_leader_restarts_nanosleep(void **state)
{
	struct leader_report r;
	pid_t pid;

	(void)state;
	pid = spawn(leader_sleep_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_clock_nanosleep }, .n = 1 });
	held_inject_release(pid);
	read_report(&r, sizeof(r));
	assert_int_equal(reap(), 0);
	assert_int_equal(r.ret, 0);
	assert_in_range(r.ms, 780, 1300);
}

/* --- 2. threads created and exiting all the time --- */

static atomic_int alive;

static void *short_lived(void *arg)
{
	(void)arg;
	usleep(500);
	atomic_fetch_sub(&alive, 1);
	return NULL;
}

static void spawner_child(void)
{
	unsigned long created = 0;
	char c;

	fcntl(data_pipe[0], F_SETFL, O_NONBLOCK);
	while (read(data_pipe[0], &c, 1) != 1) {
		pthread_t th;

		if (atomic_load(&alive) >= 6) {
			sched_yield();
			continue;
		}
		atomic_fetch_add(&alive, 1);
		if (pthread_create(&th, NULL, short_lived, NULL)) {
			atomic_fetch_sub(&alive, 1);
			continue;
		}
		pthread_detach(th);
		created++;
	}
	while (atomic_load(&alive))
		usleep(1000);
	if (write(report_pipe[1], &created, sizeof(created)) != sizeof(created))
		_exit(1);
}

static void test_spawning_threads(void **state)
{
	unsigned long created, max_threads = 0;
	pid_t pid;

	(void)state;
	pid = spawn(spawner_child);
	usleep(20000);
	for (int i = 0; i < 40; i++) {
		struct tracee t;

		assert_int_equal(tracee__attach(&t, pid), 0);
		for_each_task(pid, "status", check_held, &t);
		if (t.nthreads > max_threads)
			max_threads = t.nthreads;
		assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
		assert_int_equal(tracee__detach(&t), 0);
		for_each_task(pid, "status", check_untraced, NULL);
		usleep(2000);
	}
	assert_int_equal(write(data_pipe[1], "q", 1), 1);
	read_report(&created, sizeof(created));
	assert_int_equal(reap(), 0);
	assert_true(max_threads > 1);
	assert_true(created > 40);
}

/* --- 3. failures leave everything as it was --- */

static void echo_child(void)
{
	pthread_t th;
	char c;

	pthread_create(&th, NULL, sleeper, NULL); /* a second thread to fail on */
	while (read(data_pipe[0], &c, 1) == 1)
		if (write(report_pipe[1], &c, 1) != 1)
			_exit(1);
}

static void check_echo(void)
{
	char c = 0;

	assert_int_equal(write(data_pipe[1], "e", 1), 1);
	read_report(&c, 1);
	assert_int_equal(c, 'e');
}

static void test_attach_nonexistent(void **state)
{
	struct tracee t;
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(tracee__attach(&t, pid), -ESRCH);
}

static void test_attach_twice(void **state)
{
	struct tracee t1, t2;
	pid_t pid;

	(void)state;
	pid = spawn(echo_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_read }, .n = 1 });
	assert_int_equal(tracee__attach(&t1, pid), 0);
	assert_int_equal(tracee__attach(&t2, pid), -EPERM);
	assert_null(t2.threads);
	/* The first session is untouched by the failed second one. */
	for_each_task(pid, "status", check_held, &t1);
	assert_int_equal(inject(&t1, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	assert_int_equal(tracee__detach(&t1), 0);
	for_each_task(pid, "status", check_untraced, NULL);
	check_echo();
}

static void test_attach_fails_midway(void **state)
{
	struct tracee t;
	pid_t pid, other = 0;
	char path[64];
	int status;

	(void)state;
	pid = spawn(echo_child);
	wait_blocked(pid,
		     (struct want_syscalls){ .nr = { SYS_read, SYS_clock_nanosleep }, .n = 2 });
	/* Someone else (here: us, directly) traces the second thread. */
	for (pid_t tid = pid + 1; tid < pid + 64 && !other; tid++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
		if (!access(path, F_OK))
			other = tid;
	}
	assert_true(other > 0);
	assert_int_equal(ptrace(PTRACE_SEIZE, other, NULL, NULL), 0);

	assert_int_equal(tracee__attach(&t, pid), -EPERM);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, pid);
	assert_int_equal(status_field(path, "TracerPid:"), 0);
	check_echo(); /* the leader runs */

	assert_int_equal(ptrace(PTRACE_INTERRUPT, other, NULL, NULL), 0);
	assert_int_equal(waitpid(other, &status, __WALL), other);
	assert_int_equal(ptrace(PTRACE_DETACH, other, NULL, NULL), 0);
	for_each_task(pid, "status", check_untraced, NULL);
}

/*
 * --- the tracer dies: a tracer process of our own, SIGKILLed at a chosen
 * point, as vmsh could be (issue 19, finding 2) ---
 */

static int tracer_pipe[2]; /* the tracer's progress and results, to the test */

/* Forks fn(pid) as a tracer process of pid; the test reads tracer_pipe[0]. */
static pid_t spawn_tracer(void (*fn)(pid_t), pid_t pid)
{
	pid_t tracer;

	if (pipe(tracer_pipe))
		fail_msg("pipe: %s", strerror(errno));
	tracer = fork();
	if (tracer < 0)
		fail_msg("fork: %s", strerror(errno));
	if (tracer == 0) {
		close(tracer_pipe[0]);
		fn(pid);
		_exit(0);
	}
	close(tracer_pipe[1]);
	return tracer;
}

static void read_tracer(void *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = tracer_pipe[0], .events = POLLIN };

	assert_int_equal(poll(&p, 1, timeout_ms), 1);
	assert_int_equal(read(tracer_pipe[0], buf, len), (ssize_t)len);
}

static void kill_tracer(pid_t tracer)
{
	int status;

	assert_int_equal(kill(tracer, SIGKILL), 0);
	assert_int_equal(waitpid(tracer, &status, 0), tracer);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(tracer_pipe[0]);
}

/* The tracee: its leader reads data_pipe; reports each read's result. */
struct loop_report {
	long ret[4];
	int err[4];
	int n;
	char buf[8];
	uint64_t canary; /* a callee-saved value across the reads */
};

static void leader_read_loop_child(void)
{
	struct loop_report r = { .canary = 0x5eed0f0ddeadbeefull };
	volatile uint64_t keep = r.canary;

	/* A 0 is what an abandoned injected syscall may return (see tracee.c). */
	do {
		r.ret[r.n] = read(data_pipe[0], r.buf, sizeof(r.buf) - 1);
		r.err[r.n] = errno;
	} while (r.ret[r.n++] == 0 && r.n < 4);
	r.canary = keep;
	if (write(report_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(1);
}

/* Attaches, runs two syscalls, says so, and waits to be killed. */
static void tracer_between(pid_t pid)
{
	struct tracee t;
	long ret;
	int ok;

	ok = tracee__attach(&t, pid) == 0 &&
	     tracee__syscall(&t, &ret, SYS_getpid, (const long[6]){ 0 }) == 0 && ret == pid &&
	     tracee__syscall(&t, &ret, SYS_getppid, (const long[6]){ 0 }) == 0;
	if (write(tracer_pipe[1], &ok, sizeof(ok)) != sizeof(ok))
		_exit(1);
	pause();
}

static void check_abandoned_leader(pid_t pid, int max_zeros)
{
	struct loop_report r;

	/* The kernel let every thread go when the tracer died. */
	for_each_task(pid, "status", check_untraced, NULL);
	assert_int_equal(write(data_pipe[1], "hello", 5), 5);
	read_report(&r, sizeof(r));
	assert_int_equal(reap(), 0);
	/* Its own read() went on (restarted), and got what was written. */
	assert_in_range(r.n, 1, (uint64_t)max_zeros + 1);
	for (int i = 0; i + 1 < r.n; i++)
		assert_int_equal(r.ret[i], 0);
	assert_int_equal(r.ret[r.n - 1], 5);
	assert_string_equal(r.buf, "hello");
	assert_int_equal(r.canary, 0x5eed0f0ddeadbeefull);
}

/*
 * Killed between injections (where vmsh spends its time): the leader holds
 * its own registers, so its read() restarts as if it had never been held.
 */
static void test_tracer_killed_between_syscalls(void **state)
{
	pid_t pid, tracer;
	int ok = 0;

	(void)state;
	pid = spawn(leader_read_loop_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_read }, .n = 1 });
	tracer = spawn_tracer(tracer_between, pid);
	read_tracer(&ok, sizeof(ok), 5000);
	assert_int_equal(ok, 1);
	kill_tracer(tracer);
	check_abandoned_leader(pid, 0);
}

static struct timespec long_sleep = { .tv_sec = 1 }; /* at the same address in the tracee */

/* Attaches, says so, and injects a 1 s nanosleep, during which it is killed. */
static void tracer_inside(pid_t pid)
{
	struct tracee t;
	long ret;
	int ok;

	ok = tracee__attach(&t, pid) == 0 &&
	     tracee__syscall(&t, &ret, SYS_getpid, (const long[6]){ 0 }) == 0;
	if (write(tracer_pipe[1], &ok, sizeof(ok)) != sizeof(ok))
		_exit(1);
	tracee__syscall(&t, &ret, SYS_nanosleep, (const long[6]){ (long)&long_sleep, 0 });
	pause();
}

/*
 * Killed inside an injected syscall: it runs to its end and returns to the
 * leader's own code (its own `syscall` was used, not a gadget elsewhere),
 * whose read() sees nanosleep's 0 once (tracee.c, point 2) and goes on.
 */
static void test_tracer_killed_inside_a_syscall(void **state)
{
	pid_t pid, tracer;
	int ok = 0;

	(void)state;
	pid = spawn(leader_read_loop_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_read }, .n = 1 });
	tracer = spawn_tracer(tracer_inside, pid);
	read_tracer(&ok, sizeof(ok), 5000);
	assert_int_equal(ok, 1);
	usleep(300000); /* inside the nanosleep */
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_nanosleep }, .n = 1 });
	kill_tracer(tracer);
	usleep(1000000); /* the nanosleep ends */
	check_abandoned_leader(pid, 1);
}

/*
 * --- a thread that cannot reach a ptrace stop: a vfork parent waits for
 * its child killably, which PTRACE_INTERRUPT does not wake (issue 19,
 * finding 6) ---
 */

struct stuck_report {
	pid_t vfork_ret;
	unsigned long count_delta;
};
static struct stuck_report stuck_rep;

static void *vforker(void *arg)
{
	(void)arg;
	stuck_rep.vfork_ret = vfork();
	if (stuck_rep.vfork_ret == 0) {
		/* The child: only raw syscalls, it shares the parent's memory. */
		syscall(SYS_nanosleep, &(struct timespec){ .tv_sec = 3 }, NULL);
		syscall(SYS_exit, 0);
	}
	return NULL;
}

static void stuck_child(void)
{
	pthread_t th;
	unsigned long c;

	pthread_create(&th, NULL, vforker, NULL);
	usleep(200000);
	c = counter;
	for (int i = 0; i < 5000 && !stuck_rep.vfork_ret; i++) {
		counter++;
		usleep(1000);
	}
	pthread_join(th, NULL);
	stuck_rep.count_delta = counter - c;
	if (write(report_pipe[1], &stuck_rep, sizeof(stuck_rep)) != sizeof(stuck_rep))
		_exit(1);
}

struct stuck_tracer_report {
	int r;
	uint64_t ms;
	int traced; /* threads of pid still traced by the tracer after the failure */
};

static void count_traced(const char *path, pid_t tid, void *arg)
{
	struct stuck_tracer_report *s = arg;

	(void)tid;
	if (status_field(path, "TracerPid:") == getpid())
		s->traced++;
}

static void tracer_stuck(pid_t pid)
{
	struct stuck_tracer_report s = { 0 };
	struct tracee t;
	uint64_t t0 = now_ms();

	tracee_deadline_ms = 1000;
	s.r = tracee__attach(&t, pid);
	s.ms = now_ms() - t0;
	for_each_task(pid, "status", count_traced, &s);
	if (write(tracer_pipe[1], &s, sizeof(s)) != sizeof(s))
		_exit(1);
	/* Exiting lets the stuck thread go (tracee.h). */
}

/*
 * A hold of PID, where one thread cannot stop, fails by its deadline (1 s
 * here), not when that thread ends (3 s); only that thread stayed seized,
 * and it too is let go once the tracer exits; the process ran on meanwhile
 * (its main thread counted). R: what the process reported at its end.
 */
static void hold_fails_by_deadline(pid_t pid, struct stuck_report *r)
{
	struct stuck_tracer_report s;
	pid_t tracer = spawn_tracer(tracer_stuck, pid);
	int status;

	read_tracer(&s, sizeof(s), 5000);
	assert_int_equal(waitpid(tracer, &status, 0), tracer);
	close(tracer_pipe[0]);
	assert_int_equal(s.r, -ETIMEDOUT);
	assert_in_range(s.ms, 1000, 2500);
	assert_int_equal(s.traced, 1);
	for_each_task(pid, "status", check_untraced, NULL);
	read_report(r, sizeof(*r));
	assert_int_equal(reap(), 0);
	assert_true(r->count_delta > 100);
}

static void test_stuck_thread_deadline(void **state)
{
	struct stuck_report r;
	pid_t pid;

	(void)state;
	pid = spawn(stuck_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_vfork }, .n = 1 });
	hold_fails_by_deadline(pid, &r);
	/* vfork returned the child */
	assert_true(r.vfork_ret > 0);
}

/*
 * The same with a thread whose read() copies into a page registered with a
 * userfaultfd whose handler does not answer (QEMU's postcopy migration with
 * a stalled source): state S, in handle_userfault, and yet no stop on 6.18.
 */
static int uffd_fd = -1;
static char *uffd_page;

static void *uffd_reader(void *arg)
{
	(void)arg;
	stuck_rep.vfork_ret = (pid_t)read(data_pipe[0], uffd_page, 5);
	return NULL;
}

static void uffd_child(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero = { 0 };
	pthread_t th;
	unsigned long c;

	/* Made here: a registration is not inherited by fork without EVENT_FORK. */
	uffd_fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	uffd_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = zero.range.start = (uintptr_t)uffd_page;
	reg.range.len = zero.range.len = 4096;
	if (uffd_fd < 0 || uffd_page == MAP_FAILED || ioctl(uffd_fd, UFFDIO_API, &api) ||
	    ioctl(uffd_fd, UFFDIO_REGISTER, &reg))
		_exit(3);
	pthread_create(&th, NULL, uffd_reader, NULL);
	usleep(200000);
	c = counter;
	for (int i = 0; i < 2500; i++) {
		counter++;
		usleep(1000);
	}
	/* The handler answers at last: the reader's copy goes on. */
	ioctl(uffd_fd, UFFDIO_ZEROPAGE, &zero);
	pthread_join(th, NULL);
	stuck_rep.count_delta = counter - c;
	if (write(report_pipe[1], &stuck_rep, sizeof(stuck_rep)) != sizeof(stuck_rep))
		_exit(1);
}

static void test_userfault_thread_deadline(void **state)
{
	struct stuck_report r;
	pid_t pid;
	int probe;

	(void)state;
	probe = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (probe < 0) {
		print_message("# skipped: userfaultfd: %s (vm.unprivileged_userfaultfd=0 and no "
			      "CAP_SYS_PTRACE?)\n",
			      strerror(errno));
		skip();
	}
	close(probe);
	memset(&stuck_rep, 0, sizeof(stuck_rep));
	pid = spawn(uffd_child);
	assert_int_equal(write(data_pipe[1], "hello", 5), 5);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_read }, .n = 1 });
	hold_fails_by_deadline(pid, &r);
	assert_int_equal(r.vfork_ret, 5); /* the reader's read() */
}

/*
 * --- signals caught while injecting keep their siginfo (issue 19, finding
 * 9: QEMU aborts on a SIGBUS that is not BUS_MCEERR_*) ---
 */

struct siginfo_report {
	int usr1_code, usr1_value;
	pid_t usr1_pid;
	int bus_code;
	void *bus_addr;
	int n;
};
static volatile struct siginfo_report sig_rep;
static siginfo_t bus_info; /* made before fork: at the same address in the tracee */

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGUSR1) {
		sig_rep.usr1_code = si->si_code;
		sig_rep.usr1_value = si->si_value.sival_int;
		sig_rep.usr1_pid = si->si_pid;
	} else {
		sig_rep.bus_code = si->si_code;
		sig_rep.bus_addr = si->si_addr;
	}
	sig_rep.n++;
}

static void siginfo_child(void)
{
	struct sigaction sa = { .sa_sigaction = on_info, .sa_flags = SA_SIGINFO };
	struct siginfo_report r;

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	while (sig_rep.n < 2)
		pause();
	r = sig_rep;
	if (write(report_pipe[1], &r, sizeof(r)) != sizeof(r))
		_exit(1);
}

static void test_held_signals_keep_siginfo(void **state)
{
	struct siginfo_report r;
	struct tracee t;
	pid_t pid;

	(void)state;
	memset(&bus_info, 0, sizeof(bus_info));
	bus_info.si_signo = SIGBUS;
	bus_info.si_code = BUS_MCEERR_AR;
	bus_info.si_addr = (void *)0x1234000;
	pid = spawn(siginfo_child);
	wait_blocked(pid, (struct want_syscalls){ .nr = { SYS_pause }, .n = 1 });

	assert_int_equal(tracee__attach(&t, pid), 0);
	/* A sigqueue()d SIGUSR1 with a value: the first signal held. */
	assert_int_equal(sigqueue(pid, SIGUSR1, (union sigval){ .sival_int = 4242 }), 0);
	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	/*
	 * A SIGBUS as the kernel sends for a memory error (only the process
	 * itself may queue a kernel si_code): the second one held.
	 */
	assert_int_equal(inject(&t, SYS_rt_tgsigqueueinfo, pid, pid, SIGBUS, (long)&bus_info, 0, 0),
			 0);
	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	/* SIGUSR1 again: a standard signal is held once (sent twice, it would be one). */
	assert_int_equal(sigqueue(pid, SIGUSR1, (union sigval){ .sival_int = 4343 }), 0);
	assert_int_equal(inject(&t, SYS_getpid, 0, 0, 0, 0, 0, 0), pid);
	assert_int_equal(t.threads[t.inject_idx].pending_signal, SIGUSR1);
	assert_int_equal(tracee__detach(&t), 0);

	read_report(&r, sizeof(r));
	assert_int_equal(reap(), 0);
	assert_int_equal(r.usr1_code, SI_QUEUE);
	assert_int_equal(r.usr1_value, 4242);
	assert_int_equal(r.usr1_pid, getpid());
	assert_int_equal(r.bus_code, BUS_MCEERR_AR);
	assert_ptr_equal(r.bus_addr, (void *)0x1234000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blocked_threads, teardown),
		cmocka_unit_test_teardown(test_leader_restarts_read, teardown),
		cmocka_unit_test_teardown(test_leader_restarts_nanosleep, teardown),
		cmocka_unit_test_teardown(test_spawning_threads, teardown),
		cmocka_unit_test_teardown(test_attach_nonexistent, teardown),
		cmocka_unit_test_teardown(test_attach_twice, teardown),
		cmocka_unit_test_teardown(test_attach_fails_midway, teardown),
		cmocka_unit_test_teardown(test_tracer_killed_between_syscalls, teardown),
		cmocka_unit_test_teardown(test_tracer_killed_inside_a_syscall, teardown),
		cmocka_unit_test_teardown(test_stuck_thread_deadline, teardown),
		cmocka_unit_test_teardown(test_userfault_thread_deadline, teardown),
		cmocka_unit_test_teardown(test_held_signals_keep_siginfo, teardown),
	};

	if (getenv("VMSH_VERBOSE"))
		vmsh_verbose = atoi(getenv("VMSH_VERBOSE"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
