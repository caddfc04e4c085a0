//! Convolutional spiking layers: what a config says (`conv = { filters, kernel, stride }` on a
//! hidden layer) and the kernels a layer learns, from which its projection matrices are built.
//!
//! stork's `ConvLayer` (Rossbroich, Gygax & Zenke 2022, the recurrent convolutional SNN for
//! SHD): the input projection is a convolution over the previous layer's map, and a recurrent
//! layer's `W_rec` is a second convolution of its own map onto itself, stride 1 and "same"
//! padding (kernel 5 in stork's SHD network). The learnable tensors are the kernels
//! (`w_in_kernel`, `w_rec_kernel`); `W_in` and `W_rec` are rebuilt from them after every
//! change, so every kernel of the dense layers (events gathered row by row, BPTT, the
//! regularizers) runs a convolutional layer unchanged. A bias is one value per filter.
//!
//! Over a map of height 1 (a flat input, or a 1-D layer's output) the convolution is 1-D and a
//! single number is a size along the map; over a 2-D map a single number means the same size
//! along both axes, and a pair `[h, w]` gives each axis its own. An optional `pool` sums,
//! averages or takes the maximum of windows of the convolution's output before the neurons
//! (snnTorch's `Conv2d → MaxPool2d → Leaky`), so the layer's neurons are the pooled map.

use super::{ConvSpec, MapShape, PoolKind, Pooling};
use crate::error::{check_count, ConfigError};
use crate::real::Real;
use crate::tensor::Matrix;
use serde::{Deserialize, Serialize};

/// A size along a map: one number, or one per axis `[height, width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Extent {
    /// The same along both axes of a 2-D map; along the map for a 1-D one.
    Same(usize),
    /// `[height, width]`.
    PerAxis([usize; 2]),
}

impl Extent {
    /// The size per axis over `input`: a single number over a map of height 1 applies to the
    /// width, and the height takes `one_d_height` (1 for kernels and strides, 0 for padding).
    pub fn resolve(self, input: MapShape, one_d_height: usize) -> [usize; 2] {
        match self {
            Self::PerAxis(pair) => pair,
            Self::Same(n) if input.height == 1 => [one_d_height, n],
            Self::Same(n) => [n, n],
        }
    }

    fn values(self) -> [usize; 2] {
        match self {
            Self::Same(n) => [n, n],
            Self::PerAxis(pair) => pair,
        }
    }
}

/// A pooling of a convolutional layer's output (`pool = { kind = "avg", size = 2 }`): window
/// and stride `size`, no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// `"avg"`, `"sum"` or `"max"`.
    pub kind: PoolKind,
    /// The window.
    pub size: Extent,
}

/// The convolution of a hidden layer (`conv = { filters = 16, kernel = 21, stride = 10 }`):
/// the layer's neurons are `filters × positions` (its `size` is derived, see
/// [`crate::network::NetworkSpec::resolve_conv_sizes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvLayerSpec {
    /// Output channels (filters).
    pub filters: usize,
    /// Kernel size of the input convolution.
    pub kernel: Extent,
    /// Stride of the input convolution.
    pub stride: Extent,
    /// Zero padding on both ends of the input.
    pub padding: Extent,
    /// Dilation of the input kernel.
    pub dilation: Extent,
    /// Groups of the input convolution.
    pub groups: usize,
    /// Kernel size of the recurrent convolution (odd: stride 1, padding `(k − 1)/2` keep the
    /// map's size), used when the layer is `recurrent`.
    pub recurrent_kernel: Extent,
    /// Pooling of the input convolution's output before the neurons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolSpec>,
}

impl Default for ConvLayerSpec {
    fn default() -> Self {
        Self {
            filters: 16,
            kernel: Extent::Same(3),
            stride: Extent::Same(1),
            padding: Extent::Same(0),
            dilation: Extent::Same(1),
            groups: 1,
            recurrent_kernel: Extent::Same(5),
            pool: None,
        }
    }
}

/// The convolutions of one layer, resolved against its input map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// The input projection.
    pub input: ConvSpec,
    /// The recurrent projection, when the layer is recurrent.
    pub recurrent: Option<ConvSpec>,
}

impl ConvGeometry {
    /// The layer's output map.
    pub fn output(&self) -> MapShape {
        self.input.output()
    }
}

impl ConvLayerSpec {
    /// Checks the counts and that the recurrent kernel is odd; `at` names the field.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_count(&format!("{at}.filters"), self.filters)?;
        check_count(&format!("{at}.groups"), self.groups)?;
        let extents = [
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ];
        let pool = self.pool.map(|p| ("pool.size", p.size));
        for (name, extent) in extents.into_iter().chain(pool) {
            for v in extent.values() {
                check_count(&format!("{at}.{name}"), v)?;
            }
        }
        if self.recurrent_kernel.values().iter().any(|k| k % 2 == 0) {
            return Err(ConfigError::new(
                format!("{at}.recurrent_kernel"),
                format!(
                    "must be odd (a 'same' convolution of the map onto itself), got {:?}",
                    self.recurrent_kernel
                ),
            ));
        }
        Ok(())
    }

    /// The layer's convolutions over `input`; the error says which value does not fit.
    pub fn geometry(&self, input: MapShape, recurrent: bool) -> Result<ConvGeometry, String> {
        let conv = ConvSpec {
            input,
            filters: self.filters,
            kernel: self.kernel.resolve(input, 1),
            stride: self.stride.resolve(input, 1),
            padding: self.padding.resolve(input, 0),
            dilation: self.dilation.resolve(input, 1),
            groups: self.groups,
            pool: self.pool.map(|p| Pooling {
                kind: p.kind,
                size: p.size.resolve(input, 1),
            }),
        };
        conv.validate()
            .map_err(|e| format!("over an input of {input:?}: {e}"))?;
        let output = conv.output();
        let rec = recurrent.then(|| {
            let kernel = self.recurrent_kernel.resolve(output, 1);
            ConvSpec {
                input: output,
                filters: self.filters,
                kernel,
                stride: [1, 1],
                padding: [kernel[0] / 2, kernel[1] / 2],
                dilation: [1, 1],
                groups: 1,
                pool: None,
            }
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
    pub conv: ConvSpec,
    /// Its weights `[filters, in_channels / groups, K_h, K_w]`.
    pub kernel: Vec<F>,
}

impl<F: Real> TiedKernel<F> {
    /// A zero kernel of `conv`.
    pub fn zeros(conv: ConvSpec) -> Self {
        Self {
            conv,
            kernel: vec![F::zero(); conv.kernel_len()],
        }
    }

    /// The kernel's shape: `[filters, in_channels / groups, K]` for a 1-D convolution,
    /// `[filters, in_channels / groups, K_h, K_w]` for a 2-D one.
    pub fn shape(&self) -> Vec<usize> {
        let c = &self.conv;
        let per_group = c.input.channels / c.groups;
        if c.is_one_d() {
            vec![c.filters, per_group, c.kernel[1]]
        } else {
            vec![c.filters, per_group, c.kernel[0], c.kernel[1]]
        }
    }

    /// Inputs one convolution output sums (the fan-in of weight initialisation).
    pub fn fan_in(&self) -> usize {
        self.conv.fan_in()
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
        self.input.conv.output().plane()
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
            kernel: Extent::Same(21),
            stride: Extent::Same(10),
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
                height: 1,
                width: 68
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
            recurrent_kernel: Extent::Same(4),
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

    #[test]
    fn single_numbers_are_square_over_images_and_lengths_over_rows() {
        let image = MapShape {
            channels: 2,
            height: 9,
            width: 8,
        };
        let spec = ConvLayerSpec {
            filters: 4,
            kernel: Extent::Same(3),
            stride: Extent::PerAxis([2, 1]),
            padding: Extent::Same(1),
            pool: Some(PoolSpec {
                kind: PoolKind::Avg,
                size: Extent::Same(2),
            }),
            ..ConvLayerSpec::default()
        };
        let g = spec.geometry(image, true).unwrap();
        assert_eq!((g.input.kernel, g.input.stride), ([3, 3], [2, 1]));
        assert_eq!(g.input.padding, [1, 1]);
        // (9 + 2 − 3)/2 + 1 = 5 rows, 8 columns; pooled 2 × 4.
        assert_eq!(g.output().channels, 4);
        assert_eq!((g.output().height, g.output().width), (2, 4));
        let rec = g.recurrent.unwrap();
        assert_eq!((rec.kernel, rec.padding), ([5, 5], [2, 2]));
        // Over a row, a single number is a length and the padding stays off the height.
        let flat = ConvLayerSpec {
            stride: Extent::Same(2),
            ..spec
        };
        let g = flat.geometry(MapShape::flat(20), false).unwrap();
        assert_eq!((g.input.kernel, g.input.padding), ([1, 3], [0, 1]));
        let pool = g.input.pool.unwrap();
        assert_eq!(pool.size, [1, 2]);
    }

    #[test]
    fn configs_read_numbers_and_pairs() {
        let spec: ConvLayerSpec = toml::from_str(
            "filters = 4\nkernel = [3, 5]\nstride = 2\npool = { kind = \"sum\", size = [1, 2] }",
        )
        .unwrap();
        assert_eq!(spec.kernel, Extent::PerAxis([3, 5]));
        assert_eq!(spec.stride, Extent::Same(2));
        assert_eq!(spec.pool.unwrap().kind, PoolKind::Sum);
        let max: ConvLayerSpec = toml::from_str("pool = { kind = \"max\", size = 2 }").unwrap();
        assert_eq!(max.pool.unwrap().kind, PoolKind::Max);
        let bad = toml::from_str::<ConvLayerSpec>("pool = { kind = \"min\", size = 2 }");
        assert!(bad.is_err());
        let zero = ConvLayerSpec {
            kernel: Extent::PerAxis([3, 0]),
            ..spec
        };
        let err = zero.validate("network.hidden[0].conv").unwrap_err();
        assert_eq!(err.field, "network.hidden[0].conv.kernel");
    }
}
