# The lab host: where hypervisors run on real KVM, and where host-side tools
# (vmsh) run next to them. Sourced after vm.sh.

# Environment that follows a command into the lab host.
HOST_ENV_PATTERN='^(PATH|TERM|LANG|LC_[A-Z]+|CI|V|SAN|LAB_[A-Z0-9_]+|VMSH_[A-Z0-9_]+|BATS_[A-Z0-9_]+)$'

# Run "$@" where KVM is real, then stop every VM it left behind.
host_run() {
	[ $# -gt 0 ] || die "usage: lab host [--] CMD [ARGS...]"
	lab_prepare
	case $(lab_mode) in
	direct) host_run_direct "$@" ;;
	nested) host_run_nested "$@" ;;
	esac
}

host_run_direct() {
	local rc
	# A private run directory: the VMs of this run, and nobody else's, are
	# stopped at the end.
	LAB_RUN=$(mktemp -d /run/vmsh-lab.XXXXXX)
	export LAB_RUN
	trap 'vm_stop_all; rm -rf "$LAB_RUN"' EXIT
	trap 'exit 130' INT TERM
	"$@"
	rc=$?
	return $rc
}

host_run_nested() {
	local images var rc mem=${LAB_HOST_MEM:-4096} smp=${LAB_HOST_SMP:-2} limit=${LAB_HOST_TIMEOUT:-3600}
	need qemu-system-x86_64
	images=$(labhost_images)
	# Globals, for the EXIT trap.
	share=$(mktemp -d /tmp/vmsh-lab.XXXXXX)
	{
		echo '#!/bin/bash'
		for var in $(compgen -e); do
			[[ $var =~ $HOST_ENV_PATTERN ]] && [ "$var" != LAB_RUN ] && [ "$var" != LAB_MODE ] &&
				printf 'export %s=%q\n' "$var" "${!var}"
		done
		echo 'export HOME=/root LAB_INSIDE=1 LAB_MODE=direct'
		printf 'cd %q || exit 125\n' "$PWD"
		printf 'exec'
		printf ' %q' "$@"
		echo
	} >"$share/cmd"
	: >"$share/console.log"

	qemu-system-x86_64 -name vmsh-labhost -nodefaults -no-user-config -display none -no-reboot \
		-accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
		-kernel "$images/vmlinuz" -initrd "$images/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 lab.share=$share lab.keep=$REPO_DIR:$PWD" \
		-serial "file:$share/console.log" \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev "local,id=labshare,path=$share,security_model=none" \
		-device virtio-9p-pci,fsdev=labshare,mount_tag=labshare \
		</dev/null >"$share/qemu.log" 2>&1 &
	pid=$!
	step "booting lab host, pid $pid (TCG, $smp vCPUs, $mem MiB, kernel $(cat "$LAB_CACHE/kernels/${LAB_HOST_KERNEL:-6.1}/version"), share $share)"
	# Whatever happens to us, the lab host goes, by pid, and so do its VMs.
	trap 'kill -KILL "$pid" 2>/dev/null; rm -rf "$share"' EXIT
	trap 'exit 130' INT TERM
	tail -n +1 -f --pid="$pid" "$share/console.log" | sed -u 's/\r$//' &
	local tailpid=$! deadline=$((SECONDS + limit))
	while pid_alive "$pid"; do
		if [ $SECONDS -ge $deadline ]; then
			echo "lab: error: the lab host ran over ${limit}s (LAB_HOST_TIMEOUT); stopping it" >&2
			kill -KILL "$pid"
		fi
		sleep 0.2
	done
	wait "$pid"
	wait "$tailpid"
	if [ ! -s "$share/rc" ]; then
		cat "$share/qemu.log" >&2
		echo "lab: error: the lab host ended without an exit status (see its console above)" >&2
		return 125
	fi
	rc=$(cat "$share/rc")
	step "lab host done (status $rc)"
	return "$rc"
}

# Fetch and build everything the lab needs, once; later calls only compare keys.
lab_prepare() {
	local k
	need depmod mkfs.ext4 cpio gzip xz
	for k in ${LAB_PREPARE_KERNELS:-$LAB_KERNELS}; do
		guest_images "$k" >/dev/null
	done
	[ "$(lab_mode)" = nested ] && labhost_images >/dev/null
	return 0
}
