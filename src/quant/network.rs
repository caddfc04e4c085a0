//! A whole network with int8 weight matrices.

use super::{QuantError, QuantizedTensor};
use crate::network::{NamedTensor, Network};

/// Whether a network tensor is a weight matrix (quantized; counted by connection sparsity and
/// synaptic operations) rather than a per-neuron value such as a time constant.
pub fn is_weight_matrix<F>(t: &NamedTensor<'_, F>) -> bool {
    t.shape.len() == 2
}

/// A network whose weight matrices are int8 with one scale each.
#[derive(Clone, Debug)]
pub struct QuantizedNetwork {
    /// The network with every weight matrix replaced by its dequantized values `q · scale`:
    /// the model that runs (and whose accuracy is the quantized model's accuracy).
    pub net: Network<f32>,
    /// The int8 weight matrices by tensor name (`hidden.0.w_in`, `hidden.0.w_rec`, `readout.w`,
    /// ...), in [`Network::tensors`] order.
    pub weights: Vec<(String, QuantizedTensor)>,
}

impl QuantizedNetwork {
    /// Quantizes every weight matrix of `net` (post-training quantization).
    pub fn quantize(net: &Network<f32>) -> Result<Self, QuantError> {
        let mut dequantized = net.clone();
        let mut weights = Vec::new();
        for (t, dst) in net.tensors().iter().zip(dequantized.tensors_mut()) {
            if is_weight_matrix(t) {
                let q = QuantizedTensor::quantize(&t.name, t.shape.clone(), t.data)?;
                *dst = q.dequantize();
                weights.push((t.name.clone(), q));
            }
        }
        Ok(Self {
            net: dequantized,
            weights,
        })
    }

    /// The int8 matrix named `name` (e.g. `hidden.0.w_rec`).
    pub fn weight(&self, name: &str) -> Option<&QuantizedTensor> {
        self.weights.iter().find(|(n, _)| n == name).map(|(_, q)| q)
    }

    /// The scale of the matrix named `name`.
    pub fn scale(&self, name: &str) -> Option<f32> {
        self.weight(name).map(|q| q.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::SpikingLayerSpec;
    use crate::network::NetworkSpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn every_weight_matrix_is_quantized_on_its_own_and_taus_are_kept() {
        let mut spec = NetworkSpec::recurrent_lif(3, 4, 2, Default::default());
        spec.hidden.push(SpikingLayerSpec {
            size: 2,
            ..Default::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut net = Network::<f32>::new(&spec, &mut rng).unwrap();
        for (k, t) in net.tensors_mut().into_iter().enumerate() {
            let n = t.len();
            *t = (0..n)
                .map(|i| (k + 1) as f32 * 0.01 * (i as f32 - 2.0))
                .collect();
        }
        let q = QuantizedNetwork::quantize(&net).unwrap();
        let names: Vec<&str> = q.weights.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "hidden.0.w_in",
                "hidden.0.w_rec",
                "hidden.1.w_in",
                "readout.w"
            ]
        );
        for (t, d) in net.tensors().iter().zip(q.net.tensors()) {
            if is_weight_matrix(t) {
                let max = t.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert_eq!(q.scale(&t.name).unwrap(), max / 127.0, "{}", t.name);
                assert_eq!(d.data, q.weight(&t.name).unwrap().dequantize());
            } else {
                assert_eq!(t.data, d.data, "{} must stay f32", t.name);
            }
        }
        assert!(q.weight("readout.tau_mem_s").is_none());
    }
}
