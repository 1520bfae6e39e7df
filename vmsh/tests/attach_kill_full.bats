#!/usr/bin/env bats
# make check-full: attach_kill.bats with 19 points spread over an attach's
# first 3 s, and one in the steady state.

bats_require_minimum_version 1.5.0

load attach_common
load attach_kill

BATS_TEST_TIMEOUT=1500

@test "SIGKILL at 20 points of an attach and the steady state: the VM runs on, untraced, and a new attach works" {
	kill_points 0 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1 1.2 1.4 1.7 2 2.5 3
}
