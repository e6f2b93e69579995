//! virtio-blk requests (virtio 1.2, 5.2): parsing a descriptor chain and executing it with
//! positional reads and writes on the backing file (block.rs runs them on the I/O thread).
//!
//! Supported: IN, OUT, FLUSH (fsync), GET_ID; VIRTIO_BLK_F_RO for a read-only disk,
//! VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_SEG_MAX. A request beyond the end of the disk, or a
//! write to a read-only disk, completes with VIRTIO_BLK_S_IOERR; other types UNSUPP.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use virtio_bindings::virtio_blk::*;
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_queue::desc::split::Descriptor;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

pub const SECTOR_SIZE: u64 = 512;
pub const QUEUE_SIZE: u16 = 256;
/// Data segments per request we accept (queue size minus header and status).
const SEG_MAX: u32 = QUEUE_SIZE as u32 - 2;
const HEADER_SIZE: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// `hint` says what to do about it, or is empty.
    #[error("--disk {}: {source}{hint}", .path.display())]
    Open { path: PathBuf, source: std::io::Error, hint: &'static str },
    #[error("--disk {}: {source}", .path.display())]
    Metadata { path: PathBuf, source: std::io::Error },
    #[error("--disk {}: not a regular file", .path.display())]
    NotAFile { path: PathBuf },
}

/// A descriptor chain that is not a virtio-blk request (the device completes it without
/// touching guest memory).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("empty descriptor chain")]
    Empty,
    #[error("request without a status descriptor")]
    NoStatus,
    #[error("bad request header descriptor")]
    BadHeader,
    #[error("bad status descriptor")]
    BadStatus,
    #[error("request header: {0}")]
    ReadHeader(vm_memory::GuestMemoryError),
    #[error("status address overflows")]
    StatusOverflow,
}

/// A parsed request: header, data buffers, status byte.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: u32,
    pub sector: u64,
    /// (guest address, length, device-writable)
    pub data: Vec<(GuestAddress, u32, bool)>,
    pub status: GuestAddress,
}

pub struct Block {
    file: File,
    sectors: u64,
    read_only: bool,
    id: [u8; VIRTIO_BLK_ID_BYTES as usize],
}

impl Block {
    /// Opens the disk image; read-write unless `read_only`.
    pub fn open(path: &Path, read_only: bool) -> Result<Self, BlockError> {
        let file = OpenOptions::new().read(true).write(!read_only).open(path).map_err(|source| {
            let hint = match source.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM) if !read_only => {
                    " (it is not writable: pass --disk-ro to attach it read-only)"
                }
                _ => "",
            };
            BlockError::Open { path: path.to_path_buf(), source, hint }
        })?;
        let meta = file.metadata().map_err(|source| BlockError::Metadata { path: path.to_path_buf(), source })?;
        if !meta.is_file() {
            return Err(BlockError::NotAFile { path: path.to_path_buf() });
        }
        let len = meta.len();
        if len % SECTOR_SIZE != 0 {
            log::warn!("--disk {}: size {len} is not a multiple of 512; the tail is ignored", path.display());
        }
        let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (d, s) in id.iter_mut().zip(name.bytes()) {
            *d = s;
        }
        Ok(Self { file, sectors: len / SECTOR_SIZE, read_only, id })
    }

    #[cfg(test)]
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Device feature bits offered.
    pub fn features(&self) -> u64 {
        let mut f = (1u64 << VIRTIO_F_VERSION_1) | (1 << VIRTIO_BLK_F_FLUSH) | (1 << VIRTIO_BLK_F_SEG_MAX);
        if self.read_only {
            f |= 1 << VIRTIO_BLK_F_RO;
        }
        f
    }

    /// The configuration space (struct virtio_blk_config): capacity, size_max, seg_max.
    pub fn config(&self) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0..8].copy_from_slice(&self.sectors.to_le_bytes());
        c[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        c
    }

    /// Splits a descriptor chain into a request. Errors are chains no driver should send;
    /// the caller completes them without touching guest memory.
    pub fn parse(mem: &GuestMemoryMmap, descs: impl Iterator<Item = Descriptor>) -> Result<Request, RequestError> {
        let descs: Vec<Descriptor> = descs.collect();
        let (first, rest) = descs.split_first().ok_or(RequestError::Empty)?;
        let (last, data) = rest.split_last().ok_or(RequestError::NoStatus)?;
        if first.is_write_only() || first.len() < HEADER_SIZE {
            return Err(RequestError::BadHeader);
        }
        if !last.is_write_only() || last.len() < 1 {
            return Err(RequestError::BadStatus);
        }
        let mut hdr = [0u8; HEADER_SIZE as usize];
        mem.read_slice(&mut hdr, first.addr()).map_err(RequestError::ReadHeader)?;
        let kind = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let sector = u64::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15]]);
        // The status byte is the last byte of the last descriptor.
        let status = GuestAddress(last.addr().0.checked_add(u64::from(last.len() - 1)).ok_or(RequestError::StatusOverflow)?);
        Ok(Request { kind, sector, data: data.iter().map(|d| (d.addr(), d.len(), d.is_write_only())).collect(), status })
    }

    /// Executes `req`, writes its status byte, and returns the number of bytes written to
    /// guest memory (the used length).
    #[cfg(test)]
    pub fn execute(&self, mem: &GuestMemoryMmap, req: &Request) -> u32 {
        self.execute_status(mem, req).1
    }

    /// As [`Block::execute`], with the status written (VIRTIO_BLK_S_*) first.
    pub fn execute_status(&self, mem: &GuestMemoryMmap, req: &Request) -> (u32, u32) {
        let (status, written) = match self.run(mem, req) {
            Ok(w) => (VIRTIO_BLK_S_OK, w),
            Err(s) => (s, 0),
        };
        // A status address outside guest memory cannot be reported; the used length says 0.
        match mem.write_obj(status as u8, req.status) {
            Ok(()) => (status, written.saturating_add(1)),
            Err(_) => (VIRTIO_BLK_S_IOERR, 0),
        }
    }

    fn run(&self, mem: &GuestMemoryMmap, req: &Request) -> Result<u32, u32> {
        let total: u64 = req.data.iter().map(|d| u64::from(d.1)).sum();
        let in_bounds = || {
            req.sector
                .checked_mul(SECTOR_SIZE)
                .and_then(|o| o.checked_add(total))
                .is_some_and(|end| end <= self.sectors * SECTOR_SIZE)
        };
        match req.kind {
            VIRTIO_BLK_T_IN => {
                if !in_bounds() || req.data.iter().any(|d| !d.2) {
                    return Err(VIRTIO_BLK_S_IOERR);
                }
                let mut off = req.sector * SECTOR_SIZE;
                for &(addr, len, _) in &req.data {
                    let mut buf = vec![0u8; len as usize];
                    self.file.read_exact_at(&mut buf, off).map_err(|_| VIRTIO_BLK_S_IOERR)?;
                    mem.write_slice(&buf, addr).map_err(|_| VIRTIO_BLK_S_IOERR)?;
                    off += u64::from(len);
                }
                u32::try_from(total).map_err(|_| VIRTIO_BLK_S_IOERR)
            }
            VIRTIO_BLK_T_OUT => {
                if self.read_only || !in_bounds() || req.data.iter().any(|d| d.2) {
                    return Err(VIRTIO_BLK_S_IOERR);
                }
                let mut off = req.sector * SECTOR_SIZE;
                for &(addr, len, _) in &req.data {
                    let mut buf = vec![0u8; len as usize];
                    mem.read_slice(&mut buf, addr).map_err(|_| VIRTIO_BLK_S_IOERR)?;
                    self.file.write_all_at(&buf, off).map_err(|_| VIRTIO_BLK_S_IOERR)?;
                    off += u64::from(len);
                }
                Ok(0)
            }
            VIRTIO_BLK_T_FLUSH => {
                if !self.read_only {
                    self.file.sync_all().map_err(|_| VIRTIO_BLK_S_IOERR)?;
                }
                Ok(0)
            }
            VIRTIO_BLK_T_GET_ID => {
                let &(addr, len, writable) = req.data.first().ok_or(VIRTIO_BLK_S_IOERR)?;
                if !writable {
                    return Err(VIRTIO_BLK_S_IOERR);
                }
                let n = (len as usize).min(self.id.len());
                mem.write_slice(&self.id[..n], addr).map_err(|_| VIRTIO_BLK_S_IOERR)?;
                Ok(n as u32)
            }
            _ => Err(VIRTIO_BLK_S_UNSUPP),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use virtio_bindings::virtio_ring::VRING_DESC_F_WRITE;

    fn disk(sectors: u64, fill: u8) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("rsvm-vmm-test-{}-{}", std::process::id(), fill));
        let mut f = File::create(&dir).unwrap();
        f.write_all(&vec![fill; (sectors * SECTOR_SIZE) as usize]).unwrap();
        (dir, f)
    }

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
    }

    fn req(kind: u32, sector: u64, data: Vec<(u64, u32, bool)>) -> Request {
        Request { kind, sector, data: data.into_iter().map(|(a, l, w)| (GuestAddress(a), l, w)).collect(), status: GuestAddress(0x100) }
    }

    fn status(m: &GuestMemoryMmap) -> u32 {
        u32::from(m.read_obj::<u8>(GuestAddress(0x100)).unwrap())
    }

    #[test]
    fn read_write_flush() {
        let (p, _f) = disk(8, 0xab);
        let b = Block::open(&p, false).unwrap();
        assert_eq!(b.sectors(), 8);
        assert_eq!(b.features() & (1 << VIRTIO_BLK_F_RO), 0);
        assert_eq!(&b.config()[0..8], &8u64.to_le_bytes());
        let m = mem();
        // Read sectors 1-2 into two buffers.
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_IN, 1, vec![(0x1000, 512, true), (0x2000, 512, true)])), 1025);
        assert_eq!(status(&m), VIRTIO_BLK_S_OK);
        assert_eq!(m.read_obj::<u8>(GuestAddress(0x21ff)).unwrap(), 0xab);
        // Write a pattern to sector 3, read it back through the device and the file.
        m.write_slice(&[0x5a; 512], GuestAddress(0x3000)).unwrap();
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_OUT, 3, vec![(0x3000, 512, false)])), 1);
        assert_eq!(status(&m), VIRTIO_BLK_S_OK);
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_FLUSH, 0, vec![])), 1);
        assert_eq!(status(&m), VIRTIO_BLK_S_OK);
        let on_disk = std::fs::read(&p).unwrap();
        assert!(on_disk[3 * 512..4 * 512].iter().all(|&x| x == 0x5a));
        assert!(on_disk[4 * 512..].iter().all(|&x| x == 0xab));
        // GET_ID: the file name, NUL padded to 20 bytes.
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_GET_ID, 0, vec![(0x4000, 20, true)])), 21);
        let mut id = [0u8; 20];
        m.read_slice(&mut id, GuestAddress(0x4000)).unwrap();
        assert!(id.starts_with(b"rsvm-vmm-test"));
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn errors() {
        let (p, _f) = disk(4, 0x11);
        let b = Block::open(&p, false).unwrap();
        let m = mem();
        // Past the end (sector 3 + 1024 bytes), and a sector number that overflows.
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_IN, 3, vec![(0x1000, 1024, true)])), 1);
        assert_eq!(status(&m), VIRTIO_BLK_S_IOERR);
        assert_eq!(b.execute(&m, &req(VIRTIO_BLK_T_OUT, u64::MAX / 2, vec![(0x1000, 512, false)])), 1);
        assert_eq!(status(&m), VIRTIO_BLK_S_IOERR);
        // A read into a device-readable buffer is malformed.
        b.execute(&m, &req(VIRTIO_BLK_T_IN, 0, vec![(0x1000, 512, false)]));
        assert_eq!(status(&m), VIRTIO_BLK_S_IOERR);
        // Unknown type.
        b.execute(&m, &req(VIRTIO_BLK_T_DISCARD, 0, vec![]));
        assert_eq!(status(&m), VIRTIO_BLK_S_UNSUPP);
        // Read-only: writes fail and the file is unchanged; reads work; RO is offered.
        let ro = Block::open(&p, true).unwrap();
        assert_ne!(ro.features() & (1 << VIRTIO_BLK_F_RO), 0);
        m.write_slice(&[0x77; 512], GuestAddress(0x3000)).unwrap();
        ro.execute(&m, &req(VIRTIO_BLK_T_OUT, 0, vec![(0x3000, 512, false)]));
        assert_eq!(status(&m), VIRTIO_BLK_S_IOERR);
        assert!(std::fs::read(&p).unwrap().iter().all(|&x| x == 0x11));
        ro.execute(&m, &req(VIRTIO_BLK_T_IN, 0, vec![(0x3000, 512, true)]));
        assert_eq!(status(&m), VIRTIO_BLK_S_OK);
        std::fs::remove_file(&p).unwrap();
        // Missing file.
        let e = Block::open(Path::new("/nonexistent/disk.img"), false).err().unwrap();
        assert_eq!(e.to_string(), "--disk /nonexistent/disk.img: No such file or directory (os error 2)");
        // Not writable: the hint (root may write anyway, so the message is built here).
        let hint = " (it is not writable: pass --disk-ro to attach it read-only)";
        let e = BlockError::Open { path: "d.img".into(), source: std::io::Error::from_raw_os_error(libc::EACCES), hint };
        assert_eq!(e.to_string(), "--disk d.img: Permission denied (os error 13) (it is not writable: pass --disk-ro to attach it read-only)");
        assert_eq!(Block::open(Path::new("/proc/self"), true).err().unwrap().to_string(), "--disk /proc/self: not a regular file");
    }

    #[test]
    fn parse_chain() {
        let m = mem();
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&VIRTIO_BLK_T_IN.to_le_bytes());
        hdr[8..16].copy_from_slice(&7u64.to_le_bytes());
        m.write_slice(&hdr, GuestAddress(0x500)).unwrap();
        let w = VRING_DESC_F_WRITE as u16;
        let chain = vec![Descriptor::new(0x500, 16, 0, 0), Descriptor::new(0x1000, 4096, w, 0), Descriptor::new(0x600, 1, w, 0)];
        let r = Block::parse(&m, chain.into_iter()).unwrap();
        assert_eq!(r, Request { kind: VIRTIO_BLK_T_IN, sector: 7, data: vec![(GuestAddress(0x1000), 4096, true)], status: GuestAddress(0x600) });
        // No status descriptor; a writable header.
        assert!(Block::parse(&m, vec![Descriptor::new(0x500, 16, 0, 0)].into_iter()).is_err());
        assert!(Block::parse(&m, vec![Descriptor::new(0x500, 16, w, 0), Descriptor::new(0x600, 1, w, 0)].into_iter()).is_err());
    }
}
