# Guest and lab-host kernels, and busybox, from Debian packages.
# Sourced after common.sh.

LAB_KERNELS="6.1 6.1-cloud 6.12"

# Newest package for a short kernel name. Resolved through apt only when the
# kernel is not cached yet.
kernel_package() {
	case $1 in
	6.1) apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }' ;;
	6.1-cloud) apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }' ;;
	6.12) apt-cache pkgnames linux-image-6.12. |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | sort -V | tail -n 1 ;;
	*) die "unknown kernel '$1' (known: $LAB_KERNELS)" ;;
	esac
}

# Download a Debian package into directory $2 and unpack it into $2/root.
deb_fetch() {
	local pkg=$1 dir=$2
	(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >download.log 2>&1) || {
		cat "$dir/download.log" >&2
		die "could not download Debian package '$pkg' (is 'apt-get update' done? bookworm-security enabled?)"
	}
	dpkg -x "$dir"/*.deb "$dir/root" || die "could not unpack $pkg"
	rm -f "$dir"/*.deb
}

# Prints the cache directory of kernel $1, downloading it first if needed:
# vmlinuz, version, and root/lib/modules/<version> with depmod's indexes.
kernel_dir() {
	local name=$1 dir=$LAB_CACHE/kernels/$1 tmp pkg ver
	if [ ! -e "$dir/.done" ]; then
		need apt-get dpkg depmod
		pkg=$(kernel_package "$name")
		if [ -z "$pkg" ]; then
			step "apt-get update (no package list names kernel $name yet)"
			apt-get update -qq >/dev/null 2>&1
			pkg=$(kernel_package "$name")
		fi
		[ -n "$pkg" ] || die "no Debian package found for kernel $name (run 'apt-get update'; 6.12 needs bookworm-security)"
		step "downloading kernel $name ($pkg)"
		mkdir -p "$LAB_CACHE/kernels"
		tmp=$(mktemp -d "$LAB_CACHE/kernels/.tmp.XXXXXX")
		deb_fetch "$pkg" "$tmp"
		ver=$(ls "$tmp/root/lib/modules")
		mv "$tmp/root/boot/vmlinuz-$ver" "$tmp/vmlinuz"
		depmod -b "$tmp/root" "$ver" || die "depmod failed for $pkg"
		echo "$ver" >"$tmp/version"
		echo "$pkg" >"$tmp/package"
		touch "$tmp/.done"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir"
}

# Prints the path of a static busybox binary.
busybox_path() {
	local dir=$LAB_CACHE/busybox tmp
	if [ ! -e "$dir/.done" ]; then
		step "downloading busybox-static"
		mkdir -p "$LAB_CACHE"
		tmp=$(mktemp -d "$LAB_CACHE/.busybox.XXXXXX")
		deb_fetch busybox-static "$tmp"
		touch "$tmp/.done"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir/root/bin/busybox"
}
