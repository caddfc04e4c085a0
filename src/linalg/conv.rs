//! Convolution and pooling of feature maps, for convolutional layers of any model family.
//!
//! Maps are stored sample-major and channel-major, `[B, C, H, W]` row-major (PyTorch's NCHW).
//! A 2-D convolution's weights are `[C_out, C_in / groups, K_h, K_w]`; output channel `o`
//! belongs to group `o / (C_out / groups)` and sees that group's input channels. The product
//! is im2col + `gemm`: per sample and group, the receptive fields as columns
//! `[C_in/groups · K_h · K_w, H_out · W_out]`, multiplied by the group's weights. A 1-D
//! convolution is the 2-D one on maps of height 1 ([`Conv2d::one_d`]).
//!
//! Backward: `∂L/∂W_g += ∂L/∂Y_g · colsᵀ`, `∂L/∂b_o = Σ ∂L/∂Y_o`, and `∂L/∂X` scatters
//! `W_gᵀ · ∂L/∂Y_g` back from the columns (col2im). Samples run in parallel; the weight
//! gradient is summed over a fixed number of sample chunks in order, so it does not depend on
//! the thread count. The tests check every adjoint against finite differences in f64.

use super::gemm_serial;
use crate::error::ConfigError;
use crate::real::Real;
use rayon::prelude::*;

/// Chunks of samples whose weight-gradient partials are summed in order (a constant, so
/// results do not depend on the number of threads).
const GRAD_CHUNKS: usize = 8;

/// The geometry of a 2-D convolution (checked by [`Conv2d::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[K_h, K_w]`.
    pub kernel: [usize; 2],
    /// Stride `[S_h, S_w]`.
    pub stride: [usize; 2],
    /// Zero padding on each side `[P_h, P_w]`.
    pub padding: [usize; 2],
    /// Dilation `[D_h, D_w]`.
    pub dilation: [usize; 2],
    /// Groups (both channel counts are multiples of it).
    pub groups: usize,
}

impl Conv2d {
    /// A checked geometry; errors name `field` (the layer in a config).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        field: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Self, ConfigError> {
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(ConfigError::new(
                    format!("{field}.{name}"),
                    "must be at least 1",
                ))
            } else {
                Ok(())
            }
        };
        positive("in_channels", in_channels)?;
        positive("channels", out_channels)?;
        positive("groups", groups)?;
        for i in 0..2 {
            positive("kernel", kernel[i])?;
            positive("stride", stride[i])?;
            positive("dilation", dilation[i])?;
        }
        if !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
            return Err(ConfigError::new(
                format!("{field}.groups"),
                format!(
                    "{groups} groups must divide both the {in_channels} input and the \
                     {out_channels} output channels"
                ),
            ));
        }
        Ok(Self {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            dilation,
            groups,
        })
    }

    /// A 1-D convolution over maps `[B, C, 1, L]` (kernel `k`, stride, padding, dilation along
    /// the length).
    #[allow(clippy::too_many_arguments)]
    pub fn one_d(
        field: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Self, ConfigError> {
        Self::new(
            field,
            in_channels,
            out_channels,
            [1, kernel],
            [1, stride],
            [0, padding],
            [1, dilation],
            groups,
        )
    }

    /// Weights per output channel: `C_in / groups · K_h · K_w` (the fan-in).
    pub fn fan_in(&self) -> usize {
        self.in_channels / self.groups * self.kernel[0] * self.kernel[1]
    }

    /// Number of weights, `C_out · fan_in`.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.fan_in()
    }

    /// The output size `[H_out, W_out]` of an `[H, W]` input, or an error naming `field` where
    /// the (padded) input is smaller than the dilated kernel.
    pub fn output_size(&self, field: &str, input: [usize; 2]) -> Result<[usize; 2], ConfigError> {
        let mut out = [0; 2];
        for i in 0..2 {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            let padded = input[i] + 2 * self.padding[i];
            if padded < span {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "input {}×{} (padded by {:?}) is smaller than the dilated kernel \
                         {:?} (dilation {:?})",
                        input[0], input[1], self.padding, self.kernel, self.dilation
                    ),
                ));
            }
            out[i] = (padded - span) / self.stride[i] + 1;
        }
        Ok(out)
    }

    /// The padding that keeps the size at stride 1 ("same"), for odd dilated kernels.
    pub fn same_padding(kernel: [usize; 2], dilation: [usize; 2]) -> [usize; 2] {
        [
            dilation[0] * (kernel[0].saturating_sub(1)) / 2,
            dilation[1] * (kernel[1].saturating_sub(1)) / 2,
        ]
    }
}

/// `[C, H, W]` of one map tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapShape {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl MapShape {
    /// `n` units as one channel of one row (a flat layer).
    pub fn flat(n: usize) -> Self {
        Self {
            channels: 1,
            height: 1,
            width: n,
        }
    }

    /// Units of the map, `channels · height · width` (the same as [`Self::len`]).
    pub fn units(&self) -> usize {
        self.len()
    }

    /// Values per sample.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether a sample has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per channel.
    pub fn plane(&self) -> usize {
        self.height * self.width
    }
}

/// The receptive fields of one sample `x` `[C, H, W]` as columns `cols`
/// `[C · K_h · K_w, H_out · W_out]` (zeros where the kernel reaches into the padding).
fn im2col<F: Real>(conv: &Conv2d, x: &[F], input: MapShape, out: [usize; 2], cols: &mut [F]) {
    let [kh, kw] = conv.kernel;
    let p = out[0] * out[1];
    for c in 0..input.channels {
        let plane = &x[c * input.plane()..(c + 1) * input.plane()];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = &mut cols[((c * kh + ki) * kw + kj) * p..][..p];
                for oy in 0..out[0] {
                    let iy = (oy * conv.stride[0] + ki * conv.dilation[0]) as isize
                        - conv.padding[0] as isize;
                    for ox in 0..out[1] {
                        let ix = (ox * conv.stride[1] + kj * conv.dilation[1]) as isize
                            - conv.padding[1] as isize;
                        row[oy * out[1] + ox] = if iy >= 0
                            && (iy as usize) < input.height
                            && ix >= 0
                            && (ix as usize) < input.width
                        {
                            plane[iy as usize * input.width + ix as usize]
                        } else {
                            F::zero()
                        };
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column entry back onto the input pixel it came from.
fn col2im<F: Real>(conv: &Conv2d, cols: &[F], input: MapShape, out: [usize; 2], dx: &mut [F]) {
    let [kh, kw] = conv.kernel;
    let p = out[0] * out[1];
    for c in 0..input.channels {
        let plane = &mut dx[c * input.plane()..(c + 1) * input.plane()];
        for ki in 0..kh {
            for kj in 0..kw {
                let row = &cols[((c * kh + ki) * kw + kj) * p..][..p];
                for oy in 0..out[0] {
                    let iy = (oy * conv.stride[0] + ki * conv.dilation[0]) as isize
                        - conv.padding[0] as isize;
                    if iy < 0 || iy as usize >= input.height {
                        continue;
                    }
                    for ox in 0..out[1] {
                        let ix = (ox * conv.stride[1] + kj * conv.dilation[1]) as isize
                            - conv.padding[1] as isize;
                        if ix >= 0 && (ix as usize) < input.width {
                            plane[iy as usize * input.width + ix as usize] += row[oy * out[1] + ox];
                        }
                    }
                }
            }
        }
    }
}

/// The forward pass `y = conv(x, w) + b` of a batch `x` `[B, C_in, H, W]` (shape `input`),
/// `w` `[C_out, C_in/groups, K_h, K_w]`; returns `y` `[B, C_out, H_out, W_out]` and its shape.
///
/// Shapes must agree ([`Conv2d::output_size`] checks user input beforehand); a mismatch is a
/// programming error and panics.
pub fn conv2d_forward<F: Real>(
    conv: &Conv2d,
    x: &[F],
    input: MapShape,
    w: &[F],
    b: Option<&[F]>,
) -> (Vec<F>, MapShape) {
    assert_eq!(input.channels, conv.in_channels, "conv: input channels");
    if let Some(b) = b {
        assert_eq!(b.len(), conv.out_channels, "conv: bias length");
    }
    assert_eq!(w.len(), conv.weight_len(), "conv: weight length");
    let out = conv
        .output_size("conv", [input.height, input.width])
        .expect("the input size was checked");
    let shape = MapShape {
        channels: conv.out_channels,
        height: out[0],
        width: out[1],
    };
    assert_eq!(x.len() % input.len().max(1), 0, "conv: input length");
    let batch = x.len() / input.len().max(1);
    let mut y = vec![F::zero(); batch * shape.len()];
    let (k, p) = (conv.fan_in(), shape.plane());
    let (cin_g, cout_g) = (
        conv.in_channels / conv.groups,
        conv.out_channels / conv.groups,
    );
    let group_input = MapShape {
        channels: cin_g,
        ..input
    };
    y.par_chunks_mut(shape.len().max(1))
        .zip(x.par_chunks(input.len().max(1)))
        .for_each_init(
            || vec![F::zero(); k * p],
            |cols, (ys, xs)| {
                for g in 0..conv.groups {
                    let xg = &xs[g * cin_g * input.plane()..][..cin_g * input.plane()];
                    im2col(conv, xg, group_input, out, cols);
                    let yg = &mut ys[g * cout_g * p..][..cout_g * p];
                    if let Some(b) = b {
                        for (o, row) in yg.chunks_exact_mut(p).enumerate() {
                            row.fill(b[g * cout_g + o]);
                        }
                    }
                    let wg = &w[g * cout_g * k..][..cout_g * k];
                    gemm_serial(cout_g, p, k, wg, false, cols, false, yg, b.is_some());
                }
            },
        );
    (y, shape)
}

/// The gradients of a convolution given `∂L/∂y` `gy` `[B, C_out, H_out, W_out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGrads<F> {
    /// `∂L/∂x` `[B, C_in, H, W]` (empty when not asked for).
    pub dx: Vec<F>,
    /// `∂L/∂w`, the weights' shape.
    pub dw: Vec<F>,
    /// `∂L/∂b` `[C_out]`.
    pub db: Vec<F>,
}

/// The backward pass of [`conv2d_forward`]: `∂L/∂w`, `∂L/∂b` and (with `want_dx`) `∂L/∂x`.
pub fn conv2d_backward<F: Real>(
    conv: &Conv2d,
    x: &[F],
    input: MapShape,
    w: &[F],
    gy: &[F],
    want_dx: bool,
) -> ConvGrads<F> {
    assert_eq!(w.len(), conv.weight_len(), "conv: weight length");
    let out = conv
        .output_size("conv", [input.height, input.width])
        .expect("the input size was checked");
    let p = out[0] * out[1];
    let batch = x.len() / input.len().max(1);
    assert_eq!(
        gy.len(),
        batch * conv.out_channels * p,
        "conv: gradient length"
    );
    let k = conv.fan_in();
    let (cin_g, cout_g) = (
        conv.in_channels / conv.groups,
        conv.out_channels / conv.groups,
    );
    let group_input = MapShape {
        channels: cin_g,
        ..input
    };
    let y_len = conv.out_channels * p;
    let per_chunk = batch.div_ceil(GRAD_CHUNKS).max(1);
    // Allocated in full even when not asked for, so that every chunk has its slice.
    let mut dx = vec![F::zero(); x.len()];
    // Each chunk of samples: its partial dw and db, and its samples' dx.
    let partials: Vec<(Vec<F>, Vec<F>)> = x
        .par_chunks(per_chunk * input.len().max(1))
        .zip(gy.par_chunks(per_chunk * y_len.max(1)))
        .zip(dx.par_chunks_mut(per_chunk * input.len().max(1)))
        .map(|((xc, gc), dxc)| {
            let mut dw = vec![F::zero(); w.len()];
            let mut db = vec![F::zero(); conv.out_channels];
            let mut cols = vec![F::zero(); k * p];
            let mut dcols = vec![F::zero(); k * p];
            let samples = xc.len() / input.len().max(1);
            for s in 0..samples {
                let xs = &xc[s * input.len()..][..input.len()];
                let gs = &gc[s * y_len..][..y_len];
                for (o, row) in gs.chunks_exact(p.max(1)).enumerate() {
                    db[o] += row.iter().fold(F::zero(), |a, &v| a + v);
                }
                for g in 0..conv.groups {
                    let xg = &xs[g * cin_g * input.plane()..][..cin_g * input.plane()];
                    im2col(conv, xg, group_input, out, &mut cols);
                    let gg = &gs[g * cout_g * p..][..cout_g * p];
                    let dwg = &mut dw[g * cout_g * k..][..cout_g * k];
                    // dW_g [cout_g, k] += gy_g [cout_g, p] · colsᵀ [p, k].
                    gemm_serial(cout_g, k, p, gg, false, &cols, true, dwg, true);
                    if want_dx {
                        let wg = &w[g * cout_g * k..][..cout_g * k];
                        // dcols [k, p] = W_gᵀ [k, cout_g] · gy_g [cout_g, p].
                        gemm_serial(k, p, cout_g, wg, true, gg, false, &mut dcols, false);
                        let dxs = &mut dxc[s * input.len()..][..input.len()];
                        let dxg = &mut dxs[g * cin_g * input.plane()..][..cin_g * input.plane()];
                        col2im(conv, &dcols, group_input, out, dxg);
                    }
                }
            }
            (dw, db)
        })
        .collect();
    let mut dw = vec![F::zero(); w.len()];
    let mut db = vec![F::zero(); conv.out_channels];
    for (pw, pb) in &partials {
        dw.iter_mut().zip(pw).for_each(|(a, &v)| *a += v);
        db.iter_mut().zip(pb).for_each(|(a, &v)| *a += v);
    }
    if !want_dx {
        dx = Vec::new();
    }
    ConvGrads { dx, dw, db }
}

/// Max pooling with windows `[size_h, size_w]` and stride the window (the last rows and
/// columns that do not fill a window are dropped, as PyTorch's `MaxPool2d`); returns the
/// pooled maps, their shape and, for the backward pass, the index within the sample of every
/// output's maximum (the first one in row-major order on ties).
pub fn max_pool2d<F: Real>(
    x: &[F],
    input: MapShape,
    [size_h, size_w]: [usize; 2],
) -> (Vec<F>, MapShape, Vec<u32>) {
    assert!(size_h >= 1 && size_w >= 1, "max_pool2d: size 0");
    let shape = MapShape {
        channels: input.channels,
        height: input.height / size_h,
        width: input.width / size_w,
    };
    let batch = x.len() / input.len().max(1);
    let mut y = vec![F::zero(); batch * shape.len()];
    let mut arg = vec![0u32; batch * shape.len()];
    for s in 0..batch {
        let xs = &x[s * input.len()..][..input.len()];
        for c in 0..input.channels {
            for oy in 0..shape.height {
                for ox in 0..shape.width {
                    let corner = c * input.plane() + oy * size_h * input.width + ox * size_w;
                    let mut best = corner;
                    for dy in 0..size_h {
                        for dx in 0..size_w {
                            let i = corner + dy * input.width + dx;
                            if xs[i] > xs[best] {
                                best = i;
                            }
                        }
                    }
                    let o = s * shape.len() + c * shape.plane() + oy * shape.width + ox;
                    y[o] = xs[best];
                    arg[o] = best as u32;
                }
            }
        }
    }
    (y, shape, arg)
}

/// The adjoint of [`max_pool2d`] for `batch` samples: every output's gradient goes to its
/// maximum.
pub fn max_pool2d_backward<F: Real>(
    gy: &[F],
    arg: &[u32],
    input: MapShape,
    batch: usize,
) -> Vec<F> {
    assert_eq!(gy.len(), arg.len(), "max_pool2d_backward: gradient length");
    let mut dx = vec![F::zero(); batch * input.len()];
    if batch == 0 {
        return dx;
    }
    let per = arg.len() / batch;
    for (s, dxs) in dx.chunks_exact_mut(input.len().max(1)).enumerate() {
        for (&g, &i) in gy[s * per..][..per].iter().zip(&arg[s * per..][..per]) {
            dxs[i as usize] += g;
        }
    }
    dx
}

/// The global pooling of every channel of every sample to one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalPool {
    /// The mean over the plane.
    #[default]
    Avg,
    /// The maximum over the plane (the gradient goes to the first maximum).
    Max,
}

/// Global pooling of `x` `[B, C, H, W]` to `[B, C]`; with [`GlobalPool::Max`] also the index of
/// every maximum within its sample.
pub fn global_pool<F: Real>(x: &[F], input: MapShape, kind: GlobalPool) -> (Vec<F>, Vec<u32>) {
    let plane = input.plane().max(1);
    let mut y = Vec::with_capacity(x.len() / plane);
    let mut arg = Vec::new();
    for (i, row) in x.chunks_exact(plane).enumerate() {
        match kind {
            GlobalPool::Avg => {
                y.push(row.iter().fold(F::zero(), |a, &v| a + v) / F::from_f64(plane as f64));
            }
            GlobalPool::Max => {
                let best = (0..plane).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                y.push(row[best]);
                arg.push(((i % input.channels.max(1)) * plane + best) as u32);
            }
        }
    }
    (y, arg)
}

/// The adjoint of [`global_pool`] given `∂L/∂y` `[B, C]`.
pub fn global_pool_backward<F: Real>(
    gy: &[F],
    arg: &[u32],
    input: MapShape,
    kind: GlobalPool,
) -> Vec<F> {
    let plane = input.plane().max(1);
    let mut dx = vec![F::zero(); gy.len() * plane];
    for (i, (&g, row)) in gy.iter().zip(dx.chunks_exact_mut(plane)).enumerate() {
        match kind {
            GlobalPool::Avg => row.fill(g / F::from_f64(plane as f64)),
            GlobalPool::Max => row[arg[i] as usize % plane] = g,
        }
    }
    dx
}

#[cfg(test)]
mod tests;
