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
        if self.n_cues % 2 == 0 {
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
mod tests {
    use super::*;

    fn small(seed: u64) -> EvidenceConfig {
        EvidenceConfig {
            nb_samples: 200,
            seed,
            ..EvidenceConfig::default()
        }
    }

    fn class_of(sample: &EventSample) -> usize {
        match sample.target {
            Target::Class(c) => c,
            Target::Values(_) => unreachable!("evidence accumulation has class targets"),
        }
    }

    /// The 1 ms bin and unit of every spike of `sample`.
    fn spikes_ms(sample: &EventSample) -> impl Iterator<Item = (usize, u32)> + '_ {
        sample.times_s.iter().zip(&sample.units).map(|(&t, &u)| {
            let t_ms = (f64::from(t) / BIN_S).round();
            // An f32 time lies within half an ulp (≤ 2.4e-7 s below 4 s) of its bin start.
            assert!(
                (f64::from(t) - t_ms * BIN_S).abs() < 1e-6,
                "{t} s is not a bin start"
            );
            (t_ms as usize, u)
        })
    }

    fn group_of(config: &EvidenceConfig, unit: u32) -> ChannelGroup {
        [
            ChannelGroup::LeftCue,
            ChannelGroup::RightCue,
            ChannelGroup::Recall,
            ChannelGroup::Background,
        ]
        .into_iter()
        .find(|&g| config.group_channels(g).contains(&unit))
        .expect("unit below 4 · channels_per_group")
    }

    /// Spikes of `group` over all samples and the number of (bin, channel) draws behind
    /// them, counting the bins in which `active(trial, t_ms)` holds.
    fn rate_sample(
        config: &EvidenceConfig,
        trials: &[Trial],
        group: ChannelGroup,
        active: impl Fn(&Trial, usize) -> bool,
    ) -> (usize, usize) {
        let mut spikes = 0;
        let mut bins = 0;
        for trial in trials {
            bins += (0..config.duration_ms())
                .filter(|&t| active(trial, t))
                .count();
            spikes += spikes_ms(&trial.sample)
                .filter(|&(_, u)| group_of(config, u) == group)
                .count();
        }
        (spikes, bins * config.channels_per_group)
    }

    /// Whether `spikes` in `draws` Bernoulli draws fit `rate_hz` within 5 standard errors;
    /// the error says by how much they miss.
    fn fits_rate((spikes, draws): (usize, usize), rate_hz: f64) -> Result<(), String> {
        let p = rate_hz * BIN_S;
        let observed = spikes as f64 / draws as f64;
        let se = (p * (1.0 - p) / draws as f64).sqrt();
        if (observed - p).abs() <= 5.0 * se {
            Ok(())
        } else {
            Err(format!(
                "{} Hz observed, {rate_hz} Hz configured (se {} Hz)",
                observed / BIN_S,
                se / BIN_S
            ))
        }
    }

    fn is_cue_of_side(config: &EvidenceConfig, trial: &Trial, t: usize, right: bool) -> bool {
        config
            .cue_at(t)
            .is_some_and(|k| trial.right_cues[k] == right)
    }

    #[test]
    fn default_timing_and_channels_are_the_papers() {
        let config = EvidenceConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!((config.duration_ms(), config.channels()), (2250, 40));
        assert!((config.duration_s() - 2.25).abs() < 1e-12);
        assert_eq!(config.cue_window_ms(0), 50..150);
        assert_eq!(config.cue_window_ms(6), 950..1050);
        assert_eq!(config.recall_window_ms(), 2100..2250);
        assert_eq!(config.group_channels(ChannelGroup::LeftCue), 0..10);
        assert_eq!(config.group_channels(ChannelGroup::RightCue), 10..20);
        assert_eq!(config.group_channels(ChannelGroup::Recall), 20..30);
        assert_eq!(config.group_channels(ChannelGroup::Background), 30..40);
        let active: Vec<usize> = (0..config.duration_ms())
            .filter(|&t| config.cue_at(t).is_some())
            .collect();
        assert_eq!(active.len(), 700);
        for t in active {
            let k = config.cue_at(t).unwrap();
            assert!(config.cue_window_ms(k).contains(&t), "{t} ms, cue {k}");
        }
        let ds = generate_evidence(&small(1)).unwrap();
        assert_eq!((ds.len(), ds.channels, ds.num_classes), (200, 40, Some(2)));
        assert!((ds.duration_s - 2.25).abs() < 1e-12);
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = generate_evidence(&small(7)).unwrap();
        assert_eq!(a, generate_evidence(&small(7)).unwrap());
        assert_ne!(a, generate_evidence(&small(8)).unwrap());
        let samples: Vec<EventSample> = draw_trials(&small(7))
            .unwrap()
            .into_iter()
            .map(|t| t.sample)
            .collect();
        assert_eq!(samples, a.samples);
    }

    #[test]
    fn spikes_are_sorted_bin_starts_that_binning_at_1_ms_keeps() {
        let config = small(2);
        let ds = generate_evidence(&config).unwrap();
        for (index, sample) in ds.samples.iter().enumerate() {
            let spikes: Vec<(usize, u32)> = spikes_ms(sample).collect();
            assert!(spikes.windows(2).all(|w| w[0] < w[1]), "sample {index}");
            let binned = ds.bin(&[index], BIN_S, config.duration_ms()).unwrap();
            assert_eq!((binned.dropped, binned.collapsed), (0, 0));
            assert_eq!(binned.spikes.count(), sample.len());
            for (t_ms, unit) in spikes {
                assert!(
                    binned.spikes.row(t_ms).contains(&unit),
                    "{t_ms} ms, unit {unit}"
                );
            }
        }
    }

    #[test]
    fn cue_channels_fire_only_while_a_cue_of_their_side_is_active() {
        let config = small(3);
        for trial in draw_trials(&config).unwrap() {
            for (t, unit) in spikes_ms(&trial.sample) {
                let right = match group_of(&config, unit) {
                    ChannelGroup::LeftCue => false,
                    ChannelGroup::RightCue => true,
                    _ => continue,
                };
                assert!(
                    is_cue_of_side(&config, &trial, t, right),
                    "unit {unit} at {t} ms, cues {:?}",
                    trial.right_cues
                );
            }
        }
    }

    #[test]
    fn recall_channels_fire_only_in_the_recall_window() {
        let config = small(4);
        let recall = config.recall_window_ms();
        for trial in draw_trials(&config).unwrap() {
            let times: Vec<usize> = spikes_ms(&trial.sample)
                .filter(|&(_, u)| group_of(&config, u) == ChannelGroup::Recall)
                .map(|(t, _)| t)
                .collect();
            assert!(!times.is_empty());
            assert!(times.iter().all(|t| recall.contains(t)), "{times:?}");
        }
    }

    #[test]
    fn empirical_rates_match_the_configured_rates() {
        let paper = EvidenceConfig {
            nb_samples: 400,
            ..small(5)
        };
        let other = EvidenceConfig {
            cue_rate_hz: 25.0,
            background_rate_hz: 60.0,
            ..paper.clone()
        };
        for config in [paper, other] {
            let trials = draw_trials(&config).unwrap();
            let recall = config.recall_window_ms();
            for (group, right) in [
                (ChannelGroup::LeftCue, false),
                (ChannelGroup::RightCue, true),
            ] {
                let sample = rate_sample(&config, &trials, group, |trial, t| {
                    is_cue_of_side(&config, trial, t, right)
                });
                let fit = fits_rate(sample, config.cue_rate_hz);
                assert!(fit.is_ok(), "{group:?}: {fit:?}");
            }
            let sample = rate_sample(&config, &trials, ChannelGroup::Recall, |_, t| {
                recall.contains(&t)
            });
            let fit = fits_rate(sample, config.cue_rate_hz);
            assert!(fit.is_ok(), "recall: {fit:?}");
            let sample = rate_sample(&config, &trials, ChannelGroup::Background, |_, _| true);
            let fit = fits_rate(sample, config.background_rate_hz);
            assert!(fit.is_ok(), "background: {fit:?}");
        }
        // A wrong rate fails the check: 40 Hz cue spikes (2.8M draws, standard error
        // 0.12 Hz) against 39 and 41 Hz.
        let config = EvidenceConfig {
            nb_samples: 400,
            ..small(5)
        };
        let trials = draw_trials(&config).unwrap();
        let (left, left_draws) =
            rate_sample(&config, &trials, ChannelGroup::LeftCue, |trial, t| {
                is_cue_of_side(&config, trial, t, false)
            });
        let (right, right_draws) =
            rate_sample(&config, &trials, ChannelGroup::RightCue, |trial, t| {
                is_cue_of_side(&config, trial, t, true)
            });
        let cues = (left + right, left_draws + right_draws);
        assert!(fits_rate(cues, 40.0).is_ok());
        assert!(
            fits_rate(cues, 41.0).is_err(),
            "a 1 Hz error goes unnoticed"
        );
        assert!(
            fits_rate(cues, 39.0).is_err(),
            "a 1 Hz error goes unnoticed"
        );
    }

    #[test]
    fn zero_rates_give_silent_channels() {
        let config = EvidenceConfig {
            background_rate_hz: 0.0,
            ..small(6)
        };
        for trial in draw_trials(&config).unwrap() {
            assert!(spikes_ms(&trial.sample)
                .all(|(_, u)| group_of(&config, u) != ChannelGroup::Background));
        }
        let silent = EvidenceConfig {
            cue_rate_hz: 0.0,
            ..config
        };
        assert!(generate_evidence(&silent)
            .unwrap()
            .samples
            .iter()
            .all(EventSample::is_empty));
    }

    #[test]
    fn labels_are_the_majority_of_right_cues() {
        let config = small(7);
        let ds = generate_evidence(&config).unwrap();
        let trials = draw_trials(&config).unwrap();
        for (sample, trial) in ds.samples.iter().zip(&trials) {
            let right = trial.right_cues.iter().filter(|&&r| r).count();
            assert_eq!(
                class_of(sample),
                usize::from(right >= 4),
                "{:?}",
                trial.right_cues
            );
            // The cue sides can be read off the spikes: only the active side fires in a cue
            // window, and an active window stays silent with probability 0.96^1000 ≈ 2e-18.
            let mut fired = vec![[false; 2]; config.n_cues];
            for (t, unit) in spikes_ms(sample) {
                let side = match group_of(&config, unit) {
                    ChannelGroup::LeftCue => 0,
                    ChannelGroup::RightCue => 1,
                    _ => continue,
                };
                fired[config.cue_at(t).expect("cue spike in a cue window")][side] = true;
            }
            let seen: Vec<bool> = fired
                .iter()
                .map(|&[left, right]| {
                    assert!(left != right, "one side per cue: {fired:?}");
                    right
                })
                .collect();
            assert_eq!(seen, trial.right_cues);
            let seen_right = seen.iter().filter(|&&r| r).count();
            assert_eq!(
                class_of(sample),
                usize::from(seen_right > config.n_cues / 2)
            );
        }
    }

    #[test]
    fn sides_and_classes_follow_the_probabilities() {
        let config = EvidenceConfig {
            cue_rate_hz: 0.0,
            background_rate_hz: 0.0,
            ..EvidenceConfig::default()
        };
        let trials = draw_trials(&config).unwrap();
        let n = trials.len() as f64;
        let ones = trials.iter().filter(|t| class_of(&t.sample) == 1).count() as f64;
        let majority_right = trials.iter().filter(|t| t.majority_right).count() as f64;
        // Binomial(2000, 1/2): standard deviation ≈ 22.4.
        assert!(
            (ones - n / 2.0).abs() < 5.0 * (n / 4.0).sqrt(),
            "{ones} of {n}"
        );
        assert!((majority_right - n / 2.0).abs() < 5.0 * (n / 4.0).sqrt());
        let cues = n * config.n_cues as f64;
        let on_majority = trials
            .iter()
            .flat_map(|t| t.right_cues.iter().map(move |&r| r == t.majority_right))
            .filter(|&m| m)
            .count() as f64;
        let se = (0.7 * 0.3 / cues).sqrt();
        assert!(
            (on_majority / cues - 0.7).abs() < 5.0 * se,
            "{on_majority} of {cues}"
        );
        let unanimous = EvidenceConfig {
            p_majority: 1.0,
            ..small(8)
        };
        for trial in draw_trials(&unanimous).unwrap() {
            assert!(trial.right_cues.iter().all(|&r| r == trial.majority_right));
            assert_eq!(class_of(&trial.sample), usize::from(trial.majority_right));
        }
    }

    #[test]
    fn default_config_generates_the_papers_dataset() {
        let start = std::time::Instant::now();
        let ds = generate_evidence(&EvidenceConfig::default()).unwrap();
        eprintln!(
            "default evidence accumulation generated in {:?}",
            start.elapsed()
        );
        assert_eq!(ds.len(), 2000);
        // Expected spikes per sample: background 10 · 10 Hz · 2.25 s = 225, cues
        // 7 · 10 · 40 Hz · 0.1 s = 280, recall 10 · 40 Hz · 0.15 s = 60; over 40 channels and
        // 2.25 s that is 565 / 90 ≈ 6.28 Hz (standard error ≈ 0.006 Hz over 2000 samples).
        let rate_hz = ds.mean_rate_hz(&(0..ds.len()).collect::<Vec<_>>()).unwrap();
        assert!((rate_hz - 565.0 / 90.0).abs() < 0.05, "{rate_hz}");
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let base = small(9);
        let cases: Vec<(EvidenceConfig, &str)> = vec![
            (
                EvidenceConfig {
                    nb_samples: 0,
                    ..base.clone()
                },
                "nb_samples",
            ),
            (
                EvidenceConfig {
                    n_cues: 0,
                    ..base.clone()
                },
                "n_cues",
            ),
            (
                EvidenceConfig {
                    n_cues: 6,
                    ..base.clone()
                },
                "n_cues",
            ),
            (
                EvidenceConfig {
                    cue_ms: 0,
                    ..base.clone()
                },
                "cue_ms",
            ),
            (
                EvidenceConfig {
                    cue_ms: 151,
                    ..base.clone()
                },
                "cue_ms",
            ),
            (
                EvidenceConfig {
                    cue_spacing_ms: 0,
                    ..base.clone()
                },
                "cue_ms",
            ),
            (
                EvidenceConfig {
                    recall_ms: 0,
                    ..base.clone()
                },
                "recall_ms",
            ),
            (
                EvidenceConfig {
                    recall_ms: 1201,
                    ..base.clone()
                },
                "recall_ms",
            ),
            (
                EvidenceConfig {
                    tail_ms: 0,
                    ..base.clone()
                },
                "recall_ms",
            ),
            (
                EvidenceConfig {
                    channels_per_group: 0,
                    ..base.clone()
                },
                "channels_per_group",
            ),
            (
                EvidenceConfig {
                    channels_per_group: 1 << 30,
                    ..base.clone()
                },
                "channels_per_group",
            ),
            (
                EvidenceConfig {
                    channels_per_group: usize::MAX,
                    ..base.clone()
                },
                "channels_per_group",
            ),
            (
                EvidenceConfig {
                    cue_spacing_ms: usize::MAX,
                    ..base.clone()
                },
                "tail_ms",
            ),
            (
                EvidenceConfig {
                    tail_ms: usize::MAX,
                    ..base.clone()
                },
                "tail_ms",
            ),
            (
                EvidenceConfig {
                    cue_rate_hz: -1.0,
                    ..base.clone()
                },
                "cue_rate_hz",
            ),
            (
                EvidenceConfig {
                    cue_rate_hz: 1000.5,
                    ..base.clone()
                },
                "cue_rate_hz",
            ),
            (
                EvidenceConfig {
                    cue_rate_hz: f64::NAN,
                    ..base.clone()
                },
                "cue_rate_hz",
            ),
            (
                EvidenceConfig {
                    background_rate_hz: f64::INFINITY,
                    ..base.clone()
                },
                "background_rate_hz",
            ),
            (
                EvidenceConfig {
                    background_rate_hz: -0.1,
                    ..base.clone()
                },
                "background_rate_hz",
            ),
            (
                EvidenceConfig {
                    p_majority: 0.49,
                    ..base.clone()
                },
                "p_majority",
            ),
            (
                EvidenceConfig {
                    p_majority: 1.01,
                    ..base.clone()
                },
                "p_majority",
            ),
            (
                EvidenceConfig {
                    p_majority: f64::NAN,
                    ..base.clone()
                },
                "p_majority",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(
                err.to_string().contains(&format!("`{field}`")),
                "{err} vs {field}"
            );
            assert!(generate_evidence(&config).is_err(), "{field}");
        }
        // The edges of the ranges are usable.
        for config in [
            EvidenceConfig {
                cue_ms: 150,
                recall_ms: 1200,
                ..base.clone()
            },
            EvidenceConfig {
                cue_rate_hz: 1000.0,
                p_majority: 0.5,
                n_cues: 1,
                ..base.clone()
            },
            EvidenceConfig {
                p_majority: 1.0,
                ..base
            },
        ] {
            assert!(config.validate().is_ok(), "{config:?}");
        }
    }

    #[test]
    fn config_serde_fills_defaults_and_rejects_unknown_fields() {
        let config = small(10);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<EvidenceConfig>(&json).unwrap(),
            config
        );
        let partial: EvidenceConfig = serde_json::from_str(r#"{"n_cues": 5}"#).unwrap();
        assert_eq!(partial.n_cues, 5);
        assert_eq!(partial.cue_spacing_ms, 150);
        assert!(serde_json::from_str::<EvidenceConfig>(r#"{"n_cue": 5}"#).is_err());
    }
}
