savedcmd_rsvm.o := ld -m elf_x86_64 -z noexecstack --no-warn-rwx-segments   -r -o rsvm.o @rsvm.mod 
