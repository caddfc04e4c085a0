//! Network weights in checkpoints: f32 tensors, or int8 weight matrices with their scales.
//!
//! Tensor names (safetensors keys):
//!
//! ```text
//! net.hidden.{k}.w_in, net.hidden.{k}.w_rec, net.readout.w     weight matrices [rows, cols]
//! net.hidden.{k}.tau_mem_s, ...                                 per-neuron values (f32)
//! mask.hidden.{k}.w_in, mask.hidden.{k}.w_rec, mask.readout.w   0/1 connectivity masks
//! scale.{name}                                                  f32 [1], int8 files only
//! ```
//!
//! In an int8 file (metadata `quantization = "int8"`) every weight matrix is an `I8` tensor
//! whose real values are `q · scale.{name}`, and the masks are `I8` 0/1 tensors; everything
//! else is `F32`. This is what a deployment reads: the integers and one scale per matrix.

use super::ExperimentError;
use crate::io::{Checkpoint, CheckpointError};
use crate::network::Network;
use crate::quant::{is_weight_matrix, QuantError, Quantization, QuantizedNetwork, QuantizedTensor};
use std::path::Path;

/// The network's tensors (and sparse-connectivity masks) as an f32 checkpoint.
pub fn network_checkpoint(net: &Network<f32>) -> Checkpoint {
    let mut ckpt = Checkpoint::default();
    for t in net.tensors() {
        ckpt.insert(format!("net.{}", t.name), t.shape.clone(), t.data.to_vec());
    }
    for (name, mask) in masks(net) {
        ckpt.insert(name, vec![mask.len()], mask.to_vec());
    }
    ckpt
}

/// A quantized network as an int8 checkpoint (see the module docs for the layout).
pub fn quantized_checkpoint(q: &QuantizedNetwork) -> Checkpoint {
    let mut ckpt = Checkpoint::default();
    for t in q.net.tensors() {
        match q.weight(&t.name) {
            Some(w) => {
                ckpt.insert_int8(format!("net.{}", t.name), w.shape.clone(), w.values.clone());
                ckpt.insert(format!("scale.{}", t.name), vec![1], vec![w.scale]);
            }
            None => ckpt.insert(format!("net.{}", t.name), t.shape.clone(), t.data.to_vec()),
        }
    }
    for (name, mask) in masks(&q.net) {
        let bits = mask.iter().map(|&m| i8::from(m != 0.0)).collect();
        ckpt.insert_int8(name, vec![mask.len()], bits);
    }
    ckpt.metadata.insert("quantization".into(), "int8".into());
    ckpt
}

/// The best-weights checkpoint of a run: f32, or int8 for a quantization-aware run.
pub(super) fn best_checkpoint(
    net: &Network<f32>,
    quantize: Quantization,
) -> Result<Checkpoint, ExperimentError> {
    Ok(match quantize {
        Quantization::None => network_checkpoint(net),
        Quantization::Int8 => quantized_checkpoint(&QuantizedNetwork::quantize(net)?),
    })
}

/// Loads weights saved by [`network_checkpoint`] or [`quantized_checkpoint`] into `net` (which
/// must have the same architecture); returns how the weight matrices were stored. Int8 weights
/// are loaded as their dequantized values, so [`QuantizedNetwork::quantize`] of the loaded
/// network gives back the stored integers and scales.
pub fn load_network(net: &mut Network<f32>, path: &Path) -> Result<Quantization, ExperimentError> {
    let ckpt = Checkpoint::load(path)?;
    Ok(restore_network(net, &ckpt, path)?)
}

pub(super) fn restore_network(
    net: &mut Network<f32>,
    ckpt: &Checkpoint,
    path: &Path,
) -> Result<Quantization, CheckpointError> {
    let names: Vec<(String, usize, bool)> = net
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), t.data.len(), is_weight_matrix(t)))
        .collect();
    let (mut int8, mut f32s) = (0, 0);
    for ((name, len, matrix), dst) in names.iter().zip(net.tensors_mut()) {
        let key = format!("net.{name}");
        if *matrix && ckpt.int8.contains_key(&key) {
            *dst = read_int8(ckpt, path, name, *len)?;
            int8 += 1;
        } else {
            dst.copy_from_slice(ckpt.get(path, &key, *len)?);
            f32s += usize::from(*matrix);
        }
    }
    if int8 > 0 && f32s > 0 {
        return Err(CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("{int8} weight matrices are int8 and {f32s} are f32"),
        });
    }
    for (i, layer) in net.hidden.iter_mut().enumerate() {
        let n_in = layer.w_in.data.len();
        let n_rec = layer.w_rec.as_ref().map_or(0, |w| w.data.len());
        layer.mask_in = read_mask(ckpt, path, &format!("mask.hidden.{i}.w_in"), n_in)?;
        layer.mask_rec = read_mask(ckpt, path, &format!("mask.hidden.{i}.w_rec"), n_rec)?;
    }
    let n_out = net.readout.w.data.len();
    net.readout.mask = read_mask(ckpt, path, "mask.readout.w", n_out)?;
    net.hidden
        .iter_mut()
        .for_each(crate::layers::SpikingLayer::rebuild_conv);
    Ok(if int8 > 0 {
        Quantization::Int8
    } else {
        Quantization::None
    })
}

/// The dequantized values of the int8 matrix `name`.
fn read_int8(
    ckpt: &Checkpoint,
    path: &Path,
    name: &str,
    len: usize,
) -> Result<Vec<f32>, CheckpointError> {
    let key = format!("net.{name}");
    let values = ckpt.get_int8(path, &key, len)?.to_vec();
    let scale = ckpt.get(path, &format!("scale.{name}"), 1)?[0];
    let bad = |e: QuantError| CheckpointError::Tensor {
        path: path.to_path_buf(),
        name: key.clone(),
        reason: e.to_string(),
    };
    let q = QuantizedTensor::from_parts(name, vec![len], values, scale).map_err(bad)?;
    Ok(q.dequantize())
}

/// A stored mask (f32, or int8 0/1), if the checkpoint has one.
fn read_mask(
    ckpt: &Checkpoint,
    path: &Path,
    key: &str,
    len: usize,
) -> Result<Option<Vec<f32>>, CheckpointError> {
    if ckpt.int8.contains_key(key) {
        let bits = ckpt.get_int8(path, key, len)?;
        return Ok(Some(bits.iter().map(|&b| f32::from(b != 0)).collect()));
    }
    ckpt.tensors
        .contains_key(key)
        .then(|| ckpt.get(path, key, len).map(<[f32]>::to_vec))
        .transpose()
}

/// The connectivity masks of `net` by checkpoint key.
fn masks(net: &Network<f32>) -> Vec<(String, &[f32])> {
    let mut all = Vec::new();
    for (i, layer) in net.hidden.iter().enumerate() {
        for (name, mask) in [("w_in", &layer.mask_in), ("w_rec", &layer.mask_rec)] {
            if let Some(mask) = mask {
                all.push((format!("mask.hidden.{i}.{name}"), mask.as_slice()));
            }
        }
    }
    if let Some(mask) = &net.readout.mask {
        all.push(("mask.readout.w".to_string(), mask.as_slice()));
    }
    all
}
