//! Convolutions as the projections of spiking layers (stork's `ConvLayer`, the SHD networks of
//! Cramer et al. 2022 and Rossbroich et al. 2022; snnTorch's `Conv2d → AvgPool2d → Leaky`
//! blocks): a layer's neurons are the `filters × positions` map of a convolution over the
//! previous layer's `channels × height × width` map (a 1-D map has height 1).
//!
//! Unit ids are channel-major and row-major: input unit `(c·H + y)·W + x` is pixel `(y, x)` of
//! channel `c`, output unit `(f·H_o + y)·W_o + x` likewise, so a flat spiking layer is a map
//! with one channel and one row, and a convolutional layer's output is the next one's input as
//! it is.
//!
//! The convolution (kernel `K`, stride `s`, zero padding `p`, dilation `d` per axis, `groups`)
//!
//! ```text
//! z[f, o] = Σ_{c ∈ group(f)} Σ_k w[f, c, k] · x[c, o·s + k·d − p]       (pixels outside: 0)
//! out = ⌊(in + 2p − d(K − 1) − 1) / s⌋ + 1                                  (per axis)
//! ```
//!
//! optionally followed by a pooling of the convolution's output before the neurons (window
//! `P`, stride `P`, no padding, as PyTorch's default): the sum of each window, or its mean
//! (`1/(P_h·P_w)` times the sum). Both are linear in `x`, so the projection is a matrix
//! `W[in, out]` (`y = x W`) whose entries are sums of kernel weights times pooling
//! coefficients, each weight tied to every position it slides over. [`ConvSpec::to_matrix`]
//! builds that matrix and [`ConvSpec::kernel_grad`] sums a gradient of it back onto the kernel
//! (the adjoint of building it), so the layer's event kernels — a gather of the rows of active
//! inputs, a scatter of the weight gradient — serve convolutions unchanged, and spikes stay
//! events. The matrix is dense, so its size is bounded ([`MAX_MATRIX_ENTRIES`]): stork's SHD
//! network has 700 × 1088, then 1088 × 672 and 672 × 320 entries; a 16 × 16 image through
//! 8 filters and a 2 × 2 pool, 256 × 512.
//!
//! Max pooling is not linear: with `pool.kind = "max"` the matrix is the unpooled convolution
//! (`[in, filters · H_c · W_c]`) and [`max_pool`] takes each window's largest current after
//! it; its adjoint [`max_pool_grad`] routes a window's gradient to that position (the first
//! one on ties, as PyTorch's `MaxPool2d`).

use crate::real::Real;
use crate::tensor::Matrix;

mod layer;
mod max_pool;
pub use crate::linalg::conv::MapShape;
pub use layer::{ConvGeometry, ConvLayerSpec, ConvWeights, Extent, PoolSpec, TiedKernel};
pub use max_pool::{max_pool, max_pool_grad, MaxPool};

/// The largest projection matrix a convolution may build (2^26 entries, 256 MB in f32).
pub const MAX_MATRIX_ENTRIES: usize = 1 << 26;

/// How a window of the convolution's output is pooled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// The window's sum (NIR's `SumPool2d`).
    Sum,
    /// The window's mean (PyTorch's `AvgPool2d`, NIR's `AvgPool2d`).
    Avg,
    /// The window's largest value (PyTorch's `MaxPool2d`; not linear, so not folded into the
    /// matrix).
    Max,
}

/// A pooling of the convolution's output (window = stride, no padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pooling {
    /// Sum or mean.
    pub kind: PoolKind,
    /// Window `[P_h, P_w]`, also the stride.
    pub size: [usize; 2],
}

impl Pooling {
    /// The factor of each pooled value (1 for the maximum).
    fn coefficient<F: Real>(&self) -> F {
        match self.kind {
            PoolKind::Sum | PoolKind::Max => F::one(),
            PoolKind::Avg => F::one() / F::from_f64((self.size[0] * self.size[1]) as f64),
        }
    }
}

/// The shape of a convolution over a `channels × height × width` map, and the pooling of its
/// output, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// The input map (a flat input such as SHD's 700 cochlear channels: 1 × 1 × 700).
    pub input: MapShape,
    /// Output channels (filters).
    pub filters: usize,
    /// Kernel `[K_h, K_w]`.
    pub kernel: [usize; 2],
    /// Stride `[s_h, s_w]`.
    pub stride: [usize; 2],
    /// Zero padding on both ends `[p_h, p_w]`.
    pub padding: [usize; 2],
    /// Dilation `[d_h, d_w]` (spacing of the kernel's taps).
    pub dilation: [usize; 2],
    /// Groups: filter `f` sees the input channels of group `f / (filters / groups)` only.
    pub groups: usize,
    /// Pooling of the convolution's output before the neurons.
    pub pool: Option<Pooling>,
}

impl ConvSpec {
    /// A 1-D convolution over `channels × length` (height 1), no pooling.
    #[allow(clippy::too_many_arguments)]
    pub fn one_d(
        in_channels: usize,
        length: usize,
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Self {
        Self {
            input: MapShape {
                channels: in_channels,
                height: 1,
                width: length,
            },
            filters,
            kernel: [1, kernel],
            stride: [1, stride],
            padding: [0, padding],
            dilation: [1, dilation],
            groups,
            pool: None,
        }
    }

    /// Whether this is a convolution along one axis (a map of height 1, a kernel of height 1).
    pub fn is_one_d(&self) -> bool {
        self.input.height == 1 && self.kernel[0] == 1 && self.padding[0] == 0
    }

    /// Checks that the sizes are positive, that `groups` divides both channel counts, that the
    /// dilated kernel fits the padded input, that a pooling window fits the convolution's
    /// output and that the matrix stays below [`MAX_MATRIX_ENTRIES`]; the error says which
    /// value is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let counts = [
            ("in_channels", self.input.channels),
            ("height", self.input.height),
            ("width", self.input.width),
            ("filters", self.filters),
            ("groups", self.groups),
        ];
        let pairs = [
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ];
        let zero = counts.iter().find(|(_, v)| *v == 0).map(|(n, _)| *n);
        let zero = zero.or(pairs.iter().find(|(_, v)| v.contains(&0)).map(|(n, _)| *n));
        if let Some(name) = zero {
            return Err(format!("{name} must be at least 1"));
        }
        if !self.input.channels.is_multiple_of(self.groups)
            || !self.filters.is_multiple_of(self.groups)
        {
            return Err(format!(
                "groups = {} must divide in_channels = {} and filters = {}",
                self.groups, self.input.channels, self.filters
            ));
        }
        let input = [self.input.height, self.input.width];
        for axis in 0..2 {
            let span = self.span(axis).ok_or("the kernel's span overflows")?;
            let padded = self.padding[axis]
                .checked_mul(2)
                .and_then(|p| p.checked_add(input[axis]))
                .ok_or("padding overflows")?;
            if span > padded {
                return Err(format!(
                    "the kernel spans {span} positions (kernel {:?}, dilation {:?}) but the \
                     padded input has {padded} along axis {axis} (input {}×{}, padding {:?})",
                    self.kernel, self.dilation, input[0], input[1], self.padding
                ));
            }
        }
        if let Some(pool) = &self.pool {
            let conv = self.conv_size();
            if pool.size.contains(&0) {
                return Err("pool.size must be at least 1".into());
            }
            if pool.size[0] > conv[0] || pool.size[1] > conv[1] {
                return Err(format!(
                    "the pooling window {:?} is larger than the convolution's {}×{} output",
                    pool.size, conv[0], conv[1]
                ));
            }
        }
        let entries = self
            .matrix_outputs()
            .checked_mul(self.inputs())
            .ok_or("the projection's size overflows")?;
        if entries > MAX_MATRIX_ENTRIES {
            return Err(format!(
                "the projection matrix would have {} × {} = {entries} entries, more than \
                 {MAX_MATRIX_ENTRIES} (a larger stride, a pooling or a smaller map reduces it)",
                self.inputs(),
                self.matrix_outputs()
            ));
        }
        Ok(())
    }

    /// `d(K − 1) + 1` along `axis`: the positions one output sees.
    fn span(&self, axis: usize) -> Option<usize> {
        (self.kernel[axis] - 1)
            .checked_mul(self.dilation[axis])?
            .checked_add(1)
    }

    /// The convolution's output size `[H_c, W_c]` before pooling (the spec must be valid).
    pub fn conv_size(&self) -> [usize; 2] {
        let input = [self.input.height, self.input.width];
        std::array::from_fn(|a| {
            let span = (self.kernel[a] - 1) * self.dilation[a] + 1;
            (input[a] + 2 * self.padding[a] - span) / self.stride[a] + 1
        })
    }

    /// The output map's size `[H_o, W_o]`: the convolution's, pooled.
    pub fn out_size(&self) -> [usize; 2] {
        let conv = self.conv_size();
        match &self.pool {
            None => conv,
            Some(p) => [conv[0] / p.size[0], conv[1] / p.size[1]],
        }
    }

    /// The output map.
    pub fn output(&self) -> MapShape {
        let [height, width] = self.out_size();
        MapShape {
            channels: self.filters,
            height,
            width,
        }
    }

    /// Input units, `channels · height · width`.
    pub fn inputs(&self) -> usize {
        self.input.units()
    }

    /// Output units (the layer's neurons), `filters · H_o · W_o`.
    pub fn outputs(&self) -> usize {
        self.output().units()
    }

    /// The sum or average pooling folded into the matrix, if any.
    fn linear_pool(&self) -> Option<Pooling> {
        self.pool.filter(|p| p.kind != PoolKind::Max)
    }

    /// The max pooling after the matrix, if any.
    pub fn max_pool(&self) -> Option<MaxPool> {
        let p = self.pool.filter(|p| p.kind == PoolKind::Max)?;
        let [height, width] = self.conv_size();
        let map = MapShape {
            channels: self.filters,
            height,
            width,
        };
        Some(MaxPool { map, size: p.size })
    }

    /// The matrix's columns: [`Self::outputs`], or the unpooled convolution's units before a
    /// max pooling.
    pub fn matrix_outputs(&self) -> usize {
        match self.max_pool() {
            Some(m) => m.map.units(),
            None => self.outputs(),
        }
    }

    /// The matrix's output map size: the pooled one, or the convolution's before a max
    /// pooling.
    fn matrix_size(&self) -> [usize; 2] {
        match self.max_pool() {
            Some(m) => [m.map.height, m.map.width],
            None => self.out_size(),
        }
    }

    /// Kernel weights, `filters · (in_channels / groups) · K_h · K_w`, stored in that order.
    pub fn kernel_len(&self) -> usize {
        self.filters * self.fan_in()
    }

    /// Weights of one filter (the inputs one convolution output sums).
    pub fn fan_in(&self) -> usize {
        self.in_per_group() * self.kernel[0] * self.kernel[1]
    }

    /// Input channels each filter sees.
    fn in_per_group(&self) -> usize {
        self.input.channels / self.groups
    }

    /// The output unit a convolution output `(f, y, x)` adds to, if any (pooling drops the
    /// rows and columns no full window covers).
    fn target(&self, f: usize, y: usize, x: usize, out: [usize; 2]) -> Option<usize> {
        let [y, x] = match &self.linear_pool() {
            None => [y, x],
            Some(p) => [y / p.size[0], x / p.size[1]],
        };
        (y < out[0] && x < out[1]).then(|| (f * out[0] + y) * out[1] + x)
    }

    /// Calls `tap(kernel_index, input_unit, output_unit)` for every product of the convolution
    /// (pixels in the padding have none); a pooled output receives the taps of every position
    /// in its window.
    fn for_each_tap(&self, mut tap: impl FnMut(usize, usize, usize)) {
        let (conv, out, cg) = (self.conv_size(), self.matrix_size(), self.in_per_group());
        let filters_per_group = self.filters / self.groups;
        let [height, width] = [self.input.height, self.input.width];
        let at = |o: usize, k: usize, a: usize, len: usize| {
            (o * self.stride[a] + k * self.dilation[a])
                .checked_sub(self.padding[a])
                .filter(|&i| i < len)
        };
        for f in 0..self.filters {
            let first_channel = (f / filters_per_group) * cg;
            for c in 0..cg {
                let plane = (first_channel + c) * height * width;
                for ky in 0..self.kernel[0] {
                    for kx in 0..self.kernel[1] {
                        let weight = ((f * cg + c) * self.kernel[0] + ky) * self.kernel[1] + kx;
                        for oy in 0..conv[0] {
                            let Some(iy) = at(oy, ky, 0, height) else {
                                continue;
                            };
                            for ox in 0..conv[1] {
                                let (Some(ix), Some(o)) =
                                    (at(ox, kx, 1, width), self.target(f, oy, ox, out))
                                else {
                                    continue;
                                };
                                tap(weight, plane + iy * width + ix, o);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The matrix's structural non-zeros: per input unit, the output units it reaches (the
    /// synaptic operations of one input spike, summed over inputs).
    pub fn taps(&self) -> usize {
        let cols = self.matrix_outputs();
        let mut seen = vec![false; self.inputs() * cols];
        let mut taps = 0;
        self.for_each_tap(|_, i, o| {
            let entry = &mut seen[i * cols + o];
            taps += usize::from(!*entry);
            *entry = true;
        });
        taps
    }

    /// The convolution with `kernel` (length [`Self::kernel_len`]) as a `[inputs,
    /// matrix_outputs]` matrix.
    ///
    /// # Panics
    /// If `kernel` has another length.
    pub fn to_matrix<F: Real>(&self, kernel: &[F]) -> Matrix<F> {
        assert_eq!(kernel.len(), self.kernel_len(), "conv: kernel length");
        let mut dense = Matrix::zeros(self.inputs(), self.matrix_outputs());
        let (cols, scale) = (dense.cols, self.pool_coefficient::<F>());
        self.for_each_tap(|w, i, o| dense.data[i * cols + o] += scale * kernel[w]);
        dense
    }

    /// The gradient of the kernel from the gradient `dense` of [`Self::to_matrix`]'s matrix:
    /// each weight's sum over the entries it is tied to, times the pooling coefficient.
    ///
    /// # Panics
    /// If `dense` is not `[inputs, matrix_outputs]`.
    pub fn kernel_grad<F: Real>(&self, dense: &Matrix<F>) -> Vec<F> {
        assert!(
            dense.rows == self.inputs() && dense.cols == self.matrix_outputs(),
            "conv: gradient shape"
        );
        let mut grad = vec![F::zero(); self.kernel_len()];
        let scale = self.pool_coefficient::<F>();
        self.for_each_tap(|w, i, o| grad[w] += scale * dense.data[i * dense.cols + o]);
        grad
    }

    /// The folded pooling's factor (1 without one).
    pub fn pool_coefficient<F: Real>(&self) -> F {
        self.linear_pool().map_or(F::one(), |p| p.coefficient())
    }

    /// Inputs one output unit sums, counted with repeats: [`Self::fan_in`] times the window of
    /// a pooling. Weight initialisation draws for this many inputs and divides the draws by
    /// [`Self::pool_coefficient`]: over windows of distinct inputs, the neuron's input then has
    /// the mean and variance of an unpooled sum of `pooled_fan_in` inputs. (A max pooling
    /// passes one output of each window: the fan-in is the kernel's.)
    pub fn pooled_fan_in(&self) -> usize {
        self.fan_in() * self.linear_pool().map_or(1, |p| p.size[0] * p.size[1])
    }
}

#[cfg(test)]
mod tests;
