//! Data augmentation of spike-event samples, with the semantics of stork's
//! `SpikingDataset.add_noise` / `get_valid` (stork/datasets.py, Rossbroich, Gygax & Zenke):
//!
//! 1. **time jitter:** every spike time gets Gaussian noise, `t ← t + N(0, σ_t²)`;
//! 2. **unit jitter:** every spike's unit id gets noise — stork's `sigma_u`, which despite its
//!    name is uniform on `[−w/2, w/2)`; a Gaussian `N(0, σ²)` is also offered;
//! 3. **unit shift:** all spikes of a sample move by one common Gaussian offset `N(0, σ²)`
//!    (stork's `sigma_u_uniform`);
//! 4. **deletion:** every spike is removed with probability `p` (stork's `p_drop`);
//! 5. **insertion:** `⌊rate · channels · duration⌋` spikes at uniformly drawn times in
//!    `[0, duration)` and units in `0..channels` are added (stork's `p_insert` per time cell
//!    of a grid with steps `dt` is the rate `p_insert / dt`);
//! 6. **borders:** a jittered unit position `u` becomes unit `⌊u⌋` (stork truncates with
//!    `.long()` after filtering, the same for the positions kept); spikes with `u < 0`,
//!    `⌊u⌋ ≥ channels` or a time `< 0` are dropped. Times at or after the sample's window are
//!    dropped later, when the sample is binned.
//!
//! Every draw of one sample comes from its own ChaCha8 stream, so a sample's augmentation
//! depends only on the seed and the sample, not on the batch it is in.

use super::dataset::EventSample;
use super::rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which transforms are applied to training samples; everything is off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Standard deviation of the Gaussian time jitter of each spike, in seconds (0: off).
    pub time_jitter_s: f64,
    /// Noise on each spike's unit id (none: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_jitter: Option<UnitJitter>,
    /// Standard deviation of the per-sample Gaussian shift of all unit ids, in channels.
    pub unit_shift_std: f64,
    /// Probability of deleting each spike.
    pub delete_prob: f64,
    /// Rate of inserted spikes per channel, in Hz.
    pub insert_rate_hz: f64,
}

/// The distribution of the per-spike unit jitter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum UnitJitter {
    /// Uniform on `[−width/2, width/2)`: stork's `sigma_u = width`.
    Uniform {
        /// Width of the interval, in channels.
        width: f64,
    },
    /// Gaussian `N(0, std²)`.
    Gaussian {
        /// Standard deviation, in channels.
        std: f64,
    },
}

impl AugmentConfig {
    /// Whether any transform is on.
    pub fn is_active(&self) -> bool {
        self.time_jitter_s > 0.0
            || self.unit_jitter.is_some()
            || self.unit_shift_std > 0.0
            || self.delete_prob > 0.0
            || self.insert_rate_hz > 0.0
    }

    /// Checks every value; the error names the field (relative to the augment table).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let non_negative = |field, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err((field, format!("must be a finite number ≥ 0, got {v}")))
            }
        };
        non_negative("time_jitter_s", self.time_jitter_s)?;
        non_negative("unit_shift_std", self.unit_shift_std)?;
        non_negative("insert_rate_hz", self.insert_rate_hz)?;
        match self.unit_jitter {
            Some(UnitJitter::Uniform { width }) => non_negative("unit_jitter.width", width)?,
            Some(UnitJitter::Gaussian { std }) => non_negative("unit_jitter.std", std)?,
            None => {}
        }
        let p = self.delete_prob;
        if (0.0..1.0).contains(&p) {
            Ok(())
        } else {
            Err(("delete_prob", format!("must lie in [0, 1), got {p}")))
        }
    }

    /// `sample` with every transform applied, drawn from stream `stream` of `seed`.
    ///
    /// `channels` and `duration_s` are the dataset's; the result's unit ids are below
    /// `channels` and its times non-negative.
    pub fn apply(
        &self,
        sample: &EventSample,
        channels: usize,
        duration_s: f64,
        seed: u64,
        stream: u64,
    ) -> EventSample {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        let shift = self.unit_shift_std * rng::normal(&mut rng);
        let mut out = EventSample {
            times_s: Vec::with_capacity(sample.len()),
            units: Vec::with_capacity(sample.len()),
            target: sample.target.clone(),
        };
        for (&time_s, &unit) in sample.times_s.iter().zip(&sample.units) {
            let time_s = f64::from(time_s) + self.time_jitter_s * rng::normal(&mut rng);
            let position = f64::from(unit) + shift + self.unit_noise(&mut rng);
            let deleted = self.delete_prob > 0.0 && rng::unit_f64(&mut rng) < self.delete_prob;
            let unit = position.floor();
            if deleted || time_s < 0.0 || unit < 0.0 || unit >= channels as f64 {
                continue;
            }
            out.times_s.push(time_s as f32);
            out.units.push(unit as u32);
        }
        let inserted = (self.insert_rate_hz * channels as f64 * duration_s).floor() as usize;
        for _ in 0..inserted {
            out.times_s
                .push((rng::unit_f64(&mut rng) * duration_s) as f32);
            out.units.push(rng::below(&mut rng, channels as u64) as u32);
        }
        out
    }

    fn unit_noise(&self, rng: &mut ChaCha8Rng) -> f64 {
        match self.unit_jitter {
            None => 0.0,
            Some(UnitJitter::Uniform { width }) => (rng::unit_f64(rng) - 0.5) * width,
            Some(UnitJitter::Gaussian { std }) => std * rng::normal(rng),
        }
    }
}

#[cfg(test)]
mod tests;
