#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# check.sh STAGE1_SO IMPORTS_H: the link-time contract of stage1.so with
# vmsh's loader. Only the relocation types the loader applies, no text
# relocations, and no undefined symbol outside the import list.
set -eu
so=$1
imports=$2
fail=0

types=$(readelf -rW "$so" | awk '$3 ~ /^R_X86_64_/ { print $3 }' | sort -u)
for t in $types; do
	case $t in
	R_X86_64_RELATIVE | R_X86_64_GLOB_DAT | R_X86_64_JUMP_SLOT | R_X86_64_64) ;;
	*)
		echo "stage1: relocation type $t is not supported by the loader" >&2
		fail=1
		;;
	esac
done
if readelf -dW "$so" | grep -q TEXTREL; then
	echo "stage1: text relocations" >&2
	fail=1
fi
allowed=$(sed -n 's/^STAGE1_IMPORT(\([A-Za-z0-9_]*\))$/\1/p' "$imports")
undef=$(readelf --dyn-syms -W "$so" | awk '$7 == "UND" && $8 != "" { print $8 }')
for s in $undef; do
	if ! printf '%s\n' "$allowed" | grep -qx -- "$s"; then
		echo "stage1: undefined symbol $s is not in $imports" >&2
		fail=1
	fi
done
exit $fail
