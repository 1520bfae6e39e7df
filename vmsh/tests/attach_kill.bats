#!/usr/bin/env bats
# Runs inside a lab host: SIGKILL vmsh at 4 points spread over an attach and
# once in the steady state (attach_kill_full.bats: 19 + 1, make check-full). After
# each the guest answers and a new attach works; what each kill left behind
# is printed as TAP comments.

bats_require_minimum_version 1.5.0

load attach_common
load attach_kill

@test "SIGKILL at 5 points of an attach and the steady state: the VM runs on, untraced, and a new attach works" {
	kill_points 4
}
