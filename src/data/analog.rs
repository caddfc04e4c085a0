//! Dense analog sequences: sensor signals sampled at a fixed period, fed to a network as
//! input currents (e.g. through a [`crate::layers::LifEncoder`]) instead of as spikes.
//!
//! Every sample has the same number of sample steps. A batch for a network time step `dt`
//! holds at network step `t` the value of sample step `⌊t·dt / period⌋` (sample and hold: with
//! `period = 2·dt` every value is repeated twice, the ×2 upsampling of SpyTorch tutorial 5),
//! and zeros once the samples have ended.

use super::dataset::{split_members, time_bin};
use super::{DataError, Split};
use crate::tensor::Seq;

/// One analog sample: `steps × channels` values, row-major by step, and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogSample {
    /// Values `[steps][channels]`.
    pub values: Vec<f32>,
    /// Class label in `0..num_classes`.
    pub class: usize,
}

/// An in-memory classification dataset of equally long analog sequences, validated by
/// [`AnalogDataset::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogDataset {
    /// The samples, addressed by their position.
    pub samples: Vec<AnalogSample>,
    /// Values per sample step.
    pub channels: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Sample steps of every sample.
    pub steps: usize,
    /// Time between two sample steps, in seconds.
    pub sample_period_s: f64,
}

/// Per-channel affine normalization `x ↦ (x − mean) / (std + eps)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelStats {
    /// Mean of each channel.
    pub mean: Vec<f64>,
    /// Standard deviation of each channel.
    pub std: Vec<f64>,
}

/// Added to every standard deviation before dividing (constant channels become 0).
pub const STANDARDIZE_EPS: f64 = 1e-3;

impl AnalogDataset {
    /// A dataset after checking every sample: `channels ≥ 1`, `num_classes ≥ 1`, a finite
    /// positive period, every sample as long as the first (at least one step), finite values
    /// and a class below `num_classes`. Errors name the offending sample.
    pub fn new(
        samples: Vec<AnalogSample>,
        channels: usize,
        num_classes: usize,
        sample_period_s: f64,
    ) -> Result<Self, DataError> {
        if channels == 0 {
            return Err(DataError::NoChannels);
        }
        if num_classes == 0 {
            return Err(DataError::NoClasses);
        }
        if !(sample_period_s.is_finite() && sample_period_s > 0.0) {
            return Err(DataError::BadTimeStep(sample_period_s));
        }
        let values = samples.first().map_or(channels, |s| s.values.len());
        let steps = values / channels;
        for (index, sample) in samples.iter().enumerate() {
            check_sample(
                index,
                sample,
                steps.max(1) * channels,
                channels,
                num_classes,
            )?;
        }
        Ok(Self {
            samples,
            channels,
            num_classes,
            steps: steps.max(1),
            sample_period_s,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Duration of one sample in seconds.
    pub fn duration_s(&self) -> f64 {
        self.steps as f64 * self.sample_period_s
    }

    /// Mean and standard deviation of every channel over all steps of the samples `indices`.
    pub fn channel_stats(&self, indices: &[usize]) -> Result<ChannelStats, DataError> {
        if indices.is_empty() {
            return Err(DataError::EmptySelection);
        }
        let c = self.channels;
        let (mut sum, mut sq) = (vec![0.0f64; c], vec![0.0f64; c]);
        for &index in indices {
            for row in self.sample(index)?.values.chunks_exact(c) {
                for (k, &v) in row.iter().enumerate() {
                    sum[k] += f64::from(v);
                    sq[k] += f64::from(v) * f64::from(v);
                }
            }
        }
        let count = (indices.len() * self.steps) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / count - m * m).max(0.0).sqrt())
            .collect();
        Ok(ChannelStats { mean, std })
    }

    /// Applies `x ↦ (x − mean) / (std + STANDARDIZE_EPS)` per channel to every sample.
    pub fn normalize(&mut self, stats: &ChannelStats) {
        let c = self.channels;
        for sample in &mut self.samples {
            for row in sample.values.chunks_exact_mut(c) {
                for (k, v) in row.iter_mut().enumerate() {
                    let z = (f64::from(*v) - stats.mean[k]) / (stats.std[k] + STANDARDIZE_EPS);
                    *v = z as f32;
                }
            }
        }
    }

    /// The samples `indices` as a dense batch `[steps, batch, channels]` for network time
    /// step `dt_s` (sample and hold, zeros after the end), and their classes.
    pub fn batch(
        &self,
        indices: &[usize],
        dt_s: f64,
        steps: usize,
    ) -> Result<(Seq<f32>, Vec<usize>), DataError> {
        if !(dt_s.is_finite() && dt_s > 0.0) {
            return Err(DataError::BadTimeStep(dt_s));
        }
        let (batch, c) = (indices.len(), self.channels);
        let mut x = Seq::zeros(steps, batch, c);
        let mut classes = Vec::with_capacity(batch);
        for (b, &index) in indices.iter().enumerate() {
            let sample = self.sample(index)?;
            classes.push(sample.class);
            for t in 0..steps {
                let time_s = t as f64 * dt_s;
                if let Some(k) = time_bin(time_s, self.sample_period_s, self.steps) {
                    x.row_mut(t, b)
                        .copy_from_slice(&sample.values[k * c..(k + 1) * c]);
                }
            }
        }
        Ok((x, classes))
    }

    /// The same samples with channel `c` of every step taken from channel `permutation[c]`
    /// (permuted-input tasks such as permuted MNIST).
    pub fn permuted_channels(&self, permutation: &[usize]) -> Result<Self, DataError> {
        let c = self.channels;
        check_permutation(permutation, c)?;
        let permute = |s: &AnalogSample| AnalogSample {
            values: s
                .values
                .chunks_exact(c)
                .flat_map(|step| permutation.iter().map(move |&k| step[k]))
                .collect(),
            class: s.class,
        };
        Ok(Self {
            samples: self.samples.iter().map(permute).collect(),
            channels: c,
            num_classes: self.num_classes,
            steps: self.steps,
            sample_period_s: self.sample_period_s,
        })
    }

    /// Splits the samples like [`super::EventDataset::split_fractions`].
    pub fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        stratified: bool,
    ) -> Result<Split, DataError> {
        let members = stratified.then(|| {
            let mut members = vec![Vec::new(); self.num_classes];
            for (index, sample) in self.samples.iter().enumerate() {
                members[sample.class].push(index);
            }
            members
        });
        split_members(self.len(), members, fractions, seed)
    }

    fn sample(&self, index: usize) -> Result<&AnalogSample, DataError> {
        self.samples.get(index).ok_or(DataError::IndexOutOfRange {
            index,
            len: self.len(),
        })
    }
}

fn check_sample(
    index: usize,
    sample: &AnalogSample,
    expected: usize,
    channels: usize,
    num_classes: usize,
) -> Result<(), DataError> {
    if sample.values.len() != expected {
        return Err(DataError::AnalogLength {
            sample: index,
            found: sample.values.len(),
            expected,
        });
    }
    if let Some((i, &value)) = sample
        .values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
    {
        return Err(DataError::AnalogValue {
            sample: index,
            step: i / channels,
            channel: i % channels,
            value,
        });
    }
    if sample.class >= num_classes {
        return Err(DataError::ClassOutOfRange {
            sample: index,
            class: sample.class,
            num_classes,
        });
    }
    Ok(())
}

/// Checks that `permutation` holds each of `0..channels` once.
pub(super) fn check_permutation(permutation: &[usize], channels: usize) -> Result<(), DataError> {
    let mut seen = vec![false; channels];
    let valid = permutation.len() == channels
        && permutation
            .iter()
            .all(|&k| k < channels && !std::mem::replace(&mut seen[k], true));
    if valid {
        Ok(())
    } else {
        Err(DataError::InvalidEncoding(format!(
            "a channel permutation must hold each of 0..{channels} once"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f32], class: usize) -> AnalogSample {
        AnalogSample {
            values: values.to_vec(),
            class,
        }
    }

    #[test]
    fn batches_hold_each_value_for_its_sample_period() {
        // 2 channels, 3 sample steps of 2 ms, binned at 1 ms for 7 steps.
        let a = sample(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1);
        let b = sample(&[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0], 0);
        let ds = AnalogDataset::new(vec![a, b], 2, 2, 2e-3).unwrap();
        assert_eq!((ds.steps, ds.duration_s()), (3, 6e-3));
        let (x, classes) = ds.batch(&[1, 0], 1e-3, 7).unwrap();
        assert_eq!(classes, [0, 1]);
        let first: Vec<[f32; 2]> = (0..7).map(|t| [x.at(t, 1, 0), x.at(t, 1, 1)]).collect();
        assert_eq!(
            first,
            [
                [1.0, 2.0],
                [1.0, 2.0],
                [3.0, 4.0],
                [3.0, 4.0],
                [5.0, 6.0],
                [5.0, 6.0],
                [0.0, 0.0]
            ]
        );
        assert_eq!(x.at(3, 0, 1), -4.0);
    }

    #[test]
    fn standardization_uses_the_selected_samples_only() {
        // Channel 0 of samples 0 and 1: values 1, 3, 5, 7 -> mean 4, std √5.
        let ds_samples = vec![
            sample(&[1.0, 10.0, 3.0, 10.0], 0),
            sample(&[5.0, 10.0, 7.0, 10.0], 0),
            sample(&[100.0, 0.0, 100.0, 0.0], 0),
        ];
        let mut ds = AnalogDataset::new(ds_samples, 2, 1, 1.0).unwrap();
        let stats = ds.channel_stats(&[0, 1]).unwrap();
        assert_eq!(stats.mean, [4.0, 10.0]);
        assert!((stats.std[0] - 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(stats.std[1], 0.0);
        ds.normalize(&stats);
        let z = (1.0 - 4.0) / (5f64.sqrt() + STANDARDIZE_EPS);
        assert!((f64::from(ds.samples[0].values[0]) - z).abs() < 1e-6);
        // A constant channel becomes 0; an unselected sample is transformed, not measured.
        assert_eq!(ds.samples[1].values[1], 0.0);
        let far = (100.0 - 4.0) / (5f64.sqrt() + STANDARDIZE_EPS);
        assert!((f64::from(ds.samples[2].values[0]) - far).abs() < 1e-4);
        assert!(matches!(
            ds.channel_stats(&[]),
            Err(DataError::EmptySelection)
        ));
    }

    #[test]
    fn bad_samples_are_named() {
        let err = AnalogDataset::new(vec![sample(&[0.0, 1.0], 0), sample(&[0.0], 0)], 2, 1, 1.0)
            .unwrap_err();
        assert!(err.to_string().starts_with("sample 1: 1 values"), "{err}");
        let err =
            AnalogDataset::new(vec![sample(&[0.0, 1.0, f32::NAN, 0.0], 0)], 2, 1, 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sample 0: value NaN at step 1, channel 0 is not finite"
        );
        let err = AnalogDataset::new(vec![sample(&[0.0], 3)], 1, 2, 1.0).unwrap_err();
        assert!(matches!(err, DataError::ClassOutOfRange { class: 3, .. }));
        assert!(AnalogDataset::new(vec![], 1, 1, 0.0).is_err());
    }

    #[test]
    fn stratified_split_keeps_classes_balanced() {
        let samples = (0..40).map(|i| sample(&[i as f32], i % 4)).collect();
        let ds = AnalogDataset::new(samples, 1, 4, 1.0).unwrap();
        let split = ds.split_fractions([0.5, 0.25, 0.25], 3, true).unwrap();
        for part in [&split.train, &split.valid, &split.test] {
            for class in 0..4 {
                let n = part.iter().filter(|&&i| i % 4 == class).count();
                assert_eq!(n * 4, part.len(), "class {class}");
            }
        }
        assert_eq!(
            split,
            ds.split_fractions([0.5, 0.25, 0.25], 3, true).unwrap()
        );
    }
}
