//! The `synthetic_reaching` data source: center-out reaches with minimum-jerk trajectories
//! and cosine-tuned Poisson channels, binned and split like the recordings.
//!
//! The cursor starts at the center and alternates between reaches out to one of 8 targets
//! on a circle (drawn at random) and reaches back to the center, each reach lasting
//! `reach_ms` (drawn per reach) and followed by a hold of `hold_ms`: during a reach from
//! `x₀` to `x₁` over `n` steps, `x(τ) = x₀ + (x₁ − x₀)(10τ³ − 15τ⁴ + 6τ⁵)` with `τ = i/n`.
//! The target position switches to the next destination when a reach begins, so segments
//! are reach-and-hold pairs. The velocity is computed from the position exactly as for the
//! recordings (position units, mm, per 4 ms step).
//!
//! Channel `c` has a preferred direction `d_c`, a baseline `b_c` and a modulation `m_c`
//! (the rate change at [`REFERENCE_SPEED_MM_S`] along `d_c`): its rate is
//! `r_c = max(0, b_c + (m_c / 200 mm/s)·(v·d_c))` with `v` in mm/s, and it spikes in a 4 ms
//! step with probability `1 − exp(−r_c·4 ms)` (a Poisson process seen through the
//! recordings' 0/1 bins).

use super::primate::{default_hop_steps, default_sample_steps, default_train_ratio};
use super::{binning, session_samples, ReachingData, ReachingWindows, Session, BIN_S};
use crate::data::{rng, DataError};
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

/// The speed at which a channel's rate changes by its modulation, in mm/s (about the
/// mean speed of an 80 mm reach in 550 ms).
pub const REFERENCE_SPEED_MM_S: f64 = 200.0;

/// Number of reach targets on the circle.
pub const TARGETS: usize = 8;

/// The synthetic reaching task; every field has a default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticReachingConfig {
    /// Input channels (default 96, as Indy's arrays; Loco's recordings have 192).
    pub channels: usize,
    /// Length of the session in seconds (default 600).
    pub duration_s: f64,
    /// Seed of every draw (tuning, reaches, spikes).
    pub seed: u64,
    /// Distance from the center to the targets, in mm (default 80).
    pub reach_mm: f64,
    /// Range of reach durations in ms, drawn uniformly per reach (default 400–700).
    pub reach_ms: [f64; 2],
    /// Range of hold durations in ms after each reach (default 200–500).
    pub hold_ms: [f64; 2],
    /// Range of baseline rates in Hz, drawn uniformly per channel (default 5–20).
    pub baseline_hz: [f64; 2],
    /// Range of modulations in Hz (rate change at 200 mm/s along the preferred direction),
    /// drawn uniformly per channel (default 5–25).
    pub modulation_hz: [f64; 2],
    /// Steps of 4 ms per sample (default 500).
    pub sample_steps: usize,
    /// Steps between the starts of training windows (default 100).
    pub hop_steps: usize,
    /// Fraction of segments for training (default 0.5).
    pub train_ratio: f64,
}

impl Default for SyntheticReachingConfig {
    fn default() -> Self {
        Self {
            channels: 96,
            duration_s: 600.0,
            seed: 0,
            reach_mm: 80.0,
            reach_ms: [400.0, 700.0],
            hold_ms: [200.0, 500.0],
            baseline_hz: [5.0, 20.0],
            modulation_hz: [5.0, 25.0],
            sample_steps: default_sample_steps(),
            hop_steps: default_hop_steps(),
            train_ratio: default_train_ratio(),
        }
    }
}

/// One channel's tuning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelTuning {
    /// Preferred direction, radians from the x axis.
    pub preferred_rad: f64,
    /// Rate at rest, Hz.
    pub baseline_hz: f64,
    /// Rate change at [`REFERENCE_SPEED_MM_S`] along the preferred direction, Hz.
    pub modulation_hz: f64,
}

/// A generated session and the tuning that produced it.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticReaching {
    /// The binned session.
    pub session: Session,
    /// The cursor position per step, mm.
    pub position: Vec<[f64; 2]>,
    /// Per channel, its tuning.
    pub tuning: Vec<ChannelTuning>,
}

impl SyntheticReachingConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |field, reason: &str| DataError::InvalidReachingConfig {
            field,
            reason: reason.to_string(),
        };
        if self.channels == 0 || u32::try_from(self.channels).is_err() {
            return Err(invalid("channels", "must be between 1 and 2^32 - 1"));
        }
        let steps = self.duration_s / BIN_S;
        if !(2.0..=1e8).contains(&steps) {
            return Err(invalid("duration_s", "must give 2 to 10^8 steps of 4 ms"));
        }
        if !(self.reach_mm.is_finite() && self.reach_mm > 0.0) {
            return Err(invalid("reach_mm", "must be finite and positive"));
        }
        let range = |field, [lo, hi]: [f64; 2], min: f64| {
            if lo.is_finite() && hi.is_finite() && lo >= min && lo <= hi {
                Ok(())
            } else {
                Err(invalid(
                    field,
                    "must be [low, high] with finite low <= high, low >= 0 (durations >= 4 ms)",
                ))
            }
        };
        range("reach_ms", self.reach_ms, BIN_S * 1e3)?;
        range("hold_ms", self.hold_ms, 0.0)?;
        range("baseline_hz", self.baseline_hz, 0.0)?;
        range("modulation_hz", self.modulation_hz, 0.0)?;
        self.windows().validate()
    }

    /// The windowing and split settings.
    pub fn windows(&self) -> ReachingWindows {
        ReachingWindows {
            sample_steps: self.sample_steps,
            hop_steps: self.hop_steps,
            train_ratio: self.train_ratio,
        }
    }

    /// Generates the session, splits it and cuts it into samples.
    pub fn generate(&self) -> Result<ReachingData, DataError> {
        session_samples(&generate_reaching(self)?.session, &self.windows())
    }
}

/// Generates the session of `config` (seeded: the same config gives the same session).
pub fn generate_reaching(config: &SyntheticReachingConfig) -> Result<SyntheticReaching, DataError> {
    config.validate()?;
    let mut rng = rng::seeded(config.seed);
    let lerp = |[lo, hi]: [f64; 2], u: f64| lo + (hi - lo) * u;
    let tuning: Vec<ChannelTuning> = (0..config.channels)
        .map(|_| ChannelTuning {
            preferred_rad: TAU * rng::unit_f64(&mut rng),
            baseline_hz: lerp(config.baseline_hz, rng::unit_f64(&mut rng)),
            modulation_hz: lerp(config.modulation_hz, rng::unit_f64(&mut rng)),
        })
        .collect();
    let steps = (config.duration_s / BIN_S).round() as usize;
    let (position, target_pos) = trajectory(config, steps, &mut rng);
    let velocity = binning::velocity(&position);
    let directions: Vec<[f64; 2]> = tuning
        .iter()
        .map(|t| [t.preferred_rad.cos(), t.preferred_rad.sin()])
        .collect();
    let active = velocity
        .iter()
        .map(|v| {
            let v_mm_s = [f64::from(v[0]) / BIN_S, f64::from(v[1]) / BIN_S];
            (0..config.channels as u32)
                .filter(|&c| {
                    let (t, d) = (&tuning[c as usize], directions[c as usize]);
                    let along = v_mm_s[0] * d[0] + v_mm_s[1] * d[1];
                    let rate =
                        (t.baseline_hz + t.modulation_hz / REFERENCE_SPEED_MM_S * along).max(0.0);
                    rng::unit_f64(&mut rng) < 1.0 - (-rate * BIN_S).exp()
                })
                .collect()
        })
        .collect();
    Ok(SyntheticReaching {
        session: Session {
            channels: config.channels,
            active,
            velocity,
            target_pos,
        },
        position,
        tuning,
    })
}

/// The cursor and target positions of `steps` steps of center-out reaches.
fn trajectory(
    config: &SyntheticReachingConfig,
    steps: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let draw_steps = |rng: &mut rand_chacha::ChaCha8Rng, [lo, hi]: [f64; 2]| {
        let ms = lo + (hi - lo) * rng::unit_f64(rng);
        (ms * 1e-3 / BIN_S).round() as usize
    };
    let center = [0.0, 0.0];
    let mut position = Vec::with_capacity(steps);
    let mut target_pos = Vec::with_capacity(steps);
    // An initial hold at the center.
    let hold = draw_steps(rng, config.hold_ms);
    for _ in 0..hold.min(steps) {
        position.push(center);
        target_pos.push(center);
    }
    let mut here = center;
    let mut outward = true;
    while position.len() < steps {
        let there = if outward {
            let angle = TAU * rng::below(rng, TARGETS as u64) as f64 / TARGETS as f64;
            [config.reach_mm * angle.cos(), config.reach_mm * angle.sin()]
        } else {
            center
        };
        let reach = draw_steps(rng, config.reach_ms).max(1);
        let hold = draw_steps(rng, config.hold_ms);
        for i in 0..reach + hold {
            let tau = (i as f64 / reach as f64).min(1.0);
            let s = tau * tau * tau * (10.0 - 15.0 * tau + 6.0 * tau * tau);
            position.push([
                here[0] + (there[0] - here[0]) * s,
                here[1] + (there[1] - here[1]) * s,
            ]);
            target_pos.push(there);
        }
        here = there;
        outward = !outward;
    }
    position.truncate(steps);
    target_pos.truncate(steps);
    (position, target_pos)
}
