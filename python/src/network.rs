//! A trained (or imported) network run forward on numpy spikes.

use crate::{to_py, SpikegradError};
use numpy::ndarray::ArrayView3;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray3};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use spikegrad::data::{EventDataset, EventSample, Target};
use spikegrad::experiment::RunDir;
use spikegrad::inference::{infer, InferenceRecord};
use std::path::PathBuf;

/// The best weights of a run directory, forward-only.
#[pyclass(module = "spikegrad._native", frozen)]
pub struct Network {
    net: spikegrad::network::Network<f32>,
}

#[pymethods]
impl Network {
    /// The network of run directory `run` (its config and best weights).
    #[staticmethod]
    fn load(py: Python<'_>, run: PathBuf) -> PyResult<Self> {
        let net = py
            .detach(|| RunDir::new(&run).open_network())
            .map_err(to_py)?;
        Ok(Self { net })
    }

    /// Input channels.
    #[getter]
    fn inputs(&self) -> usize {
        self.net.spec.inputs
    }

    /// Readout units.
    #[getter]
    fn outputs(&self) -> usize {
        self.net.readout.spec.size
    }

    /// The simulation time step in seconds.
    #[getter]
    fn dt_s(&self) -> f64 {
        self.net.spec.dt_ms * 1e-3
    }

    /// Hidden layer sizes.
    #[getter]
    fn hidden_sizes(&self) -> Vec<usize> {
        self.net.hidden.iter().map(|l| l.size()).collect()
    }

    /// Runs `[T, B, N]` spikes (0/1 as uint8); returns `(hidden, readout)`.
    fn forward_u8<'py>(
        &self,
        py: Python<'py>,
        spikes: PyReadonlyArray3<'py, u8>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.run_dense(py, spikes, batch_size, |v| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(v as f64),
        })
    }

    /// Runs `[T, B, N]` spikes (0/1 as float32); returns `(hidden, readout)`.
    fn forward_f32<'py>(
        &self,
        py: Python<'py>,
        spikes: PyReadonlyArray3<'py, f32>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.run_dense(py, spikes, batch_size, |v| match v {
            0.0 => Ok(false),
            1.0 => Ok(true),
            _ => Err(f64::from(v)),
        })
    }

    /// Runs spike events (per sample its times in seconds and units) for `steps` steps.
    fn forward_events<'py>(
        &self,
        py: Python<'py>,
        times: Vec<PyReadonlyArray1<'py, f32>>,
        units: Vec<PyReadonlyArray1<'py, u32>>,
        steps: usize,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        if times.len() != units.len() {
            return Err(SpikegradError::new_err(format!(
                "forward: {} time arrays and {} unit arrays; give one pair per sample",
                times.len(),
                units.len()
            )));
        }
        let samples = times
            .iter()
            .zip(&units)
            .map(|(t, u)| EventSample {
                times_s: t.as_array().to_vec(),
                units: u.as_array().to_vec(),
                target: Target::Class(0),
            })
            .collect();
        let data = self.dataset(samples, steps)?;
        self.run(py, data, steps, batch_size)
    }

    /// Every parameter tensor by name (`hidden.0.w_in`, `readout.tau_mem_s`, ...), with its
    /// shape.
    fn tensors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for t in self.net.tensors() {
            let array = PyArray1::from_slice(py, t.data).reshape(t.shape.clone())?;
            out.set_item(t.name, array)?;
        }
        Ok(out)
    }
}

impl Network {
    /// Runs dense `[T, B, N]` spikes whose values `is_spike` reads as 0/1 (or refuses).
    fn run_dense<'py, T: numpy::Element + Copy>(
        &self,
        py: Python<'py>,
        spikes: PyReadonlyArray3<'py, T>,
        batch_size: usize,
        is_spike: impl Fn(T) -> Result<bool, f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let x = spikes.as_array();
        let data = self.dense_events(x, is_spike)?;
        self.run(py, data, x.dim().0, batch_size)
    }

    /// The events of dense `[T, B, N]` spikes: a spike at step `t` lies at `(t + ½)·dt`, the
    /// middle of its bin, so binning gives back step `t`.
    fn dense_events<T: Copy>(
        &self,
        x: ArrayView3<'_, T>,
        is_spike: impl Fn(T) -> Result<bool, f64>,
    ) -> PyResult<EventDataset> {
        let (steps, batch, width) = x.dim();
        if width != self.net.spec.inputs {
            return Err(SpikegradError::new_err(format!(
                "forward: the input has {width} channels, the network {}",
                self.net.spec.inputs
            )));
        }
        let dt_s = self.dt_s();
        let mut samples: Vec<EventSample> = (0..batch)
            .map(|_| EventSample {
                times_s: Vec::new(),
                units: Vec::new(),
                target: Target::Class(0),
            })
            .collect();
        for ((t, b, n), &v) in x.indexed_iter() {
            let spike = is_spike(v).map_err(|v| {
                SpikegradError::new_err(format!(
                    "forward: spikes are 0 or 1; step {t}, sample {b}, channel {n} holds {v}"
                ))
            })?;
            if spike {
                samples[b].times_s.push(((t as f64 + 0.5) * dt_s) as f32);
                samples[b].units.push(n as u32);
            }
        }
        self.dataset(samples, steps)
    }

    fn dataset(&self, samples: Vec<EventSample>, steps: usize) -> PyResult<EventDataset> {
        if steps == 0 {
            return Err(SpikegradError::new_err("forward: steps must be at least 1"));
        }
        let duration_s = steps as f64 * self.dt_s();
        EventDataset::new(samples, self.net.spec.inputs, Some(1), duration_s).map_err(to_py)
    }

    /// `infer`, the function `spikegrad run` runs, as numpy arrays.
    fn run<'py>(
        &self,
        py: Python<'py>,
        data: EventDataset,
        steps: usize,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let rec: InferenceRecord = py
            .detach(|| infer(&self.net, &data, steps, batch_size.max(1)))
            .map_err(to_py)?;
        let hidden = PyList::empty(py);
        for (size, spikes) in rec.hidden {
            let array = PyArray1::from_vec(py, spikes).reshape([rec.steps, rec.samples, size])?;
            hidden.append(array)?;
        }
        let readout =
            PyArray1::from_vec(py, rec.readout).reshape([rec.steps, rec.samples, rec.outputs])?;
        let out = PyDict::new(py);
        out.set_item("hidden", hidden)?;
        out.set_item("readout", readout)?;
        out.set_item("dt_s", rec.dt_s)?;
        Ok(out)
    }
}
