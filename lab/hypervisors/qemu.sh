# Debian's QEMU. A hypervisor file defines hv_start: start the VM that the
# VM_* variables describe in the background, with the guest's first serial
# port on the unix socket $VM_DIR/serial.sock (everything the guest prints
# also logged to $VM_DIR/console.log) and the hypervisor's own output in
# $VM_DIR/hv.log, and print the hypervisor's pid (spawn_detached does the
# last two).
#
# VM_NAME VM_DIR VM_MACHINE (pc|q35|microvm) VM_SMP VM_MEM (MiB) VM_KERNEL
# VM_INITRD VM_APPEND VM_DISK (empty: none; attached read-write with
# snapshot=on so the cached image never changes) VM_SANDBOX (0|1)
# VM_EXTRA_DISK VM_EXTRA_SERIAL (empty: none; a raw file attached writable,
# without snapshot, as virtio-blk-pci with that serial) VM_VIRTCONSOLE (0|1: a
# virtio-serial-pci with one virtconsole, its output in $VM_DIR/virtconsole.log)
# VM_SERIAL2 (0|1: a second serial port, the guest's ttyS1, on the unix socket
# $VM_DIR/serial2.sock) VM_MEMFD (0|1: guest RAM in a shared memfd, as
# vhost-user and virtiofs set-ups have it, instead of private anonymous memory)

hv_start() {
	local args=(-name "lab-$VM_NAME" -nodefaults -no-user-config -display none -no-reboot)
	case $VM_MACHINE in
	pc | q35) args+=(-M "$VM_MACHINE") ;;
	# pcie=on gives microvm a PCIe host bridge, so its disk is virtio-blk-pci
	# and the guest never needs virtio_mmio unless a test asks for it.
	microvm) args+=(-M microvm,pcie=on,rtc=on) ;;
	*) die "qemu: unknown machine type '$VM_MACHINE' (pc, q35, microvm)" ;;
	esac
	args+=(-accel kvm -cpu host -smp "$VM_SMP" -m "$VM_MEM")
	if [ "${VM_MEMFD:-0}" = 1 ]; then
		args+=(-object "memory-backend-memfd,id=ram,size=${VM_MEM}M,share=on")
		args+=(-machine memory-backend=ram)
	fi
	args+=(-kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "$VM_APPEND")
	args+=(-chardev "socket,id=ser0,path=$VM_DIR/serial.sock,server=on,wait=off,logfile=$VM_DIR/console.log")
	args+=(-serial chardev:ser0)
	if [ "${VM_SERIAL2:-0}" = 1 ]; then
		args+=(-chardev "socket,id=ser1,path=$VM_DIR/serial2.sock,server=on,wait=off")
		args+=(-serial chardev:ser1)
	fi
	args+=(-qmp "unix:$VM_DIR/qmp.sock,server=on,wait=off")
	if [ -n "$VM_DISK" ]; then
		args+=(-drive "file=$VM_DISK,if=none,id=root,format=raw,snapshot=on")
		args+=(-device virtio-blk-pci,drive=root,serial=labroot)
	fi
	if [ -n "${VM_EXTRA_DISK:-}" ]; then
		args+=(-drive "file=$VM_EXTRA_DISK,if=none,id=extra,format=raw")
		args+=(-device "virtio-blk-pci,drive=extra,serial=$VM_EXTRA_SERIAL")
	fi
	if [ "${VM_VIRTCONSOLE:-0}" = 1 ]; then
		args+=(-chardev "file,id=vcon0,path=$VM_DIR/virtconsole.log")
		args+=(-device virtio-serial-pci -device virtconsole,chardev=vcon0)
	fi
	# as hardened set-ups (libvirt) run it: no new processes, no setuid, no
	# scheduler or affinity changes
	[ "$VM_SANDBOX" = 1 ] && args+=(-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny)
	SPAWN_LOG=$VM_DIR/hv.log spawn_detached qemu-system-x86_64 "${args[@]}"
}

# Print what each vCPU of the VM in $VM_DIR is doing (for a guest that never
# got ready): QEMU's register dump, through QMP's human-monitor-command.
hv_diagnose() {
	{
		echo '{"execute":"qmp_capabilities"}'
		echo '{"execute":"human-monitor-command","arguments":{"command-line":"info registers -a"}}'
		sleep 1
	} | timeout 10 socat - "UNIX-CONNECT:$VM_DIR/qmp.sock" 2>&1 |
		jq -r 'select(.return | type == "string") | .return' 2>/dev/null |
		sed 's/\r$//' | grep -E '^(CPU#|RIP|EIP|CR0|EFER)'
}
