# Shared by attach_stress.bats and attach_soak.bats: a tool image with
# vmsh-load (vmsh/bench) for the lab's I/O stress tests.

VMSH_LOAD=${VMSH_LOAD:-$(dirname "$VMSH")/../vmsh/guest/vmsh-load}

# stress_image DIR [shell]: a tool image with vmsh-load and an empty /stress
# (with "shell", Debian's static busybox as /bin/sh too); sets IMG
stress_image() {
	local tree=$1/tree
	[ -x "$VMSH_LOAD" ] || {
		echo "$VMSH_LOAD is missing: make all builds it"
		return 1
	}
	mkdir -p "$tree"/{bin,proc,sys,dev,tmp,root,stress,var/lib/vmsh}
	cp "$VMSH_LOAD" "$tree/bin/vmsh-load"
	if [ "${2:-}" = shell ]; then
		cp /bin/busybox "$tree/bin/busybox"
		for a in sh seq sleep kill; do ln -s busybox "$tree/bin/$a"; done
	fi
	IMG=$1/stress.img
	"$VMSH" image build "$tree" -o "$IMG" --size 96M
}
