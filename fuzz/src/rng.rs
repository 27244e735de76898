//! A fixed-seed random number generator, so that a fuzz input replays exactly.

use core::convert::Infallible;

/// SplitMix64 from a fixed seed. Not random at all: the core takes a `CryptoRng`, and
/// a fuzz run needs the same nonces every time an input is replayed.
pub struct FixedRng(u64);

impl FixedRng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> FixedRng {
        FixedRng(seed)
    }
}

impl rand_core::TryRng for FixedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|n| (n >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let n = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for FixedRng {}
