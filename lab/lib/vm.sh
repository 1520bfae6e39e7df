# Lab VMs: start, run a command in, stop. Sourced after images.sh.

LABCON=${LABCON:-$REPO_DIR/build/bin/labcon}

vm_dir() {
	case $1 in
	'' | *[!A-Za-z0-9_.-]*) die "bad VM name '$1' (letters, digits, '_', '.', '-')" ;;
	esac
	echo "$LAB_RUN/vms/$1"
}

# Prints the pid of VM $1 if its hypervisor is still the process we started
# (guards against a recycled pid), else nothing.
vm_live_pid() {
	local dir pid
	dir=$(vm_dir "$1")
	pid=$(cat "$dir/pid" 2>/dev/null) || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/serial.sock" && echo "$pid"
	return 0
}

# Start "$@" in the background with stdin from /dev/null, stdout and stderr
# into $SPAWN_LOG, and every other descriptor closed, so
# that no pipe of the caller (bats, a command substitution) waits on it.
# Prints its pid.
spawn_detached() {
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@"
	) </dev/null >"$SPAWN_LOG" 2>&1 &
	echo $!
}

# True while process $1 exists and is not a zombie (an orphaned hypervisor is
# reaped by whatever init adopted it, maybe late).
pid_alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

vm_usage() {
	cat <<EOF
usage: lab vm start NAME [options]   start a VM, wait for its guest, print its hypervisor pid
       lab vm exec NAME [-t SECONDS] [--again] -- CMD...
                                     run CMD (joined like ssh does) with /bin/sh in the guest,
                                     over its serial console; relays stdout, stderr, status;
                                     --again: CMD only reads, ask once more if garbled
       lab vm pid NAME               print the hypervisor's pid
       lab vm stop NAME              stop the VM (by pid) and forget it
       lab vm stop-all               stop every VM of this lab run
       lab vm log NAME               print the guest console and hypervisor logs
       lab vm dir NAME               print the VM's state directory (pid, serial.sock,
                                     console.log, qmp.sock, hv.log, append)

start options:
  --kernel K        guest kernel: $LAB_KERNELS (default: \$LAB_KERNEL or 6.1);
                    Debian bookworm's 6.1 (generic, cloud, PREEMPT_RT) and 6.12,
                    bullseye's 5.10, and sid's newest (7.x)
  --machine M       pc, q35 or microvm (default: pc)
  --shape S         initramfs (default) or disk: an ext4 root on virtio-blk with
                    the kernel's modules installed (a "pre-baked" VM)
  --smp N           vCPUs (default: 1)
  --mem MIB         guest memory (default: 256)
  --hypervisor H    a file in lab/hypervisors/ (default: qemu)
  --sandbox         enable the hypervisor's syscall filter (QEMU: -sandbox on)
  --modules A,B     kernel modules the guest's init loads (default: none)
  --append ARGS     extra kernel command line
  --extra-disk PATH,SERIAL
                    also attach raw file PATH as a writable virtio-blk disk with
                    that serial (no snapshot: the guest's writes reach PATH)
  --memfd           guest RAM in a shared memfd (memory-backend-memfd,share=on)
                    instead of QEMU's default private anonymous memory
  --serial2         add a second serial port (the guest's ttyS1) on the unix
                    socket \$VM_DIR/serial2.sock, free for the test's own use
                    (ttyS0 carries 'lab vm exec')
  --virtconsole     add a virtio console (virtio-serial + virtconsole) whose
                    output goes to \$VM_DIR/virtconsole.log (the guest needs
                    --modules virtio_console)
  --timeout S       seconds to wait for the guest (default: 120; inside a
                    nested lab host 200, and a failed boot is tried once more)
EOF
}

vm_start() {
	local name=$1 kernel=${LAB_KERNEL:-6.1} shape=initramfs hv=qemu modules='' extra='' timeout=120
	local dir images pid tries=1 try
	# Inside a nested lab host a guest kernel now and then crashes or hangs
	# early in boot (emulated SVM+NPT under TCG; lab/README.md), before any
	# code of ours runs in it: there, guests get longer, and a boot that fails
	# is tried once more, after printing why. Anywhere else a failed boot is
	# an error at once.
	if [ "${LAB_INSIDE:-}" = 1 ]; then
		timeout=200 tries=${LAB_VM_BOOT_TRIES:-2}
	fi
	[ -n "$name" ] || { vm_usage >&2; exit 2; }
	shift
	VM_NAME=$name VM_MACHINE=pc VM_SMP=1 VM_MEM=256 VM_SANDBOX=0 VM_DISK=''
	VM_EXTRA_DISK='' VM_EXTRA_SERIAL='' VM_VIRTCONSOLE=0 VM_SERIAL2=0 VM_MEMFD=0
	while [ $# -gt 0 ]; do
		case $1 in
		--kernel) kernel=$2; shift ;;
		--machine) VM_MACHINE=$2; shift ;;
		--shape) shape=$2; shift ;;
		--smp) VM_SMP=$2; shift ;;
		--mem) VM_MEM=$2; shift ;;
		--hypervisor) hv=$2; shift ;;
		--sandbox) VM_SANDBOX=1 ;;
		--modules) modules=$2; shift ;;
		--append) extra=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--extra-disk)
			VM_EXTRA_DISK=${2%,*} VM_EXTRA_SERIAL=${2##*,}
			[[ $2 == *,* && -f $VM_EXTRA_DISK && $VM_EXTRA_SERIAL =~ ^[A-Za-z0-9_.-]+$ ]] ||
				die "--extra-disk wants PATH,SERIAL (an existing file; serial: letters, digits, _ . -)"
			VM_EXTRA_DISK=$(realpath "$VM_EXTRA_DISK")
			shift
			;;
		--virtconsole) VM_VIRTCONSOLE=1 ;;
		--serial2) VM_SERIAL2=1 ;;
		--memfd) VM_MEMFD=1 ;;
		*) vm_usage >&2; die "unknown option '$1'" ;;
		esac
		shift
	done
	[ -c /dev/kvm ] || die "no /dev/kvm here: run VMs inside 'lab host'"
	[ -f "$LAB_DIR/hypervisors/$hv.sh" ] || die "unknown hypervisor '$hv' (see lab/hypervisors/)"
	dir=$(vm_dir "$name")
	[ -n "$(vm_live_pid "$name")" ] && die "VM '$name' is already running"
	images=$(guest_images "$kernel")
	rm -rf "$dir"
	mkdir -p "$dir"
	VM_DIR=$dir VM_KERNEL=$images/vmlinuz VM_INITRD=$images/initramfs.cpio.gz
	# Warnings and errors of the boot reach the console log; the guest's init
	# silences the console once it serves commands.
	VM_APPEND="console=ttyS0 loglevel=4 panic=-1"
	case $shape in
	initramfs) ;;
	disk)
		VM_DISK=$images/rootfs.ext4
		VM_APPEND+=" lab.root=/dev/vda"
		;;
	*) die "unknown shape '$shape' (initramfs, disk)" ;;
	esac
	# Inside a nested lab host (QEMU 7.2 TCG emulating SVM), the XSAVE state
	# the guest sees fails the kernel's own size check: 6.1-rt warns, 5.10
	# kills PID 1 with a bad signal frame, 7.x dereferences NULL in
	# fpstate_reset. These kernels use FXSAVE there; real hardware is untouched.
	if [ "${LAB_INSIDE:-}" = 1 ]; then
		case $kernel in 5.10 | 6.1-rt | sid) VM_APPEND+=" noxsave" ;; esac
	fi
	[ -n "$modules" ] && VM_APPEND+=" lab.modules=$modules"
	[ -n "$extra" ] && VM_APPEND+=" $extra"

	# shellcheck source=/dev/null
	. "$LAB_DIR/hypervisors/$hv.sh"
	for ((try = 1; ; try++)); do
		step "starting VM $name: $hv $VM_MACHINE, kernel $kernel, $shape, $VM_SMP vCPU, $VM_MEM MiB"
		mkdir -p "$dir" && rm -f "$dir"/*.sock && echo "$VM_APPEND" >"$dir/append"
		vm_boot "$name" "$dir" "$hv" "$timeout" && break
		[ "$try" -lt "$tries" ] || die "VM $name: $VM_BOOT_ERROR"
		echo "lab: VM $name: $VM_BOOT_ERROR; booting it again (try $((try + 1)) of $tries)" |
			tee -a "${LAB_NOTES:-/dev/null}" >&2
	done
	pid=$(cat "$dir/pid")
	step "VM $name ready (pid $pid, guest kernel ${VM_READY#LAB-AGENT-READY })"
	echo "$pid"
}

# Starts the VM and waits until its guest is ready. Returns 0 with the guest's
# ready line in VM_READY, or 1 with the reason in VM_BOOT_ERROR after printing
# the guest's console and stopping what is left of it.
vm_boot() {
	local name=$1 dir=$2 hv=$3 timeout=$4 pid t0
	pid=$(hv_start)
	echo "$pid" >"$dir/pid"
	t0=$EPOCHREALTIME
	while :; do
		VM_READY=$(grep -a -m1 'LAB-AGENT-READY' "$dir/console.log" 2>/dev/null)
		[ -n "$VM_READY" ] && return 0
		if ! pid_alive "$pid"; then
			vm_log "$name" >&2
			VM_BOOT_ERROR="the hypervisor exited before the guest was ready"
			return 1
		fi
		if awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
			vm_log "$name" >&2
			echo "VM $name: its vCPUs, as $hv sees them:" >&2
			VM_DIR=$dir hv_diagnose 2>&1 | sed 's/^/  | /' >&2
			vm_stop "$name"
			VM_BOOT_ERROR="guest not ready within ${timeout}s"
			return 1
		fi
		sleep 0.2
	done
}

vm_exec() {
	local name=$1 timeout=60 dir again=()
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --timeout) timeout=$2; shift 2 ;;
		--again) again=(--again); shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	[ $# -gt 0 ] || { vm_usage >&2; exit 2; }
	[ -x "$LABCON" ] || die "$LABCON is missing: run 'make' first"
	dir=$(vm_dir "$name")
	[ -n "$(vm_live_pid "$name")" ] || die "VM '$name' is not running"
	"$LABCON" exec -t "$timeout" "${again[@]}" "$dir/serial.sock" "$*"
}

vm_stop() {
	local name=$1 pid dir i
	dir=$(vm_dir "$name")
	pid=$(vm_live_pid "$name")
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 50); do
			pid_alive "$pid" || break
			sleep 0.1
		done
		pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		step "stopped VM $name (pid $pid)"
	fi
	rm -rf "$dir"
}

vm_stop_all() {
	local d
	for d in "$LAB_RUN"/vms/*/; do
		[ -d "$d" ] && vm_stop "$(basename "$d")"
	done
	return 0
}

vm_log() {
	local dir
	dir=$(vm_dir "$1")
	echo "--- $1: guest console (last 40 lines)"
	tail -n 40 "$dir/console.log" 2>/dev/null | tr -d '\r'
	echo "--- $1: hypervisor output"
	cat "$dir/hv.log" 2>/dev/null
}

vm_main() {
	local cmd=$1
	shift || true
	case $cmd in
	start) vm_start "$@" ;;
	exec) vm_exec "$@" ;;
	pid)
		local pid
		pid=$(vm_live_pid "$1")
		[ -n "$pid" ] || die "VM '$1' is not running"
		echo "$pid"
		;;
	stop) vm_stop "$1" ;;
	stop-all) vm_stop_all ;;
	log) vm_log "$1" ;;
	dir) vm_dir "$1" ;;
	-h | --help | help) vm_usage ;;
	*) vm_usage >&2; exit 2 ;;
	esac
}
