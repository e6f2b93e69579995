#!/usr/bin/env bash
# Build (or reuse) the rsvm test kernel. The build lives in the cache, keyed by the kernel
# source version, the config fragment, rustc and bindgen; prints the build directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

ksrc=${KSRC:-$RSVM_CACHE/linux-src}
[ -f "$ksrc/Makefile" ] || die "no kernel source at $ksrc: run 'make deps' (or set KSRC=/path/to/linux-7.2)"
srcver=$(cat "$ksrc/.rsvm-unpacked" 2>/dev/null || make -s -C "$ksrc" kernelversion)
key=$( { echo "$srcver"; cat "$here/rsvm.config"; rustc --version; bindgen --version; gcc --version | head -n1; } \
	| sha256sum | cut -c1-16)
out="$RSVM_CACHE/kbuild-$key"
if [ "${1:-}" = --print-dir ]; then echo "$out"; exit 0; fi
if [ -f "$out/.rsvm-built" ]; then
	echo "$out"; exit 0
fi

log "building the test kernel ($srcver, key $key) in $out; this takes several minutes"
mkdir -p "$out"
kmake() { make -C "$ksrc" O="$out" ARCH=x86_64 LLVM= "$@"; }
kmake -s tinyconfig >/dev/null
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$here/rsvm.config" >/dev/null
kmake -s olddefconfig >/dev/null

# Every option of the fragment must have survived: a silently dropped CONFIG_RUST or
# CONFIG_KVM_AMD would make the tests meaningless.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$out/.config" || { log "config: wanted '$line', got '$(grep "^${line%%=*}=" "$out/.config" || echo unset)'"; bad=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		grep -q "^$opt=" "$out/.config" && { log "config: wanted $opt unset"; bad=1; } ;;
	esac
done < "$here/rsvm.config"
if [ "$bad" = 1 ]; then
	kmake rustavailable || true
	die "the kernel config lost options of scripts/rsvm.config (see above)"
fi

kmake -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; die "kernel build failed (log: $out/build.log)"; }
touch "$out/.rsvm-built"
log "kernel built: $out/arch/x86/boot/bzImage"
echo "$out"
