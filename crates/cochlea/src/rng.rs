//! Version-stable random draws on top of ChaCha8: only the raw `u64` stream, whose values
//! `rand_chacha` keeps stable (the same helpers as the `spikegrad` library's).

use rand::RngCore;

/// The generator for `seed`.
#[cfg(test)]
pub(crate) fn seeded(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// A uniform draw from `[0, 1)` with 53 random bits.
pub(crate) fn unit_f64(rng: &mut impl RngCore) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}
