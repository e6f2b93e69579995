# Bad ioctl numbers and arguments: ENOTTY, EINVAL, EFAULT; the host stays up.
. ./lib.sh
before=$(cat $DBG/pages_held)
rsvm-test bad-ioctls || fail "bad ioctls"
after=$(cat $DBG/pages_held)
assert "pages held back to $before after failed calls (now $after)" test "$before" = "$after"
