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

# The lab host's console carries the command's output, and nothing else: the
# kernel logs to a second serial port (kernel.log), so its soft-lockup, RCU
# stall and hung-task reports are kept without breaking the command's TAP.
# Exit status 124: the lab host stopped making progress (no output for
# LAB_HOST_STALL seconds) or ran over LAB_HOST_TIMEOUT; what it was doing
# (labhost_diagnose) is printed before it is stopped.
#
# One vCPU by default. With two, multi-threaded TCG wedges the lab host now
# and then: KVM flips static keys on every VM create and destroy (the
# preempt-notifier key patches finish_task_switch), the kernel patches its
# text with int3 (text_poke_bp) while the other vCPU runs it, and that vCPU
# loops on the int3 at finish_task_switch+0x9f while RCU reports a stall.
# Seen in 1 of ~40 nested boots; never with one vCPU (lab/README.md).
host_run_nested() {
	local images var rc mem=${LAB_HOST_MEM:-4096} smp=${LAB_HOST_SMP:-1}
	local limit=${LAB_HOST_TIMEOUT:-3600} stall=${LAB_HOST_STALL:-600}
	need qemu-system-x86_64
	need socat
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
		# what the lab did that the summary must mention (boots tried twice)
		printf 'export LAB_NOTES=%q\n' "$share/notes"
		printf 'cd %q || exit 125\n' "$PWD"
		printf 'exec'
		printf ' %q' "$@"
		echo
	} >"$share/cmd"
	: >"$share/console.log"
	# Outside the share: the lab host must not see its own monitor.
	monitor=$(mktemp -u /tmp/vmsh-lab-monitor.XXXXXX)

	qemu-system-x86_64 -name vmsh-labhost -nodefaults -no-user-config -display none -no-reboot \
		-accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
		-kernel "$images/vmlinuz" -initrd "$images/initramfs.cpio.gz" \
		-append "console=ttyS1 loglevel=5 nokaslr sysrq_always_enabled panic=-1 lab.share=$share lab.keep=$REPO_DIR:$PWD" \
		-serial "file:$share/console.log" -serial "file:$share/kernel.log" \
		-monitor "unix:$monitor,server,nowait" \
		-fsdev local,id=hostroot,path=/,security_model=none,readonly=on \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev "local,id=labshare,path=$share,security_model=none" \
		-device virtio-9p-pci,fsdev=labshare,mount_tag=labshare \
		</dev/null >"$share/qemu.log" 2>&1 &
	pid=$!
	step "booting lab host, pid $pid (TCG, $smp vCPUs, $mem MiB, kernel $(cat "$LAB_CACHE/kernels/${LAB_HOST_KERNEL:-6.1}/version"), share $share)"
	# Whatever happens to us, the lab host goes, by pid, and so do its VMs.
	trap 'kill -KILL "$pid" 2>/dev/null; rm -rf "$share" "$monitor"' EXIT
	trap 'exit 130' INT TERM
	tail -n +1 -f --pid="$pid" "$share/console.log" | sed -u 's/\r$//' &
	local tailpid=$! deadline=$((SECONDS + limit)) size=0 now last=$SECONDS why= asked=
	while pid_alive "$pid"; do
		now=$(stat -c %s "$share/console.log")
		[ "$now" != "$size" ] && size=$now last=$SECONDS
		# Half a minute before giving up, ask the lab host what its tasks do.
		if [ $((SECONDS - last)) -ge $((stall - 30)) ] && [ "$asked" != "$last" ]; then
			: >"$share/dump-request"
			asked=$last
		fi
		if [ $SECONDS -ge $deadline ]; then
			why="ran over ${limit}s (LAB_HOST_TIMEOUT)"
		elif [ $((SECONDS - last)) -ge "$stall" ]; then
			why="printed nothing for ${stall}s (LAB_HOST_STALL)"
		fi
		if [ -n "$why" ]; then
			echo "lab: error: the lab host $why; stopping it" >&2
			labhost_diagnose "$share" "$monitor" >&2
			kill -KILL "$pid"
			break
		fi
		sleep 1
	done
	wait "$pid" 2>/dev/null
	wait "$tailpid"
	[ -s "$share/notes" ] && cat "$share/notes" >&2
	if [ -n "$why" ]; then
		return 124
	fi
	if [ ! -s "$share/rc" ]; then
		cat "$share/qemu.log" >&2
		echo "lab: error: the lab host ended without an exit status" >&2
		labhost_kernel_log "$share" >&2
		return 125
	fi
	rc=$(cat "$share/rc")
	step "lab host done (status $rc)"
	return "$rc"
}

# What a stuck lab host was doing: its tasks (if it could still say), its
# kernel log, then each vCPU's registers and the kernel function it is in
# (the lab host boots with nokaslr, and its init left a copy of its kallsyms
# in the share), twice, a second apart: moving or spinning?
labhost_diagnose() {
	local share=$1 monitor=$2 i rip
	local map=$share/kallsyms
	if [ -s "$share/tasks.txt" ]; then
		echo "lab: the lab host's tasks, half a minute before:"
		sed 's/^/  | /' "$share/tasks.txt"
	else
		echo "lab: the lab host did not answer the request for its tasks"
	fi
	labhost_kernel_log "$share"
	labhost_sysrq "$share" "$monitor"
	for i in 1 2; do
		echo "lab: the lab host's vCPUs ($i/2):"
		printf 'info registers -a\n' | timeout 10 socat - "UNIX-CONNECT:$monitor" 2>&1 |
			sed 's/\r$//' | grep -E '^(CPU#|RIP|RSP|CR0|CR3|EFER)' |
			while read -r line; do
				echo "  | $line"
				rip=$(sed -n 's/^RIP=\([0-9a-f]*\) .*/\1/p' <<<"$line")
				[ -n "$rip" ] && [ -r "$map" ] && echo "  |   in $(symbol_at "$map" "$rip")"
			done
		sleep 1
	done
}

# The lab host's own account of its tasks, asked through its keyboard (QEMU's
# monitor) rather than through a program in it: that works when its timers or
# its 9p root no longer do. SysRq-w: the blocked tasks with their stacks;
# SysRq-l: what each CPU runs. The kernel prints them on its log port.
labhost_sysrq() {
	local share=$1 monitor=$2 key size
	size=$(stat -c %s "$share/kernel.log")
	for key in w l; do
		printf 'sendkey alt-sysrq-%s\n' "$key" | timeout 10 socat - "UNIX-CONNECT:$monitor" >/dev/null 2>&1
		sleep 3
	done
	echo "lab: the lab host's blocked tasks and CPUs (SysRq w, l):"
	tail -c +"$((size + 1))" "$share/kernel.log" | sed 's/\r$//' | head -n 300 | sed 's/^/  | /'
}

# The lab host's kernel log in share $1: from its first complaint (lockup,
# RCU stall, hung task, oops) on, or else its last lines.
labhost_kernel_log() {
	echo "lab: the lab host's kernel log:"
	sed 's/\r$//' "$1/kernel.log" |
		awk '/watchdog:|rcu: INFO|blocked for more than|BUG:|Oops|WARNING:/ { on = 1 }
			on && n++ < 150 { print } { last[NR % 40] = $0 }
			END { if (!on) for (i = NR - 39; i <= NR; i++) if (i > 0) print last[i % 40] }' |
		sed 's/^/  | /'
}

# The symbol in kallsyms file $1 that contains kernel text address $2 (hex), as
# name+0xoff. Kernel text lives in the top 4 GiB, so its low 32 bits, which
# awk's doubles hold exactly, are enough.
symbol_at() {
	awk -v want="$2" '
		function low32(s,  i, n) { n = 0; s = tolower(substr(s, length(s) - 7))
			for (i = 1; i <= 8; i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return n }
		BEGIN { if (want !~ /^ffffffff/) exit; w = low32(want) }
		$1 ~ /^ffffffff/ { a = low32($1); if (a <= w && a >= best) { best = a; name = $3 } }
		$3 == "_etext" { etext = low32($1) }
		END {
			# Past the lab host kernel'"'"'s text, below its modules (0xc0000000
			# in the low 32 bits): the vCPU runs a nested guest, whose kernel
			# has KASLR on.
			if (etext && w >= etext && w < 3221225472) print "a nested guest (not the lab host'"'"'s kernel text)"
			else if (name != "") printf "%s+0x%x\n", name, w - best; else print "?" }' "$1"
}

# Fetch and build everything the lab needs, once; later calls only compare keys.
lab_prepare() {
	local k
	need depmod mkfs.ext4 cpio gzip xz
	for k in ${LAB_PREPARE_KERNELS:-$LAB_KERNELS}; do
		# In this shell, not in guest_images' command substitution, so that a
		# kernel that cannot be fetched stops here with its own message.
		kernel_dir "$k" >/dev/null
		guest_images "$k" >/dev/null
	done
	[ "$(lab_mode)" = nested ] && labhost_images >/dev/null
	return 0
}
