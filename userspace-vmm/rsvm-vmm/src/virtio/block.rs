//! The virtio-blk device on the I/O thread: one request queue, woken by its notify eventfd,
//! each request executed (blk.rs) and completed before the next; a flush is an fsync.

use super::blk::{Block, QUEUE_SIZE};
use super::{Counters, Interrupt, VirtioDevice};
use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use std::sync::Arc;
use virtio_bindings::virtio_blk::{VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT};
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Counter names, in the order of the `C_*` indices.
const COUNTERS: &[&str] = &["requests", "read_bytes", "write_bytes", "flushes", "errors", "notifications"];
const C_REQUESTS: usize = 0;
const C_READ: usize = 1;
const C_WRITE: usize = 2;
const C_FLUSH: usize = 3;
const C_ERRORS: usize = 4;
const C_NOTIFY: usize = 5;

struct Active {
    mem: Arc<GuestMemoryMmap>,
    queue: Queue,
    irq: Arc<Interrupt>,
}

pub struct BlockDevice {
    disk: Block,
    name: String,
    notify: EventFd,
    active: Option<Active>,
    counters: Arc<Counters>,
    /// The queue broke: nothing more is served until the driver resets the device.
    failed: bool,
}

impl BlockDevice {
    /// `name` is how logs and stats call it ("vda").
    pub fn new(disk: Block, name: String) -> std::io::Result<Self> {
        let notify = EventFd::new(EFD_NONBLOCK)?;
        let counters = Arc::new(Counters::new(name.clone(), COUNTERS));
        Ok(Self { disk, name, notify, active: None, counters, failed: false })
    }

    /// A clone of the queue's notify eventfd, for the transport.
    pub fn notify_fd(&self) -> std::io::Result<EventFd> {
        self.notify.try_clone()
    }

    /// Serves every available request, then interrupts the guest if it wants to be told.
    pub fn process_queue(&mut self) {
        if self.failed {
            return;
        }
        let Some(a) = self.active.as_mut() else { return };
        let mem = &*a.mem;
        let mut used_any = false;
        let mut broken = None;
        'outer: loop {
            if a.queue.disable_notification(mem).is_err() {
                broken = Some("cannot write the used ring");
                break;
            }
            while let Some(chain) = a.queue.pop_descriptor_chain(mem) {
                let head = chain.head_index();
                self.counters.add(C_REQUESTS, 1);
                let len = match Block::parse(mem, chain) {
                    Ok(req) => {
                        let (status, len) = self.disk.execute_status(mem, &req);
                        let bytes: u64 = req.data.iter().map(|d| u64::from(d.1)).sum();
                        match (status, req.kind) {
                            (VIRTIO_BLK_S_OK, VIRTIO_BLK_T_IN) => self.counters.add(C_READ, bytes),
                            (VIRTIO_BLK_S_OK, VIRTIO_BLK_T_OUT) => self.counters.add(C_WRITE, bytes),
                            (VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH) => self.counters.add(C_FLUSH, 1),
                            (VIRTIO_BLK_S_OK, _) => {}
                            _ => self.counters.add(C_ERRORS, 1),
                        }
                        len
                    }
                    Err(e) => {
                        log::warn!("{}: bad request: {e}", self.name);
                        self.counters.add(C_ERRORS, 1);
                        0
                    }
                };
                if a.queue.add_used(mem, head, len).is_err() {
                    broken = Some("cannot add to the used ring");
                    break 'outer;
                }
                used_any = true;
            }
            // Requests that arrived while notifications were off are seen on the next turn.
            match a.queue.enable_notification(mem) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(_) => {
                    broken = Some("cannot write the used ring");
                    break;
                }
            }
        }
        if let Some(why) = broken {
            log::error!("{}: {why}; the device stops until the guest resets it", self.name);
            self.failed = true;
            a.irq.signal_needs_reset();
            return;
        }
        if used_any && a.queue.needs_notification(mem).unwrap_or(true) {
            a.irq.signal_used();
        }
    }
}

impl VirtioDevice for BlockDevice {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        self.disk.features()
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let cfg = self.disk.config();
        for (i, d) in data.iter_mut().enumerate() {
            *d = usize::try_from(offset).ok().and_then(|o| cfg.get(o + i)).copied().unwrap_or(0);
        }
    }

    fn activate(&mut self, mem: Arc<GuestMemoryMmap>, _features: u64, mut queues: Vec<Queue>, irq: Arc<Interrupt>) {
        if queues.is_empty() {
            return;
        }
        let queue = queues.swap_remove(0);
        self.active = Some(Active { mem, queue, irq });
        self.failed = false;
        // Requests the driver queued before DRIVER_OK (none from Linux) are served by the
        // I/O thread, not here on the vCPU thread (whose sandbox has no file I/O).
        let _ = self.notify.write(1);
    }

    fn reset(&mut self) {
        self.active = None;
        self.failed = false;
    }

    fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

/// The I/O thread's side: the notify eventfd.
impl MutEventSubscriber for BlockDevice {
    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.notify, EventSet::IN)) {
            log::error!("{}: cannot watch the queue's eventfd: {e}", self.name);
        }
    }

    fn process(&mut self, events: Events, _ops: &mut EventOps) {
        if events.event_set().contains(EventSet::IN) {
            // Any number of notifies since the last turn: one pass serves them all.
            let _ = self.notify.read();
            self.counters.add(C_NOTIFY, 1);
            self.process_queue();
        }
    }
}
