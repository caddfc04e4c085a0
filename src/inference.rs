//! Forward-only inference over a dataset, and its HDF5 record: every hidden layer's spikes
//! and the network's output (the readout's membrane traces, or the output spikes of a spiking
//! readout).
//!
//! ```text
//! /hidden/<k>/spikes   uint8  [steps, samples, size_k]   spikes of hidden layer k
//! /readout/membrane    float32 [steps, samples, outputs] readout membrane potentials (0/1
//!                                                        spikes for readout kind "spikes")
//! /dt_s                float64 scalar                    the time step
//! ```
//!
//! Arrays are time-major, like the engine's sequences.

use crate::data::{DataError, EventDataset};
use crate::io::hdf5::{DatasetData, Datatype, Hdf5Error, Hdf5Writer};
use crate::io::write_atomic_with;
use crate::layers::Input;
use crate::network::Network;
use std::path::Path;

/// What a forward pass over many samples produced.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceRecord {
    /// Time steps per sample.
    pub steps: usize,
    /// Number of samples.
    pub samples: usize,
    /// Time step in seconds.
    pub dt_s: f64,
    /// Per hidden layer: its size and its spikes `[steps, samples, size]` (0 or 1).
    pub hidden: Vec<(usize, Vec<u8>)>,
    /// Readout size.
    pub outputs: usize,
    /// Readout membrane traces `[steps, samples, outputs]`.
    pub readout: Vec<f32>,
}

/// Runs `net` (no dropout) over every sample of `data`, `steps` steps each, `batch_size`
/// samples at a time.
pub fn infer(
    net: &Network<f32>,
    data: &EventDataset,
    steps: usize,
    batch_size: usize,
) -> Result<InferenceRecord, DataError> {
    let n = data.len();
    let dt_s = net.spec.dt_ms * 1e-3;
    let outputs = net.readout.spec.size;
    let mut rec = InferenceRecord {
        steps,
        samples: n,
        dt_s,
        hidden: net
            .hidden
            .iter()
            .map(|l| (l.size(), vec![0; steps * n * l.size()]))
            .collect(),
        outputs,
        readout: vec![0.0; steps * n * outputs],
    };
    let indices: Vec<usize> = (0..n).collect();
    for (chunk_no, chunk) in indices.chunks(batch_size.max(1)).enumerate() {
        let first = chunk_no * batch_size.max(1);
        let batch = data.bin(chunk, dt_s, steps)?;
        let trace = net.forward::<rand_chacha::ChaCha8Rng>(Input::Events(&batch.spikes), None);
        for (k, (size, out)) in rec.hidden.iter_mut().enumerate() {
            let spikes = trace.hidden[k].spikes();
            scatter(
                out,
                &spikes.data,
                *size,
                steps,
                n,
                first,
                chunk.len(),
                |v| u8::from(*v > 0.0),
            );
        }
        let mem = &trace.output().data;
        scatter(
            &mut rec.readout,
            mem,
            outputs,
            steps,
            n,
            first,
            chunk.len(),
            |v| *v,
        );
    }
    Ok(rec)
}

/// Copies a batch `[steps, batch, width]` into `[steps, total, width]` at sample `first`.
#[allow(clippy::too_many_arguments)]
fn scatter<T: Copy, U>(
    out: &mut [T],
    batch_data: &[U],
    width: usize,
    steps: usize,
    total: usize,
    first: usize,
    batch: usize,
    convert: impl Fn(&U) -> T,
) where
    U: Copy,
{
    for t in 0..steps {
        for b in 0..batch {
            let src = (t * batch + b) * width;
            let dst = (t * total + first + b) * width;
            for (o, v) in out[dst..dst + width]
                .iter_mut()
                .zip(&batch_data[src..src + width])
            {
                *o = convert(v);
            }
        }
    }
}

/// Writes `rec` to `path` atomically (layout in the module documentation).
pub fn write_record(path: &Path, rec: &InferenceRecord) -> Result<(), Hdf5Error> {
    let mut w = Hdf5Writer::new();
    for (k, (size, spikes)) in rec.hidden.iter().enumerate() {
        let shape = vec![rec.steps as u64, rec.samples as u64, *size as u64];
        let data = DatasetData::Array {
            dtype: Datatype::uint(1),
            shape,
            bytes: spikes.clone(),
        };
        w.add(&format!("/hidden/{k}/spikes"), data)?;
    }
    let shape = vec![rec.steps as u64, rec.samples as u64, rec.outputs as u64];
    let bytes = rec.readout.iter().flat_map(|v| v.to_le_bytes()).collect();
    let dtype = Datatype::float(4);
    w.add(
        "/readout/membrane",
        DatasetData::Array {
            dtype,
            shape,
            bytes,
        },
    )?;
    let dt = rec.dt_s.to_le_bytes().to_vec();
    let dtype = Datatype::float(8);
    let shape = Vec::new();
    w.add(
        "/dt_s",
        DatasetData::Array {
            dtype,
            shape,
            bytes: dt,
        },
    )?;
    write_atomic_with(path, |file| {
        w.write_to(file)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(Hdf5Error::Io)
}
