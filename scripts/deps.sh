#!/usr/bin/env bash
# make deps: install what the build and the tests need, idempotently.
#
# - Debian packages (apt-get, only what is missing).
# - rust-src for the active toolchain and a pinned bindgen-cli, into the cache.
# - Debian's linux-source-7.2, fetched through a *private* apt state in the cache (the machine's
#   own sources.list is never touched), verified by apt, unpacked into the cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

BINDGEN_VERSION=${BINDGEN_VERSION:-0.72.1}
# The exact linux-source-7.2 version we test with; any 7.2 is taken when it has left the archive.
KSRC_PIN=${KSRC_PIN:-7.2.13-1}

pkgs=(build-essential flex bison bc libelf-dev libssl-dev cpio busybox-static qemu-system-x86
      clang-19 libclang-19-dev lld-19 llvm-19 xz-utils zstd rsync kmod python3 debian-archive-keyring
      ca-certificates fonts-dejavu-core)

need=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing Debian packages: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
	log "Debian packages: all present"
fi

# QEMU 7.2 or newer (the emulated SVM with NPT and VGIF).
qv=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r qmaj qmin <<<"$qv"
if [ "${qmaj:-0}" -lt 7 ] || { [ "$qmaj" -eq 7 ] && [ "${qmin:-0}" -lt 2 ]; }; then
	die "qemu-system-x86_64 $qmaj.$qmin is older than 7.2"
fi

# Rust: the kernel's Rust build needs the standard library source.
sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
	log "installing rust-src for $(rustc --version)"
	rustup component add rust-src
fi

# bindgen-cli, pinned, installed into the cache (not ~/.cargo/bin, not the repo).
if [ "$("$RSVM_CACHE/bindgen/bin/bindgen" --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
	log "installing bindgen-cli $BINDGEN_VERSION into $RSVM_CACHE/bindgen"
	cargo install --quiet --locked --root "$RSVM_CACHE/bindgen" --version "$BINDGEN_VERSION" bindgen-cli
fi

# Userspace programs are linked statically for the initramfs (glibc static, no extra target).
# linux-source-7.2 through a private apt state.
"$here/get-ksrc.sh"
log "deps: done"
