//! A TAP device (/dev/net/tun) with a virtio-net header on every frame (IFF_VNET_HDR), so
//! the guest's checksum and segmentation offloads pass through to the host's stack.
//!
//! Hand-written, as in Firecracker (`devices/virtio/net/tap.rs`) and Cloud Hypervisor
//! (`net_util`): rust-vmm publishes no TAP crate, and the general ones on crates.io do not
//! expose the vnet header and offload ioctls. It is three ioctls.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use vmm_sys_util::ioctl::ioctl_with_ref;
use vmm_sys_util::ioctl_iow_nr;

// <linux/if_tun.h>
ioctl_iow_nr!(TUNSETIFF, b'T' as u32, 202, libc::c_int);
ioctl_iow_nr!(TUNSETOFFLOAD, b'T' as u32, 208, libc::c_uint);
ioctl_iow_nr!(TUNSETVNETHDRSZ, b'T' as u32, 216, libc::c_int);

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
pub const TUN_F_CSUM: u32 = 0x01;
pub const TUN_F_TSO4: u32 = 0x02;
pub const TUN_F_TSO6: u32 = 0x04;

/// struct virtio_net_hdr_v1: the header before every frame, on the TAP and in the queues.
pub const VNET_HDR_LEN: usize = 12;
/// Longest interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("--net tap={name}: cannot open /dev/net/tun: {source} (is the tun module loaded? CONFIG_TUN)")]
    OpenTun { name: String, source: std::io::Error },
    #[error("--net tap={name}: cannot attach to the TAP device: {source}{hint}")]
    SetIff { name: String, source: std::io::Error, hint: &'static str },
    #[error("--net tap={name}: {what}: {source}")]
    Ioctl { name: String, what: &'static str, source: std::io::Error },
}

/// ifreq as TUNSETIFF reads it: the name, then the flags.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

pub struct Tap {
    file: File,
    pub name: String,
}

impl Tap {
    /// Opens (or creates: it needs CAP_NET_ADMIN) the TAP interface `name`, non-blocking,
    /// with a 12-byte virtio-net header on each frame and no offloads until [`Tap::set_offload`].
    pub fn open(name: &str) -> Result<Self, TapError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|source| TapError::OpenTun { name: name.into(), source })?;
        let mut req = IfReq { name: [0; 16], flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, _pad: [0; 22] };
        // The option parser checked the length; a longer name is cut (the kernel would refuse).
        for (d, s) in req.name.iter_mut().zip(name.bytes().take(IFNAME_MAX)) {
            *d = s;
        }
        // SAFETY: TUNSETIFF reads an ifreq, which `req` is (name, flags, padding to 40 bytes).
        if unsafe { ioctl_with_ref(&file, TUNSETIFF(), &req) } < 0 {
            let source = std::io::Error::last_os_error();
            let hint = match source.raw_os_error() {
                Some(libc::EPERM) => " (creating or attaching a TAP needs CAP_NET_ADMIN, or a TAP made for this user with `ip tuntap add`)",
                Some(libc::EBUSY) => " (another process has it, or it is not a TAP with a vnet header)",
                Some(libc::EINVAL) => " (an interface of that name exists and is not a TAP)",
                _ => "",
            };
            return Err(TapError::SetIff { name: name.into(), source, hint });
        }
        let tap = Self { file, name: name.into() };
        let sz = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads an int.
        if unsafe { ioctl_with_ref(&tap.file, TUNSETVNETHDRSZ(), &sz) } < 0 {
            return Err(tap.ioctl_err("TUNSETVNETHDRSZ"));
        }
        tap.set_offload(0)?;
        Ok(tap)
    }

    /// A stand-in for tests: any file that keeps frame boundaries (a datagram socket).
    #[cfg(test)]
    pub fn from_file(file: File, name: &str) -> Self {
        Self { file, name: name.into() }
    }

    fn ioctl_err(&self, what: &'static str) -> TapError {
        TapError::Ioctl { name: self.name.clone(), what, source: std::io::Error::last_os_error() }
    }

    /// What the TAP may hand us (TUN_F_*): what the guest driver said it can take.
    pub fn set_offload(&self, flags: u32) -> Result<(), TapError> {
        // SAFETY: TUNSETOFFLOAD takes the flags as the argument value itself.
        let r = unsafe { vmm_sys_util::ioctl::ioctl_with_val(&self.file, TUNSETOFFLOAD(), libc::c_ulong::from(flags)) };
        if r < 0 {
            return Err(self.ioctl_err("TUNSETOFFLOAD"));
        }
        Ok(())
    }

    /// One frame (with its header); WouldBlock when there is none.
    pub fn read_frame(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }

    /// One frame (with its header).
    pub fn write_frame(&mut self, frame: &[u8]) -> std::io::Result<usize> {
        self.file.write(frame)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers() {
        // <linux/if_tun.h> on x86_64.
        assert_eq!(TUNSETIFF(), 0x400454ca);
        assert_eq!(TUNSETOFFLOAD(), 0x400454d0);
        assert_eq!(TUNSETVNETHDRSZ(), 0x400454d8);
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
    }

    #[test]
    fn open_errors_are_clean() {
        // Unprivileged, or no /dev/net/tun, or "lo" is not a TAP: each is an error naming it.
        if let Err(e) = Tap::open("lo") {
            assert!(e.to_string().starts_with("--net tap=lo: "), "{e}");
        }
    }
}
