//! rsvm-api: a client for rsvm-vmm's control socket (--api-sock), for scripts and tests.
//!
//!   rsvm-api SOCKET REQUEST...
//!
//! Each REQUEST is sent as one line: a bare word (`pause`, `stats`) as {"cmd":"WORD"},
//! anything else verbatim. Each answer line is printed. Exit status: 0 if every answer
//! has "ok":true, 1 if one does not, 2 if the socket cannot be used.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn line_for(req: &str) -> String {
    if !req.is_empty() && req.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        format!("{{\"cmd\":\"{req}\"}}\n")
    } else {
        format!("{req}\n")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((sock, reqs)) = args.split_first().filter(|(_, r)| !r.is_empty()) else {
        eprintln!("usage: rsvm-api SOCKET REQUEST...  (REQUEST: pause, resume, power-button, reset, stats, or a JSON line)");
        std::process::exit(2);
    };
    let mut s = match UnixStream::connect(sock) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rsvm-api: {sock}: {e}");
            std::process::exit(2);
        }
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut r = BufReader::new(match s.try_clone() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rsvm-api: {sock}: {e}");
            std::process::exit(2);
        }
    });
    let mut status = 0;
    for req in reqs {
        if let Err(e) = s.write_all(line_for(req).as_bytes()) {
            eprintln!("rsvm-api: {sock}: {e}");
            std::process::exit(2);
        }
        let mut answer = String::new();
        match r.read_line(&mut answer) {
            Ok(n) if n > 0 => {}
            Ok(_) => {
                eprintln!("rsvm-api: {sock}: closed without an answer to {req}");
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("rsvm-api: {sock}: {e}");
                std::process::exit(2);
            }
        }
        print!("{answer}");
        if !answer.contains("\"ok\":true") {
            status = 1;
        }
    }
    std::process::exit(status);
}
