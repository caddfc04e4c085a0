//! Convolutional spiking layers: what a config says (`conv = { filters, kernel, stride }` on a
//! hidden layer) and the kernels a layer learns, from which its projection matrices are built.
//!
//! stork's `ConvLayer` (Rossbroich, Gygax & Zenke 2022, the recurrent convolutional SNN for
//! SHD): the input projection is a 1-D convolution over the previous layer's map, and a
//! recurrent layer's `W_rec` is a second convolution of its own map onto itself, stride 1 and
//! "same" padding (kernel 5 in stork's SHD network). The learnable tensors are the kernels
//! (`w_in_kernel`, `w_rec_kernel`); `W_in` and `W_rec` are rebuilt from them after every
//! change, so every kernel of the dense layers (events gathered row by row, BPTT, the
//! regularizers) runs a convolutional layer unchanged. A bias is one value per filter.

use super::Conv1dSpec;
use crate::error::{check_count, ConfigError};
use crate::real::Real;
use crate::tensor::Matrix;
use serde::{Deserialize, Serialize};

/// The convolution of a hidden layer (`conv = { filters = 16, kernel = 21, stride = 10 }`):
/// the layer's neurons are `filters × positions` (its `size` is derived, see
/// [`crate::network::NetworkSpec::resolve_conv_sizes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvLayerSpec {
    /// Output channels (filters).
    pub filters: usize,
    /// Kernel size of the input convolution.
    pub kernel: usize,
    /// Stride of the input convolution.
    pub stride: usize,
    /// Zero padding on both ends of the input.
    pub padding: usize,
    /// Dilation of the input kernel.
    pub dilation: usize,
    /// Groups of the input convolution.
    pub groups: usize,
    /// Kernel size of the recurrent convolution (odd: stride 1, padding `(k − 1)/2` keep the
    /// map's size), used when the layer is `recurrent`.
    pub recurrent_kernel: usize,
}

impl Default for ConvLayerSpec {
    fn default() -> Self {
        Self {
            filters: 16,
            kernel: 3,
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
            recurrent_kernel: 5,
        }
    }
}

/// A map of `channels × length` units, channel-major (a flat layer is one channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// Channels.
    pub channels: usize,
    /// Positions per channel.
    pub length: usize,
}

impl MapShape {
    /// `n` units as one channel.
    pub fn flat(n: usize) -> Self {
        Self {
            channels: 1,
            length: n,
        }
    }

    /// `channels · length`.
    pub fn units(&self) -> usize {
        self.channels * self.length
    }
}

/// The convolutions of one layer, resolved against its input map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// The input projection.
    pub input: Conv1dSpec,
    /// The recurrent projection, when the layer is recurrent.
    pub recurrent: Option<Conv1dSpec>,
}

impl ConvGeometry {
    /// The layer's output map.
    pub fn output(&self) -> MapShape {
        MapShape {
            channels: self.input.filters,
            length: self.input.out_length(),
        }
    }
}

impl ConvLayerSpec {
    /// Checks the counts and that the recurrent kernel is odd; `at` names the field.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_count(&format!("{at}.filters"), self.filters)?;
        check_count(&format!("{at}.kernel"), self.kernel)?;
        check_count(&format!("{at}.stride"), self.stride)?;
        check_count(&format!("{at}.dilation"), self.dilation)?;
        check_count(&format!("{at}.groups"), self.groups)?;
        if self.recurrent_kernel % 2 == 0 {
            return Err(ConfigError::new(
                format!("{at}.recurrent_kernel"),
                format!(
                    "must be odd (a 'same' convolution of the map onto itself), got {}",
                    self.recurrent_kernel
                ),
            ));
        }
        Ok(())
    }

    /// The layer's convolutions over `input`; the error says which value does not fit.
    pub fn geometry(&self, input: MapShape, recurrent: bool) -> Result<ConvGeometry, String> {
        let conv = Conv1dSpec {
            in_channels: input.channels,
            length: input.length,
            filters: self.filters,
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        };
        conv.validate()
            .map_err(|e| format!("over an input of {input:?}: {e}"))?;
        let out_length = conv.out_length();
        let rec = recurrent.then_some(Conv1dSpec {
            in_channels: self.filters,
            length: out_length,
            filters: self.filters,
            kernel: self.recurrent_kernel,
            stride: 1,
            padding: self.recurrent_kernel / 2,
            dilation: 1,
            groups: 1,
        });
        if let Some(rec) = &rec {
            rec.validate()
                .map_err(|e| format!("the recurrent convolution: {e}"))?;
        }
        Ok(ConvGeometry {
            input: conv,
            recurrent: rec,
        })
    }
}

/// A kernel and the convolution it is the kernel of.
#[derive(Clone, Debug, PartialEq)]
pub struct TiedKernel<F> {
    /// The convolution.
    pub conv: Conv1dSpec,
    /// Its weights `[filters, in_channels / groups, kernel]`.
    pub kernel: Vec<F>,
}

impl<F: Real> TiedKernel<F> {
    /// A zero kernel of `conv`.
    pub fn zeros(conv: Conv1dSpec) -> Self {
        Self {
            conv,
            kernel: vec![F::zero(); conv.kernel_len()],
        }
    }

    /// The kernel's shape `[filters, in_channels / groups, kernel]`.
    pub fn shape(&self) -> Vec<usize> {
        let c = &self.conv;
        vec![c.filters, c.in_channels / c.groups, c.kernel]
    }

    /// Inputs one output sums (the fan-in of weight initialisation).
    pub fn fan_in(&self) -> usize {
        let c = &self.conv;
        c.in_channels / c.groups * c.kernel
    }

    /// The projection matrix of the convolution.
    pub fn matrix(&self) -> Matrix<F> {
        self.conv.to_matrix(&self.kernel)
    }
}

/// A convolutional layer's learnable kernels.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvWeights<F> {
    /// The input convolution's kernel (`w_in_kernel`).
    pub input: TiedKernel<F>,
    /// The recurrent convolution's kernel (`w_rec_kernel`), when the layer is recurrent.
    pub recurrent: Option<TiedKernel<F>>,
}

impl<F: Real> ConvWeights<F> {
    /// Zero kernels of `geometry`.
    pub fn zeros(geometry: &ConvGeometry) -> Self {
        Self {
            input: TiedKernel::zeros(geometry.input),
            recurrent: geometry.recurrent.map(TiedKernel::zeros),
        }
    }

    /// Positions per filter of the output map.
    fn positions(&self) -> usize {
        self.input.conv.out_length()
    }

    /// A per-filter bias as a per-neuron one (`[filters · positions]`).
    pub fn expand_bias(&self, per_filter: &[F]) -> Vec<F> {
        let positions = self.positions();
        per_filter
            .iter()
            .flat_map(|&b| std::iter::repeat_n(b, positions))
            .collect()
    }

    /// A per-neuron bias gradient summed per filter (the adjoint of [`Self::expand_bias`]).
    pub fn reduce_bias(&self, per_neuron: &[F]) -> Vec<F> {
        per_neuron
            .chunks_exact(self.positions().max(1))
            .map(|c| c.iter().fold(F::zero(), |s, &v| s + v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ConvLayerSpec {
        ConvLayerSpec {
            filters: 16,
            kernel: 21,
            stride: 10,
            ..ConvLayerSpec::default()
        }
    }

    #[test]
    fn storks_first_layer_maps_700_channels_to_16_by_68() {
        let g = spec().geometry(MapShape::flat(700), true).unwrap();
        assert_eq!(
            g.output(),
            MapShape {
                channels: 16,
                length: 68
            }
        );
        let rec = g.recurrent.unwrap();
        assert_eq!((rec.inputs(), rec.outputs()), (1088, 1088));
        assert_eq!(TiedKernel::<f64>::zeros(rec).fan_in(), 16 * 5);
    }

    #[test]
    fn impossible_geometries_name_what_does_not_fit() {
        let err = spec().geometry(MapShape::flat(20), false).unwrap_err();
        assert!(err.contains("spans 21"), "{err}");
        let even = ConvLayerSpec {
            recurrent_kernel: 4,
            ..spec()
        };
        let err = even.validate("network.hidden[0].conv").unwrap_err();
        assert!(err.to_string().contains("recurrent_kernel"), "{err}");
    }

    #[test]
    fn the_bias_reduction_is_the_adjoint_of_its_expansion() {
        let g = spec().geometry(MapShape::flat(700), false).unwrap();
        let w = ConvWeights::<f64>::zeros(&g);
        let b: Vec<f64> = (0..16).map(|f| f as f64 * 0.5 - 3.0).collect();
        let y: Vec<f64> = (0..16 * 68).map(|k| ((k * 7) % 11) as f64 - 5.0).collect();
        let expanded = w.expand_bias(&b);
        assert_eq!(expanded.len(), 16 * 68);
        let lhs: f64 = expanded.iter().zip(&y).map(|(a, b)| a * b).sum();
        let rhs: f64 = b.iter().zip(w.reduce_bias(&y)).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9);
    }
}
