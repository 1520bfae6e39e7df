/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM memslots of another process's VM, read with an eBPF kprobe on
 * kvm_vm_ioctl (libbpf, CO-RE against the running kernel's BTF). No ioctl
 * lists memslots; the kprobe fires when the hypervisor itself issues an ioctl
 * on its VM fd, which the caller makes happen with trigger() (vmsh injects a
 * harmless KVM_CHECK_EXTENSION).
 */
#ifndef VMSH_MEMSLOTS_H
#define VMSH_MEMSLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memslot.h"

/*
 * Load and attach the program for process pid, call trigger(ctx) (which must
 * make pid issue an ioctl on its VM fd and return 0, or a negative errno),
 * collect the slots of every address space, sorted by gpa, into a malloc'd
 * array. Returns 0 or a negative errno (with pr_err()).
 */
int memslots__read(pid_t pid, int (*trigger)(void *ctx), void *ctx, struct memslot **slots,
		   size_t *nslots);

/*
 * The same in three steps, so that the slow part (loading and verifying the
 * program) happens before the hypervisor is stopped: open loads and attaches
 * (0 or a negative errno, reported), collect triggers and reads, close
 * unloads.
 */
struct memslots_probe;
int memslots__open(pid_t pid, struct memslots_probe **p);
int memslots__collect(struct memslots_probe *p, int (*trigger)(void *ctx), void *ctx,
		      struct memslot **slots, size_t *nslots);
void memslots__close(struct memslots_probe *p);

/*
 * Watching without a trigger: arm lets the next ioctl the hypervisor issues
 * on its own VM fd walk the slots; poll never blocks: 1 and the slots
 * (malloc'd) if such a walk finished (the probe is armed again), 0 if none
 * did yet, or a negative errno (a walk that failed; armed again).
 */
void memslots__arm(struct memslots_probe *p);
int memslots__poll(struct memslots_probe *p, struct memslot **slots, size_t *nslots);

/*
 * The migration watch: from watch on, every memslot update the hypervisor
 * makes is looked at; watch_hit says, for good, whether one turned on dirty
 * logging (a migration or snapshot starting) for the slot holding gpa.
 */
void memslots__watch(struct memslots_probe *p, uint64_t gpa);
bool memslots__watch_hit(const struct memslots_probe *p);

#endif
