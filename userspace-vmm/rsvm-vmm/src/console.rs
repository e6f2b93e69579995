//! The console's I/O on the I/O thread: COM1's output (buffered by the vCPU threads in
//! [`OutBuf`]) to stdout, and stdin into COM1's receive FIFO, as far as it has room; the
//! rest waits until the guest has read the FIFO empty ([`RxReady`], vm-superio's
//! `in_buffer_empty` event). Ctrl-A x quits, Ctrl-A Ctrl-A sends a Ctrl-A.
//!
//! A stdin epoll cannot watch (a regular file, /dev/null) is copied into a socket pair by a
//! small thread, which the loop watches instead.

use crate::exit::{ExitSignal, VmExit};
use crate::serial::Com1;
use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use vm_superio::serial::SerialEvents;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Output the guest may have waiting before more is dropped (stdout stuck).
const OUT_MAX: usize = 1 << 20;
const CTRL_A: u8 = 0x01;

/// COM1's output between the vCPU that wrote it and the I/O thread.
pub struct OutBuf {
    data: Mutex<Vec<u8>>,
    /// Written when `data` turns non-empty.
    ready: EventFd,
    /// Where it goes; the lock also keeps two drains in order.
    out: Mutex<Box<dyn Write + Send>>,
}

impl OutBuf {
    pub fn new(out: Box<dyn Write + Send>) -> std::io::Result<Self> {
        Ok(Self { data: Mutex::new(Vec::new()), ready: EventFd::new(EFD_NONBLOCK)?, out: Mutex::new(out) })
    }

    /// From the UART (a vCPU thread): one eventfd write per batch, not per byte.
    pub fn push(&self, b: &[u8]) {
        let Ok(mut d) = self.data.lock() else { return };
        let was_empty = d.is_empty();
        let room = OUT_MAX.saturating_sub(d.len());
        d.extend_from_slice(&b[..b.len().min(room)]);
        if was_empty && !d.is_empty() {
            let _ = self.ready.write(1);
        }
    }

    /// Writes out what is buffered (the I/O thread; the main thread once more at the end).
    pub fn drain(&self) {
        let Ok(mut out) = self.out.lock() else { return };
        let _ = self.ready.read();
        let data = match self.data.lock() {
            Ok(mut d) => std::mem::take(&mut *d),
            Err(_) => return,
        };
        // A closed stdout must not stop the guest: output is dropped.
        let _ = out.write_all(&data);
        let _ = out.flush();
    }
}

/// COM1's receive FIFO went empty (the guest read it all): more input may go in.
pub struct RxReady(EventFd);

impl RxReady {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self(EventFd::new(EFD_NONBLOCK)?))
    }
}

impl SerialEvents for RxReady {
    fn buffer_read(&self) {}
    fn out_byte(&self) {}
    fn tx_lost_byte(&self) {}
    fn in_buffer_empty(&self) {
        let _ = self.0.write(1);
    }
}

/// Ctrl-A handling on the input: what goes to the guest, and whether the user quit.
#[derive(Default)]
pub struct Escape {
    pending: bool,
}

impl Escape {
    /// Appends the bytes for the guest to `to_guest`; true when Ctrl-A x was typed (the rest
    /// of the input is dropped).
    pub fn feed(&mut self, input: &[u8], to_guest: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.pending {
                self.pending = false;
                match b {
                    b'x' | b'X' => return true,
                    CTRL_A => to_guest.push(CTRL_A),
                    _ => to_guest.extend_from_slice(&[CTRL_A, b]),
                }
            } else if b == CTRL_A {
                self.pending = true;
            } else {
                to_guest.push(b);
            }
        }
        false
    }
}

/// Where the input comes from.
enum Input {
    Stdin,
    /// The read end of the socket pair a copier thread fills from stdin.
    Copied(UnixStream),
}

pub struct Console {
    com1: Arc<Mutex<Com1>>,
    out: Arc<OutBuf>,
    rx_ready: Arc<RxReady>,
    input: Option<Input>,
    /// Whether the input fd is in the epoll set (not while `pending` waits for room).
    watching: bool,
    pending: Vec<u8>,
    escape: Escape,
    exit: Arc<ExitSignal>,
}

impl Console {
    /// `sandbox`: the stdin copier (if one is needed) runs under its seccomp filter.
    pub fn new(com1: Arc<Mutex<Com1>>, out: Arc<OutBuf>, rx_ready: Arc<RxReady>, exit: Arc<ExitSignal>, sandbox: bool) -> std::io::Result<Self> {
        let input = if pollable(libc::STDIN_FILENO) { Input::Stdin } else { Input::Copied(copier(sandbox)?) };
        Ok(Self { com1, out, rx_ready, input: Some(input), watching: false, pending: Vec::new(), escape: Escape::default(), exit })
    }

    fn input_fd(&self) -> Option<RawFd> {
        match self.input.as_ref()? {
            Input::Stdin => Some(libc::STDIN_FILENO),
            Input::Copied(s) => Some(s.as_raw_fd()),
        }
    }

    fn read_input(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.input.as_mut() {
            // Straight from fd 0: std's Stdin buffers, and bytes in its buffer would not
            // wake epoll.
            Some(Input::Stdin) => {
                // SAFETY: read(2) into `buf`, which is valid for buf.len() bytes.
                let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
            }
            Some(Input::Copied(s)) => s.read(buf),
            None => Ok(0),
        }
    }

    /// Moves pending input into the FIFO as far as it has room; true if all went in.
    fn flush_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let done = match self.com1.lock() {
            Ok(mut s) => s.enqueue_raw_bytes(&self.pending).unwrap_or(0),
            Err(_) => 0,
        };
        self.pending.drain(..done);
        self.pending.is_empty()
    }

    fn watch_input(&mut self, ops: &mut EventOps, on: bool) {
        let Some(fd) = self.input_fd() else { return };
        if on == self.watching {
            return;
        }
        let ev = Events::new_raw(fd, EventSet::IN);
        let r = if on { ops.add(ev) } else { ops.remove(ev) };
        match r {
            Ok(()) => self.watching = on,
            Err(e) => log::error!("console: stdin in the event loop: {e}"),
        }
    }

    fn on_input(&mut self, ops: &mut EventOps) {
        let mut buf = [0u8; 256];
        let n = match self.read_input(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted || e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => 0,
        };
        if n == 0 {
            // EOF: the guest keeps running without input.
            self.watch_input(ops, false);
            self.input = None;
            return;
        }
        let mut input = Vec::with_capacity(n);
        if self.escape.feed(&buf[..n], &mut input) {
            self.exit.request(VmExit::UserQuit);
        }
        self.pending.extend_from_slice(&input);
        if !self.flush_pending() {
            // No room: stop reading until the guest has drained the FIFO.
            self.watch_input(ops, false);
        }
    }
}

impl MutEventSubscriber for Console {
    fn init(&mut self, ops: &mut EventOps) {
        for fd in [self.out.ready.as_raw_fd(), self.rx_ready.0.as_raw_fd()] {
            if let Err(e) = ops.add(Events::new_raw(fd, EventSet::IN)) {
                log::error!("console: eventfd in the event loop: {e}");
            }
        }
        self.watch_input(ops, true);
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.out.ready.as_raw_fd() {
            self.out.drain();
        } else if fd == self.rx_ready.0.as_raw_fd() {
            let _ = self.rx_ready.0.read();
            if self.flush_pending() && self.input.is_some() {
                self.watch_input(ops, true);
            }
        } else if Some(fd) == self.input_fd() {
            self.on_input(ops);
        }
    }
}

/// Whether epoll can watch `fd` (not a regular file or /dev/null: EPERM).
fn pollable(fd: RawFd) -> bool {
    let Ok(ep) = Epoll::new() else { return false };
    ep.ctl(ControlOperation::Add, fd, EpollEvent::new(EventSet::IN, 0)).is_ok()
}

/// A thread copying stdin into a socket pair until EOF; returns the read end.
fn copier(sandbox: bool) -> std::io::Result<UnixStream> {
    let (rx, mut tx) = UnixStream::pair()?;
    std::thread::Builder::new().name("stdin-copy".into()).spawn(move || {
        crate::seccomp::apply_or_exit(crate::seccomp::ThreadKind::StdinCopy, sandbox);
        // A plain read/write loop: std::io::copy may pick splice or sendfile, which this
        // thread's seccomp filter does not allow.
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    })?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut e = Escape::default();
        let mut g = Vec::new();
        assert!(!e.feed(b"ls\x01\x01a\x01", &mut g));
        assert_eq!(g, b"ls\x01a");
        // The escape spans reads.
        assert!(!e.feed(b"b", &mut g));
        assert_eq!(g, b"ls\x01a\x01b");
        assert!(e.feed(b"\x01x rest", &mut g));
        assert_eq!(g, b"ls\x01a\x01b");
    }

    use crate::testutil::Shared;

    #[test]
    fn out_buffer() {
        let sink = Shared::default();
        let b = OutBuf::new(Box::new(sink.clone())).unwrap();
        b.push(b"abc");
        b.push(b"def");
        // One wake-up for the batch.
        assert_eq!(b.ready.read().unwrap(), 1);
        assert!(sink.0.lock().unwrap().is_empty());
        b.drain();
        assert_eq!(*sink.0.lock().unwrap(), b"abcdef");
        // Bounded: a stuck stdout drops what does not fit.
        b.push(&vec![b'x'; OUT_MAX + 10]);
        b.drain();
        assert_eq!(sink.0.lock().unwrap().len(), 6 + OUT_MAX);
        assert!(!pollable(std::fs::File::open("/dev/null").unwrap().as_raw_fd()));
    }
}
