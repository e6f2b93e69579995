#!/usr/bin/env bash
# Fetch and unpack Debian's linux-source-7.2 into the cache, through a private apt state
# (trixie-backports + sid). The machine's own apt configuration is not read or changed.
# Prints nothing on success when the tree is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

KSRC_PIN=${KSRC_PIN:-7.2.13-1}
stamp="$RSVM_CACHE/linux-src/.rsvm-unpacked"
if [ -n "${KSRC:-}" ]; then
	[ -f "$KSRC/Makefile" ] || die "KSRC=$KSRC is not a kernel source tree"
	log "using KSRC=$KSRC"; exit 0
fi
if [ -f "$stamp" ]; then
	log "kernel source: $(cat "$stamp") (cached)"; exit 0
fi

apt_dir="$RSVM_CACHE/apt"
mkdir -p "$apt_dir"/{etc/sources.list.d,etc/preferences.d,etc/apt.conf.d,state/lists/partial,cache/archives/partial,deb}
mirror=$(grep -rhoE 'https?://[^ ]+/debian/?$|https?://[^ ]+/debian ' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
	| head -n1 | tr -d ' ' || true)
mirror=${mirror%/}
[ -n "$mirror" ] || mirror=$(grep -rhoE '^URIs: *https?://[^ ]+/debian$' /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | awk '{print $2}' || true)
[ -n "$mirror" ] || die "cannot find the Debian mirror in /etc/apt; set KSRC= to a Linux 7.2 source tree instead"
cat > "$apt_dir/etc/sources.list" <<EOS
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main
EOS
aptopts=(-o Dir::Etc="$apt_dir/etc" -o Dir::Etc::SourceList="$apt_dir/etc/sources.list"
	-o Dir::Etc::SourceParts="$apt_dir/etc/sources.list.d" -o Dir::Etc::Preferences="$apt_dir/etc/preferences"
	-o Dir::Etc::PreferencesParts="$apt_dir/etc/preferences.d" -o Dir::Etc::Parts="$apt_dir/etc/apt.conf.d"
	-o Dir::State="$apt_dir/state" -o Dir::State::status=/dev/null -o Dir::Cache="$apt_dir/cache"
	-o Debug::NoLocking=1 -o APT::Sandbox::User=root -o APT::Architecture=amd64 -o Acquire::Languages=none)
log "fetching the package lists of trixie-backports and sid (private apt state in $apt_dir)"
apt-get "${aptopts[@]}" -qq update || die "apt-get update of the private sources failed; set KSRC= to a Linux 7.2 source tree"

versions=$(apt-cache "${aptopts[@]}" madison linux-source-7.2 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}')
[ -n "$versions" ] || die "linux-source-7.2 is not in trixie-backports or sid any more; build with KSRC=/path/to/linux-7.2"
if grep -qxF "$KSRC_PIN" <<<"$versions"; then ver=$KSRC_PIN
else
	ver=$(sort -V <<<"$versions" | tail -n1)
	log "pinned linux-source-7.2 $KSRC_PIN is gone; falling back to $ver"
fi
log "downloading linux-source-7.2=$ver"
# apt-get download verifies the package against the signed Release file's hashes.
(cd "$apt_dir/deb" && rm -f linux-source-7.2_*.deb && apt-get "${aptopts[@]}" -qq download "linux-source-7.2=$ver")
deb=$(ls "$apt_dir"/deb/linux-source-7.2_*.deb | head -n1)
tmp="$RSVM_CACHE/linux-src.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
dpkg-deb -x "$deb" "$tmp/pkg"
tarball=$(ls "$tmp"/pkg/usr/src/linux-source-7.2*.tar.* | head -n1)
[ -f "$tarball" ] || die "no source tarball in $deb"
log "unpacking $(basename "$tarball")"
tar -C "$tmp" -xf "$tarball"
src=$(find "$tmp" -maxdepth 1 -type d -name 'linux-source-7.2*' | head -n1)
grep -q '^VERSION = 7' "$src/Makefile" && grep -q '^PATCHLEVEL = 2' "$src/Makefile" || die "$tarball is not Linux 7.2"
rm -rf "$RSVM_CACHE/linux-src"
mv "$src" "$RSVM_CACHE/linux-src"
rm -rf "$tmp"
echo "linux-source-7.2 $ver" > "$stamp"
log "kernel source: linux-source-7.2 $ver in $RSVM_CACHE/linux-src"
