//! Neuron families: what a config names ([`NeuronKind`]), the named per-neuron parameters of
//! each model ([`NeuronFamily::PARAMS`]) and how their values become a runnable
//! [`NeuronModel`].
//!
//! A family declares its parameters once; the layer that holds them derives everything else
//! from that list: tensor names and order in checkpoints, which are learned, the initial draw,
//! the constraint `τ ≥ dt`, and the chain rule from the model's gradient slots (one per
//! parameter, in the same order, with respect to the value the model uses) to the parameters.

use super::{NeuronModel, ResetGrad, ResetMode};
use crate::error::ConfigError;
use crate::real::Real;
use crate::surrogates::SpikeFn;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// The neuron model of a spiking layer (`neuron = { kind = ... }` in a config).
///
/// Adding a model: one file in `neurons/` with its [`NeuronModel`] and [`NeuronFamily`], a
/// variant here, and its arm in [`NeuronKind::visit`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NeuronKind {
    /// Current-based LIF ([`crate::neurons::Lif`]).
    Lif,
    /// Integrate-and-fire without leak or synaptic current ([`crate::neurons::IntegrateFire`]):
    /// NIR's `IF`; the layer's `tau_mem_ms` and `tau_syn_ms` are unused.
    IntegrateFire,
    /// LIF with a spike-triggered adaptation current ([`crate::neurons::AdaptiveLif`]).
    AdaptiveLif {
        /// Adaptation time constant (stork: 100 ms).
        #[serde(default = "default_tau_ada_ms")]
        tau_ada_ms: f64,
        /// Adaptation strength `a` (stork: 0.1).
        #[serde(default = "default_ada_strength")]
        strength: f64,
        /// Fraction of the layer's neurons that adapt; the others (the first ones) have
        /// strength 0, as the e-prop paper's mix of LIF and adaptive neurons.
        #[serde(default = "default_adaptive_fraction", skip_serializing_if = "is_one")]
        adaptive_fraction: f64,
    },
    /// A leaky neuron whose fast adaptation current makes it prospective: it answers the
    /// input's future by `horizon_ms` ([`crate::neurons::Prospective`]).
    Prospective {
        /// Adaptation time constant (shorter than the signals to anticipate).
        #[serde(default = "default_prospective_tau_ada_ms")]
        tau_ada_ms: f64,
        /// How far ahead it looks (default: its own lag, `τ_syn + τ_mem`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        horizon_ms: Option<f64>,
        /// `"rate"` (the output is the prospective potential) or `"spiking"`.
        #[serde(default)]
        form: super::ProspectiveForm,
    },
}

fn default_prospective_tau_ada_ms() -> f64 {
    2.0
}

fn default_adaptive_fraction() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

fn default_tau_ada_ms() -> f64 {
    100.0
}

fn default_ada_strength() -> f64 {
    0.1
}

/// Code run with the family of a [`NeuronKind`] resolved to its type.
pub trait FamilyVisitor {
    /// What the code returns.
    type Out;
    /// Runs with the family.
    fn visit<K: NeuronFamily>(self, family: K) -> Self::Out;
}

impl NeuronKind {
    /// Runs `visitor` with this kind's family: the one place a kind becomes a model.
    pub fn visit<V: FamilyVisitor>(&self, visitor: V) -> V::Out {
        match *self {
            NeuronKind::Lif => visitor.visit(super::LifFamily),
            NeuronKind::IntegrateFire => visitor.visit(super::IntegrateFireFamily),
            NeuronKind::AdaptiveLif {
                tau_ada_ms,
                strength,
                adaptive_fraction,
            } => visitor.visit(super::AdaptiveLifFamily {
                tau_ada_ms,
                strength,
                adaptive_fraction,
            }),
            NeuronKind::Prospective {
                tau_ada_ms,
                horizon_ms,
                form,
            } => visitor.visit(super::ProspectiveFamily {
                tau_ada_ms,
                horizon_ms,
                form,
            }),
        }
    }

    /// Checks the kind's own values; `at` names it in errors (`network.hidden[0].neuron`).
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        struct Validate<'a>(&'a str);
        impl FamilyVisitor for Validate<'_> {
            type Out = Result<(), ConfigError>;
            fn visit<K: NeuronFamily>(self, family: K) -> Self::Out {
                family.validate(self.0)
            }
        }
        self.visit(Validate(at))
    }
}

/// What a layer tells its neurons at construction: the layer's size and the time constants
/// its config gives every model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PopulationSpec {
    /// Number of neurons.
    pub size: usize,
    /// Membrane time constant.
    pub tau_mem_ms: f64,
    /// Synaptic time constant.
    pub tau_syn_ms: f64,
    /// Heterogeneity at init: each time constant is `τ·exp(spread·N(0,1))`.
    pub tau_spread: f64,
}

/// The settings every model of a layer shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuronSettings<F> {
    /// Simulation time step.
    pub dt_s: F,
    /// Firing threshold `θ`.
    pub threshold: F,
    /// Spike non-linearity and its surrogate.
    pub spike: SpikeFn,
    /// Whether the reset is differentiated.
    pub reset: ResetGrad,
    /// What a spike does to the membrane (models other than the LIF and the IF reset to zero;
    /// [`crate::layers::SpikingLayerSpec::validate`] refuses the others).
    pub reset_mode: ResetMode,
    /// Whether the time constants are learned (the model must then compute their gradients).
    pub learn_tau: bool,
}

/// How a per-neuron parameter enters its model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A time constant in seconds: the model uses its decay `exp(−dt/τ)`, it is heterogeneous
    /// at init (the layer's `tau_spread`), learned when the layer learns time constants, and
    /// kept at least one time step long.
    TimeConstant,
    /// A value used as it is, the same for every neuron at init and never learned.
    Constant,
}

/// One named per-neuron parameter of a family.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef<K> {
    /// Tensor name within the layer (`tau_mem_s`, ...).
    pub name: &'static str,
    /// How the parameter enters the model.
    pub kind: ParamKind,
    /// The value of neuron `j` at init (before heterogeneity), in SI units.
    pub initial: fn(&K, &PopulationSpec, usize) -> f64,
}

impl<K> ParamDef<K> {
    /// `tau_mem_s`: the layer's membrane time constant.
    pub const TAU_MEM: Self = Self {
        name: "tau_mem_s",
        kind: ParamKind::TimeConstant,
        initial: |_, spec, _| spec.tau_mem_ms * 1e-3,
    };
    /// `tau_syn_s`: the layer's synaptic time constant.
    pub const TAU_SYN: Self = Self {
        name: "tau_syn_s",
        kind: ParamKind::TimeConstant,
        initial: |_, spec, _| spec.tau_syn_ms * 1e-3,
    };
}

/// The current values of a family's parameters, by name.
#[derive(Clone, Debug)]
pub struct ParamValues<'a, F> {
    names: Vec<&'static str>,
    values: &'a [Vec<F>],
}

impl<'a, F: Real> ParamValues<'a, F> {
    /// Pairs `values` with the family's parameter list (one tensor per parameter).
    pub fn new<K: NeuronFamily>(values: &'a [Vec<F>]) -> Self {
        debug_assert_eq!(values.len(), K::PARAMS.len());
        Self {
            names: K::PARAMS.iter().map(|p| p.name).collect(),
            values,
        }
    }

    /// The values of parameter `name` (one per neuron).
    ///
    /// # Panics
    /// If the family has no parameter of that name (a bug in the family's own file).
    pub fn get(&self, name: &str) -> &'a [F] {
        let k = self.names.iter().position(|n| *n == name);
        &self.values[k.unwrap_or_else(|| panic!("no neuron parameter `{name}`"))]
    }

    /// The decays `exp(−dt/τ)` of time-constant parameter `name`.
    pub fn decays(&self, name: &str, dt_s: F) -> Vec<F> {
        self.get(name)
            .iter()
            .map(|&tau| (-dt_s / tau).exp())
            .collect()
    }
}

/// Code run with a family's model resolved to its type (for instance the generic scan).
pub trait ModelVisitor<F: Real> {
    /// What the code returns.
    type Out;
    /// Runs with the model.
    fn visit<M: NeuronModel<F> + Clone + Debug + Send + 'static>(self, model: M) -> Self::Out;
}

/// A neuron model as a config names it: its named parameters and how their values become a
/// runnable model.
pub trait NeuronFamily: Clone + Copy + Debug + PartialEq + Send + Sync + 'static {
    /// The per-neuron parameters, in the order of the model's gradient slots.
    const PARAMS: &'static [ParamDef<Self>];

    /// Checks the family's own config values; `at` names the kind in errors.
    fn validate(&self, _at: &str) -> Result<(), ConfigError> {
        Ok(())
    }

    /// Builds the model from the parameter values and runs `visitor` with it. A model may
    /// have several storage forms (what its forward pass keeps for the backward pass); the
    /// family picks one here.
    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out;
}
