//! An in-memory dataset of spike events in continuous time, its binning into time steps,
//! seeded splits and mini-batches.

use super::rng;
use super::DataError;
use crate::events::SpikeEvents;

/// Relative distance below a bin edge within which a time counts as lying on the edge.
///
/// Times are stored as `f32`, so `k * dt` can come back a few ulps short of `k` bins; about
/// four `f32` ulps of slack puts such times into bin `k` instead of `k - 1`.
const EDGE_TOLERANCE: f64 = 4.0 * f32::EPSILON as f64;

/// What a sample should predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class label in `0..num_classes`.
    Class(usize),
    /// A regression vector; every sample of a dataset has the same length.
    Values(Vec<f32>),
    /// Target spike trains (SuperSpike's spike-timing tasks); every sample of a dataset has
    /// the same number of channels.
    Trains(TargetTrains),
    /// Regression values that change from step to step (a decoded velocity); every sample
    /// of a dataset has the same number of values per step.
    Series(TargetSeries),
}

/// Per-step regression targets of one sample: rows of `dims` values, row `k` holding over
/// `[k·step_s, (k + 1)·step_s)` from the sample start.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSeries {
    /// The rows, `[rows, dims]` row-major.
    pub values: Vec<f32>,
    /// Values per row.
    pub dims: usize,
    /// Seconds each row covers.
    pub step_s: f64,
}

impl TargetSeries {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.dims).unwrap_or(0)
    }

    /// The row covering time `time_s` (the last row for later times, the first for earlier
    /// ones); `None` when there are no rows.
    pub fn row_at(&self, time_s: f64) -> Option<&[f32]> {
        let rows = self.rows();
        if rows == 0 {
            return None;
        }
        let k = (time_s / self.step_s * (1.0 + EDGE_TOLERANCE)).floor();
        let k = if k.is_finite() && k > 0.0 {
            (k as usize).min(rows - 1)
        } else {
            0
        };
        self.values.get(k * self.dims..(k + 1) * self.dims)
    }
}

/// Target spike trains of one sample, in continuous time like the input.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetTrains {
    /// Spike times in seconds from the sample start, paired with `units`.
    pub times_s: Vec<f32>,
    /// Output channel of each spike, paired with `times_s`, below `channels`.
    pub units: Vec<u32>,
    /// Number of output channels.
    pub channels: usize,
}

/// One sample: spike events in continuous time and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSample {
    /// Spike times in seconds from the sample start, paired with `units`; any order.
    pub times_s: Vec<f32>,
    /// Input channel of each spike, paired with `times_s`.
    pub units: Vec<u32>,
    /// What the sample should predict.
    pub target: Target,
}

impl EventSample {
    /// Number of spikes.
    pub fn len(&self) -> usize {
        self.times_s.len()
    }

    /// Whether the sample has no spikes.
    pub fn is_empty(&self) -> bool {
        self.times_s.is_empty()
    }
}

/// An in-memory event dataset, validated by [`EventDataset::new`].
///
/// The fields are public for reading; code that mutates them should rebuild the dataset with
/// `new`. [`EventDataset::bin`] re-checks every sample it reads, so a broken invariant gives
/// an error rather than a panic.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDataset {
    /// The samples, addressed by their position.
    pub samples: Vec<EventSample>,
    /// Number of input channels; every unit id is below it.
    pub channels: usize,
    /// Number of classes, or `None` for a regression dataset.
    pub num_classes: Option<usize>,
    /// Nominal duration of one sample in seconds (used for firing rates).
    pub duration_s: f64,
}

/// The targets of a batch, in batch order.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchTargets {
    /// One class label per sample.
    Classes(Vec<usize>),
    /// Regression vectors flattened to `[batch, dims]`.
    Values {
        /// The vectors, row-major.
        values: Vec<f32>,
        /// Values per sample.
        dims: usize,
    },
    /// Target spike trains binned like the input, `[steps, batch, channels]` of 0/1.
    Trains(crate::tensor::Seq<f32>),
    /// Per-step regression values `[steps, batch, dims]` ([`Target::Series`], each step
    /// taking the row that covers its start). The MSE loss compares them step by step.
    Series(crate::tensor::Seq<f32>),
}

/// A batch of samples binned into time steps.
#[derive(Clone, Debug, PartialEq)]
pub struct BinnedBatch {
    /// Spikes `[steps, batch, channels]`, time-major.
    pub spikes: SpikeEvents,
    /// Targets in batch order.
    pub targets: BatchTargets,
    /// Spikes at or after `steps * dt_s`, which do not fit the window and were dropped.
    pub dropped: usize,
    /// Spikes merged into another spike of the same unit in the same bin (a bin holds 0 or 1).
    pub collapsed: usize,
}

/// Disjoint index lists for training, validation and testing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training sample indices.
    pub train: Vec<usize>,
    /// Validation sample indices.
    pub valid: Vec<usize>,
    /// Test sample indices.
    pub test: Vec<usize>,
}

impl EventDataset {
    /// A dataset after checking every sample.
    ///
    /// Checks: `channels >= 1`; `num_classes != Some(0)`; `duration_s` finite and positive;
    /// per sample, as many times as units, unit ids below `channels`, times finite and
    /// non-negative, a class label below `num_classes` for classification, or for regression
    /// a finite vector as long as the first sample's. Errors name the offending sample.
    pub fn new(
        samples: Vec<EventSample>,
        channels: usize,
        num_classes: Option<usize>,
        duration_s: f64,
    ) -> Result<Self, DataError> {
        if channels == 0 {
            return Err(DataError::NoChannels);
        }
        if num_classes == Some(0) {
            return Err(DataError::NoClasses);
        }
        if !(duration_s.is_finite() && duration_s > 0.0) {
            return Err(DataError::BadDuration(duration_s));
        }
        let dataset = Self {
            samples,
            channels,
            num_classes,
            duration_s,
        };
        for index in 0..dataset.len() {
            dataset.checked_sample(index)?;
        }
        Ok(dataset)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the dataset has no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Length of the regression vectors, or the number of target spike channels (`None` for
    /// classification, 0 if there are no samples).
    pub fn value_dims(&self) -> Option<usize> {
        if self.num_classes.is_some() {
            return None;
        }
        Some(match self.samples.first().map(|s| &s.target) {
            Some(Target::Values(values)) => values.len(),
            Some(Target::Trains(trains)) => trains.channels,
            Some(Target::Series(series)) => series.dims,
            _ => 0,
        })
    }

    /// Whether the targets are spike trains.
    pub fn has_target_trains(&self) -> bool {
        self.num_classes.is_none()
            && matches!(
                self.samples.first().map(|s| &s.target),
                Some(Target::Trains(_))
            )
    }

    /// Whether the targets are per-step regression values ([`Target::Series`]).
    pub fn has_target_series(&self) -> bool {
        self.num_classes.is_none()
            && matches!(
                self.samples.first().map(|s| &s.target),
                Some(Target::Series(_))
            )
    }

    /// Bins the samples `indices` into `steps` time steps of `dt_s` seconds.
    ///
    /// A spike at time `t` lands in step `floor(t / dt_s)`; a time within a few `f32` ulps
    /// below a step edge `k * dt_s` counts as lying on it and lands in step `k`. Spikes at or
    /// after `steps * dt_s` are dropped, and several spikes of one unit in one step collapse
    /// into a single spike (a binned spike train is 0/1); both are counted in the result.
    pub fn bin(
        &self,
        indices: &[usize],
        dt_s: f64,
        steps: usize,
    ) -> Result<BinnedBatch, DataError> {
        if !(dt_s.is_finite() && dt_s > 0.0) {
            return Err(DataError::BadTimeStep(dt_s));
        }
        let batch = indices.len();
        let too_large = |spikes| DataError::BatchTooLarge {
            steps,
            batch,
            spikes,
        };
        if steps
            .checked_mul(batch)
            .is_none_or(|rows| rows > u32::MAX as usize)
        {
            return Err(too_large(0));
        }
        let mut pairs = Vec::new();
        let mut dropped = 0;
        for (b, &index) in indices.iter().enumerate() {
            let sample = self.checked_sample(index)?;
            let place = SampleRows {
                sample: b,
                batch,
                steps,
                dt_s,
            };
            dropped += push_rows(sample, place, &mut pairs);
        }
        if pairs.len() > u32::MAX as usize {
            return Err(too_large(pairs.len()));
        }
        let candidates = pairs.len();
        let spikes = SpikeEvents::from_pairs(steps, batch, self.channels, &pairs);
        Ok(BinnedBatch {
            collapsed: candidates - spikes.count(),
            spikes,
            targets: self.batch_targets(indices, dt_s, steps)?,
            dropped,
        })
    }

    /// Mean firing rate per input channel in Hz over the samples `indices`:
    /// total spikes / (channels · duration_s · samples).
    ///
    /// This is the input rate ν that fluctuation-driven initialisation expects.
    pub fn mean_rate_hz(&self, indices: &[usize]) -> Result<f64, DataError> {
        let counts = indices
            .iter()
            .map(|&i| self.sample(i).map(EventSample::len));
        mean_rate_hz(counts, self.channels, self.duration_s)
    }

    /// Splits all samples into train, validation and test sets by `fractions`.
    ///
    /// The fractions must be finite, non-negative and sum to 1 (within 1e-9). Samples are
    /// shuffled with `seed`, and split sizes follow the fractions to within one sample. With
    /// `stratified`, each class is split on its own, so every split holds each class's share
    /// to within one sample (split totals may then differ from `fractions * len` by up to
    /// half the number of classes); the order within each split is shuffled again so that
    /// classes are mixed. Stratifying a regression dataset is an error.
    pub fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        stratified: bool,
    ) -> Result<Split, DataError> {
        let members = if stratified {
            Some(self.class_members()?)
        } else {
            None
        };
        split_members(self.len(), members, fractions, seed)
    }

    /// Sample `index`, or an error naming it.
    fn sample(&self, index: usize) -> Result<&EventSample, DataError> {
        self.samples.get(index).ok_or(DataError::IndexOutOfRange {
            index,
            len: self.len(),
        })
    }

    /// The dataset with channel `j` of every sample taken from channel `permutation[j]`
    /// (Permuted MNIST's pixel shuffle, for spikes).
    pub fn permuted_channels(&self, permutation: &[usize]) -> Result<Self, DataError> {
        super::analog::check_permutation(permutation, self.channels)?;
        let mut inverse = vec![0u32; self.channels];
        for (j, &k) in permutation.iter().enumerate() {
            inverse[k] = j as u32;
        }
        let permute = |s: &EventSample| EventSample {
            times_s: s.times_s.clone(),
            // A unit out of range stays as it is, for binning to report.
            units: s
                .units
                .iter()
                .map(|&u| *inverse.get(u as usize).unwrap_or(&u))
                .collect(),
            target: s.target.clone(),
        };
        Ok(Self {
            samples: self.samples.iter().map(permute).collect(),
            channels: self.channels,
            num_classes: self.num_classes,
            duration_s: self.duration_s,
        })
    }

    /// Sample `index` after checking its spikes and target against the dataset.
    fn checked_sample(&self, index: usize) -> Result<&EventSample, DataError> {
        let sample = self.sample(index)?;
        self.check_spikes(index, sample)?;
        self.check_target(index, &sample.target)?;
        Ok(sample)
    }

    fn check_spikes(&self, index: usize, sample: &EventSample) -> Result<(), DataError> {
        check_events(index, &sample.times_s, &sample.units, self.channels)
    }

    fn check_target(&self, index: usize, target: &Target) -> Result<(), DataError> {
        match (self.num_classes, target) {
            (Some(num_classes), &Target::Class(class)) if class >= num_classes => {
                Err(DataError::ClassOutOfRange {
                    sample: index,
                    class,
                    num_classes,
                })
            }
            (Some(_), Target::Class(_)) => Ok(()),
            (Some(_), _) => Err(DataError::ExpectedClass { sample: index }),
            (None, Target::Class(_)) => Err(DataError::ExpectedValues { sample: index }),
            (None, target)
                if self.has_target_trains() != matches!(target, Target::Trains(_))
                    || self.has_target_series() != matches!(target, Target::Series(_)) =>
            {
                Err(DataError::MixedTargets { sample: index })
            }
            (None, Target::Values(values)) => self.check_values(index, values),
            (None, Target::Trains(trains)) => self.check_trains(index, trains),
            (None, Target::Series(series)) => self.check_series(index, series),
        }
    }

    fn check_trains(&self, index: usize, trains: &TargetTrains) -> Result<(), DataError> {
        let expected = self.value_dims().unwrap_or(0);
        if trains.channels != expected {
            return Err(DataError::ValueDims {
                sample: index,
                found: trains.channels,
                expected,
            });
        }
        check_events(index, &trains.times_s, &trains.units, trains.channels)
    }

    fn check_series(&self, index: usize, series: &TargetSeries) -> Result<(), DataError> {
        let expected = self.value_dims().unwrap_or(0);
        if series.dims != expected
            || series.dims == 0
            || !series.values.len().is_multiple_of(series.dims)
        {
            return Err(DataError::ValueDims {
                sample: index,
                found: series.dims,
                expected,
            });
        }
        if !(series.step_s.is_finite() && series.step_s > 0.0) {
            return Err(DataError::BadTimeStep(series.step_s));
        }
        match series.values.iter().find(|v| !v.is_finite()) {
            Some(&value) => Err(DataError::BadValue {
                sample: index,
                value,
            }),
            None => Ok(()),
        }
    }

    fn check_values(&self, index: usize, values: &[f32]) -> Result<(), DataError> {
        let expected = self.value_dims().unwrap_or(0);
        if values.len() != expected {
            return Err(DataError::ValueDims {
                sample: index,
                found: values.len(),
                expected,
            });
        }
        match values.iter().find(|v| !v.is_finite()) {
            Some(&value) => Err(DataError::BadValue {
                sample: index,
                value,
            }),
            None => Ok(()),
        }
    }

    /// The targets of `indices` in order (samples are already checked by the caller); target
    /// trains binned into `steps` steps of `dt_s` like the input (later spikes dropped).
    pub(super) fn batch_targets(
        &self,
        indices: &[usize],
        dt_s: f64,
        steps: usize,
    ) -> Result<BatchTargets, DataError> {
        if self.has_target_trains() {
            let channels = self.value_dims().unwrap_or(0);
            let mut seq = crate::tensor::Seq::zeros(steps, indices.len(), channels);
            for (b, &index) in indices.iter().enumerate() {
                let Target::Trains(trains) = &self.sample(index)?.target else {
                    return Err(DataError::MixedTargets { sample: index });
                };
                for (&time_s, &unit) in trains.times_s.iter().zip(&trains.units) {
                    if let Some(step) = time_bin(f64::from(time_s), dt_s, steps) {
                        seq.row_mut(step, b)[unit as usize] = 1.0;
                    }
                }
            }
            return Ok(BatchTargets::Trains(seq));
        }
        if self.has_target_series() {
            let dims = self.value_dims().unwrap_or(0);
            let mut seq = crate::tensor::Seq::zeros(steps, indices.len(), dims);
            for (b, &index) in indices.iter().enumerate() {
                let Target::Series(series) = &self.sample(index)?.target else {
                    return Err(DataError::MixedTargets { sample: index });
                };
                for t in 0..steps {
                    if let Some(row) = series.row_at(t as f64 * dt_s) {
                        seq.row_mut(t, b).copy_from_slice(row);
                    }
                }
            }
            return Ok(BatchTargets::Series(seq));
        }
        if self.num_classes.is_some() {
            let mut classes = Vec::with_capacity(indices.len());
            for &index in indices {
                match self.sample(index)?.target {
                    Target::Class(class) => classes.push(class),
                    _ => return Err(DataError::ExpectedClass { sample: index }),
                }
            }
            return Ok(BatchTargets::Classes(classes));
        }
        let dims = self.value_dims().unwrap_or(0);
        let mut values = Vec::with_capacity(indices.len() * dims);
        for &index in indices {
            match &self.sample(index)?.target {
                Target::Values(v) => values.extend_from_slice(v),
                Target::Class(_) => return Err(DataError::ExpectedValues { sample: index }),
                Target::Trains(_) | Target::Series(_) => {
                    return Err(DataError::MixedTargets { sample: index })
                }
            }
        }
        Ok(BatchTargets::Values { values, dims })
    }

    /// Sample indices grouped by class, ascending within each class.
    fn class_members(&self) -> Result<Vec<Vec<usize>>, DataError> {
        let num_classes = self.num_classes.ok_or(DataError::StratifyRegression)?;
        let mut members = vec![Vec::new(); num_classes];
        for (index, sample) in self.samples.iter().enumerate() {
            self.check_target(index, &sample.target)?;
            if let Target::Class(class) = sample.target {
                members[class].push(index);
            }
        }
        Ok(members)
    }
}

/// Checks the spikes of sample `index`: as many times as units, times finite and
/// non-negative, unit ids below `channels`.
fn check_events(
    index: usize,
    times_s: &[f32],
    units: &[u32],
    channels: usize,
) -> Result<(), DataError> {
    if times_s.len() != units.len() {
        return Err(DataError::LengthMismatch {
            sample: index,
            times: times_s.len(),
            units: units.len(),
        });
    }
    if let Some(&time_s) = times_s.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(DataError::BadTime {
            sample: index,
            time_s,
        });
    }
    match units.iter().find(|&&u| u as usize >= channels) {
        Some(&unit) => Err(DataError::UnitOutOfRange {
            sample: index,
            unit,
            channels,
        }),
        None => Ok(()),
    }
}

/// Mean firing rate per channel in Hz of samples with the spike counts `counts`: total spikes
/// / (channels · duration_s · samples). No sample is an error.
pub(super) fn mean_rate_hz(
    counts: impl Iterator<Item = Result<usize, DataError>>,
    channels: usize,
    duration_s: f64,
) -> Result<f64, DataError> {
    let (mut spikes, mut samples) = (0usize, 0usize);
    for count in counts {
        spikes += count?;
        samples += 1;
    }
    if samples == 0 {
        return Err(DataError::EmptySelection);
    }
    Ok(spikes as f64 / (channels as f64 * duration_s * samples as f64))
}

/// The step of a spike at `time_s` when binning at `dt_s`, or `None` if it is at or after
/// `steps * dt_s` (or the time is NaN or negative).
///
/// The step is `floor(time_s / dt_s)` in `f64`, except that a time within a few `f32` ulps
/// below an edge `k * dt_s` is put on the edge, in step `k`, so that times stored as
/// `(k * dt_s) as f32` come back to step `k`.
#[inline]
pub fn time_bin(time_s: f64, dt_s: f64, steps: usize) -> Option<usize> {
    let bins = time_s / dt_s;
    let nearest = bins.round();
    let step = if (bins - nearest).abs() <= EDGE_TOLERANCE * nearest.max(1.0) {
        nearest
    } else {
        bins.floor()
    };
    // Compared in f64 first so that huge times cannot overflow the cast.
    (step >= 0.0 && step < steps as f64).then_some(step as usize)
}

/// Where one sample's spikes go in a batch: its position, the batch's size and steps.
#[derive(Clone, Copy)]
struct SampleRows {
    sample: usize,
    batch: usize,
    steps: usize,
    dt_s: f64,
}

/// Appends `sample`'s spikes as `(row, unit)` pairs (row `step * batch + sample`, which the
/// caller has checked fits in `u32`) and returns how many fell after the last step. Built for
/// SSE4.1 and AVX2 beside the baseline, where rounding is an instruction, not a call.
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1"))]
fn push_rows(sample: &EventSample, place: SampleRows, pairs: &mut Vec<(u32, u32)>) -> usize {
    let mut dropped = 0;
    for (&time_s, &unit) in sample.times_s.iter().zip(&sample.units) {
        match time_bin(f64::from(time_s), place.dt_s, place.steps) {
            Some(step) => pairs.push(((step * place.batch + place.sample) as u32, unit)),
            None => dropped += 1,
        }
    }
    dropped
}

/// `0..n` in an order shuffled by `seed` (ChaCha8, Fisher–Yates).
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    rng::shuffle(&mut rng::seeded(seed), &mut order);
    order
}

/// Cuts `indices` into mini-batches of `batch_size`, shuffled first if a seed is given.
///
/// The last batch keeps the remainder and may be smaller.
pub fn batches(
    indices: &[usize],
    batch_size: usize,
    shuffle_seed: Option<u64>,
) -> Result<Vec<Vec<usize>>, DataError> {
    if batch_size == 0 {
        return Err(DataError::ZeroBatchSize);
    }
    let mut order = indices.to_vec();
    if let Some(seed) = shuffle_seed {
        rng::shuffle(&mut rng::seeded(seed), &mut order);
    }
    Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
}

/// Splits `0..len` by `fractions` (see [`EventDataset::split_fractions`]); with
/// `class_members` (sample indices per class, ascending), each class is split on its own.
pub(crate) fn split_members(
    len: usize,
    class_members: Option<Vec<Vec<usize>>>,
    fractions: [f64; 3],
    seed: u64,
) -> Result<Split, DataError> {
    check_fractions(fractions)?;
    let Some(class_members) = class_members else {
        let order = shuffled_indices(len, seed);
        let [train, valid, test] = cut(&order, fractions);
        return Ok(Split { train, valid, test });
    };
    let mut rng = rng::seeded(seed);
    let mut parts: [Vec<usize>; 3] = Default::default();
    for mut members in class_members {
        rng::shuffle(&mut rng, &mut members);
        for (part, piece) in parts.iter_mut().zip(cut(&members, fractions)) {
            part.extend(piece);
        }
    }
    for part in &mut parts {
        rng::shuffle(&mut rng, part);
    }
    let [train, valid, test] = parts;
    Ok(Split { train, valid, test })
}

fn check_fractions(fractions: [f64; 3]) -> Result<(), DataError> {
    let valid = fractions.iter().all(|f| f.is_finite() && *f >= 0.0)
        && (fractions.iter().sum::<f64>() - 1.0).abs() <= 1e-9;
    if valid {
        Ok(())
    } else {
        Err(DataError::BadFractions(fractions))
    }
}

/// Cuts `items` into three consecutive pieces sized by `fractions`.
///
/// The cut points are the rounded cumulative fractions, so each piece is within one item of
/// its exact share and the pieces always cover `items`.
fn cut(items: &[usize], fractions: [f64; 3]) -> [Vec<usize>; 3] {
    let n = items.len();
    let total: f64 = fractions.iter().sum();
    let edge = |cumulative: f64| ((n as f64 * cumulative / total).round() as usize).min(n);
    let first = edge(fractions[0]);
    let second = edge(fractions[0] + fractions[1]).max(first);
    [
        items[..first].to_vec(),
        items[first..second].to_vec(),
        items[second..].to_vec(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(spikes: &[(f32, u32)], class: usize) -> EventSample {
        EventSample {
            times_s: spikes.iter().map(|s| s.0).collect(),
            units: spikes.iter().map(|s| s.1).collect(),
            target: Target::Class(class),
        }
    }

    fn regression(values: &[f32]) -> EventSample {
        EventSample {
            times_s: vec![0.0],
            units: vec![0],
            target: Target::Values(values.to_vec()),
        }
    }

    /// `per_class` samples of each of `classes` classes, with one spike each.
    fn labelled(classes: usize, per_class: &[usize]) -> EventDataset {
        let samples = (0..classes)
            .flat_map(|c| (0..per_class[c]).map(move |_| sample(&[(0.0, 0)], c)))
            .collect();
        EventDataset::new(samples, 1, Some(classes), 1.0).unwrap()
    }

    #[test]
    fn permuted_channels_move_every_spike_and_keep_the_labels() {
        let a = sample(&[(0.0, 0), (0.001, 2)], 1);
        let b = sample(&[(0.002, 1)], 0);
        let ds = EventDataset::new(vec![a, b], 3, Some(2), 0.004).unwrap();
        // New channel j reads old channel permutation[j]: old 0 → new 1, 1 → 2, 2 → 0.
        let permuted = ds.permuted_channels(&[2, 0, 1]).unwrap();
        assert_eq!(permuted.samples[0].units, vec![1, 0]);
        assert_eq!(permuted.samples[1].units, vec![2]);
        assert_eq!(permuted.samples[0].times_s, ds.samples[0].times_s);
        let data = crate::data::Dataset::Events(permuted);
        assert_eq!(data.class_labels(), Some(vec![1, 0]));
        assert!(ds.permuted_channels(&[0, 0, 1]).is_err());
        assert!(ds.permuted_channels(&[0, 1]).is_err());
    }

    #[test]
    fn binning_gives_exact_events() {
        let dt_s = 1e-3;
        let a = sample(&[(0.0035, 2), (0.0, 0), (0.0012, 1), (0.0031, 0)], 1);
        let b = sample(&[(0.0009, 3), (0.0021, 2)], 0);
        let ds = EventDataset::new(vec![a, b], 4, Some(2), 0.004).unwrap();
        let binned = ds.bin(&[1, 0], dt_s, 4).unwrap();
        let ev = &binned.spikes;
        assert_eq!((ev.steps, ev.batch, ev.width), (4, 2, 4));
        // Row (t, b) = t * 2 + b; batch slot 0 is sample 1, slot 1 is sample 0.
        let rows: Vec<&[u32]> = (0..8).map(|r| ev.row(r)).collect();
        assert_eq!(
            rows,
            vec![&[3][..], &[0], &[], &[1], &[2], &[], &[], &[0, 2]]
        );
        assert_eq!(binned.targets, BatchTargets::Classes(vec![0, 1]));
        assert_eq!((binned.dropped, binned.collapsed), (0, 0));
    }

    #[test]
    fn binning_counts_dropped_and_collapsed_spikes() {
        // Unit 1 fires three times in step 1; two spikes fall at or after 3 * dt.
        let spikes = [
            (0.0011, 1),
            (0.0015, 1),
            (0.0019, 1),
            (0.003, 0),
            (0.5, 2),
            (0.0005, 2),
        ];
        let ds = EventDataset::new(vec![sample(&spikes, 0)], 3, Some(1), 0.003).unwrap();
        let binned = ds.bin(&[0], 1e-3, 3).unwrap();
        assert_eq!(binned.dropped, 2);
        assert_eq!(binned.collapsed, 2);
        assert_eq!(binned.spikes.count(), 2);
        assert_eq!(binned.spikes.row(0), &[2]);
        assert_eq!(binned.spikes.row(1), &[1]);
    }

    #[test]
    fn time_on_a_bin_edge_lands_in_that_bin() {
        for dt_s in [1e-3, 2e-3, 1e-4, 0.7 / 350.0, 1.0 / 3.0] {
            for k in 0..20_000usize {
                let time_s = (k as f64 * dt_s) as f32;
                assert_eq!(
                    time_bin(f64::from(time_s), dt_s, usize::MAX),
                    Some(k),
                    "{dt_s} {k}"
                );
            }
        }
        // Just inside the previous bin stays there; NaN and out-of-window are dropped.
        assert_eq!(time_bin(0.00299, 1e-3, 10), Some(2));
        assert_eq!(time_bin(0.01, 1e-3, 10), None);
        assert_eq!(time_bin(f64::NAN, 1e-3, 10), None);
        assert_eq!(time_bin(1e300, 1e-3, 10), None);
    }

    #[test]
    fn regression_targets_are_flattened() {
        let samples = vec![regression(&[1.0, 2.0]), regression(&[3.0, 4.0])];
        let ds = EventDataset::new(samples, 1, None, 1.0).unwrap();
        let binned = ds.bin(&[1, 0, 1], 0.5, 2).unwrap();
        let expected = vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            binned.targets,
            BatchTargets::Values {
                values: expected,
                dims: 2
            }
        );
    }

    #[test]
    fn bad_requests_are_errors() {
        let ds = labelled(2, &[1, 1]);
        assert!(matches!(
            ds.bin(&[0], 0.0, 1),
            Err(DataError::BadTimeStep(_))
        ));
        assert!(matches!(
            ds.bin(&[0], f64::NAN, 1),
            Err(DataError::BadTimeStep(_))
        ));
        assert!(matches!(
            ds.bin(&[2], 1.0, 1),
            Err(DataError::IndexOutOfRange { index: 2, len: 2 })
        ));
        assert!(matches!(
            ds.mean_rate_hz(&[]),
            Err(DataError::EmptySelection)
        ));
        assert!(matches!(
            batches(&[1], 0, None),
            Err(DataError::ZeroBatchSize)
        ));
    }

    #[test]
    fn bin_rechecks_mutated_samples() {
        let mut ds = labelled(1, &[2]);
        ds.samples[1].units[0] = 5;
        let err = ds.bin(&[0, 1], 1.0, 1).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::UnitOutOfRange {
                    sample: 1,
                    unit: 5,
                    ..
                }
            ),
            "{err}"
        );
    }

    fn new_error(samples: Vec<EventSample>, num_classes: Option<usize>) -> DataError {
        EventDataset::new(samples, 3, num_classes, 1.0).unwrap_err()
    }

    #[test]
    fn validation_names_the_sample() {
        let ok = || sample(&[(0.1, 0)], 0);
        let cases: Vec<(EventSample, &str)> = vec![
            (
                sample(&[(0.1, 3)], 0),
                "sample 1: unit id 3 is out of range for 3 channels",
            ),
            (sample(&[(f32::NAN, 0)], 0), "sample 1: spike time NaN s"),
            (sample(&[(-0.5, 0)], 0), "sample 1: spike time -0.5 s"),
            (
                sample(&[(f32::INFINITY, 0)], 0),
                "sample 1: spike time inf s",
            ),
            (sample(&[(0.1, 4)], 2), "sample 1: unit id 4"),
            (
                sample(&[], 2),
                "sample 1: class 2 is out of range for 2 classes",
            ),
            (regression(&[1.0]), "sample 1: expected a class label"),
        ];
        for (bad, message) in cases {
            let err = new_error(vec![ok(), bad], Some(2));
            assert!(err.to_string().starts_with(message), "{err} vs {message}");
        }
        let mut mismatched = ok();
        mismatched.units.push(1);
        let err = new_error(vec![ok(), ok(), mismatched], Some(2));
        assert!(matches!(
            err,
            DataError::LengthMismatch {
                sample: 2,
                times: 1,
                units: 2
            }
        ));
    }

    #[test]
    fn regression_validation_names_the_sample() {
        let err = new_error(vec![regression(&[1.0, 2.0]), regression(&[1.0])], None);
        assert!(matches!(
            err,
            DataError::ValueDims {
                sample: 1,
                found: 1,
                expected: 2
            }
        ));
        let err = new_error(vec![regression(&[1.0]), regression(&[f32::NAN])], None);
        assert!(matches!(err, DataError::BadValue { sample: 1, .. }));
        let err = new_error(vec![regression(&[1.0]), sample(&[], 0)], None);
        assert!(matches!(err, DataError::ExpectedValues { sample: 1 }));
    }

    #[test]
    fn dataset_level_validation() {
        let new = |channels, classes, duration_s| {
            EventDataset::new(Vec::new(), channels, classes, duration_s).unwrap_err()
        };
        assert!(matches!(new(0, Some(1), 1.0), DataError::NoChannels));
        assert!(matches!(new(1, Some(0), 1.0), DataError::NoClasses));
        assert!(matches!(new(1, None, 0.0), DataError::BadDuration(_)));
        assert!(matches!(
            new(1, None, f64::INFINITY),
            DataError::BadDuration(_)
        ));
    }

    #[test]
    fn mean_rate_of_a_known_dataset() {
        // 2 channels, 0.5 s: 3 + 1 spikes over 2 samples -> 4 / (2 * 0.5 * 2) = 2 Hz.
        let a = sample(&[(0.1, 0), (0.2, 1), (0.3, 1)], 0);
        let b = sample(&[(0.4, 0)], 0);
        let ds = EventDataset::new(vec![a, b], 2, Some(1), 0.5).unwrap();
        assert_eq!(ds.mean_rate_hz(&[0, 1]).unwrap(), 2.0);
        assert_eq!(ds.mean_rate_hz(&[0]).unwrap(), 3.0);
        assert_eq!(ds.mean_rate_hz(&[1, 1]).unwrap(), 1.0);
    }

    fn assert_partition(split: &Split, n: usize) {
        let mut all: Vec<usize> = [&split.train, &split.valid, &split.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn random_split_is_a_deterministic_partition() {
        let ds = labelled(3, &[40, 30, 31]);
        let fractions = [0.7, 0.2, 0.1];
        let split = ds.split_fractions(fractions, 5, false).unwrap();
        assert_partition(&split, 101);
        let sizes = [split.train.len(), split.valid.len(), split.test.len()];
        for (size, f) in sizes.iter().zip(fractions) {
            assert!((*size as f64 - 101.0 * f).abs() <= 1.0, "{sizes:?}");
        }
        assert_eq!(ds.split_fractions(fractions, 5, false).unwrap(), split);
        assert_ne!(ds.split_fractions(fractions, 6, false).unwrap(), split);
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        let per_class = [50, 23, 7, 101];
        let ds = labelled(4, &per_class);
        let fractions = [0.6, 0.25, 0.15];
        let split = ds.split_fractions(fractions, 11, true).unwrap();
        assert_partition(&split, per_class.iter().sum());
        let class_of = |i: usize| match ds.samples[i].target {
            Target::Class(c) => c,
            _ => unreachable!(),
        };
        for (part, f) in [&split.train, &split.valid, &split.test]
            .into_iter()
            .zip(fractions)
        {
            for (class, &n) in per_class.iter().enumerate() {
                let count = part.iter().filter(|&&i| class_of(i) == class).count();
                assert!(
                    (count as f64 - n as f64 * f).abs() <= 1.0,
                    "class {class}: {count}"
                );
            }
        }
        // Classes are mixed within a split, not grouped.
        let first: Vec<usize> = split.train.iter().take(20).map(|&i| class_of(i)).collect();
        assert!(first.windows(2).any(|w| w[0] != w[1]));
        assert_eq!(ds.split_fractions(fractions, 11, true).unwrap(), split);
        assert_ne!(ds.split_fractions(fractions, 12, true).unwrap(), split);
    }

    #[test]
    fn split_rejects_bad_fractions_and_stratified_regression() {
        let ds = labelled(2, &[3, 3]);
        for fractions in [[0.5, 0.5, 0.1], [1.2, -0.2, 0.0], [f64::NAN, 0.5, 0.5]] {
            assert!(matches!(
                ds.split_fractions(fractions, 0, false),
                Err(DataError::BadFractions(_))
            ));
        }
        let split = ds.split_fractions([1.0, 0.0, 0.0], 0, true).unwrap();
        assert_eq!(
            (split.train.len(), split.valid.len(), split.test.len()),
            (6, 0, 0)
        );
        let reg = EventDataset::new(vec![regression(&[1.0])], 1, None, 1.0).unwrap();
        assert!(matches!(
            reg.split_fractions([1.0, 0.0, 0.0], 0, true),
            Err(DataError::StratifyRegression)
        ));
        assert!(reg.split_fractions([0.0, 0.0, 1.0], 0, false).is_ok());
    }

    #[test]
    fn shuffled_indices_are_seeded_permutations() {
        let a = shuffled_indices(100, 1);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, shuffled_indices(100, 1));
        assert_ne!(a, shuffled_indices(100, 2));
        assert!(shuffled_indices(0, 1).is_empty());
    }

    #[test]
    fn batches_keep_the_last_partial_batch() {
        let indices: Vec<usize> = (10..17).collect();
        let plain = batches(&indices, 3, None).unwrap();
        assert_eq!(plain, vec![vec![10, 11, 12], vec![13, 14, 15], vec![16]]);
        let shuffled = batches(&indices, 3, Some(9)).unwrap();
        assert_eq!(
            shuffled.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        let mut flat: Vec<usize> = shuffled.concat();
        assert_ne!(flat, indices);
        flat.sort_unstable();
        assert_eq!(flat, indices);
        assert_eq!(batches(&indices, 3, Some(9)).unwrap(), shuffled);
        assert!(batches(&[], 4, None).unwrap().is_empty());
    }

    #[test]
    fn target_trains_are_checked_and_binned_like_the_input() {
        let trains = |times_s: Vec<f32>, units: Vec<u32>| EventSample {
            times_s: vec![0.001],
            units: vec![0],
            target: Target::Trains(TargetTrains {
                times_s,
                units,
                channels: 2,
            }),
        };
        let data = EventDataset::new(
            vec![trains(vec![0.0015, 0.0042, 0.009], vec![1, 0, 1])],
            1,
            None,
            0.01,
        )
        .unwrap();
        assert!(data.has_target_trains() && data.value_dims() == Some(2));
        let batch = data.bin(&[0, 0], 0.001, 5).unwrap();
        let BatchTargets::Trains(seq) = &batch.targets else {
            panic!("trains expected")
        };
        assert_eq!((seq.steps, seq.batch, seq.width), (5, 2, 2));
        assert_eq!((seq.at(1, 1, 1), seq.at(4, 0, 0)), (1.0, 1.0));
        assert_eq!(
            seq.data.iter().sum::<f32>(),
            4.0,
            "the spike at 9 ms lies past 5 steps"
        );
        let bad =
            |sample| EventDataset::new(vec![trains(vec![0.0], vec![0]), sample], 1, None, 0.01);
        assert!(matches!(
            bad(trains(vec![0.0], vec![2])),
            Err(DataError::UnitOutOfRange {
                sample: 1,
                unit: 2,
                ..
            })
        ));
        assert!(matches!(
            bad(trains(vec![f32::NAN], vec![0])),
            Err(DataError::BadTime { sample: 1, .. })
        ));
        let values = EventSample {
            target: Target::Values(vec![0.0, 1.0]),
            ..trains(vec![], vec![])
        };
        assert!(matches!(
            bad(values),
            Err(DataError::MixedTargets { sample: 1 })
        ));
    }
}
