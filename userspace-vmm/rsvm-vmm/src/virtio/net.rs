//! virtio-net on a TAP device, on the I/O thread: queue 0 receives (TAP -> guest), queue 1
//! transmits (guest -> TAP). Every frame carries the 12-byte virtio_net_hdr_v1 on both
//! sides, so the offloads the driver negotiates (checksum, TSO) pass straight through to the
//! host's stack: the TAP is told which ones the guest accepts (TUNSETOFFLOAD).
//!
//! No mergeable receive buffers: with guest TSO Linux posts "big packet" buffers (a chain
//! of pages, 64 KiB and more) that hold any frame the TAP gives. No control queue, one
//! queue pair. A frame that fits no buffer is dropped and counted, never half-written.

use super::{Counters, Interrupt, VirtioDevice};
use crate::tap::{Tap, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VNET_HDR_LEN};
use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_NET;
use virtio_bindings::virtio_net::*;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestMemoryMmap};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const QUEUE_SIZE: u16 = 256;
/// Largest frame with its header: a 64 KiB GSO frame plus Ethernet, VLAN and the header.
const MAX_FRAME: usize = 65_536 + 14 + 4 + VNET_HDR_LEN;
const RX: usize = 0;
const TX: usize = 1;

const COUNTERS: &[&str] = &["rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "rx_dropped", "tx_dropped", "errors"];
const C_RX_FRAMES: usize = 0;
const C_RX_BYTES: usize = 1;
const C_TX_FRAMES: usize = 2;
const C_TX_BYTES: usize = 3;
const C_RX_DROPPED: usize = 4;
const C_TX_DROPPED: usize = 5;
const C_ERRORS: usize = 6;

struct Active {
    mem: Arc<GuestMemoryMmap>,
    rx: Queue,
    tx: Queue,
    irq: Arc<Interrupt>,
}

pub struct NetDevice {
    tap: Tap,
    name: String,
    mac: [u8; 6],
    notify: [EventFd; 2],
    active: Option<Active>,
    counters: Arc<Counters>,
    /// A frame from the TAP waiting for a receive buffer (`rx_len` bytes of `rx_buf`).
    rx_buf: Vec<u8>,
    rx_len: usize,
    /// Whether the TAP is in the epoll set (not while a frame waits for a buffer).
    tap_watched: bool,
    tx_buf: Vec<u8>,
}

/// The offloads the TAP may hand the guest, from the features the driver took.
pub fn tap_offloads(features: u64) -> u32 {
    let has = |bit: u32| features & (1u64 << bit) != 0;
    let mut f = 0;
    if has(VIRTIO_NET_F_GUEST_CSUM) {
        f |= TUN_F_CSUM;
        if has(VIRTIO_NET_F_GUEST_TSO4) {
            f |= TUN_F_TSO4;
        }
        if has(VIRTIO_NET_F_GUEST_TSO6) {
            f |= TUN_F_TSO6;
        }
    }
    f
}

impl NetDevice {
    pub fn new(tap: Tap, mac: [u8; 6], name: String) -> std::io::Result<Self> {
        let notify = [EventFd::new(EFD_NONBLOCK)?, EventFd::new(EFD_NONBLOCK)?];
        let counters = Arc::new(Counters::new(name.clone(), COUNTERS));
        Ok(Self {
            tap,
            name,
            mac,
            notify,
            active: None,
            counters,
            rx_buf: vec![0; MAX_FRAME],
            rx_len: 0,
            tap_watched: false,
            tx_buf: Vec::with_capacity(MAX_FRAME),
        })
    }

    pub fn notify_fds(&self) -> std::io::Result<Vec<EventFd>> {
        self.notify.iter().map(EventFd::try_clone).collect()
    }

    fn watch_tap(&mut self, ops: &mut EventOps, on: bool) {
        if on == self.tap_watched {
            return;
        }
        let ev = Events::new_raw(self.tap.as_raw_fd(), EventSet::IN);
        let r = if on { ops.add(ev) } else { ops.remove(ev) };
        match r {
            Ok(()) => self.tap_watched = on,
            Err(e) => log::error!("{}: the TAP in the event loop: {e}", self.name),
        }
    }

    /// TAP -> guest until the TAP is empty or the guest has no buffer left (then the TAP is
    /// not watched until the guest adds buffers).
    fn receive(&mut self, ops: &mut EventOps) {
        let mut used_any = false;
        loop {
            if self.rx_len == 0 {
                match self.tap.read_frame(&mut self.rx_buf) {
                    Ok(n) if n >= VNET_HDR_LEN => self.rx_len = n,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        log::warn!("{}: TAP read: {e}", self.name);
                        self.counters.add(C_ERRORS, 1);
                        break;
                    }
                }
            }
            let Some(a) = self.active.as_mut() else {
                // The driver is not up: nothing to deliver to.
                self.counters.add(C_RX_DROPPED, 1);
                self.rx_len = 0;
                continue;
            };
            let mem = &*a.mem;
            let Some(chain) = a.rx.pop_descriptor_chain(mem) else {
                // No buffer: keep the frame, stop reading the TAP until the guest adds some.
                self.watch_tap(ops, false);
                break;
            };
            let head = chain.head_index();
            // num_buffers = 1 (the TAP leaves those two bytes alone).
            self.rx_buf[10..12].copy_from_slice(&1u16.to_le_bytes());
            let frame = &self.rx_buf[..self.rx_len];
            let mut off = 0;
            let mut ok = true;
            for d in chain.filter(|d| d.is_write_only()) {
                if off == frame.len() {
                    break;
                }
                let n = (d.len() as usize).min(frame.len() - off);
                if mem.write_slice(&frame[off..off + n], d.addr()).is_err() {
                    ok = false;
                    break;
                }
                off += n;
            }
            let len = if ok && off == frame.len() {
                self.counters.add(C_RX_FRAMES, 1);
                self.counters.add(C_RX_BYTES, (frame.len() - VNET_HDR_LEN) as u64);
                off as u32
            } else {
                // Too small a buffer or one outside guest memory: the frame is dropped.
                self.counters.add(C_RX_DROPPED, 1);
                0
            };
            self.rx_len = 0;
            if a.rx.add_used(mem, head, len).is_err() {
                self.broken("cannot add to the receive used ring");
                return;
            }
            used_any = true;
        }
        if let Some(a) = self.active.as_mut() {
            if used_any && a.rx.needs_notification(&*a.mem).unwrap_or(true) {
                a.irq.signal_used();
            }
        }
    }

    /// Guest -> TAP: every frame the driver queued.
    fn transmit(&mut self) {
        let Some(a) = self.active.as_mut() else { return };
        let mem = &*a.mem;
        let mut used_any = false;
        loop {
            if a.tx.disable_notification(mem).is_err() {
                break;
            }
            while let Some(chain) = a.tx.pop_descriptor_chain(mem) {
                let head = chain.head_index();
                self.tx_buf.clear();
                let mut ok = true;
                for d in chain {
                    let n = d.len() as usize;
                    if d.is_write_only() || self.tx_buf.len() + n > MAX_FRAME {
                        ok = false;
                        break;
                    }
                    let start = self.tx_buf.len();
                    self.tx_buf.resize(start + n, 0);
                    if mem.read_slice(&mut self.tx_buf[start..], d.addr()).is_err() {
                        ok = false;
                        break;
                    }
                }
                if ok && self.tx_buf.len() > VNET_HDR_LEN {
                    match self.tap.write_frame(&self.tx_buf) {
                        Ok(_) => {
                            self.counters.add(C_TX_FRAMES, 1);
                            self.counters.add(C_TX_BYTES, (self.tx_buf.len() - VNET_HDR_LEN) as u64);
                        }
                        // The TAP is down or full, or refused the frame: the guest goes on.
                        Err(_) => self.counters.add(C_TX_DROPPED, 1),
                    }
                } else {
                    self.counters.add(C_TX_DROPPED, 1);
                }
                if a.tx.add_used(mem, head, 0).is_err() {
                    log::error!("{}: cannot add to the transmit used ring; the device stops until the guest resets it", self.name);
                    self.counters.add(C_ERRORS, 1);
                    a.irq.signal_needs_reset();
                    self.active = None;
                    return;
                }
                used_any = true;
            }
            match a.tx.enable_notification(mem) {
                Ok(true) => continue,
                _ => break,
            }
        }
        if used_any && a.tx.needs_notification(mem).unwrap_or(true) {
            a.irq.signal_used();
        }
    }

    fn broken(&mut self, why: &str) {
        log::error!("{}: {why}; the device stops until the guest resets it", self.name);
        self.counters.add(C_ERRORS, 1);
        if let Some(a) = self.active.take() {
            a.irq.signal_needs_reset();
        }
    }
}

impl VirtioDevice for NetDevice {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn features(&self) -> u64 {
        [
            VIRTIO_NET_F_MAC,
            VIRTIO_NET_F_CSUM,
            VIRTIO_NET_F_GUEST_CSUM,
            VIRTIO_NET_F_GUEST_TSO4,
            VIRTIO_NET_F_GUEST_TSO6,
            VIRTIO_NET_F_HOST_TSO4,
            VIRTIO_NET_F_HOST_TSO6,
            VIRTIO_F_VERSION_1,
        ]
        .iter()
        .fold(0u64, |f, b| f | (1u64 << b))
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    /// struct virtio_net_config: the MAC (status and the rest need features not offered).
    fn read_config(&self, offset: u64, data: &mut [u8]) {
        for (i, d) in data.iter_mut().enumerate() {
            *d = usize::try_from(offset).ok().and_then(|o| self.mac.get(o + i)).copied().unwrap_or(0);
        }
    }

    fn activate(&mut self, mem: Arc<GuestMemoryMmap>, features: u64, queues: Vec<Queue>, irq: Arc<Interrupt>) {
        let mut q = queues.into_iter();
        let (Some(rx), Some(tx)) = (q.next(), q.next()) else { return };
        if let Err(e) = self.tap.set_offload(tap_offloads(features)) {
            log::warn!("{e}");
        }
        self.active = Some(Active { mem, rx, tx, irq });
        // Let the I/O thread look at both queues and the TAP once.
        for n in &self.notify {
            let _ = n.write(1);
        }
    }

    fn reset(&mut self) {
        self.active = None;
        self.rx_len = 0;
        let _ = self.tap.set_offload(0);
    }

    fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

impl MutEventSubscriber for NetDevice {
    fn init(&mut self, ops: &mut EventOps) {
        for n in &self.notify {
            if let Err(e) = ops.add(Events::new(n, EventSet::IN)) {
                log::error!("{}: cannot watch a queue's eventfd: {e}", self.name);
            }
        }
        self.watch_tap(ops, true);
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.notify[TX].as_raw_fd() {
            let _ = self.notify[TX].read();
            self.transmit();
        } else if fd == self.notify[RX].as_raw_fd() {
            // New receive buffers: the waiting frame first, then the TAP again.
            let _ = self.notify[RX].read();
            self.receive(ops);
            if self.rx_len == 0 {
                self.watch_tap(ops, true);
            }
        } else if fd == self.tap.as_raw_fd() {
            self.receive(ops);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioapic::tests::Recorder;
    use crate::ioapic::{Ioapic, IrqLine};
    use event_manager::{EventManager, SubscriberOps};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Mutex;
    use virtio_bindings::virtio_ring::VRING_DESC_F_WRITE;
    use vm_memory::GuestAddress;

    /// A split queue in guest memory at `base` (descriptors, avail at +0x1000, used at
    /// +0x2000), filled by hand as a driver would.
    struct Ring {
        base: u64,
        next: u16,
    }

    impl Ring {
        fn queue(&self, mem: &GuestMemoryMmap) -> Queue {
            let mut q = Queue::new(QUEUE_SIZE).unwrap();
            q.set_size(16);
            q.set_desc_table_address(Some(self.base as u32), Some(0));
            q.set_avail_ring_address(Some((self.base + 0x1000) as u32), Some(0));
            q.set_used_ring_address(Some((self.base + 0x2000) as u32), Some(0));
            q.set_ready(true);
            assert!(q.is_valid(mem));
            q
        }

        /// One chain of single descriptors (addr, len, device-writable), made available.
        fn push(&mut self, mem: &GuestMemoryMmap, descs: &[(u64, u32, bool)]) {
            let first = self.next;
            for (i, &(addr, len, w)) in descs.iter().enumerate() {
                let idx = self.next;
                let last = i + 1 == descs.len();
                let flags = (if w { VRING_DESC_F_WRITE as u16 } else { 0 }) | if last { 0 } else { 1 };
                let mut b = [0u8; 16];
                b[0..8].copy_from_slice(&addr.to_le_bytes());
                b[8..12].copy_from_slice(&len.to_le_bytes());
                b[12..14].copy_from_slice(&flags.to_le_bytes());
                b[14..16].copy_from_slice(&(idx + 1).to_le_bytes());
                mem.write_slice(&b, GuestAddress(self.base + 16 * u64::from(idx))).unwrap();
                self.next += 1;
            }
            let avail_idx: u16 = mem.read_obj(GuestAddress(self.base + 0x1002)).unwrap();
            mem.write_obj(first, GuestAddress(self.base + 0x1004 + 2 * u64::from(avail_idx % 16))).unwrap();
            mem.write_obj(avail_idx.wrapping_add(1), GuestAddress(self.base + 0x1002)).unwrap();
        }

        /// (used idx, (id, len) of entry i).
        fn used(&self, mem: &GuestMemoryMmap, i: u64) -> (u16, u32, u32) {
            let idx = mem.read_obj(GuestAddress(self.base + 0x2002)).unwrap();
            let id = mem.read_obj(GuestAddress(self.base + 0x2004 + 8 * i)).unwrap();
            let len = mem.read_obj(GuestAddress(self.base + 0x2008 + 8 * i)).unwrap();
            (idx, id, len)
        }
    }

    /// Both directions through the I/O loop against a datagram socket standing in for the
    /// TAP; a frame waits for a receive buffer; a chain pointing outside guest memory is
    /// dropped without harm.
    #[test]
    fn frames_both_ways() {
        let mem = Arc::new(GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap());
        let (ours, peer) = UnixDatagram::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let tap = Tap::from_file(std::fs::File::from(OwnedFd::from(ours)), "test");
        let dev = NetDevice::new(tap, [0x52, 0x54, 0, 1, 2, 3], "net0".into()).unwrap();
        let notify = dev.notify_fds().unwrap();
        let mut cfg = [0u8; 8];
        dev.read_config(0, &mut cfg);
        assert_eq!(cfg, [0x52, 0x54, 0, 1, 2, 3, 0, 0]);
        let dev = Arc::new(Mutex::new(dev));
        let mut em: EventManager<Arc<Mutex<dyn MutEventSubscriber + Send>>> = EventManager::new().unwrap();
        em.add_subscriber(dev.clone());
        let (mut rx, mut tx) = (Ring { base: 0x10000, next: 0 }, Ring { base: 0x20000, next: 0 });
        let ioapic = Arc::new(Mutex::new(Ioapic::new(1, Arc::new(Recorder::default()))));
        let irq = Arc::new(Interrupt::new(IrqLine { ioapic, pin: 6 }));
        let features = dev.lock().unwrap().features();
        dev.lock().unwrap().activate(mem.clone(), features, vec![rx.queue(&mem), tx.queue(&mem)], irq.clone());
        while em.run_with_timeout(50).unwrap() > 0 {}

        // Guest -> TAP: header and payload in two descriptors.
        let frame: Vec<u8> = (0..72u8).collect();
        mem.write_slice(&frame, GuestAddress(0x40000)).unwrap();
        tx.push(&mem, &[(0x40000, 12, false), (0x4000c, 60, false)]);
        notify[TX].write(1).unwrap();
        em.run_with_timeout(1000).unwrap();
        let mut got = [0u8; 256];
        assert_eq!(peer.recv(&mut got).unwrap(), 72);
        assert_eq!(&got[..72], &frame[..]);
        assert_eq!(tx.used(&mem, 0), (1, 0, 0));
        assert_ne!(irq.status() & 1, 0, "used-buffer interrupt");

        // TAP -> guest with no buffer: the frame waits; a buffer and a notify deliver it.
        let incoming: Vec<u8> = (0..112u8).map(|b| b ^ 0x5a).collect();
        peer.send(&incoming).unwrap();
        em.run_with_timeout(1000).unwrap();
        assert_eq!(rx.used(&mem, 0).0, 0);
        rx.push(&mem, &[(0x50000, 2048, true)]);
        notify[RX].write(1).unwrap();
        em.run_with_timeout(1000).unwrap();
        assert_eq!(rx.used(&mem, 0), (1, 0, 112));
        let mut back = vec![0u8; 112];
        mem.read_slice(&mut back, GuestAddress(0x50000)).unwrap();
        assert_eq!(&back[12..], &incoming[12..]);
        assert_eq!(&back[10..12], &[1, 0], "num_buffers");

        // Hostile chains: outside guest memory, and a frame bigger than its buffer.
        tx.push(&mem, &[(0xffff_0000, 100, false)]);
        notify[TX].write(1).unwrap();
        em.run_with_timeout(1000).unwrap();
        assert_eq!(tx.used(&mem, 1).0, 2, "completed anyway");
        rx.push(&mem, &[(0x60000, 50, true)]);
        peer.send(&incoming).unwrap();
        em.run_with_timeout(1000).unwrap();
        assert_eq!(rx.used(&mem, 1), (2, 1, 0), "dropped, not cut");
        let c: std::collections::HashMap<_, _> = dev.lock().unwrap().counters().snapshot().into_iter().collect();
        assert_eq!((c["tx_frames"], c["tx_bytes"], c["tx_dropped"]), (1, 60, 1));
        assert_eq!((c["rx_frames"], c["rx_bytes"], c["rx_dropped"]), (1, 100, 1));
    }

    #[test]
    fn offloads_follow_the_driver() {
        let f = |bits: &[u32]| bits.iter().fold(0u64, |f, b| f | (1u64 << b));
        assert_eq!(tap_offloads(0), 0);
        // TSO without checksum offload is not allowed (virtio 5.1.3.1): no TSO.
        assert_eq!(tap_offloads(f(&[VIRTIO_NET_F_GUEST_TSO4])), 0);
        assert_eq!(tap_offloads(f(&[VIRTIO_NET_F_GUEST_CSUM])), TUN_F_CSUM);
        assert_eq!(
            tap_offloads(f(&[VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6])),
            TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6
        );
    }
}
