//! The step context: where in a forward pass a model step happens, and the counter-based
//! random numbers stochastic models draw there.
//!
//! A random number is a pure function of `(stream, step, sample, neuron)`, where the stream
//! is derived from the run's seed, the epoch, the batch, the layer and the trial
//! ([`NoiseStream::derive`]). No generator state is carried between steps or shared between
//! threads, so a forward pass draws the same numbers whatever the number of threads, and the
//! backward pass can recompute a stochastic spike from the saved membrane potential.

use crate::real::Real;

/// The seed of one forward pass's random numbers (one per layer, batch and trial).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoiseStream(pub u64);

impl NoiseStream {
    /// The stream for `keys` (e.g. `[epoch, batch, layer, trial]`) under `seed`.
    pub fn derive(seed: u64, keys: &[u64]) -> Self {
        Self(keys.iter().fold(mix(seed), |h, &k| mix(h ^ mix(k))))
    }

    /// The stream of sub-part `key` of this one (e.g. a layer of a network's stream).
    pub fn child(self, key: u64) -> Self {
        Self(mix(self.0 ^ mix(key.wrapping_add(0x6A09_E667_F3BC_C909))))
    }

    /// A uniform number in `[0, 1)` for `(step, sample, neuron)`.
    ///
    /// The coordinates are packed into one counter (24 bits of step, 20 of sample, 20 of
    /// neuron) and hashed as SplitMix64 hashes its counter; coordinates beyond those ranges are
    /// hashed one after the other instead.
    #[inline(always)]
    pub fn uniform<F: Real>(self, step: usize, sample: usize, neuron: usize) -> F {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let h = if step < 1 << 24 && sample < 1 << 20 && neuron < 1 << 20 {
            let counter = ((step as u64) << 40) | ((sample as u64) << 20) | neuron as u64;
            mix(self
                .0
                .wrapping_add(counter.wrapping_add(1).wrapping_mul(GAMMA)))
        } else {
            let h = mix(self.0 ^ (step as u64).wrapping_mul(GAMMA) ^ (1 << 63));
            let h = mix(h ^ (sample as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            mix(h ^ (neuron as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7))
        };
        // The top 53 bits as a double in [0, 1); rounding to f32 could give 1.0, so clamp.
        let u = (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let v = F::from_f64(u);
        if v < F::one() {
            v
        } else {
            F::from_f64(1.0 - f64::from(f32::EPSILON))
        }
    }
}

/// The SplitMix64 finalizer: a bijective, well-mixing 64-bit hash.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Where one row of a model step happens: the absolute step, the sample within the batch,
/// and the forward pass's noise stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepContext {
    /// The time step (0-based, from the start of the sequence).
    pub step: usize,
    /// The sample's index within the batch.
    pub sample: usize,
    /// The random numbers of this forward pass.
    pub noise: NoiseStream,
}

impl StepContext {
    /// The uniform number in `[0, 1)` of `neuron` at this step and sample.
    #[inline(always)]
    pub fn uniform<F: Real>(&self, neuron: usize) -> F {
        self.noise.uniform(self.step, self.sample, neuron)
    }

    /// The context of the previous step of the same sample (`step` must be at least 1).
    #[inline(always)]
    pub fn previous(&self) -> Self {
        Self {
            step: self.step - 1,
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_numbers_are_uniform_and_keyed_by_every_coordinate() {
        let s = NoiseStream::derive(7, &[1, 2, 3]);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|i| s.uniform(i % 100, i / 100, 3)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / n as f64;
        // Mean 1/2 and variance 1/12, within five standard errors.
        assert!(
            (mean - 0.5).abs() < 5.0 * (1.0 / 12.0 / n as f64).sqrt(),
            "{mean}"
        );
        assert!((var - 1.0 / 12.0).abs() < 0.002, "{var}");
        // Ten equal bins each within five standard errors of n/10.
        let mut bins = [0usize; 10];
        draws.iter().for_each(|u| bins[(u * 10.0) as usize] += 1);
        let sd = (n as f64 * 0.1 * 0.9).sqrt();
        assert!(bins
            .iter()
            .all(|&b| (b as f64 - n as f64 / 10.0).abs() < 5.0 * sd));
        let u = |st: NoiseStream, t, b, j| st.uniform::<f64>(t, b, j);
        let base = u(s, 4, 5, 6);
        assert_ne!(base, u(s, 5, 5, 6));
        assert_ne!(base, u(s, 4, 6, 6));
        assert_ne!(base, u(s, 4, 5, 7));
        assert_ne!(base, u(NoiseStream::derive(7, &[1, 2, 4]), 4, 5, 6));
        assert_ne!(base, u(s.child(1), 4, 5, 6));
        assert_eq!(base, u(s, 4, 5, 6));
        // Coordinates beyond the packed ranges still give distinct, uniform numbers.
        let far: Vec<f64> = (0..20_000)
            .map(|i| s.uniform(1 << 25, i, 1 << 21))
            .collect();
        let mean = far.iter().sum::<f64>() / far.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert_ne!(u(s, 1 << 25, 0, 0), u(s, 1 << 25, 1, 0));
    }

    #[test]
    fn f32_draws_stay_below_one() {
        let s = NoiseStream(3);
        assert!((0..100_000).all(|i| s.uniform::<f32>(i, 0, 0) < 1.0));
    }
}
