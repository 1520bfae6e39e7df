#!/usr/bin/env bats
# Runs here: 'vmsh image build' and 'vmsh image default', checked with
# e2fsprogs' own tools (debugfs, e2fsck) on the images they write.

bats_require_minimum_version 1.5.0

ROOT=$BATS_TEST_DIRNAME/../..
VMSH=${VMSH:-$ROOT/build/bin/vmsh}
export PATH=$PATH:/usr/sbin:/sbin

setup() {
	[ -x "$VMSH" ] || skip "not built: $VMSH (make)"
	command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip "no e2fsprogs"
	T=$BATS_TEST_TMPDIR
	mkdir -p "$T/tree/etc" "$T/tree/bin" "$T/tree/empty dir"
	printf 'hello\n' >"$T/tree/etc/greeting"
	chmod 0640 "$T/tree/etc/greeting"
	printf '#!/bin/sh\necho tool\n' >"$T/tree/bin/tool"
	chmod 0755 "$T/tree/bin/tool"
	ln -s /bin/tool "$T/tree/bin/link"
	head -c 300000 /dev/urandom >"$T/tree/blob"
}

teardown() {
	[ -z "${U:-}" ] || rm -rf "$U"
}

# stat_field IMAGE PATH: "MODE UID GID" of PATH in the image.
stat_field() {
	debugfs -R "stat \"$2\"" "$1" 2>/dev/null |
		awk '/Mode:/ { for (i = 1; i < NF; i++) if ($i == "Mode:") m = $(i + 1) }
		     /User:/ { print m, $2, $4 }'
}

@test "build: contents, modes, links, everything root's" {
	# a tree owned by someone else, as when a user builds it
	chown -R 65534:65534 "$T/tree" 2>/dev/null || true
	run "$VMSH" image build "$T/tree" -o "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	e2fsck -fn "$T/img"
	[ "$(debugfs -R 'cat /etc/greeting' "$T/img" 2>/dev/null)" = hello ]
	cmp <(debugfs -R 'cat /blob' "$T/img" 2>/dev/null) "$T/tree/blob"
	[ "$(stat_field "$T/img" /etc/greeting)" = "0640 0 0" ]
	[ "$(stat_field "$T/img" /bin/tool)" = "0755 0 0" ]
	[ "$(stat_field "$T/img" "/empty dir")" = "0755 0 0" ]
	[ "$(stat_field "$T/img" /)" = "0755 0 0" ]
	debugfs -R 'stat /bin/link' "$T/img" 2>/dev/null | grep -q 'Fast link dest: "/bin/tool"'
	# sized from the tree, with headroom; no temporary file left
	[ "$(stat -c %s "$T/img")" -lt $((16 * 1024 * 1024)) ]
	[ "$(ls "$T")" = "$(printf 'img\ntree')" ]
}

@test "build as a user without privileges" {
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(id -u)" = 0 ] || skip "needs root to become nobody"
	# bats' own temporary directories are private to root
	U=$(mktemp -d "${TMPDIR:-/tmp}/vmsh-image.XXXXXX")
	cp -a "$T/tree" "$U/"
	chown -R 65534:65534 "$U"
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VMSH" image build "$U/tree" -o "$U/user.img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stat -c %u "$U/user.img")" = 65534 ]
	[ "$(stat_field "$U/user.img" /bin/tool)" = "0755 0 0" ]
	[ "$(stat_field "$U/user.img" /etc/greeting)" = "0640 0 0" ]
}

@test "build --size: honoured, and too small is a clear error" {
	run "$VMSH" image build "$T/tree" -o "$T/img" --size 20M
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$T/img")" -eq $((20 * 1024 * 1024)) ]
	e2fsck -fn "$T/img"

	run "$VMSH" image build "$T/tree" -o "$T/small.img" --size 64K
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"too small"* ]]
	[ ! -e "$T/small.img" ]
	run "$VMSH" image build "$T/tree" -o "$T/small.img" --size 12x
	[ "$status" -eq 2 ]
	[[ $output == *"bad --size"* ]]
}

@test "build errors: no DIR, DIR a file, output not writable, no mkfs.ext4" {
	run "$VMSH" image build "$T/nonexistent" -o "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/nonexistent: No such file or directory"* ]]

	run "$VMSH" image build "$T/tree/blob" -o "$T/img"
	[ "$status" -eq 1 ]
	[[ $output == *"not a directory"* ]]

	run "$VMSH" image build "$T/tree" -o "$T/no/such/dir/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot write $T/no/such/dir/img"* ]]

	run "$VMSH" image build "$T/tree"
	[ "$status" -eq 2 ]

	mkdir "$T/nobin"
	run env VMSH_E2FSPROGS="$T/nobin" "$VMSH" image build "$T/tree" -o "$T/img"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"mkfs.ext4 not found: install e2fsprogs"* ]]
	[ ! -e "$T/img" ]
}

@test "a failing build leaves an existing IMAGE as it was" {
	echo old >"$T/img"
	run "$VMSH" image build "$T/tree" -o "$T/img" --size 1M
	[ "$status" -eq 1 ]
	[ "$(cat "$T/img")" = old ]
	[ "$(ls "$T")" = "$(printf 'img\ntree')" ]
}

@test "help for image and both verbs" {
	for args in "image --help" "image build --help" "image default --help"; do
		run "$VMSH" $args
		[ "$status" -eq 0 ]
		[[ $output == usage:* ]]
	done
	run "$VMSH" image frob
	[ "$status" -eq 2 ]
	run "$VMSH" --help
	[[ $output == *"image"* ]]
}

@test "default: busybox and its applets, cached, --rebuild" {
	[ -x /bin/busybox ] || skip "no busybox-static"
	export VMSH_CACHE_DIR=$T/cache
	run "$VMSH" image default
	echo "$output"
	[ "$status" -eq 0 ]
	img=$output
	[[ $img == "$T/cache/busybox-"*".ext4" ]]
	e2fsck -fn "$img"
	cmp <(debugfs -R 'cat /bin/busybox' "$img" 2>/dev/null) /bin/busybox
	[ "$(stat_field "$img" /bin/busybox)" = "0755 0 0" ]
	for applet in $(/bin/busybox --list-full | sed -n '1p;50p;$p'); do
		debugfs -R "stat /$applet" "$img" 2>/dev/null | grep -q 'Fast link dest: "/bin/busybox"'
	done
	debugfs -R 'cat /etc/passwd' "$img" 2>/dev/null | grep -q '^root:x:0:0:'
	for d in proc sys dev tmp var/lib/vmsh etc root; do
		debugfs -R "stat /$d" "$img" 2>/dev/null | grep -q 'Type: directory'
	done
	[ "$(stat_field "$img" /tmp)" = "01777 0 0" ]

	# cached: the same file, untouched
	before=$(stat -c '%i %Y.%y' "$img")
	sleep 1
	run "$VMSH" image default
	[ "$output" = "$img" ]
	[ "$(stat -c '%i %Y.%y' "$img")" = "$before" ]
	run "$VMSH" image default --rebuild
	[ "$output" = "$img" ]
	[ "$(stat -c '%i %Y.%y' "$img")" != "$before" ]
	# no temporary trees or images left in the cache
	[ "$(ls -A "$T/cache")" = "$(basename "$img")" ]
}

@test "default: another busybox is another image; a missing one names the package" {
	[ -x /bin/busybox ] || skip "no busybox-static"
	export VMSH_CACHE_DIR=$T/cache
	a=$("$VMSH" image default)
	cp /bin/busybox "$T/busybox"
	printf 'x' >>"$T/busybox"
	b=$(VMSH_BUSYBOX=$T/busybox "$VMSH" image default)
	[ "$a" != "$b" ]
	[ -f "$a" ] && [ -f "$b" ]
	run env VMSH_BUSYBOX="$T/nonexistent" "$VMSH" image default
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"install Debian's busybox-static"* ]]
}

@test "default: concurrent first builds all print a whole image" {
	[ -x /bin/busybox ] || skip "no busybox-static"
	export VMSH_CACHE_DIR=$T/cache
	pids=()
	for i in 1 2 3; do
		"$VMSH" image default >"$T/out$i" &
		pids+=($!)
	done
	# by pid: a bare wait would also wait for bats' own timeout watchdog
	wait "${pids[@]}"
	img=$(cat "$T/out1")
	[ "$(cat "$T/out2")" = "$img" ] && [ "$(cat "$T/out3")" = "$img" ]
	e2fsck -fn "$img"
	[ "$(ls -A "$T/cache")" = "$(basename "$img")" ]
}

@test "ctl-dump: a status written by hand decodes; garbage is refused" {
	truncate -s 8192 "$T/disk"
	run "$VMSH" image ctl-dump "$T/disk" 4096
	[ "$status" -eq 1 ]
	[[ $output == *"No data available"* ]]
	head -c 512 /dev/urandom | dd of="$T/disk" bs=512 seek=8 conv=notrunc status=none
	run "$VMSH" image ctl-dump "$T/disk" 4096
	[ "$status" -eq 1 ]
	[[ $output == *"Bad message"* ]]
}
