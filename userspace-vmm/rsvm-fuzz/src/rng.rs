//! The fuzzer's only source of randomness: SplitMix64 (Steele, Lea, Flood 2014), so that a
//! program is a pure function of its seed and a failure's seed reproduces its calls. No
//! crate: the generator is ten lines and its output must never change between versions, or
//! old reproducers stop reproducing.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n) (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    pub fn bytes(&mut self, out: &mut [u8]) {
        for c in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }

    /// A value syzkaller would call "interesting": boundaries, powers of two and their
    /// neighbours, all-ones, sign bits, or plain random.
    pub fn special_u64(&mut self) -> u64 {
        match self.below(8) {
            0 => self.pick(&[0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, u64::MAX, u64::MAX - 1, 1 << 63]),
            1 | 2 => {
                let b = self.below(64);
                let v = 1u64 << b;
                match self.below(3) {
                    0 => v,
                    1 => v.wrapping_sub(1),
                    _ => v.wrapping_add(1),
                }
            }
            3 => self.below(0x1000),
            _ => self.next(),
        }
    }

    /// A sub-generator seeded from this one (for blobs described by one number in a
    /// program: guest code, register images).
    pub fn fork(&mut self) -> u64 {
        self.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference output of SplitMix64 from seed 0 (as in Vigna's splitmix64.c): a change
        // here would silently invalidate every reproducer printed so far.
        let mut r = Rng::new(0);
        assert_eq!(r.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(7);
        assert!((0..10_000).all(|_| r.below(13) < 13));
    }
}
