# Hostile and careless VMM behaviour: bad arguments, bad register state, ioctls from another
# process, fds closed in every order, memory unmapped under a running guest, a guest that
# spins forever (signal, immediate_exit, SIGKILL), 64 VMs x 2 vCPUs (ASID reuse), MMIO
# rsvm cannot decode. Errors are clean, nothing is leaked, the host stays up.
. ./lib.sh
rsvm-test hostile || fail "hostile input"
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
