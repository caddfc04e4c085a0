//! An emulated analog neuromorphic substrate, for training with the device in the loop
//! (Cramer et al., "Surrogate gradients for analog neuromorphic computing", PNAS 2022,
//! BrainScaleS-2).
//!
//! A *chip* is a seed: it fixes a pattern of variation that every run on it sees the same way
//! ([`Chip::draw`]):
//!
//! - each hidden neuron's `τ_mem`, `τ_syn` and threshold `θ` are multiplied by a factor of
//!   spread `tau_mem_spread`, `tau_syn_spread`, `threshold_spread`, and it has a leak-potential
//!   offset `u_leak` (normal, `leak_spread` in units of `θ`); readout units get the `τ` factors;
//! - every synapse's weight is multiplied by a gain of spread `synapse_gain_spread`, after the
//!   weight matrix is quantised to `weight_bits` signed bits with a symmetric per-matrix scale
//!   (BrainScaleS-2: 6 bits, `−63..=63`);
//! - every hidden neuron's input current gets white noise of deviation `current_noise` (in
//!   units of `θ`) at every step, drawn afresh for every run (the temporal noise; it reaches
//!   the membrane through the synaptic current).
//!
//! Factors are log-normal (`exp(σ z)`, median 1) or normal (`1 + σ z`, floored at 0.05).
//!
//! The emulation runs the library's own network on device parameters ([`Device`]). A
//! threshold `θ_i = r_i θ` is emulated exactly by dividing neuron `i`'s inputs (weights,
//! offset, noise) by `r_i`: the LIF is linear below threshold and resets by multiplication, so
//! its membrane is the device's divided by `r_i`, and it crosses `θ` when the device's crosses
//! `θ_i`. The recorded membrane is thus the device's, normalised to its threshold, as a
//! calibrated measurement of the chip would give it. A leak-potential offset `u_leak` enters
//! as the constant input current `u_leak (1 − α_i)` that moves the resting membrane by
//! exactly `u_leak`.
//!
//! In the loop ([`crate::rules::InTheLoop`]): the forward pass runs on the device and its
//! trajectory (membranes, spikes, readout traces) is recorded. The backward pass runs the
//! nominal model's adjoint on that recorded trajectory: surrogate derivatives at the recorded
//! membranes, the nominal decays and weights. The gradient is applied to the nominal weights
//! (straight through the quantisation and the gains), so training corrects for the chip it
//! runs on.

mod chip;
mod forward;

#[cfg(test)]
mod tests;

pub use chip::{Chip, Device};

use crate::error::{check_non_negative, ConfigError};
use serde::{Deserialize, Serialize};

/// How the fixed-pattern factors are distributed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// `exp(σ z)`, `z ~ N(0, 1)`: positive, median 1.
    #[default]
    LogNormal,
    /// `max(1 + σ z, 0.05)`.
    Normal,
}

/// The `[substrate]` section: the emulated chip and its imperfections.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubstrateConfig {
    /// The chip (seeds its fixed pattern).
    pub chip_seed: u64,
    /// How factors are distributed.
    pub spread: Spread,
    /// Spread of each hidden and readout unit's `τ_mem` factor.
    pub tau_mem_spread: f64,
    /// Spread of each hidden and readout unit's `τ_syn` factor.
    pub tau_syn_spread: f64,
    /// Spread of each hidden neuron's threshold factor.
    pub threshold_spread: f64,
    /// Deviation of each hidden neuron's leak-potential offset, in units of the threshold.
    pub leak_spread: f64,
    /// Spread of each synapse's gain.
    pub synapse_gain_spread: f64,
    /// Signed bits of the weights (`2^(bits−1) − 1` levels each side); `0`: not quantised.
    pub weight_bits: u32,
    /// Deviation of the white noise on every hidden neuron's input current per step, in units
    /// of the threshold.
    pub current_noise: f64,
}

impl Default for SubstrateConfig {
    /// An uncalibrated analog chip: 20% spread of time constants and synaptic gains, 10% of
    /// thresholds, leak offsets of 5% of the threshold, 6-bit weights, current noise 0.02.
    fn default() -> Self {
        Self {
            chip_seed: 0,
            spread: Spread::LogNormal,
            tau_mem_spread: 0.2,
            tau_syn_spread: 0.2,
            threshold_spread: 0.1,
            leak_spread: 0.05,
            synapse_gain_spread: 0.2,
            weight_bits: 6,
            current_noise: 0.02,
        }
    }
}

impl SubstrateConfig {
    /// No variation, no quantisation, no noise: the device is the nominal model.
    pub fn ideal() -> Self {
        Self {
            tau_mem_spread: 0.0,
            tau_syn_spread: 0.0,
            threshold_spread: 0.0,
            leak_spread: 0.0,
            synapse_gain_spread: 0.0,
            weight_bits: 0,
            current_noise: 0.0,
            ..Self::default()
        }
    }

    /// `Ok` if every setting can be used.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("substrate.tau_mem_spread", self.tau_mem_spread),
            ("substrate.tau_syn_spread", self.tau_syn_spread),
            ("substrate.threshold_spread", self.threshold_spread),
            ("substrate.leak_spread", self.leak_spread),
            ("substrate.synapse_gain_spread", self.synapse_gain_spread),
            ("substrate.current_noise", self.current_noise),
        ] {
            check_non_negative(field, value)?;
        }
        if self.weight_bits == 1 || self.weight_bits > 16 {
            return Err(ConfigError::new(
                "substrate.weight_bits",
                format!(
                    "must be 0 (not quantised) or 2..=16, got {}",
                    self.weight_bits
                ),
            ));
        }
        Ok(())
    }
}

/// Why a network cannot run on the emulated substrate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubstrateError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A part of the network the emulation does not model.
    #[error("the substrate emulation cannot run {what}")]
    Unsupported {
        /// What, naming the layer.
        what: String,
    },
    /// The network differs in shape from the one the chip was drawn for.
    #[error("the chip was drawn for another network: {0}")]
    Shape(String),
}
