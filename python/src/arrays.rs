//! Files and signals as numpy arrays: SHD-layout spike files, audio to spikes.

use crate::{to_py, SpikegradError};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use spikegrad::audio::{sample_seed, Cochlea, CochleaParams, COCHLEA_CHANNELS};
use spikegrad::data::shd::{SHD_CHANNELS, SHD_MAX_TIME_S};
use spikegrad::data::{read_shd as read_file, write_shd as write_file, ShdReadOptions};
use spikegrad::data::{EventDataset, EventSample, Target};
use std::path::PathBuf;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_shd, m)?)?;
    m.add_function(wrap_pyfunction!(write_shd, m)?)?;
    m.add_function(wrap_pyfunction!(audio_to_spikes, m)?)?;
    Ok(())
}

/// An SHD-layout file: `times` and `units` (one array per sample), `labels`, and `keys` and
/// `speakers` where the file has them.
#[pyfunction]
#[pyo3(signature = (path, channels=SHD_CHANNELS))]
fn read_shd<'py>(py: Python<'py>, path: PathBuf, channels: usize) -> PyResult<Bound<'py, PyDict>> {
    let opts = ShdReadOptions {
        channels,
        ..ShdReadOptions::default()
    };
    let file = py.detach(|| read_file(&path, &opts)).map_err(to_py)?;
    let (times, units) = (PyList::empty(py), PyList::empty(py));
    let mut labels: Vec<i64> = Vec::new();
    for sample in file.data.samples {
        times.append(PyArray1::from_vec(py, sample.times_s))?;
        units.append(PyArray1::from_vec(py, sample.units))?;
        if let Target::Class(label) = sample.target {
            labels.push(label as i64);
        }
    }
    let out = PyDict::new(py);
    out.set_item("times", times)?;
    out.set_item("units", units)?;
    out.set_item("labels", PyArray1::from_vec(py, labels))?;
    out.set_item("keys", file.class_names)?;
    out.set_item("speakers", file.speakers.map(|s| PyArray1::from_vec(py, s)))?;
    out.set_item("channels", channels)?;
    Ok(out)
}

/// Writes an SHD-layout file (atomically): per sample its spike `times` (s) and `units`, and
/// its label.
#[pyfunction]
#[pyo3(signature = (path, times, units, labels, keys=None, speakers=None, channels=None, duration_s=SHD_MAX_TIME_S))]
#[allow(clippy::too_many_arguments)]
fn write_shd(
    path: PathBuf,
    times: Vec<PyReadonlyArray1<'_, f32>>,
    units: Vec<PyReadonlyArray1<'_, u32>>,
    labels: Vec<usize>,
    keys: Option<Vec<String>>,
    speakers: Option<Vec<u32>>,
    channels: Option<usize>,
    duration_s: f64,
) -> PyResult<()> {
    if times.len() != units.len() || times.len() != labels.len() {
        return Err(SpikegradError::new_err(format!(
            "write_shd: {} time arrays, {} unit arrays and {} labels; give one of each per sample",
            times.len(),
            units.len(),
            labels.len()
        )));
    }
    let mut samples = Vec::with_capacity(times.len());
    for ((t, u), &label) in times.iter().zip(&units).zip(&labels) {
        samples.push(EventSample {
            times_s: t.as_array().to_vec(),
            units: u.as_array().to_vec(),
            target: Target::Class(label),
        });
    }
    let largest_unit = samples
        .iter()
        .flat_map(|s| s.units.iter())
        .map(|&u| u as usize + 1)
        .max()
        .unwrap_or(1);
    let channels = channels.unwrap_or(largest_unit.max(SHD_CHANNELS));
    let classes = match &keys {
        Some(k) => k.len(),
        None => labels.iter().map(|l| l + 1).max().unwrap_or(1),
    };
    let data = EventDataset::new(samples, channels, Some(classes), duration_s).map_err(to_py)?;
    write_file(&path, &data, keys.as_deref(), speakers.as_deref()).map_err(to_py)
}

/// Spike times (s) and the channel of each.
type Spikes<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<u32>>);

/// The Heidelberg cochlea model's spikes for mono `samples` at `rate_hz`: `(times_s,
/// channels)`, the spikes `spikegrad audio2spikes` writes for one file with `--seed seed`.
#[pyfunction]
#[pyo3(signature = (samples, rate_hz, seed=0, channels=COCHLEA_CHANNELS))]
fn audio_to_spikes<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray1<'py, f64>,
    rate_hz: f64,
    seed: u64,
    channels: usize,
) -> PyResult<Spikes<'py>> {
    if !(rate_hz.is_finite() && rate_hz >= 1.0 && rate_hz.fract() == 0.0 && rate_hz <= 1e9) {
        return Err(SpikegradError::new_err(format!(
            "audio_to_spikes: rate_hz must be a whole number of samples per second, got {rate_hz}"
        )));
    }
    let audio = samples.as_array().to_vec();
    let params = CochleaParams {
        channels,
        ..CochleaParams::default()
    };
    let spikes = py
        .detach(|| {
            let cochlea = Cochlea::new(params)?;
            cochlea.audio_to_spikes(&audio, rate_hz as u32, sample_seed(seed, 0))
        })
        .map_err(to_py)?;
    Ok((
        PyArray1::from_vec(py, spikes.times_s),
        PyArray1::from_vec(py, spikes.units),
    ))
}
