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

/// A standard normal draw (Box–Muller on two [`unit_f64`] draws; the second value is not
/// kept, so every call consumes exactly two `u64`s).
pub(crate) fn normal(rng: &mut impl RngCore) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let radius = (-2.0 * (1.0 - unit_f64(rng)).ln()).sqrt();
    radius * (std::f64::consts::TAU * unit_f64(rng)).cos()
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
    fn normal_has_zero_mean_and_unit_variance() {
        let mut rng = seeded(5);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: 1/√n ≈ 0.0022 for the mean, √(2/n) ≈ 0.0032 for the variance.
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.015, "{var}");
        let beyond_2 = draws.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
        assert!((beyond_2 - 0.0455).abs() < 0.003, "{beyond_2}");
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
