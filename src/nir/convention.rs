//! Discretisation of NIR's continuous-time neurons into this crate's discrete model (see the
//! module documentation of [`crate::nir`] for the equations).

use super::graph::{IfNeurons, Leaky, MetaValue, NirGraph, NodeKind};
use super::NirError;
use crate::neurons::ResetMode;

/// Metadata key of the time step in seconds.
pub const META_DT: &str = "dt";
/// Metadata key of the [`Discretisation`] (`"exponential"` or `"forward_euler"`).
pub const META_DISCRETISATION: &str = "discretisation";
/// Metadata key of the reset rule.
pub const META_RESET: &str = "reset";
/// Metadata key of how input spikes enter the synapse.
pub const META_SPIKE_INPUT: &str = "spike_input";
/// Metadata key naming the program that wrote the file.
pub const META_PRODUCER: &str = "producer";
/// The reset rule this crate simulates, as written to metadata.
pub const RESET_RULE: &str = "after a spike step: v[t] = beta*(v[t-1] - S[t-1]*K) - S[t-1]*C + \
     input; K = v[t-1], C = 0 (reset_mode zero: v_reset), K = v_threshold, C = 0 (subtract) \
     or K = 0, C = v_threshold (subtract_after_leak)";
/// Metadata key of a neuron node's [`ResetMode`] (`"zero"`, `"subtract"` or
/// `"subtract_after_leak"`), which NIR's node types cannot express (they reset to `v_reset`).
pub const META_RESET_MODE: &str = "reset_mode";
/// How input spikes enter, as written to metadata.
pub const SPIKE_INPUT: &str = "dirac: I jumps by w_in/tau_syn per unit input at the step start";

/// Metadata key of how a node's input from non-spiking neuron nodes (a current) enters.
pub const META_CURRENT_INPUT: &str = "current_input";
/// How a current input enters, as written to metadata.
pub const CURRENT_INPUT: &str =
    "held over the step: v[t] = beta*v[t-1]*(1-S[t-1]) + (1-beta)*r*x[t] (x from LI nodes)";

/// Gains this close to 1 are taken as exactly 1 (float32 storage of `r = τ/dt`).
const UNIT_GAIN_TOLERANCE: f64 = 1e-6;

/// How continuous-time equations become one update per time step `dt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discretisation {
    /// Exact decays `exp(−dt/τ)`, Dirac input spikes, membrane fed by the updated current:
    /// this crate's model.
    Exponential,
    /// `x += dt/τ·(−x + gain·input)` per step with input values per step (snnTorch, Norse).
    ForwardEuler,
}

impl Discretisation {
    /// The name written to and read from metadata.
    pub fn name(self) -> &'static str {
        match self {
            Discretisation::Exponential => "exponential",
            Discretisation::ForwardEuler => "forward_euler",
        }
    }

    /// Parses [`Self::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "exponential" => Some(Discretisation::Exponential),
            "forward_euler" => Some(Discretisation::ForwardEuler),
            _ => None,
        }
    }
}

/// One neuron of a NIR node in this crate's terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiscreteNeuron {
    /// Synaptic time constant whose decay (in `f32`, at the network's `dt`) is the target `α`.
    pub tau_syn_s: f32,
    /// Membrane time constant whose decay is the target `β`.
    pub tau_mem_s: f32,
    /// Factor on every weight into this neuron.
    pub gain: f64,
    /// Constant input per step, in the units of the weighted input after the gain:
    /// `v_leak − v_reset`, the leak's drive on the membrane measured from `v_reset`.
    pub drive: f64,
    /// Firing threshold measured from `v_reset` (1 for non-spiking nodes).
    pub threshold: f64,
}

/// Maps neuron `j` of node `name` at time step `dt_s` (the `f32` step is `dt32`).
///
/// The membrane is simulated as `u = v − v_reset` (the reset takes `u` to 0 and the
/// simulation starts there), so `v_reset` moves into the threshold and into the leak's
/// constant drive `(1 − β)(v_leak − v_reset)` per step, which the layer's bias carries.
pub fn discretise(
    name: &str,
    l: &Leaky,
    j: usize,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
) -> Result<DiscreteNeuron, NirError> {
    let v_reset = l.v_reset.as_ref().map_or(0.0, |v| v.data[j]);
    let drive = l.v_leak.data[j] - v_reset;
    if drive != 0.0 && l.tau_syn_s.is_some() {
        return Err(NirError::unsupported(
            name,
            format!(
                "v_leak[{j}] = {} differs from v_reset[{j}] = {v_reset}: a constant drive on \
                 the membrane of a neuron with a synaptic current is not expressible (the \
                 layer's bias enters through the synapse, and this crate's LIF has no \
                 membrane bias)",
                l.v_leak.data[j]
            ),
        ));
    }
    let tau_mem = positive(name, "tau_mem", j, l.tau_mem_s.data[j])?;
    let r = l.r.data[j];
    let mem = decay_tau(name, "tau_mem", j, tau_mem, dt_s, dt32, disc)?;
    let beta = f64::from(crate::neurons::decay(dt32, mem));
    let (tau_syn_s, gain) = match &l.tau_syn_s {
        Some(tau_syn) => {
            let tau_syn = positive(name, "tau_syn", j, tau_syn.data[j])?;
            let w_in = l.w_in.as_ref().map_or(1.0, |w| w.data[j]);
            let syn = decay_tau(name, "tau_syn", j, tau_syn, dt_s, dt32, disc)?;
            let gain = match disc {
                // (w_in/τ_syn) · (1 − β)R / (1 − β)
                Discretisation::Exponential => unit(w_in / tau_syn) * unit(r),
                Discretisation::ForwardEuler => {
                    unit(dt_s * w_in / tau_syn) * unit(dt_s * r / tau_mem) / (1.0 - beta)
                }
            };
            (syn, gain)
        }
        None => {
            // No synapse: the input drives the membrane; α = 0 (a decay that underflows).
            let gain = match disc {
                Discretisation::Exponential => r / tau_mem / (1.0 - beta),
                Discretisation::ForwardEuler => unit(dt_s * r / tau_mem) / (1.0 - beta),
            };
            (dt32 * 1e-3, gain)
        }
    };
    let threshold = match &l.v_threshold {
        Some(t) => above_reset(name, j, t.data[j] - v_reset)?,
        None => 1.0,
    };
    Ok(DiscreteNeuron {
        tau_syn_s,
        tau_mem_s: mem,
        gain,
        drive,
        threshold,
    })
}

/// `v_threshold − v_reset` of neuron `j`, which must be positive.
fn above_reset(name: &str, j: usize, threshold: f64) -> Result<f64, NirError> {
    if threshold > 0.0 {
        return Ok(threshold);
    }
    Err(NirError::unsupported(
        name,
        format!(
            "v_threshold[{j}] - v_reset[{j}] = {threshold} (the threshold must lie above the \
             reset potential)"
        ),
    ))
}

/// Neuron `j` of an `IF` node (`dv/dt = R·I`), for this crate's
/// [`crate::neurons::IntegrateFire`], which adds its input unscaled: see [`without_leak`].
pub fn integrate_fire(
    name: &str,
    n: &IfNeurons,
    j: usize,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
) -> Result<DiscreteNeuron, NirError> {
    let v_reset = n.v_reset.as_ref().map_or(0.0, |v| v.data[j]);
    let threshold = above_reset(name, j, n.v_threshold.data[j] - v_reset)?;
    Ok(without_leak(n.r.data[j], dt_s, dt32, disc, threshold))
}

/// A unit with no leak and no synapse (`dv/dt = R·I`): unused decays, and the gain is the
/// membrane's jump per unit input, `R` for a Dirac impulse (exponential), `dt·R` for an input
/// held over the step (forward Euler).
fn without_leak(
    r: f64,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
    threshold: f64,
) -> DiscreteNeuron {
    let gain = match disc {
        Discretisation::Exponential => unit(r),
        Discretisation::ForwardEuler => unit(dt_s * r),
    };
    let unused = dt32 * 1e-3;
    DiscreteNeuron {
        tau_syn_s: unused,
        tau_mem_s: unused,
        gain,
        drive: 0.0,
        threshold,
    }
}

/// A unit of an `I` node (`dv/dt = R·I`, no threshold) as an integrator readout unit,
/// `U[t] = U[t−1] + x[t]`, with the gain of an `IF` neuron.
pub fn integrator(r: f64, dt_s: f64, dt32: f32, disc: Discretisation) -> DiscreteNeuron {
    without_leak(r, dt_s, dt32, disc, 1.0)
}

/// A `Delay` of `seconds` before node `name`'s projection as whole time steps of `dt_s`; an
/// error when it is not one (within 1e-6 of a step).
pub fn delay_steps(name: &str, seconds: f64, dt_s: f64) -> Result<usize, NirError> {
    let steps = seconds / dt_s;
    let whole = steps.round();
    if (steps - whole).abs() > 1e-6 * whole.max(1.0) || whole > u32::MAX as f64 {
        return Err(NirError::unsupported(
            name,
            format!(
                "an input delay of {seconds} s, which is not a whole number of steps of {dt_s} s"
            ),
        ));
    }
    Ok(whole as usize)
}

/// Neuron `j` of a `Threshold` node: `α = β = 0` (decays that underflow), so the membrane
/// is the step's input and it spikes when that exceeds `θ`, with nothing carried over.
pub fn stateless(
    name: &str,
    j: usize,
    threshold: f64,
    dt32: f32,
) -> Result<DiscreteNeuron, NirError> {
    if threshold.is_nan() || threshold <= 0.0 {
        return Err(NirError::unsupported(
            name,
            format!("threshold[{j}] = {threshold} (must be > 0)"),
        ));
    }
    let zero_decay = dt32 * 1e-3;
    Ok(DiscreteNeuron {
        tau_syn_s: zero_decay,
        tau_mem_s: zero_decay,
        gain: 1.0,
        drive: 0.0,
        threshold,
    })
}

fn positive(name: &str, key: &str, j: usize, v: f64) -> Result<f64, NirError> {
    if v > 0.0 {
        Ok(v)
    } else {
        Err(NirError::node(
            name,
            format!("{key}[{j}] = {v} (must be > 0)"),
        ))
    }
}

/// 1 for gains within float32 rounding of 1, else the gain.
fn unit(g: f64) -> f64 {
    if (g - 1.0).abs() <= UNIT_GAIN_TOLERANCE {
        1.0
    } else {
        g
    }
}

/// The `f32` time constant of our model for a file's `tau`.
fn decay_tau(
    name: &str,
    key: &str,
    j: usize,
    tau: f64,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
) -> Result<f32, NirError> {
    match disc {
        Discretisation::Exponential => Ok(tau as f32),
        Discretisation::ForwardEuler => {
            let target = 1.0 - dt_s / tau;
            if !(0.0..1.0).contains(&target) {
                // Norse's exporter writes dt·τ; its default 5 ms at dt = 1 ms is 5e-6.
                let hint = if tau < dt_s {
                    " (a file from Norse's to_nir holds dt*tau: import it with Norse's export \
                     dt, --norse-export-dt DT)"
                } else {
                    ""
                };
                return Err(NirError::unsupported(
                    name,
                    format!(
                        "{key}[{j}] = {tau} s with dt = {dt_s} s gives the forward-Euler decay \
                         1 - dt/tau = {target}, outside [0, 1){hint}"
                    ),
                ));
            }
            Ok(tau_for_decay(target as f32, dt32))
        }
    }
}

/// Rescales the time constants of a graph written by Norse's exporter
/// (`norse.torch.utils.export_nir.to_nir`, up to Norse 1.1 at least; norse/norse#411) to
/// seconds. Norse stores inverse time constants `τ⁻¹` and writes `dt / τ⁻¹ = dt·τ` as NIR's
/// `tau`, `tau_mem` and `tau_syn`, with `export_dt_s` the `dt` given to `to_nir` (its default
/// `1e-3`); this divides them by `export_dt_s`, in every neuron node (nested graphs too).
/// `r`, `w_in` and the potentials are left as written (Norse writes `r = 1` and no `w_in`).
///
/// Norse's default `τ_syn = 5 ms` is written as `5e-6`; at `dt = 1e-3` forward Euler would
/// decay by `1 − dt/τ = −199`, which [`super::import_graph`] refuses, pointing here.
pub fn norse_time_constants(graph: &mut NirGraph, export_dt_s: f64) {
    for node in graph.nodes.values_mut() {
        match &mut node.kind {
            NodeKind::Leaky(l) => {
                let taus = l.tau_syn_s.iter_mut().chain([&mut l.tau_mem_s]);
                taus.flat_map(|a| a.data.iter_mut())
                    .for_each(|tau| *tau /= export_dt_s);
            }
            NodeKind::Graph(inner) => norse_time_constants(inner, export_dt_s),
            _ => {}
        }
    }
}

/// The `f32` time constant `τ` whose decay `exp(−dt/τ)`, computed in `f32` as the layers do,
/// equals `target` (exactly for decays of at least 0.5, i.e. `τ ≥ 1.44 dt`; below that the
/// closest may be a few ulps off; 0 gives a decay that underflows to 0).
pub fn tau_for_decay(target: f32, dt32: f32) -> f32 {
    if target <= 0.0 {
        return dt32 * 1e-3;
    }
    let decay = |tau: f32| crate::neurons::decay(dt32, tau);
    let mut tau = (-f64::from(dt32) / f64::from(target).ln()) as f32;
    let mut best = tau;
    let mut best_err = (decay(tau) - target).abs();
    // The decay grows with τ; step one ulp at a time towards the target.
    for _ in 0..256 {
        let d = decay(tau);
        if d == target {
            return tau;
        }
        let err = (d - target).abs();
        if err < best_err {
            (best, best_err) = (tau, err);
        }
        let bits = tau.to_bits();
        tau = f32::from_bits(if d < target { bits + 1 } else { bits - 1 });
    }
    best
}

/// The reset mode of neuron node `name` from its metadata ([`META_RESET_MODE`]), if given.
pub fn reset_mode_of(g: &NirGraph, name: &str) -> Result<Option<ResetMode>, NirError> {
    let meta = g.nodes.get(name).map(|n| &n.metadata);
    match meta.and_then(|m| m.get(META_RESET_MODE)) {
        None => Ok(None),
        Some(MetaValue::Text(t)) if ResetMode::from_name(t).is_some() => {
            Ok(ResetMode::from_name(t))
        }
        Some(other) => Err(NirError::unsupported(
            name,
            format!(
                "metadata {META_RESET_MODE} = {other:?} (\"zero\", \"subtract\" or \
                 \"subtract_after_leak\")"
            ),
        )),
    }
}
