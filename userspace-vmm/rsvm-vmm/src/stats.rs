//! KVM_RUN exits counted by reason (and, with --stats, by port or MMIO address): what
//! `--stats` prints at the end and `--mark` reports on the console line it waits for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Exit reasons counted (KVM_EXIT_* as the VMM sees them).
pub const REASONS: [&str; 13] =
    ["io-in", "io-out", "mmio-read", "mmio-write", "hlt", "intr", "irq-window", "ioapic-eoi", "shutdown", "fail-entry", "internal-error", "system-event", "other"];

#[derive(Default)]
pub struct Stats {
    counts: [AtomicU64; REASONS.len()],
    /// Exits per (reason index, port or MMIO address), when `detail` is set (--stats).
    by_addr: Mutex<HashMap<(usize, u64), u64>>,
    detail: bool,
}

impl Stats {
    pub fn new(detail: bool) -> Self {
        Self { detail, ..Default::default() }
    }

    pub fn bump(&self, i: usize) {
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn bump_at(&self, i: usize, addr: u64) {
        self.bump(i);
        if self.detail {
            if let Ok(mut m) = self.by_addr.lock() {
                *m.entry((i, addr)).or_insert(0) += 1;
            }
        }
    }

    /// Exits counted so far, all reasons.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Exits by reason (every reason, zeros too), then "total".
    pub fn by_reason(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = REASONS.iter().zip(&self.counts).map(|(n, c)| (*n, c.load(Ordering::Relaxed))).collect();
        v.push(("total", self.total()));
        v
    }

    pub fn report(&self) -> String {
        let mut s = String::from("KVM_RUN exits by reason:\n");
        let mut total = 0;
        for (i, name) in REASONS.iter().enumerate() {
            let n = self.counts[i].load(Ordering::Relaxed);
            total += n;
            if n > 0 {
                s += &format!("  {name:<15} {n:>10}\n");
            }
        }
        s += &format!("  {:<15} {total:>10}", "total");
        if let Ok(m) = self.by_addr.lock() {
            let mut v: Vec<_> = m.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1));
            if !v.is_empty() {
                s += "\nbusiest ports and MMIO addresses:";
            }
            for ((i, addr), n) in v.into_iter().take(8) {
                s += &format!("\n  {:<15} {addr:#10x} {n:>10}", REASONS[*i]);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_report() {
        let s = Stats::new(true);
        for _ in 0..3 {
            s.bump_at(0, 0x3fd);
        }
        s.bump_at(3, 0xd000_0050);
        s.bump(5);
        let r = s.report();
        assert!(r.contains("io-in                    3"), "{r}");
        assert!(r.contains("total                    5"), "{r}");
        assert!(r.contains("io-in                0x3fd          3"), "{r}");
        assert!(r.contains("mmio-write      0xd0000050          1"), "{r}");
        assert!(!r.contains("hlt"), "zero counts are left out: {r}");
        let b = s.by_reason();
        assert_eq!((b[0], b[4], b[b.len() - 1]), (("io-in", 3), ("hlt", 0), ("total", 5)));
    }
}
