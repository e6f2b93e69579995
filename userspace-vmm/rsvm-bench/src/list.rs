//! The circular list of the article's experiment: `struct list { struct list *n; long
//! pad[NPAD]; }`, elements laid out contiguously, linked in sequential or random order.

/// Link order of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Each element points at the next one in memory (the last at the first).
    Sequential,
    /// A single random cycle through all elements (Sattolo's algorithm).
    Random,
}

/// Size in bytes of one element with `npad` padding words.
pub fn element_size(npad: usize) -> usize {
    8 * (1 + npad)
}

/// Number of elements of a list occupying `working_set` bytes.
pub fn element_count(working_set: usize, npad: usize) -> usize {
    working_set / element_size(npad)
}

/// A small deterministic generator (xorshift64*), so runs are repeatable without a
/// dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// The successor of each element: a single cycle through all `n` elements.
pub fn successors(n: usize, order: Order, seed: u64) -> Vec<usize> {
    let mut next: Vec<usize> = (0..n).map(|i| (i + 1) % n.max(1)).collect();
    if order == Order::Random && n > 1 {
        // Sattolo: a uniformly random permutation that is one cycle.
        let mut perm: Vec<usize> = (0..n).collect();
        let mut rng = Rng::new(seed);
        for i in (1..n).rev() {
            let j = rng.below(i as u64) as usize;
            perm.swap(i, j);
        }
        // perm as a cycle: element perm[k] -> perm[k+1].
        for k in 0..n {
            next[perm[k]] = perm[(k + 1) % n];
        }
    }
    next
}

/// Writes the list into `buf`, which will be seen at address `base`: element `i` is at
/// `base + i * element_size(npad)` and its first word holds its successor's address; the
/// padding words are zero. Returns the address of element 0.
///
/// Panics if `buf` cannot hold `count` elements (a harness bug, not input).
pub fn build(buf: &mut [u8], base: u64, count: usize, npad: usize, order: Order, seed: u64) -> u64 {
    let size = element_size(npad);
    assert!(buf.len() >= count * size, "buffer too small for the list");
    buf[..count * size].fill(0);
    for (i, s) in successors(count, order, seed).into_iter().enumerate() {
        let at = i * size;
        buf[at..at + 8].copy_from_slice(&(base + (s * size) as u64).to_le_bytes());
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(buf: &[u8], base: u64, npad: usize, steps: usize) -> Vec<usize> {
        let size = element_size(npad) as u64;
        let mut p = base;
        let mut seen = Vec::new();
        for _ in 0..steps {
            let i = ((p - base) / size) as usize;
            seen.push(i);
            p = u64::from_le_bytes(buf[i * size as usize..i * size as usize + 8].try_into().unwrap());
        }
        seen
    }

    #[test]
    fn every_element_visited_once_per_lap() {
        for order in [Order::Sequential, Order::Random] {
            for npad in [0, 7] {
                for n in [1, 2, 3, 17, 1000] {
                    let mut buf = vec![0xaau8; n * element_size(npad)];
                    let first = build(&mut buf, 0x10_0000, n, npad, order, 42);
                    let lap = walk(&buf, first, npad, n);
                    let mut sorted = lap.clone();
                    sorted.sort();
                    assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "{order:?} npad {npad} n {n}: one visit each");
                    // And the lap closes: step n is element 0 again.
                    assert_eq!(walk(&buf, first, npad, n + 1)[n], 0);
                }
            }
        }
    }

    #[test]
    fn sizes_and_padding() {
        assert_eq!(element_size(0), 8);
        assert_eq!(element_size(7), 64);
        assert_eq!(element_count(1 << 20, 7), 1 << 14);
        let mut buf = vec![0xffu8; 4 * 64];
        build(&mut buf, 0, 4, 7, Order::Sequential, 1);
        for i in 0..4 {
            assert!(buf[i * 64 + 8..(i + 1) * 64].iter().all(|&b| b == 0), "padding zeroed");
        }
    }

    #[test]
    fn sequential_is_in_address_order_and_random_is_not() {
        let s = successors(100, Order::Sequential, 0);
        assert!(s.iter().enumerate().all(|(i, &n)| n == (i + 1) % 100));
        let r = successors(100, Order::Random, 7);
        assert!(r.iter().enumerate().filter(|(i, n)| **n == (i + 1) % 100).count() < 10);
        assert_eq!(r, successors(100, Order::Random, 7), "deterministic for a seed");
    }

    #[test]
    fn rng_below_is_in_range() {
        let mut r = Rng::new(3);
        for n in 1..50u64 {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
    }
}
