./rust/rsvm.o
./rust/shim.o
./rust/svm/vmenter.o
