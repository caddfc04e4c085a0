//! Int8 weight quantization: post-training (PTQ) and the fake-quantized forward pass of
//! quantization-aware training (QAT).
//!
//! Every weight matrix (`hidden.{k}.w_in`, `hidden.{k}.w_rec`, `readout.w`) is quantized on its
//! own with a symmetric scale ([`QuantizedTensor`]):
//!
//! ```text
//! scale = max|w| / 127        q = clamp(round(w / scale), −127, 127)        ŵ = q · scale
//! ```
//!
//! Time constants and other per-neuron values stay f32: they are a few numbers per neuron,
//! and a deployment computes decays from them once.
//!
//! **PTQ** quantizes a trained float network ([`QuantizedNetwork::quantize`]). **QAT**
//! (`[training] quantize = "int8"`, see [`crate::training`]) keeps f32 master weights; before
//! every forward pass they are replaced by `ŵ`, and the gradient with respect to `ŵ` is applied
//! to the master weights unchanged (the straight-through estimator, Bengio, Léonard & Courville
//! 2013; Jacob et al. 2018). Because the scale is the maximum magnitude, no weight is ever
//! clamped, so the straight-through gradient needs no clipping mask.
//!
//! A quantized network runs as the float network with weights `ŵ`; its int8 values and scales
//! (for export or deployment) are [`QuantizedNetwork::weights`]. A run trained with QAT or
//! written by `spikegrad quantize` stores its `best.safetensors` as int8 tensors plus one f32
//! scale per matrix (see [`crate::experiment::quantized_checkpoint`]).
//!
//! [`PerChannelTensor`] keeps one scale per output channel instead (a conv filter, a dense
//! layer's output unit); the BAM network's QAT can use it ([`crate::models::bam`]).
//!
//! [`integer`] runs a network entirely in integers (int8 weights, fixed-point state and
//! decays), as a deployment would.

mod int8;
pub mod integer;
mod network;
mod per_channel;

pub use int8::{QuantizedTensor, INT8_MAX};
pub use network::{is_weight_matrix, QuantizedNetwork};
pub use per_channel::PerChannelTensor;

use serde::{Deserialize, Serialize};

/// How weight matrices are stored (and, in training, how the forward pass sees them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantization {
    /// f32 weights, 4 bytes each.
    #[default]
    None,
    /// Symmetric per-matrix int8 weights, 1 byte each plus one f32 scale per matrix.
    Int8,
}

impl Quantization {
    /// Bytes per stored weight.
    pub fn bytes_per_weight(self) -> usize {
        match self {
            Quantization::None => 4,
            Quantization::Int8 => 1,
        }
    }

    /// Bytes of per-matrix metadata (the f32 scale of an int8 matrix).
    pub fn bytes_per_matrix(self) -> usize {
        match self {
            Quantization::None => 0,
            Quantization::Int8 => 4,
        }
    }
}

/// A tensor that cannot be quantized or a stored quantized tensor that is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    /// A weight is NaN or infinite.
    #[error("cannot quantize {tensor}: value {index} is not finite")]
    NonFinite {
        /// The tensor.
        tensor: String,
        /// Index of the first bad value.
        index: usize,
    },
    /// A stored scale is not a positive finite number.
    #[error("{tensor}: scale {scale} is not a positive finite number")]
    BadScale {
        /// The tensor.
        tensor: String,
        /// The scale read.
        scale: f32,
    },
    /// A stored int8 value is −128, outside the symmetric range.
    #[error("{tensor}: value {index} is −128, outside the symmetric range [−127, 127]")]
    OutOfRange {
        /// The tensor.
        tensor: String,
        /// Index of the bad value.
        index: usize,
    },
    /// The model family has no int8 form.
    #[error("{0} is not supported")]
    Unsupported(String),
}
