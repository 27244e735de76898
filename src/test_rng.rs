//! Deterministic stand-ins for the OS's random number generator: the handshake takes a
//! `CryptoRng`, and a test, benchmark or fuzz input must replay with the same nonces.
//! Never use these outside tests: they are not random at all.

use core::convert::Infallible;

/// SplitMix64 from a seed: distinct, well-mixed nonces, the same for the same seed.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    /// A generator seeded from the clock and the process id, for tests that want
    /// different nonces from run to run (print the seed where a failure needs it).
    pub fn from_clock() -> SplitMix {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        SplitMix(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    /// The current state: `SplitMix::new(rng.seed())` replays from here.
    pub fn seed(&self) -> u64 {
        self.0
    }
}

impl rand_core::TryRng for SplitMix {
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

impl rand_core::TryCryptoRng for SplitMix {}

/// Bytes counting up from the starting value plus one (wrapping): nonces a person can
/// read in a failing test's output.
#[derive(Debug, Clone)]
pub struct Counter(pub u8);

impl rand_core::TryRng for Counter {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from(self.0))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from(self.0))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Counter {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::TryRng;

    #[test]
    fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
        let fill = |seed| {
            let mut bytes = [0u8; 20];
            SplitMix::new(seed).try_fill_bytes(&mut bytes).unwrap();
            bytes
        };
        assert_eq!(fill(7), fill(7));
        assert_ne!(fill(7), fill(8));
    }

    #[test]
    fn counter_counts_up_from_the_byte_after_its_start() {
        let mut bytes = [0u8; 3];
        Counter(254).try_fill_bytes(&mut bytes).unwrap();
        assert_eq!(bytes, [255, 0, 1]);
    }
}
