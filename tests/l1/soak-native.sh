# The soak guest's workload (tests/l2/init's soak_worker) run directly in L1, no VM: tells
# a failure of the nested setup from one of the kernel or the emulator itself.
#   sh /tests/l1/soak-native.sh SECS
sed -n '/^soak_worker()/,/^}/p;/^soak_test()/,/^}/p' /tests/l2/init > /tmp/soakfns.sh
l2_soak=${1:-100}
. /tmp/soakfns.sh
soak_test | grep -v 'iteration .* ok'
