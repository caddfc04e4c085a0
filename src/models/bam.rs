//! Binary activation maps (BAM): a time-free (T = 1) convolutional network whose hidden
//! feature maps are Heaviside steps (Nilsson, Miccini, Laroche, Piechowiak & Zenke,
//! Interspeech 2024), or float (ReLU) maps for the baseline.
//!
//! Block `k`: `z_k = conv_k(x_k) + b_k` (any [`Conv2d`] geometry), optionally normalized per
//! channel ([`ChannelNorm`], batch-norm-like: by the batch's statistics in training passes, by
//! running estimates at inference), `a_k = φ(z_k)`, then an optional 2×2 max pooling and, in
//! training passes, optional dropout (every block but the last, as the reference code);
//! after the last block a global max or average pooling gives one feature per channel, and a
//! dense head (ReLU hidden layers, an affine output) the outputs.
//! With [`ConvActivation::Heaviside`], `φ(z) = Θ(z)` (1 for `z > 0`, else 0) forward and the
//! SuperSpike surrogate `φ'(z) = 1/(β|z| + 1)²` backward (a surrogate-gradient estimator, not
//! the identity straight-through one).
//!
//! Optional binary conv weights: `w_b = √(2/fan_in) · 2(Θ(w) − ½)` (`±√(2/fan_in)`, `+` at 0)
//! with the same surrogate, `∂w_b/∂w = 2√(2/fan_in)/(β|w| + 1)²`. Optional int8
//! quantization-aware training of every non-binary weight tensor (biases stay float): the
//! forward pass uses each tensor quantized per tensor ([`crate::quant::QuantizedTensor`]) or
//! per output channel ([`crate::quant::PerChannelTensor`], [`BamSpec::per_channel`]) and
//! dequantized, and the gradient passes straight through to the float master weights.
//!
//! `relaxed` replaces every Heaviside step (activations and binary weights) by its smooth
//! relaxation `z/(1 + β|z|)`, whose derivative is exactly the surrogate: the backward pass is
//! then the true gradient, which the tests check against finite differences in f64.
//!
//! Maps are `[B, C, H, W]` ([`crate::linalg::conv`]); the output is a one-step sequence
//! `[1, B, outputs]`.

use super::mlp::DenseLayer;
use super::Activation;
use crate::error::{check_count, check_positive, ConfigError};
use crate::linalg::conv::{
    conv2d_backward, conv2d_forward, global_pool, global_pool_backward, max_pool2d,
    max_pool2d_backward, Conv2d, GlobalPool, MapShape,
};
use crate::linalg::{dense_forward, dense_grad_weight, grad_input};
use crate::network::{Gradients, NamedTensor};
use crate::quant::{PerChannelTensor, QuantizedTensor};
use crate::real::Real;
use crate::surrogates::Surrogate;
use crate::tensor::{Matrix, Seq};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// The non-linearity of the conv blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvActivation {
    /// Binary maps: Heaviside forward, SuperSpike surrogate backward.
    #[default]
    Heaviside,
    /// Float maps, `max(z, 0)` (the baseline).
    Relu,
}

/// One conv block: a convolution, the activation, an optional 2×2 max pooling.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvBlockSpec {
    /// Output channels.
    pub channels: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side; `None`: 'same' (`dilation · (kernel − 1) / 2`).
    pub padding: Option<usize>,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
    /// Whether a 2×2 max pooling (stride 2) follows the activation.
    pub max_pool: bool,
}

impl Default for ConvBlockSpec {
    fn default() -> Self {
        Self {
            channels: 32,
            kernel: 3,
            stride: 1,
            padding: None,
            dilation: 1,
            groups: 1,
            max_pool: true,
        }
    }
}

/// The architecture of a BAM network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BamSpec {
    /// Input maps `[C, H, W]`.
    pub input: [usize; 3],
    /// Conv blocks, input side first.
    pub blocks: Vec<ConvBlockSpec>,
    /// The blocks' activation.
    pub activation: ConvActivation,
    /// The surrogate's steepness β (default 1).
    pub beta: f64,
    /// The pooling after the last block.
    pub global_pool: GlobalPool,
    /// Hidden ReLU layers of the dense head.
    pub head: Vec<usize>,
    /// Outputs.
    pub outputs: usize,
    /// Whether every layer has a bias.
    pub bias: bool,
    /// Binary conv weights.
    pub binary_weights: bool,
    /// Int8 quantization-aware training of every non-binary weight tensor.
    pub quantize: bool,
    /// With [`Self::quantize`]: one int8 scale per output channel (a conv's filter, a dense
    /// layer's output unit, [`crate::quant::PerChannelTensor`]) rather than one per tensor.
    pub per_channel: bool,
    /// Smooth relaxation of every Heaviside step (gradient checks).
    pub relaxed: bool,
    /// Whether the 2×2 max pooling picks each window's largest pre-activation `z` rather
    /// than the first largest map value. The maps are the same (`φ` is non-decreasing, so
    /// `max φ(z) = φ(max z)`); for binary maps, whose windows tie, the surrogate gradient then
    /// goes to the unit nearest to (or furthest above) the threshold instead of the first
    /// one of the window (PyTorch's tie-break on the maps, as the reference code).
    pub pool_pre_activations: bool,
    /// Per-channel normalization of every block's pre-activations before `φ`
    /// ([`ChannelNorm`]).
    pub norm: bool,
    /// Dropout probability on every block's (pooled) maps but the last's, in training passes
    /// ([`Bam::forward_train`]) only; 0: none.
    pub dropout: f64,
}

impl Default for BamSpec {
    fn default() -> Self {
        Self::nilsson([1, 28, 28], 10)
    }
}

impl BamSpec {
    /// Nilsson et al.'s network: four blocks of 32/32/32/64 channels, 3×3 'same' convs,
    /// Heaviside maps, 2×2 max pooling after the first three and global pooling after the
    /// last, a dense head 64-64-`outputs` with ReLU.
    pub fn nilsson(input: [usize; 3], outputs: usize) -> Self {
        let block = |channels, max_pool| ConvBlockSpec {
            channels,
            max_pool,
            ..ConvBlockSpec::default()
        };
        Self {
            input,
            blocks: vec![
                block(32, true),
                block(32, true),
                block(32, true),
                block(64, false),
            ],
            activation: ConvActivation::Heaviside,
            beta: 1.0,
            global_pool: GlobalPool::Avg,
            head: vec![64],
            outputs,
            bias: true,
            binary_weights: false,
            quantize: false,
            per_channel: false,
            relaxed: false,
            pool_pre_activations: false,
            norm: false,
            dropout: 0.0,
        }
    }

    /// Checks every field and the maps' sizes through the blocks; errors name the field
    /// (`network.blocks[2].kernel`, ...). Returns each block's geometry, input and (pre-pool)
    /// output shape.
    pub fn layout(&self) -> Result<Vec<(Conv2d, MapShape, MapShape)>, ConfigError> {
        for (i, v) in self.input.iter().enumerate() {
            check_count(&format!("network.input[{i}]"), *v)?;
        }
        check_count("network.outputs", self.outputs)?;
        check_positive("network.beta", self.beta)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::new(
                "network.dropout",
                format!("{} is not a probability in [0, 1)", self.dropout),
            ));
        }
        if self.blocks.is_empty() {
            return Err(ConfigError::new(
                "network.blocks",
                "needs at least one conv block",
            ));
        }
        for (i, h) in self.head.iter().enumerate() {
            check_count(&format!("network.head[{i}]"), *h)?;
        }
        let mut shape = MapShape {
            channels: self.input[0],
            height: self.input[1],
            width: self.input[2],
        };
        let mut layout = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let field = format!("network.blocks[{i}]");
            let (k, d) = ([block.kernel; 2], [block.dilation; 2]);
            let padding = block
                .padding
                .map_or_else(|| Conv2d::same_padding(k, d), |p| [p; 2]);
            let conv = Conv2d::new(
                &field,
                shape.channels,
                block.channels,
                k,
                [block.stride; 2],
                padding,
                d,
                block.groups,
            )?;
            let [h, w] = conv.output_size(&field, [shape.height, shape.width])?;
            let out = MapShape {
                channels: block.channels,
                height: h,
                width: w,
            };
            if block.max_pool && (h < 2 || w < 2) {
                return Err(ConfigError::new(
                    format!("{field}.max_pool"),
                    format!("the block's {h}×{w} maps are too small for 2×2 pooling"),
                ));
            }
            layout.push((conv, shape, out));
            shape = if block.max_pool {
                MapShape {
                    height: h / 2,
                    width: w / 2,
                    ..out
                }
            } else {
                out
            };
        }
        Ok(layout)
    }
}

/// One conv layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvLayer<F: Real> {
    /// Its geometry.
    pub conv: Conv2d,
    /// Input maps per sample.
    pub input: MapShape,
    /// Output maps per sample, before the pooling.
    pub output: MapShape,
    /// Whether a 2×2 max pooling follows.
    pub max_pool: bool,
    /// Weights `[C_out, C_in/groups, K, K]` (the hidden weights of binary ones).
    pub w: Vec<F>,
    /// Biases `[C_out]`.
    pub b: Option<Vec<F>>,
    /// The per-channel normalization of the pre-activations (with [`BamSpec::norm`]).
    pub norm: Option<ChannelNorm<F>>,
}

/// A batch-norm-like per-channel affine of a block's pre-activations `z` `[B, C, H, W]`:
/// `ẑ = γ_c (z − μ_c)/√(σ²_c + ε) + β_c`. A training pass ([`Bam::forward_train`]) takes
/// `μ_c`, `σ²_c` over the batch and the map (the biased variance) and differentiates through
/// them; an inference pass uses the running estimates. At inference the affine folds into the
/// conv: into the Heaviside's per-channel threshold (with the channel's weights negated where
/// `γ_c < 0`) or into the ReLU block's weights and bias, so it costs no memory there.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelNorm<F> {
    /// Scales `γ` `[C]` (learnable, start at 1).
    pub gamma: Vec<F>,
    /// Shifts `β` `[C]` (learnable, start at 0): the Heaviside's threshold is `−β` in units
    /// of the channel's deviation.
    pub shift: Vec<F>,
    /// Running means `[C]` (start at 0).
    pub running_mean: Vec<F>,
    /// Running (unbiased) variances `[C]` (start at 1).
    pub running_var: Vec<F>,
}

/// The `ε` under the square root of [`ChannelNorm`].
pub const NORM_EPS: f64 = 1e-5;

/// A BAM network: conv blocks, global pooling, dense head (the last layer the output).
#[derive(Clone, Debug, PartialEq)]
pub struct Bam<F: Real> {
    /// The architecture.
    pub spec: BamSpec,
    /// The conv blocks.
    pub convs: Vec<ConvLayer<F>>,
    /// The dense head's hidden layers, then the output layer.
    pub head: Vec<DenseLayer<F>>,
}

/// What the backward pass needs of one conv block.
#[derive(Clone, Debug)]
pub struct BlockTrace<F> {
    /// The block's input `[B, C_in, H, W]`.
    pub input: Vec<F>,
    /// The effective weights the product used.
    pub weights: Vec<F>,
    /// The pre-activations `z` (after the normalization, if any).
    pub pre: Vec<F>,
    /// The normalized `(z − μ)/√(σ² + ε)` before `γ`, `β` (empty without normalization).
    pub normalized: Vec<F>,
    /// Per channel: `1/√(σ² + ε)` (empty without normalization).
    pub inv_std: Vec<F>,
    /// Per channel: the batch's mean and biased variance (empty unless a training pass
    /// normalized with them).
    pub batch_stats: Vec<(F, F)>,
    /// The dropout mask on the block's (pooled) output, `0` or `1/(1 − p)` (empty: none).
    pub dropout: Vec<F>,
    /// The activation maps `a = φ(z)` (binary for Heaviside).
    pub maps: Vec<F>,
    /// The max pooling's arg-max indices (empty without pooling).
    pub pool_arg: Vec<u32>,
}

/// A forward pass.
#[derive(Clone, Debug)]
pub struct BamTrace<F: Real> {
    /// Samples.
    pub batch: usize,
    /// Every block's record.
    pub blocks: Vec<BlockTrace<F>>,
    /// The global pooling's arg-max indices (empty for the average).
    pub global_arg: Vec<u32>,
    /// Every head layer's input `[1, B, n_in]` (the first is the pooled features).
    pub head_inputs: Vec<Seq<F>>,
    /// Every head layer's pre-activation.
    pub head_pre: Vec<Seq<F>>,
    /// Every head layer's effective weights.
    pub head_weights: Vec<Matrix<F>>,
    /// The outputs `[1, B, outputs]`.
    pub output: Seq<F>,
}

impl<F: Real> Bam<F> {
    /// A network of `spec`: real conv and head weights `N(0, 2/fan_in)` (He et al. 2015),
    /// binary conv weights' hidden values `U(−0.05, 0.05)` (the reference's), biases 0,
    /// normalizations' `γ` 1 and `β` 0.
    pub fn new<R: Rng>(spec: &BamSpec, rng: &mut R) -> Result<Self, ConfigError> {
        let layout = spec.layout()?;
        let convs: Vec<ConvLayer<F>> = layout
            .iter()
            .zip(&spec.blocks)
            .map(|(&(conv, input, output), block)| ConvLayer {
                conv,
                input,
                output,
                max_pool: block.max_pool,
                w: if spec.binary_weights {
                    let u = Uniform::new_inclusive(-0.05, 0.05).expect("a finite range");
                    (0..conv.weight_len())
                        .map(|_| F::from_f64(u.sample(rng)))
                        .collect()
                } else {
                    he_normal(conv.fan_in(), conv.weight_len(), rng)
                },
                b: spec.bias.then(|| vec![F::zero(); conv.out_channels]),
                norm: spec.norm.then(|| ChannelNorm {
                    gamma: vec![F::one(); conv.out_channels],
                    shift: vec![F::zero(); conv.out_channels],
                    running_mean: vec![F::zero(); conv.out_channels],
                    running_var: vec![F::one(); conv.out_channels],
                }),
            })
            .collect();
        let mut widths = vec![layout.last().expect("at least one block").2.channels];
        widths.extend(&spec.head);
        widths.push(spec.outputs);
        let last = widths.len() - 2;
        let head = widths
            .windows(2)
            .enumerate()
            .map(|(l, pair)| DenseLayer {
                w: Matrix::from_vec(pair[0], pair[1], he_normal(pair[0], pair[0] * pair[1], rng))
                    .expect("rows × cols values"),
                b: spec.bias.then(|| vec![F::zero(); pair[1]]),
                activation: if l == last {
                    Activation::Identity
                } else {
                    Activation::Relu
                },
            })
            .collect();
        Ok(Self {
            spec: spec.clone(),
            convs,
            head,
        })
    }

    /// The inference pass of `batch` samples `x` `[B, C, H, W]` (no dropout; normalizations
    /// with their running estimates); an error if `x` has the wrong length or a weight tensor
    /// cannot be quantized (not finite).
    pub fn forward(&self, x: &[F], batch: usize) -> Result<BamTrace<F>, ConfigError> {
        self.pass(x, batch, None)
    }

    /// A training pass: as [`Self::forward`], but with dropout masks drawn from `rng` and
    /// normalizations with the batch's statistics (which [`Self::update_running`] then folds
    /// into the running estimates).
    pub fn forward_train(
        &self,
        x: &[F],
        batch: usize,
        rng: &mut dyn RngCore,
    ) -> Result<BamTrace<F>, ConfigError> {
        self.pass(x, batch, Some(rng))
    }

    /// Moves every normalization's running mean and (unbiased) variance towards the batch
    /// statistics of the training pass `trace` by `momentum` (PyTorch's 0.1).
    pub fn update_running(&mut self, trace: &BamTrace<F>, momentum: f64) {
        let m = F::from_f64(momentum);
        for (layer, rec) in self.convs.iter_mut().zip(&trace.blocks) {
            let (Some(norm), false) = (&mut layer.norm, rec.batch_stats.is_empty()) else {
                continue;
            };
            let n = (trace.batch * layer.output.plane()) as f64;
            let unbias = F::from_f64(n / (n - 1.0).max(1.0));
            for (c, &(mean, var)) in rec.batch_stats.iter().enumerate() {
                let (rm, rv) = (&mut norm.running_mean[c], &mut norm.running_var[c]);
                *rm = *rm + m * (mean - *rm);
                *rv = *rv + m * (var * unbias - *rv);
            }
        }
    }

    fn pass(
        &self,
        x: &[F],
        batch: usize,
        mut rng: Option<&mut dyn RngCore>,
    ) -> Result<BamTrace<F>, ConfigError> {
        let input = self.convs[0].input;
        if x.len() != batch * input.len() {
            return Err(ConfigError::new(
                "input",
                format!(
                    "{} values are not {batch} samples of {}×{}×{}",
                    x.len(),
                    input.channels,
                    input.height,
                    input.width
                ),
            ));
        }
        let mut a = x.to_vec();
        let mut blocks = Vec::with_capacity(self.convs.len());
        for (k, layer) in self.convs.iter().enumerate() {
            let weights = self.conv_weights(k)?;
            let (mut pre, _) =
                conv2d_forward(&layer.conv, &a, layer.input, &weights, layer.b.as_deref());
            let (mut normalized, mut inv_std, mut batch_stats) =
                (Vec::new(), Vec::new(), Vec::new());
            if let Some(norm) = &layer.norm {
                (normalized, inv_std, batch_stats) =
                    normalize(norm, &mut pre, layer.output, rng.is_some());
            }
            let maps: Vec<F> = pre.iter().map(|&z| self.activate(z)).collect();
            let (mut next, pool_arg) = if layer.max_pool && self.spec.pool_pre_activations {
                // φ is non-decreasing, so max φ(z) = φ(max z): the same maps, with the
                // gradient routed to the largest pre-activation.
                let (_, pooled_shape, arg) = max_pool2d(&pre, layer.output, [2, 2]);
                let (per_in, per_out) = (layer.output.len(), pooled_shape.len());
                let pooled = arg
                    .iter()
                    .enumerate()
                    .map(|(o, &i)| maps[o / per_out.max(1) * per_in + i as usize])
                    .collect();
                (pooled, arg)
            } else if layer.max_pool {
                let (pooled, _, arg) = max_pool2d(&maps, layer.output, [2, 2]);
                (pooled, arg)
            } else {
                (maps.clone(), Vec::new())
            };
            let mut dropout = Vec::new();
            let p = self.spec.dropout;
            if let (Some(rng), true) = (rng.as_deref_mut(), p > 0.0 && k + 1 < self.convs.len()) {
                let keep = F::from_f64(1.0 / (1.0 - p));
                dropout = (0..next.len())
                    .map(|_| {
                        if rng.random::<f64>() < p {
                            F::zero()
                        } else {
                            keep
                        }
                    })
                    .collect();
                next.iter_mut().zip(&dropout).for_each(|(v, &d)| *v *= d);
            }
            blocks.push(BlockTrace {
                input: std::mem::replace(&mut a, next),
                weights,
                pre,
                normalized,
                inv_std,
                batch_stats,
                dropout,
                maps,
                pool_arg,
            });
        }
        let (features, global_arg) = global_pool(
            &a,
            self.pooled_shape(self.convs.len() - 1),
            self.spec.global_pool,
        );
        let mut h = Seq::from_vec(1, batch, self.head[0].w.rows, features)
            .expect("channels × batch features");
        let (mut head_inputs, mut head_pre, mut head_weights) =
            (Vec::new(), Vec::new(), Vec::new());
        for (l, layer) in self.head.iter().enumerate() {
            let name = self.tensor_name(self.convs.len(), l);
            let w = self.fake_quantize(&name, &layer.w.data, layer.w.rows, layer.w.cols, 1)?;
            let w = Matrix::from_vec(layer.w.rows, layer.w.cols, w).expect("same shape");
            let mut z = Seq::zeros(1, batch, w.cols);
            if let Some(b) = &layer.b {
                for row in z.data.chunks_exact_mut(b.len()) {
                    row.copy_from_slice(b);
                }
            }
            dense_forward(&h, &w, &mut z);
            let mut next = z.clone();
            next.data
                .iter_mut()
                .for_each(|v| *v = layer.activation.apply(*v));
            head_inputs.push(std::mem::replace(&mut h, next));
            head_pre.push(z);
            head_weights.push(w);
        }
        Ok(BamTrace {
            batch,
            blocks,
            global_arg,
            head_inputs,
            head_pre,
            head_weights,
            output: h,
        })
    }

    /// The gradients of every tensor (in [`Self::tensors`] order) given `∂L/∂y` `[1, B, C]`.
    pub fn backward(&self, trace: &BamTrace<F>, grad_output: &Seq<F>) -> Gradients<F> {
        let mut head_grads = Vec::with_capacity(self.head.len());
        let mut delta = grad_output.clone();
        for (l, layer) in self.head.iter().enumerate().rev() {
            let (z, w) = (&trace.head_pre[l], &trace.head_weights[l]);
            for (d, &zv) in delta.data.iter_mut().zip(&z.data) {
                *d *= layer.activation.derivative(zv, layer.activation.apply(zv));
            }
            let mut dw = Matrix::zeros(w.rows, w.cols);
            dense_grad_weight(&trace.head_inputs[l], &delta, &mut dw);
            let mut g = vec![dw.data];
            if layer.b.is_some() {
                let mut db = vec![F::zero(); w.cols];
                for row in delta.data.chunks_exact(w.cols) {
                    db.iter_mut().zip(row).for_each(|(s, &d)| *s += d);
                }
                g.push(db);
            }
            head_grads.push(g);
            delta = grad_input(&delta, w);
        }
        let last = self.convs.len() - 1;
        let mut g = global_pool_backward(
            &delta.data,
            &trace.global_arg,
            self.pooled_shape(last),
            self.spec.global_pool,
        );
        let mut conv_grads = Vec::with_capacity(self.convs.len());
        for (k, layer) in self.convs.iter().enumerate().rev() {
            let rec = &trace.blocks[k];
            g.iter_mut().zip(&rec.dropout).for_each(|(d, &m)| *d *= m);
            if layer.max_pool {
                g = max_pool2d_backward(&g, &rec.pool_arg, layer.output, trace.batch);
            }
            for (d, &z) in g.iter_mut().zip(&rec.pre) {
                *d *= self.activation_derivative(z);
            }
            let norm_grads = layer
                .norm
                .as_ref()
                .map(|norm| normalize_backward(norm, rec, &mut g, layer.output));
            let grads = conv2d_backward(
                &layer.conv,
                &rec.input,
                layer.input,
                &rec.weights,
                &g,
                k > 0,
            );
            let mut dw = grads.dw;
            if self.spec.binary_weights {
                let scale = F::from_f64(2.0 * binary_scale(layer.conv.fan_in()));
                let sg = self.surrogate();
                dw.iter_mut()
                    .zip(&layer.w)
                    .for_each(|(d, &w)| *d *= scale * sg.derivative(w));
            }
            let mut t = vec![dw];
            if layer.b.is_some() {
                t.push(grads.db);
            }
            if let Some((dgamma, dshift)) = norm_grads {
                t.extend([dgamma, dshift]);
            }
            conv_grads.push(t);
            g = grads.dx;
        }
        conv_grads
            .into_iter()
            .rev()
            .flatten()
            .chain(head_grads.into_iter().rev().flatten())
            .collect()
    }

    /// Every tensor, in a fixed order: `conv.{k}.w`, `conv.{k}.b`, `conv.{k}.norm.gamma`,
    /// `conv.{k}.norm.beta`, …, `head.{k}.w`, `head.{k}.b`, …, `output.w`, `output.b`; all
    /// learnable (the normalizations' running estimates are not tensors).
    pub fn tensors(&self) -> Vec<NamedTensor<'_, F>> {
        let mut all = Vec::new();
        let n = self.convs.len();
        for (k, layer) in self.convs.iter().enumerate() {
            let c = &layer.conv;
            all.push(NamedTensor {
                name: self.tensor_name(k, 0),
                shape: vec![
                    c.out_channels,
                    c.in_channels / c.groups,
                    c.kernel[0],
                    c.kernel[1],
                ],
                data: &layer.w,
                learnable: true,
            });
            if let Some(b) = &layer.b {
                all.push(NamedTensor {
                    name: format!("conv.{k}.b"),
                    shape: vec![b.len()],
                    data: b,
                    learnable: true,
                });
            }
            if let Some(norm) = &layer.norm {
                for (name, data) in [("gamma", &norm.gamma), ("beta", &norm.shift)] {
                    all.push(NamedTensor {
                        name: format!("conv.{k}.norm.{name}"),
                        shape: vec![data.len()],
                        data,
                        learnable: true,
                    });
                }
            }
        }
        for (l, layer) in self.head.iter().enumerate() {
            let name = self.tensor_name(n, l);
            all.push(NamedTensor {
                name: name.clone(),
                shape: vec![layer.w.rows, layer.w.cols],
                data: &layer.w.data,
                learnable: true,
            });
            if let Some(b) = &layer.b {
                all.push(NamedTensor {
                    name: format!("{}.b", name.trim_end_matches(".w")),
                    shape: vec![b.len()],
                    data: b,
                    learnable: true,
                });
            }
        }
        all
    }

    /// Mutable views of every tensor, in [`Self::tensors`] order.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<F>> {
        let mut all = Vec::new();
        for layer in &mut self.convs {
            all.push(&mut layer.w);
            if let Some(b) = &mut layer.b {
                all.push(b);
            }
            if let Some(norm) = &mut layer.norm {
                all.push(&mut norm.gamma);
                all.push(&mut norm.shift);
            }
        }
        for layer in &mut self.head {
            all.push(&mut layer.w.data);
            if let Some(b) = &mut layer.b {
                all.push(b);
            }
        }
        all
    }

    /// The weights conv block `k`'s product uses: binarized, fake-quantized or as stored.
    pub fn conv_weights(&self, k: usize) -> Result<Vec<F>, ConfigError> {
        let layer = &self.convs[k];
        if self.spec.binary_weights {
            let scale = F::from_f64(binary_scale(layer.conv.fan_in()));
            let two = F::from_f64(2.0);
            let half = F::from_f64(0.5);
            return Ok(layer
                .w
                .iter()
                .map(|&w| {
                    if self.spec.relaxed {
                        scale * two * self.relaxation(w)
                    } else {
                        scale * two * (step(w, true) - half)
                    }
                })
                .collect());
        }
        let filters = layer.output.channels;
        let per_filter = layer.w.len() / filters.max(1);
        self.fake_quantize(&self.tensor_name(k, 0), &layer.w, 1, filters, per_filter)
    }

    /// Values per sample of every block's activation maps (before pooling), weights (conv and
    /// head) and biases: what [`Self::forward`] keeps of one sample at inference (a
    /// [`ChannelNorm`] folds into the conv's weights and bias, so it adds nothing).
    pub fn counts(&self) -> (usize, usize, usize) {
        let maps = self.convs.iter().map(|l| l.output.len()).sum();
        let weights = self.convs.iter().map(|l| l.w.len()).sum::<usize>()
            + self.head.iter().map(|l| l.w.data.len()).sum::<usize>();
        let biases = self
            .convs
            .iter()
            .map(|l| l.b.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
            + self
                .head
                .iter()
                .map(|l| l.b.as_ref().map_or(0, Vec::len))
                .sum::<usize>();
        (maps, weights, biases)
    }

    /// The same network in another precision.
    pub fn cast<G: Real>(&self) -> Bam<G> {
        let v = |x: &[F]| {
            x.iter()
                .map(|v| G::from_f64(v.as_f64()))
                .collect::<Vec<G>>()
        };
        Bam {
            spec: self.spec.clone(),
            convs: self
                .convs
                .iter()
                .map(|l| ConvLayer {
                    conv: l.conv,
                    input: l.input,
                    output: l.output,
                    max_pool: l.max_pool,
                    w: v(&l.w),
                    b: l.b.as_deref().map(v),
                    norm: l.norm.as_ref().map(|n| ChannelNorm {
                        gamma: v(&n.gamma),
                        shift: v(&n.shift),
                        running_mean: v(&n.running_mean),
                        running_var: v(&n.running_var),
                    }),
                })
                .collect(),
            head: self
                .head
                .iter()
                .map(|l| DenseLayer {
                    w: l.w.cast(),
                    b: l.b.as_deref().map(v),
                    activation: l.activation,
                })
                .collect(),
        }
    }

    /// The maps after block `k`'s pooling.
    fn pooled_shape(&self, k: usize) -> MapShape {
        let l = &self.convs[k];
        if l.max_pool {
            MapShape {
                height: l.output.height / 2,
                width: l.output.width / 2,
                ..l.output
            }
        } else {
            l.output
        }
    }

    /// The weight tensor's name of conv block `k` (`k < blocks`, `l` ignored) or of head layer
    /// `l` (`k = blocks`).
    fn tensor_name(&self, k: usize, l: usize) -> String {
        if k < self.convs.len() {
            format!("conv.{k}.w")
        } else if l + 1 == self.head.len() {
            "output.w".into()
        } else {
            format!("head.{l}.w")
        }
    }

    /// `w` `[outer, channels, inner]` itself, or quantized to int8 and back under
    /// quantization-aware training (one scale per tensor, or per channel with
    /// [`BamSpec::per_channel`]).
    fn fake_quantize(
        &self,
        name: &str,
        w: &[F],
        outer: usize,
        channels: usize,
        inner: usize,
    ) -> Result<Vec<F>, ConfigError> {
        if !self.spec.quantize {
            return Ok(w.to_vec());
        }
        let w32: Vec<f32> = w.iter().map(|v| v.as_f64() as f32).collect();
        let err = |e: crate::quant::QuantError| ConfigError::new(name, e.to_string());
        let dequantized = if self.spec.per_channel {
            PerChannelTensor::quantize(name, &w32, outer, channels, inner)
                .map_err(err)?
                .dequantize()
        } else {
            QuantizedTensor::quantize(name, vec![w.len()], &w32)
                .map_err(err)?
                .dequantize()
        };
        Ok(dequantized
            .into_iter()
            .map(|v| F::from_f64(v as f64))
            .collect())
    }

    fn surrogate(&self) -> Surrogate {
        Surrogate::SuperSpike {
            beta: self.spec.beta,
        }
    }

    /// `z/(1 + β|z|)`, the Heaviside step's relaxation whose derivative is the surrogate.
    fn relaxation(&self, z: F) -> F {
        z / (F::one() + F::from_f64(self.spec.beta) * z.abs())
    }

    fn activate(&self, z: F) -> F {
        match (self.spec.activation, self.spec.relaxed) {
            (ConvActivation::Relu, _) => z.max(F::zero()),
            (ConvActivation::Heaviside, false) => step(z, false),
            (ConvActivation::Heaviside, true) => self.relaxation(z),
        }
    }

    fn activation_derivative(&self, z: F) -> F {
        match self.spec.activation {
            ConvActivation::Relu => {
                if z > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
            ConvActivation::Heaviside => self.surrogate().derivative(z),
        }
    }
}

/// Normalizes the pre-activations `z` `[B, C, H, W]` in place with `norm` (by the batch's
/// statistics when `batch_stats`, else by the running ones); returns the normalized values
/// before `γ`, `β`, every channel's `1/√(σ² + ε)` and (by the batch) its mean and variance.
#[allow(clippy::type_complexity)]
fn normalize<F: Real>(
    norm: &ChannelNorm<F>,
    z: &mut [F],
    shape: MapShape,
    batch_stats: bool,
) -> (Vec<F>, Vec<F>, Vec<(F, F)>) {
    let (c_n, plane) = (shape.channels, shape.plane());
    let n = z.len() / (c_n * plane).max(1);
    let count = F::from_f64((n * plane).max(1) as f64);
    let mut stats = Vec::new();
    let mut inv_std = Vec::with_capacity(c_n);
    let mut normalized = vec![F::zero(); z.len()];
    for c in 0..c_n {
        let planes = || (0..n).map(move |b| (b * c_n + c) * plane);
        let (mean, var) = if batch_stats {
            let mut sum = F::zero();
            for s in planes() {
                sum = z[s..s + plane].iter().fold(sum, |a, &v| a + v);
            }
            let mean = sum / count;
            let mut sq = F::zero();
            for s in planes() {
                sq = z[s..s + plane]
                    .iter()
                    .fold(sq, |a, &v| a + (v - mean) * (v - mean));
            }
            let var = sq / count;
            stats.push((mean, var));
            (mean, var)
        } else {
            (norm.running_mean[c], norm.running_var[c])
        };
        let inv = F::one() / (var + F::from_f64(NORM_EPS)).sqrt();
        inv_std.push(inv);
        for s in planes() {
            for i in s..s + plane {
                let h = (z[i] - mean) * inv;
                normalized[i] = h;
                z[i] = norm.gamma[c] * h + norm.shift[c];
            }
        }
    }
    (normalized, inv_std, stats)
}

/// The backward pass of [`normalize`]: turns `g` = `∂L/∂ẑ` into `∂L/∂z` in place and returns
/// `(∂L/∂γ, ∂L/∂β)`. With the batch's statistics,
/// `∂L/∂z = inv/N · (N d − Σd − x̂ Σ(d x̂))` for `d = γ ∂L/∂ẑ` (sums over the channel's `N`
/// values); with the running ones, `∂L/∂z = γ inv ∂L/∂ẑ`.
fn normalize_backward<F: Real>(
    norm: &ChannelNorm<F>,
    rec: &BlockTrace<F>,
    g: &mut [F],
    shape: MapShape,
) -> (Vec<F>, Vec<F>) {
    let (c_n, plane) = (shape.channels, shape.plane());
    let n = g.len() / (c_n * plane).max(1);
    let count = F::from_f64((n * plane).max(1) as f64);
    let (mut dgamma, mut dshift) = (vec![F::zero(); c_n], vec![F::zero(); c_n]);
    for c in 0..c_n {
        let planes = || (0..n).map(move |b| (b * c_n + c) * plane);
        let (mut sum_d, mut sum_dx) = (F::zero(), F::zero());
        for s in planes() {
            for (&gv, &h) in g[s..s + plane].iter().zip(&rec.normalized[s..s + plane]) {
                dshift[c] += gv;
                dgamma[c] += gv * h;
                let d = gv * norm.gamma[c];
                sum_d += d;
                sum_dx += d * h;
            }
        }
        let inv = rec.inv_std[c];
        for s in planes() {
            for (gv, &h) in g[s..s + plane]
                .iter_mut()
                .zip(&rec.normalized[s..s + plane])
            {
                let d = *gv * norm.gamma[c];
                *gv = if rec.batch_stats.is_empty() {
                    d * inv
                } else {
                    inv / count * (count * d - sum_d - h * sum_dx)
                };
            }
        }
    }
    (dgamma, dshift)
}

/// `Θ(z)`: 1 for `z > 0` (or `z ≥ 0` with `at_zero`), else 0.
fn step<F: Real>(z: F, at_zero: bool) -> F {
    if z > F::zero() || (at_zero && z == F::zero()) {
        F::one()
    } else {
        F::zero()
    }
}

/// The magnitude `√(2/fan_in)` of a binary conv weight.
fn binary_scale(fan_in: usize) -> f64 {
    (2.0 / fan_in as f64).sqrt()
}

fn he_normal<F: Real, R: Rng>(fan_in: usize, n: usize, rng: &mut R) -> Vec<F> {
    let dist = Normal::new(0.0, (2.0 / fan_in as f64).sqrt()).expect("a finite deviation");
    (0..n).map(|_| F::from_f64(dist.sample(rng))).collect()
}

/// The mean squared error `Σ (y − t)² / (B · C)` of outputs `y` `[1, B, C]` against targets
/// `t` (B · C values: one-hot rows for classes) and its gradient `2(y − t)/(B · C)`.
pub fn mse<F: Real>(y: &Seq<F>, targets: &[F]) -> Result<(f64, Seq<F>), ConfigError> {
    if targets.len() != y.data.len() {
        return Err(ConfigError::new(
            "targets",
            format!("{} targets for {} outputs", targets.len(), y.data.len()),
        ));
    }
    let n = y.data.len().max(1) as f64;
    let mut grad = y.clone();
    let mut loss = 0.0;
    for (g, &t) in grad.data.iter_mut().zip(targets) {
        let d = g.as_f64() - t.as_f64();
        loss += d * d;
        *g = F::from_f64(2.0 * d / n);
    }
    Ok((loss / n, grad))
}

#[cfg(test)]
mod tests;
