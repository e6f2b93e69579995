//! rsvm-fuzz: a structure-aware fuzzer of the KVM ioctl ABI (issue 15 section 5). See
//! prog.rs for what a program is, exec.rs for how it runs, guest.rs for guest programs.
//!
//! A supervisor process forks a worker that runs programs seed, seed+1, ... and after each
//! one checks the oracles: new kernel-log lines of trouble (WARN, BUG, lockdep, ...) and
//! rsvm's leak counters back at their baseline once every fd is closed. The supervisor
//! prints the figures and watches the worker: if it dies by a signal or stops making calls
//! (a hang in the module), it reports the program and the call, shows the stuck threads'
//! kernel stacks, and restarts the worker at the next seed. Every finding prints the line
//! that replays it: `rsvm-fuzz --dev D --seed S --progs 1 --print --inline`.

mod exec;
mod guest;
mod prog;
mod rng;
mod state;
mod sys;

use clap::Parser;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
#[command(about = "Structure-aware fuzzer of the KVM ioctl ABI on /dev/rsvm or /dev/kvm")]
struct Args {
    /// The device: /dev/rsvm, or /dev/kvm for kvm_amd (leak counters are rsvm's only).
    #[arg(long, default_value = "/dev/rsvm")]
    dev: String,
    /// First program's seed (program i runs seed + i); default: from the clock.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many programs.
    #[arg(long)]
    progs: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Random calls per program (after its VM-building start).
    #[arg(long, default_value_t = 100)]
    len: usize,
    /// Print each program's calls before running it (the reproducer's listing).
    #[arg(long)]
    print: bool,
    /// Run in this process, without the supervisor (for replaying one seed).
    #[arg(long)]
    inline: bool,
    /// Also generate memslots of more than 4 GiB (the page-array gap of issue 15 section 2).
    #[arg(long)]
    big_slots: bool,
    /// A worker making no call for this long is hung.
    #[arg(long, default_value_t = 60)]
    stall_secs: u64,
    /// Exit non-zero at the first finding instead of going on.
    #[arg(long)]
    stop_on_find: bool,
}

fn replay_line(a: &Args, seed: u64) -> String {
    format!("rsvm-fuzz --dev {} --seed {seed} --len {} --progs 1 --print --inline{}", a.dev, a.len, if a.big_slots { " --big-slots" } else { "" })
}

fn print_prog(p: &[prog::Op]) {
    for (i, op) in p.iter().enumerate() {
        println!("  #{i:<3} {op:?}");
    }
}

/// Runs one program and closes everything it opened.
fn run_program(a: &Args, seed: u64) -> Result<(), String> {
    let p = prog::generate(seed, a.len, a.big_slots);
    if a.print {
        println!("program seed={seed} ({} calls):", p.len());
        print_prog(&p);
    }
    let sh = sys::shared();
    sh.seed.store(seed, Ordering::SeqCst);
    let mut e = exec::Exec::new(&a.dev, seed)?;
    let mut i = 0;
    while i < p.len() {
        sh.call.store(i as u64, Ordering::SeqCst);
        i = e.exec(&p, i);
        sh.calls.fetch_add(1, Ordering::Relaxed);
    }
    e.finish();
    Ok(())
}

/// The worker: programs until told to stop; the oracles after each.
fn worker(a: &Args, base: u64) -> ! {
    guest::install_handlers();
    let sh = sys::shared();
    let mut kmsg = sys::Kmsg::open();
    let mut baseline = sys::counters();
    loop {
        let idx = sh.next.load(Ordering::SeqCst);
        if sh.stop.load(Ordering::SeqCst) != 0 || a.progs.is_some_and(|n| idx >= n) {
            // SAFETY: ends the worker.
            unsafe { libc::_exit(0) };
        }
        let seed = base.wrapping_add(idx);
        if let Err(e) = run_program(a, seed) {
            eprintln!("rsvm-fuzz: {e}");
            // SAFETY: ends the worker.
            unsafe { libc::_exit(2) };
        }
        sh.programs.fetch_add(1, Ordering::Relaxed);
        let mut finding = Vec::new();
        let t = kmsg.trouble();
        if !t.is_empty() {
            finding.push(format!("kernel log after the program (may also be asynchronous, e.g. kmemleak):\n    {}", t.join("\n    ")));
        }
        if let Some(b) = baseline {
            // Releases run at fput, before close returns; a few retries cover RCU-deferred frees.
            let mut now = sys::counters();
            for _ in 0..20 {
                if now == Some(b) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
                now = sys::counters();
            }
            if now != Some(b) {
                finding.push(format!("leak: (pages_held, pinned_pages) = {now:?} after the program, {b:?} before"));
                baseline = now;
            }
        }
        if !finding.is_empty() {
            sh.findings.fetch_add(1, Ordering::SeqCst);
            println!("rsvm-fuzz: FINDING in program seed={seed}: {}", finding.join("; "));
            println!("rsvm-fuzz: reproduce: {}", replay_line(a, seed));
            print_prog(&prog::generate(seed, a.len, a.big_slots));
            if a.stop_on_find {
                // SAFETY: ends the worker.
                unsafe { libc::_exit(3) };
            }
        }
        sh.next.store(idx + 1, Ordering::SeqCst);
    }
}

/// Prints the kernel stacks of every thread of `pid` and of its children (a hang's evidence).
fn show_stacks(pid: i32) {
    let mut pids = vec![pid];
    if let Ok(c) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(c.split_whitespace().filter_map(|s| s.parse::<i32>().ok()));
    }
    for p in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for t in tasks.flatten() {
            let d = t.path();
            let st = std::fs::read_to_string(d.join("stat")).unwrap_or_default();
            let stack = std::fs::read_to_string(d.join("stack")).unwrap_or_else(|_| "(no /proc/.../stack)".into());
            println!("rsvm-fuzz:   task {}: {}\n{}", d.display(), st.split(')').nth(1).unwrap_or("").trim(), stack.trim_end());
        }
    }
}

fn figures(sh: &sys::Shared, t0: Instant, what: &str) {
    let s = t0.elapsed().as_secs_f64().max(0.001);
    let (i, g, p) = (sh.ioctls.load(Ordering::Relaxed), sh.guests.load(Ordering::Relaxed), sh.programs.load(Ordering::Relaxed));
    println!(
        "rsvm-fuzz: {what} {s:.0} s: {p} programs, {i} ioctls ({:.0}/s), {g} guest programs ({:.1}/s), {} findings",
        i as f64 / s,
        g as f64 / s,
        sh.findings.load(Ordering::Relaxed)
    );
}

fn main() {
    let a = Args::parse();
    let base = a.seed.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1));
    let sh = sys::shared();
    if a.inline {
        guest::install_handlers();
        let n = a.progs.unwrap_or(1);
        let mut kmsg = sys::Kmsg::open();
        for i in 0..n {
            if let Err(e) = run_program(&a, base.wrapping_add(i)) {
                eprintln!("rsvm-fuzz: {e}");
                std::process::exit(2);
            }
        }
        let t = kmsg.trouble();
        println!("rsvm-fuzz: {} ioctls, {} guest programs; kernel log: {}", sh.ioctls.load(Ordering::Relaxed), sh.guests.load(Ordering::Relaxed), if t.is_empty() { "clean".to_string() } else { t.join(" | ") });
        std::process::exit(if t.is_empty() { 0 } else { 1 });
    }
    println!("rsvm-fuzz: {} seeds from {base}, {} calls each, {} s{}", a.dev, a.len, a.secs, a.progs.map(|n| format!(", {n} programs")).unwrap_or_default());
    let t0 = Instant::now();
    let mut last_report = Instant::now();
    let mut errors = 0;
    'workers: loop {
        // SAFETY: the supervisor is single-threaded here; the child runs `worker` and never
        // returns.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            worker(&a, base);
        }
        let (mut last_calls, mut last_move) = (sh.calls.load(Ordering::SeqCst), Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let mut st = 0;
            // SAFETY: polls our own child.
            let done = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == pid;
            if done {
                let (seed, call) = (sh.seed.load(Ordering::SeqCst), sh.call.load(Ordering::SeqCst));
                if libc::WIFSIGNALED(st) {
                    sh.findings.fetch_add(1, Ordering::SeqCst);
                    println!("rsvm-fuzz: FINDING: the worker died by signal {} in program seed={seed} at call #{call}", libc::WTERMSIG(st));
                    println!("rsvm-fuzz: reproduce: {}", replay_line(&a, seed));
                    if a.stop_on_find {
                        break 'workers;
                    }
                    sh.next.fetch_add(1, Ordering::SeqCst);
                    continue 'workers;
                }
                let code = libc::WEXITSTATUS(st);
                if code == 2 {
                    errors += 1;
                }
                break 'workers;
            }
            if a.secs > 0 && t0.elapsed() >= Duration::from_secs(a.secs) {
                sh.stop.store(1, Ordering::SeqCst);
            }
            let c = sh.calls.load(Ordering::SeqCst);
            if c != last_calls {
                (last_calls, last_move) = (c, Instant::now());
            } else if last_move.elapsed() >= Duration::from_secs(a.stall_secs) {
                let (seed, call) = (sh.seed.load(Ordering::SeqCst), sh.call.load(Ordering::SeqCst));
                sh.findings.fetch_add(1, Ordering::SeqCst);
                println!("rsvm-fuzz: FINDING: hang: no call for {} s in program seed={seed} at call #{call}; kernel stacks:", a.stall_secs);
                show_stacks(pid);
                println!("rsvm-fuzz: reproduce: {}", replay_line(&a, seed));
                print_prog(&prog::generate(seed, a.len, a.big_slots));
                // SAFETY: kills and reaps our own (hung) worker.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut st, 0);
                }
                if a.stop_on_find {
                    break 'workers;
                }
                sh.next.fetch_add(1, Ordering::SeqCst);
                continue 'workers;
            }
            if last_report.elapsed() >= Duration::from_secs(10) {
                figures(sh, t0, "at");
                last_report = Instant::now();
            }
        }
    }
    figures(sh, t0, "done after");
    let ends: Vec<String> = ["hlt", "shutdown", "fail-entry", "timer", "max-exits", "error", "other"]
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n} {}", sh.ends[i].load(Ordering::Relaxed)))
        .collect();
    println!("rsvm-fuzz: guest runs ended by: {}", ends.join(", "));
    let other: Vec<String> =
        (0..64).filter(|&i| sh.reasons[i].load(Ordering::Relaxed) > 0).map(|i| format!("{i}: {}", sh.reasons[i].load(Ordering::Relaxed))).collect();
    println!("rsvm-fuzz: other exit reasons (kvm_run.exit_reason: count): {}", other.join(", "));
    println!("rsvm-fuzz: seeds {base}..{}", base.wrapping_add(sh.next.load(Ordering::SeqCst)));
    let f = sh.findings.load(Ordering::SeqCst);
    std::process::exit(if f > 0 { 1 } else if errors > 0 { 2 } else { 0 });
}
