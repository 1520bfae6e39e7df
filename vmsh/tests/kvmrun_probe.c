// SPDX-License-Identifier: GPL-2.0
/*
 * vmsh_kvmrun_probe: the KVM_RUN trap (kvmrun.h) against a running
 * hypervisor, for testhv.bats: for SECONDS it serves the guest's MMIO
 * accesses in [GPA, GPA + SIZE): reads get VALUE (little-endian), writes are
 * counted, and those that do not carry VALUE back are counted as bad (the
 * vmsh_testhv guest writes back what it read). Then it gives the hypervisor
 * back and prints "served R reads W writes B bad". Halfway it pauses the
 * vCPUs for 0.3 s (kvmrun__pause/resume) and prints "paused: N accesses"
 * (what was served meanwhile: must be 0). Exit status 0 only if it served
 * at least one read and one write, saw no bad write and nothing while paused.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "hv.h"
#include "kvmrun.h"
#include "tracee.h"
#include "util.h"

struct probe {
	uint64_t gpa, size, value;
	unsigned long reads, writes, bad;
};

static bool probe_claims(void *ctx, uint64_t gpa, uint32_t len)
{
	const struct probe *p = ctx;

	return gpa >= p->gpa && gpa - p->gpa < p->size && len <= p->size - (gpa - p->gpa);
}

static void probe_serve(void *ctx, uint64_t gpa, uint8_t data[8], uint32_t len, bool is_write)
{
	struct probe *p = ctx;
	uint64_t v = 0;

	(void)gpa;
	if (is_write) {
		memcpy(&v, data, len);
		p->writes++;
		if (v != (p->value & (len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1)))
			p->bad++;
	} else {
		memcpy(data, &p->value, 8);
		p->reads++;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The vCPU threads: those found in KVM_RUN; a vCPU outside it is looked for again. */
static int find_threads(pid_t pid, struct hv_vcpu *vcpus, size_t n)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		struct tracee t = { 0 };
		size_t found = 0;
		int err = tracee__attach(&t, pid);

		if (err)
			return err;
		hv__map_vcpu_threads(&t, vcpus, n);
		err = tracee__detach(&t);
		if (err)
			return err;
		for (size_t i = 0; i < n; i++)
			found += vcpus[i].tid != 0;
		if (found == n)
			return 0;
		usleep(20000);
	}
	pr_err("not every vCPU thread was seen in KVM_RUN");
	return -ENOENT;
}

int main(int argc, char **argv)
{
	struct probe p = { 0 };
	struct kvmrun k = { 0 };
	struct hv_vcpu *vcpus = NULL;
	size_t n = 0;
	int vm_fd, sfd, rc = 1, err;
	double end, half;
	unsigned long during_pause = 0;
	bool paused = false;
	sigset_t mask;

	if (argc != 6) {
		fprintf(stderr, "usage: vmsh_kvmrun_probe PID GPA SIZE VALUE SECONDS\n");
		return 2;
	}
	k.pid = atoi(argv[1]);
	p.gpa = strtoull(argv[2], NULL, 0);
	p.size = strtoull(argv[3], NULL, 0);
	p.value = strtoull(argv[4], NULL, 0);
	end = now_s() + atof(argv[5]);
	half = end - atof(argv[5]) / 2;
	if (getenv("VMSH_DEBUG"))
		vmsh_verbose = 2;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || hv__find_kvm_fds(k.pid, &vm_fd, &vcpus, &n) || find_threads(k.pid, vcpus, n))
		goto out;
	k.vcpus = calloc(n, sizeof(*k.vcpus));
	if (!k.vcpus)
		goto out;
	k.nvcpus = n;
	for (size_t i = 0; i < n; i++)
		k.vcpus[i] = (struct kvmrun_vcpu){ .index = vcpus[i].index,
						   .fd = vcpus[i].fd,
						   .tid = vcpus[i].tid };
	k.claims = probe_claims;
	k.serve = probe_serve;
	k.ctx = &p;
	if (kvmrun__find_runs(k.pid, k.vcpus, n) || kvmrun__start(&k))
		goto out;
	for (size_t i = 0; i < n; i++)
		pr_debug("vCPU %d: fd %d, thread %d, kvm_run at 0x%llx", k.vcpus[i].index,
			 k.vcpus[i].fd, k.vcpus[i].tid, (unsigned long long)k.vcpus[i].run_hva);
	while (now_s() < end) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (poll(&pfd, 1, 50) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			;
		err = kvmrun__dispatch(&k);
		if (err) {
			pr_err("the hypervisor is gone");
			break;
		}
		if (!paused && now_s() >= half) {
			unsigned long before;

			paused = true;
			if (kvmrun__pause(&k))
				break;
			before = p.reads + p.writes;
			usleep(300000);
			kvmrun__dispatch(&k); /* nothing to see: the threads are kept stopped */
			during_pause = p.reads + p.writes - before;
			if (kvmrun__resume(&k))
				break;
		}
	}
	err = kvmrun__stop(&k);
	printf("served %lu reads %lu writes %lu bad (%lu ptrace stops)\n", p.reads, p.writes, p.bad,
	       k.stops);
	printf("paused: %lu accesses\n", during_pause);
	rc = !err && p.reads && p.writes && !p.bad && paused && !during_pause ? 0 : 1;
out:
	free(k.vcpus);
	free(vcpus);
	return rc;
}
