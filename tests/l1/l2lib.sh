# Helpers for the L2 Linux boots (sourced by 15-linux-guest.sh and ref-linux-guest.sh): the
# test kernel (the same bzImage as L1) with tests/l2/init as its initramfs, run by rsvm-vmm.
# tests/run.sh adds /work/bzImage and /work/l2-initramfs.cpio.gz to the VM.
K=/work/bzImage; I=/work/l2-initramfs.cpio.gz
[ -f "$K" ] && [ -f "$I" ] || skip "no $K or $I (tests/run.sh adds them)"
command -v rsvm-vmm > /dev/null || fail "rsvm-vmm not installed"
PATTERN=RSVM-L2-DISK-PATTERN-5a17c0de
# Per boot: a normal one takes 40-60 s here; the kvm_amd reference's emulator hang (retried
# in ref-linux-guest.sh) must leave the retry room inside the test's own time.
TMO=${RSVM_L2_TIMEOUT:-200}

# The L2 console in L1's output, with the words vm-run scans L1's console for defused (the
# L2 kernel's own warnings must not look like L1's).
l2_show() { sed -e 's/^/  L2| /' -e 's/Oops/O0ps/g; s/BUG:/BUG_:/g; s/WARNING:/WARNING_:/g; s/Kernel panic/Kernel_panic/g; s/Call Trace:/Call_Trace:/g; s/general protection/general_protection/g; s/soft lockup/soft_lockup/g; s/rcu: INFO/rcu_INFO/g; s/hung_task/hung-task/g; s/UBSAN:/UBSAN_:/g; s/lockdep/lock-dep/g'; }

# boot_l2 DEV NAME [RSVM-VMM ARGS]: boot the guest on DEV; fail the test if anything is wrong.
boot_l2() {
	dev=$1; name=$2; shift 2; log=/tmp/l2-$name.log
	rm -f /tmp/l2disk.img; dd if=/dev/zero of=/tmp/l2disk.img bs=1M count=8 2>/dev/null
	t0=$(date +%s)
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 128M --disk /tmp/l2disk.img \
		--timeout "$TMO" --stats "$@" < /dev/null > $log 2>&1
	rc=$?
	t1=$(date +%s)
	grep -E '^RSVM-L2|rsvm-vmm:|^ +[a-z-]+ +(0x[0-9a-f]+ +)?[0-9]+$' $log | l2_show
	if [ $rc != 0 ] || grep -q 'RSVM-L2: FAIL' $log || ! grep -q 'RSVM-L2: done' $log; then
		echo "--- $name: last lines of the guest console:"; tail -n 60 $log | l2_show
		fail "$name: L2 guest (rsvm-vmm exit status $rc)"
	fi
	assert "$name: guest init ran" grep -q 'RSVM-L2: init started' $log
	assert "$name: guest read back its disk pattern" grep -q 'RSVM-L2: disk ok' $log
	assert "$name: guest timer advances" grep -q 'RSVM-L2: timer ok' $log
	got=$(dd if=/tmp/l2disk.img bs=512 skip=8 count=1 2>/dev/null | head -c ${#PATTERN})
	assert "$name: the pattern is in the disk image on the L1 side" test "$got" = "$PATTERN"
	pass "$name: L2 Linux booted, ran and rebooted in $((t1 - t0)) s; VMM exit 0"
}

# end_l2 DEV NAME HOW STATUS MESSAGE [ARGS]: the guest ends by HOW (l2_end=); the VMM must
# exit with STATUS and say MESSAGE.
end_l2() {
	dev=$1; name=$2; how=$3; want=$4; msg=$5; shift 5
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 64M --timeout "$TMO" "$@" \
		--cmdline "console=ttyS0 reboot=k panic=1 pci=off l2_end=$how" < /dev/null > /tmp/l2-$name.log 2>&1
	rc=$?
	grep -E '^rsvm-vmm:' /tmp/l2-$name.log | l2_show
	[ $rc = "$want" ] && grep -q "$msg" /tmp/l2-$name.log || {
		tail -n 30 /tmp/l2-$name.log | l2_show; fail "$name: guest $how $*: VMM exit status $rc (expected $want, '$msg')"; }
	pass "$name: guest $how $*: VMM exit status $want, '$msg'"
}

# shell_l2 DEV NAME: a shell on the guest console, driven through the VMM's stdin (a FIFO):
# the command's output must come back computed (42), and `exit` ends the run with status 0.
# The disk is attached --disk-ro: the guest must see it read-only and cannot change it.
# Run with --no-acpi: the MP-table boot and the command-line virtio-mmio device.
shell_l2() {
	dev=$1; name=$2; shift 2
	log=/tmp/l2-$name-shell.log; rm -f /tmp/l2in; mkfifo /tmp/l2in
	head -c 65536 /dev/zero | tr '\0' x > /tmp/l2ro.img; before=$(md5sum < /tmp/l2ro.img)
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 64M --timeout "$TMO" --disk /tmp/l2ro.img --disk-ro "$@" \
		--cmdline "console=ttyS0 reboot=k panic=1 pci=off l2_end=shell" < /tmp/l2in > $log 2>&1 &
	pid=$!
	exec 3> /tmp/l2in
	i=0; while ! grep -q 'RSVM-L2: shell' $log && [ $i -lt "$TMO" ] && kill -0 $pid 2>/dev/null; do sleep 1; i=$((i + 1)); done
	sleep 2
	echo 'dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null; echo STDIN-$((6 * 7))-OK RO-$(cat /sys/block/vda/ro)' >&3
	i=0; while ! grep -q 'STDIN-42-OK' $log && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	echo 'exit' >&3
	wait $pid; rc=$?
	exec 3>&-
	grep -E '^rsvm-vmm:|STDIN' $log | l2_show
	grep -q 'STDIN-42-OK' $log || { tail -n 30 $log | l2_show; fail "$name: a command typed on stdin ran in the guest shell"; }
	[ $rc = 0 ] || fail "$name: shell exit: VMM exit status $rc"
	pass "$name: guest shell on the console: stdin in, output out, exit status 0"
	assert "$name: --disk-ro: the guest sees a read-only /dev/vda" grep -q 'STDIN-42-OK RO-1' $log
	assert "$name: --disk-ro: the image is unchanged after the guest tried to write" test "$(md5sum < /tmp/l2ro.img)" = "$before"
}


# l2_bad_input DEV: a missing, a corrupt kernel and a missing disk give status 1 and a message.
l2_bad_input() {
	dev=$1
	rsvm-vmm --dev "$dev" --kernel /work/no-such-kernel > /tmp/neg 2>&1; rc=$?
	[ $rc = 1 ] && grep -q -- '--kernel /work/no-such-kernel: No such file' /tmp/neg || { cat /tmp/neg; fail "$dev: missing kernel: status 1 and a message"; }
	pass "$dev: missing kernel: status 1, $(cat /tmp/neg)"
	head -c 100000 /dev/urandom > /tmp/garbage
	rsvm-vmm --dev "$dev" --kernel /tmp/garbage > /tmp/neg 2>&1; rc=$?
	[ $rc = 1 ] && grep -q 'not a loadable bzImage' /tmp/neg || { cat /tmp/neg; fail "$dev: corrupt kernel: status 1 and a message"; }
	pass "$dev: corrupt kernel: status 1, $(cat /tmp/neg)"
	rsvm-vmm --dev "$dev" --kernel $K --disk /work/no-such-disk > /tmp/neg 2>&1; rc=$?
	[ $rc = 1 ] && grep -q 'no-such-disk' /tmp/neg || { cat /tmp/neg; fail "$dev: missing disk: status 1 and a message"; }
	pass "$dev: missing disk: status 1"
}

# l2_all DEV NAME: every boot above on DEV, in order; stops at the first failure.
l2_all() {
	( boot_l2 "$1" "$2" --cpus 2 --hugepages && end_l2 "$1" "$2" poweroff 0 'the guest powered off' &&
	  end_l2 "$1" "$2" panic 3 'the guest kernel panicked' --no-acpi && shell_l2 "$1" "$2" --no-acpi )
}
