#!/usr/bin/env bash
# make run, driven as a user would drive it: scripts/vm-run --guest with this script typing
# into the console. The guest must come up with its shell, reach the test VM over the
# network (ping 10.0.2.1 through virtio-net and the TAP), see its disk, and `poweroff` must
# end the guest, the VMM and the test VM, with status 0. Prints TAP lines; exit 1 on failure.
#
#   tests/host/make-run.sh [--cpu MODEL]   (RSVM_RUN_TIMEOUT: seconds, default 600)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
mkfifo "$work/in"
timeout -k 5 "${RSVM_RUN_TIMEOUT:-600}" "$top/scripts/vm-run" --guest "$@" < "$work/in" > "$work/out" 2>&1 &
pid=$!
exec 3> "$work/in"
typed=0
while kill -0 $pid 2>/dev/null; do
	if [ $typed = 0 ] && grep -q 'RSVM-L2: shell:' "$work/out"; then
		sleep 2
		printf 'ping -c 2 10.0.2.1 && echo MAKE-RUN-PING-OK\n' >&3
		printf 'test -b /dev/vda && echo MAKE-RUN-DISK-OK\n' >&3
		printf 'poweroff\n' >&3
		typed=1
	fi
	sleep 1
done
wait $pid; rc=$?
exec 3>&-
tr -d '\r' < "$work/out" > "$work/log"
# The whole console, for a failure (RSVM_RUN_CONSOLE: where; default build/test-logs).
cp "$work/log" "${RSVM_RUN_CONSOLE:-$top/build/test-logs/make-run-console.log}" 2>/dev/null || true
fails=0
t() { if grep -q "$2" "$work/log"; then echo "ok - make run: $1"; else echo "not ok - make run: $1"; fails=$((fails + 1)); fi; }
t "the guest's shell came up on the console" 'RSVM-L2: shell:'
t "the guest pinged the test VM through virtio-net and the TAP" '^MAKE-RUN-PING-OK'
t "the guest has its disk" '^MAKE-RUN-DISK-OK'
t "poweroff in the guest ended rsvm-vmm with status 0" 'rsvm-vmm exited with status 0'
if [ $rc = 0 ]; then echo "ok - make run: the test VM ended, status 0"; else echo "not ok - make run: the test VM ended with status $rc"; fails=$((fails + 1)); fi
if [ $fails != 0 ]; then
	echo "# make run's console (last 60 lines):"
	tail -n 60 "$work/log" | sed 's/^/# /'
	exit 1
fi
