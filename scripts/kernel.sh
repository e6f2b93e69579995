#!/usr/bin/env bash
# Build (or reuse) the rsvm test kernel. The build lives in the cache, keyed by the kernel
# source version, the config fragment, rustc and bindgen; prints the build directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# --prod: the production variant for `make bench` (scripts/rsvm-prod.config), cached beside
# the test kernel under its own key. --print-dir: print the build directory only.
prod=0; print=0
for a in "$@"; do
	case "$a" in
	--prod) prod=1 ;;
	--print-dir) print=1 ;;
	*) die "kernel.sh: unknown option $a" ;;
	esac
done
fragment=$(mktemp); trap 'rm -f "$fragment"' EXIT
if [ "$prod" = 1 ]; then
	# rsvm.config minus every option the prod fragment sets, then the prod fragment.
	opts=$(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p; s/^\(CONFIG_[A-Z0-9_]*\)=.*/\1/p' "$here/rsvm-prod.config")
	grep -v -w -F "$opts" "$here/rsvm.config" > "$fragment" || true
	cat "$here/rsvm-prod.config" >> "$fragment"
else
	cp "$here/rsvm.config" "$fragment"
fi

ksrc=${KSRC:-$RSVM_CACHE/linux-src}
[ -f "$ksrc/Makefile" ] || die "no kernel source at $ksrc: run 'make deps' (or set KSRC=/path/to/linux-7.2)"
srcver=$(cat "$ksrc/.rsvm-unpacked" 2>/dev/null || make -s -C "$ksrc" kernelversion)
key=$( { echo "$srcver"; cat "$fragment"; rustc --version; bindgen --version; gcc --version | head -n1; } \
	| sha256sum | cut -c1-16)
out="$RSVM_CACHE/kbuild-$key"
[ "$prod" = 1 ] && out="$RSVM_CACHE/kbuild-prod-$key"
if [ "$print" = 1 ]; then echo "$out"; exit 0; fi
if [ -f "$out/.rsvm-built" ]; then
	echo "$out"; exit 0
fi

log "building the test kernel ($srcver, key $key) in $out; this takes several minutes"
mkdir -p "$out"
kmake() { make -C "$ksrc" O="$out" ARCH=x86_64 LLVM= "$@"; }
kmake -s tinyconfig >/dev/null
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$fragment" >/dev/null
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
done < "$fragment"
if [ "$bad" = 1 ]; then
	kmake rustavailable || true
	die "the kernel config lost options of scripts/rsvm.config (see above)"
fi

kmake -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; die "kernel build failed (log: $out/build.log)"; }
touch "$out/.rsvm-built"
log "kernel built: $out/arch/x86/boot/bzImage"
echo "$out"
