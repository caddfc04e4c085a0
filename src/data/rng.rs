//! Version-stable random draws on top of ChaCha8.
//!
//! `rand`'s own range sampling and shuffling may change between releases; these helpers only
//! consume the raw `u64` stream of ChaCha8, whose values `rand_chacha` keeps stable.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator for `seed`.
pub(crate) fn seeded(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A uniform draw from `[0, 1)` with 53 random bits.
pub(crate) fn unit_f64(rng: &mut impl RngCore) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// A uniform draw from `0..n` (Lemire's multiply-and-reject, unbiased); `n` must be positive.
pub(crate) fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut product = u128::from(rng.next_u64()) * u128::from(n);
    if (product as u64) < n {
        // Reject the low products that would over-represent some outcomes.
        let threshold = n.wrapping_neg() % n;
        while (product as u64) < threshold {
            product = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (product >> 64) as u64
}

/// Shuffles `items` in place (Fisher–Yates, from the back).
pub(crate) fn shuffle<T>(rng: &mut impl RngCore, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = seeded(7);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[below(&mut rng, 5) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn unit_f64_is_in_unit_interval() {
        let mut rng = seeded(3);
        let draws: Vec<f64> = (0..10_000).map(|_| unit_f64(&mut rng)).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
