/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmsh-load: the load generator of vmsh's benchmark (vmsh/bench/run-bench)
 * and I/O stress test (vmsh/tests/attach_stress.bats). A static musl binary:
 * it runs in the guest (from vmsh's tool image or the hypervisor's disk) and
 * on the host (as the console round-trip driver). Each mode prints one
 * machine-readable line, "MODE key=value ...", on stdout.
 *
 * vmsh-load.c has main, the usage text, the option parser, the helpers below
 * and the randread/seqread/seqwrite, cpu, echo/rtt and fill modes; stress.c
 * the stress mode, which needs its own block format and watchdog.
 */
#ifndef VMSH_LOAD_H
#define VMSH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSEC 1000000000LL

/* The program's name, for messages on stderr. */
extern const char *prog;

struct opts {
	const char *path;
	const char *tty;
	const char *unix_path;
	char **cmd;
	unsigned qd, threads, writers, readers, count, warmup, file_mib;
	uint64_t bs, size;
	double secs, timeout;
};

/* Parse the options after MODE into o; exits on an error or --help. */
void parse_opts(int argc, char **argv, struct opts *o, bool want_path);

/* Print "vmsh-load: MESSAGE" on stderr and exit with status 1. */
void die(const char *fmt, ...);
int64_t now_ns(void);
uint64_t splitmix(uint64_t *s);
uint64_t parse_size(const char *s, const char *what);
double parse_secs(const char *s);
void *xalloc_aligned(size_t size);
void fill_random(void *buf, size_t len, uint64_t seed);
uint64_t fd_size(int fd, const char *path);
int open_direct(const char *path, int flags);
void write_all(int fd, const void *buf, size_t len);

int cmd_randread(struct opts *o);
int cmd_seq(struct opts *o, bool write);
int cmd_cpu(struct opts *o);
int cmd_echo(struct opts *o);
int cmd_rtt(struct opts *o);
int cmd_fill(struct opts *o);
int cmd_stress(struct opts *o);

#endif
