//! Connection sparsity (of the weights) and activation sparsity (of the spikes).

use crate::network::{NamedTensor, Network, NetworkTrace};
use crate::quant::is_weight_matrix;

/// Fraction of zero entries over all weight matrices and convolution kernels together (input,
/// recurrent and readout weights; NeuroBench's `ConnectionSparsity` counts the `weight` of
/// every `Linear` and `Conv`, including an snnTorch `RLeaky`'s recurrent one, and no biases or
/// neuron parameters). 0 for a network without weights.
pub fn connection_sparsity(net: &Network<f32>) -> f64 {
    let (mut zeros, mut total) = (0usize, 0usize);
    let weights = |t: &&NamedTensor<'_, f32>| is_weight_matrix(t) || t.shape.len() == 3;
    for t in net.tensors().iter().filter(weights) {
        zeros += t.data.iter().filter(|&&w| w == 0.0).count();
        total += t.data.len();
    }
    if total == 0 {
        0.0
    } else {
        zeros as f64 / total as f64
    }
}

/// Zero and total activations of each hidden spiking layer, summed over batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivationCounts {
    /// Per hidden layer: activations (neuron × step × sample) that are zero.
    pub zeros: Vec<u64>,
    /// Per hidden layer: all activations.
    pub total: Vec<u64>,
}

impl ActivationCounts {
    /// Empty counts for `layers` hidden layers.
    pub fn new(layers: usize) -> Self {
        Self {
            zeros: vec![0; layers],
            total: vec![0; layers],
        }
    }

    /// Adds the spikes of one forward pass.
    pub fn add(&mut self, trace: &NetworkTrace<f32>) {
        for (k, layer) in trace.hidden.iter().enumerate() {
            let s = &layer.spikes().data;
            self.zeros[k] += s.iter().filter(|&&v| v == 0.0).count() as u64;
            self.total[k] += s.len() as u64;
        }
    }

    /// Zeros over all activations of all layers (0 when nothing was counted).
    pub fn sparsity(&self) -> f64 {
        ratio(self.zeros.iter().sum(), self.total.iter().sum())
    }

    /// The sparsity of each layer on its own.
    pub fn per_layer(&self) -> Vec<f64> {
        self.zeros
            .iter()
            .zip(&self.total)
            .map(|(&z, &t)| ratio(z, t))
            .collect()
    }
}

fn ratio(zeros: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        zeros as f64 / total as f64
    }
}
