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
 */
#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

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
SYM_FUNC_END(__rsvm_vmrun)
