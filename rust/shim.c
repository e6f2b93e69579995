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
#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/eventfd.h>
#include <linux/ratelimit.h>
#include <linux/workqueue.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/uaccess.h>
#include <linux/rcuwait.h>
#include <linux/slab.h>
#include <asm/tsc.h>
#include <asm/fpu/api.h>
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


/*
 * VM and vCPU file descriptors. The `kernel` crate has no anon-inode wrapper; these fops
 * carry .owner like /dev/rsvm's, so every VM or vCPU fd pins the module. The callbacks are
 * in Rust (vm.rs, vcpu.rs); private_data is the Arc handed to rsvm_shim_anon_fd().
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

int rsvm_shim_anon_fd(int vcpu, void *priv)
{
	return anon_inode_getfd(vcpu ? "rsvm-vcpu" : "rsvm-vm",
				vcpu ? &rsvm_vcpu_fops : &rsvm_vm_fops, priv, O_RDWR | O_CLOEXEC);
}

void *rsvm_shim_file_private(struct file *file)
{
	return file->private_data;
}

/*
 * The vCPU mmap: kvm_run at page 0, the PIO data page at page 1 (KVM_PIO_PAGE_OFFSET).
 * vm_insert_page() takes its own page references, so the pages outlive the vCPU if the
 * mapping does.
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

/* The calling process's mm, held (mmgrab) so that comparing it later is meaningful. */
struct mm_struct *rsvm_shim_current_mm_grab(void)
{
	struct mm_struct *mm = current->mm;

	if (mm)
		mmgrab(mm);
	return mm;
}

int rsvm_shim_is_current_mm(struct mm_struct *mm)
{
	return current->mm == mm;
}

void rsvm_shim_mmdrop(struct mm_struct *mm)
{
	mmdrop(mm);
}

/*
 * Guest memory is pinned (FOLL_LONGTERM) for as long as a memslot maps it: see
 * Documentation/design.md. The count of pinned pages is exposed for leak tests.
 */
static atomic_long_t rsvm_pinned_pages = ATOMIC_LONG_INIT(0);

long rsvm_shim_pin_user_pages(unsigned long start, unsigned long nr, int write, struct page **pages)
{
	long r = pin_user_pages_fast(start, nr, FOLL_LONGTERM | (write ? FOLL_WRITE : 0), pages);

	if (r > 0)
		atomic_long_add(r, &rsvm_pinned_pages);
	return r;
}

/*
 * Unpins n pages at once: unpin_user_pages_dirty_lock() drops the references of the pages
 * of one folio together (a THP's 512 pages in one atomic operation), where unpinning page by
 * page costs 512. (An inline-heavy GUP API: no Rust binding.)
 */
void rsvm_shim_unpin_user_pages(struct page **pages, unsigned long n, int dirty)
{
	unpin_user_pages_dirty_lock(pages, n, dirty);
	atomic_long_sub(n, &rsvm_pinned_pages);
}

long rsvm_shim_pinned_pages(void)
{
	return atomic_long_read(&rsvm_pinned_pages);
}

phys_addr_t rsvm_shim_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

unsigned long rsvm_shim_page_address(struct page *page)
{
	return (unsigned long)page_address(page);
}

int rsvm_shim_access_ok(unsigned long addr, unsigned long size)
{
	return access_ok((void __user *)addr, size);
}

/* Signals and scheduling for the run loop. */
int rsvm_shim_signal_pending(void)
{
	return signal_pending(current);
}

void rsvm_shim_cond_resched(void)
{
	cond_resched();
}

/* KVM_SET_SIGNAL_MASK semantics, as kvm_sigset_activate()/deactivate(). */
void rsvm_shim_sigset_activate(const u64 *mask)
{
	sigset_t set;

	set.sig[0] = *mask;
	sigprocmask(SIG_SETMASK, &set, &current->real_blocked);
}

void rsvm_shim_sigset_deactivate(void)
{
	sigprocmask(SIG_SETMASK, &current->real_blocked, NULL);
	sigemptyset(&current->real_blocked);
}

/*
 * Make a CPU leave guest mode: the IPI ends the guest's slice through the INTR intercept,
 * and with wait=1 we return only after the target ran the handler, i.e. after its #VMEXIT.
 */
static void rsvm_kick_fn(void *info)
{
}

void rsvm_shim_kick_cpu(unsigned int cpu)
{
	smp_call_function_single(cpu, rsvm_kick_fn, NULL, 1);
}

/* FPU ownership for the guest's XSAVE state (kvm's fpu_swap_kvm_fpstate is KVM-only). */
void rsvm_shim_fpu_begin(void)
{
	kernel_fpu_begin();
}

void rsvm_shim_fpu_end(void)
{
	kernel_fpu_end();
}

unsigned long long rsvm_shim_rdtsc(void)
{
	return rdtsc();
}

/*
 * A halted vCPU's sleep. The kernel crate's CondVar wants its lock held by the waker, and a
 * wait queue's spinlock may not be taken in hard-irq context, where the APIC timer's hrtimer
 * callback runs. rcuwait (one waiter: the vCPU thread) is what KVM uses for the same reason:
 * the waker sets the flag (an atomic_t owned by Rust, an AtomicI32) and calls
 * rcuwait_wake_up(), which takes no lock.
 */
void *rsvm_shim_waitq_new(void)
{
	struct rcuwait *w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);

	if (w)
		rcuwait_init(w);
	return w;
}

void rsvm_shim_waitq_free(void *w)
{
	kfree(w);
}

/* 0 when woken by the flag, -EINTR on a signal. */
int rsvm_shim_waitq_wait(void *w, atomic_t *flag)
{
	return rcuwait_wait_event((struct rcuwait *)w, atomic_read(flag) != 0, TASK_INTERRUPTIBLE);
}

void rsvm_shim_waitq_wake(void *w)
{
	rcuwait_wake_up((struct rcuwait *)w);
}

/*
 * Make a CPU in guest mode exit soon, without waiting (callable from hard-irq context, as
 * KVM's kvm_vcpu_kick): the reschedule IPI ends the guest's slice through the INTR
 * intercept, and the vCPU sees the new event before its next entry.
 */
void rsvm_shim_kick_cpu_async(unsigned int cpu)
{
	if (cpu != raw_smp_processor_id() && cpu_online(cpu))
		arch_smp_send_reschedule(cpu);
}

/* The host TSC frequency (KVM_GET_TSC_KHZ). */
unsigned int rsvm_shim_tsc_khz(void)
{
	return tsc_khz;
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

/* Idempotent: a pending poll stays as it is. */
void rsvm_shim_evt_poll_start(void)
{
	schedule_delayed_work(&rsvm_evt_poll, msecs_to_jiffies(RSVM_EVT_POLL_MS));
}

void rsvm_shim_evt_poll_stop(void)
{
	cancel_delayed_work_sync(&rsvm_evt_poll);
}

/*
 * printk_ratelimited() is a C macro: the event log's messages share one ratelimit state,
 * at most 10 per 5 s (a faulting device can log thousands of events a second).
 */
static DEFINE_RATELIMIT_STATE(rsvm_evt_rs, 5 * HZ, 10);

int rsvm_shim_evt_ratelimit(void)
{
	return __ratelimit(&rsvm_evt_rs);
}

/*
 * eventfd, for RSVM_DEVICE_EVENTFD: the kernel crate has no abstraction. A context reference
 * (eventfd_ctx_fdget: -EBADF for no file, -EINVAL for a file that is not an eventfd),
 * signalled per event record filed, dropped with eventfd_ctx_put.
 */
int rsvm_shim_eventfd_get(int fd, void **ctx)
{
	struct eventfd_ctx *c = eventfd_ctx_fdget(fd);

	if (IS_ERR(c))
		return PTR_ERR(c);
	*ctx = c;
	return 0;
}

void rsvm_shim_eventfd_signal(void *ctx)
{
	eventfd_signal(ctx);
}

void rsvm_shim_eventfd_put(void *ctx)
{
	eventfd_ctx_put(ctx);
}
