// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C glue for what Linux 7.2's `kernel` crate cannot express: macros, static inlines
 * without a Rust binding, and static tables that need THIS_MODULE. Each function says why
 * in one "Why C:" line; none holds policy. What the crate or its bindings offer (ARef<Mm>,
 * CpuId, signal_pending, GUP, smp_call_function_single, cpuhp states, rcuwait_wake_up,
 * eventfd, kernel_fpu_end, tsc_khz) Rust calls itself, in rust/ffi/.
 */
#include <linux/cpu.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/smp.h>
#include <linux/atomic.h>
#include <linux/anon_inodes.h>
#include <linux/ratelimit.h>
#include <linux/workqueue.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/uaccess.h>
#include <linux/rcuwait.h>
#include <asm/fpu/api.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/cpuid/api.h>
#include <asm/debugreg.h>
#include <linux/capability.h>
#include <linux/mm_types.h>
#include <linux/sched/mm.h>

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

/* Why C: the static miscdevice and its fops need THIS_MODULE (see above). */
int rsvm_shim_misc_register(void)
{
	return misc_register(&rsvm_misc);
}

/* Why C: pairs with rsvm_shim_misc_register (the miscdevice is static here). */
void rsvm_shim_misc_deregister(void)
{
	misc_deregister(&rsvm_misc);
}

/* Why C: preempt_disable() is a macro. */
void rsvm_shim_preempt_disable(void)
{
	preempt_disable();
}

/* Why C: preempt_enable() is a macro (with the reschedule check). */
void rsvm_shim_preempt_enable(void)
{
	preempt_enable();
}

/* Why C: local_irq_save() is a macro. */
unsigned long rsvm_shim_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

/* Why C: local_irq_restore() is a macro. */
void rsvm_shim_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

/* Why C: rdmsrq_safe() is a static inline (exception fixup, paravirt): a #GP is an error. */
int rsvm_shim_rdmsr(u32 msr, u64 *val)
{
	return rdmsrq_safe(msr, val);
}

/* Why C: wrmsrq_safe() is a static inline (exception fixup, paravirt): a #GP is an error. */
int rsvm_shim_wrmsr(u32 msr, u64 val)
{
	return wrmsrq_safe(msr, val);
}

/* Why C: cpuid_count() is a static inline (paravirt CPUID under Xen PV). */
void rsvm_shim_cpuid(u32 leaf, u32 subleaf, u32 out[4])
{
	cpuid_count(leaf, subleaf, &out[0], &out[1], &out[2], &out[3]);
}

/*
 * The DR7 the host kernel keeps loaded on this CPU (its hardware breakpoints: perf, ptrace).
 * Why C: cpu_dr7 is a per-CPU variable (this_cpu_read is a macro), hw_breakpoint_active() a
 * static inline, and hw_breakpoint_restore() is exported to KVM's own modules only.
 */
unsigned long rsvm_shim_host_dr7(void)
{
	return this_cpu_read(cpu_dr7);
}

/* Why C: __read_cr4() is a static inline (paravirt). */
unsigned long rsvm_shim_read_cr4(void)
{
	return __read_cr4();
}

/*
 * Physically contiguous, zeroed pages for hardware structures (VMCB, host save areas, IOPM,
 * MSRPM, NPT tables); kernel::page::Page is order-0 only and has no page_to_phys(). Rust
 * frees them with free_pages() and counts them (ffi::pages_held).
 * Why C: __get_free_pages() is a macro in 7.2 (alloc_hooks around get_free_pages_noprof).
 */
unsigned long rsvm_shim_alloc_pages(unsigned int order)
{
	return __get_free_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, order);
}

/* Why C: __pa() is a macro. */
phys_addr_t rsvm_shim_virt_to_phys(unsigned long va)
{
	return __pa(va);
}

/* Why C: __va() is a macro. */
unsigned long rsvm_shim_phys_to_virt(phys_addr_t pa)
{
	return (unsigned long)__va(pa);
}

/*
 * VM and vCPU file descriptors. The `kernel` crate has no anon-inode wrapper; these fops
 * carry .owner like /dev/rsvm's, so every VM or vCPU fd pins the module. The callbacks are
 * in Rust (vm.rs, vcpu/ioctl.rs); private_data is the Arc that anonfd.rs hands over.
 */
static const struct file_operations rsvm_vm_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= rsvm_vm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= rsvm_vm_release,
	.llseek		= noop_llseek,
};

static const struct file_operations rsvm_vcpu_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= rsvm_vcpu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= rsvm_vcpu_release,
	.mmap		= rsvm_vcpu_mmap,
	.llseek		= noop_llseek,
};

/* KVM_GET_STATS_FD's fd (stats.rs): read-only, read and pread at any offset. */
static const struct file_operations rsvm_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= rsvm_stats_read,
	.release	= rsvm_stats_release,
	.llseek		= noop_llseek,
};

/*
 * Why C: the static fops tables above need THIS_MODULE; anon_inode_getfd/getfile have no
 * binding. kind: 0 VM, 1 vCPU, 2 stats. The stats fd is made as KVM makes its own
 * (kvm_vcpu_ioctl_get_stats_fd()): O_RDONLY and FMODE_PREAD, which an anon file lacks, so
 * that pread() works on it.
 */
int rsvm_shim_anon_fd(int kind, void *priv)
{
	struct file *file;
	int fd;

	if (kind == 0)
		return anon_inode_getfd("rsvm-vm", &rsvm_vm_fops, priv, O_RDWR | O_CLOEXEC);
	if (kind == 1)
		return anon_inode_getfd("rsvm-vcpu", &rsvm_vcpu_fops, priv, O_RDWR | O_CLOEXEC);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile("rsvm-stats", &rsvm_stats_fops, priv, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	file->f_mode |= FMODE_PREAD;
	fd_install(fd, file);
	return fd;
}

/*
 * The vCPU mmap: kvm_run at page 0, the PIO data page at page 1 (KVM_PIO_PAGE_OFFSET), the
 * VM's coalesced-I/O ring at page 2 (KVM_COALESCED_MMIO_PAGE_OFFSET).
 * vm_insert_page() takes its own page references, so the pages outlive the vCPU if the
 * mapping does.
 * Why C: virt_to_page() and vm_flags_set() are macros/static inlines without a binding (the
 * pages are direct-map addresses from rsvm_shim_alloc_pages, not kernel::page::Page).
 */
int rsvm_shim_mmap_pages(struct vm_area_struct *vma, unsigned long *vas, unsigned int n)
{
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long i, first = vma->vm_pgoff;
	int r;

	if (first >= n || (len >> PAGE_SHIFT) > n - first)
		return -EINVAL;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < (len >> PAGE_SHIFT); i++) {
		r = vm_insert_page(vma, vma->vm_start + (i << PAGE_SHIFT),
				   virt_to_page((void *)vas[first + i]));
		if (r)
			return r;
	}
	return 0;
}

/* Why C: page_to_phys() is a macro. */
phys_addr_t rsvm_shim_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

/* Why C: page_address() is a macro (lowmem_page_address inline on x86_64). */
unsigned long rsvm_shim_page_address(struct page *page)
{
	return (unsigned long)page_address(page);
}

/* Why C: access_ok() is a macro. */
int rsvm_shim_access_ok(unsigned long addr, unsigned long size)
{
	return access_ok((void __user *)addr, size);
}

/*
 * Between two guest entries, as KVM's xfer_to_guest_mode_handle_work(): yield if the scheduler
 * asked, lazily or not. Under full or lazy preemption cond_resched() compiles to nothing, a
 * lazy request is honoured only on return to userspace or after the next tick, and a full one
 * only when the CPU took the resched IPI while preemption was off; a vCPU that keeps exiting
 * in the kernel (or whose IPI the emulator lost) then holds the CPU, and stop_machine() on
 * another CPU stalls (seen under the fuzzer). Reading the thread flags does not depend on any
 * of that.
 * Why C: read_thread_flags() and the _TIF_ masks are static inlines and macros.
 */
void rsvm_shim_resched_before_entry(void)
{
	if (read_thread_flags() & (_TIF_NEED_RESCHED | _TIF_NEED_RESCHED_LAZY))
		schedule();
}

/*
 * KVM_SET_SIGNAL_MASK semantics, as kvm_sigset_activate()/deactivate().
 * Why C: sigset_t and sigemptyset() (a static inline) on current->real_blocked.
 */
void rsvm_shim_sigset_activate(const u64 *mask)
{
	sigset_t set;

	set.sig[0] = *mask;
	sigprocmask(SIG_SETMASK, &set, &current->real_blocked);
}

/* Why C: see rsvm_shim_sigset_activate. */
void rsvm_shim_sigset_deactivate(void)
{
	sigprocmask(SIG_SETMASK, &current->real_blocked, NULL);
	sigemptyset(&current->real_blocked);
}

/* Why C: kernel_fpu_begin() is a static inline (kernel_fpu_begin_mask(KFPU_MXCSR), unbound). */
void rsvm_shim_fpu_begin(void)
{
	kernel_fpu_begin();
}

/*
 * A halted vCPU's sleep. The kernel crate's CondVar wants its lock held by the waker, and a
 * wait queue's spinlock may not be taken in hard-irq context, where the APIC timer's hrtimer
 * callback runs. rcuwait (one waiter: the vCPU thread) is what KVM uses for the same reason:
 * the waker sets the flag (an atomic_t owned by Rust, an AtomicI32) and calls
 * rcuwait_wake_up(), which takes no lock. 0 when woken by the flag, -EINTR on a signal.
 * Why C: rcuwait_wait_event() is a macro.
 */
int rsvm_shim_waitq_wait(struct rcuwait *w, atomic_t *flag)
{
	return rcuwait_wait_event(w, atomic_read(flag) != 0, TASK_INTERRUPTIBLE);
}

/*
 * Make a CPU in guest mode exit soon, without waiting (callable from hard-irq context, as
 * KVM's kvm_vcpu_kick): the reschedule IPI ends the guest's slice through the INTR
 * intercept, and the vCPU sees the new event before its next entry.
 * Why C: arch_smp_send_reschedule() and cpu_online() are static inlines without a binding.
 */
void rsvm_shim_kick_cpu_async(unsigned int cpu)
{
	if (cpu != raw_smp_processor_id() && cpu_online(cpu))
		arch_smp_send_reschedule(cpu);
}

/*
 * AMD-Vi event-log polling (rust/iommu/amdvi/evtlog.rs). The kernel crate's workqueue (7.2)
 * can queue delayed work but has no cancel: rmmod must know the work is neither pending nor
 * running before the module text goes, so the work item is a static delayed_work here and
 * the stop path is cancel_delayed_work_sync(), which also refuses the work's own re-queue
 * while it cancels. rsvm_amdvi_poll() (Rust) drains the log and says whether to come back.
 */
#define RSVM_EVT_POLL_MS 100

static void rsvm_evt_poll_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(rsvm_evt_poll, rsvm_evt_poll_fn);

static void rsvm_evt_poll_fn(struct work_struct *work)
{
	if (rsvm_amdvi_poll())
		schedule_delayed_work(&rsvm_evt_poll, msecs_to_jiffies(RSVM_EVT_POLL_MS));
}

/*
 * Idempotent: a pending poll stays as it is.
 * Why C: the static delayed work (DECLARE_DELAYED_WORK) and schedule_delayed_work (inline).
 */
void rsvm_shim_evt_poll_start(void)
{
	schedule_delayed_work(&rsvm_evt_poll, msecs_to_jiffies(RSVM_EVT_POLL_MS));
}

/* Why C: cancel_delayed_work_sync on the static work above. */
void rsvm_shim_evt_poll_stop(void)
{
	cancel_delayed_work_sync(&rsvm_evt_poll);
}

/*
 * The event log's messages share one ratelimit state, at most 10 per 5 s (a faulting device
 * can log thousands of events a second).
 * Why C: DEFINE_RATELIMIT_STATE (a static initialiser with a spinlock) and __ratelimit are
 * macros.
 */
static DEFINE_RATELIMIT_STATE(rsvm_evt_rs, 5 * HZ, 10);

int rsvm_shim_evt_ratelimit(void)
{
	return __ratelimit(&rsvm_evt_rs);
}

/*
 * Pinned guest memory is charged to the VMM's mm->pinned_vm (VmPin in /proc/PID/status) and
 * checked against RLIMIT_MEMLOCK unless the caller has CAP_IPC_LOCK, exactly as
 * ib_umem_get() charges the pages it pins (drivers/infiniband/core/umem.c). Called in the
 * VMM's context (the VM owner), which is whose limit and capability count.
 * Why C: rlimit() is a static inline, and the atomic64_t ops on mm->pinned_vm are inlines.
 */
int rsvm_shim_pinned_vm_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long lock_limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 new_pinned = atomic64_add_return(npages, &mm->pinned_vm);

	if (new_pinned > lock_limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

/* Why C: as rsvm_shim_pinned_vm_charge (any context: the mm is the owner's, held by mmgrab). */
void rsvm_shim_pinned_vm_uncharge(struct mm_struct *mm, unsigned long npages)
{
	atomic64_sub(npages, &mm->pinned_vm);
}
