savedcmd_rust/rsvm.o := OBJTREE=/root/.cache/rsvm/kbuild-ef4f6abaf9843f61 RUST_MODFILE=./rsvm rustc --edition=2021 -Zbinary_dep_depinfo=y -Astable_features -Aunused_features -Dnon_ascii_idents -Dunsafe_op_in_unsafe_fn -Wmissing_docs -Wrust_2018_idioms -Wunreachable_pub -Wclippy::all -Wclippy::as_ptr_cast_mut -Wclippy::as_underscore -Wclippy::cast_lossless -Aclippy::collapsible_if -Aclippy::collapsible_match -Wclippy::ignored_unit_patterns -Aclippy::incompatible_msrv -Wclippy::mut_mut -Wclippy::needless_bitwise_bool -Aclippy::needless_lifetimes -Wclippy::no_mangle_with_rust_abi -Wclippy::ptr_as_ptr -Wclippy::ptr_cast_constness -Wclippy::ref_as_ptr -Wclippy::undocumented_unsafe_blocks -Aclippy::uninlined_format_args -Wclippy::unnecessary_safety_comment -Wclippy::unnecessary_safety_doc -Aclippy::unwrap_or_default -Wrustdoc::missing_crate_level_docs -Wrustdoc::unescaped_backticks -Cpanic=abort -Cembed-bitcode=n -Clto=n -Cforce-unwind-tables=n -Ccodegen-units=1 -Csymbol-mangling-version=v0 -Crelocation-model=static -Zfunction-sections=n -Wclippy::float_arithmetic --target=/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/scripts/target.json -Ctarget-feature=-sse,-sse2,-sse3,-ssse3,-sse4.1,-sse4.2,-avx,-avx2 -Ctarget-cpu=x86-64 -Ztune-cpu=generic -Cno-redzone=y -Ccode-model=kernel -Copt-level=s -Cdebug-assertions=n -Coverflow-checks=y  --cfg MODULE  @/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/include/generated/rustc_cfg -Zallow-features=arbitrary_self_types,asm_goto,generic_arg_infer,used_with_arg -Zcrate-attr=no_std -Zcrate-attr='feature(arbitrary_self_types,asm_goto,generic_arg_infer,used_with_arg)' -Zunstable-options --extern pin_init --extern kernel --extern zerocopy --extern zerocopy_derive --crate-type rlib -L /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/ --sysroot=/dev/null --out-dir rust/ --emit=dep-info=rust/.rsvm.o.d --emit=obj=rust/rsvm.o rust/rsvm.rs   ; /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/tools/objtool/objtool --hacks=jump_label --hacks=noinstr --orc --static-call --uaccess   --module rust/rsvm.o

source_rust/rsvm.o := rust/rsvm.rs

deps_rust/rsvm.o := \
  rust/cpu.rs \
  rust/dev.rs \
  rust/ffi.rs \
  rust/hwpage.rs \
  rust/npt.rs \
  rust/selftest.rs \
  rust/svm/mod.rs \
  rust/svm/exit.rs \
  rust/svm/ops.rs \
  rust/svm/vmcb.rs \
  rust/uapi.rs \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libcore.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libkernel.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libffi.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libcompiler_builtins.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libpin_init.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libpin_init_internal.so \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libmacros.so \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libbuild_error.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libbindings.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libzerocopy.rmeta \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libzerocopy_derive.so \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/rust/libuapi.rmeta \

rust/rsvm.o: $(deps_rust/rsvm.o)

$(deps_rust/rsvm.o):

rust/rsvm.o: $(wildcard /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/tools/objtool/objtool)
