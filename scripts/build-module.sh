#!/usr/bin/env bash
# Build rsvm.ko out of tree against KDIR (a kernel build directory with CONFIG_RUST=y).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
kdir=${1:-${KDIR:-}}
[ -n "$kdir" ] || kdir=$("$here/kernel.sh")
[ -f "$kdir/Makefile" ] || die "KDIR=$kdir is not a kernel build directory"
grep -q '^CONFIG_RUST=y' "$kdir/.config" 2>/dev/null || die "KDIR=$kdir: kernel built without CONFIG_RUST=y"
make -C "$kdir" M="$RSVM_TOP" LLVM= -j"$(nproc)" modules
