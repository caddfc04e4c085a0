//! Image classification data: HDF5 files with `/images` (uint8 `[N, H, W]`) and `/labels`
//! (integers `[N]`), as the MNIST subset and the 8×8 digits the project's tests use.
//!
//! Pixels are scaled to `[0, 1]` by the file's largest value (255 for MNIST, 16 for the UCI
//! digits; override with `max_value`) and flattened row by row. A dense network sees them as
//! one analog step ([`ImageEncoding::Dense`]); a spiking network sees spikes:
//!
//! - [`ImageEncoding::Rate`]: each pixel a Poisson train of rate `x · max_rate_hz` over
//!   `duration_ms`, seeded per sample;
//! - [`ImageEncoding::Latency`]: each pixel at most one spike, at `t = τ ln(x / (x − θ))` for
//!   `x > θ` (the time a leaky integrator with constant input `x` takes to reach `θ`; SpyTorch
//!   tutorial 2's `current2firing_time`), none if that is after `duration_ms`.
//!
//! ```text
//! /images   uint8   [N, H, W]
//! /labels   integer [N]        classes 0..C
//! ```

use super::h5file::{hdf5_error, H5File};
use super::{AnalogDataset, AnalogSample, DataError, EventDataset, EventSample, Target};
use crate::io::hdf5::Datatype;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const IMAGES: &str = "/images";
const LABELS: &str = "/labels";
/// The largest number of classes a label file may declare (a sanity bound on corrupt labels).
const MAX_CLASSES: usize = 1 << 16;

/// How images become network input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageEncoding {
    /// The scaled pixels as one analog step (dense networks).
    #[default]
    Dense,
    /// Poisson spike trains with rate proportional to the pixel value.
    Rate {
        /// Rate of a pixel of value 1.
        max_rate_hz: f64,
        /// Length of a sample.
        duration_ms: f64,
    },
    /// One spike per pixel, earlier for brighter pixels.
    Latency {
        /// Membrane time constant of the encoding integrator.
        tau_ms: f64,
        /// Threshold in scaled pixel units; dimmer pixels never spike.
        threshold: f64,
        /// Length of a sample; later spikes are dropped.
        duration_ms: f64,
    },
}

impl ImageEncoding {
    /// SpyTorch tutorial 2's latency code: τ = 20 ms, θ = 0.2, 100 ms.
    pub fn latency() -> Self {
        Self::Latency {
            tau_ms: 20.0,
            threshold: 0.2,
            duration_ms: 100.0,
        }
    }

    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = |field, v: f64| {
            (v.is_finite() && v > 0.0)
                .then_some(())
                .ok_or((field, format!("must be finite and positive, got {v}")))
        };
        match *self {
            Self::Dense => Ok(()),
            Self::Rate {
                max_rate_hz,
                duration_ms,
            } => {
                positive("max_rate_hz", max_rate_hz)?;
                positive("duration_ms", duration_ms)
            }
            Self::Latency {
                tau_ms,
                threshold,
                duration_ms,
            } => {
                positive("tau_ms", tau_ms)?;
                positive("duration_ms", duration_ms)?;
                (threshold.is_finite() && (0.0..1.0).contains(&threshold))
                    .then_some(())
                    .ok_or((
                        "threshold",
                        format!("must be in [0, 1) (scaled pixels), got {threshold}"),
                    ))
            }
        }
    }
}

/// Images scaled to `[0, 1]`, flattened, with their classes.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageData {
    /// Pixels `[N, height · width]`, row-major.
    pub pixels: Vec<f32>,
    /// The class of each image.
    pub labels: Vec<usize>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes (largest label + 1).
    pub num_classes: usize,
}

impl ImageData {
    /// Every image resampled to `side × side` by area averaging: each output pixel is the
    /// mean of the input pixels it covers, weighted by the covered area (exact for any ratio,
    /// up- or downsampling).
    pub fn resized(&self, side: usize) -> Result<Self, DataError> {
        if side == 0 || side > 4096 {
            return Err(DataError::InvalidConfig {
                field: "resize_px",
                reason: "must lie in 1..=4096",
            });
        }
        let rows = area_weights(self.height, side);
        let cols = area_weights(self.width, side);
        let (h, w) = (self.height, self.width);
        let mut pixels = Vec::with_capacity(self.labels.len() * side * side);
        for image in self.pixels.chunks_exact(h * w) {
            for row in &rows {
                for col in &cols {
                    let mut v = 0.0f64;
                    for &(y, wy) in row {
                        for &(x, wx) in col {
                            v += wy * wx * f64::from(image[y * w + x]);
                        }
                    }
                    pixels.push(v as f32);
                }
            }
        }
        Ok(Self {
            pixels,
            labels: self.labels.clone(),
            height: side,
            width: side,
            num_classes: self.num_classes,
        })
    }

    /// Reads `/images` and `/labels` from `path`, scaling by `max_value` (by default the
    /// largest pixel value in the file).
    pub fn read(path: &Path, max_value: Option<f64>) -> Result<Self, DataError> {
        let file = H5File::open(path)?;
        let images = file.dataset(IMAGES)?;
        let (n, height, width) = match images.shape[..] {
            [n, h, w] if matches!(images.dtype, Datatype::Int { .. }) => {
                (n as usize, h as usize, w as usize)
            }
            _ => {
                let reason = format!(
                    "expected an integer dataset [images, height, width], found {} with shape {:?}",
                    images.dtype.describe(),
                    images.shape
                );
                return Err(file.error(IMAGES, reason));
            }
        };
        let labels = file.dataset(LABELS)?;
        if labels.shape != [n as u64] || !matches!(labels.dtype, Datatype::Int { .. }) {
            let reason = format!(
                "expected {n} integer labels, found {} with shape {:?}",
                labels.dtype.describe(),
                labels.shape
            );
            return Err(file.error(LABELS, reason));
        }
        let raw = file
            .reader
            .read_all_f64s(&images)
            .map_err(|e| hdf5_error(path, IMAGES, e))?;
        let labels = read_labels(&file, &labels)?;
        let scale = match max_value {
            Some(v) => v,
            None => raw.iter().copied().fold(0.0, f64::max),
        };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(file.error(
                IMAGES,
                format!("cannot scale by {scale} (all pixels zero?)"),
            ));
        }
        if let Some((i, v)) = raw.iter().enumerate().find(|(_, v)| **v < 0.0) {
            let reason = format!("pixel {v} is negative");
            return Err(file.sample_error(IMAGES, i / (height * width).max(1), reason));
        }
        let num_classes = labels.iter().max().map_or(0, |m| m + 1);
        Self::new(
            raw.iter().map(|&v| (v / scale) as f32).collect(),
            labels,
            height,
            width,
            num_classes,
        )
        .map_err(|e| file.error(IMAGES, e.to_string()))
    }

    /// Images from parts, checked: `pixels` holds `labels.len()` images of `height × width`
    /// finite values, and every label is below `num_classes`.
    pub fn new(
        pixels: Vec<f32>,
        labels: Vec<usize>,
        height: usize,
        width: usize,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        let size = height * width;
        if size == 0 {
            return Err(DataError::NoChannels);
        }
        if pixels.len() != labels.len() * size {
            return Err(DataError::AnalogLength {
                sample: pixels.len() / size,
                found: pixels.len(),
                expected: labels.len() * size,
            });
        }
        if let Some((i, &value)) = pixels.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(DataError::AnalogValue {
                sample: i / size,
                step: 0,
                channel: i % size,
                value,
            });
        }
        if let Some((sample, &class)) = labels.iter().enumerate().find(|(_, &c)| c >= num_classes) {
            return Err(DataError::ClassOutOfRange {
                sample,
                class,
                num_classes,
            });
        }
        Ok(Self {
            pixels,
            labels,
            height,
            width,
            num_classes,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn size(&self) -> usize {
        self.height * self.width
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.pixels[i * self.size()..(i + 1) * self.size()]
    }

    /// The images as one-step analog samples (period `period_s`), for dense networks.
    pub fn to_analog(&self, period_s: f64) -> Result<AnalogDataset, DataError> {
        let samples = (0..self.len())
            .map(|i| AnalogSample {
                values: self.image(i).to_vec(),
                class: self.labels[i],
            })
            .collect();
        AnalogDataset::new(samples, self.size(), self.num_classes.max(1), period_s)
    }

    /// The images as spike events under `encoding` (rate or latency; `seed` draws the
    /// Poisson spikes, sample `i` from its own stream).
    pub fn to_events(&self, encoding: ImageEncoding, seed: u64) -> Result<EventDataset, DataError> {
        let duration_ms = match encoding {
            ImageEncoding::Dense => {
                return Err(DataError::InvalidEncoding(
                    "a dense image encoding has no spikes; use rate or latency".into(),
                ))
            }
            ImageEncoding::Rate { duration_ms, .. }
            | ImageEncoding::Latency { duration_ms, .. } => duration_ms,
        };
        let samples = (0..self.len())
            .map(|i| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(i as u64);
                let (times_s, units) = encode(self.image(i), encoding, &mut rng);
                EventSample {
                    times_s,
                    units,
                    target: Target::Class(self.labels[i]),
                }
            })
            .collect();
        EventDataset::new(
            samples,
            self.size(),
            Some(self.num_classes.max(1)),
            duration_ms * 1e-3,
        )
    }
}

/// The spikes of one image: (times in seconds, pixel ids).
fn encode(pixels: &[f32], encoding: ImageEncoding, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<u32>) {
    let (mut times_s, mut units) = (Vec::new(), Vec::new());
    match encoding {
        ImageEncoding::Dense => {}
        ImageEncoding::Rate {
            max_rate_hz,
            duration_ms,
        } => {
            let duration_s = duration_ms * 1e-3;
            for (k, &x) in pixels.iter().enumerate() {
                let rate_hz = f64::from(x.clamp(0.0, 1.0)) * max_rate_hz;
                if rate_hz <= 0.0 {
                    continue;
                }
                let mut t = 0.0;
                loop {
                    t += -(1.0 - rng.random::<f64>()).ln() / rate_hz;
                    if t >= duration_s {
                        break;
                    }
                    times_s.push(t as f32);
                    units.push(k as u32);
                }
            }
        }
        ImageEncoding::Latency {
            tau_ms,
            threshold,
            duration_ms,
        } => {
            for (k, &x) in pixels.iter().enumerate() {
                if let Some(t_ms) = latency_ms(f64::from(x), tau_ms, threshold) {
                    if t_ms < duration_ms {
                        times_s.push((t_ms * 1e-3) as f32);
                        units.push(k as u32);
                    }
                }
            }
        }
    }
    (times_s, units)
}

/// The first-spike latency of a pixel of value `x`: `τ ln(x / (x − θ))` for `x > θ`.
pub fn latency_ms(x: f64, tau_ms: f64, threshold: f64) -> Option<f64> {
    (x > threshold).then(|| tau_ms * (x / (x - threshold)).ln())
}

fn read_labels(file: &H5File, ds: &crate::io::hdf5::Dataset) -> Result<Vec<usize>, DataError> {
    let values = file
        .reader
        .read_ints(ds, 0, ds.len())
        .map_err(|e| hdf5_error(&file.path, LABELS, e))?;
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| match usize::try_from(v) {
            Ok(c) if c < MAX_CLASSES => Ok(c),
            _ => Err(file.sample_error(LABELS, i, format!("label {v} is not a class id"))),
        })
        .collect()
}

/// For each of `to` output cells along an axis of `from` input pixels, the input pixels it
/// overlaps and the fraction of the cell each covers (the fractions of a cell sum to 1).
fn area_weights(from: usize, to: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = from as f64 / to as f64;
    (0..to)
        .map(|o| {
            let (lo, hi) = (o as f64 * scale, (o + 1) as f64 * scale);
            let first = lo.floor() as usize;
            let last = (hi.ceil() as usize).min(from);
            (first..last)
                .map(|i| {
                    let overlap = hi.min(i as f64 + 1.0) - lo.max(i as f64);
                    (i, overlap / scale)
                })
                .filter(|&(_, wgt)| wgt > 0.0)
                .collect()
        })
        .collect()
}

/// The config of an image source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// The HDF5 file, e.g. `../shared/data/mnist5k/mnist5k.h5`.
    pub path: PathBuf,
    /// The value a pixel of 1 has in the file (default: the file's largest value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// How images become input: `dense` for MLPs, `rate` or `latency` for spiking networks.
    #[serde(default)]
    pub encoding: ImageEncoding,
    /// Resample every image to `resize_px × resize_px` by area averaging before encoding
    /// (e.g. 16 for MNIST on a 256-input chip); absent: as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_px: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ImageData {
        ImageData::new(vec![0.0, 0.5, 1.0, 0.1, 0.9, 0.0], vec![0, 1], 1, 3, 2).unwrap()
    }

    #[test]
    fn resizing_averages_areas_exactly() {
        let data = ImageData::new((0..16).map(|v| v as f32).collect(), vec![0], 4, 4, 1).unwrap();
        let half = data.resized(2).unwrap();
        assert_eq!(half.pixels, vec![2.5, 4.5, 10.5, 12.5]);
        let third = data.resized(3).unwrap();
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&third.pixels) - mean(&data.pixels)).abs() < 1e-5);
        assert_eq!(data.resized(4).unwrap(), data);
        assert!(data.resized(0).is_err());
    }

    #[test]
    fn latency_is_the_integrator_threshold_crossing() {
        // A leaky integrator τ dV/dt = −V + x reaches θ at τ ln(x/(x − θ)).
        let (tau, theta, x) = (20.0, 0.2, 0.7);
        let t = latency_ms(x, tau, theta).unwrap();
        let v = x * (1.0 - (-t / tau).exp());
        assert!((v - theta).abs() < 1e-12);
        assert!(latency_ms(0.2, tau, theta).is_none());
        assert!(latency_ms(1.0, tau, theta).unwrap() < latency_ms(0.5, tau, theta).unwrap());
    }

    #[test]
    fn latency_events_one_spike_per_bright_pixel() {
        let events = tiny().to_events(ImageEncoding::latency(), 0).unwrap();
        assert_eq!(events.samples[0].units, vec![1, 2]);
        assert_eq!(events.samples[1].units, vec![1]);
        let t = events.samples[0].times_s[1] as f64;
        assert!((t - 20e-3 * (1.0f64 / 0.8).ln()).abs() < 1e-7);
    }

    #[test]
    fn rate_events_follow_the_pixel_rate_and_the_seed() {
        let data = ImageData::new(vec![0.25, 1.0], vec![0], 1, 2, 1).unwrap();
        let rate = ImageEncoding::Rate {
            max_rate_hz: 1000.0,
            duration_ms: 1000.0,
        };
        let a = data.to_events(rate, 3).unwrap();
        let b = data.to_events(rate, 3).unwrap();
        assert_eq!(a, b);
        let count = |u| a.samples[0].units.iter().filter(|&&k| k == u).count() as f64;
        // Poisson counts: 250 ± 16 and 1000 ± 32 (one standard deviation).
        assert!((count(0) - 250.0).abs() < 80.0, "{}", count(0));
        assert!((count(1) - 1000.0).abs() < 160.0, "{}", count(1));
        assert!(a.samples[0]
            .times_s
            .iter()
            .all(|&t| (0.0..1.0).contains(&t)));
    }

    #[test]
    fn bad_parts_are_refused() {
        assert!(ImageData::new(vec![0.0; 5], vec![0, 1], 1, 3, 2).is_err());
        assert!(ImageData::new(vec![0.0; 6], vec![0, 2], 1, 3, 2).is_err());
        assert!(ImageData::new(vec![f32::NAN; 6], vec![0, 1], 1, 3, 2).is_err());
        assert!(ImageEncoding::Latency {
            tau_ms: 20.0,
            threshold: 1.5,
            duration_ms: 100.0
        }
        .validate()
        .is_err());
    }

    #[test]
    fn channel_permutation_moves_pixels_and_refuses_non_permutations() {
        let analog = tiny().to_analog(1e-3).unwrap();
        let p = analog.permuted_channels(&[2, 0, 1]).unwrap();
        assert_eq!(p.samples[0].values, &[1.0, 0.0, 0.5]);
        assert!(analog.permuted_channels(&[0, 0, 1]).is_err());
        assert!(analog.permuted_channels(&[0, 1]).is_err());
    }

    #[test]
    fn analog_view_is_one_step_per_image() {
        let analog = tiny().to_analog(1e-3).unwrap();
        assert_eq!((analog.steps, analog.channels, analog.len()), (1, 3, 2));
        let (x, classes) = analog.batch(&[1], 1e-3, 1).unwrap();
        assert_eq!(x.row(0, 0), &[0.1, 0.9, 0.0]);
        assert_eq!(classes, vec![1]);
    }
}
