//! Reading a primate-reaching recording (O'Doherty et al. 2017) from its MATLAB v7.3 file.
//!
//! The layout, as NeuroBench's `primate_reaching.py` reads it (HDF5 shapes are MATLAB's
//! sizes reversed): `t` `[1, T]` float64 seconds; `cursor_pos` and `target_pos` `[2, T]`
//! float64; `spikes` `[units, channels]` object references (MATLAB's `channels × units`
//! cell) into `#refs#`, each a `[1, k]` float64 array of spike times in seconds or MATLAB's
//! empty marker (a uint64 array of the empty size with attribute `MATLAB_empty = 1`).

use crate::data::DataError;
use crate::io::hdf5::{Dataset, Datatype, Hdf5Error, Hdf5Reader};
use std::path::{Path, PathBuf};

/// The parts of a recording the preprocessing uses, as stored (no binning yet).
#[derive(Clone, Debug, PartialEq)]
pub struct MatSession {
    /// Sample times of the cursor, in seconds (`t`), one per step.
    pub t_s: Vec<f64>,
    /// Cursor position per step (`cursor_pos`; millimetres in the real files).
    pub cursor_pos: Vec<[f64; 2]>,
    /// Target position per step (`target_pos`).
    pub target_pos: Vec<[f64; 2]>,
    /// Spike times in seconds, `[channel][unit]` (empty cells as empty lists).
    pub spikes: Vec<Vec<Vec<f64>>>,
}

impl MatSession {
    /// Number of recording channels (electrodes).
    pub fn channels(&self) -> usize {
        self.spikes.len()
    }
}

/// Reads `t`, `cursor_pos`, `target_pos` and `spikes` of the MATLAB v7.3 file at `path`.
///
/// Errors name the file and dataset: a missing variable, a wrong type or shape, steps that
/// differ between variables, non-finite values, a reference that leads nowhere, a
/// truncated or corrupt file.
pub fn read_mat_session(path: &Path) -> Result<MatSession, DataError> {
    let file = MatFile {
        reader: Hdf5Reader::open(path).map_err(|e| hdf5_error(path, "/", e))?,
        path: path.to_path_buf(),
    };
    let t_s = file.vector("/t")?;
    let steps = t_s.len();
    if steps < 2 {
        return Err(file.error("/t", format!("{steps} time steps; at least 2 are needed")));
    }
    let cursor_pos = file.xy_rows("/cursor_pos", steps)?;
    let target_pos = file.xy_rows("/target_pos", steps)?;
    let spikes = file.spikes()?;
    Ok(MatSession {
        t_s,
        cursor_pos,
        target_pos,
        spikes,
    })
}

struct MatFile {
    reader: Hdf5Reader,
    path: PathBuf,
}

impl MatFile {
    fn error(&self, dataset: &str, reason: impl Into<String>) -> DataError {
        DataError::Hdf5 {
            path: self.path.clone(),
            dataset: dataset.to_string(),
            reason: reason.into(),
        }
    }

    fn dataset(&self, name: &str) -> Result<Dataset, DataError> {
        self.reader
            .dataset(name)
            .map_err(|e| hdf5_error(&self.path, name, e))
    }

    /// The finite float values of `ds` (any rank), row-major.
    fn floats(&self, ds: &Dataset) -> Result<Vec<f64>, DataError> {
        if !matches!(ds.dtype, Datatype::Float { .. }) {
            return Err(self.error(
                &ds.path,
                format!(
                    "holds {}, expected float64 (MATLAB double)",
                    ds.dtype.describe()
                ),
            ));
        }
        let values = self
            .reader
            .read_all_f64s(ds)
            .map_err(|e| hdf5_error(&self.path, &ds.path, e))?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(self.error(
                &ds.path,
                format!("value {} at {i} is not finite", values[i]),
            ));
        }
        Ok(values)
    }

    /// A MATLAB vector (`[1, n]`, `[n, 1]` or `[n]` in HDF5).
    fn vector(&self, name: &str) -> Result<Vec<f64>, DataError> {
        let ds = self.dataset(name)?;
        if !is_vector(&ds.shape) {
            return Err(self.error(
                name,
                format!("shape {:?}, expected a vector [1, n]", ds.shape),
            ));
        }
        self.floats(&ds)
    }

    /// A MATLAB `T × 2` matrix: HDF5 `[2, T]`, returned as `T` rows of (x, y).
    fn xy_rows(&self, name: &str, steps: usize) -> Result<Vec<[f64; 2]>, DataError> {
        let ds = self.dataset(name)?;
        if ds.shape != [2, steps as u64] {
            return Err(self.error(
                name,
                format!(
                    "shape {:?}, expected [2, {steps}] (MATLAB's {steps} x 2 positions, one per \
                     time in /t)",
                    ds.shape
                ),
            ));
        }
        let values = self.floats(&ds)?;
        let (x, y) = values.split_at(steps);
        Ok(x.iter().zip(y).map(|(&x, &y)| [x, y]).collect())
    }

    /// `spikes`: `[channel][unit]` spike times.
    fn spikes(&self) -> Result<Vec<Vec<Vec<f64>>>, DataError> {
        let name = "/spikes";
        let ds = self.dataset(name)?;
        let Datatype::ObjectRef { .. } = ds.dtype else {
            return Err(self.error(
                name,
                format!(
                    "holds {}, expected object references (a MATLAB cell array)",
                    ds.dtype.describe()
                ),
            ));
        };
        let &[units, channels] = ds.shape.as_slice() else {
            return Err(self.error(
                name,
                format!("shape {:?}, expected [units, channels]", ds.shape),
            ));
        };
        if units == 0 || channels == 0 {
            return Err(self.error(name, format!("shape {:?} holds no cells", ds.shape)));
        }
        let refs = self
            .reader
            .read_object_refs(&ds)
            .map_err(|e| hdf5_error(&self.path, name, e))?;
        let (units, channels) = (units as usize, channels as usize);
        let mut spikes = vec![vec![Vec::new(); units]; channels];
        for (i, &address) in refs.iter().enumerate() {
            let (unit, channel) = (i / channels, i % channels);
            let label = format!("{name}{{channel {}, unit {}}}", channel + 1, unit + 1);
            spikes[channel][unit] = self.cell(address, &label)?;
        }
        Ok(spikes)
    }

    /// One cell: its spike times, or nothing for MATLAB's empty marker.
    fn cell(&self, address: u64, label: &str) -> Result<Vec<f64>, DataError> {
        let ds = self
            .reader
            .dereference(address, label)
            .map_err(|e| hdf5_error(&self.path, label, e))?;
        let empty = self
            .reader
            .attribute(&ds, "MATLAB_empty")
            .map_err(|e| hdf5_error(&self.path, label, e))?;
        if let Some(flag) = empty {
            let marked = flag.ints().is_ok_and(|v| v.iter().any(|&x| x != 0));
            if marked {
                return Ok(Vec::new());
            }
        }
        if !is_vector(&ds.shape) && ds.shape.iter().product::<u64>() != 0 {
            return Err(self.error(
                label,
                format!("shape {:?}, expected a vector of spike times", ds.shape),
            ));
        }
        if let Datatype::Int { .. } = ds.dtype {
            return Err(self.error(
                label,
                format!(
                    "holds {} without the MATLAB_empty attribute, expected float64 spike times",
                    ds.dtype.describe()
                ),
            ));
        }
        self.floats(&ds)
    }
}

/// `[n]`, `[1, n]` or `[n, 1]`.
fn is_vector(shape: &[u64]) -> bool {
    match shape {
        [_] => true,
        [a, b] => *a == 1 || *b == 1,
        _ => false,
    }
}

fn hdf5_error(path: &Path, dataset: &str, e: Hdf5Error) -> DataError {
    DataError::Hdf5 {
        path: path.to_path_buf(),
        dataset: dataset.to_string(),
        reason: e.to_string(),
    }
}
