//! INTx of the passed-through functions: each device's interrupt pin is wired to an IOAPIC
//! input ([`intx_gsi`]); the guest's redirection entry for that input becomes the device's
//! INTx route (`set_intx`).

use super::DeviceBackend;
#[cfg(doc)]
use super::intx_gsi;
use crate::ioapic::{rte_to_msi, RteObserver};
use std::sync::{Arc, Mutex};

/// One passed-through device's INTx route: the IOAPIC pin its interrupt pin is wired to.
pub struct IntxRoute {
    pub name: String,
    pub gsi: u32,
    pub backend: Arc<dyn DeviceBackend>,
    /// The message routed now (None: off).
    routed: Mutex<Option<(u64, u32)>>,
}

impl IntxRoute {
    pub fn new(name: &str, gsi: u32, backend: Arc<dyn DeviceBackend>) -> Self {
        Self { name: name.into(), gsi, backend, routed: Mutex::new(None) }
    }
}

/// Follows the guest's IOAPIC redirection entries for the passed-through devices' pins and
/// routes their INTx accordingly (`set_intx`). Called with the IOAPIC locked; takes only
/// its own locks.
pub struct IntxRouter {
    pub routes: Vec<IntxRoute>,
    unsupported: std::sync::atomic::AtomicBool,
}

impl IntxRouter {
    pub fn new(routes: Vec<IntxRoute>) -> Self {
        Self { routes, unsupported: std::sync::atomic::AtomicBool::new(false) }
    }
}

impl RteObserver for IntxRouter {
    fn rte_written(&self, pin: usize, rte: u64, masked: bool) {
        if self.unsupported.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        for r in self.routes.iter().filter(|r| r.gsi as usize == pin) {
            let Ok(mut routed) = r.routed.lock() else { continue };
            let want = (!masked).then(|| rte_to_msi(rte));
            if *routed == want {
                continue;
            }
            let res = match want {
                Some((a, d)) => r.backend.set_intx(a, d, true),
                None => r.backend.set_intx(0, 0, false),
            };
            match res {
                Ok(()) => *routed = want,
                Err(e) if e.errno == libc::ENOTTY => {
                    log::warn!("{}: the module has no RSVM_DEVICE_INTX: the device's INTx is not routed (MSI works)", r.name);
                    self.unsupported.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Err(e) => log::error!("{}: INTx route for GSI {pin}: {e}", r.name),
            }
        }
    }
}
