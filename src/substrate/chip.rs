//! A chip's fixed pattern of variation, and the device network it makes of a nominal one.

use super::{Spread, SubstrateConfig, SubstrateError};
use crate::data::rng;
use crate::layers::{ReadoutKind, SpikingLayer};
use crate::network::Network;
use crate::neurons::{NeuronKind, ResetMode};
use crate::real::Real;
use crate::tensor::Matrix;
use rand_chacha::ChaCha8Rng;

/// The fixed pattern of one hidden layer (one entry per neuron, or per synapse for gains).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LayerPattern {
    pub(super) tau_mem: Vec<f64>,
    pub(super) tau_syn: Vec<f64>,
    /// `θ_i / θ`.
    pub(super) threshold: Vec<f64>,
    /// Leak-potential offsets in units of `θ`.
    pub(super) leak: Vec<f64>,
    pub(super) gain_in: Vec<f64>,
    pub(super) gain_rec: Option<Vec<f64>>,
}

/// The fixed pattern of the readout.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ReadoutPattern {
    pub(super) tau_mem: Vec<f64>,
    pub(super) tau_syn: Vec<f64>,
    pub(super) gain: Vec<f64>,
}

/// One emulated chip: its settings and the fixed pattern drawn from its seed for a network of
/// a given shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Chip {
    /// The settings it was drawn with.
    pub config: SubstrateConfig,
    pub(super) hidden: Vec<LayerPattern>,
    pub(super) readout: ReadoutPattern,
}

/// A nominal network as the chip runs it: device weights and time constants, and per hidden
/// layer the constant input current of the leak offsets and the current noise's deviation
/// (all in units normalised to each neuron's threshold, see the module comment).
#[derive(Clone, Debug)]
pub struct Device<F: Real> {
    /// The network with the device's weights and time constants.
    pub net: Network<F>,
    /// Per hidden layer, per neuron: the constant input current of its leak offset.
    pub offsets: Vec<Vec<F>>,
    /// Per hidden layer, per neuron: the deviation of its input-current noise per step.
    pub noise_std: Vec<Vec<F>>,
}

/// Draws `n` factors of spread `sigma`.
fn factors(rng: &mut ChaCha8Rng, n: usize, sigma: f64, spread: Spread) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let z = rng::normal(rng);
            match spread {
                Spread::LogNormal => (sigma * z).exp(),
                Spread::Normal => (1.0 + sigma * z).max(0.05),
            }
        })
        .collect()
}

impl Chip {
    /// Draws chip `config.chip_seed`'s pattern for the shape of `net`.
    pub fn draw<F: Real>(
        config: &SubstrateConfig,
        net: &Network<F>,
    ) -> Result<Self, SubstrateError> {
        config.validate()?;
        check_supported(net)?;
        let mut rng = rng::seeded(config.chip_seed);
        let c = config;
        let hidden =
            net.hidden
                .iter()
                .map(|layer| {
                    let n = layer.size();
                    LayerPattern {
                        tau_mem: factors(&mut rng, n, c.tau_mem_spread, c.spread),
                        tau_syn: factors(&mut rng, n, c.tau_syn_spread, c.spread),
                        threshold: factors(&mut rng, n, c.threshold_spread, c.spread),
                        leak: (0..n)
                            .map(|_| c.leak_spread * rng::normal(&mut rng))
                            .collect(),
                        gain_in: factors(
                            &mut rng,
                            layer.w_in.data.len(),
                            c.synapse_gain_spread,
                            c.spread,
                        ),
                        gain_rec: layer.w_rec.as_ref().map(|w| {
                            factors(&mut rng, w.data.len(), c.synapse_gain_spread, c.spread)
                        }),
                    }
                })
                .collect();
        let units = net.readout.tau_mem_s.len();
        let readout = ReadoutPattern {
            tau_mem: factors(&mut rng, units, c.tau_mem_spread, c.spread),
            tau_syn: factors(&mut rng, units, c.tau_syn_spread, c.spread),
            gain: factors(
                &mut rng,
                net.readout.w.data.len(),
                c.synapse_gain_spread,
                c.spread,
            ),
        };
        Ok(Self {
            config: *config,
            hidden,
            readout,
        })
    }

    /// The device network of `nominal` on this chip (its weights quantised, scaled by the
    /// gains and by `1/r_i`; its time constants scaled by the factors).
    pub fn device<F: Real>(&self, nominal: &Network<F>) -> Result<Device<F>, SubstrateError> {
        check_supported(nominal)?;
        if nominal.hidden.len() != self.hidden.len() {
            return Err(SubstrateError::Shape(format!(
                "{} hidden layers, the chip has {}",
                nominal.hidden.len(),
                self.hidden.len()
            )));
        }
        let mut net = nominal.clone();
        let mut offsets = Vec::with_capacity(self.hidden.len());
        let mut noise_std = Vec::with_capacity(self.hidden.len());
        for (k, (layer, pattern)) in net.hidden.iter_mut().zip(&self.hidden).enumerate() {
            let (o, s) = self.device_layer(k, layer, pattern)?;
            offsets.push(o);
            noise_std.push(s);
        }
        self.device_readout(&mut net)?;
        Ok(Device {
            net,
            offsets,
            noise_std,
        })
    }

    /// Turns one hidden layer into its device version; returns its offsets and noise.
    fn device_layer<F: Real>(
        &self,
        k: usize,
        layer: &mut SpikingLayer<F>,
        p: &LayerPattern,
    ) -> Result<(Vec<F>, Vec<F>), SubstrateError> {
        let n = layer.size();
        let shape_error = || SubstrateError::Shape(format!("hidden layer {k} differs in size"));
        if p.tau_mem.len() != n || p.gain_in.len() != layer.w_in.data.len() {
            return Err(shape_error());
        }
        let bits = self.config.weight_bits;
        device_matrix(&mut layer.w_in, &p.gain_in, &p.threshold, bits);
        match (layer.w_rec.as_mut(), p.gain_rec.as_ref()) {
            (Some(w), Some(g)) if g.len() == w.data.len() => {
                device_matrix(w, g, &p.threshold, bits);
            }
            (None, None) => {}
            _ => return Err(shape_error()),
        }
        scale_param(layer, "tau_mem_s", &p.tau_mem, k)?;
        scale_param(layer, "tau_syn_s", &p.tau_syn, k)?;
        let dt_s = layer.dt_s.as_f64();
        let theta = layer.spec.threshold;
        let tau_syn = layer.neuron_param("tau_syn_s").unwrap_or(&[]);
        let offsets = (0..n)
            .map(|i| {
                let alpha = (-dt_s / tau_syn[i].as_f64()).exp();
                F::from_f64(p.leak[i] * theta * (1.0 - alpha) / p.threshold[i])
            })
            .collect();
        let noise = (0..n)
            .map(|i| F::from_f64(self.config.current_noise * theta / p.threshold[i]))
            .collect();
        Ok((offsets, noise))
    }

    /// The readout's device weights and time constants.
    fn device_readout<F: Real>(&self, net: &mut Network<F>) -> Result<(), SubstrateError> {
        let r = &mut net.readout;
        let p = &self.readout;
        if p.gain.len() != r.w.data.len() || p.tau_mem.len() != r.tau_mem_s.len() {
            return Err(SubstrateError::Shape("the readout differs in size".into()));
        }
        let ones = vec![1.0; r.w.cols];
        device_matrix(&mut r.w, &p.gain, &ones, self.config.weight_bits);
        for (tau, &f) in r.tau_mem_s.iter_mut().zip(&p.tau_mem) {
            *tau *= F::from_f64(f);
        }
        for (tau, &f) in r.tau_syn_s.iter_mut().zip(&p.tau_syn) {
            *tau *= F::from_f64(f);
        }
        Ok(())
    }
}

/// Quantises `w` (`[inputs, neurons]`) to `bits`, multiplies by the gains and divides column
/// `i` by `threshold[i]`.
fn device_matrix<F: Real>(w: &mut Matrix<F>, gains: &[f64], threshold: &[f64], bits: u32) {
    quantise(&mut w.data, bits);
    let cols = w.cols;
    for (idx, (v, &g)) in w.data.iter_mut().zip(gains).enumerate() {
        *v = F::from_f64(v.as_f64() * g / threshold[idx % cols]);
    }
}

/// Symmetric per-matrix quantisation to `bits` signed bits (`0`: unchanged):
/// `s = max|w| / (2^(bits−1) − 1)`, `w ← round(w/s)·s`.
pub(crate) fn quantise<F: Real>(w: &mut [F], bits: u32) {
    if bits == 0 {
        return;
    }
    let levels = f64::from((1u32 << (bits - 1)) - 1);
    let max = w.iter().fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
    if max == 0.0 || !max.is_finite() {
        return;
    }
    let step = max / levels;
    for v in w.iter_mut() {
        *v = F::from_f64((v.as_f64() / step).round() * step);
    }
}

/// Multiplies the neurons' parameter `name` by `factors`.
fn scale_param<F: Real>(
    layer: &mut SpikingLayer<F>,
    name: &str,
    factors: &[f64],
    k: usize,
) -> Result<(), SubstrateError> {
    let values = layer
        .neuron_param_mut(name)
        .ok_or_else(|| SubstrateError::Unsupported {
            what: format!("hidden layer {k}: its neurons have no `{name}`"),
        })?;
    for (v, &f) in values.iter_mut().zip(factors) {
        *v *= F::from_f64(f);
    }
    Ok(())
}

/// The emulation models LIF hidden layers on spike input (see the module comment).
fn check_supported<F: Real>(net: &Network<F>) -> Result<(), SubstrateError> {
    if net.encoder.is_some() {
        return Err(SubstrateError::Unsupported {
            what: "a network with an analog-input encoder (give it spikes)".into(),
        });
    }
    for (k, layer) in net.hidden.iter().enumerate() {
        if layer.spec.neuron != NeuronKind::Lif {
            return Err(SubstrateError::Unsupported {
                what: format!(
                    "hidden layer {k}: {:?} neurons (only LIF neurons, whose threshold \
                     variation it emulates exactly)",
                    layer.spec.neuron
                ),
            });
        }
        if layer.spec.reset != ResetMode::Zero {
            return Err(SubstrateError::Unsupported {
                what: format!(
                    "hidden layer {k}: reset = \"{}\" (the chip's neurons reset to zero)",
                    layer.spec.reset.name()
                ),
            });
        }
    }
    if net.readout.spec.kind == ReadoutKind::Integrator {
        return Err(SubstrateError::Unsupported {
            what: "an integrator readout (the chip's readout units leak)".into(),
        });
    }
    Ok(())
}
