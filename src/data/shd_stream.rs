//! An SHD/SSC file opened for streaming: its samples' spikes are read from the file when a
//! batch asks for them, so training on a file larger than memory holds only an index.
//!
//! Opening checks the layout as [`read_shd`](super::read_shd) does (datasets, types, sample
//! counts, labels, class names, speakers, and that every sample has as many unit ids as
//! spike times) and records where each sample's times and units lie in the file. It never
//! reads a spike. Spike times and unit ids are checked when a sample is read; errors name
//! the file, the dataset and the sample's position in the file, as for the in-memory path.
//!
//! Memory: [`INDEX_BYTES_PER_SAMPLE`] bytes per sample (file offsets of the times and the
//! units, the spike count, the label and the speaker), plus the class names. Reading a sample
//! holds its raw bytes and its decoded spikes (8 bytes per spike) and nothing else; there is
//! no cache. Opening transiently holds the file's raw variable-length references (16 bytes per
//! sample per dataset) and every label as `usize`.
//!
//! A stream is cheap to clone (the index is shared) and can be read from several threads:
//! reads of the file are serialized by a mutex, decoding and checking run in parallel.

use super::h5file::{hdf5_error, H5File};
use super::shd::{check_units, vlen_base, ShdLayout, ShdSource, LABELS, TIMES, UNITS};
use super::{DataError, EventSample, Target};
use crate::io::hdf5::{Datatype, Hdf5Reader, VlenLocation};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Bytes of index held per sample: two file offsets (8 each), the spike count, the label and
/// the speaker (4 each).
pub const INDEX_BYTES_PER_SAMPLE: usize = 28;

/// An SHD/SSC file open for reading samples on demand (see the module documentation).
#[derive(Clone)]
pub struct ShdStream {
    shared: Arc<Shared>,
}

struct Shared {
    reader: Mutex<Hdf5Reader>,
    path: PathBuf,
    channels: usize,
    time_type: Datatype,
    unit_type: Datatype,
    index: SampleIndex,
    class_names: Option<Vec<String>>,
    num_classes: usize,
}

/// What is kept per sample.
#[derive(PartialEq)]
struct SampleIndex {
    times_at: Vec<u64>,
    units_at: Vec<u64>,
    counts: Vec<u32>,
    labels: Vec<u32>,
    speakers: Option<Vec<u32>>,
}

impl ShdStream {
    /// Opens `path` for streaming; unit ids must be below `channels` (checked when read).
    pub fn open(path: &Path, channels: usize) -> Result<Self, DataError> {
        let file = ShdSource::open(path)?;
        let ShdLayout {
            times,
            units,
            labels,
            class_names,
            num_classes,
            samples: n,
        } = file.layout()?;
        let speakers = file.speakers(n, &(0..n as usize))?;
        let locate = |ds: &crate::io::hdf5::Dataset| {
            file.reader
                .vlen_locations(ds, 0, n)
                .map_err(|e| hdf5_error(&file.path, &ds.path, e))
        };
        let times_at = locate(&times)?;
        let units_at = locate(&units)?;
        let counts = matched_counts(&file, &times_at, &units_at)?;
        let labels = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                u32::try_from(l)
                    .map_err(|_| file.sample_error(LABELS, i, format!("label {l} is too large")))
            })
            .collect::<Result<_, _>>()?;
        let index = SampleIndex {
            times_at: times_at.iter().map(|l| l.offset).collect(),
            units_at: units_at.iter().map(|l| l.offset).collect(),
            counts,
            labels,
            speakers,
        };
        let (time_type, unit_type) = (vlen_base(&times), vlen_base(&units));
        let ShdSource(H5File { reader, path }) = file;
        let shared = Shared {
            reader: Mutex::new(reader),
            path,
            channels,
            time_type,
            unit_type,
            index,
            class_names,
            num_classes,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Number of samples in the file.
    pub fn len(&self) -> usize {
        self.shared.index.counts.len()
    }

    /// Whether the file has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of input channels.
    pub fn channels(&self) -> usize {
        self.shared.channels
    }

    /// The number of class names if the file has them, else the largest label plus one.
    pub fn num_classes(&self) -> usize {
        self.shared.num_classes
    }

    /// `/extra/keys`: class id -> name.
    pub fn class_names(&self) -> Option<&[String]> {
        self.shared.class_names.as_deref()
    }

    /// `/extra/speaker`, one per sample.
    pub fn speakers(&self) -> Option<&[u32]> {
        self.shared.index.speakers.as_deref()
    }

    /// The class label of every sample.
    pub fn labels(&self) -> &[u32] {
        &self.shared.index.labels
    }

    /// The stored type of the spike times, e.g. `vlen<float16>`.
    pub fn times_dtype(&self) -> String {
        format!("vlen<{}>", self.shared.time_type.describe())
    }

    /// The number of spikes of every sample (known without reading them).
    pub fn spike_counts(&self) -> &[u32] {
        &self.shared.index.counts
    }

    /// Reads sample `sample` (its position in the file) and checks its spikes.
    pub fn read(&self, sample: usize) -> Result<EventSample, DataError> {
        let s = &*self.shared;
        let Some(&len) = s.index.counts.get(sample) else {
            return Err(DataError::IndexOutOfRange {
                index: sample,
                len: self.len(),
            });
        };
        let at = |offsets: &[u64]| VlenLocation {
            offset: offsets[sample],
            len,
        };
        let (times_raw, units_raw) = {
            let reader = s.reader.lock().unwrap_or_else(|e| e.into_inner());
            let times = reader.read_vlen_at(at(&s.index.times_at), s.time_type.size());
            let units = reader.read_vlen_at(at(&s.index.units_at), s.unit_type.size());
            (times, units)
        };
        let error = |dataset: &str, e: crate::io::hdf5::Hdf5Error| {
            self.sample_error(dataset, sample, e.to_string())
        };
        let mut times_s = Vec::with_capacity(len as usize);
        let raw = times_raw.map_err(|e| error(TIMES, e))?;
        s.time_type
            .decode_f32s(&raw, &mut times_s)
            .map_err(|e| error(TIMES, e))?;
        if let Some(&t) = times_s.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            let reason = format!("spike time {t} s is not finite and non-negative");
            return Err(self.sample_error(TIMES, sample, reason));
        }
        let mut ids = Vec::with_capacity(len as usize);
        let raw = units_raw.map_err(|e| error(UNITS, e))?;
        s.unit_type
            .decode_ints(&raw, &mut ids)
            .map_err(|e| error(UNITS, e))?;
        if let Some(reason) = check_units(&ids, times_s.len(), s.channels) {
            return Err(self.sample_error(UNITS, sample, reason));
        }
        Ok(EventSample {
            times_s,
            units: ids.iter().map(|&u| u as u32).collect(),
            target: Target::Class(s.index.labels[sample] as usize),
        })
    }

    fn sample_error(&self, dataset: &str, sample: usize, reason: String) -> DataError {
        DataError::Hdf5Sample {
            path: self.shared.path.clone(),
            dataset: dataset.to_string(),
            sample,
            reason,
        }
    }
}

/// The spike count of every sample, checked to be the same in times and units.
fn matched_counts(
    file: &ShdSource,
    times: &[VlenLocation],
    units: &[VlenLocation],
) -> Result<Vec<u32>, DataError> {
    let mut counts = Vec::with_capacity(times.len());
    for (i, (t, u)) in times.iter().zip(units).enumerate() {
        if t.len != u.len {
            let reason = format!("{} unit ids but {} spike times", u.len, t.len);
            return Err(file.sample_error(UNITS, i, reason));
        }
        counts.push(t.len);
    }
    Ok(counts)
}

impl std::fmt::Debug for ShdStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShdStream")
            .field("path", &self.shared.path)
            .field("samples", &self.len())
            .field("channels", &self.shared.channels)
            .finish()
    }
}

/// Two streams are equal when they index the same samples of the same path alike.
impl PartialEq for ShdStream {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.shared, &*other.shared);
        Arc::ptr_eq(&self.shared, &other.shared)
            || (a.path == b.path
                && a.channels == b.channels
                && a.time_type == b.time_type
                && a.unit_type == b.unit_type
                && a.index == b.index
                && a.class_names == b.class_names)
    }
}
