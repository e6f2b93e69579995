//! The i8042 keyboard controller at 0x60/0x64, only for its reset line: vm-superio's
//! `I8042Device`, whose reset command (0xFE to 0x64, Linux's `reboot=k`) ends the run.

use crate::bus::BusDevice;
use crate::exit::{ExitSignal, VmExit};
use std::sync::Arc;
use vm_superio::I8042Device;

pub const DATA_PORT: u16 = 0x60;
pub const COMMAND_PORT: u16 = 0x64;

/// Requests `VmExit::Reset`.
pub struct ResetLine(pub Arc<ExitSignal>);

impl vm_superio::Trigger for ResetLine {
    type E = std::convert::Infallible;
    fn trigger(&self) -> Result<(), Self::E> {
        self.0.request(VmExit::Reset);
        Ok(())
    }
}

pub struct I8042 {
    dev: I8042Device<ResetLine>,
}

impl I8042 {
    pub fn new(exit: Arc<ExitSignal>) -> Self {
        Self { dev: I8042Device::new(ResetLine(exit)) }
    }

    /// Port read (0x60 or 0x64). The status reads 0: no data, input buffer empty, so the
    /// guest's wait before the reset command ends at once.
    pub fn read(&mut self, port: u16) -> u8 {
        self.dev.read((port - DATA_PORT) as u8)
    }

    pub fn write(&mut self, port: u16, value: u8) {
        let Ok(()) = self.dev.write((port - DATA_PORT) as u8, value);
    }
}

/// On the port bus at [`DATA_PORT`] and [`COMMAND_PORT`] (one port each): byte accesses only.
impl BusDevice for I8042 {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) -> bool {
        let [b] = data else { return false };
        *b = I8042::read(self, (base + offset) as u16);
        true
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> bool {
        let [b] = data else { return false };
        I8042::write(self, (base + offset) as u16, *b);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_command_ends_the_run() {
        let exit = Arc::new(ExitSignal::default());
        let mut kbd = I8042::new(exit.clone());
        assert_eq!(kbd.read(COMMAND_PORT), 0);
        kbd.write(DATA_PORT, 0xfe);
        kbd.write(COMMAND_PORT, 0xd1);
        assert!(!exit.is_set(), "only 0xFE to the command port resets");
        kbd.write(COMMAND_PORT, 0xfe);
        assert_eq!(exit.wait(None), VmExit::Reset);
    }
}
