//! Weight initialization of a whole network.

use super::Network;
use crate::error::{check_positive, check_range, ConfigError};
use crate::initializers::{
    fill_normal, kaiming_normal, sparse_mask, DaleAfferents, DaleTimescales, EpsilonMode,
    FluctuationDriven, InitError, TargetTimescales, WeightStats,
};
use crate::layers::SpikingLayer;
use crate::neurons::NeuronKind;
use crate::real::Real;
use crate::tensor::Matrix;
use rand::Rng;
use rand_distr::{Exp1, StandardNormal};
use serde::{Deserialize, Serialize};

/// How the weights of a network are drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WeightInit {
    /// Fluctuation-driven (Rossbroich, Gygax & Zenke 2022): every layer's weights are drawn so
    /// that its free membrane potential fluctuates with standard deviation `σ_U` (around
    /// `μ_U`) given presynaptic Poisson rates `ν` (see [`FluctuationDriven`]). The same `ν`
    /// is assumed for every layer's afferents, as in stork's examples.
    FluctuationDriven {
        /// Target standard deviation of the free membrane potential.
        sigma_u: f64,
        /// Target mean of the free membrane potential (0 = centred).
        #[serde(default)]
        mu_u: f64,
        /// Presynaptic rate ν in Hz; 0 = the training data's mean input rate.
        #[serde(default)]
        nu_hz: f64,
        /// Share of membrane variance from feed-forward afferents in recurrent layers.
        #[serde(default = "default_alpha")]
        alpha: f64,
        /// How the PSP-kernel integrals are computed.
        #[serde(default)]
        epsilon: EpsilonMode,
    },
    /// Kaiming normal: `W ~ N(0, gain²/fan_in)`.
    KaimingNormal {
        /// The gain.
        gain: f64,
        /// The gain of the first hidden layer's input weights instead of `gain` (the PyTorch
        /// reference RSNN draws them with gain 2, its other weights with gain 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_gain: Option<f64>,
    },
}

fn default_alpha() -> f64 {
    0.9
}

impl Default for WeightInit {
    fn default() -> Self {
        WeightInit::FluctuationDriven {
            sigma_u: 1.0,
            mu_u: 0.0,
            nu_hz: 0.0,
            alpha: 0.9,
            epsilon: EpsilonMode::Numerical,
        }
    }
}

impl WeightInit {
    /// Checks every field (errors name `init.<field>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            WeightInit::FluctuationDriven {
                sigma_u,
                mu_u,
                nu_hz,
                alpha,
                ..
            } => {
                check_positive("init.sigma_u", sigma_u)?;
                check_range("init.mu_u", mu_u, -1e9, 1.0, false)?;
                check_range("init.nu_hz", nu_hz, 0.0, 1e9, false)?;
                check_range("init.alpha", alpha, 0.0, 1.0, true)
            }
            WeightInit::KaimingNormal { gain, input_gain } => {
                check_positive("init.gain", gain)?;
                input_gain.map_or(Ok(()), |g| check_positive("init.input_gain", g))
            }
        }
    }

    /// The same initializer with `nu_hz = 0` replaced by `data_rate_hz`.
    pub fn resolved(&self, data_rate_hz: f64) -> WeightInit {
        let mut init = self.clone();
        if let WeightInit::FluctuationDriven { nu_hz, .. } = &mut init {
            if *nu_hz == 0.0 {
                *nu_hz = data_rate_hz;
            }
        }
        init
    }
}

impl<F: Real> Network<F> {
    /// Draws every weight matrix (and sparse-connectivity mask) with `init`.
    ///
    /// Sparse layers draw a mask with the configured density and scale the surviving
    /// weights' standard deviation by `1/√density`, which keeps the membrane statistics of
    /// the dense layer (the effective fan-in is `N·density`).
    ///
    /// An encoder's gains and biases are drawn first, from the normal distributions of its
    /// spec.
    pub fn initialize<R: Rng>(&mut self, init: &WeightInit, rng: &mut R) -> Result<(), InitError> {
        let dt_s = self.spec.dt_ms * 1e-3;
        if let Some(encoder) = &mut self.encoder {
            encoder.draw(rng);
        }
        for (index, layer) in self.hidden.iter_mut().enumerate() {
            if layer.spec.dale.is_some() {
                draw_dale(layer, init, dt_s, rng)?;
                continue;
            }
            let fluctuation = matches!(init, WeightInit::FluctuationDriven { .. });
            if fluctuation && layer.spec.neuron == NeuronKind::IntegrateFire {
                return Err(InitError::NotApplicable {
                    layer: index,
                    reason: "fluctuation-driven initialization needs a leaky membrane (its \
                             statistics integrate the PSP kernel); integrate-and-fire layers \
                             need init = { kind = \"kaiming_normal\", gain = 1.0 }",
                });
            }
            let target = TargetTimescales {
                tau_mem_s: layer.spec.tau_mem_ms * 1e-3,
                tau_syn_s: layer.spec.tau_syn_ms * 1e-3,
                dt_s,
                lookahead: layer.spec.lookahead(),
            };
            let input_gain = match (index, init) {
                (
                    0,
                    WeightInit::KaimingNormal {
                        input_gain: Some(gain),
                        ..
                    },
                ) => Some(*gain),
                _ => None,
            };
            if layer.conv.is_some() {
                draw_conv(layer, init, &target, input_gain, rng)?;
                continue;
            }
            let n_rec = layer.w_rec.as_ref().map(|w| w.rows);
            let (mut ff, rec) = layer_stats(init, layer.w_in.rows, n_rec, &target)?;
            if let Some(gain) = input_gain {
                ff.std = kaiming_normal(layer.w_in.rows, gain)?;
            }
            layer.mask_in = draw(&mut layer.w_in, ff, layer.spec.density_ff, rng)?;
            if let (Some(w), Some(rec)) = (&mut layer.w_rec, rec) {
                layer.mask_rec = draw(w, rec, layer.spec.density_rec, rng)?;
            }
        }
        if !self.readout.has_weights() {
            return Ok(());
        }
        let spec = &self.readout.spec;
        let target = TargetTimescales {
            tau_mem_s: spec.tau_mem_ms * 1e-3,
            tau_syn_s: spec.tau_syn_ms * 1e-3,
            dt_s,
            lookahead: None,
        };
        let (ff, _) = layer_stats(init, self.readout.w.rows, None, &target)?;
        draw(&mut self.readout.w, ff, 1.0, rng)?;
        Ok(())
    }
}

/// The fluctuation-driven initializer a `FluctuationDriven` init names.
fn fluctuation_driven(init: &WeightInit) -> FluctuationDriven {
    let WeightInit::FluctuationDriven {
        sigma_u,
        mu_u,
        nu_hz,
        alpha,
        epsilon,
    } = *init
    else {
        unreachable!("called on a fluctuation-driven init")
    };
    FluctuationDriven {
        sigma_u,
        mu_u,
        nu_hz,
        alpha,
        epsilon,
    }
}

/// Feed-forward and recurrent weight statistics of one layer.
fn layer_stats(
    init: &WeightInit,
    n_ff: usize,
    n_rec: Option<usize>,
    target: &TargetTimescales,
) -> Result<(WeightStats, Option<WeightStats>), InitError> {
    match *init {
        WeightInit::FluctuationDriven { .. } => {
            let fd = fluctuation_driven(init);
            let stats = fd.layer_stats(n_ff, n_rec, target)?;
            Ok((stats.feed_forward, stats.recurrent))
        }
        WeightInit::KaimingNormal { gain, .. } => {
            let normal =
                |fan_in| kaiming_normal(fan_in, gain).map(|std| WeightStats { mean: 0.0, std });
            Ok((normal(n_ff)?, n_rec.map(normal).transpose()?))
        }
    }
}

/// Fills `w` from `stats`; with `density < 1`, also draws and applies a mask and returns it.
fn draw<F: Real, R: Rng>(
    w: &mut Matrix<F>,
    stats: WeightStats,
    density: f64,
    rng: &mut R,
) -> Result<Option<Vec<F>>, InitError> {
    fill_normal(w, stats.mean, stats.std / density.sqrt(), rng)?;
    if density >= 1.0 {
        return Ok(None);
    }
    let mask: Vec<F> = sparse_mask(w.rows, w.cols, density, rng)?
        .into_iter()
        .map(|keep| if keep { F::one() } else { F::zero() })
        .collect();
    w.data.iter_mut().zip(&mask).for_each(|(w, &m)| *w *= m);
    Ok(Some(mask))
}

/// Draws a convolutional layer's kernels as a dense layer's weights with the kernels' fan-in
/// (`in_channels / groups · kernel` inputs per neuron; `filters · recurrent_kernel` for the
/// recurrent kernel), then builds its matrices.
fn draw_conv<F: Real, R: Rng>(
    layer: &mut SpikingLayer<F>,
    init: &WeightInit,
    target: &TargetTimescales,
    input_gain: Option<f64>,
    rng: &mut R,
) -> Result<(), InitError> {
    let conv = layer.conv.as_mut().expect("a convolutional layer");
    let n_rec = conv.recurrent.as_ref().map(|k| k.fan_in());
    // A pooled output sums `pooled_fan_in` inputs, each times the pooling's coefficient `c`:
    // the draws for that many inputs, divided by `c`, give it an unpooled sum's statistics.
    let spec = conv.input.conv;
    let fan_in = spec.pooled_fan_in();
    let (mut ff, rec) = layer_stats(init, fan_in, n_rec, target)?;
    if let Some(gain) = input_gain {
        ff.std = kaiming_normal(fan_in, gain)?;
    }
    let c: f64 = spec.pool_coefficient();
    ff.mean /= c;
    ff.std /= c;
    fill_kernel(&mut conv.input.kernel, ff, rng)?;
    if let (Some(k), Some(rec)) = (&mut conv.recurrent, rec) {
        fill_kernel(&mut k.kernel, rec, rng)?;
    }
    layer.rebuild_conv();
    Ok(())
}

/// Fills a kernel from `stats`.
fn fill_kernel<F: Real, R: Rng>(
    kernel: &mut Vec<F>,
    stats: WeightStats,
    rng: &mut R,
) -> Result<(), InitError> {
    let mut m = Matrix::from_vec(1, kernel.len(), std::mem::take(kernel)).expect("one row");
    fill_normal(&mut m, stats.mean, stats.std, rng)?;
    *kernel = m.data;
    Ok(())
}

/// Draws a Dale's-law layer's non-negative weights: exponential, with the fluctuation-driven
/// means of [`FluctuationDriven::dale_means`]; under Kaiming normal init, the magnitudes of
/// Kaiming normal weights. A layer that is not recurrent keeps its excitatory rows of `W_rec`
/// at zero.
fn draw_dale<F: Real, R: Rng>(
    layer: &mut SpikingLayer<F>,
    init: &WeightInit,
    dt_s: f64,
    rng: &mut R,
) -> Result<(), InitError> {
    let spec = &layer.spec;
    let dale = spec.dale.expect("a Dale's-law layer");
    let (exc, n) = (spec.size, spec.neurons());
    let inputs = layer.w_in.rows;
    let (input, rec, inh, exponential) = match *init {
        WeightInit::FluctuationDriven { .. } => {
            let fd = fluctuation_driven(init);
            let afferents = DaleAfferents {
                inputs,
                exc,
                inh: n - exc,
                recurrent: spec.recurrent,
            };
            let tau = DaleTimescales {
                tau_mem_s: spec.tau_mem_ms * 1e-3,
                tau_exc_s: dale.tau_exc_ms * 1e-3,
                tau_inh_s: dale.tau_inh_ms * 1e-3,
                dt_s,
            };
            let m = fd.dale_means(&afferents, &tau)?;
            (m.input, m.exc.unwrap_or(0.0), m.inh, true)
        }
        WeightInit::KaimingNormal { gain, .. } => (
            kaiming_normal(inputs, gain)?,
            kaiming_normal(exc, gain)?,
            kaiming_normal(n - exc, gain)?,
            false,
        ),
    };
    let mut sample = |scale: f64| -> F {
        let z: f64 = if exponential {
            rng.sample(Exp1)
        } else {
            rng.sample::<f64, _>(StandardNormal).abs()
        };
        F::from_f64(scale * z)
    };
    layer.w_in.data.iter_mut().for_each(|w| *w = sample(input));
    let recurrent = spec.recurrent;
    let w = layer.w_rec.as_mut().expect("a Dale's-law layer has W_rec");
    for (k, w) in w.data.iter_mut().enumerate() {
        *w = match (k / n < exc, recurrent) {
            (true, true) => sample(rec),
            (true, false) => F::zero(),
            (false, _) => sample(inh),
        };
    }
    Ok(())
}
