//! Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) files (Cramer et al.
//! 2020): reading them into an [`EventDataset`] and writing datasets in the same layout.
//!
//! ```text
//! /spikes/times    variable-length float arrays, one per sample: spike times in seconds
//! /spikes/units    variable-length integer arrays, one per sample: channel ids
//! /labels          integer class per sample
//! /extra/keys      class names (optional)
//! /extra/speaker   speaker id per sample (optional)
//! ```
//!
//! Reading accepts times stored as float16, float32 or float64 and ids and labels of any
//! integer width, compressed (deflate, shuffle) or not. Writing produces what the
//! published files hold and h5py, stork and Tonic load unchanged: vlen float32 times
//! (float16 and float64 on request), vlen uint16 units, uint16 labels, vlen UTF-8 keys and
//! the speaker ids; 32-bit integers are used only where a value does not fit 16 bits.
//!
//! Memory: [`ShdReadOptions::samples`] reads a range of samples without loading the rest.
//! Beyond the samples returned (8 bytes per spike), a read holds every label of the file
//! (8 bytes per sample), 32 bytes of heap references per selected sample, one decompressed
//! chunk of the reference datasets at a time, and at most about 64 MiB of cached
//! global-heap collections. Writing builds the variable-length rows in memory first (the
//! file's size, about 6 bytes per spike) and streams them to a temporary file that is
//! renamed over the target. To train on files larger than memory, stream them instead
//! ([`super::shd_stream`]: an index of 28 bytes per sample, spikes read per batch).

use super::h5file::{hdf5_error, H5File};
use super::{DataError, EventDataset, EventSample, Target};
use crate::io::hdf5::{f32_to_f16, Dataset, DatasetData, Datatype, Hdf5Writer};
use crate::io::write_atomic_with;
use std::ops::Range;
use std::path::Path;

/// Input channels of the SHD and SSC cochlea model.
pub const SHD_CHANNELS: usize = 700;
/// Nominal sample duration in seconds (SpyTorch's `max_time` for SHD).
pub const SHD_MAX_TIME_S: f64 = 1.4;

pub(super) const TIMES: &str = "/spikes/times";
pub(super) const UNITS: &str = "/spikes/units";
pub(super) const LABELS: &str = "/labels";
pub(super) const KEYS: &str = "/extra/keys";
pub(super) const SPEAKER: &str = "/extra/speaker";

/// How to read an SHD/SSC file.
#[derive(Clone, Debug, PartialEq)]
pub struct ShdReadOptions {
    /// Number of input channels; every unit id must be below it.
    pub channels: usize,
    /// Nominal sample duration in seconds, stored as the dataset's `duration_s`.
    pub max_time_s: f64,
    /// Only these samples (positions in the file); `None` reads all.
    pub samples: Option<Range<usize>>,
}

impl Default for ShdReadOptions {
    fn default() -> Self {
        Self {
            channels: SHD_CHANNELS,
            max_time_s: SHD_MAX_TIME_S,
            samples: None,
        }
    }
}

/// The contents of an SHD/SSC file.
#[derive(Clone, Debug, PartialEq)]
pub struct ShdFile {
    /// The samples read; `num_classes` is the number of class names when the file has
    /// them, else the largest label in the whole file plus one.
    pub data: EventDataset,
    /// `/extra/keys`: class id -> name.
    pub class_names: Option<Vec<String>>,
    /// `/extra/speaker` of the samples read.
    pub speakers: Option<Vec<u32>>,
    /// Position in the file of `data.samples[0]`.
    pub first_sample: usize,
    /// Number of samples in the file.
    pub file_samples: usize,
    /// The stored type of the spike times, e.g. `vlen<float16>`.
    pub times_dtype: String,
}

/// Storage type of spike times when writing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeDtype {
    /// IEEE half precision (0.5 ms resolution at 1 s; rounds the times).
    F16,
    /// Single precision: exact for `times_s`.
    #[default]
    F32,
    /// Double precision.
    F64,
}

/// What to write besides the samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShdWriteOptions<'a> {
    /// `/extra/keys`; as many names as the dataset has classes.
    pub class_names: Option<&'a [String]>,
    /// `/extra/speaker`; one per sample.
    pub speakers: Option<&'a [u32]>,
    /// How spike times are stored.
    pub time_dtype: TimeDtype,
}

/// Reads an SHD/SSC file (see the module documentation for the layout).
///
/// Errors name the file, the dataset and, for a bad sample, its position in the file:
/// a missing dataset, wrong types, different sample counts in times, units, labels and
/// speakers, a sample with more times than units (or fewer), a unit id at or above
/// `channels`, a NaN, infinite or negative time, a label without a class name, and files
/// that are truncated or not HDF5.
pub fn read_shd(path: &Path, opts: &ShdReadOptions) -> Result<ShdFile, DataError> {
    let file = ShdSource::open(path)?;
    let ShdLayout {
        times,
        units,
        labels,
        class_names,
        num_classes,
        samples: n,
    } = file.layout()?;
    let range = file.range(opts.samples.clone(), n as usize)?;
    let speakers = file.speakers(n, &range)?;
    let mut samples = file.spikes(&times, &units, &range, opts.channels)?;
    for (sample, &label) in samples.iter_mut().zip(&labels[range.clone()]) {
        sample.target = Target::Class(label);
    }
    let data = EventDataset::new(samples, opts.channels, Some(num_classes), opts.max_time_s)?;
    Ok(ShdFile {
        data,
        class_names,
        speakers,
        first_sample: range.start,
        file_samples: n as usize,
        times_dtype: times.dtype.describe(),
    })
}

/// Writes `data` as an SHD file with float32 times (see [`write_shd_with`]).
pub fn write_shd(
    path: &Path,
    data: &EventDataset,
    class_names: Option<&[String]>,
    speakers: Option<&[u32]>,
) -> Result<(), DataError> {
    let opts = ShdWriteOptions {
        class_names,
        speakers,
        time_dtype: TimeDtype::F32,
    };
    write_shd_with(path, data, &opts)
}

/// Writes a classification dataset in the SHD layout, atomically (a temporary file renamed
/// over `path`). Reading the file back with the same `channels` and `max_time_s` gives
/// `data` again (times rounded when stored as float16).
pub fn write_shd_with(
    path: &Path,
    data: &EventDataset,
    opts: &ShdWriteOptions,
) -> Result<(), DataError> {
    let error = |dataset: &str, reason: String| DataError::Hdf5 {
        path: path.to_path_buf(),
        dataset: dataset.to_string(),
        reason,
    };
    let Some(num_classes) = data.num_classes else {
        return Err(error(LABELS, "regression targets cannot be stored".into()));
    };
    let mut writer = Hdf5Writer::new();
    let (times, units, labels) = encode_samples(data, opts.time_dtype)?;
    let add = |w: &mut Hdf5Writer, name: &str, d: DatasetData| {
        w.add(name, d).map_err(|e| error(name, e.to_string()))
    };
    add(&mut writer, TIMES, times)?;
    add(&mut writer, UNITS, units)?;
    add(&mut writer, LABELS, labels)?;
    if let Some(names) = opts.class_names {
        if names.len() != num_classes {
            let reason = format!("{} names for {num_classes} classes", names.len());
            return Err(error(KEYS, reason));
        }
        add(&mut writer, KEYS, DatasetData::VlenStrings(names.to_vec()))?;
    }
    if let Some(speakers) = opts.speakers {
        if speakers.len() != data.len() {
            let reason = format!("{} speakers for {} samples", speakers.len(), data.len());
            return Err(error(SPEAKER, reason));
        }
        let values: Vec<u64> = speakers.iter().map(|&s| u64::from(s)).collect();
        add(&mut writer, SPEAKER, integers(&values))?;
    }
    write_atomic_with(path, |file| {
        let mut sink = std::io::BufWriter::new(file);
        writer
            .write_to(&mut sink)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|e| error("/", e.to_string()))
}

/// The times, units and labels datasets of `data`.
fn encode_samples(
    data: &EventDataset,
    time_dtype: TimeDtype,
) -> Result<(DatasetData, DatasetData, DatasetData), DataError> {
    let wide_units = data.channels > usize::from(u16::MAX) + 1;
    let unit_size = if wide_units { 4 } else { 2 };
    let mut times = Vec::with_capacity(data.len());
    let mut units = Vec::with_capacity(data.len());
    let mut labels = Vec::with_capacity(data.len());
    for (index, sample) in data.samples.iter().enumerate() {
        times.push(encode_times(&sample.times_s, time_dtype));
        let mut row = Vec::with_capacity(sample.units.len() * unit_size);
        for &u in &sample.units {
            if wide_units {
                row.extend_from_slice(&u.to_le_bytes());
            } else {
                row.extend_from_slice(&(u as u16).to_le_bytes());
            }
        }
        units.push(row);
        match sample.target {
            Target::Class(class) => labels.push(class as u64),
            _ => return Err(DataError::ExpectedClass { sample: index }),
        }
    }
    let time_size = match time_dtype {
        TimeDtype::F16 => 2,
        TimeDtype::F32 => 4,
        TimeDtype::F64 => 8,
    };
    Ok((
        DatasetData::VlenSeq {
            base: Datatype::float(time_size),
            rows: times,
        },
        DatasetData::VlenSeq {
            base: Datatype::uint(unit_size),
            rows: units,
        },
        integers(&labels),
    ))
}

fn encode_times(times_s: &[f32], dtype: TimeDtype) -> Vec<u8> {
    match dtype {
        TimeDtype::F16 => times_s
            .iter()
            .flat_map(|&t| f32_to_f16(t).to_le_bytes())
            .collect(),
        TimeDtype::F32 => times_s.iter().flat_map(|t| t.to_le_bytes()).collect(),
        TimeDtype::F64 => times_s
            .iter()
            .flat_map(|&t| f64::from(t).to_le_bytes())
            .collect(),
    }
}

/// Unsigned integers as uint16, or uint32 when a value needs it.
fn integers(values: &[u64]) -> DatasetData {
    if values.iter().all(|&v| v <= u64::from(u16::MAX)) {
        let bytes = values
            .iter()
            .flat_map(|&v| (v as u16).to_le_bytes())
            .collect();
        DatasetData::Numbers {
            dtype: Datatype::uint(2),
            bytes,
        }
    } else {
        let bytes = values
            .iter()
            .flat_map(|&v| (v as u32).to_le_bytes())
            .collect();
        DatasetData::Numbers {
            dtype: Datatype::uint(4),
            bytes,
        }
    }
}

/// The SHD file being read: an [`H5File`] with the layout's checks.
pub(super) struct ShdSource(pub(super) H5File);

impl std::ops::Deref for ShdSource {
    type Target = H5File;
    fn deref(&self) -> &H5File {
        &self.0
    }
}

/// The most classes a file without class names may have (its largest label plus one); SHD
/// has 20, SSC 35.
pub const MAX_UNNAMED_CLASSES: usize = 1 << 16;

/// What every SHD/SSC file holds, checked against each other (no spike read yet).
pub(super) struct ShdLayout {
    pub times: Dataset,
    pub units: Dataset,
    pub labels: Vec<usize>,
    pub class_names: Option<Vec<String>>,
    /// The number of class names if the file has them, else the largest label plus one.
    pub num_classes: usize,
    pub samples: u64,
}

impl ShdSource {
    pub(super) fn open(path: &Path) -> Result<Self, DataError> {
        H5File::open(path).map(Self)
    }

    /// The spike datasets, labels and class names, with their types and row counts checked.
    pub(super) fn layout(&self) -> Result<ShdLayout, DataError> {
        let times = self.dataset(TIMES)?;
        let units = self.dataset(UNITS)?;
        let labels_ds = self.dataset(LABELS)?;
        self.expect_vlen(&times, true)?;
        self.expect_vlen(&units, false)?;
        let samples = times.len();
        self.expect_rows(&units, samples)?;
        self.expect_rows(&labels_ds, samples)?;
        let labels = self.labels(&labels_ds)?;
        let class_names = self.class_names(&labels)?;
        let num_classes = match &class_names {
            Some(names) => names.len(),
            None => labels.iter().max().map_or(1, |&max| max + 1),
        };
        if class_names.is_none() && num_classes > MAX_UNNAMED_CLASSES {
            let (i, label) = labels
                .iter()
                .enumerate()
                .max_by_key(|p| p.1)
                .expect("labelled");
            let reason = format!(
                "label {label}: a file without class names may use labels below \
                 {MAX_UNNAMED_CLASSES} (a corrupt label would make every per-class table that \
                 large)"
            );
            return Err(self.sample_error(LABELS, i, reason));
        }
        Ok(ShdLayout {
            times,
            units,
            labels,
            class_names,
            num_classes,
            samples,
        })
    }

    pub(super) fn expect_vlen(&self, ds: &Dataset, float: bool) -> Result<(), DataError> {
        let ok = match &ds.dtype {
            Datatype::VlenSeq(base) => match **base {
                Datatype::Float { .. } => float,
                Datatype::Int { .. } => !float,
                _ => false,
            },
            _ => false,
        };
        if ok && ds.shape.len() == 1 {
            return Ok(());
        }
        let wanted = if float {
            "vlen<float>"
        } else {
            "vlen<integer>"
        };
        let reason = format!(
            "expected a 1-D {wanted} dataset, found {} with shape {:?}",
            ds.dtype.describe(),
            ds.shape
        );
        Err(self.error(&ds.path, reason))
    }

    pub(super) fn expect_rows(&self, ds: &Dataset, rows: u64) -> Result<(), DataError> {
        if ds.shape.len() == 1 && ds.len() == rows {
            return Ok(());
        }
        let reason = format!("has shape {:?} but {TIMES} has {rows} samples", ds.shape);
        Err(self.error(&ds.path, reason))
    }

    fn range(&self, samples: Option<Range<usize>>, n: usize) -> Result<Range<usize>, DataError> {
        let range = samples.unwrap_or(0..n);
        if range.start > range.end || range.end > n {
            let reason = format!("sample range {range:?} is outside the file's {n} samples");
            return Err(self.error(TIMES, reason));
        }
        Ok(range)
    }

    /// Every label of the file, checked to be non-negative.
    pub(super) fn labels(&self, ds: &Dataset) -> Result<Vec<usize>, DataError> {
        let values = self.ints(ds, 0, ds.len())?;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                usize::try_from(v)
                    .map_err(|_| self.sample_error(LABELS, i, format!("label {v} is negative")))
            })
            .collect()
    }

    fn ints(&self, ds: &Dataset, start: u64, count: u64) -> Result<Vec<i64>, DataError> {
        self.reader
            .read_ints(ds, start, count)
            .map_err(|e| hdf5_error(&self.path, &ds.path, e))
    }

    /// `/extra/keys` if present, checked to name every label.
    pub(super) fn class_names(&self, labels: &[usize]) -> Result<Option<Vec<String>>, DataError> {
        let Some(ds) = self.optional_dataset(KEYS)? else {
            return Ok(None);
        };
        let names = self
            .reader
            .read_strings(&ds)
            .map_err(|e| hdf5_error(&self.path, KEYS, e))?;
        if let Some((i, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= names.len()) {
            let reason = format!(
                "label {label} has no name in {KEYS} ({} names)",
                names.len()
            );
            return Err(self.sample_error(LABELS, i, reason));
        }
        Ok(Some(names))
    }

    /// `/extra/speaker` of `range`, if present.
    pub(super) fn speakers(
        &self,
        n: u64,
        range: &Range<usize>,
    ) -> Result<Option<Vec<u32>>, DataError> {
        let Some(ds) = self.optional_dataset(SPEAKER)? else {
            return Ok(None);
        };
        self.expect_rows(&ds, n)?;
        let count = (range.end - range.start) as u64;
        let values = self.ints(&ds, range.start as u64, count)?;
        let speakers = values
            .iter()
            .zip(range.start as u64..)
            .map(|(&v, i)| {
                u32::try_from(v).map_err(|_| {
                    self.sample_error(SPEAKER, i as usize, format!("speaker id {v} is not a u32"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(speakers))
    }

    /// The spike trains of `range`, checked; targets are filled in by the caller.
    fn spikes(
        &self,
        times: &Dataset,
        units: &Dataset,
        range: &Range<usize>,
        channels: usize,
    ) -> Result<Vec<EventSample>, DataError> {
        let start = range.start as u64;
        let count = (range.end - range.start) as u64;
        let mut samples = Vec::with_capacity(range.len());
        let time_type = vlen_base(times);
        self.reader
            .read_vlen_rows(times, start, count, |_, bytes, _| {
                let mut times_s = Vec::new();
                time_type.decode_f32s(bytes, &mut times_s)?;
                samples.push(EventSample {
                    times_s,
                    units: Vec::new(),
                    target: Target::Class(0),
                });
                Ok(())
            })
            .map_err(|e| hdf5_error(&self.path, TIMES, e))?;
        for (sample, row) in samples.iter().zip(start..) {
            if let Some(&t) = sample
                .times_s
                .iter()
                .find(|t| !(t.is_finite() && **t >= 0.0))
            {
                let reason = format!("spike time {t} s is not finite and non-negative");
                return Err(self.sample_error(TIMES, row as usize, reason));
            }
        }
        let unit_type = vlen_base(units);
        let mut bad = None;
        let mut ids = Vec::new();
        self.reader
            .read_vlen_rows(units, start, count, |row, bytes, _| {
                ids.clear();
                unit_type.decode_ints(bytes, &mut ids)?;
                let sample = &mut samples[(row - start) as usize];
                if bad.is_none() {
                    bad = check_units(&ids, sample.times_s.len(), channels).map(|r| (row, r));
                }
                sample.units = ids.iter().map(|&u| u as u32).collect();
                Ok(())
            })
            .map_err(|e| hdf5_error(&self.path, UNITS, e))?;
        if let Some((row, reason)) = bad {
            return Err(self.sample_error(UNITS, row as usize, reason));
        }
        Ok(samples)
    }
}

/// Why a sample's unit ids are unusable, if they are.
pub(super) fn check_units(ids: &[i64], times: usize, channels: usize) -> Option<String> {
    if ids.len() != times {
        return Some(format!("{} unit ids but {times} spike times", ids.len()));
    }
    let bad = ids
        .iter()
        .find(|&&u| u < 0 || u as u64 >= channels as u64)?;
    Some(format!(
        "unit id {bad} is out of range for {channels} channels"
    ))
}

pub(super) fn vlen_base(ds: &Dataset) -> Datatype {
    match &ds.dtype {
        Datatype::VlenSeq(base) => (**base).clone(),
        other => other.clone(),
    }
}
