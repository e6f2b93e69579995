//! The virtio-mmio transport (virtio 1.2, 4.2.2, version 2 "modern" registers), generic
//! over the device behind it: registers, feature negotiation, the queues' configuration
//! (virtio-queue's split `Queue`), status, and the hand-off of QueueNotify to the device's
//! eventfd on the I/O thread (virtio/mod.rs).

use super::{Interrupt, VirtioDevice};
use crate::bus::BusDevice;
use crate::ioapic::IrqLine;
use std::sync::{Arc, Mutex};
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

#[derive(Debug, thiserror::Error)]
pub enum VirtioMmioError {
    #[error("virtio queue: {0}")]
    Queue(virtio_queue::Error),
}

const MAGIC: u32 = 0x7472_6976; // "virt"
const VENDOR: u32 = 0x4d56_5352; // "RSVM"

pub struct MmioTransport {
    dev: Arc<Mutex<dyn VirtioDevice>>,
    device_type: u32,
    features: u64,
    /// The queues as the driver configures them; copied to the device at DRIVER_OK.
    queues: Vec<Queue>,
    /// One per queue: written on QueueNotify, read by the device on the I/O thread.
    notify: Vec<EventFd>,
    mem: Arc<GuestMemoryMmap>,
    irq: Arc<Interrupt>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    activated: bool,
}

fn le32(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(data) {
        *d = *s;
    }
    u32::from_le_bytes(b)
}

impl MmioTransport {
    /// `notify`: the device's queue eventfds (clones), one per queue.
    pub fn new(dev: Arc<Mutex<dyn VirtioDevice>>, notify: Vec<EventFd>, mem: Arc<GuestMemoryMmap>, line: IrqLine) -> Result<Self, VirtioMmioError> {
        let (device_type, features, sizes) = {
            let d = dev.lock().unwrap_or_else(|e| e.into_inner());
            (d.device_type(), d.features(), d.queue_max_sizes().to_vec())
        };
        let queues = sizes.iter().map(|&n| Queue::new(n)).collect::<Result<Vec<_>, _>>().map_err(VirtioMmioError::Queue)?;
        Ok(Self {
            dev,
            device_type,
            features,
            queues,
            notify,
            mem,
            irq: Arc::new(Interrupt::new(line)),
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            activated: false,
        })
    }

    fn device(&self) -> std::sync::MutexGuard<'_, dyn VirtioDevice + 'static> {
        self.dev.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reset(&mut self) {
        if self.activated {
            self.device().reset();
            self.activated = false;
        }
        for q in &mut self.queues {
            q.reset();
        }
        self.irq.reset();
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
    }

    fn selected(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    pub fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            self.device().read_config(offset - u64::from(VIRTIO_MMIO_CONFIG), data);
            return;
        }
        let v: u32 = match offset as u32 {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => 2,
            VIRTIO_MMIO_DEVICE_ID => self.device_type,
            VIRTIO_MMIO_VENDOR_ID => VENDOR,
            VIRTIO_MMIO_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.features as u32,
                1 => (self.features >> 32) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX => self.selected().map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => self.selected().map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.irq.status(),
            VIRTIO_MMIO_STATUS => {
                if self.irq.needs_reset() { self.status | VIRTIO_CONFIG_S_NEEDS_RESET } else { self.status }
            }
            VIRTIO_MMIO_CONFIG_GENERATION => 0,
            _ => 0,
        };
        let b = v.to_le_bytes();
        for (i, d) in data.iter_mut().enumerate() {
            *d = b.get(i).copied().unwrap_or(0);
        }
    }

    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            return; // the devices' config spaces are read-only here
        }
        let v = le32(data);
        // Queue setup is only allowed before the device runs (virtio 1.2, 4.2.2.3.2).
        let setup = !self.activated;
        match offset as u32 {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES => {
                let offered = self.features;
                match self.driver_features_sel {
                    0 => self.driver_features = (self.driver_features & !0xffff_ffff) | (u64::from(v) & offered),
                    1 => self.driver_features = (self.driver_features & 0xffff_ffff) | ((u64::from(v) << 32) & offered),
                    _ => {}
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => self.queue_sel = v,
            VIRTIO_MMIO_QUEUE_NUM if setup => { if let Some(q) = self.selected() { q.set_size(v as u16) } }
            VIRTIO_MMIO_QUEUE_READY if setup => { if let Some(q) = self.selected() { q.set_ready(v == 1) } }
            VIRTIO_MMIO_QUEUE_DESC_LOW if setup => { if let Some(q) = self.selected() { q.set_desc_table_address(Some(v), None) } }
            VIRTIO_MMIO_QUEUE_DESC_HIGH if setup => { if let Some(q) = self.selected() { q.set_desc_table_address(None, Some(v)) } }
            VIRTIO_MMIO_QUEUE_AVAIL_LOW if setup => { if let Some(q) = self.selected() { q.set_avail_ring_address(Some(v), None) } }
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH if setup => { if let Some(q) = self.selected() { q.set_avail_ring_address(None, Some(v)) } }
            VIRTIO_MMIO_QUEUE_USED_LOW if setup => { if let Some(q) = self.selected() { q.set_used_ring_address(Some(v), None) } }
            VIRTIO_MMIO_QUEUE_USED_HIGH if setup => { if let Some(q) = self.selected() { q.set_used_ring_address(None, Some(v)) } }
            VIRTIO_MMIO_QUEUE_NOTIFY => {
                // The hand-off: the device's I/O thread serves the queue; this vCPU goes on.
                if let Some(e) = self.notify.get(v as usize).filter(|_| self.activated) {
                    if let Err(err) = e.write(1) {
                        log::error!("virtio-mmio: queue {v} notify eventfd: {err}");
                    }
                }
            }
            VIRTIO_MMIO_INTERRUPT_ACK => self.irq.ack(v),
            VIRTIO_MMIO_STATUS => {
                if v == 0 {
                    self.reset();
                    return;
                }
                // FEATURES_OK only if the driver took VERSION_1 (we are a modern device).
                let mut s = v;
                if s & VIRTIO_CONFIG_S_FEATURES_OK != 0 && self.driver_features & (1 << VIRTIO_F_VERSION_1) == 0 {
                    s &= !VIRTIO_CONFIG_S_FEATURES_OK;
                }
                self.status = s;
                if !self.activated && s & VIRTIO_CONFIG_S_DRIVER_OK != 0 && s & VIRTIO_CONFIG_S_FAILED == 0 {
                    self.activate();
                }
            }
            _ => {}
        }
    }

    /// DRIVER_OK: the device gets its queues, unless one the driver made ready lies outside
    /// guest memory (then NEEDS_RESET, and nothing of the guest's is touched).
    fn activate(&mut self) {
        let mem = self.mem.clone();
        if self.queues.iter().any(|q| q.ready() && !q.is_valid(&*mem)) {
            log::warn!("virtio-mmio: a queue's rings are outside guest memory; the device stops until the guest resets it");
            self.irq.signal_needs_reset();
            return;
        }
        // The device gets its own copies; the transport keeps answering register reads.
        let queues: Result<Vec<Queue>, _> = self.queues.iter().map(|q| Queue::try_from(q.state())).collect();
        let queues = match queues {
            Ok(q) => q,
            Err(e) => {
                log::warn!("virtio-mmio: queue setup: {e}; the device stops until the guest resets it");
                self.irq.signal_needs_reset();
                return;
            }
        };
        let (features, irq) = (self.driver_features, self.irq.clone());
        self.device().activate(mem, features, queues, irq);
        self.activated = true;
    }
}

/// On the MMIO bus at its slot (layout::virtio_slot), VIRTIO_MMIO_SIZE bytes: any access size.
impl BusDevice for MmioTransport {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) -> bool {
        MmioTransport::read(self, offset, data);
        true
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> bool {
        MmioTransport::write(self, offset, data);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioapic::tests::Recorder;
    use crate::ioapic::Ioapic;
    use crate::virtio::blk::Block;
    use crate::virtio::block::BlockDevice;
    use event_manager::{EventManager, MutEventSubscriber, SubscriberOps};
    use virtio_bindings::virtio_blk::{VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN};
    use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
    use vm_memory::{Bytes, GuestAddress};

    const DESC: u64 = 0x1000;
    const AVAIL: u64 = 0x2000;
    const USED: u64 = 0x3000;

    fn w32(d: &mut MmioTransport, reg: u32, v: u32) {
        d.write(u64::from(reg), &v.to_le_bytes());
    }
    fn r32(d: &mut MmioTransport, reg: u32) -> u32 {
        let mut b = [0u8; 4];
        d.read(u64::from(reg), &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn negotiate_and_serve_a_read() {
        let path = std::env::temp_dir().join(format!("rsvm-vmm-mmio-{}", std::process::id()));
        std::fs::write(&path, [0x3cu8; 4096]).unwrap();
        let mem = Arc::new(GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap());
        let rec = Arc::new(Recorder::default());
        let ioapic = Arc::new(Mutex::new(Ioapic::new(1, rec.clone())));
        // Unmask pin 5, vector 0x25.
        {
            let mut io = ioapic.lock().unwrap();
            io.mmio_write(0, &0x1au32.to_le_bytes());
            io.mmio_write(0x10, &0x25u32.to_le_bytes());
        }
        let blk = BlockDevice::new(Block::open(&path, false).unwrap(), "vda".into()).unwrap();
        let notify = vec![blk.notify_fd().unwrap()];
        let blk = Arc::new(Mutex::new(blk));
        let mut d = MmioTransport::new(blk.clone(), notify, mem.clone(), IrqLine { ioapic, pin: 5 }).unwrap();
        // The I/O thread's loop, run by hand here.
        let mut io: EventManager<Arc<Mutex<dyn MutEventSubscriber + Send>>> = EventManager::new().unwrap();
        io.add_subscriber(blk.clone());

        assert_eq!(r32(&mut d, VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_VERSION), 2);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_DEVICE_ID), 2);
        w32(&mut d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_DEVICE_FEATURES), 1, "VERSION_1");
        w32(&mut d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        assert_ne!(r32(&mut d, VIRTIO_MMIO_DEVICE_FEATURES) & (1 << VIRTIO_BLK_F_FLUSH), 0);
        // Capacity: 8 sectors.
        assert_eq!(r32(&mut d, VIRTIO_MMIO_CONFIG), 8);
        // FEATURES_OK without VERSION_1 is refused.
        w32(&mut d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
        w32(&mut d, VIRTIO_MMIO_STATUS, 0);
        w32(&mut d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        w32(&mut d, VIRTIO_MMIO_DRIVER_FEATURES, 1);
        w32(&mut d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
        assert_ne!(r32(&mut d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        w32(&mut d, VIRTIO_MMIO_QUEUE_NUM, 8);
        w32(&mut d, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC as u32);
        w32(&mut d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
        w32(&mut d, VIRTIO_MMIO_QUEUE_USED_LOW, USED as u32);
        w32(&mut d, VIRTIO_MMIO_QUEUE_READY, 1);
        let st = r32(&mut d, VIRTIO_MMIO_STATUS);
        w32(&mut d, VIRTIO_MMIO_STATUS, st | VIRTIO_CONFIG_S_DRIVER_OK);

        // One request: header (IN, sector 2) -> 512-byte buffer -> status.
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&VIRTIO_BLK_T_IN.to_le_bytes());
        hdr[8..16].copy_from_slice(&2u64.to_le_bytes());
        mem.write_slice(&hdr, GuestAddress(0x4000)).unwrap();
        let desc = |i: u64, addr: u64, len: u32, flags: u16, next: u16| {
            let mut b = [0u8; 16];
            b[0..8].copy_from_slice(&addr.to_le_bytes());
            b[8..12].copy_from_slice(&len.to_le_bytes());
            b[12..14].copy_from_slice(&flags.to_le_bytes());
            b[14..16].copy_from_slice(&next.to_le_bytes());
            mem.write_slice(&b, GuestAddress(DESC + 16 * i)).unwrap();
        };
        let (n, w) = (VRING_DESC_F_NEXT as u16, VRING_DESC_F_WRITE as u16);
        desc(0, 0x4000, 16, n, 1);
        desc(1, 0x5000, 512, n | w, 2);
        desc(2, 0x6000, 1, w, 0);
        mem.write_obj(0u16, GuestAddress(AVAIL + 4)).unwrap(); // ring[0] = head 0
        mem.write_obj(1u16, GuestAddress(AVAIL + 2)).unwrap(); // avail idx
        mem.write_obj(0xffu8, GuestAddress(0x6000)).unwrap();

        w32(&mut d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        // Handed off: nothing is served on the notifying thread.
        assert_eq!(mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(), 0, "served on the vCPU thread");
        assert_eq!(io.run_with_timeout(1000).unwrap(), 1, "the notify eventfd woke the I/O loop");
        assert_eq!(mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(), 1, "used idx");
        assert_eq!(mem.read_obj::<u32>(GuestAddress(USED + 4)).unwrap(), 0, "used id: head 0");
        assert_eq!(mem.read_obj::<u32>(GuestAddress(USED + 8)).unwrap(), 513, "used len");
        assert_eq!(u32::from(mem.read_obj::<u8>(GuestAddress(0x6000)).unwrap()), VIRTIO_BLK_S_OK);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x51ff)).unwrap(), 0x3c);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
        assert_eq!(*rec.0.lock().unwrap(), vec![(0xfee0_0000, 0x25)], "one MSI for IRQ 5");
        w32(&mut d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        // A notify with nothing new: no interrupt. One for a queue that does not exist: nothing.
        w32(&mut d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        io.run_with_timeout(1000).unwrap();
        assert_eq!(rec.0.lock().unwrap().len(), 1);
        w32(&mut d, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
        assert_eq!(io.run_with_timeout(0).unwrap(), 0);
        let c = blk.lock().unwrap().counters().snapshot();
        assert_eq!(&c[..3], &[("requests", 1), ("read_bytes", 512), ("write_bytes", 0)]);
        // Reset.
        w32(&mut d, VIRTIO_MMIO_STATUS, 0);
        assert_eq!((r32(&mut d, VIRTIO_MMIO_STATUS), r32(&mut d, VIRTIO_MMIO_QUEUE_READY)), (0, 0));
        std::fs::remove_file(path).unwrap();
    }
}
