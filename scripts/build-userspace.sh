#!/usr/bin/env bash
# Build the userspace programs statically (glibc, crt-static) for the test initramfs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cd "$RSVM_TOP/userspace-vmm"
# The target is named explicitly so that crt-static applies to the programs only, not to
# build scripts and proc macros (clap's derive).
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
	cargo build --quiet --release --locked --target x86_64-unknown-linux-gnu --bins
