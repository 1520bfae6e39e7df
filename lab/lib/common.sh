# Shared helpers of the lab scripts. Sourced, never run.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(dirname "$LAB_DIR")
# Downloads, unpacked kernels and built images live here, shared by every
# clone on the machine, so a fresh CI clone does not download again.
LAB_CACHE=${LAB_CACHE:-/var/cache/vmsh-lab}
# Per-VM state (pid, sockets, logs). Inside a nested lab host /run is a tmpfs.
LAB_RUN=${LAB_RUN:-/run/vmsh-lab}
LAB_T0=${LAB_T0:-$EPOCHREALTIME}
export LAB_CACHE LAB_RUN LAB_T0

die() {
	echo "lab: error: $*" >&2
	exit 1
}

# Progress on stderr: seconds since the first lab command of this run, and the step.
step() {
	local now=$EPOCHREALTIME
	printf '[lab %6.1fs] %s\n' "$(awk -v a="$LAB_T0" -v b="$now" 'BEGIN { print b - a }')" "$*" >&2
}

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "'$c' is missing: run 'make deps' (scripts/install-deps) first"
	done
}

# Content hash of files: a cached artefact is rebuilt when its recipe changes.
recipe_key() {
	cat "$@" | sha256sum | cut -c1-16
}

# Is real hardware virtualization (not PVM) available right here?
lab_have_hw_kvm() {
	[ -c /dev/kvm ] || return 1
	[ -d /sys/module/kvm_pvm ] && return 1
	grep -qwE 'svm|vmx' /proc/cpuinfo
}

# direct: hypervisors run on this machine; nested: inside a TCG lab host.
lab_mode() {
	case ${LAB_MODE:-auto} in
	direct | nested) echo "$LAB_MODE" ;;
	auto) if lab_have_hw_kvm; then echo direct; else echo nested; fi ;;
	*) die "LAB_MODE must be auto, direct or nested, not '$LAB_MODE'" ;;
	esac
}
