# Hostile and careless VMM behaviour: bad arguments, bad register state, ioctls from another
# process, fds closed in every order, memory unmapped under a running guest, a guest that
# spins forever (signal, immediate_exit, SIGKILL), debug registers, PKRU and CR4 a guest
# sets (host-state), 64 VMs x 2 vCPUs (ASID reuse), MMIO
# rsvm cannot decode. Errors are clean, nothing is leaked, the host stays up.
. ./lib.sh
rsvm-test hostile || fail "hostile input"
# Guest-controlled host state (debug registers, PKRU, CR4, TSC_AUX, RDPMC, WBINVD...): nothing of a guest's reaches the
# host or the next guest, nothing of the host's reaches a guest.
rsvm-test host-state || fail "guest-controlled host state"
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
