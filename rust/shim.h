/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of shim.c, the C side of rust/ffi.rs. */
#ifndef RSVM_SHIM_H
#define RSVM_SHIM_H
#include <linux/types.h>
struct file;
long rsvm_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int rsvm_shim_misc_register(void);
void rsvm_shim_misc_deregister(void);
int rsvm_shim_cpuhp_setup(int (*online)(unsigned int cpu), int (*offline)(unsigned int cpu));
void rsvm_shim_cpuhp_remove(int state);
unsigned int rsvm_shim_cpu(void);
unsigned int rsvm_shim_nr_cpu_ids(void);
void rsvm_shim_preempt_disable(void);
void rsvm_shim_preempt_enable(void);
unsigned long rsvm_shim_irq_save(void);
void rsvm_shim_irq_restore(unsigned long flags);
void rsvm_shim_irq_enable(void);
void rsvm_shim_irq_disable(void);
int rsvm_shim_rdmsr(u32 msr, u64 *val);
int rsvm_shim_wrmsr(u32 msr, u64 val);
void rsvm_shim_cpuid(u32 leaf, u32 subleaf, u32 out[4]);
unsigned long rsvm_shim_read_cr4(void);
unsigned long rsvm_shim_alloc_pages(unsigned int order);
void rsvm_shim_free_pages(unsigned long va, unsigned int order);
long rsvm_shim_pages_held(void);
phys_addr_t rsvm_shim_virt_to_phys(unsigned long va);
unsigned long rsvm_shim_phys_to_virt(phys_addr_t pa);
int rsvm_shim_need_resched(void);
u64 __rsvm_vmrun(u64 vmcb_pa, u64 host_save_pa, u64 *gprs);
#endif
