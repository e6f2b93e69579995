// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C glue for what Linux 7.2's `kernel` crate does not provide. Each helper says why it
 * exists; none holds policy. Everything else lives in Rust.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/smp.h>
#include <linux/atomic.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/cpuid/api.h>

#include "shim.h"

/*
 * /dev/rsvm. miscdevice.rs (7.2) builds its file_operations without .owner, so an open file
 * would not pin the module and rmmod could free code an open fd still points at. A C fops
 * table with .owner = THIS_MODULE makes the VFS hold a module reference per open file, which
 * is also what makes "rmmod while open" fail with -EBUSY.
 */
static const struct file_operations rsvm_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= rsvm_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice rsvm_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "rsvm",
	.fops	= &rsvm_dev_fops,
	.mode	= 0660,
};

int rsvm_shim_misc_register(void)
{
	return misc_register(&rsvm_misc);
}

void rsvm_shim_misc_deregister(void)
{
	misc_deregister(&rsvm_misc);
}

/* cpuhp_setup_state()/cpuhp_remove_state() are static inlines: no Rust binding exists. */
int rsvm_shim_cpuhp_setup(int (*online)(unsigned int cpu), int (*offline)(unsigned int cpu))
{
	return cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "x86/rsvm:online", online, offline);
}

void rsvm_shim_cpuhp_remove(int state)
{
	cpuhp_remove_state(state);
}

/* Per-CPU identity and preemption/IRQ control: macros or inlines in C, absent in Rust. */
unsigned int rsvm_shim_cpu(void)
{
	return raw_smp_processor_id();
}

unsigned int rsvm_shim_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

void rsvm_shim_preempt_disable(void)
{
	preempt_disable();
}

void rsvm_shim_preempt_enable(void)
{
	preempt_enable();
}

unsigned long rsvm_shim_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void rsvm_shim_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

void rsvm_shim_irq_enable(void)
{
	local_irq_enable();
}

void rsvm_shim_irq_disable(void)
{
	local_irq_disable();
}

/*
 * MSR access with the kernel's exception fixup and paravirt hooks (static inlines in C). A
 * fault comes back as an error instead of an oops.
 */
int rsvm_shim_rdmsr(u32 msr, u64 *val)
{
	return rdmsrq_safe(msr, val);
}

int rsvm_shim_wrmsr(u32 msr, u64 val)
{
	return wrmsrq_safe(msr, val);
}

void rsvm_shim_cpuid(u32 leaf, u32 subleaf, u32 out[4])
{
	cpuid_count(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

unsigned long rsvm_shim_read_cr4(void)
{
	return __read_cr4();
}

/*
 * Physically contiguous, zeroed pages for hardware structures (VMCB, host save areas, IOPM,
 * MSRPM, NPT tables). kernel::page::Page is order-0 only and has no page_to_phys().
 * Every page rsvm holds is counted here, so tests can check that it returns to zero.
 */
static atomic_long_t rsvm_pages_held = ATOMIC_LONG_INIT(0);

unsigned long rsvm_shim_alloc_pages(unsigned int order)
{
	unsigned long va = __get_free_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, order);

	if (va)
		atomic_long_add(1L << order, &rsvm_pages_held);
	return va;
}

void rsvm_shim_free_pages(unsigned long va, unsigned int order)
{
	free_pages(va, order);
	atomic_long_sub(1L << order, &rsvm_pages_held);
}

long rsvm_shim_pages_held(void)
{
	return atomic_long_read(&rsvm_pages_held);
}

phys_addr_t rsvm_shim_virt_to_phys(unsigned long va)
{
	return __pa(va);
}

unsigned long rsvm_shim_phys_to_virt(phys_addr_t pa)
{
	return (unsigned long)__va(pa);
}

int rsvm_shim_need_resched(void)
{
	return need_resched();
}
