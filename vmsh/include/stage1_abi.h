/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The memory shared by vmsh (host) and stage1 (guest kernel): one struct,
 * `stage1_abi`, inside stage1's own image (found by the loader through its
 * symbol), so both sides agree on one layout, checked by the static asserts
 * below. Included by vmsh and by the freestanding stage1: fixed-width types
 * only, no libc.
 *
 * Who writes what:
 *   - config (and layout): vmsh, before the vCPU is redirected; stage1 only
 *     reads it.
 *   - request, stage2_pid, stage2_gone: vmsh, at run time.
 *   - state, heartbeat, failed_step, error, module_err, pdev, irq_work_cpu,
 *     stage2_left: stage1.
 *   - entered, work: stage1 only (vmsh leaves them zero).
 *
 * Memory ordering. vmsh reads and writes this struct from outside the VM
 * with process_vm_readv/writev (a copy that may be done a byte at a time, in
 * any order, by "fast string" instructions), while the guest runs. So:
 *   - Every field that changes at run time is naturally aligned and at most
 *     8 bytes; its meaningful values fit in its low byte where tearing would
 *     matter (state, request, stage2_gone).
 *   - stage1 stores with volatile (WRITE_ONCE-style) accesses behind a
 *     compiler barrier, in program order; x86 is TSO, so a reader that sees
 *     a new `state` also sees every store stage1 made before it (failed_step,
 *     error, pdev, ...), provided it reads `state` in one call and the other
 *     fields in a later one.
 *   - vmsh writes stage2_pid (and stage2_gone) in their own call before or
 *     after the request it goes with, never in the same iovec; stage1 reads
 *     request first, then the rest.
 *   - DONE and ERROR are final. The worker's final store is made by the
 *     kernel's memcpy, tail-called by stage1_worker (entry.S), so once vmsh
 *     sees it no task runs or will return into stage1's code: see
 *     DESIGN.md, "Removing stage1". (The entry's ERROR, for an impossible
 *     config or a refused queue, is stored with interrupts off a few
 *     instructions before its ret.) vmsh still waits 100 ms and checks
 *     that no vCPU's RIP is in stage1 before it removes the memory.
 */
#ifndef VMSH_STAGE1_ABI_H
#define VMSH_STAGE1_ABI_H

/* For entry.S, which reads orig_rip before it can call C. */
#define STAGE1_ABI_OFF_ORIG_RIP 16
/* For entry.S, whose worker tail makes the final store to state. */
#define STAGE1_ABI_OFF_STATE 584

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#define STAGE1_ABI_MAGIC 0x3147545348534d56ULL /* "VMSHSTG1" in memory */
#define STAGE1_ABI_VERSION 3

#define STAGE1_MAX_DEVICES 4
#define STAGE1_MAX_MODULES 4
#define STAGE1_MODULE_LEN 32
#define STAGE1_PATH_LEN 64
#define STAGE1_MAX_ARGV 32 /* entries, without the terminating NULL */
#define STAGE1_MAX_ENVP 16
/* struct work_struct is 32 bytes; CONFIG_LOCKDEP adds a struct lockdep_map. */
#define STAGE1_WORK_SIZE 256
/* struct resource is 64 bytes (since 4.5); room for one that grows. */
#define STAGE1_RES_SIZE 128
#define STAGE1_MAX_STAGE2 (64u << 20)

/* One virtio-mmio platform device. */
struct stage1_device {
	uint64_t base; /* guest-physical MMIO base */
	uint64_t size; /* 0x200 or 0x1000 */
	uint32_t irq;  /* GSI / Linux IRQ number */
	int32_t id;    /* platform device id ("virtio-mmio.<id>") */
};

/*
 * The guest kernel's structs that stage1 fills itself, from the guest's BTF
 * or vmsh's tables (kbtf.h): sizes and byte offsets. stage1 zeroes the
 * struct and writes only these fields (each 8 bytes; entry is a list_head,
 * 16); it refuses a layout where one is unaligned or outside its buffer.
 */
struct stage1_layout {
	uint32_t work_size;  /* sizeof(struct work_struct), <= STAGE1_WORK_SIZE */
	uint32_t work_data;  /* offsetof(struct work_struct, data) */
	uint32_t work_entry; /* ... entry */
	uint32_t work_func;  /* ... func */
	uint32_t res_size;   /* sizeof(struct resource), <= STAGE1_RES_SIZE */
	uint32_t res_start;  /* offsetof(struct resource, start) */
	uint32_t res_end;    /* ... end */
	uint32_t res_flags;  /* ... flags */
};

/*
 * A field of len bytes at off inside a struct of size bytes, 8-byte aligned:
 * the rule both sides apply to the layout (vmsh before it sends it, stage1
 * before it writes through it).
 */
static inline _Bool stage1_layout__field_ok(uint32_t off, uint32_t len, uint32_t size)
{
	return !(off & 7) && off <= size && len <= size - off;
}

/* vmsh -> stage1 */
enum stage1_request {
	STAGE1_REQ_WAIT = 0, /* devices not ready yet */
	STAGE1_REQ_GO = 1,   /* devices are emulated: register them, start stage2 */
	STAGE1_REQ_STOP = 2, /* stop stage2, unregister the devices, finish */
};

/* stage1 -> vmsh, in the order they are reached; DONE and ERROR are final. */
enum stage1_state {
	STAGE1_NONE = 0,
	STAGE1_ENTERED = 1,	 /* the entry ran and queued the work item */
	STAGE1_WORK_STARTED = 2, /* the work item runs (kworker) */
	STAGE1_MODULES = 3,	 /* GO seen, modules requested */
	STAGE1_DEVICES = 4,	 /* platform devices registered */
	STAGE1_STAGE2_WRITTEN = 5,
	STAGE1_STAGE2_STARTED = 6,
	STAGE1_READY = 7,
	STAGE1_STOPPING = 8, /* STOP seen */
	STAGE1_DONE = 9,
	STAGE1_ERROR = 10, /* failed_step and error say why; devices unregistered */
	STAGE1_STATES
};

/* Where it failed (failed_step); error holds the negative errno. */
enum stage1_step {
	STAGE1_STEP_NONE = 0,
	STAGE1_STEP_CONFIG = 1,	    /* the config is invalid (-EINVAL) */
	STAGE1_STEP_QUEUE = 2,	    /* queue_work_on refused the work item */
	STAGE1_STEP_WAIT_GO = 3,    /* no GO in time (-ETIMEDOUT) */
	STAGE1_STEP_MODULE = 4,	    /* not fatal: see module_err[] */
	STAGE1_STEP_DEV_ALLOC = 5,  /* platform_device_alloc */
	STAGE1_STEP_DEV_RES = 6,    /* platform_device_add_resources */
	STAGE1_STEP_DEV_ADD = 7,    /* platform_device_add */
	STAGE1_STEP_OPEN = 8,	    /* filp_open of stage2_path */
	STAGE1_STEP_WRITE = 9,	    /* kernel_write */
	STAGE1_STEP_EXEC = 10,	    /* call_usermodehelper */
	STAGE1_STEP_KILL = 11,	    /* not fatal: SIGTERM to stage2 failed */
	STAGE1_STEP_WAIT_GONE = 12, /* stage2 did not exit in time (-ETIMEDOUT) */
	STAGE1_STEP_DEV_IRQ = 13    /* acpi_register_gsi: no irq for the GSI */
};

struct stage1_abi {
	/* Identification: set by stage1's build, checked by the loader. */
	uint64_t magic;	  /* STAGE1_ABI_MAGIC */
	uint32_t version; /* STAGE1_ABI_VERSION */
	uint32_t size;	  /* sizeof(struct stage1_abi) */

	/* Config, written by vmsh before the vCPU is redirected. */
	uint64_t orig_rip;	 /* where stage1_entry returns to */
	uint64_t work_data_init; /* WORK_DATA_INIT() of the guest's kernel */
	uint32_t work_cpu;	 /* CPU to queue the work on if stage1 cannot tell its own (0) */
	uint32_t ndevices;
	struct stage1_device devices[STAGE1_MAX_DEVICES];
	uint32_t nmodules;
	uint32_t go_timeout_ms;				     /* wait for GO at most this long */
	char modules[STAGE1_MAX_MODULES][STAGE1_MODULE_LEN]; /* NUL-terminated */
	char stage2_path[STAGE1_PATH_LEN];		     /* created with O_EXCL */
	uint64_t stage2_gva;				     /* its bytes, in the same RAM */
	uint64_t stage2_size;
	uint64_t strings_gva; /* the string area argv/envp point into */
	uint32_t strings_size;
	uint32_t argc; /* >= 1 */
	uint32_t envc;
	uint32_t stop_timeout_ms;	/* wait for stage2_gone at most this long */
	uint32_t argv[STAGE1_MAX_ARGV]; /* offsets into the string area */
	uint32_t envp[STAGE1_MAX_ENVP];

	/* Run time, vmsh -> stage1. */
	uint32_t request;     /* enum stage1_request */
	int32_t stage2_pid;   /* in the initial pid namespace; 0: unknown */
	uint32_t stage2_gone; /* 1 once stage2 has exited */
	int32_t irq_work_cpu; /* stage1 -> vmsh: the CPU whose irq_work queued the work item */

	/* Run time, stage1 -> vmsh. */
	uint32_t state;				/* enum stage1_state */
	uint32_t heartbeat;			/* bumped by each poll of the work item */
	uint32_t failed_step;			/* enum stage1_step of the first error */
	int32_t error;				/* its negative errno (or positive status) */
	int32_t module_err[STAGE1_MAX_MODULES]; /* __request_module()'s result */
	uint64_t pdev[STAGE1_MAX_DEVICES];	/* struct platform_device *, 0 if none */

	/* stage1 only. */
	uint32_t entered; /* set atomically by the first entry */
	/* Run time, stage1 -> vmsh (in version 2's reserved room). */
	int32_t stage2_left; /* stage2's file could not be removed: rm's result */
	uint8_t work[STAGE1_WORK_SIZE] __attribute__((aligned(16))); /* struct work_struct */

	/* Config, continued (version 2), written by vmsh with the rest. */
	struct stage1_layout layout;

	/* Run time, stage1 -> vmsh (version 3): the guest's monotonic clock (ns)
	 * when each state was set, 0 if never (the final one is not stamped). */
	uint64_t state_ns[STAGE1_STATES];
};

/* The layout is an ABI between two separately built programs: pin it. */
_Static_assert(offsetof(struct stage1_abi, orig_rip) == STAGE1_ABI_OFF_ORIG_RIP,
	       "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, work_data_init) == 24, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, devices) == 40, "stage1_abi layout");
_Static_assert(sizeof(struct stage1_device) == 24, "stage1_device layout");
_Static_assert(offsetof(struct stage1_abi, nmodules) == 136, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, modules) == 144, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, stage2_path) == 272, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, stage2_gva) == 336, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, strings_gva) == 352, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, argv) == 376, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, envp) == 504, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, request) == 568, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, stage2_pid) == 572, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, stage2_gone) == 576, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, state) == STAGE1_ABI_OFF_STATE, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, heartbeat) == 588, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, failed_step) == 592, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, error) == 596, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, module_err) == 600, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, pdev) == 616, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, entered) == 648, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, work) == 656, "stage1_abi layout");
_Static_assert(offsetof(struct stage1_abi, layout) == 912, "stage1_abi layout");
_Static_assert(sizeof(struct stage1_layout) == 32, "stage1_layout layout");
_Static_assert(offsetof(struct stage1_abi, state_ns) == 944, "stage1_abi layout");
/* padded to work's 16-byte alignment */
_Static_assert(sizeof(struct stage1_abi) == 1040, "stage1_abi layout");
#endif /* __ASSEMBLER__ */

#endif
