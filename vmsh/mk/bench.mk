# vmsh-load: the load generator of vmsh's benchmark (vmsh/bench/run-bench) and
# of the lab's I/O stress test. A static musl binary like stage2: it runs in
# the guest, from a tool image or the hypervisor's own disk, and on the host
# as the console round-trip driver.
VMSH_LOAD := $(BUILD)/vmsh/guest/vmsh-load
VMSH_LOAD_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -static -s -D_GNU_SOURCE -pthread

VMSH_LOAD_SRCS := vmsh/bench/vmsh-load.c vmsh/bench/stress.c

PROGRAMS += $(VMSH_LOAD)
$(VMSH_LOAD): $(VMSH_LOAD_SRCS) vmsh/bench/load.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MUSL    $@")
	$(Q)$(MUSL_CC) $(VMSH_LOAD_CFLAGS) $(VMSH_LOAD_SRCS) -o $@

LAB_TESTS += vmsh/tests/attach_stress.bats
LAB_TESTS_FULL += vmsh/tests/attach_soak.bats

# The benchmark: one lab VM, vmsh's disk and console against the hypervisor's,
# the VM's workload with vmsh detached and attached (vmsh/bench/run-bench;
# ~15 min in a nested lab host). The table goes to $(BUILD)/vmsh-bench.md.
vmsh-bench: $(BUILD)/bin/vmsh $(BUILD)/bin/labcon $(VMSH_LOAD)
	$(Q)VMSH=$(abspath $(BUILD))/bin/vmsh LABCON=$(abspath $(BUILD))/bin/labcon \
		vmsh/bench/run-bench --out $(BUILD)/vmsh-bench.md $(BENCH_ARGS)

.PHONY: vmsh-bench
