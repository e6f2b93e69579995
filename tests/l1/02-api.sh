# KVM_GET_API_VERSION = 12, KVM_CHECK_EXTENSION truthful, through the kvm-ioctls crate.
. ./lib.sh
rsvm-test api || fail "API checks"
