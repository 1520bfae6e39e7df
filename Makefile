# vmsh and batchrouter: plain GNU make, one fragment per subsystem.
#   make            build everything (into build/, or build-san/ with SAN=1)
#   make check      install what is missing, build, run the tests (< 40 min)
#   make check-full the same, with the long lab matrices (LAB_TESTS_FULL)
#   make demo       install what is missing, run the demo
#   make SAN=1      AddressSanitizer + UBSan build
#   make V=1        show the commands
.DEFAULT_GOAL := all

CC ?= cc
CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE
LDFLAGS :=
ifeq ($(SAN),1)
BUILD ?= build-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
BUILD ?= build
endif
CPPFLAGS :=

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Filled by the fragments: programs to build, cmocka test binaries, bats files
# that run here and bats files that run inside a lab host.
PROGRAMS :=
UNIT_TESTS :=
HOST_TESTS :=
LAB_TESTS :=
LAB_TESTS_FULL :=

# Building needs the Debian packages that scripts/install-deps lists, and the
# fragments read pkg-config when make reads them: say which ones are missing
# before anything is compiled. 'make check' and 'make demo' install them first
# and then build in a new make, which reads the flags after the install.
SETUP_GOALS := deps check check-full demo clean format help
ifneq ($(filter-out $(SETUP_GOALS),$(or $(MAKECMDGOALS),all)),)
MISSING_PACKAGES := $(shell scripts/install-deps --missing)
ifneq ($(MISSING_PACKAGES),)
$(error missing Debian packages: $(MISSING_PACKAGES). 'make deps' (as root) installs them; 'make check' and 'make demo' do it themselves)
endif
endif

include lab/lab.mk
include vmsh/vmsh.mk
include batchrouter/batchrouter.mk

all: $(PROGRAMS) $(UNIT_TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bin/% $(BUILD)/tests/%:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LDLIBS_$(notdir $@))

deps:
	$(Q)scripts/install-deps

# The test command of the README: unit tests (plain and sanitized) and the
# end-to-end tests in the lab.
check: deps
	$(Q)$(MAKE) --no-print-directory all lab-ready
	$(Q)$(MAKE) --no-print-directory SAN=1 all
	$(Q)tests/run $(UNIT_TESTS) $(patsubst build/%,build-san/%,$(UNIT_TESTS)) \
		--here $(HOST_TESTS) --lab $(LAB_TESTS) $(LAB_TESTS_EXTRA)

# Everything: make check's tests and the matrices too long for every run.
check-full:
	$(Q)$(MAKE) --no-print-directory check LAB_TESTS_EXTRA="$(LAB_TESTS_FULL)"

demo: deps
	$(Q)$(MAKE) --no-print-directory all lab-ready
	$(Q)scripts/demo

# Guest kernels and images, the lab host, and vmsh's default tools image,
# built here: the lab host sees this machine's caches read-only.
lab-ready: $(BUILD)/bin/vmsh
	$(Q)lab/lab prepare
	@echo "lab: vmsh's default tools image"
	$(Q)$(BUILD)/bin/vmsh image default >/dev/null

format:
	$(Q)clang-format -i $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san

.PHONY: all deps check check-full demo lab-ready format clean
# header dependencies of this build (build/, build-san/ or BUILD=DIR)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
