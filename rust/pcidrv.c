// SPDX-License-Identifier: GPL-2.0
/*
 * rsvm's PCI driver "rsvm", for device assignment (Documentation/amdvi.md, rust/iommu/amdvi/assign.rs).
 *
 * Why C: Linux 7.2's `kernel::pci` driver abstraction has no driver_override-only id entry
 * (VFIO's PCI_DRIVER_OVERRIDE_DEVICE_VFIO: bind *only* when the administrator names the
 * driver, never by id match), no pci_reset_function*, and ties the device to the probe/unbind
 * scopes (`Device<Bound>` with a lifetime), while an assigned device is used from VM ioctls
 * and the VM fd's release; its IRQ vector helpers are for device drivers owning the device.
 * The few lines here register the driver and wrap the static inline helpers; the logic
 * (what binding, assignment and release do) is in Rust.
 */
#include <linux/cpuhotplug.h>
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "shim.h"

static const struct pci_device_id rsvm_pci_ids[] = {
	/* Matches any device, but only through driver_override (as vfio-pci). */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};

static int rsvm_pci_probe_cb(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return rsvm_pci_probe(pdev);
}

static void rsvm_pci_remove_cb(struct pci_dev *pdev)
{
	rsvm_pci_remove(pdev);
}

static struct pci_driver rsvm_pci_driver = {
	.name = "rsvm",
	.id_table = rsvm_pci_ids,
	.probe = rsvm_pci_probe_cb,
	.remove = rsvm_pci_remove_cb,
	/* rsvm programs the device's DMA translation itself (its own AMD-Vi driver). */
	.driver_managed_dma = true,
};

/*
 * CPU hot-unplug moves an assigned device's host IRQ (vector and destination: fixup_irqs()
 * on the dying CPU rewrites the device's MSI message) even with IRQF_NOBALANCING, and the
 * device's interrupt remapping entry still holds the old message: its MSIs are aborted from
 * then on. A CPUHP_BP_PREPARE_DYN state's teardown runs on a control CPU after the CPU is
 * dead (kernel/cpu.c: BP states are torn down after takedown_cpu()), i.e. after the move;
 * it only queues a work item, which re-reads every assigned device's message and rewrites
 * its entry under the assignment mutex (assign.rs, rsvm_amdvi_irqs_moved) — outside the
 * hotplug lock, so nothing under that mutex (IRQ setup, resets) can deadlock with hotplug.
 */
static void rsvm_irqs_moved_fn(struct work_struct *w)
{
	rsvm_amdvi_irqs_moved();
}
static DECLARE_WORK(rsvm_irqs_moved_work, rsvm_irqs_moved_fn);
static int rsvm_cpuhp_state = -1;

static int rsvm_cpu_dead(unsigned int cpu)
{
	schedule_work(&rsvm_irqs_moved_work);
	return 0;
}

int rsvm_shim_pci_register(void)
{
	int r = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "rsvm/amdvi:irq-moved", NULL, rsvm_cpu_dead);

	if (r < 0)
		return r;
	rsvm_cpuhp_state = r;
	r = pci_register_driver(&rsvm_pci_driver);
	if (r) {
		cpuhp_remove_state_nocalls(rsvm_cpuhp_state);
		cancel_work_sync(&rsvm_irqs_moved_work);
	}
	return r;
}

void rsvm_shim_pci_unregister(void)
{
	pci_unregister_driver(&rsvm_pci_driver);
	cpuhp_remove_state_nocalls(rsvm_cpuhp_state);
	/* No work runs after this (the unit is withdrawn next). */
	cancel_work_sync(&rsvm_irqs_moved_work);
}

/* Segment and requester id (bus << 8 | devfn): pci_domain_nr() is static inline. */
void rsvm_shim_pci_ids(struct pci_dev *pdev, u16 *segment, u16 *devid)
{
	*segment = pci_domain_nr(pdev->bus);
	*devid = pci_dev_id(pdev);
}

/* BAR `bar`: start, length and whether it is a usable memory BAR (static inlines). */
int rsvm_shim_pci_bar(struct pci_dev *pdev, unsigned int bar, u64 *start, u64 *len)
{
	unsigned long flags;

	if (bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	flags = pci_resource_flags(pdev, bar);
	if (!(flags & IORESOURCE_MEM) || (flags & IORESOURCE_UNSET) || !pci_resource_len(pdev, bar))
		return -EINVAL;
	*start = pci_resource_start(pdev, bar);
	*len = pci_resource_len(pdev, bar);
	return 0;
}

static irqreturn_t rsvm_assigned_irq_thread(int irq, void *ctx)
{
	rsvm_assigned_irq(ctx);
	return IRQ_HANDLED;
}

/*
 * One MSI vector for the device, handled in a thread: delivery to the guest's APICs takes
 * the VM's vCPU-list mutex. `ctx` stays valid until rsvm_shim_pci_msi_disable().
 * IRQF_NOBALANCING: the message Linux programs (vector, destination) is copied into the
 * device's interrupt remapping entry (assign.rs); user space (irqbalance, smp_affinity)
 * must not move it behind rsvm's back. CPU hot-unplug still does (Documentation/amdvi.md).
 */
int rsvm_shim_pci_msi_enable(struct pci_dev *pdev, void *ctx)
{
	int r = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);

	if (r < 0)
		return r;
	r = request_threaded_irq(pci_irq_vector(pdev, 0), NULL, rsvm_assigned_irq_thread,
				 IRQF_ONESHOT | IRQF_NOBALANCING,
				 "rsvm-assigned", ctx);
	if (r)
		pci_free_irq_vectors(pdev);
	return r;
}

/* Waits for a running handler (free_irq) before the vectors go. */
void rsvm_shim_pci_msi_disable(struct pci_dev *pdev, void *ctx)
{
	free_irq(pci_irq_vector(pdev, 0), ctx);
	pci_free_irq_vectors(pdev);
}

/*
 * Who else uses a requester id (IVRS aliases, rust/iommu/amdvi/assign.rs): 0 no such PCI
 * function, 1 present without a driver, 2 present with a driver (the host's, unless it is
 * rsvm's; the caller knows its own). pci_get_domain_bus_and_slot() is not in the kernel
 * crate's PCI abstraction, which only hands out devices to their driver.
 */
int rsvm_shim_pci_holder(u16 segment, u16 devid)
{
	struct pci_dev *pdev = pci_get_domain_bus_and_slot(segment, devid >> 8, devid & 0xff);
	int r;

	if (!pdev)
		return 0;
	r = READ_ONCE(pdev->dev.driver) ? 2 : 1;
	pci_dev_put(pdev);
	return r;
}

/*
 * Whether the device's DMA can also arrive with a requester id other than its own on the PCI
 * side (behind a PCIe-to-PCI or PCI-X bridge, or a DMA-alias quirk): rsvm does not program
 * those DTEs, so it refuses to assign such a device (Documentation/amdvi.md, "Aliases").
 * pci_for_each_dma_alias() is not exported to modules; this is its walk, conservatively:
 * any quirk alias, or any bridge up to the root bus other than a PCIe root, upstream or
 * downstream port (which pass requester ids through), counts. (VMD-style pci_real_dma_dev
 * redirection is x86-VMD only and not handled.)
 */
int rsvm_shim_pci_has_dma_alias(struct pci_dev *pdev)
{
	struct pci_bus *bus;

	if (pdev->dma_alias_mask)
		return 1;
	for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent) {
		struct pci_dev *br = bus->self;

		if (!br)
			continue;
		if (br->dev_flags & PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT)
			return 0;
		if (!pci_is_pcie(br))
			return 1;
		switch (pci_pcie_type(br)) {
		case PCI_EXP_TYPE_ROOT_PORT:
		case PCI_EXP_TYPE_UPSTREAM:
		case PCI_EXP_TYPE_DOWNSTREAM:
			continue;
		case PCI_EXP_TYPE_PCI_BRIDGE:
			if (br->dev_flags & PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS)
				continue;
			return 1;
		default:
			return 1;
		}
	}
	return 0;
}

/*
 * INTx of an assigned device, level-triggered, as VFIO's INTx path with KVM's resamplefd
 * semantics inside the module (Documentation/amdvi.md, "INTx"). The line may be shared
 * (IRQF_SHARED), so the hard handler claims the interrupt only if the device asserts it
 * (PCI 2.3 Interrupt Status) and masks it at the device (command register Interrupt
 * Disable) until the guest EOIs the vector (rsvm_shim_intx_eoi); the thread delivers it
 * (delivery takes the VM's vCPU-list mutex). Why C: the mask state is shared with a hard-irq
 * handler and needs an irq-safe raw spinlock (pci_lock, taken inside it, is raw too), which
 * the kernel crate's SpinLock is not.
 *
 * `masked`: rsvm holds INTx disabled, waiting for the guest's EOI. `guest_disabled`: the
 * guest's own Interrupt Disable bit (virtualised: the device's bit is the OR of the two, so
 * the guest cannot unmask behind rsvm's back). Both only under `lock`, which also orders
 * every write of the command register while the handler is installed (pci_intx() and the
 * config accessors take only pci_lock, a raw spinlock: fine under it and in hard-irq context).
 */
struct rsvm_intx {
	struct pci_dev *pdev;
	void *ctx;
	raw_spinlock_t lock;
	bool masked;
	bool guest_disabled;
};

static irqreturn_t rsvm_intx_hard(int irq, void *data)
{
	struct rsvm_intx *x = data;
	irqreturn_t r = IRQ_NONE;
	unsigned long flags;

	raw_spin_lock_irqsave(&x->lock, flags);
	/*
	 * While masked (by rsvm or the guest) the device cannot be asserting the line: this
	 * interrupt is another device's on the shared line, even if our status bit is set.
	 */
	if (!x->masked && !x->guest_disabled && pci_check_and_mask_intx(x->pdev)) {
		x->masked = true;
		r = IRQ_WAKE_THREAD;
	}
	raw_spin_unlock_irqrestore(&x->lock, flags);
	return r;
}

static irqreturn_t rsvm_intx_thread(int irq, void *data)
{
	struct rsvm_intx *x = data;

	rsvm_assigned_irq(x->ctx);
	return IRQ_HANDLED;
}

/*
 * Installs the INTx handler for `ctx` (valid until rsvm_shim_intx_disable) and unmasks INTx
 * at the device unless the guest disabled it. -EINVAL: no interrupt pin, no host IRQ, or no
 * PCI 2.3 INTx masking (a shared line could not be quieted).
 */
int rsvm_shim_intx_enable(struct pci_dev *pdev, void *ctx, int guest_disabled, struct rsvm_intx **out)
{
	struct rsvm_intx *x;
	int r;

	if (!pdev->pin || !pdev->irq || pdev->irq == IRQ_NOTCONNECTED)
		return -EINVAL;
	if (!pci_intx_mask_supported(pdev))
		return -EINVAL;
	/* Masked while the handler goes in. */
	pci_intx(pdev, 0);
	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->pdev = pdev;
	x->ctx = ctx;
	raw_spin_lock_init(&x->lock);
	x->guest_disabled = guest_disabled;
	r = request_threaded_irq(pdev->irq, rsvm_intx_hard, rsvm_intx_thread, IRQF_SHARED, "rsvm-intx", x);
	if (r) {
		kfree(x);
		return r;
	}
	raw_spin_lock_irq(&x->lock);
	/* (A shared line's interrupt may have found ours pending and masked it meanwhile.) */
	if (!x->guest_disabled && !x->masked)
		pci_intx(pdev, 1);
	raw_spin_unlock_irq(&x->lock);
	*out = x;
	return 0;
}

/*
 * Leaves INTx disabled and frees the IRQ (waiting for a running handler and thread). Masked
 * first: an unmasked device asserting a shared line after free_irq would have no handler.
 */
void rsvm_shim_intx_disable(struct rsvm_intx *x)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&x->lock, flags);
	pci_intx(x->pdev, 0);
	raw_spin_unlock_irqrestore(&x->lock, flags);
	free_irq(x->pdev->irq, x);
	kfree(x);
}

/*
 * The guest EOIed the vector: rsvm's mask ends. Returns 1 if the device still asserts
 * INTx: it stays masked and the caller delivers the interrupt again (level semantics
 * without a round trip through the host IRQ), else 0.
 */
int rsvm_shim_intx_eoi(struct rsvm_intx *x)
{
	unsigned long flags;
	int again = 0;

	raw_spin_lock_irqsave(&x->lock, flags);
	if (x->masked) {
		if (x->guest_disabled)
			x->masked = false; /* the guest's bit keeps it masked */
		else if (pci_check_and_unmask_intx(x->pdev))
			x->masked = false;
		else
			again = 1;
	}
	raw_spin_unlock_irqrestore(&x->lock, flags);
	return again;
}

/*
 * A guest write of the command register: `cmd` with the guest's Interrupt Disable bit,
 * which is recorded; the device gets that bit ORed with rsvm's mask (always set when INTx
 * is not routed, `x` NULL). Under the lock: the hard handler may set the bit meanwhile.
 */
int rsvm_shim_intx_cmd_write(struct pci_dev *pdev, struct rsvm_intx *x, u16 cmd)
{
	unsigned long flags;
	int r;

	if (!x)
		return pcibios_err_to_errno(pci_write_config_word(pdev, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE));
	raw_spin_lock_irqsave(&x->lock, flags);
	x->guest_disabled = cmd & PCI_COMMAND_INTX_DISABLE;
	if (x->masked)
		cmd |= PCI_COMMAND_INTX_DISABLE;
	r = pci_write_config_word(pdev, PCI_COMMAND, cmd);
	raw_spin_unlock_irqrestore(&x->lock, flags);
	return pcibios_err_to_errno(r);
}

/*
 * The MSI message Linux programmed into the device for its vector 0 (the cached copy, what
 * the device sends), and that IRQ's number; -ENODEV if the device has no MSI vector.
 */
int rsvm_shim_pci_msi_msg(struct pci_dev *pdev, u32 *address_lo, u32 *address_hi, u32 *data)
{
	struct msi_msg msg = {};
	int irq = pci_irq_vector(pdev, 0);

	if (irq < 0)
		return irq;
	get_cached_msi_msg(irq, &msg);
	*address_lo = msg.address_lo;
	*address_hi = msg.address_hi;
	*data = msg.data;
	return irq;
}
