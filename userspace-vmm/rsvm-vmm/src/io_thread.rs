//! The I/O thread: rust-vmm's `event-manager` (epoll) serving every device's fds off the
//! vCPU threads: the virtio queues' notify eventfds, the console, the control socket.

use crate::exit::{ExitSignal, RunError, VmExit};
use event_manager::{EventManager, MutEventSubscriber, SubscriberOps};
use std::sync::{Arc, Mutex};

pub type Subscriber = Arc<Mutex<dyn MutEventSubscriber + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum IoThreadError {
    #[error("event loop: {0}")]
    EventManager(event_manager::Error),
    #[error("I/O thread: {0}")]
    Spawn(std::io::Error),
}

/// The loop, before it runs: subscribers are added (and register their fds) here, on the
/// main thread, so a setup error is reported before the guest starts.
pub struct IoThread {
    em: EventManager<Subscriber>,
}

impl IoThread {
    pub fn new() -> Result<Self, IoThreadError> {
        Ok(Self { em: EventManager::new().map_err(IoThreadError::EventManager)? })
    }

    pub fn add(&mut self, s: Subscriber) {
        self.em.add_subscriber(s);
    }

    /// Runs the loop on its own thread until the process exits; `before` runs first on that
    /// thread (the seccomp filter goes in there).
    pub fn spawn(mut self, exit: Arc<ExitSignal>, before: impl FnOnce() + Send + 'static) -> Result<(), IoThreadError> {
        std::thread::Builder::new()
            .name("io".into())
            .spawn(move || {
                before();
                loop {
                    if let Err(e) = self.em.run() {
                        log::error!("I/O thread: {e}");
                        exit.request(VmExit::Error(RunError::IoThread(e.to_string())));
                        return;
                    }
                }
            })
            .map_err(IoThreadError::Spawn)?;
        Ok(())
    }
}
