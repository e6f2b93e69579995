/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of shim.c, the C side of rust/ffi.rs (declarations) and rust/ffi/ (wrappers), and of the Rust callbacks it calls. */
#ifndef RSVM_SHIM_H
#define RSVM_SHIM_H
#include <linux/types.h>
#include <linux/spinlock_types.h>
struct file;
struct inode;
struct page;
struct pci_dev;
struct rcuwait;
struct vm_area_struct;

/* Implemented in Rust. */
long rsvm_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
long rsvm_vm_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int rsvm_vm_release(struct inode *inode, struct file *file);
long rsvm_vcpu_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int rsvm_vcpu_release(struct inode *inode, struct file *file);
ssize_t rsvm_stats_read(struct file *file, char __user *buf, size_t size, loff_t *pos);
int rsvm_stats_release(struct inode *inode, struct file *file);
int rsvm_vcpu_mmap(struct file *file, struct vm_area_struct *vma);
u64 __rsvm_vmrun(u64 vmcb_pa, u64 host_save_pa, u64 *gprs);
int rsvm_pci_probe(struct pci_dev *pdev);
void rsvm_pci_remove(struct pci_dev *pdev);
bool rsvm_amdvi_poll(void);

/* shim.c */
int rsvm_shim_misc_register(void);
void rsvm_shim_misc_deregister(void);
void rsvm_shim_preempt_disable(void);
void rsvm_shim_preempt_enable(void);
unsigned long rsvm_shim_host_dr7(void);
unsigned long rsvm_shim_irq_save(void);
void rsvm_shim_irq_restore(unsigned long flags);
int rsvm_shim_rdmsr(u32 msr, u64 *val);
int rsvm_shim_wrmsr(u32 msr, u64 val);
void rsvm_shim_cpuid(u32 leaf, u32 subleaf, u32 out[4]);
unsigned long rsvm_shim_read_cr4(void);
unsigned long rsvm_shim_alloc_pages(unsigned int order);
phys_addr_t rsvm_shim_virt_to_phys(unsigned long va);
unsigned long rsvm_shim_phys_to_virt(phys_addr_t pa);
int rsvm_shim_anon_fd(int kind, void *priv);
int rsvm_shim_mmap_pages(struct vm_area_struct *vma, unsigned long *vas, unsigned int n);
phys_addr_t rsvm_shim_page_to_phys(struct page *page);
unsigned long rsvm_shim_page_address(struct page *page);
int rsvm_shim_access_ok(unsigned long addr, unsigned long size);
void rsvm_shim_resched_before_entry(void);
void rsvm_shim_sigset_activate(const u64 *mask);
void rsvm_shim_sigset_deactivate(void);
void rsvm_shim_fpu_begin(void);
int rsvm_shim_waitq_wait(struct rcuwait *w, atomic_t *flag);
void rsvm_shim_kick_cpu_async(unsigned int cpu);
void rsvm_shim_evt_poll_start(void);
void rsvm_shim_evt_poll_stop(void);
int rsvm_shim_evt_ratelimit(void);

/* pcidrv.c */
int rsvm_shim_pci_register(void);
void rsvm_shim_pci_unregister(void);
void rsvm_shim_pci_ids(struct pci_dev *pdev, u16 *segment, u16 *devid);
int rsvm_shim_pci_msi_msg(struct pci_dev *pdev, u32 *address_lo, u32 *address_hi, u32 *data);
void rsvm_amdvi_irqs_moved(void);
void rsvm_shim_irqs_moved_schedule(void);
void rsvm_shim_irqs_moved_cancel(void);
void rsvm_shim_raw_spin_lock_init(raw_spinlock_t *lock);
unsigned long rsvm_shim_raw_spin_lock_irqsave(raw_spinlock_t *lock);
void rsvm_shim_raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags);
struct mm_struct;
int rsvm_shim_pinned_vm_charge(struct mm_struct *mm, unsigned long npages);
void rsvm_shim_pinned_vm_uncharge(struct mm_struct *mm, unsigned long npages);

/* switch.c */
void rsvm_shim_tsc_aux_load(u64 guest);
void rsvm_shim_after_vmexit(u64 exit_code);
void rsvm_shim_tsc_aux_drop(void);
#endif
