# The fuzzer (issue 15 section 5, userspace-vmm/rsvm-fuzz): random but well-formed KVM
# ioctl sequences, fd closes, dying children and random guest code on /dev/rsvm. make test
# runs a fixed seed for 75 s; make fuzz runs RSVM_FUZZ_SECS from a random seed
# (rsvm_fuzz_secs= and rsvm_fuzz_seed= on the kernel command line). Fails if rsvm-fuzz
# reports a finding (a kernel-log problem after a program, a leak in rsvm's counters, a hang,
# a crash of its worker), if it did not really run (too few calls or guest programs: a
# fuzzer that stops early proves nothing), or if afterwards pinned pages, pages held or
# kmemleak show anything of rsvm's. vm-run fails the whole run on any WARN/lockdep/oops.
. ./lib.sh
SECS=${rsvm_fuzz_secs:-75}
SEED=${rsvm_fuzz_seed:-15}
[ "$SEED" = random ] && SEED=$(($(date +%s) * 7919 % 1000000007))
held=$(cat $DBG/pages_held)
out=/tmp/fuzz.out
rsvm-fuzz --dev /dev/rsvm --seed "$SEED" --secs "$SECS" --stall-secs 60 > $out 2>&1
rc=$?
grep -v '^  #' $out | tail -n 40
grep -q FINDING $out && { grep -A60 FINDING $out | head -n 200; }
assert "rsvm-fuzz: no finding from seed $SEED (status $rc)" test "$rc" = 0
# The figures: "done after N s: P programs, I ioctls (R/s), G guest programs (...)".
set -- $(sed -n 's/.*done after \([0-9]*\) s: \([0-9]*\) programs, \([0-9]*\) ioctls.* \([0-9]*\) guest programs.*/\1 \2 \3 \4/p' $out)
echo "fuzz: $SECS s from seed $SEED: ${2:-?} programs, ${3:-?} ioctls, ${4:-?} guest programs"
# At least 100 ioctls and 2 guest programs a second (about a tenth of what the test VM does).
assert "it really ran: ${3:-0} ioctls, ${4:-0} guest programs in ${1:-0} s" \
	test "${3:-0}" -ge $((SECS * 100)) -a "${4:-0}" -ge $((SECS * 2))
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
assert "pages held back to $held" test "$(cat $DBG/pages_held)" = "$held"
kmemleak_clean "after the fuzzer"
