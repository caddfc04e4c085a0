//! Model footprint: the bytes needed to store a model.

use crate::network::Network;
use crate::quant::{is_weight_matrix, Quantization};
use serde::{Deserialize, Serialize};

/// Bytes of a model's stored state (NeuroBench's `Footprint`: every parameter and buffer, as
/// `numel · element_size`, zero weights included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Every tensor of [`Network::tensors`]: weight matrices at their stored precision (4 bytes
    /// for f32, 1 byte for int8 plus a 4-byte scale per matrix) and per-neuron values (time
    /// constants, adaptation strengths; learned or not) as f32.
    pub parameter_bytes: usize,
    /// Sparse-connectivity masks, one value per weight, as stored: f32 in a float checkpoint,
    /// int8 0/1 in an int8 one.
    pub buffer_bytes: usize,
    /// `parameter_bytes + buffer_bytes`.
    pub total_bytes: usize,
}

/// The footprint of `net` with its weight matrices stored as `precision`.
pub fn footprint(net: &Network<f32>, precision: Quantization) -> Footprint {
    let mut parameter_bytes = 0;
    for t in net.tensors() {
        parameter_bytes += if is_weight_matrix(&t) {
            t.data.len() * precision.bytes_per_weight() + precision.bytes_per_matrix()
        } else {
            t.data.len() * 4
        };
    }
    let mask_values: usize = net
        .hidden
        .iter()
        .flat_map(|l| [&l.mask_in, &l.mask_rec])
        .chain([&net.readout.mask])
        .flatten()
        .map(Vec::len)
        .sum();
    let buffer_bytes = mask_values * precision.bytes_per_weight();
    Footprint {
        parameter_bytes,
        buffer_bytes,
        total_bytes: parameter_bytes + buffer_bytes,
    }
}
