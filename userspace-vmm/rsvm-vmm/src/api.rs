//! The control socket (--api-sock PATH): a Unix stream socket served by the I/O thread. One
//! JSON object per line in, one per line out:
//!
//! ```text
//! {"cmd":"pause"}         -> {"ok":true}        every vCPU stopped (the console goes quiet)
//! {"cmd":"resume"}        -> {"ok":true}
//! {"cmd":"power-button"}  -> {"ok":true}        ACPI power button (GED interrupt)
//! {"cmd":"reset"}         -> {"ok":true}        ends the run as a guest reset does (status 0)
//! {"cmd":"stats"}         -> {"ok":true,"paused":false,"exits":{...},"devices":{...}}
//! {"cmd":"debug-forbidden-syscall"}           with --api-debug only: the I/O thread makes
//!                                             a syscall its seccomp filter traps
//! anything else           -> {"ok":false,"error":"..."}
//! ```

use crate::control::VmControl;
use crate::exit::{ExitSignal, VmExit};
use crate::ioapic::IrqLine;
use crate::stats::Stats;
use crate::virtio::Counters;
use event_manager::{EventOps, EventSet, Events, MutEventSubscriber};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest request line; a longer one gets an error and the connection is closed.
const MAX_LINE: usize = 4096;
/// Connections served at once.
const MAX_CONNS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("--api-sock {}: {source}", .path.display())]
    Bind { path: PathBuf, source: std::io::Error },
    #[error("--api-sock {}: exists and is not a socket", .path.display())]
    NotASocket { path: PathBuf },
}

/// What the requests act on.
pub struct ApiTargets {
    pub control: Arc<VmControl>,
    pub exit: Arc<ExitSignal>,
    pub stats: Arc<Stats>,
    pub devices: Vec<Arc<Counters>>,
    /// The ACPI power button's GED interrupt (None with --no-acpi).
    pub power_button: Option<IrqLine>,
    /// --api-debug: requests that exist for tests (debug-forbidden-syscall).
    pub debug: bool,
}

pub struct ApiServer {
    listener: UnixListener,
    conns: HashMap<RawFd, (UnixStream, Vec<u8>)>,
    targets: ApiTargets,
}

/// Binds PATH; a stale socket left there by an earlier run is replaced, anything else is not.
pub fn bind(path: &Path) -> Result<UnixListener, ApiError> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(ApiError::NotASocket { path: path.into() });
        }
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path).map_err(|source| ApiError::Bind { path: path.into(), source })?;
    l.set_nonblocking(true).map_err(|source| ApiError::Bind { path: path.into(), source })?;
    Ok(l)
}

impl ApiServer {
    pub fn new(listener: UnixListener, targets: ApiTargets) -> Self {
        Self { listener, conns: HashMap::new(), targets }
    }

    /// One request line to its answer.
    pub fn handle(&self, line: &[u8]) -> Value {
        match self.request(line) {
            Ok(Value::Null) => json!({"ok": true}),
            Ok(v) => v,
            Err(e) => json!({"ok": false, "error": e}),
        }
    }

    fn request(&self, line: &[u8]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
        let cmd = v.get("cmd").and_then(Value::as_str).ok_or("expected {\"cmd\": \"...\"}")?;
        let t = &self.targets;
        match cmd {
            "pause" => t.control.pause().map(|()| Value::Null),
            "resume" => {
                t.control.resume();
                Ok(Value::Null)
            }
            "power-button" => {
                let irq = t.power_button.as_ref().ok_or("no ACPI power button (--no-acpi)")?;
                irq.pulse();
                Ok(Value::Null)
            }
            "reset" => {
                t.exit.request(VmExit::Reset);
                Ok(Value::Null)
            }
            "stats" => Ok(self.stats()),
            // Makes the I/O thread do what its seccomp filter forbids: the sandbox must trap
            // it and end the VMM (the answer only comes without the sandbox).
            "debug-forbidden-syscall" if t.debug => {
                crate::seccomp::forbidden_syscall();
                Ok(json!({"ok": true, "sandbox": false}))
            }
            "debug-forbidden-syscall" => Err("debug requests need --api-debug".into()),
            other => Err(format!("unknown cmd '{other}' (pause, resume, power-button, reset, stats)")),
        }
    }

    fn stats(&self) -> Value {
        let t = &self.targets;
        let exits: Map<String, Value> = t.stats.by_reason().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect();
        let devices: Map<String, Value> = t
            .devices
            .iter()
            .map(|c| (c.device.clone(), Value::Object(c.snapshot().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect())))
            .collect();
        json!({"ok": true, "paused": t.control.is_paused(), "exits": exits, "devices": devices})
    }

    fn accept(&mut self, ops: &mut EventOps) {
        while let Ok((s, _)) = self.listener.accept() {
            if self.conns.len() >= MAX_CONNS {
                let mut s = s;
                let _ = s.write_all(b"{\"ok\":false,\"error\":\"too many connections\"}\n");
                continue;
            }
            if s.set_nonblocking(true).is_err() || ops.add(Events::new(&s, EventSet::IN | EventSet::READ_HANG_UP)).is_err() {
                continue;
            }
            self.conns.insert(s.as_raw_fd(), (s, Vec::new()));
        }
    }

    /// Reads what the client sent and answers each complete line; false to close.
    fn serve(&mut self, fd: RawFd) -> bool {
        let mut answers = Vec::new();
        let open = {
            let Some((s, buf)) = self.conns.get_mut(&fd) else { return false };
            let mut chunk = [0u8; 1024];
            let open = loop {
                match s.read(&mut chunk) {
                    Ok(0) => break false,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
                if buf.len() > MAX_LINE && !buf[..MAX_LINE].contains(&b'\n') {
                    break false;
                }
            };
            let mut lines = Vec::new();
            while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                lines.push(buf.drain(..=i).collect::<Vec<u8>>());
            }
            let too_long = buf.len() > MAX_LINE;
            (open && !too_long, lines, too_long)
        };
        let (open, lines, too_long) = open;
        for l in lines {
            let l = l.strip_suffix(b"\n").unwrap_or(&l);
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            if l.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            answers.push(self.handle(l));
        }
        if too_long {
            answers.push(json!({"ok": false, "error": format!("request longer than {MAX_LINE} bytes")}));
        }
        if let Some((s, _)) = self.conns.get_mut(&fd) {
            // Answers are short; a client that does not read them loses them.
            let _ = s.set_nonblocking(false);
            let _ = s.set_write_timeout(Some(std::time::Duration::from_secs(1)));
            for a in answers {
                let _ = s.write_all(format!("{a}\n").as_bytes());
            }
            let _ = s.set_nonblocking(true);
        }
        open
    }
}

impl MutEventSubscriber for ApiServer {
    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.listener, EventSet::IN)) {
            log::error!("--api-sock: cannot watch the socket: {e}");
        }
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.listener.as_raw_fd() {
            self.accept(ops);
            return;
        }
        let hangup = events.event_set().intersects(EventSet::READ_HANG_UP | EventSet::HANG_UP | EventSet::ERROR);
        let open = self.serve(fd) && !hangup;
        if !open {
            if let Some((s, _)) = self.conns.remove(&fd) {
                let _ = ops.remove(Events::new(&s, EventSet::IN | EventSet::READ_HANG_UP));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_manager::{EventManager, SubscriberOps};
    use std::io::{BufRead, BufReader};
    use std::sync::Mutex;

    fn server(path: &Path) -> (ApiServer, Arc<ExitSignal>, Arc<Counters>) {
        let exit = Arc::new(ExitSignal::default());
        let stats = Arc::new(Stats::new(false));
        stats.bump(1);
        let disk = Arc::new(Counters::new("disk0".into(), &["requests", "errors"]));
        disk.add(0, 3);
        let targets = ApiTargets { control: Arc::new(VmControl::default()), exit: exit.clone(), stats, devices: vec![disk.clone()], power_button: None, debug: false };
        (ApiServer::new(bind(path).unwrap(), targets), exit, disk)
    }

    #[test]
    fn requests() {
        let path = std::env::temp_dir().join(format!("rsvm-vmm-api-{}", std::process::id()));
        let (s, exit, _) = server(&path);
        let err = |l: &str| s.handle(l.as_bytes())["error"].as_str().unwrap_or("").to_string();
        assert!(err("pause").starts_with("not JSON: "), "{}", err("pause"));
        assert_eq!(err("{\"command\":\"pause\"}"), "expected {\"cmd\": \"...\"}");
        assert_eq!(err("{\"cmd\":7}"), "expected {\"cmd\": \"...\"}");
        assert_eq!(err("{\"cmd\":\"launch\"}"), "unknown cmd 'launch' (pause, resume, power-button, reset, stats)");
        assert_eq!(err("{\"cmd\":\"power-button\"}"), "no ACPI power button (--no-acpi)");
        assert_eq!(err("{\"cmd\":\"debug-forbidden-syscall\"}"), "debug requests need --api-debug");
        // No vCPUs here: pause returns at once, and stats say so.
        assert_eq!(s.handle(br#"{"cmd":"pause"}"#), json!({"ok": true}));
        let st = s.handle(br#"{"cmd":"stats"}"#);
        assert_eq!((st["ok"].clone(), st["paused"].clone()), (json!(true), json!(true)));
        assert_eq!((st["exits"]["io-out"].clone(), st["exits"]["total"].clone()), (json!(1), json!(1)));
        assert_eq!(st["devices"]["disk0"], json!({"requests": 3, "errors": 0}));
        assert_eq!(s.handle(br#"{"cmd":"resume"}"#), json!({"ok": true}));
        assert!(!exit.is_set());
        assert_eq!(s.handle(br#"{"cmd":"reset"}"#), json!({"ok": true}));
        assert_eq!(exit.wait(None), VmExit::Reset);
        // A stale socket is replaced; a file that is not a socket is not.
        drop(s);
        let (s, _, _) = server(&path);
        drop(s);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"x").unwrap();
        assert!(matches!(bind(&path), Err(ApiError::NotASocket { .. })));
        std::fs::remove_file(&path).unwrap();
    }

    /// Through the socket and the event loop: answers in order, a bad line does not end the
    /// connection, an over-long line does.
    #[test]
    fn over_the_socket() {
        let path = std::env::temp_dir().join(format!("rsvm-vmm-api-sock-{}", std::process::id()));
        let (s, _, _) = server(&path);
        let mut em: EventManager<Arc<Mutex<dyn MutEventSubscriber + Send>>> = EventManager::new().unwrap();
        em.add_subscriber(Arc::new(Mutex::new(s)));
        let mut c = UnixStream::connect(&path).unwrap();
        em.run_with_timeout(1000).unwrap(); // accept
        c.write_all(b"{\"cmd\":\"stats\"}\n}{\n\n{\"cmd\":\"resume\"}\n").unwrap();
        em.run_with_timeout(1000).unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        let mut line = String::new();
        let mut answers = Vec::new();
        for _ in 0..3 {
            line.clear();
            r.read_line(&mut line).unwrap();
            answers.push(serde_json::from_str::<Value>(&line).unwrap());
        }
        assert_eq!(answers[0]["ok"], json!(true));
        assert_eq!(answers[1]["ok"], json!(false));
        assert_eq!(answers[2], json!({"ok": true}));
        c.write_all(&vec![b'x'; MAX_LINE + 10]).unwrap();
        em.run_with_timeout(1000).unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(line.contains("request longer than 4096 bytes"), "{line}");
        line.clear();
        assert_eq!(r.read_line(&mut line).unwrap(), 0, "closed after an over-long line");
        std::fs::remove_file(&path).unwrap();
    }
}
