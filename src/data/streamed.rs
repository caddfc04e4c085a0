//! A classification dataset of spike events streamed from SHD/SSC files: the samples of
//! several files one after another, read on demand (see [`super::shd_stream`]).
//!
//! Everything training needs besides the spikes of a batch — labels, speakers, spike
//! counts — is in the streams' indexes, so splitting and the mean input rate cost no read.
//!
//! Memory bound: the data takes
//!
//! ```text
//! 28 B × samples (index)  +  batch spikes × (8 B decoded + 8 B binning pairs)
//!                         +  the binned batch  +  6 B × spikes of the samples being decoded
//! ```
//!
//! (see [`INDEX_BYTES_PER_SAMPLE`]); nothing else grows with the files, and there is no cache.
//! For SSC (75 466 + 9 981 + 20 382 samples) the index is about 3 MB, and a batch of 128
//! samples of ≤ 8 000 spikes about 16 MB. Measured: one epoch on a synthetic SSC-sized file
//! (75 000 samples of 2 000–6 000 spikes, 1.8 GB) peaked at 140 MB streamed (the same run on a
//! 7 500-sample file: 136 MB) against 2.9 GB with the file loaded.

use super::dataset::{split_members, Split};
use super::shd_stream::{ShdStream, INDEX_BYTES_PER_SAMPLE};
use super::{DataError, EventSample};

/// Samples of SHD/SSC files read on demand; index `i` is sample `i - start` of the file whose
/// range holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedEvents {
    files: Vec<ShdStream>,
    /// Index of the first sample of each file.
    starts: Vec<usize>,
    len: usize,
    /// Number of input channels.
    pub channels: usize,
    /// Number of classes: the largest of the files'.
    pub num_classes: usize,
    /// Nominal duration of one sample in seconds (used for firing rates).
    pub duration_s: f64,
}

impl StreamedEvents {
    /// The samples of `files` in order, binned over `duration_s` seconds.
    ///
    /// The files must agree on the number of channels.
    pub fn new(files: Vec<ShdStream>, duration_s: f64) -> Result<Self, DataError> {
        if !(duration_s.is_finite() && duration_s > 0.0) {
            return Err(DataError::BadDuration(duration_s));
        }
        let channels = files.first().map_or(0, ShdStream::channels);
        if channels == 0 {
            return Err(DataError::NoChannels);
        }
        if let Some(f) = files.iter().find(|f| f.channels() != channels) {
            return Err(DataError::Hdf5 {
                path: f.path().to_path_buf(),
                dataset: "/spikes/units".into(),
                reason: format!("opened for {} channels, not {channels}", f.channels()),
            });
        }
        let mut starts = Vec::with_capacity(files.len());
        let mut len = 0;
        for f in &files {
            starts.push(len);
            len += f.len();
        }
        let num_classes = files.iter().map(ShdStream::num_classes).max().unwrap_or(1);
        Ok(Self {
            files,
            starts,
            len,
            channels,
            num_classes,
            duration_s,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The class label of every sample, in order (from the files' indexes).
    pub fn labels(&self) -> Vec<usize> {
        let labels = self.files.iter().flat_map(|f| f.labels());
        labels.map(|&l| l as usize).collect()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The files, in index order.
    pub fn files(&self) -> &[ShdStream] {
        &self.files
    }

    /// Bytes held in memory for indexing (see the module documentation).
    pub fn index_bytes(&self) -> usize {
        self.len * INDEX_BYTES_PER_SAMPLE
    }

    /// The file holding `index` and the sample's position in it.
    fn locate(&self, index: usize) -> Result<(&ShdStream, usize), DataError> {
        if index >= self.len {
            return Err(DataError::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        let file = self.starts.partition_point(|&s| s <= index) - 1;
        Ok((&self.files[file], index - self.starts[file]))
    }

    /// Reads the samples `indices` from their files, in order.
    ///
    /// One thread reads: on a machine whose cores are busy with the training step, parallel
    /// reads measured no faster, and threads waiting on the file's lock only add context
    /// switches.
    pub fn read(&self, indices: &[usize]) -> Result<Vec<EventSample>, DataError> {
        indices
            .iter()
            .map(|&index| {
                let (file, sample) = self.locate(index)?;
                file.read(sample)
            })
            .collect()
    }

    /// Mean firing rate per input channel in Hz over the samples `indices`, as
    /// [`EventDataset::mean_rate_hz`](super::EventDataset::mean_rate_hz) computes it, from
    /// the spike counts in the index (no spike is read).
    pub fn mean_rate_hz(&self, indices: &[usize]) -> Result<f64, DataError> {
        let counts = indices.iter().map(|&index| {
            let (file, sample) = self.locate(index)?;
            Ok(file.spike_counts()[sample] as usize)
        });
        super::dataset::mean_rate_hz(counts, self.channels, self.duration_s)
    }

    /// Splits all samples by `fractions` from the labels, exactly as
    /// [`EventDataset::split_fractions`](super::EventDataset::split_fractions) splits the
    /// same samples held in memory.
    pub fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        stratified: bool,
    ) -> Result<Split, DataError> {
        let members = stratified.then(|| self.class_members()).transpose()?;
        split_members(self.len, members, fractions, seed)
    }

    /// Sample indices grouped by class, ascending within each class.
    fn class_members(&self) -> Result<Vec<Vec<usize>>, DataError> {
        let mut members = vec![Vec::new(); self.num_classes];
        for (file, &start) in self.files.iter().zip(&self.starts) {
            for (i, &label) in file.labels().iter().enumerate() {
                let class = label as usize;
                let list = members.get_mut(class).ok_or(DataError::ClassOutOfRange {
                    sample: start + i,
                    class,
                    num_classes: self.num_classes,
                })?;
                list.push(start + i);
            }
        }
        Ok(members)
    }
}
