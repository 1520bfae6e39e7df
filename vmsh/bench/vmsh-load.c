// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh-load's entry point and its simple modes (see load.h): the usage text,
 * the option parser, the helpers the stress mode shares, and the
 * randread/seqread/seqwrite, cpu, echo/rtt and fill modes.
 *
 * I/O modes use O_DIRECT with aligned buffers, so that they measure the
 * disk and not the guest's page cache. Queue depth N is N threads, each with
 * one outstanding pread: honest, and no AIO library needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/mount.h> /* BLKGETSIZE64 (musl has no kernel headers) */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "load.h"

#define ALIGN 4096
#define MAX_THREADS 256

const char *prog = "vmsh-load";

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsh-load MODE [ARGS] [OPTIONS]\n"
		   "\n"
		   "Load for vmsh's benchmark and stress test. Every mode prints one line\n"
		   "'MODE key=value ...' on stdout; errors go to stderr with exit status 1.\n"
		   "\n"
		   "  randread FILE [--qd N] [--bs B] [--secs S]\n"
		   "        random O_DIRECT reads of B bytes (default 4096) at queue depth N\n"
		   "        (default 16: N threads, each with one pread in flight), for S\n"
		   "        seconds (default 5); prints iops= mbps= ios= secs=\n"
		   "  seqread FILE [--bs B] [--secs S]\n"
		   "  seqwrite FILE [--bs B] [--secs S]\n"
		   "        sequential O_DIRECT reads or writes (overwriting FILE in place,\n"
		   "        never growing it) of B bytes (default 262144), wrapping at the end\n"
		   "        of FILE; seqwrite ends with fdatasync, inside the timed part\n"
		   "  cpu [--secs S] [--threads N]\n"
		   "        a fixed CPU-bound kernel (integer mixing in a 16 KiB table, no\n"
		   "        system calls); prints ops_per_s= (1 op = 65536 table updates)\n"
		   "  echo [--tty DEV]\n"
		   "        read lines on stdin (or on terminal DEV, put in raw mode with no\n"
		   "        echo) and write each back at once, unbuffered, until end of input\n"
		   "  rtt [--count N] [--warmup N] [--timeout S] (--unix PATH | -- CMD [ARG...])\n"
		   "        the other end of 'echo': write a line, wait for its echo, N times\n"
		   "        (default 100, after 10 unmeasured); to a unix socket or to CMD's\n"
		   "        stdin/stdout pipes (CMD's exit status must be 0). Lines that are not\n"
		   "        the awaited echo are skipped. Waits up to S seconds (default 300)\n"
		   "        for the first echo; prints n= median_us= p10_us= p90_us= min_us=\n"
		   "        max_us=\n"
		   "  stress DIR [--secs S] [--writers N] [--readers N] [--file-mib M]\n"
		   "        writers (default 4) each own a file of M MiB (default 8) in DIR and\n"
		   "        overwrite runs of 1-16 4 KiB blocks with O_DIRECT; every block\n"
		   "        carries its file, index, generation and a checksum. Readers\n"
		   "        (default 4) re-read random runs with O_DIRECT and check each block\n"
		   "        that no writer touched meanwhile. After S seconds (default 60) every\n"
		   "        block is read back and checked against its last generation. A\n"
		   "        mismatch, an I/O error, a short transfer or a request that takes\n"
		   "        more than 10 s (a lost completion) fails at once with a message;\n"
		   "        prints 'stress ok' and totals\n"
		   "  fill FILE --size SIZE\n"
		   "        write SIZE bytes (K, M, G suffixes) of pseudo-random data to FILE:\n"
		   "        no holes, no zero blocks\n"
		   "\n"
		   "Options may also be written --opt=value.\n");
}

void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		die("bad %s '%s'", what, s);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end)
		die("bad %s '%s'", what, s);
	return v;
}

double parse_secs(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v > 0) || v > 86400)
		die("bad --secs '%s'", s);
	return v;
}

void *xalloc_aligned(size_t size)
{
	void *p;
	if (posix_memalign(&p, ALIGN, size))
		die("out of memory (%zu bytes)", size);
	return p;
}

void fill_random(void *buf, size_t len, uint64_t seed)
{
	uint64_t *w = buf;
	for (size_t i = 0; i < len / 8; i++)
		w[i] = splitmix(&seed) | 0x0101010101010101ull; /* never a zero byte */
}

/* The usable size of FILE (a regular file or a block device). */
uint64_t fd_size(int fd, const char *path)
{
	struct stat st;
	uint64_t size;
	if (fstat(fd, &st))
		die("stat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size))
			die("BLKGETSIZE64 %s: %s", path, strerror(errno));
		return size;
	}
	return (uint64_t)st.st_size;
}

int open_direct(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		die("open %s with O_DIRECT: %s", path, strerror(errno));
	return fd;
}

/* ---- options ---- */

void parse_opts(int argc, char **argv, struct opts *o, bool want_path)
{
	static const struct option lopts[] = {
		{ "qd", required_argument, 0, 'q' },
		{ "bs", required_argument, 0, 'b' },
		{ "secs", required_argument, 0, 's' },
		{ "threads", required_argument, 0, 't' },
		{ "tty", required_argument, 0, 'T' },
		{ "count", required_argument, 0, 'c' },
		{ "warmup", required_argument, 0, 'w' },
		{ "timeout", required_argument, 0, 'o' },
		{ "unix", required_argument, 0, 'u' },
		{ "writers", required_argument, 0, 'W' },
		{ "readers", required_argument, 0, 'R' },
		{ "file-mib", required_argument, 0, 'F' },
		{ "size", required_argument, 0, 'S' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	optind = 1;
	/* Options and the path in any order; rtt's CMD comes after "--". */
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o->qd = (unsigned)parse_size(optarg, "--qd");
			break;
		case 'b':
			o->bs = parse_size(optarg, "--bs");
			break;
		case 's':
			o->secs = parse_secs(optarg);
			break;
		case 't':
			o->threads = (unsigned)parse_size(optarg, "--threads");
			break;
		case 'T':
			o->tty = optarg;
			break;
		case 'c':
			o->count = (unsigned)parse_size(optarg, "--count");
			break;
		case 'w':
			o->warmup = (unsigned)parse_size(optarg, "--warmup");
			break;
		case 'o':
			o->timeout = parse_secs(optarg);
			break;
		case 'u':
			o->unix_path = optarg;
			break;
		case 'W':
			o->writers = (unsigned)parse_size(optarg, "--writers");
			break;
		case 'R':
			o->readers = (unsigned)parse_size(optarg, "--readers");
			break;
		case 'F':
			o->file_mib = (unsigned)parse_size(optarg, "--file-mib");
			break;
		case 'S':
			o->size = parse_size(optarg, "--size");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (want_path) {
		if (optind >= argc)
			die("%s needs a path (see --help)", argv[0]);
		o->path = argv[optind++];
	}
	o->cmd = argv + optind;
	if (*o->cmd && !o->unix_path && strcmp(argv[0], "rtt"))
		die("unexpected argument '%s' (see --help)", *o->cmd);
	if (o->qd < 1 || o->qd > MAX_THREADS || o->threads < 1 || o->threads > MAX_THREADS ||
	    o->writers < 1 || o->writers > MAX_THREADS || o->readers > MAX_THREADS)
		die("thread counts must be 1-%d", MAX_THREADS);
	if (o->bs < 512 || o->bs % 512 || o->bs > (64u << 20))
		die("--bs must be a multiple of 512, at most 64M");
}

/* ---- randread, seqread, seqwrite ---- */

struct io_job {
	int fd;
	uint64_t size, bs;
	int64_t deadline;
	unsigned id;
	pthread_barrier_t *go;
	uint64_t ops;
	int64_t end;
};

static void *randread_thread(void *arg)
{
	struct io_job *j = arg;
	uint64_t seed = 0x1234567ull * (j->id + 1) ^ (uint64_t)now_ns();
	uint64_t nblocks = j->size / j->bs;
	void *buf = xalloc_aligned(j->bs);
	pthread_barrier_wait(j->go); /* the deadline is set */
	while (now_ns() < j->deadline) {
		off_t off = (off_t)(splitmix(&seed) % nblocks * j->bs);
		ssize_t n = pread(j->fd, buf, j->bs, off);
		if (n != (ssize_t)j->bs)
			die("randread: pread at %lld: %s", (long long)off,
			    n < 0 ? strerror(errno) : "short read");
		j->ops++;
	}
	j->end = now_ns();
	free(buf);
	return NULL;
}

static void report_io(const char *mode, uint64_t ops, uint64_t bs, int64_t ns, unsigned qd)
{
	double s = (double)ns / NSEC;
	printf("%s iops=%.1f mbps=%.2f ios=%" PRIu64 " secs=%.3f qd=%u bs=%" PRIu64 "\n", mode,
	       (double)ops / s, (double)ops * (double)bs / s / 1e6, ops, s, qd, bs);
}

int cmd_randread(struct opts *o)
{
	int fd = open_direct(o->path, O_RDONLY);
	uint64_t size = fd_size(fd, o->path);
	if (size < o->bs)
		die("%s is smaller than one block", o->path);
	static struct io_job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	pthread_barrier_t go;
	int64_t t0, t1 = 0;
	uint64_t ops = 0;
	pthread_barrier_init(&go, NULL, o->qd + 1);
	for (unsigned i = 0; i < o->qd; i++) {
		jobs[i] =
		    (struct io_job){ .fd = fd, .size = size, .bs = o->bs, .id = i, .go = &go };
		if (pthread_create(&th[i], NULL, randread_thread, &jobs[i]))
			die("pthread_create failed");
	}
	t0 = now_ns();
	for (unsigned i = 0; i < o->qd; i++)
		jobs[i].deadline = t0 + (int64_t)(o->secs * NSEC);
	pthread_barrier_wait(&go);
	for (unsigned i = 0; i < o->qd; i++) {
		pthread_join(th[i], NULL);
		ops += jobs[i].ops;
		if (jobs[i].end > t1)
			t1 = jobs[i].end;
	}
	report_io("randread", ops, o->bs, t1 - t0, o->qd);
	close(fd);
	return 0;
}

int cmd_seq(struct opts *o, bool write)
{
	int fd = open_direct(o->path, write ? O_WRONLY : O_RDONLY);
	uint64_t size = fd_size(fd, o->path) / o->bs * o->bs, off = 0, ops = 0;
	void *buf = xalloc_aligned(o->bs);
	int64_t t0, deadline;
	if (!size)
		die("%s is smaller than one block", o->path);
	fill_random(buf, o->bs, 42);
	t0 = now_ns();
	deadline = t0 + (int64_t)(o->secs * NSEC);
	while (now_ns() < deadline) {
		ssize_t n =
		    write ? pwrite(fd, buf, o->bs, (off_t)off) : pread(fd, buf, o->bs, (off_t)off);
		if (n != (ssize_t)o->bs)
			die("%s at %" PRIu64 ": %s", write ? "pwrite" : "pread", off,
			    n < 0 ? strerror(errno) : "short transfer");
		ops++;
		off += o->bs;
		if (off >= size)
			off = 0;
	}
	if (write && fdatasync(fd))
		die("fdatasync %s: %s", o->path, strerror(errno));
	report_io(write ? "seqwrite" : "seqread", ops, o->bs, now_ns() - t0, 1);
	free(buf);
	close(fd);
	return 0;
}

/* ---- cpu ---- */

struct cpu_job {
	int64_t deadline;
	uint64_t ops, sink;
	int64_t end;
};

static void *cpu_thread(void *arg)
{
	struct cpu_job *j = arg;
	uint64_t table[2048]; /* 16 KiB: stays in L1 */
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < 2048; i++)
		table[i] = splitmix(&x);
	while (now_ns() < j->deadline) {
		/* one op: 65536 dependent updates */
		for (unsigned i = 0; i < 65536; i++) {
			uint64_t *t = &table[x & 2047];
			x = (x ^ *t) * 0xff51afd7ed558ccdull;
			x ^= x >> 29;
			*t += x;
		}
		j->ops++;
	}
	j->end = now_ns();
	j->sink = x;
	return NULL;
}

int cmd_cpu(struct opts *o)
{
	static struct cpu_job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	int64_t t0 = now_ns(), t1 = 0;
	uint64_t ops = 0, sink = 0;
	for (unsigned i = 0; i < o->threads; i++) {
		jobs[i].deadline = t0 + (int64_t)(o->secs * NSEC);
		if (pthread_create(&th[i], NULL, cpu_thread, &jobs[i]))
			die("pthread_create failed");
	}
	for (unsigned i = 0; i < o->threads; i++) {
		pthread_join(th[i], NULL);
		ops += jobs[i].ops;
		sink ^= jobs[i].sink;
		if (jobs[i].end > t1)
			t1 = jobs[i].end;
	}
	printf("cpu ops_per_s=%.2f ops=%" PRIu64 " secs=%.3f threads=%u check=%" PRIx64 "\n",
	       (double)ops * NSEC / (double)(t1 - t0), ops, (double)(t1 - t0) / NSEC, o->threads,
	       sink & 0xffff);
	return 0;
}

/* ---- echo, rtt, fill ---- */

void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", n < 0 ? strerror(errno) : "nothing written");
		p += n;
		len -= (size_t)n;
	}
}

int cmd_echo(struct opts *o)
{
	int in = 0, out = 1;
	char buf[4096];
	size_t have = 0;
	if (o->tty) {
		struct termios t;
		in = out = open(o->tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (in < 0)
			die("open %s: %s", o->tty, strerror(errno));
		if (tcgetattr(in, &t))
			die("tcgetattr %s: %s", o->tty, strerror(errno));
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(in, TCSANOW, &t))
			die("tcsetattr %s: %s", o->tty, strerror(errno));
		tcflush(in, TCIFLUSH);
	}
	for (;;) {
		ssize_t n = read(in, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			break;
		have += (size_t)n;
		/* write back every complete line at once */
		char *nl = memrchr(buf, '\n', have);
		if (nl) {
			size_t len = (size_t)(nl - buf) + 1;
			write_all(out, buf, len);
			memmove(buf, buf + len, have - len);
			have -= len;
		} else if (have == sizeof(buf)) {
			write_all(out, buf, have);
			have = 0;
		}
	}
	if (have)
		write_all(out, buf, have);
	return 0;
}

struct line_reader {
	int fd;
	char buf[8192];
	size_t have;
};

/*
 * Read one line (without '\n', '\r' stripped) into line within deadline;
 * returns 1, 0 at end of input, -1 on timeout.
 */
static int read_line(struct line_reader *r, char *line, size_t max, int64_t deadline)
{
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->have);
		if (nl) {
			size_t len = (size_t)(nl - r->buf);
			size_t copy = len < max - 1 ? len : max - 1;
			memcpy(line, r->buf, copy);
			while (copy && line[copy - 1] == '\r')
				copy--;
			line[copy] = 0;
			memmove(r->buf, nl + 1, r->have - len - 1);
			r->have -= len + 1;
			return 1;
		}
		if (r->have == sizeof(r->buf))
			r->have = 0; /* an overlong line of noise */
		int64_t left = deadline - now_ns();
		if (left <= 0)
			return -1;
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int rc = poll(&p, 1, (int)(left / 1000000 + 1));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			die("poll: %s", strerror(errno));
		if (rc == 0)
			continue;
		ssize_t n = read(r->fd, r->buf + r->have, sizeof(r->buf) - r->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			return 0;
		r->have += (size_t)n;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int cmd_rtt(struct opts *o)
{
	struct line_reader r = { 0 };
	int wfd;
	pid_t child = -1;
	char msg[128], line[512];
	int64_t *rtt;
	unsigned total = o->warmup + o->count, got = 0;

	if (!o->count)
		die("--count must be at least 1");
	if (o->unix_path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(o->unix_path) >= sizeof(sa.sun_path))
			die("socket path too long: %s", o->unix_path);
		strcpy(sa.sun_path, o->unix_path);
		r.fd = wfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (r.fd < 0 || connect(r.fd, (struct sockaddr *)&sa, sizeof(sa)))
			die("connect %s: %s", o->unix_path, strerror(errno));
	} else {
		int to[2], from[2];
		if (!*o->cmd)
			die("rtt needs --unix PATH or -- CMD (see --help)");
		if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
			die("pipe: %s", strerror(errno));
		child = fork();
		if (child < 0)
			die("fork: %s", strerror(errno));
		if (child == 0) {
			dup2(to[0], 0);
			dup2(from[1], 1);
			execvp(o->cmd[0], o->cmd);
			fprintf(stderr, "%s: exec %s: %s\n", prog, o->cmd[0], strerror(errno));
			_exit(127);
		}
		close(to[0]);
		close(from[1]);
		wfd = to[1];
		r.fd = from[0];
	}
	signal(SIGPIPE, SIG_IGN);

	/* Ready: the first echo, asking again every 2 s (a serial line drops
	 * what arrives before the other end opened it). */
	int64_t give_up = now_ns() + (int64_t)(o->timeout * NSEC);
	for (unsigned k = 0;; k++) {
		int64_t next = now_ns() + 2 * NSEC;
		snprintf(msg, sizeof(msg), "vmsh-rtt-ready-%u\n", k);
		write_all(wfd, msg, strlen(msg));
		int rc = 0;
		while ((rc = read_line(&r, line, sizeof(line), next < give_up ? next : give_up)) ==
		       1)
			if (!strncmp(line, "vmsh-rtt-ready-", 15))
				break;
		if (rc == 1)
			break;
		if (rc == 0)
			die("rtt: the other end closed before the first echo");
		if (now_ns() >= give_up)
			die("rtt: no echo within %.0f s", o->timeout);
	}
	/* Whatever else is on its way (repeated ready lines) is dropped. */
	for (;;) {
		int rc = read_line(&r, line, sizeof(line), now_ns() + NSEC / 2);
		if (rc == 0)
			die("rtt: the other end closed");
		if (rc < 0)
			break;
	}

	rtt = calloc(total, sizeof(*rtt));
	for (unsigned i = 0; i < total; i++) {
		/* 64 bytes a line: a short command line */
		snprintf(msg, sizeof(msg),
			 "vmsh-rtt %06u abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ\n", i);
		int64_t t0 = now_ns();
		write_all(wfd, msg, strlen(msg));
		msg[strlen(msg) - 1] = 0;
		for (;;) {
			int rc = read_line(&r, line, sizeof(line), t0 + 30 * NSEC);
			if (rc == 0)
				die("rtt: the other end closed after %u lines", i);
			if (rc < 0)
				die("rtt: no echo of line %u within 30 s", i);
			if (!strcmp(line, msg))
				break;
		}
		rtt[i] = now_ns() - t0;
		got++;
	}
	close(wfd);
	if (child > 0) {
		int st;
		close(r.fd);
		if (waitpid(child, &st, 0) < 0)
			die("waitpid: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("rtt: %s exited with status %d", o->cmd[0],
			    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	int64_t *m = rtt + o->warmup;
	qsort(m, o->count, sizeof(*m), cmp_i64);
	unsigned n = o->count;
	double med = n % 2 ? (double)m[n / 2] : ((double)m[n / 2 - 1] + (double)m[n / 2]) / 2;
	printf("rtt n=%u median_us=%.1f p10_us=%.1f p90_us=%.1f min_us=%.1f max_us=%.1f\n", n,
	       med / 1e3, (double)m[n / 10] / 1e3, (double)m[n * 9 / 10] / 1e3, (double)m[0] / 1e3,
	       (double)m[n - 1] / 1e3);
	free(rtt);
	(void)got;
	return 0;
}

int cmd_fill(struct opts *o)
{
	size_t chunk = 1 << 20;
	char *buf = xalloc_aligned(chunk);
	uint64_t seed = 7, done = 0;
	int fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open %s: %s", o->path, strerror(errno));
	if (!o->size)
		die("fill needs --size");
	while (done < o->size) {
		size_t len = o->size - done < chunk ? (size_t)(o->size - done) : chunk;
		fill_random(buf, chunk, splitmix(&seed));
		write_all(fd, buf, len);
		done += len;
	}
	if (fsync(fd) || close(fd))
		die("fsync %s: %s", o->path, strerror(errno));
	printf("fill bytes=%" PRIu64 "\n", done);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .qd = 16,
			  .threads = 1,
			  .writers = 4,
			  .readers = 4,
			  .count = 100,
			  .warmup = 10,
			  .file_mib = 8,
			  .secs = 5,
			  .timeout = 300 };
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "-h") || !strcmp(mode, "--help") || !strcmp(mode, "help")) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	if (!strcmp(mode, "randread")) {
		o.bs = 4096;
		parse_opts(argc, argv, &o, true);
		return cmd_randread(&o);
	}
	if (!strcmp(mode, "seqread") || !strcmp(mode, "seqwrite")) {
		o.bs = 262144;
		parse_opts(argc, argv, &o, true);
		return cmd_seq(&o, mode[3] == 'w');
	}
	o.bs = 4096;
	if (!strcmp(mode, "cpu")) {
		parse_opts(argc, argv, &o, false);
		return cmd_cpu(&o);
	}
	if (!strcmp(mode, "echo")) {
		parse_opts(argc, argv, &o, false);
		return cmd_echo(&o);
	}
	if (!strcmp(mode, "rtt")) {
		parse_opts(argc, argv, &o, false);
		return cmd_rtt(&o);
	}
	if (!strcmp(mode, "stress")) {
		o.secs = 60;
		parse_opts(argc, argv, &o, true);
		return cmd_stress(&o);
	}
	if (!strcmp(mode, "fill")) {
		parse_opts(argc, argv, &o, true);
		return cmd_fill(&o);
	}
	fprintf(stderr, "%s: unknown mode '%s'\n", prog, mode);
	usage(stderr);
	return 2;
}
