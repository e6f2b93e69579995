# Memory: NPT faults on first touch, counted per exit reason; KVM's memslot rules; pinned
# memory charged to VmPin and limited by RLIMIT_MEMLOCK without CAP_IPC_LOCK.
. ./lib.sh
rsvm-test first-touch || fail "first touch"
rsvm-test memslots || fail "memslot rules"
rsvm-test memlock || fail "pinned memory charged to RLIMIT_MEMLOCK"
rsvm-test huge-pages; rc=$?
[ $rc = 4 ] && skip "no transparent huge pages"
[ $rc = 0 ] || fail "2 MiB NPT leaves for THP-backed memory"
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
