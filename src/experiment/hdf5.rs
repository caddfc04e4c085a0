//! The data of an experiment whose source is SHD/SSC-layout HDF5 files, read into memory or
//! streamed (`data.source.stream`); both give the same samples, split and batches.

use super::{ExperimentError, SPLIT};
use crate::config::{DataSource, ExperimentConfig, ValidBy};
use crate::data::{
    read_shd, split_by_group, DataError, Dataset, EventDataset, ShdFile, ShdReadOptions, ShdStream,
    Split, StreamedEvents,
};
use crate::error::ConfigError;
use crate::training::derive_seed;
use std::path::PathBuf;

/// What splitting needs of a file, read or streamed.
trait SourceFile {
    fn len(&self) -> usize;
    fn num_classes(&self) -> usize;
    fn class_names(&self) -> Option<&[String]>;
    fn speakers(&self) -> Option<&[u32]>;
    fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        strat: bool,
    ) -> Result<Split, DataError>;
}

impl SourceFile for ShdFile {
    fn len(&self) -> usize {
        self.data.len()
    }
    fn num_classes(&self) -> usize {
        self.data.num_classes.unwrap_or(1)
    }
    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
    fn speakers(&self) -> Option<&[u32]> {
        self.speakers.as_deref()
    }
    fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        strat: bool,
    ) -> Result<Split, DataError> {
        self.data.split_fractions(fractions, seed, strat)
    }
}

impl SourceFile for ShdStream {
    fn len(&self) -> usize {
        ShdStream::len(self)
    }
    fn num_classes(&self) -> usize {
        ShdStream::num_classes(self)
    }
    fn class_names(&self) -> Option<&[String]> {
        ShdStream::class_names(self)
    }
    fn speakers(&self) -> Option<&[u32]> {
        ShdStream::speakers(self)
    }
    fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        strat: bool,
    ) -> Result<Split, DataError> {
        // The file alone, as the in-memory path splits it; max_time_s does not matter here.
        StreamedEvents::new(vec![self.clone()], 1.0)?.split_fractions(fractions, seed, strat)
    }
}

/// All samples of the train, validation and test files in one dataset, and the split:
/// the validation and test files are their splits, and the train file is split by
/// `data.split` among the splits that have no file (fractions renormalized). With
/// `data.valid_by = "speaker"`, the validation split is then redrawn from the train file's
/// training and validation samples as all samples of some speakers (see [`split_by_group`]).
pub(super) fn load(config: &ExperimentConfig) -> Result<(Dataset, Split), ExperimentError> {
    let DataSource::Hdf5 {
        train,
        test,
        valid,
        max_time_s,
        channels,
        stream,
    } = &config.data.source
    else {
        unreachable!("called for HDF5 sources only");
    };
    if *stream {
        let open = |path: &PathBuf| ShdStream::open(path, *channels);
        let train = open(train)?;
        let valid = valid.as_ref().map(open).transpose()?;
        let test = test.as_ref().map(open).transpose()?;
        let split = split_files(&train, valid.as_ref(), test.as_ref(), config)?;
        let files = [Some(train), valid, test].into_iter().flatten().collect();
        let data = StreamedEvents::new(files, *max_time_s)?;
        tracing::info!(
            samples = data.len(),
            index_bytes = data.index_bytes(),
            "streaming the spikes of every batch from the files"
        );
        return Ok((data.into(), split));
    }
    let opts = ShdReadOptions {
        channels: *channels,
        max_time_s: *max_time_s,
        samples: None,
    };
    let read = |path: &PathBuf| read_shd(path, &opts);
    let train = read(train)?;
    let valid = valid.as_ref().map(read).transpose()?;
    let test = test.as_ref().map(read).transpose()?;
    let split = split_files(&train, valid.as_ref(), test.as_ref(), config)?;
    let num_classes = [Some(&train), valid.as_ref(), test.as_ref()]
        .into_iter()
        .flatten()
        .map(SourceFile::num_classes)
        .max();
    let mut samples = train.data.samples;
    for file in valid.into_iter().chain(test) {
        samples.extend(file.data.samples);
    }
    let data = EventDataset::new(samples, *channels, num_classes, *max_time_s)?;
    Ok((data.into(), split))
}

/// The split of the samples of `train`, then `valid`, then `test` (see [`load`]).
fn split_files<F: SourceFile>(
    train: &F,
    valid: Option<&F>,
    test: Option<&F>,
    config: &ExperimentConfig,
) -> Result<Split, ExperimentError> {
    for other in valid.iter().chain(&test) {
        check_same_classes(train, *other, config)?;
    }
    let fractions = train_fractions(config.data.split, valid.is_some(), test.is_some())?;
    let seed = derive_seed(config.seed, SPLIT, 0);
    let mut split = train.split_fractions(fractions, seed, config.data.stratified)?;
    if config.data.valid_by == ValidBy::Speaker {
        split = speaker_split(train, split, fractions, seed, config)?;
    }
    let mut next = train.len();
    for (file, indices) in [(valid, &mut split.valid), (test, &mut split.test)] {
        if let Some(file) = file {
            *indices = (next..next + file.len()).collect();
            next += file.len();
        }
    }
    Ok(split)
}

/// `split` with the validation samples replaced by all samples of some speakers of the
/// train file, drawn among the training and validation samples.
fn speaker_split(
    train: &impl SourceFile,
    split: Split,
    fractions: [f64; 3],
    seed: u64,
    config: &ExperimentConfig,
) -> Result<Split, DataError> {
    let DataSource::Hdf5 { train: path, .. } = &config.data.source else {
        unreachable!("called for HDF5 sources only");
    };
    let speakers = train.speakers().ok_or_else(|| DataError::Hdf5 {
        path: path.clone(),
        dataset: "/extra/speaker".into(),
        reason: "is missing, but data.valid_by = \"speaker\" needs it".into(),
    })?;
    let mut pool = split.train;
    pool.extend(split.valid);
    pool.sort_unstable();
    let fraction = fractions[1] / (fractions[0] + fractions[1]);
    let (train, valid) = split_by_group(&pool, speakers, fraction, seed)?;
    Ok(Split {
        train,
        valid,
        test: split.test,
    })
}

/// `split` with zeros for the splits that come from their own files, renormalized.
fn train_fractions(split: [f64; 3], valid: bool, test: bool) -> Result<[f64; 3], ConfigError> {
    let mut fractions = split;
    if valid {
        fractions[1] = 0.0;
    }
    if test {
        fractions[2] = 0.0;
    }
    let sum: f64 = fractions.iter().sum();
    if fractions[0] <= 0.0 || sum <= 0.0 {
        return Err(ConfigError::new(
            "data.split",
            "the train file needs a training fraction > 0",
        ));
    }
    Ok(fractions.map(|f| f / sum))
}

/// Class names, where two files both have them, must agree.
fn check_same_classes<F: SourceFile>(
    train: &F,
    other: &F,
    config: &ExperimentConfig,
) -> Result<(), DataError> {
    let (Some(a), Some(b)) = (train.class_names(), other.class_names()) else {
        return Ok(());
    };
    if a == b {
        return Ok(());
    }
    let DataSource::Hdf5 { train: path, .. } = &config.data.source else {
        unreachable!("called for HDF5 sources only");
    };
    Err(DataError::Hdf5 {
        path: path.clone(),
        dataset: "/extra/keys".into(),
        reason: format!("class names {a:?} differ from another file's {b:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_of_the_train_file_leave_out_splits_with_files() {
        let f = train_fractions([0.8, 0.1, 0.1], false, true).unwrap();
        assert!((f[0] - 8.0 / 9.0).abs() < 1e-12 && (f[1] - 1.0 / 9.0).abs() < 1e-12);
        assert_eq!(f[2], 0.0);
        assert_eq!(
            train_fractions([0.8, 0.1, 0.1], true, true).unwrap(),
            [1.0, 0.0, 0.0]
        );
        assert_eq!(
            train_fractions([0.8, 0.1, 0.1], false, false).unwrap(),
            [0.8, 0.1, 0.1]
        );
        assert!(train_fractions([0.0, 0.5, 0.5], false, false).is_err());
    }
}
