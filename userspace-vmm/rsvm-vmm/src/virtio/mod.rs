//! virtio devices on the virtio-mmio transport, served on the I/O thread.
//!
//! Split as Firecracker and Cloud Hypervisor split it: the transport ([`mmio`]) owns the
//! registers and runs on the vCPU thread that accessed them; a device ([`VirtioDevice`])
//! gets its queues when the driver sets DRIVER_OK and from then on runs on the I/O thread
//! (an `event-manager` subscriber), woken by one eventfd per queue that the transport writes
//! on a QueueNotify exit. The module has no ioeventfd yet, so that write is the hand-off: the
//! vCPU returns to the guest at once. Interrupts go back through [`Interrupt`]: the status
//! bits are atomic, so neither side ever waits for the other's lock.

pub mod blk;
pub mod block;
pub mod mmio;
pub mod net;

use crate::ioapic::IrqLine;
use event_manager::MutEventSubscriber;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use virtio_bindings::virtio_mmio::{VIRTIO_MMIO_INT_CONFIG, VIRTIO_MMIO_INT_VRING};
use virtio_queue::Queue;
use vm_memory::GuestMemoryMmap;

/// What the transport needs from a device. The device is also the I/O thread's subscriber
/// for its queue eventfds (and its backend's fds).
pub trait VirtioDevice: MutEventSubscriber + Send {
    /// VIRTIO_ID_*.
    fn device_type(&self) -> u32;
    /// Feature bits offered (VIRTIO_F_VERSION_1 included).
    fn features(&self) -> u64;
    /// Largest size of each queue (the number of queues is the length).
    fn queue_max_sizes(&self) -> &[u16];
    /// The device configuration space at `offset`; bytes beyond it read 0.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// DRIVER_OK: the device takes the negotiated features and the queues and starts.
    fn activate(&mut self, mem: Arc<GuestMemoryMmap>, features: u64, queues: Vec<Queue>, irq: Arc<Interrupt>);
    /// The driver reset the device: it drops its queues and stops using guest memory.
    fn reset(&mut self);
    /// Per-device counters, shared with the control socket.
    fn counters(&self) -> Arc<Counters>;
}

/// The device's interrupt: the InterruptStatus bits and the IOAPIC pin they are pulsed on.
pub struct Interrupt {
    status: AtomicU32,
    /// Set by a device that gave up on its queues (VIRTIO_CONFIG_S_NEEDS_RESET in Status).
    needs_reset: AtomicBool,
    line: IrqLine,
}

impl Interrupt {
    pub fn new(line: IrqLine) -> Self {
        Self { status: AtomicU32::new(0), needs_reset: AtomicBool::new(false), line }
    }

    /// The used ring has new entries.
    pub fn signal_used(&self) {
        self.status.fetch_or(VIRTIO_MMIO_INT_VRING, Ordering::SeqCst);
        self.line.pulse();
    }

    /// The device broke (a queue it cannot use): NEEDS_RESET, with a configuration interrupt.
    pub fn signal_needs_reset(&self) {
        self.needs_reset.store(true, Ordering::SeqCst);
        self.status.fetch_or(VIRTIO_MMIO_INT_CONFIG, Ordering::SeqCst);
        self.line.pulse();
    }

    pub fn status(&self) -> u32 {
        self.status.load(Ordering::SeqCst)
    }

    pub fn ack(&self, bits: u32) {
        self.status.fetch_and(!bits, Ordering::SeqCst);
    }

    pub fn needs_reset(&self) -> bool {
        self.needs_reset.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.status.store(0, Ordering::SeqCst);
        self.needs_reset.store(false, Ordering::SeqCst);
    }
}

/// Named counters of one device (requests, bytes, errors...), read by the control socket's
/// stats without taking the device's lock.
pub struct Counters {
    pub device: String,
    names: &'static [&'static str],
    values: Vec<AtomicU64>,
}

impl Counters {
    pub fn new(device: String, names: &'static [&'static str]) -> Self {
        Self { device, names, values: names.iter().map(|_| AtomicU64::new(0)).collect() }
    }

    /// Adds `n` to counter `i` (an index into the names; others are ignored).
    pub fn add(&self, i: usize, n: u64) {
        if let Some(v) = self.values.get(i) {
            v.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// (name, value) pairs.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        self.names.iter().zip(&self.values).map(|(n, v)| (*n, v.load(Ordering::Relaxed))).collect()
    }
}
