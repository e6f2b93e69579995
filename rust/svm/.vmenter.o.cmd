savedcmd_rust/svm/vmenter.o := gcc -Wp,-MMD,rust/svm/.vmenter.o.d -nostdinc -I/root/.cache/rsvm/linux-src/arch/x86/include -I/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/arch/x86/include/generated -I/root/.cache/rsvm/linux-src/include -I/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/include -I/root/.cache/rsvm/linux-src/arch/x86/include/uapi -I/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/arch/x86/include/generated/uapi -I/root/.cache/rsvm/linux-src/include/uapi -I/root/.cache/rsvm/kbuild-ef4f6abaf9843f61/include/generated/uapi -include /root/.cache/rsvm/linux-src/include/linux/compiler-version.h -include /root/.cache/rsvm/linux-src/include/linux/kconfig.h -D__KERNEL__ -D__ASSEMBLY__ -fno-PIE -m64  -DMODULE  -DKBUILD_MODNAME='"rsvm"' -D__KBUILD_MODNAME=rsvm -c -o rust/svm/vmenter.o rust/svm/vmenter.S  ; /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/tools/objtool/objtool --hacks=jump_label --hacks=noinstr --orc --static-call --uaccess   --module rust/svm/vmenter.o

source_rust/svm/vmenter.o := rust/svm/vmenter.S

deps_rust/svm/vmenter.o := \
  /root/.cache/rsvm/linux-src/include/linux/compiler-version.h \
    $(wildcard include/config/CC_VERSION_TEXT) \
  /root/.cache/rsvm/linux-src/include/linux/kconfig.h \
    $(wildcard include/config/CPU_BIG_ENDIAN) \
    $(wildcard include/config/BOOGER) \
    $(wildcard include/config/FOO) \
  /root/.cache/rsvm/linux-src/include/linux/linkage.h \
    $(wildcard include/config/FUNCTION_ALIGNMENT) \
    $(wildcard include/config/ARCH_USE_SYM_ANNOTATIONS) \
  /root/.cache/rsvm/linux-src/include/linux/compiler_types.h \
    $(wildcard include/config/DEBUG_INFO_BTF) \
    $(wildcard include/config/PAHOLE_HAS_BTF_TAG) \
    $(wildcard include/config/CC_HAS_SANE_FUNCTION_ALIGNMENT) \
    $(wildcard include/config/X86_64) \
    $(wildcard include/config/ARM64) \
    $(wildcard include/config/LD_DEAD_CODE_DATA_ELIMINATION) \
    $(wildcard include/config/LTO_CLANG) \
    $(wildcard include/config/HAVE_ARCH_COMPILER_H) \
    $(wildcard include/config/KCSAN) \
    $(wildcard include/config/CC_HAS_ASSUME) \
    $(wildcard include/config/CC_HAS_COUNTED_BY) \
    $(wildcard include/config/FORTIFY_SOURCE) \
    $(wildcard include/config/UBSAN_BOUNDS) \
    $(wildcard include/config/CC_HAS_COUNTED_BY_PTR) \
    $(wildcard include/config/CC_HAS_MULTIDIMENSIONAL_NONSTRING) \
    $(wildcard include/config/CFI) \
    $(wildcard include/config/ARCH_USES_CFI_GENERIC_LLVM_PASS) \
    $(wildcard include/config/CC_HAS_BROKEN_COUNTED_BY_REF) \
    $(wildcard include/config/CC_HAS_ASM_INLINE) \
  /root/.cache/rsvm/linux-src/include/linux/stringify.h \
  /root/.cache/rsvm/linux-src/include/linux/export.h \
    $(wildcard include/config/MODVERSIONS) \
    $(wildcard include/config/64BIT) \
    $(wildcard include/config/GENDWARFKSYMS) \
  /root/.cache/rsvm/linux-src/include/linux/compiler.h \
    $(wildcard include/config/TRACE_BRANCH_PROFILING) \
    $(wildcard include/config/PROFILE_ALL_BRANCHES) \
    $(wildcard include/config/OBJTOOL) \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/arch/x86/include/generated/asm/rwonce.h \
  /root/.cache/rsvm/linux-src/include/asm-generic/rwonce.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/linkage.h \
    $(wildcard include/config/X86_32) \
    $(wildcard include/config/CALL_PADDING) \
    $(wildcard include/config/MITIGATION_RETHUNK) \
    $(wildcard include/config/MITIGATION_RETPOLINE) \
    $(wildcard include/config/MITIGATION_SLS) \
    $(wildcard include/config/FUNCTION_PADDING_BYTES) \
    $(wildcard include/config/UML) \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/ibt.h \
    $(wildcard include/config/X86_KERNEL_IBT) \
  /root/.cache/rsvm/linux-src/include/linux/types.h \
    $(wildcard include/config/HAVE_UID16) \
    $(wildcard include/config/UID16) \
    $(wildcard include/config/ARCH_DMA_ADDR_T_64BIT) \
    $(wildcard include/config/PHYS_ADDR_T_64BIT) \
    $(wildcard include/config/ARCH_32BIT_USTAT_F_TINODE) \
    $(wildcard include/config/KCOV) \
  /root/.cache/rsvm/linux-src/include/uapi/linux/types.h \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/arch/x86/include/generated/uapi/asm/types.h \
  /root/.cache/rsvm/linux-src/include/uapi/asm-generic/types.h \
  /root/.cache/rsvm/linux-src/include/asm-generic/int-ll64.h \
  /root/.cache/rsvm/linux-src/include/uapi/asm-generic/int-ll64.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/uapi/asm/bitsperlong.h \
  /root/.cache/rsvm/linux-src/include/asm-generic/bitsperlong.h \
  /root/.cache/rsvm/linux-src/include/uapi/asm-generic/bitsperlong.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/asm.h \
    $(wildcard include/config/KPROBES) \
  /root/.cache/rsvm/linux-src/include/linux/annotate.h \
  /root/.cache/rsvm/linux-src/include/linux/objtool_types.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/asm-offsets.h \
  /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/include/generated/asm-offsets.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/extable_fixup_types.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/nospec-branch.h \
    $(wildcard include/config/CALL_THUNKS_DEBUG) \
    $(wildcard include/config/MITIGATION_CALL_DEPTH_TRACKING) \
    $(wildcard include/config/NOINSTR_VALIDATION) \
    $(wildcard include/config/MITIGATION_UNRET_ENTRY) \
    $(wildcard include/config/MITIGATION_SRSO) \
    $(wildcard include/config/MITIGATION_IBPB_ENTRY) \
    $(wildcard include/config/MITIGATION_ITS) \
    $(wildcard include/config/BPF_JIT) \
  /root/.cache/rsvm/linux-src/include/linux/static_key.h \
  /root/.cache/rsvm/linux-src/include/linux/jump_label.h \
    $(wildcard include/config/JUMP_LABEL) \
    $(wildcard include/config/HAVE_ARCH_JUMP_LABEL_RELATIVE) \
  /root/.cache/rsvm/linux-src/include/linux/objtool.h \
    $(wildcard include/config/FRAME_POINTER) \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/alternative.h \
    $(wildcard include/config/SMP) \
    $(wildcard include/config/CALL_THUNKS) \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/bug.h \
    $(wildcard include/config/GENERIC_BUG) \
    $(wildcard include/config/DEBUG_BUGVERBOSE) \
    $(wildcard include/config/DEBUG_BUGVERBOSE_DETAILED) \
  /root/.cache/rsvm/linux-src/include/linux/instrumentation.h \
  /root/.cache/rsvm/linux-src/include/asm-generic/bug.h \
    $(wildcard include/config/BUG) \
    $(wildcard include/config/GENERIC_BUG_RELATIVE_POINTERS) \
  /root/.cache/rsvm/linux-src/include/linux/once_lite.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/cpufeatures.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/msr-index.h \
  /root/.cache/rsvm/linux-src/include/linux/bits.h \
  /root/.cache/rsvm/linux-src/include/vdso/bits.h \
  /root/.cache/rsvm/linux-src/include/vdso/const.h \
  /root/.cache/rsvm/linux-src/include/uapi/linux/const.h \
  /root/.cache/rsvm/linux-src/include/uapi/linux/bits.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/unwind_hints.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/orc_types.h \
  /root/.cache/rsvm/linux-src/arch/x86/include/asm/percpu.h \
    $(wildcard include/config/CC_HAS_NAMED_AS) \
    $(wildcard include/config/USE_X86_SEG_SUPPORT) \
  /root/.cache/rsvm/linux-src/arch/x86/include/uapi/asm/ptrace-abi.h \

rust/svm/vmenter.o: $(deps_rust/svm/vmenter.o)

$(deps_rust/svm/vmenter.o):

rust/svm/vmenter.o: $(wildcard /root/.cache/rsvm/kbuild-ef4f6abaf9843f61/tools/objtool/objtool)
