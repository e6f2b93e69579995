/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMRUN trampoline, and nothing else (modelled on arch/x86/kvm/svm/vmenter.S).
 *
 * u64 __rsvm_vmrun(u64 vmcb_pa, u64 host_save_pa, u64 *gprs)
 *
 * Called with GIF=0 (CLGI done by the caller), so no interrupt or NMI can observe the guest's
 * GS base between VMLOAD and the host's VMLOAD. gprs[] holds the guest GPRs in x86 encoding
 * order (RAX=0 ... R15=15); the RAX and RSP slots are not used here because VMRUN loads and
 * saves those from the VMCB. Host state that VMRUN does not save (FS/GS/TR/LDTR, KernelGsBase,
 * STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) goes through VMSAVE/VMLOAD of host_save_pa.
 *
 * Speculation: the host's chosen mitigations are followed as KVM's svm/vmenter.S and
 * svm_vcpu_enter_exit() follow them, each behind the CPU feature the kernel set at boot (the
 * alternatives are patched when the module loads):
 *   before VMRUN  amd_clear_divider() (X86_BUG_DIV0), VERW (X86_FEATURE_CLEAR_CPU_BUF_VM);
 *   after #VMEXIT RSB fill (X86_FEATURE_RSB_VMEXIT), the host's SPEC_CTRL written back where
 *                 the kernel uses IBRS (X86_FEATURE_KERNEL_IBRS: it must be rewritten after
 *                 any less privileged predictor mode), the return untraining of RETBleed and
 *                 SRSO (CALL_UNTRAIN_RET, as UNTRAIN_RET_VM), IBPB (X86_FEATURE_IBPB_ON_VMEXIT),
 *                 and no guest value left in a register.
 * Guests cannot write SPEC_CTRL: rsvm does not offer it and its MSR is intercepted (#GP), so
 * without V_SPEC_CTRL the host's value stays loaded in the guest, and with V_SPEC_CTRL the CPU
 * restores it on #VMEXIT. KVM's write_ibpb and x86_verw_sel are exported to KVM's modules
 * only (EXPORT_SYMBOL_FOR_KVM), so the IBPB and the VERW selector are local here.
 */
#include <linux/linkage.h>
#include <asm/alternative.h>
#include <asm/asm.h>
#include <asm/cpufeatures.h>
#include <asm/msr-index.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>
#include <asm/segment.h>

#define GPR(n)	((n) * 8)

.section .text, "ax"

SYM_FUNC_START(__rsvm_vmrun)
	push %rbp
	mov  %rsp, %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx

	/* Needed after #VMEXIT, in the order they are needed. */
	push %rsi		/* host_save_pa: 16(%rsp) */
	push %rdi		/* vmcb_pa:       8(%rsp) */
	push %rdx		/* gprs:           (%rsp) */

	mov %rsi, %rax
	vmsave %rax		/* host FS/GS/TR/LDTR/syscall MSRs */
	mov %rdi, %rax
	vmload %rax		/* guest's */

	mov %rdx, %rax
	mov GPR(1)(%rax),  %rcx
	mov GPR(2)(%rax),  %rdx
	mov GPR(3)(%rax),  %rbx
	mov GPR(5)(%rax),  %rbp
	mov GPR(6)(%rax),  %rsi
	mov GPR(7)(%rax),  %rdi
	mov GPR(8)(%rax),  %r8
	mov GPR(9)(%rax),  %r9
	mov GPR(10)(%rax), %r10
	mov GPR(11)(%rax), %r11
	mov GPR(12)(%rax), %r12
	mov GPR(13)(%rax), %r13
	mov GPR(14)(%rax), %r14
	mov GPR(15)(%rax), %r15
	/*
	 * Clobbers EFLAGS only: the quotient of a guest's division by zero must not leak to it
	 * (amd_clear_divider(), X86_BUG_DIV0), and CPU buffers are cleared for the guest (TSA).
	 * Neither touches a GPR: the divide's operands are on the stack around it.
	 */
	ALTERNATIVE "", "call __rsvm_clear_divider", X86_BUG_DIV0
	ALTERNATIVE "", "verw __rsvm_verw_sel(%rip)", X86_FEATURE_CLEAR_CPU_BUF_VM

	mov 8(%rsp), %rax	/* RAX = VMCB physical address */

	vmrun %rax

	/* #VMEXIT: RAX and RSP are the host's again (restored from VM_HSAVE_PA). */
	mov (%rsp), %rax
	mov %rcx, GPR(1)(%rax)
	mov %rdx, GPR(2)(%rax)
	mov %rbx, GPR(3)(%rax)
	mov %rbp, GPR(5)(%rax)
	mov %rsi, GPR(6)(%rax)
	mov %rdi, GPR(7)(%rax)
	mov %r8,  GPR(8)(%rax)
	mov %r9,  GPR(9)(%rax)
	mov %r10, GPR(10)(%rax)
	mov %r11, GPR(11)(%rax)
	mov %r12, GPR(12)(%rax)
	mov %r13, GPR(13)(%rax)
	mov %r14, GPR(14)(%rax)
	mov %r15, GPR(15)(%rax)

	mov 8(%rsp), %rax
	vmsave %rax		/* guest FS/GS/TR/LDTR/syscall MSRs back into its VMCB */
	mov 16(%rsp), %rax
	vmload %rax		/* host's: GS base, and with it per-CPU data, is back */

	/* Stuff the RSB before any RET can consume guest-trained entries. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RSB_VMEXIT

	/*
	 * The host's IBRS again (RESTORE_HOST_SPEC_CTRL_BODY with KERNEL_IBRS), out of line
	 * by a jump, as KVM's, because no RET may run before the untraining below.
	 */
	ALTERNATIVE "", "jmp 900f", X86_FEATURE_KERNEL_IBRS
901:

	/*
	 * Before any RET and before interrupts are on again: untrain the return predictor
	 * (RETBleed, SRSO), then IBPB where the host asked for it on VM exit (UNTRAIN_RET_VM).
	 */
	VALIDATE_UNRET_END
	CALL_UNTRAIN_RET
	ALTERNATIVE "", "call __rsvm_ibpb", X86_FEATURE_IBPB_ON_VMEXIT

	/* No guest value survives in a register (speculative use after exit). */
	xor %ecx, %ecx
	xor %edx, %edx
	xor %ebx, %ebx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d

	add $24, %rsp
	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	xor %eax, %eax
	RET

900:	/* SPEC_CTRL = this CPU's x86_spec_ctrl_current (the host's); clobbers RAX, RCX, RDX. */
	mov $MSR_IA32_SPEC_CTRL, %ecx
	mov PER_CPU_VAR(x86_spec_ctrl_current), %rdx
	mov %edx, %eax
	shr $32, %rdx
	wrmsr
	jmp 901b
SYM_FUNC_END(__rsvm_vmrun)

/* amd_clear_divider(): a divide with a zero quotient; preserves every GPR. */
SYM_FUNC_START_LOCAL(__rsvm_clear_divider)
	push %rax
	push %rcx
	push %rdx
	xor %eax, %eax
	xor %edx, %edx
	mov $1, %ecx
	div %ecx
	pop %rdx
	pop %rcx
	pop %rax
	RET
SYM_FUNC_END(__rsvm_clear_divider)

/* write_ibpb() (entry.S), which modules other than KVM's cannot call. Clobbers RAX, RCX, RDX. */
SYM_FUNC_START_LOCAL(__rsvm_ibpb)
	mov $MSR_IA32_PRED_CMD, %ecx
	mov $PRED_CMD_IBPB, %eax
	xor %edx, %edx
	wrmsr
	RET
SYM_FUNC_END(__rsvm_ibpb)

.pushsection .rodata
/* The selector VERW checks (x86_verw_sel in entry.S): any writable data segment works. */
SYM_DATA_START_LOCAL(__rsvm_verw_sel)
	.word __KERNEL_DS
SYM_DATA_END(__rsvm_verw_sel)
.popsection
