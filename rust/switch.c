// SPDX-License-Identifier: GPL-2.0
/*
 * Host state around VMRUN that the `kernel` crate cannot reach: TSC_AUX through a
 * user-return notifier, the host's machine-check handler after a #MC in guest mode, and the
 * VMSCAPE flag that asks for an IBPB before this CPU next runs user space. Called from
 * vcpu/run.rs (enter_guest) and cpu.rs (a CPU's SVM going away) through rust/ffi/cpu.rs.
 */
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/irqflags.h>
#include <linux/user-return-notifier.h>
#include <asm/cpufeature.h>
#include <asm/mce.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/ptrace.h>

#include "shim.h"

/*
 * TSC_AUX holds the host's CPU and node number, which RDTSCP and RDPID return to user space
 * (the vDSO's getcpu). A guest's value is loaded before VMRUN; the host's comes back when any
 * task leaves the kernel on this CPU, as KVM's kvm_set_user_return_msr() (tsc_aux_uret_slot in
 * svm.c), so a vCPU that stays in the kernel from exit to exit pays one WRMSR per KVM_RUN,
 * not two per exit. Without CONFIG_USER_RETURN_NOTIFIER the host's is restored right after
 * each #VMEXIT.
 */
struct rsvm_tsc_aux {
	struct user_return_notifier urn;
	bool registered;
	bool host_valid;
	u64 host;
	u64 curr;
};
static DEFINE_PER_CPU(struct rsvm_tsc_aux, rsvm_tsc_aux);

/* Restores the host's TSC_AUX and unregisters (KVM's kvm_on_user_return()). */
static void rsvm_tsc_aux_on_user_return(struct user_return_notifier *urn)
{
	struct rsvm_tsc_aux *t = container_of(urn, struct rsvm_tsc_aux, urn);
	unsigned long flags;

	local_irq_save(flags);
#ifdef CONFIG_USER_RETURN_NOTIFIER
	if (t->registered) {
		t->registered = false;
		user_return_notifier_unregister(urn);
	}
#endif
	if (t->curr != t->host) {
		wrmsrq(MSR_TSC_AUX, t->host);
		t->curr = t->host;
	}
	local_irq_restore(flags);
}

/*
 * Before VMRUN, preemption off: the guest's TSC_AUX in the register.
 * Why C: per-CPU data and the user-return notifier API have no Rust binding.
 */
void rsvm_shim_tsc_aux_load(u64 guest)
{
	struct rsvm_tsc_aux *t = this_cpu_ptr(&rsvm_tsc_aux);

	if (!t->host_valid) {
		/*
		 * First entry on this CPU since its SVM came up: nothing of a guest's is loaded, so
		 * the register holds the host's value (set once at CPU bring-up, as KVM reads it
		 * once per CPU).
		 */
		rdmsrq(MSR_TSC_AUX, t->host);
		t->curr = t->host;
		t->host_valid = true;
	}
	if (t->curr == guest)
		return;
	wrmsrq(MSR_TSC_AUX, guest);
	t->curr = guest;
#ifdef CONFIG_USER_RETURN_NOTIFIER
	if (!t->registered) {
		t->urn.on_user_return = rsvm_tsc_aux_on_user_return;
		user_return_notifier_register(&t->urn);
		t->registered = true;
	}
#endif
}

/*
 * After #VMEXIT, GIF=0, preemption off: the host's machine-check handler if the exit was a
 * #MC (KVM's svm_handle_mce() and kvm_machine_check(): the regs say user mode, so a
 * recoverable error kills the VMM through task work rather than the host), the VMSCAPE IBPB
 * request (vcpu_enter_guest() in x86.c), and without a user-return notifier the host's TSC_AUX.
 * Why C: do_machine_check() takes a struct pt_regs, x86_ibpb_exit_to_user is per-CPU data,
 * and cpu_feature_enabled() is a macro.
 */
void rsvm_shim_after_vmexit(u64 exit_code)
{
#ifdef CONFIG_X86_MCE
	if (unlikely(exit_code == 0x52)) {
		struct pt_regs regs = {
			.cs = 3,
			.flags = X86_EFLAGS_IF,
		};

		do_machine_check(&regs);
	}
#endif
	if (cpu_feature_enabled(X86_FEATURE_IBPB_EXIT_TO_USER))
		this_cpu_write(x86_ibpb_exit_to_user, true);
#ifndef CONFIG_USER_RETURN_NOTIFIER
	if (this_cpu_read(rsvm_tsc_aux.host_valid))
		rsvm_tsc_aux_on_user_return(&this_cpu_ptr(&rsvm_tsc_aux)->urn);
#endif
}

/*
 * On the CPU whose SVM goes away (hotplug offline, unload): the host's TSC_AUX back and no
 * notifier left pointing into the module (KVM's drop_user_return_notifiers()).
 * Why C: as rsvm_shim_tsc_aux_load().
 */
void rsvm_shim_tsc_aux_drop(void)
{
	struct rsvm_tsc_aux *t = this_cpu_ptr(&rsvm_tsc_aux);

	if (t->host_valid)
		rsvm_tsc_aux_on_user_return(&t->urn);
	t->host_valid = false;
}
