//! 1-D convolutions as the projections of spiking layers (stork's `ConvLayer`; the SHD
//! networks of Cramer et al. 2022 and Rossbroich et al. 2022): a layer's neurons are
//! `filters × positions` maps over an input of `channels × length` units.
//!
//! Unit ids are channel-major: input unit `c·length + i` is position `i` of channel `c`, and
//! output unit `f·out_length + o` is position `o` of filter `f`, so a flat spiking layer is a
//! map with one channel and a convolutional layer's output is the next one's input as it is.
//!
//! The convolution (kernel `K`, stride `s`, zero padding `p`, dilation `d`, `groups`)
//!
//! ```text
//! y[f, o] = Σ_{c ∈ group(f)} Σ_k w[f, c, k] · x[c, o·s + k·d − p]        (positions outside: 0)
//! out_length = ⌊(length + 2p − d(K − 1) − 1) / s⌋ + 1
//! ```
//!
//! is linear in `x`, so it is a matrix `W[in, out]` (`y = x W`) whose entries are kernel
//! weights, each tied to every position it slides over. [`Conv1dSpec::to_matrix`] builds that
//! matrix and [`Conv1dSpec::kernel_grad`] sums a gradient of it back onto the kernel (the
//! adjoint of building it), so the layer's event kernels — a gather of the rows of active
//! inputs, a scatter of the weight gradient — serve convolutions unchanged, and spikes stay
//! events. At the sizes of these networks the matrix is small (stork's SHD network: 700 ×
//! 1088, then 1088 × 672 and 672 × 320 entries).

use crate::real::Real;
use crate::tensor::Matrix;
use serde::{Deserialize, Serialize};

mod layer;
pub use layer::{ConvGeometry, ConvLayerSpec, ConvWeights, MapShape, TiedKernel};

/// The shape of a 1-D convolution over a `channels × length` map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv1dSpec {
    /// Input channels (1 for a flat input such as SHD's 700 cochlear channels).
    pub in_channels: usize,
    /// Input positions per channel.
    pub length: usize,
    /// Output channels (filters).
    pub filters: usize,
    /// Kernel size `K`.
    pub kernel: usize,
    /// Stride `s`.
    pub stride: usize,
    /// Zero padding `p` on both ends.
    pub padding: usize,
    /// Dilation `d` (spacing of the kernel's taps).
    pub dilation: usize,
    /// Groups: filter `f` sees the input channels of group `f / (filters / groups)` only.
    pub groups: usize,
}

impl Conv1dSpec {
    /// Checks that the sizes are positive, that `groups` divides both channel counts and that
    /// the dilated kernel fits the padded input; the error says which value is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let counts = [
            ("in_channels", self.in_channels),
            ("length", self.length),
            ("filters", self.filters),
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
            ("groups", self.groups),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if self.in_channels % self.groups != 0 || self.filters % self.groups != 0 {
            return Err(format!(
                "groups = {} must divide in_channels = {} and filters = {}",
                self.groups, self.in_channels, self.filters
            ));
        }
        let span = self.span().ok_or("the kernel's span overflows")?;
        let padded = self
            .length
            .checked_add(self.padding.checked_mul(2).ok_or("padding overflows")?)
            .ok_or("padding overflows")?;
        if span > padded {
            return Err(format!(
                "the kernel spans {span} positions (kernel {}, dilation {}) but the padded \
                 input has {padded}",
                self.kernel, self.dilation
            ));
        }
        self.outputs()
            .checked_mul(self.inputs())
            .ok_or("the projection's size overflows")?;
        Ok(())
    }

    /// `d(K − 1) + 1`: the positions one output sees.
    fn span(&self) -> Option<usize> {
        (self.kernel - 1).checked_mul(self.dilation)?.checked_add(1)
    }

    /// Output positions per filter (see the module docs; the spec must be valid).
    pub fn out_length(&self) -> usize {
        let span = (self.kernel - 1) * self.dilation + 1;
        (self.length + 2 * self.padding - span) / self.stride + 1
    }

    /// Input units, `in_channels · length`.
    pub fn inputs(&self) -> usize {
        self.in_channels * self.length
    }

    /// Output units (the layer's neurons), `filters · out_length`.
    pub fn outputs(&self) -> usize {
        self.filters * self.out_length()
    }

    /// Kernel weights, `filters · (in_channels / groups) · kernel`, stored in that order.
    pub fn kernel_len(&self) -> usize {
        self.filters * self.in_per_group() * self.kernel
    }

    /// Input channels each filter sees.
    fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Calls `tap(kernel_index, input_unit, output_unit)` for every product of the
    /// convolution (positions in the padding have none).
    fn for_each_tap(&self, mut tap: impl FnMut(usize, usize, usize)) {
        let (out_length, in_per_group) = (self.out_length(), self.in_per_group());
        let filters_per_group = self.filters / self.groups;
        for f in 0..self.filters {
            let first_channel = (f / filters_per_group) * in_per_group;
            for c in 0..in_per_group {
                let channel = first_channel + c;
                for k in 0..self.kernel {
                    let weight = (f * in_per_group + c) * self.kernel + k;
                    for o in 0..out_length {
                        let at = o * self.stride + k * self.dilation;
                        if let Some(i) = at.checked_sub(self.padding).filter(|&i| i < self.length) {
                            tap(weight, channel * self.length + i, f * out_length + o);
                        }
                    }
                }
            }
        }
    }

    /// Products of one convolution: every kernel weight at every position it meets an input
    /// (the matrix's structural non-zeros).
    pub fn taps(&self) -> usize {
        let mut taps = 0;
        self.for_each_tap(|_, _, _| taps += 1);
        taps
    }

    /// The convolution with `kernel` (length [`Self::kernel_len`]) as a `[inputs, outputs]`
    /// matrix.
    ///
    /// # Panics
    /// If `kernel` has another length.
    pub fn to_matrix<F: Real>(&self, kernel: &[F]) -> Matrix<F> {
        assert_eq!(kernel.len(), self.kernel_len(), "conv1d: kernel length");
        let mut dense = Matrix::zeros(self.inputs(), self.outputs());
        let cols = dense.cols;
        self.for_each_tap(|w, i, o| dense.data[i * cols + o] = kernel[w]);
        dense
    }

    /// The gradient of the kernel from the gradient `dense` of [`Self::to_matrix`]'s matrix:
    /// each weight's sum over the entries it is tied to.
    ///
    /// # Panics
    /// If `dense` is not `[inputs, outputs]`.
    pub fn kernel_grad<F: Real>(&self, dense: &Matrix<F>) -> Vec<F> {
        assert!(
            dense.rows == self.inputs() && dense.cols == self.outputs(),
            "conv1d: gradient shape"
        );
        let mut grad = vec![F::zero(); self.kernel_len()];
        self.for_each_tap(|w, i, o| grad[w] += dense.data[i * dense.cols + o]);
        grad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn spec(in_channels: usize, length: usize, filters: usize, kernel: usize) -> Conv1dSpec {
        Conv1dSpec {
            in_channels,
            length,
            filters,
            kernel,
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }

    fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// The convolution written out from its definition, independently of the taps.
    fn convolve(s: &Conv1dSpec, kernel: &[f64], x: &[f64]) -> Vec<f64> {
        let (ol, cg) = (s.out_length(), s.in_channels / s.groups);
        let mut y = vec![0.0; s.outputs()];
        for f in 0..s.filters {
            let group = f / (s.filters / s.groups);
            for o in 0..ol {
                let mut sum = 0.0;
                for c in 0..cg {
                    for k in 0..s.kernel {
                        let pos = (o * s.stride + k * s.dilation) as i64 - s.padding as i64;
                        if pos >= 0 && (pos as usize) < s.length {
                            let xi = x[(group * cg + c) * s.length + pos as usize];
                            sum += kernel[(f * cg + c) * s.kernel + k] * xi;
                        }
                    }
                }
                y[f * ol + o] = sum;
            }
        }
        y
    }

    fn shapes() -> Vec<Conv1dSpec> {
        vec![
            spec(1, 12, 3, 3),
            Conv1dSpec {
                stride: 2,
                padding: 2,
                ..spec(2, 9, 4, 3)
            },
            Conv1dSpec {
                dilation: 2,
                groups: 2,
                padding: 1,
                ..spec(4, 10, 6, 3)
            },
            Conv1dSpec {
                stride: 3,
                ..spec(3, 11, 2, 5)
            },
        ]
    }

    #[test]
    fn the_matrix_computes_the_convolution() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for s in shapes() {
            s.validate().unwrap();
            let kernel = random(s.kernel_len(), &mut rng);
            let x = random(s.inputs(), &mut rng);
            let w = s.to_matrix(&kernel);
            let y: Vec<f64> = (0..s.outputs())
                .map(|o| (0..s.inputs()).map(|i| x[i] * w.at(i, o)).sum())
                .collect();
            let expected = convolve(&s, &kernel, &x);
            for (a, b) in y.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-12, "{s:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn the_kernel_gradient_is_the_adjoint_of_building_the_matrix() {
        // ⟨to_matrix(k), G⟩ = ⟨k, kernel_grad(G)⟩ for every k and G, and the gradient of the
        // loss ⟨y, g⟩ with y = x·W(k) agrees with finite differences of the kernel.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for s in shapes() {
            let kernel = random(s.kernel_len(), &mut rng);
            let g = Matrix {
                rows: s.inputs(),
                cols: s.outputs(),
                data: random(s.inputs() * s.outputs(), &mut rng),
            };
            let lhs: f64 = s
                .to_matrix(&kernel)
                .data
                .iter()
                .zip(&g.data)
                .map(|(a, b)| a * b)
                .sum();
            let grad = s.kernel_grad(&g);
            let rhs: f64 = kernel.iter().zip(&grad).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-10, "{s:?}: {lhs} vs {rhs}");

            let x = random(s.inputs(), &mut rng);
            let dy = random(s.outputs(), &mut rng);
            let loss = |k: &[f64]| -> f64 {
                convolve(&s, k, &x)
                    .iter()
                    .zip(&dy)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let outer = Matrix {
                rows: s.inputs(),
                cols: s.outputs(),
                data: x
                    .iter()
                    .flat_map(|&xi| dy.iter().map(move |&d| xi * d))
                    .collect(),
            };
            let analytic = s.kernel_grad(&outer);
            for (w, &a) in analytic.iter().enumerate() {
                let (mut plus, mut minus) = (kernel.clone(), kernel.clone());
                plus[w] += 1e-6;
                minus[w] -= 1e-6;
                let fd = (loss(&plus) - loss(&minus)) / 2e-6;
                assert!((fd - a).abs() < 1e-6, "{s:?} weight {w}: {fd} vs {a}");
            }
        }
    }

    #[test]
    fn taps_are_the_matrix_structure() {
        for s in shapes() {
            let ones = vec![1.0f64; s.kernel_len()];
            let nnz = s
                .to_matrix(&ones)
                .data
                .iter()
                .filter(|&&v| v != 0.0)
                .count();
            assert_eq!(s.taps(), nnz, "{s:?}");
        }
    }

    #[test]
    fn storks_shd_network_has_the_published_map_sizes() {
        // Filters 16/32/64, kernels 21/7/7, strides 10/3/3 over 700 channels.
        let first = Conv1dSpec {
            stride: 10,
            ..spec(1, 700, 16, 21)
        };
        assert_eq!(first.out_length(), 68);
        let second = Conv1dSpec {
            stride: 3,
            ..spec(16, 68, 32, 7)
        };
        assert_eq!(second.out_length(), 21);
        let third = Conv1dSpec {
            stride: 3,
            ..spec(32, 21, 64, 7)
        };
        assert_eq!((third.out_length(), third.outputs()), (5, 320));
        // The recurrent convolution: kernel 5, padding 2 keeps the map's size.
        let recurrent = Conv1dSpec {
            padding: 2,
            ..spec(16, 68, 16, 5)
        };
        assert_eq!(recurrent.outputs(), recurrent.inputs());
    }

    #[test]
    fn impossible_shapes_are_refused_by_name() {
        let cases = [
            (
                Conv1dSpec {
                    stride: 0,
                    ..spec(1, 8, 2, 3)
                },
                "stride",
            ),
            (
                Conv1dSpec {
                    groups: 2,
                    ..spec(3, 8, 2, 3)
                },
                "groups",
            ),
            (spec(1, 4, 2, 5), "spans 5"),
            (
                Conv1dSpec {
                    dilation: 3,
                    ..spec(1, 6, 2, 3)
                },
                "spans 7",
            ),
            (
                Conv1dSpec {
                    dilation: usize::MAX,
                    ..spec(1, 6, 2, 3)
                },
                "overflows",
            ),
        ];
        for (s, expected) in cases {
            let err = s.validate().unwrap_err();
            assert!(err.contains(expected), "{s:?}: {err}");
        }
        assert!(Conv1dSpec {
            padding: 1,
            ..spec(1, 4, 2, 5)
        }
        .validate()
        .is_ok());
    }
}
