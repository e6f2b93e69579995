//! The virtio-mmio transport (virtio 1.2, 4.2.2, version 2 "modern" registers) for the
//! block device: registers, feature negotiation, the one queue (virtio-queue's split
//! `Queue`), and the interrupt (an IOAPIC pin, pulsed when the used ring gets entries).
//!
//! There is no ioeventfd on rsvm: a QueueNotify write is an MMIO exit, and the requests are
//! served on that vCPU thread before it re-enters the guest.

use crate::ioapic::IrqLine;
use crate::virtio_blk::{Block, QUEUE_SIZE};
use std::sync::Arc;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_bindings::virtio_mmio::*;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;

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
    pub fn new(blk: Block, mem: Arc<GuestMemoryMmap>, irq: IrqLine) -> Result<Self, String> {
        let queue = Queue::new(QUEUE_SIZE).map_err(|e| format!("virtio queue: {e}"))?;
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
                        eprintln!("rsvm-vmm: virtio-blk: bad request: {e}");
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
        eprintln!("rsvm-vmm: virtio-blk: {why}; the device stops until the guest resets it");
        self.failed = true;
        self.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        self.interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
        self.irq.pulse();
    }
}
