//! An HDF5 file opened for one of the dataset readers, with errors that name file and dataset.

use super::DataError;
use crate::io::hdf5::{Dataset, Hdf5Error, Hdf5Reader};
use std::path::{Path, PathBuf};

/// An open file and its path, for error messages.
pub(super) struct H5File {
    pub reader: Hdf5Reader,
    pub path: PathBuf,
}

impl H5File {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let reader = Hdf5Reader::open(path).map_err(|e| hdf5_error(path, "/", e))?;
        Ok(Self {
            reader,
            path: path.to_path_buf(),
        })
    }

    /// An error about `dataset` as a whole.
    pub fn error(&self, dataset: &str, reason: impl Into<String>) -> DataError {
        DataError::Hdf5 {
            path: self.path.clone(),
            dataset: dataset.to_string(),
            reason: reason.into(),
        }
    }

    /// An error about one sample (row) of `dataset`.
    pub fn sample_error(&self, dataset: &str, sample: usize, reason: String) -> DataError {
        DataError::Hdf5Sample {
            path: self.path.clone(),
            dataset: dataset.to_string(),
            sample,
            reason,
        }
    }

    /// The dataset at `name`.
    pub fn dataset(&self, name: &str) -> Result<Dataset, DataError> {
        self.reader
            .dataset(name)
            .map_err(|e| hdf5_error(&self.path, name, e))
    }

    /// The dataset at `name`, or `None` if there is none.
    pub fn optional_dataset(&self, name: &str) -> Result<Option<Dataset>, DataError> {
        match self.reader.exists(name) {
            Ok(true) => self.dataset(name).map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(hdf5_error(&self.path, name, e)),
        }
    }
}

/// An HDF5 error as a [`DataError`] naming the file and dataset.
pub(super) fn hdf5_error(path: &Path, dataset: &str, e: Hdf5Error) -> DataError {
    let reason = match e {
        Hdf5Error::NotFound(walked) if walked == dataset => "dataset not found".to_string(),
        other => other.to_string(),
    };
    DataError::Hdf5 {
        path: path.to_path_buf(),
        dataset: dataset.to_string(),
        reason,
    }
}
