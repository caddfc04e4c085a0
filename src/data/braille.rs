//! The Braille letter reading benchmark (Müller-Cleve et al. 2022, "Braille letter reading:
//! a benchmark for spatio-temporal pattern recognition on neuromorphic hardware", Front.
//! Neurosci. 16:951164): raw recordings of an iCub fingertip with 12 capacitive taxels slid
//! over 3D-printed Braille letters, and their sigma-delta ON/OFF event encoding.
//!
//! The recordings are read from an HDF5 file of this layout (the SpyTorch tutorial 5 data,
//! converted from its pickle without changing values):
//!
//! ```text
//! /taxels       float  [samples, steps, taxels]  zero-padded after each sample's length
//! /lengths      integer [samples]                valid time steps per sample
//! /labels       integer [samples]                index into /classes
//! /classes      strings [classes]                "Space", "A", ..., "Z"
//! /repetition   integer [samples]                repetition index within the letter
//! ```
//!
//! Values are raw sensor readings in 0–255, lower meaning more pressure, sampled at
//! [`BRAILLE_SAMPLE_RATE_HZ`].
//!
//! # Sigma-delta encoding
//!
//! [`BrailleData::encode`] turns the recordings into an [`EventDataset`] the way the
//! benchmark's `utils/event_transform.py` (event-driven-robotics/tactile_braille_reading,
//! initial commit of 2022-05-25, `sample_to_changes`) does:
//!
//! - each taxel's signal is inverted to a pressure, `p = 255 − x`, in raw sensor units
//!   (not normalised; the benchmark's thresholds 1, 2, 5 and 10 are in these units);
//! - a reference level starts at the first sample's pressure; between samples the signal is
//!   interpolated linearly, and whenever it reaches `reference + threshold` an ON event is
//!   emitted at the (interpolated) crossing time and the reference rises by `threshold`;
//!   reaching `reference − threshold` emits an OFF event and lowers the reference by
//!   `threshold`. A change of `k · threshold` thus gives `k` events, and a change smaller than
//!   the threshold none, however slowly it accumulates;
//! - times are sample index / 40 Hz in seconds, so the first sample is at 0 s;
//! - taxel `i` gives channel `2i` (ON) and `2i + 1` (OFF): 24 channels for 12 taxels, the
//!   channel order of the benchmark's notebooks.
//!
//! The reference code finds the signal's local extrema first and interpolates within each
//! monotone stretch between them; walking sample by sample as done here gives the same
//! events (checked on the shared recordings: identical event times for thresholds 1, 2, 5
//! and 10). Where the signal stays on a level for several samples, an event is placed at the
//! first time the level is reached. The reference code also truncates values to integers;
//! the recordings hold integers, and fractional values are used as they are here.
//!
//! The sampling rate is [`BRAILLE_SAMPLE_RATE_HZ`] (the file's root attribute
//! `sample_rate_hz` says the same; the HDF5 reader skips attributes). Event times are continuous, so unlike SpyTorch's dense
//! LIF encoder (which upsamples the signal ×2), no upsampling is needed: the network's time
//! step sets the resolution when the events are binned.

use super::h5file::{hdf5_error, H5File};
use super::{DataError, EventDataset, EventSample, Target};
use crate::io::hdf5::{Dataset, Datatype};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Sampling rate of the recordings in Hz.
pub const BRAILLE_SAMPLE_RATE_HZ: f64 = 40.0;
/// Largest raw sensor value; the encoding uses the pressure `BRAILLE_FULL_SCALE − x`.
pub const BRAILLE_FULL_SCALE: f32 = 255.0;

const TAXELS: &str = "/taxels";
const LENGTHS: &str = "/lengths";
const LABELS: &str = "/labels";
const CLASSES: &str = "/classes";
const REPETITION: &str = "/repetition";

/// How the raw taxel signals become network input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BrailleEncoding {
    /// Sigma-delta ON/OFF events (see the module documentation): two channels per taxel.
    SigmaDelta {
        /// Pressure change per event, in raw sensor units (0–255 scale); the benchmark
        /// uses 1, 2, 5 and 10.
        threshold: f32,
    },
    /// The analog pressures `1 − x/255` of the chosen taxels, one channel each, for a
    /// network with an encoder (see [`BrailleData::analog`]).
    Analog {
        /// Taxel indices, in channel order; empty: all taxels.
        #[serde(default)]
        taxels: Vec<usize>,
        /// Time between two recorded samples as played to the network, in ms (the
        /// recordings are at 40 Hz, 25 ms; SpyTorch tutorial 5 plays them at 2 ms).
        #[serde(default = "default_sample_period_ms")]
        sample_period_ms: f64,
        /// Whether each channel is standardized with the mean and standard deviation of
        /// the training samples.
        #[serde(default = "default_standardize")]
        standardize: bool,
    },
}

fn default_sample_period_ms() -> f64 {
    1e3 / BRAILLE_SAMPLE_RATE_HZ
}

fn default_standardize() -> bool {
    true
}

impl Default for BrailleEncoding {
    fn default() -> Self {
        BrailleEncoding::SigmaDelta { threshold: 1.0 }
    }
}

impl BrailleEncoding {
    /// Checks the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            BrailleEncoding::SigmaDelta { threshold } => {
                if threshold.is_finite() && *threshold > 0.0 {
                    Ok(())
                } else {
                    Err(format!("threshold {threshold} must be finite and positive"))
                }
            }
            BrailleEncoding::Analog {
                sample_period_ms, ..
            } => {
                if sample_period_ms.is_finite() && *sample_period_ms > 0.0 {
                    Ok(())
                } else {
                    Err(format!(
                        "sample_period_ms {sample_period_ms} must be finite and positive"
                    ))
                }
            }
        }
    }
}

/// The raw recordings of a Braille file.
#[derive(Clone, Debug, PartialEq)]
pub struct BrailleData {
    /// Raw sensor values, `[samples][max_steps][taxels]` row-major, zero after each sample's
    /// length.
    pub values: Vec<f32>,
    /// Time steps of the padded array (the longest sample may be shorter).
    pub max_steps: usize,
    /// Taxels per time step.
    pub taxels: usize,
    /// Valid time steps of each sample.
    pub lengths: Vec<usize>,
    /// Class of each sample: an index into `class_names`.
    pub labels: Vec<usize>,
    /// Class names, e.g. `"Space"`, `"A"`, ..., `"Z"`.
    pub class_names: Vec<String>,
    /// Repetition index of each sample within its letter.
    pub repetition: Vec<u32>,
    /// Sampling rate in Hz.
    pub sample_rate_hz: f64,
}

impl BrailleData {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The valid values of sample `index`, `[lengths[index]][taxels]` row-major, or `None`
    /// if there is no such sample.
    pub fn signal(&self, index: usize) -> Option<&[f32]> {
        let start = index.checked_mul(self.max_steps * self.taxels)?;
        let len = self.lengths.get(index)? * self.taxels;
        self.values.get(start..start + len)
    }

    /// The whole dataset encoded as `encoding` says: spike events or analog sequences.
    pub fn dataset(&self, encoding: &BrailleEncoding) -> Result<super::Dataset, DataError> {
        match encoding {
            BrailleEncoding::SigmaDelta { .. } => self.encode(encoding).map(super::Dataset::Events),
            BrailleEncoding::Analog {
                taxels,
                sample_period_ms,
                ..
            } => {
                encoding.validate().map_err(DataError::InvalidEncoding)?;
                self.analog(taxels, sample_period_ms * 1e-3)
                    .map(super::Dataset::Analog)
            }
        }
    }

    /// The whole dataset as spike events, one channel per taxel and polarity, each sample
    /// labelled with its class; the nominal duration is `max_steps / sample_rate_hz`.
    /// Only for the sigma-delta encoding.
    pub fn encode(&self, encoding: &BrailleEncoding) -> Result<EventDataset, DataError> {
        encoding.validate().map_err(DataError::InvalidEncoding)?;
        let BrailleEncoding::SigmaDelta { threshold } = *encoding else {
            return Err(DataError::InvalidEncoding(
                "the analog encoding gives analog sequences, not events".into(),
            ));
        };
        let mut samples = Vec::with_capacity(self.len());
        let mut pressure = Vec::new();
        for (index, &label) in self.labels.iter().enumerate() {
            let signal = self.signal(index).ok_or(DataError::IndexOutOfRange {
                index,
                len: self.len(),
            })?;
            let mut sample = EventSample {
                times_s: Vec::new(),
                units: Vec::new(),
                target: Target::Class(label),
            };
            for taxel in 0..self.taxels {
                pressure.clear();
                pressure.extend(
                    signal
                        .iter()
                        .skip(taxel)
                        .step_by(self.taxels)
                        .map(|&x| BRAILLE_FULL_SCALE - x),
                );
                for event in sigma_delta_events(&pressure, threshold) {
                    sample
                        .times_s
                        .push((event.at_samples / self.sample_rate_hz) as f32);
                    sample
                        .units
                        .push((2 * taxel + usize::from(!event.on)) as u32);
                }
            }
            samples.push(sample);
        }
        let duration_s = self.max_steps.max(1) as f64 / self.sample_rate_hz;
        EventDataset::new(
            samples,
            2 * self.taxels,
            Some(self.class_names.len()),
            duration_s,
        )
    }
}

/// One sigma-delta event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeltaEvent {
    /// When the signal reached the event's level, in sample periods from the first sample
    /// (fractional: interpolated linearly between samples).
    pub at_samples: f64,
    /// `true` for an ON event (the signal rose by the threshold), `false` for OFF.
    pub on: bool,
}

/// The sigma-delta events of one signal, in time order (see the module documentation).
///
/// The reference level starts at `signal[0]`; each time the linearly interpolated signal
/// reaches `reference ± threshold`, an ON (+) or OFF (−) event is emitted and the reference
/// moves to that level. `threshold` must be positive and every value finite; otherwise, or
/// for fewer than two samples, there are no events.
pub fn sigma_delta_events(signal: &[f32], threshold: f32) -> Vec<DeltaEvent> {
    let mut events = Vec::new();
    let valid = threshold.is_finite() && threshold > 0.0 && signal.iter().all(|x| x.is_finite());
    let Some(&first) = signal.first().filter(|_| valid) else {
        return events;
    };
    let step = f64::from(threshold);
    let mut reference = f64::from(first);
    for (k, pair) in signal.windows(2).enumerate() {
        let (a, b) = (f64::from(pair[0]), f64::from(pair[1]));
        // Clamped so that rounding in a non-dyadic threshold cannot leave the interval.
        let crossing = |level: f64| k as f64 + ((level - a) / (b - a)).clamp(0.0, 1.0);
        if b > a {
            while reference + step <= b {
                reference += step;
                events.push(DeltaEvent {
                    at_samples: crossing(reference),
                    on: true,
                });
            }
        } else if b < a {
            while reference - step >= b {
                reference -= step;
                events.push(DeltaEvent {
                    at_samples: crossing(reference),
                    on: false,
                });
            }
        }
    }
    events
}

/// Reads a Braille recordings file (see the module documentation for the layout).
///
/// Errors name the file and the dataset: a missing or unreadable file, a missing dataset,
/// wrong types or ranks, sample counts that differ between datasets, a length beyond the
/// padded steps, a label without a class name, a negative or too large integer, and a
/// value that is not a sensor reading in `[0, 255]` (NaN and infinities included).
pub fn read_braille(path: &Path) -> Result<BrailleData, DataError> {
    let file = BrailleSource::open(path)?;
    let taxels_ds = file.dataset(TAXELS)?;
    let [samples, max_steps, taxels] = file.taxel_shape(&taxels_ds)?;
    let lengths = file.counts(LENGTHS, samples)?;
    let labels = file.counts(LABELS, samples)?;
    let repetition = file.counts(REPETITION, samples)?;
    let class_names = file.class_names()?;
    if let Some((i, &len)) = lengths.iter().enumerate().find(|(_, &l)| l > max_steps) {
        let reason = format!("length {len} exceeds the {max_steps} steps of {TAXELS}");
        return Err(file.sample_error(LENGTHS, i, reason));
    }
    if let Some((i, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= class_names.len())
    {
        let reason = format!(
            "label {label} has no name in {CLASSES} ({} names)",
            class_names.len()
        );
        return Err(file.sample_error(LABELS, i, reason));
    }
    let values = file.values(&taxels_ds, max_steps * taxels)?;
    Ok(BrailleData {
        values,
        max_steps,
        taxels,
        lengths,
        labels,
        class_names,
        repetition: repetition.into_iter().map(|r| r as u32).collect(),
        sample_rate_hz: BRAILLE_SAMPLE_RATE_HZ,
    })
}

/// The Braille file being read: an [`H5File`] with the layout's checks.
struct BrailleSource(H5File);

impl std::ops::Deref for BrailleSource {
    type Target = H5File;
    fn deref(&self) -> &H5File {
        &self.0
    }
}

impl BrailleSource {
    fn open(path: &Path) -> Result<Self, DataError> {
        H5File::open(path).map(Self)
    }

    /// `[samples, steps, taxels]` of a 3-D float dataset with at least one taxel.
    fn taxel_shape(&self, ds: &Dataset) -> Result<[usize; 3], DataError> {
        let float = matches!(ds.dtype, Datatype::Float { .. });
        let shape: Vec<usize> = ds.shape.iter().map(|&d| d as usize).collect();
        match shape[..] {
            [samples, steps, taxels] if float && taxels > 0 => Ok([samples, steps, taxels]),
            _ => Err(self.error(
                TAXELS,
                format!(
                    "expected a 3-D float dataset [samples, steps, taxels], found {} with \
                     shape {:?}",
                    ds.dtype.describe(),
                    ds.shape
                ),
            )),
        }
    }

    /// A 1-D integer dataset of `samples` non-negative values that fit a `u32`.
    fn counts(&self, name: &str, samples: usize) -> Result<Vec<usize>, DataError> {
        let ds = self.dataset(name)?;
        if !matches!(ds.dtype, Datatype::Int { .. }) || ds.shape.len() != 1 {
            let reason = format!(
                "expected a 1-D integer dataset, found {} with shape {:?}",
                ds.dtype.describe(),
                ds.shape
            );
            return Err(self.error(name, reason));
        }
        if ds.len() != samples as u64 {
            let reason = format!("has {} rows but {TAXELS} has {samples} samples", ds.len());
            return Err(self.error(name, reason));
        }
        let values = self
            .reader
            .read_ints(&ds, 0, ds.len())
            .map_err(|e| hdf5_error(&self.path, name, e))?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                u32::try_from(v)
                    .map(|v| v as usize)
                    .map_err(|_| self.sample_error(name, i, format!("value {v} is not a u32")))
            })
            .collect()
    }

    fn class_names(&self) -> Result<Vec<String>, DataError> {
        let ds = self.dataset(CLASSES)?;
        if ds.shape.len() != 1 {
            let reason = format!("expected a 1-D string dataset, found shape {:?}", ds.shape);
            return Err(self.error(CLASSES, reason));
        }
        let names = self
            .reader
            .read_strings(&ds)
            .map_err(|e| hdf5_error(&self.path, CLASSES, e))?;
        if names.is_empty() {
            return Err(self.error(CLASSES, "no class names"));
        }
        Ok(names)
    }

    /// Every taxel value, checked to be a sensor reading in `[0, 255]` (a value far outside
    /// would also make the sigma-delta encoding emit without bound).
    fn values(&self, ds: &Dataset, per_sample: usize) -> Result<Vec<f32>, DataError> {
        let values = self
            .reader
            .read_all_f32s(ds)
            .map_err(|e| hdf5_error(&self.path, TAXELS, e))?;
        let outside = |x: &f32| !(0.0..=BRAILLE_FULL_SCALE).contains(x);
        if let Some((i, x)) = values.iter().enumerate().find(|(_, x)| outside(x)) {
            let sample = i / per_sample.max(1);
            let reason = format!("value {x} is not a sensor reading in [0, {BRAILLE_FULL_SCALE}]");
            return Err(self.sample_error(TAXELS, sample, reason));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(time in samples, on)` pairs of the events.
    fn events(signal: &[f32], threshold: f32) -> Vec<(f64, bool)> {
        sigma_delta_events(signal, threshold)
            .iter()
            .map(|e| (e.at_samples, e.on))
            .collect()
    }

    #[test]
    fn a_rise_gives_one_on_event_per_threshold_at_interpolated_times() {
        assert_eq!(
            events(&[0.0, 3.0], 1.0),
            [(1.0 / 3.0, true), (2.0 / 3.0, true), (1.0, true)]
        );
        assert_eq!(events(&[10.0, 10.0, 14.0], 2.0), [(1.5, true), (2.0, true)]);
    }

    #[test]
    fn the_reference_moves_by_whole_thresholds_in_both_directions() {
        // Up to 2.5: ON at levels 1 and 2 (reference 2); down to 0.5: OFF at level 1 only.
        assert_eq!(
            events(&[0.0, 2.5, 0.5], 1.0),
            [(0.4, true), (0.8, true), (1.75, false)]
        );
        // Falling by exactly the threshold emits an event at the sample itself.
        assert_eq!(events(&[5.0, 3.0, 1.0], 2.0), [(1.0, false), (2.0, false)]);
    }

    #[test]
    fn changes_below_the_threshold_accumulate_against_the_reference() {
        assert!(events(&[0.0, 0.6, 0.2, 0.9, -0.9], 1.0).is_empty());
        // The reference is still 0, so reaching 1.0 from 0.9 is an event.
        assert_eq!(events(&[0.0, 0.6, 0.2, 0.9, 1.0], 1.0), [(4.0, true)]);
    }

    #[test]
    fn a_level_held_for_several_samples_fires_when_first_reached() {
        assert_eq!(
            events(&[0.0, 1.0, 1.0, 2.0], 1.0),
            [(1.0, true), (3.0, true)]
        );
    }

    #[test]
    fn degenerate_inputs_give_no_events() {
        assert!(events(&[], 1.0).is_empty());
        assert!(events(&[3.0], 1.0).is_empty());
        assert!(events(&[0.0, 5.0], 0.0).is_empty());
        assert!(events(&[0.0, 5.0], f32::NAN).is_empty());
        assert!(events(&[0.0, f32::NAN, 5.0], 1.0).is_empty());
    }

    #[test]
    fn encoding_inverts_to_pressure_and_interleaves_on_off_channels() {
        // One sample, 3 steps, 2 taxels; taxel 0 falls by 2 (pressure up), taxel 1 rises by 1.
        let data = BrailleData {
            values: vec![100.0, 50.0, 99.0, 50.0, 98.0, 51.0],
            max_steps: 3,
            taxels: 2,
            lengths: vec![3],
            labels: vec![1],
            class_names: vec!["Space".into(), "A".into()],
            repetition: vec![0],
            sample_rate_hz: 40.0,
        };
        let set = data.encode(&BrailleEncoding::default()).unwrap();
        assert_eq!(set.channels, 4);
        assert_eq!(set.num_classes, Some(2));
        let s = &set.samples[0];
        assert_eq!(s.units, [0, 0, 3]);
        assert_eq!(s.times_s, [1.0 / 40.0, 2.0 / 40.0, 2.0 / 40.0]);
        assert_eq!(s.target, Target::Class(1));
    }
}
