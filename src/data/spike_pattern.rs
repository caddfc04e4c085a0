//! SuperSpike's spike-pattern task (Zenke & Ganguli 2018, Fig. 5): frozen Poisson input, and
//! a target spike raster that the output neurons must reproduce, read from a PNG image (rows
//! are output neurons, columns are time bins of `column_ms`; see [`super::raster`]) or from an
//! SHD-layout HDF5 file.
//!
//! The task is memorisation: every sample holds the same frozen input and target, so the
//! train, validation and test splits all measure how well that one pattern is produced.

use super::dataset::{EventDataset, EventSample, Target, TargetTrains};
use super::raster::{read_png, Raster, MAX_RASTER_COLUMNS, MAX_RASTER_ROWS};
use super::shd::{read_shd, ShdReadOptions};
use super::{rng, DataError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The project's own target image (`drawn_target(200, 189)`), used when no file is given.
pub const SHIPPED_TARGET_PNG: &[u8] = include_bytes!("../../assets/superspike_target.png");

/// Mixed into the seed for the jitter draws, so that they are independent of the input's.
const JITTER_STREAM: u64 = 0x6a09_e667_f3bc_c909;

/// The most copies of the pattern a dataset may hold.
pub const MAX_PATTERN_SAMPLES: usize = 100_000;

/// Parameters of a spike-pattern dataset; the defaults are the paper's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikePatternConfig {
    /// Input channels of frozen Poisson spikes.
    pub inputs: usize,
    /// Their rate in Hz.
    pub rate_hz: f64,
    /// Seed of the input spikes and of the target jitter.
    pub seed: u64,
    /// The target: a PNG image or an SHD-layout `.h5` file (its sample `target_sample`, with
    /// `channels = output neurons`); none: the shipped image (200 neurons × 189 columns).
    /// A relative path is relative to the working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
    /// A PNG column's duration in ms.
    pub column_ms: f64,
    /// A pixel darker than this (a fraction of white, in (0, 1]) is a spike.
    pub threshold: f64,
    /// Each PNG spike sits at the middle of its column, moved by a uniform offset of at most
    /// ±`jitter_ms`/2 (frozen: drawn once from the seed; at most one column).
    pub jitter_ms: f64,
    /// The output neurons of an `.h5` target (its unit ids must be below it).
    pub target_channels: usize,
    /// The sample of an `.h5` target file.
    pub target_sample: usize,
    /// The sample duration in ms for an `.h5` target (a PNG's is its columns × `column_ms`).
    pub duration_ms: f64,
    /// Identical copies of the pattern: the trials of one epoch.
    pub nb_samples: usize,
}

impl Default for SpikePatternConfig {
    fn default() -> Self {
        Self {
            inputs: 200,
            rate_hz: 5.0,
            seed: 1,
            target: None,
            column_ms: 10.0,
            threshold: 0.5,
            jitter_ms: 0.0,
            target_channels: 200,
            target_sample: 0,
            duration_ms: 1890.0,
            nb_samples: 10,
        }
    }
}

impl SpikePatternConfig {
    /// Checks every field that does not need the target file.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid =
            |field, reason: String| Err(DataError::InvalidPatternConfig { field, reason });
        if self.inputs == 0 {
            return invalid("inputs", "must be at least 1".into());
        }
        if !(1..=MAX_PATTERN_SAMPLES).contains(&self.nb_samples) {
            return invalid(
                "nb_samples",
                format!("must be in 1..={MAX_PATTERN_SAMPLES}"),
            );
        }
        if !(self.rate_hz.is_finite() && self.rate_hz >= 0.0 && self.rate_hz <= 1000.0) {
            return invalid(
                "rate_hz",
                format!("must be in [0, 1000], got {}", self.rate_hz),
            );
        }
        if !(self.column_ms.is_finite() && self.column_ms > 0.0) {
            return invalid(
                "column_ms",
                format!("must be positive, got {}", self.column_ms),
            );
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return invalid(
                "threshold",
                format!("must be in (0, 1], got {}", self.threshold),
            );
        }
        if !(self.jitter_ms >= 0.0 && self.jitter_ms <= self.column_ms) {
            let reason = format!("must be in [0, column_ms], got {}", self.jitter_ms);
            return invalid("jitter_ms", reason);
        }
        let most_ms = MAX_RASTER_COLUMNS as f64 * 10.0;
        if !(self.duration_ms.is_finite() && self.duration_ms > 0.0 && self.duration_ms <= most_ms)
        {
            return invalid("duration_ms", format!("must be in (0, {most_ms}]"));
        }
        if !(1..=MAX_RASTER_ROWS).contains(&self.target_channels) {
            return invalid(
                "target_channels",
                format!("must be in 1..={MAX_RASTER_ROWS}"),
            );
        }
        Ok(())
    }
}

/// The dataset of `config`: `nb_samples` copies of the frozen input and its target trains.
pub fn generate_pattern(config: &SpikePatternConfig) -> Result<EventDataset, DataError> {
    config.validate()?;
    let (target, duration_s) = match &config.target {
        None => png_target(config, SHIPPED_TARGET_PNG, Path::new("the shipped target"))?,
        Some(path) if is_hdf5(path) => h5_target(config, path)?,
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| pattern_file(path, e))?;
            png_target(config, &bytes, path)?
        }
    };
    let (times_s, units) = frozen_poisson(config, duration_s);
    let sample = EventSample {
        times_s,
        units,
        target: Target::Trains(target),
    };
    let samples = vec![sample; config.nb_samples];
    EventDataset::new(samples, config.inputs, None, duration_s)
}

fn is_hdf5(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "h5" | "hdf5"))
}

fn pattern_file(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::PatternTarget {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// A PNG raster's spikes, one per dark pixel at its column's middle (± the frozen jitter).
fn png_target(
    config: &SpikePatternConfig,
    bytes: &[u8],
    path: &Path,
) -> Result<(TargetTrains, f64), DataError> {
    let raster = read_png(bytes, config.threshold).map_err(|e| pattern_file(path, e))?;
    if raster.count() == 0 {
        return Err(pattern_file(
            path,
            "no pixel is darker than the threshold: no spike",
        ));
    }
    Ok(raster_trains(config, &raster))
}

fn raster_trains(config: &SpikePatternConfig, raster: &Raster) -> (TargetTrains, f64) {
    let mut jitter = rng::seeded(config.seed ^ JITTER_STREAM);
    let (mut times_s, mut units) = (Vec::new(), Vec::new());
    for column in 0..raster.columns {
        for row in 0..raster.rows {
            if raster.at(row, column) {
                let offset = config.jitter_ms * (rng::unit_f64(&mut jitter) - 0.5);
                let ms = (column as f64 + 0.5) * config.column_ms + offset;
                times_s.push((ms * 1e-3) as f32);
                units.push(row as u32);
            }
        }
    }
    let trains = TargetTrains {
        times_s,
        units,
        channels: raster.rows,
    };
    (trains, raster.columns as f64 * config.column_ms * 1e-3)
}

/// Sample `target_sample` of an SHD-layout file as the target trains.
fn h5_target(config: &SpikePatternConfig, path: &Path) -> Result<(TargetTrains, f64), DataError> {
    let s = config.target_sample;
    let opts = ShdReadOptions {
        channels: config.target_channels,
        max_time_s: config.duration_ms * 1e-3,
        samples: Some(s..s + 1),
    };
    let file = read_shd(path, &opts)?;
    let sample = file
        .data
        .samples
        .into_iter()
        .next()
        .ok_or_else(|| pattern_file(path, format!("has no sample {s}")))?;
    if sample.is_empty() {
        return Err(pattern_file(path, format!("sample {s} has no spike")));
    }
    let trains = TargetTrains {
        times_s: sample.times_s,
        units: sample.units,
        channels: config.target_channels,
    };
    Ok((trains, config.duration_ms * 1e-3))
}

/// Poisson spikes of every input channel on a 0.1 ms grid (the paper's), drawn once.
fn frozen_poisson(config: &SpikePatternConfig, duration_s: f64) -> (Vec<f32>, Vec<u32>) {
    const GRID_S: f64 = 1e-4;
    let p = config.rate_hz * GRID_S;
    let bins = (duration_s / GRID_S).round() as usize;
    let mut draw = rng::seeded(config.seed);
    let (mut times_s, mut units) = (Vec::new(), Vec::new());
    for bin in 0..bins {
        for unit in 0..config.inputs {
            if rng::unit_f64(&mut draw) < p {
                times_s.push((bin as f64 * GRID_S) as f32);
                units.push(unit as u32);
            }
        }
    }
    (times_s, units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::raster::{drawn_target, write_png};

    fn png_of(raster: &Raster) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
        write_png(raster, std::fs::File::create(file.path()).unwrap()).unwrap();
        file
    }

    #[test]
    fn shipped_target_is_the_drawn_pattern_at_column_middles() {
        let config = SpikePatternConfig::default();
        let data = generate_pattern(&config).unwrap();
        assert_eq!(data.len(), 10);
        assert_eq!(data.channels, 200);
        assert!((data.duration_s - 1.89).abs() < 1e-12);
        let raster = drawn_target(200, 189);
        let Target::Trains(t) = &data.samples[0].target else {
            panic!("trains expected")
        };
        assert_eq!((t.channels, t.times_s.len()), (200, raster.count()));
        for (&time, &unit) in t.times_s.iter().zip(&t.units) {
            let column = (f64::from(time) * 1e3 / 10.0 - 0.5).round() as usize;
            assert!(raster.at(unit as usize, column));
        }
        assert_eq!(data.samples[0], data.samples[2], "frozen copies");
        // About rate × duration × inputs input spikes.
        let expected = 5.0 * 1.89 * 200.0;
        let n = data.samples[0].len() as f64;
        assert!((n - expected).abs() < 5.0 * expected.sqrt(), "{n}");
    }

    #[test]
    fn jitter_stays_in_its_window_and_is_frozen() {
        let raster = drawn_target(20, 30);
        let file = png_of(&raster);
        let config = SpikePatternConfig {
            target: Some(file.path().to_path_buf()),
            jitter_ms: 4.0,
            ..SpikePatternConfig::default()
        };
        let a = generate_pattern(&config).unwrap();
        let b = generate_pattern(&config).unwrap();
        assert_eq!(a, b);
        let Target::Trains(t) = &a.samples[0].target else {
            panic!("trains expected")
        };
        assert_eq!(t.channels, 20);
        let moved = t.times_s.iter().filter(|&&s| {
            let within = (f64::from(s) * 1e3).rem_euclid(10.0);
            assert!((3.0 - 1e-3..=7.0 + 1e-3).contains(&within), "{within}");
            (within - 5.0).abs() > 1e-3
        });
        assert!(moved.count() > 0);
    }

    #[test]
    fn bad_configs_and_targets_are_named() {
        let bad = |config: SpikePatternConfig| generate_pattern(&config).unwrap_err().to_string();
        for (config, field) in [
            (
                SpikePatternConfig {
                    inputs: 0,
                    ..Default::default()
                },
                "inputs",
            ),
            (
                SpikePatternConfig {
                    rate_hz: f64::NAN,
                    ..Default::default()
                },
                "rate_hz",
            ),
            (
                SpikePatternConfig {
                    jitter_ms: 11.0,
                    ..Default::default()
                },
                "jitter_ms",
            ),
            (
                SpikePatternConfig {
                    threshold: 0.0,
                    ..Default::default()
                },
                "threshold",
            ),
            (
                SpikePatternConfig {
                    nb_samples: 0,
                    ..Default::default()
                },
                "nb_samples",
            ),
        ] {
            let err = bad(config);
            assert!(err.contains(field), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.png");
        std::fs::write(&garbage, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        let white = png_of(&Raster {
            rows: 3,
            columns: 4,
            spikes: vec![false; 12],
        });
        for path in [
            garbage,
            dir.path().join("missing.png"),
            white.path().to_path_buf(),
        ] {
            let err = bad(SpikePatternConfig {
                target: Some(path.clone()),
                ..Default::default()
            });
            assert!(err.contains(&*path.to_string_lossy()), "{err}");
        }
    }
}
