//! The evidence-accumulation task of the e-prop paper as an event dataset.
//!
//! Bellec et al. (2020), "A solution to the learning dilemma for recurrent networks of spiking
//! neurons", Nature Communications, Fig. 3; the defaults are those of the tutorial in
//! `IGITUGraz/eligibility_propagation` (`generate_click_task_data` and the evidence
//! accumulation tutorial with ALIF neurons), written from its description.
//!
//! A sample shows a sequence of cues on the left or the right and then, after a delay, a
//! recall cue; the network must answer which side had more cues. With `G` channels per group
//! there are `4G` input channels:
//!
//! ```text
//! channels [0, G)     left cue       Poisson at cue_rate_hz while a left cue is active
//! channels [G, 2G)    right cue      Poisson at cue_rate_hz while a right cue is active
//! channels [2G, 3G)   recall cue     Poisson at cue_rate_hz during the last recall_ms
//! channels [3G, 4G)   background     Poisson at background_rate_hz during the whole sample
//! ```
//!
//! Timing, in ms (paper values in brackets): the sample lasts
//! `T = n_cues · cue_spacing_ms + tail_ms` [7 · 150 + 1200 = 2250]; cue `k` (0-based) is active
//! on `[s_k, s_k + cue_ms)` with `s_k = k · cue_spacing_ms + (cue_spacing_ms − cue_ms)`
//! [`50 + 150 k`, 100 ms long, after 50 ms of silence]; the recall cue on `[T − recall_ms, T)`
//! [the last 150 ms].
//!
//! Per sample, the majority side is left or right with probability 1/2; each cue then lies on
//! the majority side with probability `p_majority` [0.7], otherwise on the other side,
//! independently. The label is 1 ("right") if more than `n_cues / 2` of the cues are right
//! cues, else 0 ("left").
//!
//! Spikes are drawn as in the reference, one Bernoulli draw of probability `rate · 1 ms` per
//! 1 ms bin and channel, and a spike is placed at its bin's start `t_ms · 1 ms`; binning at
//! `dt = 1 ms` therefore gives exactly the reference's spike matrices (in distribution: the
//! draws are ChaCha8, not NumPy's generator), deterministically per seed.

use std::ops::Range;

use rand::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::{EventDataset, EventSample, Target};
use super::{rng, DataError};

/// The length of the bins in which spikes are drawn, in seconds (the reference's dt).
const BIN_S: f64 = 1e-3;

/// Input channel groups (left cue, right cue, recall, background), in channel order.
const GROUPS: usize = 4;

/// The highest rate a 1 ms Bernoulli draw can express: one spike per bin.
const MAX_RATE_HZ: f64 = 1.0 / BIN_S;

/// The four groups of input channels, in channel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelGroup {
    /// Active during left cues.
    LeftCue,
    /// Active during right cues.
    RightCue,
    /// Active during the recall window at the end.
    Recall,
    /// Active during the whole sample.
    Background,
}

/// Parameters of an evidence-accumulation dataset; the defaults are the paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Number of samples in all (labels are drawn, so classes are balanced on average).
    pub nb_samples: usize,
    /// Cues per sample; odd, so that every sample has a majority side.
    pub n_cues: usize,
    /// How long each cue is active, in ms.
    pub cue_ms: usize,
    /// Distance between the starts of consecutive cues, in ms; each cue is preceded by
    /// `cue_spacing_ms − cue_ms` of silence.
    pub cue_spacing_ms: usize,
    /// Time after the last cue's slot, in ms; it includes the recall window at its end.
    pub tail_ms: usize,
    /// The recall window at the end of the sample, in ms.
    pub recall_ms: usize,
    /// Input channels per group (4 groups: left, right, recall, background).
    pub channels_per_group: usize,
    /// Rate of an active cue's channels and of the recall channels, in Hz.
    pub cue_rate_hz: f64,
    /// Rate of the background channels, in Hz.
    pub background_rate_hz: f64,
    /// Probability that a cue lies on the sample's majority side, in `[0.5, 1]`.
    pub p_majority: f64,
    /// Master seed of every draw.
    pub seed: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            nb_samples: 2000,
            n_cues: 7,
            cue_ms: 100,
            cue_spacing_ms: 150,
            tail_ms: 1200,
            recall_ms: 150,
            channels_per_group: 10,
            cue_rate_hz: 40.0,
            background_rate_hz: 10.0,
            p_majority: 0.7,
            seed: 42,
        }
    }
}

impl EvidenceConfig {
    /// Checks that every field is usable: counts at least 1, an odd number of cues, a cue no
    /// longer than its spacing, a recall window within the tail, rates in `[0, 1000]` Hz (at
    /// most one spike per 1 ms bin), `p_majority` in `[0.5, 1]`, and sizes that fit the
    /// `u32` unit ids and `usize` times.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid =
            |field, reason: String| Err(DataError::InvalidEvidenceConfig { field, reason });
        let counts = [
            ("nb_samples", self.nb_samples),
            ("n_cues", self.n_cues),
            ("cue_ms", self.cue_ms),
            ("recall_ms", self.recall_ms),
            ("channels_per_group", self.channels_per_group),
        ];
        if let Some((field, _)) = counts.iter().find(|(_, count)| *count == 0) {
            return invalid(field, "must be at least 1".into());
        }
        if self.n_cues.is_multiple_of(2) {
            let reason = format!(
                "must be odd so that every sample has a majority side, got {}",
                self.n_cues
            );
            return invalid("n_cues", reason);
        }
        if self.cue_ms > self.cue_spacing_ms {
            let reason = format!(
                "({}) must not exceed cue_spacing_ms ({})",
                self.cue_ms, self.cue_spacing_ms
            );
            return invalid("cue_ms", reason);
        }
        if self.recall_ms > self.tail_ms {
            let reason = format!(
                "({}) must not exceed tail_ms ({}), which holds the recall window",
                self.recall_ms, self.tail_ms
            );
            return invalid("recall_ms", reason);
        }
        if self
            .channels_per_group
            .checked_mul(GROUPS)
            .is_none_or(|channels| channels > u32::MAX as usize)
        {
            return invalid(
                "channels_per_group",
                "times 4 must fit a u32 unit id".into(),
            );
        }
        if self
            .n_cues
            .checked_mul(self.cue_spacing_ms)
            .and_then(|cues| cues.checked_add(self.tail_ms))
            .is_none()
        {
            return invalid(
                "tail_ms",
                "plus n_cues · cue_spacing_ms overflows the sample length".into(),
            );
        }
        for (field, rate) in [
            ("cue_rate_hz", self.cue_rate_hz),
            ("background_rate_hz", self.background_rate_hz),
        ] {
            if !(0.0..=MAX_RATE_HZ).contains(&rate) {
                let reason = format!(
                    "must lie in [0, {MAX_RATE_HZ}] Hz (at most one spike per 1 ms bin), got {rate}"
                );
                return invalid(field, reason);
            }
        }
        if !(0.5..=1.0).contains(&self.p_majority) {
            let reason = format!("must lie in [0.5, 1], got {}", self.p_majority);
            return invalid("p_majority", reason);
        }
        Ok(())
    }

    /// Number of input channels, `4 · channels_per_group`.
    pub fn channels(&self) -> usize {
        self.channels_per_group.saturating_mul(GROUPS)
    }

    /// The unit ids of `group`.
    pub fn group_channels(&self, group: ChannelGroup) -> Range<u32> {
        let index = group as usize;
        let unit = |i: usize| u32::try_from(i.saturating_mul(self.channels_per_group));
        unit(index).unwrap_or(u32::MAX)..unit(index + 1).unwrap_or(u32::MAX)
    }

    /// The sample length in ms, `n_cues · cue_spacing_ms + tail_ms`.
    pub fn duration_ms(&self) -> usize {
        self.n_cues
            .saturating_mul(self.cue_spacing_ms)
            .saturating_add(self.tail_ms)
    }

    /// The sample length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.duration_ms() as f64 * BIN_S
    }

    /// The 1 ms bins during which cue `cue` (0-based) is active.
    pub fn cue_window_ms(&self, cue: usize) -> Range<usize> {
        let silence = self.cue_spacing_ms.saturating_sub(self.cue_ms);
        let start = cue
            .saturating_mul(self.cue_spacing_ms)
            .saturating_add(silence);
        start..start.saturating_add(self.cue_ms)
    }

    /// The 1 ms bins of the recall window, the last `recall_ms` of the sample.
    pub fn recall_window_ms(&self) -> Range<usize> {
        let end = self.duration_ms();
        end.saturating_sub(self.recall_ms)..end
    }

    /// The cue active in bin `t_ms`, if any (for a validated config: `cue_spacing_ms ≥ 1`).
    fn cue_at(&self, t_ms: usize) -> Option<usize> {
        let cue = t_ms / self.cue_spacing_ms;
        let silence = self.cue_spacing_ms - self.cue_ms;
        (cue < self.n_cues && t_ms % self.cue_spacing_ms >= silence).then_some(cue)
    }
}

/// One drawn sample together with the cue sides it was drawn from.
#[derive(Clone, Debug, PartialEq)]
struct Trial {
    /// Whether the majority side is the right side.
    majority_right: bool,
    /// Per cue, whether it is a right cue.
    right_cues: Vec<bool>,
    /// The spikes and the label.
    sample: EventSample,
}

/// Generates an evidence-accumulation dataset (see the [module documentation](self) for the
/// channels, timing and label).
///
/// Every sample is drawn from its own ChaCha8 stream, seeded by the `i`-th draw of the master
/// seed. Spike times are bin starts `t_ms · 1 ms`, sorted by time then unit; there are two
/// classes (0: left, 1: right) and `4 · channels_per_group` channels.
pub fn generate_evidence(config: &EvidenceConfig) -> Result<EventDataset, DataError> {
    let samples = draw_trials(config)?
        .into_iter()
        .map(|trial| trial.sample)
        .collect();
    EventDataset::new(samples, config.channels(), Some(2), config.duration_s())
}

/// Every sample of `config`, with its cue sides.
fn draw_trials(config: &EvidenceConfig) -> Result<Vec<Trial>, DataError> {
    config.validate()?;
    let mut master = rng::seeded(config.seed);
    let seeds: Vec<u64> = (0..config.nb_samples).map(|_| master.next_u64()).collect();
    Ok(seeds
        .par_iter()
        .map(|&seed| draw_trial(config, seed))
        .collect())
}

/// One sample: the majority side, the cue sides, then the spikes bin by bin.
fn draw_trial(config: &EvidenceConfig, seed: u64) -> Trial {
    let mut rng = rng::seeded(seed);
    let majority_right = rng::unit_f64(&mut rng) < 0.5;
    let right_cues: Vec<bool> = (0..config.n_cues)
        .map(|_| (rng::unit_f64(&mut rng) < config.p_majority) == majority_right)
        .collect();
    let cue_p = config.cue_rate_hz * BIN_S;
    let background_p = config.background_rate_hz * BIN_S;
    let recall = config.recall_window_ms();
    let (mut times_s, mut units) = (Vec::new(), Vec::new());
    for t_ms in 0..config.duration_ms() {
        // Groups in channel order, so that events come sorted by time then unit.
        let cue = config.cue_at(t_ms).map(|k| {
            if right_cues[k] {
                ChannelGroup::RightCue
            } else {
                ChannelGroup::LeftCue
            }
        });
        let active = [
            cue.map(|group| (group, cue_p)),
            recall
                .contains(&t_ms)
                .then_some((ChannelGroup::Recall, cue_p)),
            Some((ChannelGroup::Background, background_p)),
        ];
        for (group, p) in active.into_iter().flatten() {
            if p <= 0.0 {
                continue;
            }
            for unit in config.group_channels(group) {
                if rng::unit_f64(&mut rng) < p {
                    times_s.push((t_ms as f64 * BIN_S) as f32);
                    units.push(unit);
                }
            }
        }
    }
    let right = right_cues.iter().filter(|&&r| r).count();
    Trial {
        majority_right,
        sample: EventSample {
            times_s,
            units,
            target: Target::Class(usize::from(right > config.n_cues / 2)),
        },
        right_cues,
    }
}

#[cfg(test)]
mod tests;
