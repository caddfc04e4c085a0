//! NIR's 2-D map nodes — `Conv2d`, `SumPool2d`, `AvgPool2d` — and the dense affine maps they
//! compute on a `channels × height × width` map, flattened row-major with the channel first
//! (NIR's and PyTorch's layout, so the flat index is `(c·H + y)·W + x`).
//!
//! `Conv2d`: `y[f, oy, ox] = b[f] + Σ_c Σ_ky Σ_kx w[f, c, ky, kx] · x[g(f)·C/G + c, oy·s_y +
//! ky·d_y − p_y, ox·s_x + kx·d_x − p_x]`, zero outside the map, `g(f)` the group of filter `f`.
//! `"same"` padding (stride 1) pads `⌊d(K − 1)/2⌋` before and the rest after on each axis, as
//! PyTorch does; `"valid"` pads nothing.
//!
//! `SumPool2d` sums each window of `kernel` positions (zero padding), `AvgPool2d` divides that
//! sum by the window's size, padding included (PyTorch's default `count_include_pad`, which
//! the NIR readers of snnTorch, Norse and nirtorch build).

use super::graph::Array;

/// Dense maps larger than this many entries are refused (a `f64` matrix of 256 MiB).
pub const MAX_DENSE_ENTRIES: usize = 1 << 25;

/// Zero padding of a 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding2d {
    /// The same number of zeros before and after, per axis `(y, x)`.
    Zeros([usize; 2]),
    /// As many as keep the output as large as the input (stride 1).
    Same,
}

/// NIR's `Conv2d` over a map of `input_shape = (height, width)` positions per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    /// The kernel `[filters, in_channels / groups, kernel_y, kernel_x]`.
    pub weight: Array,
    /// The bias `[filters]`.
    pub bias: Array,
    /// Stride `(y, x)`.
    pub stride: [usize; 2],
    /// Padding.
    pub padding: Padding2d,
    /// Dilation `(y, x)`.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: usize,
    /// Positions per input channel `(height, width)`; `None` when the file leaves it out
    /// (import takes it from the shape of what feeds the node, [`Self::with_input`]).
    pub input_shape: Option<[usize; 2]>,
}

/// Whether a pooling node sums its windows or averages them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// `SumPool2d`.
    Sum,
    /// `AvgPool2d`.
    Avg,
}

impl PoolKind {
    /// The NIR type name.
    pub fn type_name(self) -> &'static str {
        match self {
            PoolKind::Sum => "SumPool2d",
            PoolKind::Avg => "AvgPool2d",
        }
    }
}

/// NIR's `SumPool2d` and `AvgPool2d` (the input's shape comes from the node before).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2d {
    /// Sum or average.
    pub kind: PoolKind,
    /// Window `(y, x)`.
    pub kernel: [usize; 2],
    /// Stride `(y, x)`.
    pub stride: [usize; 2],
    /// Zero padding `(y, x)` on both ends.
    pub padding: [usize; 2],
}

/// One axis of a sliding window.
#[derive(Clone, Copy, Debug)]
struct Axis {
    length: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    before: usize,
    after: usize,
}

impl Axis {
    /// Output positions; an error when a size is zero or the window does not fit.
    fn out_length(&self, what: &str) -> Result<usize, String> {
        for (name, v) in [
            ("length", self.length),
            ("kernel", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if v == 0 {
                return Err(format!("{what}: {name} must be at least 1"));
            }
        }
        let span = (self.kernel - 1)
            .checked_mul(self.dilation)
            .and_then(|s| s.checked_add(1));
        let padded = self
            .length
            .checked_add(self.before)
            .and_then(|l| l.checked_add(self.after));
        match (span, padded) {
            (Some(span), Some(padded)) if span <= padded => Ok((padded - span) / self.stride + 1),
            _ => Err(format!(
                "{what}: the window (kernel {}, dilation {}) does not fit the {} positions \
                 padded by {} and {}",
                self.kernel, self.dilation, self.length, self.before, self.after
            )),
        }
    }

    /// The input position tap `k` of output `o` reads, `None` in the padding.
    fn input_at(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.before)
            .filter(|&i| i < self.length)
    }
}

/// The two axes of a window over `(height, width)`.
struct Window {
    axes: [Axis; 2],
    out: [usize; 2],
}

impl Window {
    fn new(axes: [Axis; 2]) -> Result<Self, String> {
        let out = [axes[0].out_length("y")?, axes[1].out_length("x")?];
        Ok(Self { axes, out })
    }

    /// Calls `tap(ky, kx, input_position, output_position)` for every tap inside the map
    /// (positions flat within one channel).
    fn for_each_tap(&self, mut tap: impl FnMut(usize, usize, usize, usize)) {
        let [ay, ax] = &self.axes;
        let [oh, ow] = self.out;
        for ky in 0..ay.kernel {
            for kx in 0..ax.kernel {
                for oy in 0..oh {
                    let Some(iy) = ay.input_at(oy, ky) else {
                        continue;
                    };
                    for ox in 0..ow {
                        if let Some(ix) = ax.input_at(ox, kx) {
                            tap(ky, kx, iy * ax.length + ix, oy * ow + ox);
                        }
                    }
                }
            }
        }
    }
}

/// A dense map `y = W x + b` with the shape of its output.
#[derive(Debug)]
pub struct DenseMap {
    /// `[outputs, inputs]`, NIR's layout.
    pub weight: Array,
    /// `[outputs]`.
    pub bias: Vec<f64>,
    /// The output's shape `[channels, height, width]`.
    pub shape: Vec<usize>,
}

/// The entries of a dense `[outputs, inputs]` map; an error when more than
/// [`MAX_DENSE_ENTRIES`].
pub fn dense_entries(outputs: usize, inputs: usize) -> Result<usize, String> {
    match outputs.checked_mul(inputs) {
        Some(n) if n <= MAX_DENSE_ENTRIES => Ok(n),
        _ => Err(format!(
            "its dense matrix would have {outputs} × {inputs} entries (at most \
             {MAX_DENSE_ENTRIES} are imported)"
        )),
    }
}

/// An all-zero `[outputs, inputs]` matrix ([`dense_entries`] of them).
fn zeros(outputs: usize, inputs: usize) -> Result<Vec<f64>, String> {
    Ok(vec![0.0; dense_entries(outputs, inputs)?])
}

impl Conv2d {
    /// The kernel's `[filters, in_per_group, kernel_y, kernel_x]`; the error says what is
    /// wrong with the node.
    fn dims(&self) -> Result<[usize; 4], String> {
        let [f, c, ky, kx] = self.weight.shape[..] else {
            return Err(format!(
                "weight has shape {:?}, expected [filters, in_channels / groups, kernel_y, \
                 kernel_x]",
                self.weight.shape
            ));
        };
        if self.bias.shape != [f] {
            return Err(format!(
                "bias has shape {:?}, the weight needs [{f}]",
                self.bias.shape
            ));
        }
        if self.groups == 0 || f % self.groups != 0 {
            return Err(format!(
                "groups = {} must divide the {f} filters",
                self.groups
            ));
        }
        Ok([f, c, ky, kx])
    }

    /// This node with its input's height and width from the shape of what feeds it
    /// (`[channels, height, width]`, or `[height, width]` for one channel), checked against
    /// a given `input_shape`.
    pub fn with_input(&self, shape: &[usize]) -> Result<Self, String> {
        let in_channels = self.in_channels()?;
        let hw = match shape[..] {
            [c, h, w] if c == in_channels => [h, w],
            [h, w] if in_channels == 1 => [h, w],
            _ => {
                return Err(format!(
                    "its input has shape {shape:?}, not a map of {in_channels} channels"
                ))
            }
        };
        if self.input_shape.is_some_and(|s| s != hw) {
            return Err(format!(
                "input_shape says {:?} but its input is {hw:?}",
                self.input_shape
            ));
        }
        Ok(Self {
            input_shape: Some(hw),
            ..self.clone()
        })
    }

    /// `(height, width)` of the input.
    fn input_hw(&self) -> Result<[usize; 2], String> {
        self.input_shape
            .ok_or_else(|| "input_shape is missing and the input's map is unknown".into())
    }

    fn window(&self, kernel: [usize; 2]) -> Result<Window, String> {
        let input = self.input_hw()?;
        let axis = |a: usize| {
            let (before, after) = match self.padding {
                Padding2d::Zeros(p) => (p[a], p[a]),
                Padding2d::Same => {
                    let total = (kernel[a].max(1) - 1) * self.dilation[a];
                    (total / 2, total - total / 2)
                }
            };
            Axis {
                length: input[a],
                kernel: kernel[a],
                stride: self.stride[a],
                dilation: self.dilation[a],
                before,
                after,
            }
        };
        let window = Window::new([axis(0), axis(1)])?;
        if self.padding == Padding2d::Same && window.out != input {
            return Err("padding \"same\" needs stride 1".into());
        }
        Ok(window)
    }

    /// Input channels `in_per_group · groups`.
    pub fn in_channels(&self) -> Result<usize, String> {
        let [_, c, _, _] = self.dims()?;
        c.checked_mul(self.groups)
            .ok_or_else(|| "in_channels overflows".into())
    }

    /// Checks the node's shapes.
    pub fn validate(&self) -> Result<(), String> {
        let [_, _, ky, kx] = self.dims()?;
        self.in_channels()?;
        self.window([ky, kx]).map(|_| ())
    }

    /// The dense map over `in_channels × height × width` inputs.
    pub fn dense(&self) -> Result<DenseMap, String> {
        let [filters, per_group, ky, kx] = self.dims()?;
        let window = self.window([ky, kx])?;
        let plane_in = window.axes[0].length * window.axes[1].length;
        let plane_out = window.out[0] * window.out[1];
        let inputs = self.in_channels()? * plane_in;
        let outputs = filters * plane_out;
        let mut w = zeros(outputs, inputs)?;
        let filters_per_group = filters / self.groups;
        for f in 0..filters {
            let first = (f / filters_per_group) * per_group;
            for c in 0..per_group {
                let kernel = &self.weight.data[(f * per_group + c) * ky * kx..][..ky * kx];
                let (row0, col0) = (f * plane_out, (first + c) * plane_in);
                window.for_each_tap(|y, x, i, o| {
                    w[(row0 + o) * inputs + col0 + i] += kernel[y * kx + x];
                });
            }
        }
        let bias = self
            .bias
            .data
            .iter()
            .flat_map(|&b| std::iter::repeat_n(b, plane_out))
            .collect();
        Ok(DenseMap {
            weight: Array::matrix(outputs, inputs, w),
            bias,
            shape: vec![filters, window.out[0], window.out[1]],
        })
    }
}

impl Pool2d {
    /// The dense map over a map of `shape` (`[channels, height, width]`, or `[height,
    /// width]` for one channel).
    pub fn dense(&self, shape: &[usize]) -> Result<DenseMap, String> {
        let (channels, h, w) = match shape[..] {
            [c, h, w] => (c, h, w),
            [h, w] => (1, h, w),
            _ => {
                return Err(format!(
                    "its input has shape {shape:?}; pooling needs [channels, height, width]"
                ))
            }
        };
        let axis = |a: usize, length: usize| Axis {
            length,
            kernel: self.kernel[a],
            stride: self.stride[a],
            dilation: 1,
            before: self.padding[a],
            after: self.padding[a],
        };
        let window = Window::new([axis(0, h), axis(1, w)])?;
        let (plane_in, plane_out) = (h * w, window.out[0] * window.out[1]);
        let (inputs, outputs) = (channels * plane_in, channels * plane_out);
        let value = match self.kind {
            PoolKind::Sum => 1.0,
            PoolKind::Avg => 1.0 / (self.kernel[0] * self.kernel[1]) as f64,
        };
        let mut m = zeros(outputs, inputs)?;
        for c in 0..channels {
            window.for_each_tap(|_, _, i, o| {
                m[(c * plane_out + o) * inputs + c * plane_in + i] += value;
            });
        }
        let mut out_shape = vec![channels, window.out[0], window.out[1]];
        if shape.len() == 2 {
            out_shape.remove(0);
        }
        Ok(DenseMap {
            weight: Array::matrix(outputs, inputs, m),
            bias: vec![0.0; outputs],
            shape: out_shape,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(weight: Array, padding: Padding2d, stride: usize, groups: usize) -> Conv2d {
        let filters = weight.shape[0];
        Conv2d {
            weight,
            bias: Array::vector((0..filters).map(|f| f as f64 * 0.5).collect()),
            stride: [stride; 2],
            padding,
            dilation: [1, 2],
            groups,
            input_shape: Some([5, 6]),
        }
    }

    fn kernel(shape: [usize; 4]) -> Array {
        let n = shape.iter().product::<usize>();
        Array {
            shape: shape.to_vec(),
            data: (0..n).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.1).collect(),
        }
    }

    /// The convolution by its definition, output `(f, oy, ox)`.
    fn direct(c: &Conv2d, x: &[f64], before: [usize; 2], out: [usize; 2]) -> Vec<f64> {
        let [f_n, per, ky_n, kx_n] = c.weight.shape[..] else {
            unreachable!()
        };
        let [h, w] = c.input_shape.unwrap();
        let mut y = Vec::new();
        for f in 0..f_n {
            let group = f / (f_n / c.groups);
            for oy in 0..out[0] {
                for ox in 0..out[1] {
                    let mut s = c.bias.data[f];
                    for ci in 0..per {
                        for ky in 0..ky_n {
                            for kx in 0..kx_n {
                                let iy = (oy * c.stride[0] + ky * c.dilation[0]) as isize
                                    - before[0] as isize;
                                let ix = (ox * c.stride[1] + kx * c.dilation[1]) as isize
                                    - before[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let ch = group * per + ci;
                                let xi = (ch * h + iy as usize) * w + ix as usize;
                                let wi = ((f * per + ci) * ky_n + ky) * kx_n + kx;
                                s += c.weight.data[wi] * x[xi];
                            }
                        }
                    }
                    y.push(s);
                }
            }
        }
        y
    }

    fn apply(m: &DenseMap, x: &[f64]) -> Vec<f64> {
        let inputs = m.weight.shape[1];
        (0..m.weight.shape[0])
            .map(|r| {
                m.bias[r]
                    + (0..inputs)
                        .map(|i| m.weight.data[r * inputs + i] * x[i])
                        .sum::<f64>()
            })
            .collect()
    }

    fn input(n: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 5 % 13) as f64) * 0.25 - 1.0).collect()
    }

    #[test]
    fn conv2d_dense_map_is_the_definition() {
        // 4 input channels in 2 groups, 6 filters, 3 × 2 kernel, dilation (1, 2).
        for (padding, stride, before, out) in [
            (Padding2d::Zeros([1, 2]), 2, [1, 2], [3, 4]),
            (Padding2d::Zeros([0, 0]), 1, [0, 0], [3, 4]),
            (Padding2d::Same, 1, [1, 1], [5, 6]),
        ] {
            let c = conv(kernel([6, 2, 3, 2]), padding, stride, 2);
            let m = c.dense().unwrap();
            assert_eq!(m.shape, vec![6, out[0], out[1]], "{padding:?}");
            let x = input(4 * 5 * 6);
            let want = direct(&c, &x, before, out);
            let got = apply(&m, &x);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{padding:?}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn conv2d_refuses_what_does_not_fit() {
        let mut c = conv(kernel([6, 2, 3, 2]), Padding2d::Same, 2, 2);
        assert!(c.validate().unwrap_err().contains("stride 1"));
        c.stride = [1, 1];
        c.groups = 4;
        assert!(c.validate().unwrap_err().contains("groups"));
        c.groups = 2;
        c.input_shape = Some([1, 6]);
        c.padding = Padding2d::Zeros([0, 0]);
        assert!(c.validate().unwrap_err().contains("does not fit"));
        c.weight.shape = vec![6, 2, 6];
        assert!(c.validate().unwrap_err().contains("expected [filters"));
        let huge = Conv2d {
            input_shape: Some([4096, 4096]),
            ..conv(kernel([6, 2, 3, 2]), Padding2d::Same, 1, 2)
        };
        assert!(huge.dense().unwrap_err().contains("at most"));
    }

    #[test]
    fn pooling_sums_or_averages_each_window() {
        let x = input(2 * 4 * 5);
        for kind in [PoolKind::Sum, PoolKind::Avg] {
            let p = Pool2d {
                kind,
                kernel: [2, 2],
                stride: [2, 2],
                padding: [0, 1],
            };
            let m = p.dense(&[2, 4, 5]).unwrap();
            assert_eq!(m.shape, vec![2, 2, 3]);
            let y = apply(&m, &x);
            let at = |c: usize, iy: isize, ix: isize| {
                if !(0..5).contains(&ix) {
                    0.0
                } else {
                    x[(c * 4 + iy as usize) * 5 + ix as usize]
                }
            };
            for c in 0..2 {
                for oy in 0..2 {
                    for ox in 0..3 {
                        let (iy, ix) = (2 * oy as isize, 2 * ox as isize - 1);
                        let sum = at(c, iy, ix)
                            + at(c, iy, ix + 1)
                            + at(c, iy + 1, ix)
                            + at(c, iy + 1, ix + 1);
                        let want = if kind == PoolKind::Sum {
                            sum
                        } else {
                            sum / 4.0
                        };
                        let got = y[(c * 2 + oy) * 3 + ox];
                        assert!((got - want).abs() < 1e-12, "{kind:?} {c} {oy} {ox}");
                    }
                }
            }
        }
        let p = Pool2d {
            kind: PoolKind::Sum,
            kernel: [2, 2],
            stride: [1, 1],
            padding: [0, 0],
        };
        assert_eq!(p.dense(&[3, 3]).unwrap().shape, vec![2, 2]);
        assert!(p.dense(&[12]).unwrap_err().contains("needs [channels"));
    }
}
