//! Declarative descriptions of layers (what a config file says).

use super::conv::ConvLayerSpec;
use crate::error::{check_count, check_non_negative, check_positive, check_range, ConfigError};
use crate::neurons::{NeuronKind, ResetGrad, ResetMode};
use serde::{Deserialize, Serialize};

/// A hidden layer of spiking neurons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikingLayerSpec {
    /// Number of neurons.
    pub size: usize,
    /// Neuron model.
    pub neuron: NeuronKind,
    /// Membrane time constant.
    pub tau_mem_ms: f64,
    /// Synaptic time constant.
    pub tau_syn_ms: f64,
    /// Heterogeneity at init: each neuron's τ is `τ·exp(spread·N(0,1))` (0 = homogeneous).
    pub tau_spread: f64,
    /// Whether the per-neuron time constants are trained.
    pub learn_tau: bool,
    /// Whether the layer has recurrent weights `W_rec`.
    pub recurrent: bool,
    /// Dropout probability applied to the layer's output spikes during training.
    pub dropout: f64,
    /// Fraction of feed-forward connections that exist (1 = dense).
    pub density_ff: f64,
    /// Fraction of recurrent connections that exist (1 = dense).
    pub density_rec: f64,
    /// Firing threshold.
    pub threshold: f64,
    /// What a spike does to the membrane: `"zero"`, or `"subtract"` or
    /// `"subtract_after_leak"` (LIF and IF neurons).
    pub reset: ResetMode,
    /// Whether the reset is differentiated.
    pub reset_grad: ResetGrad,
    /// Whether the feed-forward projection has a learnable bias `b_in` (`x = in·W_in + b_in`),
    /// zero at init.
    pub bias: bool,
    /// A Dale's-law layer of excitatory and inhibitory populations (`size` excitatory neurons
    /// and `size / ei_ratio` inhibitory ones, [`crate::layers::dale`]); `neuron` and
    /// `tau_syn_ms` are then unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dale: Option<DaleSpec>,
    /// A convolutional layer ([`crate::layers::conv`]): the input projection (and, when
    /// `recurrent`, the recurrent one) is a 1-D convolution, its neurons a `filters ×
    /// positions` map; `size` is derived from the input ([`crate::network::NetworkSpec::resolve_conv_sizes`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvLayerSpec>,
    /// Delay of each input unit in time steps before the projection ([`crate::layers::delay`];
    /// NIR's `Delay`); empty: none. One entry per input unit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_delay_steps: Vec<usize>,
}

/// A hidden layer whose weights have a structure some parts of the library do not handle
/// (they refuse it by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// A Dale's-law layer.
    Dale,
    /// A convolutional layer.
    Conv,
    /// A layer with input delays.
    Delays,
}

impl Structure {
    /// The spec's field that asks for it (`dale`, `conv`).
    pub fn field(&self) -> &'static str {
        match self {
            Structure::Dale => "dale",
            Structure::Conv => "conv",
            Structure::Delays => "input_delay_steps",
        }
    }

    /// What it is called in errors ("Dale's-law layers").
    pub fn layers(&self) -> &'static str {
        match self {
            Structure::Dale => "Dale's-law layers",
            Structure::Conv => "convolutional layers",
            Structure::Delays => "layers with input delays",
        }
    }
}

/// The excitatory and inhibitory populations of a Dale's-law layer
/// (`dale = { ei_ratio = 4, tau_exc_ms = 10, tau_inh_ms = 20 }`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaleSpec {
    /// Excitatory neurons per inhibitory one (stork's `DalianLayer`: 4).
    pub ei_ratio: usize,
    /// Excitatory synaptic time constant.
    pub tau_exc_ms: f64,
    /// Inhibitory synaptic time constant.
    pub tau_inh_ms: f64,
}

impl Default for DaleSpec {
    fn default() -> Self {
        Self {
            ei_ratio: 4,
            tau_exc_ms: 10.0,
            tau_inh_ms: 20.0,
        }
    }
}

impl Default for SpikingLayerSpec {
    fn default() -> Self {
        Self {
            size: 128,
            neuron: NeuronKind::Lif,
            tau_mem_ms: 20.0,
            tau_syn_ms: 10.0,
            tau_spread: 0.0,
            learn_tau: false,
            recurrent: false,
            dropout: 0.0,
            density_ff: 1.0,
            density_rec: 1.0,
            threshold: 1.0,
            reset: ResetMode::Zero,
            reset_grad: ResetGrad::Detached,
            bias: false,
            dale: None,
            conv: None,
            input_delay_steps: Vec::new(),
        }
    }
}

impl SpikingLayerSpec {
    /// Number of neurons: `size`, and in a Dale's-law layer its `size / ei_ratio` inhibitory
    /// neurons after them (only the first `size` project out of the layer).
    pub fn neurons(&self) -> usize {
        self.size + self.inhibitory()
    }

    /// The structure of the layer's weights, when they have one (Dale's law, convolutions).
    pub fn structure(&self) -> Option<Structure> {
        if self.dale.is_some() {
            Some(Structure::Dale)
        } else if self.conv.is_some() {
            Some(Structure::Conv)
        } else if !self.input_delay_steps.is_empty() {
            Some(Structure::Delays)
        } else {
            None
        }
    }

    /// Number of inhibitory neurons (0 outside a Dale's-law layer).
    pub fn inhibitory(&self) -> usize {
        self.dale.map_or(0, |d| self.size / d.ei_ratio.max(1))
    }

    /// The look-ahead of a layer of prospective neurons (its horizon resolved); `None` for
    /// other models.
    pub fn lookahead(&self) -> Option<crate::initializers::Lookahead> {
        match self.neuron {
            NeuronKind::Prospective {
                tau_ada_ms,
                horizon_ms,
                ..
            } => Some(crate::initializers::Lookahead {
                tau_ada_s: tau_ada_ms * 1e-3,
                horizon_s: horizon_ms.unwrap_or(self.tau_syn_ms + self.tau_mem_ms) * 1e-3,
            }),
            _ => None,
        }
    }

    /// Checks every field; `at` prefixes field names in errors.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_count(&format!("{at}.size"), self.size)?;
        check_positive(&format!("{at}.tau_mem_ms"), self.tau_mem_ms)?;
        check_positive(&format!("{at}.tau_syn_ms"), self.tau_syn_ms)?;
        check_non_negative(&format!("{at}.tau_spread"), self.tau_spread)?;
        check_range(&format!("{at}.dropout"), self.dropout, 0.0, 1.0, false)?;
        check_range(&format!("{at}.density_ff"), self.density_ff, 0.0, 1.0, true)?;
        check_range(
            &format!("{at}.density_rec"),
            self.density_rec,
            0.0,
            1.0,
            true,
        )?;
        check_positive(&format!("{at}.density_ff"), self.density_ff)?;
        check_positive(&format!("{at}.density_rec"), self.density_rec)?;
        check_positive(&format!("{at}.threshold"), self.threshold)?;
        if let NeuronKind::Prospective {
            horizon_ms: Some(h),
            ..
        } = self.neuron
        {
            if h == 0.0 && self.learn_tau {
                return Err(ConfigError::new(
                    format!("{at}.neuron.horizon_ms"),
                    "a zero horizon (a leaky neuron) cannot be learned: set learn_tau = false",
                ));
            }
        }
        if let Some(dale) = self.dale {
            let at = format!("{at}.dale");
            check_count(&format!("{at}.ei_ratio"), dale.ei_ratio)?;
            check_positive(&format!("{at}.tau_exc_ms"), dale.tau_exc_ms)?;
            check_positive(&format!("{at}.tau_inh_ms"), dale.tau_inh_ms)?;
            if self.inhibitory() == 0 {
                return Err(ConfigError::new(
                    format!("{at}.ei_ratio"),
                    format!(
                        "{} exceeds the layer's size {}: no inhibitory neuron",
                        dale.ei_ratio, self.size
                    ),
                ));
            }
            if self.neuron != NeuronKind::Lif {
                return Err(ConfigError::new(
                    at.replace(".dale", ".neuron"),
                    "a Dale's-law layer's neurons are the excitatory-inhibitory LIF: leave neuron out",
                ));
            }
            if self.density_ff < 1.0 || self.density_rec < 1.0 {
                return Err(ConfigError::new(
                    at.replace(".dale", ".density_ff"),
                    "a Dale's-law layer is dense",
                ));
            }
        }
        if let Some(conv) = &self.conv {
            self.validate_conv(conv, at)?;
        }
        self.validate_reset(at)?;
        self.neuron.validate(&format!("{at}.neuron"))
    }

    /// Reset by subtraction is a mode of the LIF and IF neurons.
    fn validate_reset(&self, at: &str) -> Result<(), ConfigError> {
        let resettable = matches!(self.neuron, NeuronKind::Lif | NeuronKind::IntegrateFire);
        if self.reset == ResetMode::Zero || (resettable && self.dale.is_none()) {
            return Ok(());
        }
        let neurons = match self.dale {
            Some(_) => "Dale's-law".to_string(),
            None => format!("{:?}", self.neuron),
        };
        Err(ConfigError::new(
            format!("{at}.reset"),
            format!(
                "reset = \"{}\" is a mode of the LIF and IF neurons, not of {neurons} \
                 neurons: leave reset out (\"zero\")",
                self.reset.name()
            ),
        ))
    }

    /// A convolutional layer is dense and has no Dale's-law populations.
    fn validate_conv(&self, conv: &ConvLayerSpec, at: &str) -> Result<(), ConfigError> {
        conv.validate(&format!("{at}.conv"))?;
        if self.dale.is_some() {
            return Err(ConfigError::new(
                format!("{at}.dale"),
                "a layer is either convolutional or a Dale's-law layer",
            ));
        }
        if self.density_ff < 1.0 || self.density_rec < 1.0 {
            return Err(ConfigError::new(
                format!("{at}.density_ff"),
                "a convolutional layer's connectivity is its kernel: leave the densities at 1",
            ));
        }
        Ok(())
    }
}

/// What reads the last hidden layer out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    /// Non-spiking leaky integrators of the last hidden layer's spikes; their membrane traces
    /// are the network's output.
    #[default]
    Leaky,
    /// No readout layer: the last hidden layer's spikes are the network's output, so its
    /// neurons are spiking output neurons (SuperSpike's output layer, spike-count or
    /// spike-timing losses). The time constants here are unused.
    Spikes,
    /// Integrators without leak or synapse, `U[t] = U[t−1] + x[t]` (NIR's `I` node; the
    /// time constants here are unused).
    Integrator,
}

/// The readout: leaky integrators (the default) or the last hidden layer's spikes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadoutSpec {
    /// Leaky integrators or spikes.
    pub kind: ReadoutKind,
    /// Number of readout units (classes, or regression outputs; 0 in a config: from the data).
    pub size: usize,
    /// Membrane time constant.
    pub tau_mem_ms: f64,
    /// Synaptic time constant.
    pub tau_syn_ms: f64,
    /// Heterogeneity at init, as in [`SpikingLayerSpec::tau_spread`].
    pub tau_spread: f64,
    /// Whether the per-unit time constants are trained.
    pub learn_tau: bool,
    /// Heads of leaky units, each with its own time constants, whose membranes are averaged
    /// into the output (the bigRSNN of Liu et al. 2024 averages five). Empty: one head with
    /// `tau_mem_ms` and `tau_syn_ms`, which a non-empty list replaces.
    pub heads: Vec<ReadoutHead>,
    /// Whether the projection has a learnable bias `b` per leaky unit (`x = S·W + b`), zero
    /// at init.
    pub bias: bool,
}

/// One head of a readout that averages several ([`ReadoutSpec::heads`]): `size` leaky units
/// with these time constants (spread and learned as the readout's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadoutHead {
    /// Membrane time constant.
    pub tau_mem_ms: f64,
    /// Synaptic time constant.
    pub tau_syn_ms: f64,
}

impl Default for ReadoutSpec {
    fn default() -> Self {
        Self {
            kind: ReadoutKind::Leaky,
            size: 0,
            tau_mem_ms: 20.0,
            tau_syn_ms: 10.0,
            tau_spread: 0.0,
            learn_tau: false,
            heads: Vec::new(),
            bias: false,
        }
    }
}

impl ReadoutSpec {
    /// Checks every field; `at` prefixes field names in errors.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_count(&format!("{at}.size"), self.size)?;
        check_positive(&format!("{at}.tau_mem_ms"), self.tau_mem_ms)?;
        check_positive(&format!("{at}.tau_syn_ms"), self.tau_syn_ms)?;
        check_non_negative(&format!("{at}.tau_spread"), self.tau_spread)?;
        if self.kind == ReadoutKind::Spikes && !self.heads.is_empty() {
            return Err(ConfigError::new(
                format!("{at}.heads"),
                "spiking outputs have no readout heads",
            ));
        }
        if self.kind == ReadoutKind::Integrator && (self.learn_tau || !self.heads.is_empty()) {
            return Err(ConfigError::new(
                format!("{at}.kind"),
                "integrators have no time constants to learn and no heads",
            ));
        }
        if self.kind == ReadoutKind::Spikes && self.bias {
            return Err(ConfigError::new(
                format!("{at}.bias"),
                "spiking outputs have no readout projection",
            ));
        }
        for (k, head) in self.heads.iter().enumerate() {
            check_positive(&format!("{at}.heads[{k}].tau_mem_ms"), head.tau_mem_ms)?;
            check_positive(&format!("{at}.heads[{k}].tau_syn_ms"), head.tau_syn_ms)?;
        }
        Ok(())
    }

    /// The heads' time constants: the listed heads, or one head of the readout's own.
    pub fn head_list(&self) -> Vec<ReadoutHead> {
        if self.heads.is_empty() {
            vec![ReadoutHead {
                tau_mem_ms: self.tau_mem_ms,
                tau_syn_ms: self.tau_syn_ms,
            }]
        } else {
            self.heads.clone()
        }
    }

    /// Number of heads averaged (1 without a list).
    pub fn head_count(&self) -> usize {
        self.heads.len().max(1)
    }
}
