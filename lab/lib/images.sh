# Guest images (initramfs and ext4 root disk) and the lab host's initramfs,
# built without root privileges from the cached kernels and busybox.
# Sourced after common.sh and kernels.sh.

# Modules a guest initramfs carries: what mounting an ext4 root on virtio-blk
# needs, and the virtio transports/devices a test may ask to load (vmsh must
# also cope with guests that never load them, so the init loads none of them
# unless lab.modules= names them).
GUEST_INITRAMFS_MODULES="virtio_pci virtio_blk ext4 virtio_mmio virtio_console"
LABHOST_MODULES="virtio_pci 9pnet_virtio 9p kvm_amd"

# Copy modules $3... of kernel dir $1, with their dependencies and
# decompressed, into root $2, and index them with depmod so that busybox
# modprobe works there. Built-in modules are skipped.
install_modules() {
	local kdir=$1 dest=$2 ver m kind path rel f
	shift 2
	ver=$(cat "$kdir/version")
	mkdir -p "$dest/lib/modules/$ver"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ -e "$kdir/root/lib/modules/$ver/$f" ] && cp "$kdir/root/lib/modules/$ver/$f" "$dest/lib/modules/$ver/"
	done
	for m in "$@"; do
		modprobe -d "$kdir/root" -S "$ver" --show-depends "$m" >"$dest/.deps" ||
			die "module $m not found in kernel $ver"
		while read -r kind path _; do
			[ "$kind" = insmod ] || continue
			rel=${path#"$kdir/root"}
			mkdir -p "$(dirname "$dest$rel")"
			case $path in
			*.ko.xz) xz -dc "$path" >"$dest${rel%.xz}" ;;
			*.ko.zst) zstd -qdc "$path" >"$dest${rel%.zst}" ;;
			*) cp "$path" "$dest$rel" ;;
			esac
		done <"$dest/.deps"
	done
	rm -f "$dest/.deps"
	depmod -b "$dest" "$ver" || die "depmod failed in $dest"
}

# A busybox userland in directory $1.
rootfs_skeleton() {
	local dest=$1 bb applet
	bb=$(busybox_path)
	mkdir -p "$dest"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt,var/lib}
	cp "$bb" "$dest/bin/busybox"
	for applet in $("$bb" --list-full); do
		[ -e "$dest/$applet" ] || ln -s /bin/busybox "$dest/$applet"
	done
	echo 'root::0:0:root:/root:/bin/sh' >"$dest/etc/passwd"
	echo 'root:x:0:' >"$dest/etc/group"
	echo lab >"$dest/etc/hostname"
}

cpio_pack() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$2"
}

# Rebuild directory $1 with function $2 (args $4...) unless its key ($3) is unchanged.
cached_build() {
	local dir=$1 fn=$2 key=$3 tmp
	shift 3
	[ -e "$dir/.key" ] && [ "$(cat "$dir/.key")" = "$key" ] && return 0
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	# A subshell, so that a builder that dies leaves no half-built tree.
	if ! ("$fn" "$tmp" "$@"); then
		rm -rf "$tmp"
		die "building $dir failed (see above)"
	fi
	echo "$key" >"$tmp/.key"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

build_guest_images() {
	local out=$1 kdir=$2 ver work
	ver=$(cat "$kdir/version")
	work=$out/work

	step "building initramfs for guest kernel $ver"
	rootfs_skeleton "$work"
	install -m 755 "$LAB_DIR/guest/init" "$work/init"
	touch "$work/lab-initramfs"
	install_modules "$kdir" "$work" $GUEST_INITRAMFS_MODULES
	cpio_pack "$work" "$out/initramfs.cpio.gz"
	rm -rf "$work"

	# The pre-baked VM: an ext4 root with the kernel's full module tree.
	step "building ext4 root disk for guest kernel $ver"
	rootfs_skeleton "$work"
	install -m 755 "$LAB_DIR/guest/init" "$work/sbin/init"
	rm -f "$work/linuxrc"
	mkdir -p "$work/lib/modules"
	cp -a "$kdir/root/lib/modules/$ver" "$work/lib/modules/"
	local mib
	mib=$(du -sm "$work" | cut -f1)
	mkfs.ext4 -q -F -L labroot -E root_owner=0:0 -d "$work" "$out/rootfs.ext4" "$((mib + mib / 4 + 64))M" ||
		die "mkfs.ext4 -d failed"
	rm -rf "$work"
	cp "$kdir/vmlinuz" "$out/vmlinuz"
	echo "$ver" >"$out/version"
}

# Prints the directory with vmlinuz, initramfs.cpio.gz, rootfs.ext4 and version
# for guest kernel $1, building what is missing.
guest_images() {
	local name=$1 kdir key
	kdir=$(kernel_dir "$name")
	key=$(recipe_key "$LAB_DIR/guest/init" "$LAB_DIR/lib/images.sh" "$kdir/version")
	cached_build "$LAB_CACHE/images/guest-$name" build_guest_images "$key" "$kdir"
	echo "$LAB_CACHE/images/guest-$name"
}

build_labhost_images() {
	local out=$1 kdir=$2
	step "building lab host initramfs ($(cat "$kdir/version"))"
	rootfs_skeleton "$out/work"
	install -m 755 "$LAB_DIR/host/init" "$out/work/init"
	install_modules "$kdir" "$out/work" $LABHOST_MODULES
	cpio_pack "$out/work" "$out/initramfs.cpio.gz"
	rm -rf "$out/work"
	cp "$kdir/vmlinuz" "$out/vmlinuz"
}

# Prints the directory with the lab host's vmlinuz and initramfs.cpio.gz.
labhost_images() {
	local kdir key
	kdir=$(kernel_dir "${LAB_HOST_KERNEL:-6.1}")
	key=$(recipe_key "$LAB_DIR/host/init" "$LAB_DIR/lib/images.sh" "$kdir/version")
	cached_build "$LAB_CACHE/images/labhost" build_labhost_images "$key" "$kdir"
	echo "$LAB_CACHE/images/labhost"
}
