//! The integer parameters of one layer, built from a float layer and its int8 weights.

use super::fixed::{decay_multiplier, Requant, FRAC_BITS};
use super::IntegerError;
use crate::layers::{NeuronKind, Readout, SpikingLayer};
use crate::neurons::{decay, ResetMode};
use crate::quant::{QuantizedNetwork, QuantizedTensor};

/// An int8 weight matrix `[rows, cols]` (row `i`: the weights from input `i`) and the
/// requantisation of its accumulator into the state format of the layer it drives.
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerWeights {
    /// The tensor's name (`hidden.0.w_in`, `readout.w`, ...).
    pub name: String,
    /// Input channels.
    pub rows: usize,
    /// Output neurons.
    pub cols: usize,
    /// The int8 values, row-major (`w ≈ q · scale`).
    pub values: Vec<i8>,
    /// The dequantisation scale of the values.
    pub scale: f32,
    /// `scale · 2¹⁶ / θ`: one accumulator step in state units.
    pub requant: Requant,
}

impl IntegerWeights {
    /// The int8 matrix `name` of `quantized`, driving states in units of `unit` (`θ`, or 1).
    fn new(quantized: &QuantizedNetwork, name: &str, unit: f32) -> Result<Self, IntegerError> {
        let q: &QuantizedTensor = quantized
            .weight(name)
            .ok_or_else(|| IntegerError::Unsupported(format!("{name}: no int8 weights")))?;
        let [rows, cols] = q.shape[..] else {
            return Err(IntegerError::Unsupported(format!(
                "{name}: shape {:?} is not a matrix",
                q.shape
            )));
        };
        // Every accumulator of this matrix stays in i32: at most 127 per input row.
        if (rows as u64) * 127 > i32::MAX as u64 {
            return Err(IntegerError::Unsupported(format!(
                "{name}: {rows} inputs could overflow an i32 accumulator"
            )));
        }
        let real = f64::from(q.scale) * f64::from(1u32 << FRAC_BITS) / f64::from(unit);
        Ok(Self {
            name: name.to_string(),
            rows,
            cols,
            values: q.values.clone(),
            scale: q.scale,
            requant: Requant::new(name, real)?,
        })
    }

    /// The weights from input `i` to every output.
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[i8] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }
}

/// Per-neuron decay multipliers in `Q0.16`: `α = round(exp(−dt/τ_syn) · 2¹⁶)`,
/// `β = round(exp(−dt/τ_mem) · 2¹⁶)`; `1 − β` is `2¹⁶ − β`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegerDecays {
    /// Synaptic decay multipliers.
    pub alpha: Vec<i32>,
    /// Membrane decay multipliers.
    pub beta: Vec<i32>,
}

impl IntegerDecays {
    /// The multipliers of the float model's own `f32` decays `exp(−dt/τ)`.
    fn new(dt_s: f32, tau_syn_s: &[f32], tau_mem_s: &[f32]) -> Self {
        let multipliers = |taus: &[f32]| {
            taus.iter()
                .map(|&tau| decay_multiplier(decay(dt_s, tau)))
                .collect()
        };
        Self {
            alpha: multipliers(tau_syn_s),
            beta: multipliers(tau_mem_s),
        }
    }
}

/// A hidden layer of current-based LIF neurons in integers; its states are in units of its
/// threshold `θ` (the threshold is [`super::STATE_ONE`]).
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerLayer {
    /// Feed-forward weights `[inputs, size]`.
    pub w_in: IntegerWeights,
    /// Recurrent weights `[size, size]`, when the layer has them.
    pub w_rec: Option<IntegerWeights>,
    /// The decays.
    pub decays: IntegerDecays,
    /// The float threshold `θ`: the unit of the states.
    pub threshold: f32,
    /// What a spike does to the membrane.
    pub reset: ResetMode,
}

impl IntegerLayer {
    /// Layer `k` of the float network (its int8 weights in `quantized`); only LIF neurons.
    pub(super) fn new(
        k: usize,
        layer: &SpikingLayer<f32>,
        quantized: &QuantizedNetwork,
    ) -> Result<Self, IntegerError> {
        let (NeuronKind::Lif, Some(tau_syn), Some(tau_mem)) = (
            layer.spec.neuron,
            layer.neuron_param("tau_syn_s"),
            layer.neuron_param("tau_mem_s"),
        ) else {
            return Err(IntegerError::Unsupported(format!(
                "hidden layer {k} has {:?} neurons; integer inference supports the current-based \
                 LIF (neuron = {{ kind = \"lif\" }})",
                layer.spec.neuron
            )));
        };
        let threshold = layer.spec.threshold as f32;
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(IntegerError::Unsupported(format!(
                "hidden layer {k}: threshold {threshold} is not a positive finite number"
            )));
        }
        let w_rec = match &layer.w_rec {
            Some(_) => Some(IntegerWeights::new(
                quantized,
                &format!("hidden.{k}.w_rec"),
                threshold,
            )?),
            None => None,
        };
        Ok(Self {
            w_in: IntegerWeights::new(quantized, &format!("hidden.{k}.w_in"), threshold)?,
            w_rec,
            decays: IntegerDecays::new(layer.dt_s, tau_syn, tau_mem),
            threshold,
            reset: layer.spec.reset,
        })
    }

    /// Number of neurons.
    pub fn size(&self) -> usize {
        self.w_in.cols
    }
}

/// The leaky readout in integers; its states are in the float model's units (`θ = 1`).
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerReadout {
    /// Weights `[inputs, size]`.
    pub w: IntegerWeights,
    /// The decays.
    pub decays: IntegerDecays,
}

impl IntegerReadout {
    /// The leaky readout of the float network (its int8 weights in `quantized`).
    pub(super) fn new(
        readout: &Readout<f32>,
        quantized: &QuantizedNetwork,
    ) -> Result<Self, IntegerError> {
        if readout.spec.head_count() > 1 {
            return Err(IntegerError::Unsupported(
                "network.readout.heads: a readout averaging several heads".into(),
            ));
        }
        Ok(Self {
            w: IntegerWeights::new(quantized, "readout.w", 1.0)?,
            decays: IntegerDecays::new(readout.dt_s, &readout.tau_syn_s, &readout.tau_mem_s),
        })
    }

    /// Number of readout units.
    pub fn size(&self) -> usize {
        self.w.cols
    }
}
