//! The virtio-mmio transport (virtio 1.2, 4.2.2, version 2 "modern" registers) for the
//! block device: registers, feature negotiation, the one queue (virtio-queue's split
//! `Queue`), and the interrupt (an IOAPIC pin, pulsed when the used ring gets entries).
//!
//! There is no ioeventfd on rsvm: a QueueNotify write is an MMIO exit, and the requests are
//! served on that vCPU thread before it re-enters the guest.

use crate::bus::BusDevice;
use crate::ioapic::IrqLine;
use crate::virtio_blk::{Block, QUEUE_SIZE};
use std::sync::Arc;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_bindings::virtio_mmio::*;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;

#[derive(Debug, thiserror::Error)]
pub enum VirtioMmioError {
    #[error("virtio queue: {0}")]
    Queue(virtio_queue::Error),
}

const MAGIC: u32 = 0x7472_6976; // "virt"
const VENDOR: u32 = 0x4d56_5352; // "RSVM"

pub struct VirtioMmioBlock {
    blk: Block,
    queue: Queue,
    mem: Arc<GuestMemoryMmap>,
    irq: IrqLine,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
    /// A broken request chain or queue: reported once, then the device needs a reset.
    failed: bool,
}

fn le32(data: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(data) {
        *d = *s;
    }
    u32::from_le_bytes(b)
}

impl VirtioMmioBlock {
    pub fn new(blk: Block, mem: Arc<GuestMemoryMmap>, irq: IrqLine) -> Result<Self, VirtioMmioError> {
        let queue = Queue::new(QUEUE_SIZE).map_err(VirtioMmioError::Queue)?;
        Ok(Self {
            blk,
            queue,
            mem,
            irq,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
            failed: false,
        })
    }

    fn reset(&mut self) {
        self.queue.reset();
        self.status = 0;
        self.driver_features = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.failed = false;
    }

    pub fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            let cfg = self.blk.config();
            let start = (offset - u64::from(VIRTIO_MMIO_CONFIG)) as usize;
            for (i, d) in data.iter_mut().enumerate() {
                *d = cfg.get(start + i).copied().unwrap_or(0);
            }
            return;
        }
        let q0 = self.queue_sel == 0;
        let v: u32 = match offset as u32 {
            VIRTIO_MMIO_MAGIC_VALUE => MAGIC,
            VIRTIO_MMIO_VERSION => 2,
            VIRTIO_MMIO_DEVICE_ID => VIRTIO_ID_BLOCK,
            VIRTIO_MMIO_VENDOR_ID => VENDOR,
            VIRTIO_MMIO_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.blk.features() as u32,
                1 => (self.blk.features() >> 32) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX if q0 => u32::from(self.queue.max_size()),
            VIRTIO_MMIO_QUEUE_READY => u32::from(q0 && self.queue.ready()),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.interrupt_status,
            VIRTIO_MMIO_STATUS => self.status,
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
            return; // the block config space is read-only here (no WCE)
        }
        let v = le32(data);
        let q0 = self.queue_sel == 0;
        match offset as u32 {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.device_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            VIRTIO_MMIO_DRIVER_FEATURES => {
                let offered = self.blk.features();
                match self.driver_features_sel {
                    0 => self.driver_features = (self.driver_features & !0xffff_ffff) | (u64::from(v) & offered),
                    1 => self.driver_features = (self.driver_features & 0xffff_ffff) | ((u64::from(v) << 32) & offered),
                    _ => {}
                }
            }
            VIRTIO_MMIO_QUEUE_SEL => self.queue_sel = v,
            VIRTIO_MMIO_QUEUE_NUM if q0 => self.queue.set_size(v as u16),
            VIRTIO_MMIO_QUEUE_READY if q0 => self.queue.set_ready(v == 1),
            VIRTIO_MMIO_QUEUE_DESC_LOW if q0 => self.queue.set_desc_table_address(Some(v), None),
            VIRTIO_MMIO_QUEUE_DESC_HIGH if q0 => self.queue.set_desc_table_address(None, Some(v)),
            VIRTIO_MMIO_QUEUE_AVAIL_LOW if q0 => self.queue.set_avail_ring_address(Some(v), None),
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH if q0 => self.queue.set_avail_ring_address(None, Some(v)),
            VIRTIO_MMIO_QUEUE_USED_LOW if q0 => self.queue.set_used_ring_address(Some(v), None),
            VIRTIO_MMIO_QUEUE_USED_HIGH if q0 => self.queue.set_used_ring_address(None, Some(v)),
            VIRTIO_MMIO_QUEUE_NOTIFY if v == 0 => self.process_queue(),
            VIRTIO_MMIO_INTERRUPT_ACK => self.interrupt_status &= !v,
            VIRTIO_MMIO_STATUS => {
                if v == 0 {
                    self.reset();
                } else {
                    // FEATURES_OK only if the driver took VERSION_1 (we are a modern device).
                    let mut s = v;
                    if s & VIRTIO_CONFIG_S_FEATURES_OK != 0 && self.driver_features & (1 << VIRTIO_F_VERSION_1) == 0 {
                        s &= !VIRTIO_CONFIG_S_FEATURES_OK;
                    }
                    self.status = s;
                }
            }
            _ => {}
        }
    }

    fn driver_ok(&self) -> bool {
        self.status & VIRTIO_CONFIG_S_DRIVER_OK != 0 && self.status & VIRTIO_CONFIG_S_FAILED == 0
    }

    /// Serves every available request, then interrupts the guest if it wants to be told.
    pub fn process_queue(&mut self) {
        if self.failed || !self.driver_ok() || !self.queue.ready() {
            return;
        }
        let mem = self.mem.clone();
        let mem = &*mem;
        if !self.queue.is_valid(mem) {
            self.fail("the queue addresses are outside guest memory");
            return;
        }
        let mut used_any = false;
        loop {
            if self.queue.disable_notification(mem).is_err() {
                self.fail("cannot write the used ring");
                return;
            }
            while let Some(chain) = self.queue.pop_descriptor_chain(mem) {
                let head = chain.head_index();
                let len = match Block::parse(mem, chain) {
                    Ok(req) => self.blk.execute(mem, &req),
                    Err(e) => {
                        log::warn!("virtio-blk: bad request: {e}");
                        0
                    }
                };
                if self.queue.add_used(mem, head, len).is_err() {
                    self.fail("cannot add to the used ring");
                    return;
                }
                used_any = true;
            }
            // Requests that arrived while notifications were off are seen on the next turn.
            match self.queue.enable_notification(mem) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => {
                    self.fail("cannot write the used ring");
                    return;
                }
            }
        }
        if used_any && self.queue.needs_notification(mem).unwrap_or(true) {
            self.interrupt_status |= VIRTIO_MMIO_INT_VRING;
            self.irq.pulse();
        }
    }

    fn fail(&mut self, why: &str) {
        log::error!("virtio-blk: {why}; the device stops until the guest resets it");
        self.failed = true;
        self.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        self.interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
        self.irq.pulse();
    }
}

/// On the MMIO bus at VIRTIO_MMIO_BASE (layout.rs), VIRTIO_MMIO_SIZE bytes: any access size.
impl BusDevice for VirtioMmioBlock {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) -> bool {
        VirtioMmioBlock::read(self, offset, data);
        true
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> bool {
        VirtioMmioBlock::write(self, offset, data);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioapic::tests::Recorder;
    use crate::ioapic::Ioapic;
    use std::sync::Mutex;
    use virtio_bindings::virtio_blk::{VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN};
    use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
    use vm_memory::{Bytes, GuestAddress};

    const DESC: u64 = 0x1000;
    const AVAIL: u64 = 0x2000;
    const USED: u64 = 0x3000;

    fn w32(d: &mut VirtioMmioBlock, reg: u32, v: u32) {
        d.write(u64::from(reg), &v.to_le_bytes());
    }
    fn r32(d: &mut VirtioMmioBlock, reg: u32) -> u32 {
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
        let blk = Block::open(&path, false).unwrap();
        let mut d = VirtioMmioBlock::new(blk, mem.clone(), IrqLine { ioapic, pin: 5 }).unwrap();

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
        assert_eq!(mem.read_obj::<u16>(GuestAddress(USED + 2)).unwrap(), 1, "used idx");
        assert_eq!(mem.read_obj::<u32>(GuestAddress(USED + 4)).unwrap(), 0, "used id: head 0");
        assert_eq!(mem.read_obj::<u32>(GuestAddress(USED + 8)).unwrap(), 513, "used len");
        assert_eq!(u32::from(mem.read_obj::<u8>(GuestAddress(0x6000)).unwrap()), VIRTIO_BLK_S_OK);
        assert_eq!(mem.read_obj::<u8>(GuestAddress(0x51ff)).unwrap(), 0x3c);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
        assert_eq!(*rec.0.lock().unwrap(), vec![(0xfee0_0000, 0x25)], "one MSI for IRQ 5");
        w32(&mut d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
        assert_eq!(r32(&mut d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        // A notify with nothing new: no interrupt.
        w32(&mut d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        assert_eq!(rec.0.lock().unwrap().len(), 1);
        // Reset.
        w32(&mut d, VIRTIO_MMIO_STATUS, 0);
        assert_eq!((r32(&mut d, VIRTIO_MMIO_STATUS), r32(&mut d, VIRTIO_MMIO_QUEUE_READY)), (0, 0));
        std::fs::remove_file(path).unwrap();
    }
}
