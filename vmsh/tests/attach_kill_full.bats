#!/usr/bin/env bats
# make check-full: attach_kill.bats with 19 points spread over an attach,
# and one in the steady state.

bats_require_minimum_version 1.5.0

load attach_common
load attach_kill


@test "SIGKILL at 20 points of an attach and the steady state: the VM runs on, untraced, and a new attach works" {
	kill_points 19
}
