// SPDX-License-Identifier: GPL-2.0
#include "util.h"

int vmsh_verbose;
unsigned long vmsh_ptrace_requests;
