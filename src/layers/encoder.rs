//! A spiking encoder of analog input: LIF neurons driven by a learnable per-neuron gain and
//! bias (SpyTorch tutorial 5, F. Zenke, "Training a spiking neural network on simulated touch
//! sensor data of Braille letters").
//!
//! Each input channel `c` drives `fan_out` encoder neurons `k = c·fan_out + m`, each with its
//! own gain `g_k` and bias `b_k`. The input current is either
//!
//! ```text
//! I_k[t] = g_k · x_c[t] + b_k          (EncoderCurrent::Affine)
//! I_k[t] = g_k · (x_c[t] + b_k)        (EncoderCurrent::Shifted, the tutorial's form)
//! ```
//!
//! and drives the current-based LIF of [`crate::neurons::Lif`] (run by the generic scan) with
//! `α = exp(−dt/τ_syn)` (`α = 0` for `τ_syn = 0`: the tutorial's encoder has no synaptic
//! filter, `U[t] = β U[t−1](1 − S[t−1]) + (1 − β) I[t]`) and `β = exp(−dt/τ_mem)`.
//!
//! Backward: the scan gives `∂L/∂I_k[t]` from `∂L/∂S` (the surrogate passes gradient into
//! the encoder), and
//!
//! ```text
//! ∂L/∂g_k = Σ_{t,b} ∂L/∂I_k[t,b] · ∂I/∂g      ∂I/∂g = x   (Affine)   x + b_k (Shifted)
//! ∂L/∂b_k = Σ_{t,b} ∂L/∂I_k[t,b] · ∂I/∂b      ∂I/∂b = 1   (Affine)   g_k     (Shifted)
//! ```

use super::Param;
use crate::error::{check_count, check_non_negative, check_positive, ConfigError};
use crate::neurons::{FixedLif, Lif, ResetGrad, ResetMode};
use crate::real::Real;
use crate::scan::{self, ScanContext, ScanTrace};
use crate::surrogates::SpikeFn;
use crate::tensor::Seq;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// How gain and bias combine with the input into the encoder current.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderCurrent {
    /// `I = g·x + b`.
    #[default]
    Affine,
    /// `I = g·(x + b)` (SpyTorch tutorial 5).
    Shifted,
}

impl EncoderCurrent {
    /// The current for input `x`, gain `g` and bias `b`.
    #[inline]
    pub fn current<F: Real>(self, x: F, g: F, b: F) -> F {
        match self {
            EncoderCurrent::Affine => g * x + b,
            EncoderCurrent::Shifted => g * (x + b),
        }
    }

    /// `(∂I/∂g, ∂I/∂b)` at input `x`, gain `g` and bias `b`.
    #[inline]
    pub fn partials<F: Real>(self, x: F, g: F, b: F) -> (F, F) {
        match self {
            EncoderCurrent::Affine => (x, F::one()),
            EncoderCurrent::Shifted => (x + b, g),
        }
    }
}

/// The encoder in a network description (`[network.encoder]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderSpec {
    /// Encoder neurons per input channel (the tutorial: 32).
    pub fan_out: usize,
    /// Membrane time constant.
    pub tau_mem_ms: f64,
    /// Synaptic time constant; 0 = none (the current drives the membrane directly).
    pub tau_syn_ms: f64,
    /// How gain and bias form the current.
    pub current: EncoderCurrent,
    /// Mean of the initial gains.
    pub gain_mean: f64,
    /// Standard deviation of the initial gains.
    pub gain_std: f64,
    /// Mean of the initial biases.
    pub bias_mean: f64,
    /// Standard deviation of the initial biases.
    pub bias_std: f64,
    /// Firing threshold.
    pub threshold: f64,
    /// Whether the reset is differentiated.
    pub reset_grad: ResetGrad,
}

impl Default for EncoderSpec {
    /// One neuron per channel, the tutorial's τ_mem = 20 ms, no synaptic filter, gains and
    /// biases drawn from N(0, 1).
    fn default() -> Self {
        Self {
            fan_out: 1,
            tau_mem_ms: 20.0,
            tau_syn_ms: 0.0,
            current: EncoderCurrent::Affine,
            gain_mean: 0.0,
            gain_std: 1.0,
            bias_mean: 0.0,
            bias_std: 1.0,
            threshold: 1.0,
            reset_grad: ResetGrad::Detached,
        }
    }
}

impl EncoderSpec {
    /// Checks every field; errors name it (`{path}.tau_mem_ms`, ...).
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let f = |name: &str| format!("{path}.{name}");
        check_count(&f("fan_out"), self.fan_out)?;
        check_positive(&f("tau_mem_ms"), self.tau_mem_ms)?;
        check_non_negative(&f("tau_syn_ms"), self.tau_syn_ms)?;
        check_non_negative(&f("gain_std"), self.gain_std)?;
        check_non_negative(&f("bias_std"), self.bias_std)?;
        for (name, v) in [
            ("gain_mean", self.gain_mean),
            ("bias_mean", self.bias_mean),
            ("threshold", self.threshold),
        ] {
            if !v.is_finite() {
                return Err(ConfigError::new(
                    f(name),
                    format!("must be finite, got {v}"),
                ));
            }
        }
        check_positive(&f("threshold"), self.threshold)
    }
}

/// The encoder layer: per-neuron gain and bias, and the LIF neurons they drive.
#[derive(Clone, Debug)]
pub struct LifEncoder<F> {
    /// What the encoder was built from.
    pub spec: EncoderSpec,
    /// Input channels.
    pub channels: usize,
    /// Simulation time step.
    pub dt_s: F,
    /// Spike non-linearity.
    pub spike: SpikeFn,
    /// Gain of each encoder neuron `[channels · fan_out]`.
    pub gain: Vec<F>,
    /// Bias of each encoder neuron `[channels · fan_out]`.
    pub bias: Vec<F>,
}

/// The forward pass of the encoder, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct EncoderTrace<F: Real> {
    model: FixedLif<F>,
    scan: ScanTrace<F, F>,
    ctx: ScanContext,
}

impl<F: Real> EncoderTrace<F> {
    /// The encoder's spikes `[T, B, channels · fan_out]`.
    pub fn spikes(&self) -> &Seq<F> {
        &self.scan.out
    }

    /// Whether every state variable is finite.
    pub fn is_finite(&self) -> bool {
        self.scan.saved.iter().all(|u| u.is_finite())
    }
}

impl<F: Real> LifEncoder<F> {
    /// An encoder with zero gains and biases (see [`Self::draw`]).
    pub fn new(spec: &EncoderSpec, channels: usize, dt_s: f64, spike: SpikeFn) -> Self {
        let n = channels * spec.fan_out;
        Self {
            spec: spec.clone(),
            channels,
            dt_s: F::from_f64(dt_s),
            spike,
            gain: vec![F::zero(); n],
            bias: vec![F::zero(); n],
        }
    }

    /// Number of encoder neurons (`channels · fan_out`).
    pub fn width(&self) -> usize {
        self.gain.len()
    }

    /// Draws gains and biases from the spec's normal distributions.
    pub fn draw<R: Rng>(&mut self, rng: &mut R) {
        let s = &self.spec;
        let mut normal = |mean: f64, std: f64| {
            let z: f64 = StandardNormal.sample(rng);
            F::from_f64(mean + std * z)
        };
        for g in &mut self.gain {
            *g = normal(s.gain_mean, s.gain_std);
        }
        for b in &mut self.bias {
            *b = normal(s.bias_mean, s.bias_std);
        }
    }

    /// Runs the encoder on analog input `x` `[T, B, channels]`.
    pub fn forward(&self, x: &Seq<F>) -> EncoderTrace<F> {
        self.forward_in(x, &ScanContext::default())
    }

    /// [`Self::forward`] with the noise stream of `ctx` (stochastic spikes).
    pub fn forward_in(&self, x: &Seq<F>, ctx: &ScanContext) -> EncoderTrace<F> {
        let model = self.lif();
        let scan = scan::forward_with::<F, _, scan::KeepSaved>(&model, self.currents(x), None, ctx);
        EncoderTrace {
            model,
            scan,
            ctx: *ctx,
        }
    }

    /// Backpropagates `g_spikes = ∂L/∂S` to `[∂L/∂gain, ∂L/∂bias]`.
    pub fn backward(&self, x: &Seq<F>, trace: &EncoderTrace<F>, g_spikes: &Seq<F>) -> Vec<Vec<F>> {
        let grads = scan::backward_with(&trace.model, &trace.scan, g_spikes, None, &trace.ctx);
        let (g_gain, g_bias) = self.param_grads(x, grads.kept_input(), self.spec.current);
        vec![g_gain, g_bias]
    }

    /// `(∂L/∂gain, ∂L/∂bias)` from `∂L/∂I` `g_current`, with the partials of `current`.
    pub(crate) fn param_grads(
        &self,
        x: &Seq<F>,
        g_current: &Seq<F>,
        current: EncoderCurrent,
    ) -> (Vec<F>, Vec<F>) {
        let (n, fan_out) = (self.width(), self.spec.fan_out);
        let (mut g_gain, mut g_bias) = (vec![F::zero(); n], vec![F::zero(); n]);
        for (x_row, g_row) in x
            .data
            .chunks_exact(self.channels)
            .zip(g_current.data.chunks_exact(n))
        {
            for (k, &g_i) in g_row.iter().enumerate() {
                let (d_gain, d_bias) =
                    current.partials(x_row[k / fan_out], self.gain[k], self.bias[k]);
                g_gain[k] += g_i * d_gain;
                g_bias[k] += g_i * d_bias;
            }
        }
        (g_gain, g_bias)
    }

    /// The input currents `[T, B, channels · fan_out]`.
    fn currents(&self, x: &Seq<F>) -> Seq<F> {
        assert_eq!(x.width, self.channels, "encoder input width != channels");
        let (n, fan_out, form) = (self.width(), self.spec.fan_out, self.spec.current);
        let mut out = Seq::zeros(x.steps, x.batch, n);
        for (x_row, out_row) in x
            .data
            .chunks_exact(self.channels)
            .zip(out.data.chunks_exact_mut(n))
        {
            for (k, i) in out_row.iter_mut().enumerate() {
                *i = form.current(x_row[k / fan_out], self.gain[k], self.bias[k]);
            }
        }
        out
    }

    /// Every parameter tensor: `gain` and `bias`, both learnable.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        let shape = vec![self.width()];
        vec![
            Param {
                name: "gain",
                shape: shape.clone(),
                data: &self.gain,
                learnable: true,
            },
            Param {
                name: "bias",
                shape,
                data: &self.bias,
                learnable: true,
            },
        ]
    }

    /// Mutable views of every parameter tensor, in [`Self::params`] order.
    pub fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        vec![&mut self.gain, &mut self.bias]
    }

    /// The encoder's neurons (constant time constants).
    fn lif(&self) -> FixedLif<F> {
        let n = self.width();
        let decay = |tau_ms: f64| {
            if tau_ms > 0.0 {
                (-self.dt_s / F::from_f64(tau_ms * 1e-3)).exp()
            } else {
                F::zero()
            }
        };
        FixedLif(Lif {
            alpha: vec![decay(self.spec.tau_syn_ms); n],
            beta: vec![decay(self.spec.tau_mem_ms); n],
            threshold: F::from_f64(self.spec.threshold),
            spike: self.spike,
            reset: self.spec.reset_grad,
            reset_mode: ResetMode::Zero,
        })
    }
}

#[cfg(test)]
mod tests;
