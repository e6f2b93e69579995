savedcmd_rsvm.mod := printf '%s\n'   rust/rsvm.o rust/shim.o rust/svm/vmenter.o | awk '!x[$$0]++ { print("./"$$0) }' > rsvm.mod
