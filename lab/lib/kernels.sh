# Guest and lab-host kernels, and busybox, from Debian packages.
# Sourced after common.sh.

LAB_KERNELS="6.1 6.1-cloud 6.12 5.10 6.1-rt sid"

# Kernels of other suites than the system's come through a private apt state,
# one directory per suite (sources.list, lists/, cache/): the system's sources,
# package lists and package cache are never touched.
LAB_APT=$LAB_CACHE/apt
# What verifies the other suites' Release files.
LAB_APT_KEYRING=${LAB_APT_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

# The Debian suite kernel $1 comes from; "system" for the system's own sources.
kernel_suite() {
	case $1 in
	5.10) echo bullseye ;;
	sid) echo sid ;;
	*) echo system ;;
	esac
}

# Run apt-get or apt-cache ($2...) on the package lists of suite $1.
suite_apt() {
	local suite=$1 d=$LAB_APT/$1
	shift
	if [ "$suite" = system ]; then
		"$@"
		return
	fi
	local cmd=$1
	shift
	"$cmd" -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=/dev/null \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" "$@"
}

# The URI of the Debian archive that the system's own sources use for its
# release (bookworm), so that no mirror is named here. LAB_DEBIAN_URI overrides.
debian_archive_uri() {
	local release uri
	if [ -n "${LAB_DEBIAN_URI:-}" ]; then
		echo "$LAB_DEBIAN_URI"
		return
	fi
	release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	release=${release:-bookworm}
	# shellcheck disable=SC2016 # apt's format, not the shell's
	uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
		awk -v r="$release" '$1 == r { print $2; exit }')
	[ -n "$uri" ] || die "no Debian archive for '$release' in the system's apt sources;" \
		"set LAB_DEBIAN_URI to a Debian mirror (e.g. the URI of your bookworm sources)"
	echo "$uri"
}

# Refresh the private package lists of suite $1. Done whenever a kernel of
# that suite is not cached yet: sid's packages leave the archive within weeks.
suite_update() {
	local suite=$1 d=$LAB_APT/$1 uri
	uri=$(debian_archive_uri) || exit 1
	[ -r "$LAB_APT_KEYRING" ] ||
		die "$LAB_APT_KEYRING is missing: install debian-archive-keyring, or set LAB_APT_KEYRING"
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	echo "deb [signed-by=$LAB_APT_KEYRING] $uri $suite main" >"$d/sources.list"
	step "apt-get update of $suite from $uri (private lists in $d)"
	suite_apt "$suite" apt-get update -q -o APT::Sandbox::User=root >"$d/update.log" 2>&1
	if grep -qE 'NO_PUBKEY|EXPKEYSIG|KEYEXPIRED|not signed' "$d/update.log"; then
		cat "$d/update.log" >&2
		die "$suite's Release file is signed by a key that $LAB_APT_KEYRING lacks:" \
			"upgrade debian-archive-keyring (a newer one is in bookworm-updates or" \
			"bookworm-backports), or set LAB_APT_KEYRING to a Debian keyring that has it"
	fi
	if grep -qE '^(E|W):' "$d/update.log"; then
		cat "$d/update.log" >&2
		die "apt-get update of $suite from $uri failed (see above): check that the mirror is" \
			"reachable, or set LAB_DEBIAN_URI to another Debian mirror"
	fi
}

# Newest package for a short kernel name. Resolved through apt only when the
# kernel is not cached yet.
kernel_package() {
	case $1 in
	6.1) apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }' ;;
	6.1-cloud) apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }' ;;
	6.1-rt) apt-cache depends linux-image-rt-amd64 | awk '/Depends: linux-image-6/ { print $2; exit }' ;;
	6.12) apt-cache pkgnames linux-image-6.12. |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' | sort -V | tail -n 1 ;;
	5.10) suite_apt bullseye apt-cache pkgnames linux-image-5.10.0- |
		grep -E '^linux-image-5\.10\.0-[0-9]+-amd64$' | sort -V | tail -n 1 ;;
	sid) suite_apt sid apt-cache depends linux-image-amd64 |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }' ;;
	*) die "unknown kernel '$1' (known: $LAB_KERNELS)" ;;
	esac
}

# The packages to download for kernel package $2 of kernel $1: the package
# itself, or, where it is a meta package (sid since 2025), the kernel
# (linux-binary-*), its modules (linux-modules-*) and the files beside them
# (linux-base-*: modules.builtin, modules.order, config, System.map).
kernel_debs() {
	local debs
	debs=$(suite_apt "$(kernel_suite "$1")" apt-cache depends "$2" |
		awk '$1 == "Depends:" && $2 ~ /^linux-(binary|modules|base)-[0-9]/ { printf "%s%s", s, $2; s = " " }')
	case $debs in
	*linux-binary-*) echo "$debs" ;;
	*) echo "$2" ;;
	esac
}

# Download Debian packages $3... of suite $2 into directory $1 and unpack
# them into $1/root.
deb_fetch() {
	local dir=$1 suite=$2 hint deb
	shift 2
	(cd "$dir" && suite_apt "$suite" apt-get download -q -o APT::Sandbox::User=root "$@" >download.log 2>&1) || {
		cat "$dir/download.log" >&2
		if [ "$suite" = system ]; then
			hint="is 'apt-get update' done? bookworm-security enabled?"
		else
			hint="$suite's private lists are in $LAB_APT/$suite; run 'lab/lab prepare' again to refresh them"
		fi
		die "could not download Debian package(s) $* ($hint)"
	}
	for deb in "$dir"/*.deb; do
		dpkg -x "$deb" "$dir/root" || die "could not unpack $deb (disk full? see above)"
	done
	rm -f "$dir"/*.deb
}

# Give the kernel unpacked in $1/root the cache's layout and print its
# release: $1/vmlinuz, and $1/root/lib/modules/<release> with plain .ko files
# (busybox modprobe and insmod cannot read compressed ones) and depmod's
# indexes. Packages since 2025 put all of it under /usr/lib/modules.
kernel_normalise() {
	local tmp=$1 mods ver
	mods=$tmp/root/lib/modules
	if [ -d "$tmp/root/usr/lib/modules" ]; then
		mkdir -p "$mods"
		mv "$tmp/root/usr/lib/modules/"* "$mods/"
	fi
	ver=$(ls "$mods" 2>/dev/null)
	case $ver in
	'' | *[[:space:]]*) die "expected one kernel release under lib/modules of the package, found: '${ver:-none}'" ;;
	esac
	if [ -e "$tmp/root/boot/vmlinuz-$ver" ]; then
		mv "$tmp/root/boot/vmlinuz-$ver" "$tmp/vmlinuz"
	elif [ -e "$mods/$ver/vmlinuz" ]; then
		mv "$mods/$ver/vmlinuz" "$tmp/vmlinuz"
	else
		die "no vmlinuz for $ver in the package (neither /boot nor /usr/lib/modules/$ver)"
	fi
	if [ -n "$(find "$mods/$ver" -name '*.ko.xz' -print -quit)" ]; then
		need xz
		step "decompressing the modules of $ver (.ko.xz)"
		find "$mods/$ver" -name '*.ko.xz' -print0 | xargs -0 -r -n 64 -P "$(nproc)" xz -dq ||
			die "xz -d failed on the modules of $ver (disk full?)"
	fi
	if [ -n "$(find "$mods/$ver" -name '*.ko.zst' -print -quit)" ]; then
		need zstd
		step "decompressing the modules of $ver (.ko.zst)"
		find "$mods/$ver" -name '*.ko.zst' -print0 | xargs -0 -r -n 64 -P "$(nproc)" zstd -dq --rm ||
			die "zstd -d failed on the modules of $ver (disk full?)"
	fi
	depmod -b "$tmp/root" "$ver" || die "depmod failed for $ver"
	echo "$ver"
}

# Prints the cache directory of kernel $1, downloading it first if needed:
# vmlinuz, version, package (the Debian packages, one a line), and
# root/lib/modules/<version> with depmod's indexes.
kernel_dir() {
	local name=$1 dir=$LAB_CACHE/kernels/$1 tmp pkg debs suite ver
	if [ ! -e "$dir/.done" ]; then
		need apt-get dpkg depmod
		suite=$(kernel_suite "$name")
		if [ "$suite" = system ]; then
			pkg=$(kernel_package "$name")
			if [ -z "$pkg" ]; then
				step "apt-get update (no package list names kernel $name yet)"
				apt-get update -qq >/dev/null 2>&1
				pkg=$(kernel_package "$name")
			fi
		else
			suite_update "$suite"
			pkg=$(kernel_package "$name")
		fi
		[ -n "$pkg" ] || case $suite in
		system) die "no Debian package found for kernel $name (run 'apt-get update'; 6.12 needs bookworm-security)" ;;
		*) die "no Debian package found for kernel $name in $suite (see $LAB_APT/$suite/update.log)" ;;
		esac
		debs=$(kernel_debs "$name" "$pkg")
		step "downloading kernel $name ($debs)"
		mkdir -p "$LAB_CACHE/kernels"
		tmp=$(mktemp -d "$LAB_CACHE/kernels/.tmp.XXXXXX")
		# shellcheck disable=SC2086 # one word per package
		deb_fetch "$tmp" "$suite" $debs
		ver=$(kernel_normalise "$tmp") || exit 1
		echo "$ver" >"$tmp/version"
		tr ' ' '\n' <<<"$debs" >"$tmp/package"
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
		deb_fetch "$tmp" system busybox-static
		touch "$tmp/.done"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	echo "$dir/root/bin/busybox"
}

# Prints the path of the debug vmlinux of kernel $1 (for crash and drgn, which
# vmsh coredump's tests open a guest's dump with), downloading it first if
# needed: only usr/lib/debug/boot/vmlinux-RELEASE of the kernel's -dbg
# package is kept, as $LAB_CACHE/kernels/$1/vmlinux (a few hundred MB). With
# --cached, prints it only if it is there already (the lab host cannot download).
kernel_vmlinux() {
	local cached=0 name dir pkg dbg ver tmp
	[ "${1:-}" = --cached ] && { cached=1; shift; }
	name=${1:?usage: lab vmlinux [--cached] KERNEL}
	if [ $cached = 1 ]; then
		dir=$LAB_CACHE/kernels/$name
		[ -e "$dir/vmlinux" ] || die "no debug vmlinux of kernel $name in $dir (run 'lab/lab vmlinux $name' outside the lab host)"
		echo "$dir/vmlinux"
		return
	fi
	dir=$(kernel_dir "$name") || exit 1
	if [ ! -e "$dir/vmlinux" ]; then
		need apt-get dpkg-deb
		ver=$(cat "$dir/version")
		pkg=$(head -n 1 "$dir/package")
		case $pkg in
		linux-binary-*) dbg=linux-image-$ver-dbg ;; # sid's split packages
		*-unsigned) dbg=${pkg%-unsigned}-dbg ;;
		*) dbg=$pkg-dbg ;;
		esac
		step "downloading the debug vmlinux of kernel $name ($dbg)"
		tmp=$(mktemp -d "$dir/.vmlinux.XXXXXX")
		(cd "$tmp" && suite_apt "$(kernel_suite "$name")" apt-get download -q \
			-o APT::Sandbox::User=root "$dbg" >download.log 2>&1) || {
			cat "$tmp/download.log" >&2
			rm -rf "$tmp"
			die "could not download $dbg (is 'apt-get update' done? bookworm-security enabled?)"
		}
		dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$ver" ||
			{ rm -rf "$tmp"; die "no usr/lib/debug/boot/vmlinux-$ver in $dbg (disk full?)"; }
		mv "$tmp/usr/lib/debug/boot/vmlinux-$ver" "$dir/vmlinux"
		rm -rf "$tmp"
	fi
	echo "$dir/vmlinux"
}
