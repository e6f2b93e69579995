#!/usr/bin/env bash
# Build (or reuse) Linux's own KVM selftests (tools/testing/selftests/kvm) from the source the
# test kernel is built from, static, for the test VM. The build lives in the cache, keyed by the
# source version, this script and the compiler; prints the directory holding the binaries
# (x86/… and the common ones, with the layout of the selftests tree).
#
# It builds from a copy: `make headers` writes usr/include into the tree, and the tree is the
# test kernel's source (kernel.sh builds it with O=, which wants a clean source tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ksrc=${KSRC:-$RSVM_CACHE/linux-src}
[ -f "$ksrc/Makefile" ] || die "no kernel source at $ksrc: run 'make deps' (or set KSRC=/path/to/linux-7.2)"
srcver=$(cat "$ksrc/.rsvm-unpacked" 2>/dev/null || make -s -C "$ksrc" kernelversion)
key=$( { echo "$srcver"; cat "$0"; gcc --version | head -n1; } | sha256sum | cut -c1-16)
out="$RSVM_CACHE/kselftests-$key"
if [ "${1:-}" = --print-dir ]; then echo "$out"; exit 0; fi
if [ -f "$out/.rsvm-built" ]; then
	echo "$out"; exit 0
fi

log "building the KVM selftests ($srcver, key $key) in $out; this takes about 4 minutes"
work=$(mktemp -d --tmpdir="$RSVM_CACHE")
trap 'rm -rf "$work"' EXIT
# Only what `make headers` and the selftests read: the top-level build files, scripts, the
# uapi headers and tools/.
mkdir -p "$work/src"
(cd "$ksrc" && tar cf - --exclude=.git Makefile Kbuild Kconfig scripts include arch tools usr \
	$(ls -d init kernel lib 2>/dev/null)) | tar xf - -C "$work/src"
# Not as a sub-make of `make test`: the selftests' lib.mk sets OUTPUT (where objects and
# programs go) only at MAKELEVEL 0, and an empty OUTPUT puts them in / and /lib. Measured: a
# cold-cache `make test` wrote 249 files to /x86, /lib and / that way. So the parent make's
# variables are dropped and OUTPUT is given.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
make -C "$work/src" ARCH=x86_64 LLVM= -s headers >"$work/headers.log" 2>&1 \
	|| { tail -n 30 "$work/headers.log" >&2; die "make headers failed"; }
kdir="$work/src/tools/testing/selftests/kvm"
make -C "$kdir" OUTPUT="$kdir" ARCH=x86_64 LLVM= EXTRA_CFLAGS=-static -j"$(nproc)" >"$work/build.log" 2>&1 \
	|| { cp "$work/build.log" "$out.build.log"; tail -n 40 "$work/build.log" >&2
	     die "selftests build failed (log kept: $out.build.log)"; }

rm -rf "$out"; mkdir -p "$out"
# The test programs: the executables the build made (not the .sh wrappers, not objects).
(cd "$kdir" && find . -type f -perm -u+x ! -name '*.sh' ! -name '*.o' ! -name '*.d' -printf '%P\n') \
	| sort >"$out/list"
[ "$(wc -l <"$out/list")" -ge 100 ] || die "the selftests build made $(wc -l <"$out/list") programs (want 103): output went elsewhere?"
while IFS= read -r t; do
	file "$kdir/$t" | grep -q 'statically linked' || die "$t is not static"
	mkdir -p "$out/$(dirname "$t")"
	cp "$kdir/$t" "$out/$t"
	strip "$out/$t"
done <"$out/list"
cp "$work/build.log" "$out/build.log"
touch "$out/.rsvm-built"
log "KVM selftests built: $(wc -l <"$out/list") programs in $out"
echo "$out"
