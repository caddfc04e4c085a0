//! A temporal XOR in spike times (after SuperSpike's nonlinear task, Zenke & Ganguli 2018):
//! two binary variables are coded by when their input groups fire, and one output neuron
//! must fire at `target_ms` exactly when they differ.
//!
//! Three groups of `group_size` input channels each fire one spike per channel: group `A` at
//! `early_ms` (A = 0) or `late_ms` (A = 1), group `B` likewise, and a cue group at `cue_ms`
//! every trial. Every spike moves by a uniform offset of at most ±`jitter_ms`/2, drawn anew
//! for every sample, so the splits test generalisation. The target is one spike at
//! `target_ms` if `A ≠ B`, none otherwise; samples cycle through the four combinations.
//!
//! Why it needs a hidden layer: at the cue the membrane of a neuron reading the groups holds
//! `w_A r(A) + w_B r(B)` (`r` the residual of an early or a late volley), linear in the two
//! codes, and no threshold on a linear function of two binary codes is their XOR. A single
//! output can still fire at other times (an early volley alone), which the timing criterion
//! of [`spike_timing_correct`] counts as wrong.

use super::dataset::{EventDataset, EventSample, Target, TargetTrains};
use super::{rng, DataError};
use serde::{Deserialize, Serialize};

/// Mixed into the seed, so that the jitter is independent of other sources' draws.
const XOR_STREAM: u64 = 0xbb67_ae85_84ca_a73b;

/// The most samples a temporal-XOR dataset may hold.
pub const MAX_XOR_SAMPLES: usize = 100_000;

/// The most channels per group.
pub const MAX_XOR_GROUP: usize = 10_000;

/// Parameters of a temporal-XOR dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemporalXorConfig {
    /// Input channels per group (A, B and the cue: `3 × group_size` channels).
    pub group_size: usize,
    /// When a group coding 0 fires, in ms.
    pub early_ms: f64,
    /// When a group coding 1 fires, in ms.
    pub late_ms: f64,
    /// When the cue group fires, in ms.
    pub cue_ms: f64,
    /// When the output must fire if `A ≠ B`, in ms.
    pub target_ms: f64,
    /// The sample duration in ms.
    pub duration_ms: f64,
    /// Full width of the uniform jitter of every input spike, in ms.
    pub jitter_ms: f64,
    /// Samples (cycling through the four combinations).
    pub nb_samples: usize,
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for TemporalXorConfig {
    fn default() -> Self {
        Self {
            group_size: 20,
            early_ms: 10.0,
            late_ms: 30.0,
            cue_ms: 40.0,
            target_ms: 50.0,
            duration_ms: 80.0,
            jitter_ms: 4.0,
            nb_samples: 400,
            seed: 1,
        }
    }
}

impl TemporalXorConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |field, reason: String| Err(DataError::InvalidXorConfig { field, reason });
        if !(1..=MAX_XOR_GROUP).contains(&self.group_size) {
            return invalid("group_size", format!("must be in 1..={MAX_XOR_GROUP}"));
        }
        if !(4..=MAX_XOR_SAMPLES).contains(&self.nb_samples) {
            return invalid(
                "nb_samples",
                format!("must be in 4..={MAX_XOR_SAMPLES} (every combination at least once)"),
            );
        }
        if !(self.duration_ms.is_finite() && self.duration_ms > 0.0 && self.duration_ms <= 1e5) {
            return invalid("duration_ms", "must be in (0, 100000]".into());
        }
        let half = self.jitter_ms / 2.0;
        if !(self.jitter_ms.is_finite() && self.jitter_ms >= 0.0) {
            return invalid("jitter_ms", "must be finite and non-negative".into());
        }
        let times = [
            ("early_ms", self.early_ms),
            ("late_ms", self.late_ms),
            ("cue_ms", self.cue_ms),
        ];
        for (field, ms) in times {
            if !(ms - half >= 0.0 && ms + half < self.duration_ms) {
                let reason =
                    format!("must lie in [jitter_ms/2, duration_ms − jitter_ms/2), got {ms}");
                return invalid(field, reason);
            }
        }
        if self.early_ms >= self.late_ms {
            return invalid("late_ms", "must be later than early_ms".into());
        }
        if !(self.target_ms >= 0.0 && self.target_ms < self.duration_ms) {
            return invalid("target_ms", "must lie in [0, duration_ms)".into());
        }
        Ok(())
    }

    /// Whether sample `index` codes `A ≠ B`.
    pub fn differs(index: usize) -> bool {
        let (a, b) = (index & 1, (index >> 1) & 1);
        a != b
    }
}

/// The dataset of `config`.
pub fn generate_xor(config: &TemporalXorConfig) -> Result<EventDataset, DataError> {
    config.validate()?;
    let mut draw = rng::seeded(config.seed ^ XOR_STREAM);
    let n = config.group_size;
    let samples = (0..config.nb_samples)
        .map(|index| {
            let code = |bit: usize| match bit {
                0 => config.early_ms,
                _ => config.late_ms,
            };
            let groups = [code(index & 1), code((index >> 1) & 1), config.cue_ms];
            let (mut times_s, mut units) = (Vec::new(), Vec::new());
            for (g, &ms) in groups.iter().enumerate() {
                for unit in 0..n {
                    let offset = config.jitter_ms * (rng::unit_f64(&mut draw) - 0.5);
                    times_s.push(((ms + offset) * 1e-3) as f32);
                    units.push((g * n + unit) as u32);
                }
            }
            let differs = TemporalXorConfig::differs(index);
            let target = TargetTrains {
                times_s: differs
                    .then_some((config.target_ms * 1e-3) as f32)
                    .into_iter()
                    .collect(),
                units: differs.then_some(0).into_iter().collect(),
                channels: 1,
            };
            EventSample {
                times_s,
                units,
                target: Target::Trains(target),
            }
        })
        .collect();
    EventDataset::new(samples, 3 * n, None, config.duration_ms * 1e-3)
}

/// Whether the `output` spike times of one channel match its `target` spike times within
/// `tolerance` (all three in one unit): every target spike has an output spike that near, and
/// every output spike a target spike (so a silent target wants a silent output).
pub fn spike_timing_correct(output: &[f64], target: &[f64], tolerance: f64) -> bool {
    let near = |t: f64, set: &[f64]| set.iter().any(|&s| (s - t).abs() <= tolerance);
    target.iter().all(|&t| near(t, output)) && output.iter().all(|&t| near(t, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_code_the_four_combinations_and_target_their_xor() {
        let config = TemporalXorConfig {
            nb_samples: 8,
            ..TemporalXorConfig::default()
        };
        let data = generate_xor(&config).unwrap();
        assert_eq!((data.len(), data.channels), (8, 60));
        for (index, sample) in data.samples.iter().enumerate() {
            let Target::Trains(t) = &sample.target else {
                panic!("trains")
            };
            assert_eq!(
                t.times_s.len(),
                usize::from(TemporalXorConfig::differs(index))
            );
            let mean_ms = |g: u32| {
                let times: Vec<f64> = (0..sample.len())
                    .filter(|&k| sample.units[k] / 20 == g)
                    .map(|k| f64::from(sample.times_s[k]) * 1e3)
                    .collect();
                assert_eq!(times.len(), 20);
                assert!(times.iter().all(|&t| (t - times[0]).abs() <= 4.0));
                times.iter().sum::<f64>() / 20.0
            };
            let a = if index & 1 == 1 { 30.0 } else { 10.0 };
            let b = if index & 2 == 2 { 30.0 } else { 10.0 };
            assert!((mean_ms(0) - a).abs() < 2.0 && (mean_ms(1) - b).abs() < 2.0);
            assert!((mean_ms(2) - 40.0).abs() < 2.0);
        }
        assert_ne!(
            data.samples[0].times_s, data.samples[4].times_s,
            "fresh jitter"
        );
    }

    #[test]
    fn impossible_configs_are_refused_by_name() {
        let bad = [
            TemporalXorConfig {
                group_size: 0,
                ..Default::default()
            },
            TemporalXorConfig {
                late_ms: 5.0,
                ..Default::default()
            },
            TemporalXorConfig {
                cue_ms: 79.0,
                ..Default::default()
            },
            TemporalXorConfig {
                jitter_ms: f64::NAN,
                ..Default::default()
            },
            TemporalXorConfig {
                nb_samples: 3,
                ..Default::default()
            },
        ];
        let fields = ["group_size", "late_ms", "cue_ms", "jitter_ms", "nb_samples"];
        for (config, field) in bad.iter().zip(fields) {
            let err = generate_xor(config).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn timing_criterion_wants_every_spike_matched() {
        assert!(spike_timing_correct(&[0.051], &[0.05], 0.005));
        assert!(spike_timing_correct(&[], &[], 0.005));
        assert!(!spike_timing_correct(&[], &[0.05], 0.005));
        assert!(!spike_timing_correct(&[0.05, 0.02], &[0.05], 0.005));
        assert!(!spike_timing_correct(&[0.03], &[], 0.005));
    }
}
