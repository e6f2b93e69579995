//! --passthrough: assigning a host PCI function (bound to rsvm) to the VM with the module's
//! assignment ioctls, and the [`DeviceBackend`] the emulated bus (pci/) drives it through.
//! Documentation/amdvi.md has the module's side.

use crate::pci::{BackendError, DeviceBackend, HostBar, PciError};
use kvm_ioctls::VmFd;
use rsvm_abi::*;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum PassthroughError {
    /// rsvm-abi's parser says what is wrong with the text.
    #[error("{0}")]
    BadAddress(String),
    #[error("--passthrough {bdf}: no such PCI device (no {dir})")]
    NoDevice { bdf: String, dir: String },
    #[error("--passthrough {bdf}: {dir}/resource: {source}")]
    ResourceRead { bdf: String, dir: String, source: std::io::Error },
    #[error("--passthrough {bdf}: {dir}/resource: {source}")]
    Resource { bdf: String, dir: String, source: PciError },
    /// KVM answers an ioctl it does not know with ENOTTY.
    #[error("--passthrough {bdf}: {} cannot assign devices (RSVM_ASSIGN_DEVICE: {}): --passthrough needs /dev/rsvm", .dev.display(), errno_text(libc::ENOTTY))]
    NotRsvm { bdf: String, dev: PathBuf },
    #[error(
        "--passthrough {bdf}: the device is not bound to rsvm (RSVM_ASSIGN_DEVICE: ENODEV). Load rsvm.ko with amdvi=1 and bind it: \
         echo rsvm > /sys/bus/pci/devices/{bdf}/driver_override; echo {bdf} > /sys/bus/pci/drivers_probe"
    )]
    NotBound { bdf: String },
    #[error("--passthrough {bdf}: the device is busy: assigned to another VM, or its regions are in use (RSVM_ASSIGN_DEVICE: EBUSY)")]
    Busy { bdf: String },
    #[error("--passthrough {bdf}: given twice")]
    Twice { bdf: String },
    #[error("--passthrough {bdf}: RSVM_ASSIGN_DEVICE: {}", errno_text(*.errno))]
    Assign { bdf: String, errno: i32 },
}

/// A PCI address `SSSS:BB:DD.F`, as the user gave it and as the module wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bdf {
    pub text: String,
    pub dev: RsvmPciDevice,
}

/// Parses `SSSS:BB:DD.F` (`BB:DD.F` means segment 0).
pub fn parse_bdf(s: &str) -> Result<Bdf, PassthroughError> {
    let dev = RsvmPciDevice::parse(s).map_err(PassthroughError::BadAddress)?;
    Ok(Bdf { text: dev.to_string(), dev })
}

/// The host's BARs of `bdf` (sysfs `resource`).
pub fn host_bars(bdf: &Bdf) -> Result<[Option<HostBar>; 6], PassthroughError> {
    let dir = format!("/sys/bus/pci/devices/{}", bdf.text);
    let text = std::fs::read_to_string(format!("{dir}/resource")).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            PassthroughError::NoDevice { bdf: bdf.text.clone(), dir: dir.clone() }
        } else {
            PassthroughError::ResourceRead { bdf: bdf.text.clone(), dir: dir.clone(), source }
        }
    })?;
    crate::pci::parse_resource(&text).map_err(|source| PassthroughError::Resource { bdf: bdf.text.clone(), dir, source })
}

fn ioctl<T>(vm: &VmFd, nr: u64, arg: &mut T) -> Result<(), i32> {
    // SAFETY: `arg` is a live argument struct of the type `nr` encodes (rsvm-abi defines each
    // number with its struct, whose layout it asserts); the kernel reads/writes only it.
    let r = unsafe { libc::ioctl(vm.as_raw_fd(), nr as _, arg as *mut T) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        Ok(())
    }
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// RSVM_ASSIGN_DEVICE's errno as what the user can act on.
fn assign_error(bdf: &str, dev: &std::path::Path, errno: i32) -> PassthroughError {
    let bdf = bdf.to_string();
    match errno {
        libc::ENOTTY => PassthroughError::NotRsvm { bdf, dev: dev.to_path_buf() },
        libc::ENODEV => PassthroughError::NotBound { bdf },
        libc::EBUSY => PassthroughError::Busy { bdf },
        libc::EEXIST => PassthroughError::Twice { bdf },
        errno => PassthroughError::Assign { bdf, errno },
    }
}

/// A function assigned to this VM; the module releases it when the VM fd is closed (at exit).
pub struct Assigned {
    vm: Arc<VmFd>,
    bdf: Bdf,
}

impl Assigned {
    /// RSVM_ASSIGN_DEVICE, with the errors a user can act on spelt out.
    pub fn assign(vm: Arc<VmFd>, bdf: &Bdf, dev_path: &std::path::Path) -> Result<Self, PassthroughError> {
        let mut d = bdf.dev;
        ioctl(&vm, RSVM_ASSIGN_DEVICE(), &mut d).map_err(|errno| assign_error(&bdf.text, dev_path, errno))?;
        Ok(Self { vm, bdf: bdf.clone() })
    }

    fn err(&self, op: &'static str, errno: i32) -> BackendError {
        BackendError { op, errno }
    }
}

impl DeviceBackend for Assigned {
    fn config_read(&self, offset: u32, size: u32) -> Result<u32, BackendError> {
        let mut c = RsvmDeviceConfig { dev: self.bdf.dev, offset, size, write: 0, value: 0 };
        ioctl(&self.vm, RSVM_DEVICE_CONFIG(), &mut c).map_err(|e| self.err("RSVM_DEVICE_CONFIG", e))?;
        Ok(c.value)
    }

    fn config_write(&self, offset: u32, size: u32, value: u32) -> Result<(), BackendError> {
        let mut c = RsvmDeviceConfig { dev: self.bdf.dev, offset, size, write: 1, value };
        ioctl(&self.vm, RSVM_DEVICE_CONFIG(), &mut c).map_err(|e| self.err("RSVM_DEVICE_CONFIG", e))
    }

    fn map_bar(&self, bar: u32, gpa: u64) -> Result<(), BackendError> {
        let mut b = RsvmDeviceBar { dev: self.bdf.dev, bar, flags: 0, gpa };
        ioctl(&self.vm, RSVM_MAP_DEVICE_BAR(), &mut b).map_err(|e| self.err("RSVM_MAP_DEVICE_BAR", e))
    }

    fn set_msi(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError> {
        let mut m = RsvmDeviceMsi { dev: self.bdf.dev, address_lo: address as u32, address_hi: (address >> 32) as u32, data, flags: u32::from(on) };
        ioctl(&self.vm, RSVM_DEVICE_MSI(), &mut m).map_err(|e| self.err("RSVM_DEVICE_MSI", e))
    }

    fn set_intx(&self, address: u64, data: u32, on: bool) -> Result<(), BackendError> {
        let mut m = RsvmDeviceMsi { dev: self.bdf.dev, address_lo: address as u32, address_hi: (address >> 32) as u32, data, flags: u32::from(on) };
        ioctl(&self.vm, RSVM_DEVICE_INTX(), &mut m).map_err(|e| self.err("RSVM_DEVICE_INTX", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let t = |errno| assign_error("0000:00:04.0", std::path::Path::new("/dev/kvm"), errno).to_string();
        assert_eq!(
            t(libc::ENOTTY),
            "--passthrough 0000:00:04.0: /dev/kvm cannot assign devices (RSVM_ASSIGN_DEVICE: Inappropriate ioctl for device (os error 25)): --passthrough needs /dev/rsvm"
        );
        assert_eq!(
            t(libc::ENODEV),
            "--passthrough 0000:00:04.0: the device is not bound to rsvm (RSVM_ASSIGN_DEVICE: ENODEV). Load rsvm.ko with amdvi=1 and bind it: \
             echo rsvm > /sys/bus/pci/devices/0000:00:04.0/driver_override; echo 0000:00:04.0 > /sys/bus/pci/drivers_probe"
        );
        assert_eq!(
            t(libc::EBUSY),
            "--passthrough 0000:00:04.0: the device is busy: assigned to another VM, or its regions are in use (RSVM_ASSIGN_DEVICE: EBUSY)"
        );
        assert_eq!(t(libc::EEXIST), "--passthrough 0000:00:04.0: given twice");
        assert_eq!(t(libc::EPERM), "--passthrough 0000:00:04.0: RSVM_ASSIGN_DEVICE: Operation not permitted (os error 1)");
        let b = parse_bdf("0000:7f:00.0").unwrap();
        assert_eq!(host_bars(&b).unwrap_err().to_string(), "--passthrough 0000:7f:00.0: no such PCI device (no /sys/bus/pci/devices/0000:7f:00.0)");
        let e = BackendError { op: "RSVM_DEVICE_CONFIG", errno: libc::EINVAL };
        assert_eq!(e.to_string(), "RSVM_DEVICE_CONFIG: Invalid argument (os error 22)");
        assert!(parse_bdf("edu").unwrap_err().to_string().contains("is not a PCI address"));
    }

    #[test]
    fn bdf_parsing() {
        let b = parse_bdf("0000:00:04.0").unwrap();
        assert_eq!((b.text.as_str(), b.dev.segment, b.dev.bus, b.dev.devfn), ("0000:00:04.0", 0, 0, 0x20));
        let b = parse_bdf("0001:ff:1f.7").unwrap();
        assert_eq!((b.dev.segment, b.dev.bus, b.dev.devfn), (1, 0xff, 0xff));
        assert_eq!(parse_bdf("03:00.1").unwrap().text, "0000:03:00.1");
        for bad in ["", "0000:00:04", "0000:00:20.0", "0000:00:04.8", "0000:100:00.0", "x:00:04.0", "0000:00:04.0.1", "1:2:3:4.0", "0000:00:+4.0", "00000:00:04.0"] {
            assert!(parse_bdf(bad).is_err(), "{bad}");
        }
    }
}
