//! The neurons of a spiking layer, whatever their model: [`Neurons`] holds a family's named
//! per-neuron parameters and runs its model through the generic scan; the layer sees it as a
//! [`Population`] and its forward pass as a [`ModelRun`], so it never names a model.

use super::Param;
use crate::events::SpikeEvents;
use crate::neurons::{
    FamilyVisitor, ModelVisitor, NeuronFamily, NeuronKind, NeuronModel, NeuronSettings, ParamKind,
    ParamValues, PopulationSpec, SavedState,
};
use crate::real::Real;
use crate::scan::{self, ScanContext, ScanGrads, ScanTrace};
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::Debug;

/// The neurons of a layer: their parameters and how to run them.
pub trait Population<F: Real>: Debug + Send + Sync {
    /// Every per-neuron parameter tensor, in the family's order.
    fn params(&self) -> Vec<Param<'_, F>>;
    /// Mutable views in [`Self::params`] order.
    fn params_mut(&mut self) -> Vec<&mut Vec<F>>;
    /// Keeps every time constant at least one time step long.
    fn apply_constraints(&mut self);
    /// Runs the neurons on input currents `[T, B, N]` (with `w_rec`: recurrent).
    fn forward(
        &self,
        current: Seq<F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
    ) -> Box<dyn ModelRun<F>>;
    /// The gradients of the learnable parameters, in [`Self::params`] order, from the
    /// per-neuron gradients of a backward scan (`[P, N]`, the model's slots).
    fn param_grads(&self, raw: &[F]) -> Vec<Vec<F>>;
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn Population<F>>;
}

impl<F: Real> Clone for Box<dyn Population<F>> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// A population of `kind` neurons with parameters drawn as `spec` says.
pub fn population<F: Real, R: Rng>(
    kind: &NeuronKind,
    spec: &PopulationSpec,
    settings: NeuronSettings<F>,
    rng: &mut R,
) -> Box<dyn Population<F>> {
    struct Build<'a, F, R> {
        spec: &'a PopulationSpec,
        settings: NeuronSettings<F>,
        rng: &'a mut R,
    }
    impl<F: Real, R: Rng> FamilyVisitor for Build<'_, F, R> {
        type Out = Box<dyn Population<F>>;
        fn visit<K: NeuronFamily>(self, family: K) -> Self::Out {
            Box::new(Neurons::new(family, self.spec, self.settings, self.rng))
        }
    }
    kind.visit(Build {
        spec,
        settings,
        rng,
    })
}

/// The neurons of one family: its parameter values, one tensor per [`NeuronFamily::PARAMS`].
#[derive(Clone, Debug)]
pub struct Neurons<F, K> {
    family: K,
    settings: NeuronSettings<F>,
    values: Vec<Vec<F>>,
}

impl<F: Real, K: NeuronFamily> Neurons<F, K> {
    /// `spec.size` neurons; time constants are drawn with the spec's spread, in the family's
    /// parameter order.
    pub fn new<R: Rng>(
        family: K,
        spec: &PopulationSpec,
        settings: NeuronSettings<F>,
        rng: &mut R,
    ) -> Self {
        let values = K::PARAMS
            .iter()
            .map(|p| {
                let v = (p.initial)(&family, spec);
                match p.kind {
                    ParamKind::TimeConstant => spread_taus(spec.size, v, spec.tau_spread, rng),
                    ParamKind::Constant => vec![F::from_f64(v); spec.size],
                }
            })
            .collect();
        Self {
            family,
            settings,
            values,
        }
    }

    fn learnable(&self, kind: ParamKind) -> bool {
        kind == ParamKind::TimeConstant && self.settings.learn_tau
    }
}

impl<F: Real, K: NeuronFamily> Population<F> for Neurons<F, K> {
    fn params(&self) -> Vec<Param<'_, F>> {
        K::PARAMS
            .iter()
            .zip(&self.values)
            .map(|(p, v)| Param {
                name: p.name,
                shape: vec![v.len()],
                data: v,
                learnable: self.learnable(p.kind),
            })
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        self.values.iter_mut().collect()
    }

    fn apply_constraints(&mut self) {
        let dt = self.settings.dt_s;
        for (p, v) in K::PARAMS.iter().zip(&mut self.values) {
            if p.kind == ParamKind::TimeConstant {
                v.iter_mut().for_each(|t| *t = t.max(dt));
            }
        }
    }

    fn forward(
        &self,
        current: Seq<F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
    ) -> Box<dyn ModelRun<F>> {
        let values = ParamValues::new::<K>(&self.values);
        let run = RunScan {
            current,
            w_rec,
            ctx,
            binary: self.settings.spike.is_binary(),
        };
        self.family.with_model(values, &self.settings, run)
    }

    fn param_grads(&self, raw: &[F]) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        let dt = self.settings.dt_s;
        for (k, (p, v)) in K::PARAMS.iter().zip(&self.values).enumerate() {
            if !self.learnable(p.kind) {
                continue;
            }
            let n = v.len();
            let g = &raw[k * n..(k + 1) * n];
            out.push(match p.kind {
                ParamKind::TimeConstant => tau_grad(g, v, dt),
                ParamKind::Constant => g.to_vec(),
            });
        }
        out
    }

    fn box_clone(&self) -> Box<dyn Population<F>> {
        Box::new(self.clone())
    }
}

/// `∂L/∂τ` from `∂L/∂d` for the decay `d = exp(−dt/τ)`: `∂d/∂τ = d·dt/τ²`.
pub(super) fn tau_grad<F: Real>(g_decay: &[F], tau_s: &[F], dt_s: F) -> Vec<F> {
    g_decay
        .iter()
        .zip(tau_s)
        .map(|(&g, &tau)| g * (-dt_s / tau).exp() * dt_s / (tau * tau))
        .collect()
}

/// Runs the scan with whichever model the family built.
struct RunScan<'a, F> {
    current: Seq<F>,
    w_rec: Option<&'a Matrix<F>>,
    ctx: &'a ScanContext,
    binary: bool,
}

impl<F: Real> ModelVisitor<F> for RunScan<'_, F> {
    type Out = Box<dyn ModelRun<F>>;
    fn visit<M: NeuronModel<F> + Clone + Debug + Send + 'static>(self, model: M) -> Self::Out {
        let mut trace =
            scan::forward_with::<F, M, scan::KeepSaved>(&model, self.current, self.w_rec, self.ctx);
        // Binary spikes are kept as events only: the next layer's product, the recurrent
        // weight gradient and the next layer's weight gradient gather from them, and the
        // neuron adjoint recomputes them from its saved records, so the dense `[T, B, N]`
        // spikes are released.
        if self.binary {
            trace.events = Some(SpikeEvents::from_nonzero(&trace.out));
            trace.out = Seq::zeros(0, 0, 0);
        }
        Box::new(Scanned {
            model,
            trace,
            ctx: *self.ctx,
        })
    }
}

/// One forward pass of a layer's neurons, kept for its backward pass.
pub trait ModelRun<F: Real>: Debug + Send + Sync {
    /// The outputs `[T, B, N]` (empty when the spikes are kept as events only).
    fn out(&self) -> &Seq<F>;
    /// The outputs as events, when they are binary spikes.
    fn events(&self) -> Option<&SpikeEvents>;
    /// Replaces the events by dense outputs.
    fn drop_events(&mut self);
    /// The membrane potentials `U[t, b, j]`, time-major.
    fn membranes(&self) -> Vec<F>;
    /// Whether every kept state value is finite.
    fn is_finite(&self) -> bool;
    /// Backpropagates `∂L/∂o` through the scan.
    fn backward(&self, g_out: &Seq<F>, w_rec: Option<&Matrix<F>>) -> ScanGrads<F>;
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn ModelRun<F>>;
}

impl<F: Real> Clone for Box<dyn ModelRun<F>> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// A model with the trace of its forward scan.
#[derive(Clone, Debug)]
struct Scanned<F: Real, M: NeuronModel<F>> {
    model: M,
    trace: ScanTrace<F, M::Saved>,
    ctx: ScanContext,
}

impl<F: Real, M: NeuronModel<F> + Clone + Debug + Send + 'static> ModelRun<F> for Scanned<F, M> {
    fn out(&self) -> &Seq<F> {
        &self.trace.out
    }

    fn events(&self) -> Option<&SpikeEvents> {
        self.trace.events.as_ref()
    }

    fn drop_events(&mut self) {
        if let Some(events) = self.trace.events.take() {
            self.trace.out = events.to_dense();
        }
    }

    fn membranes(&self) -> Vec<F> {
        self.trace.saved.iter().map(|s| s.membrane()).collect()
    }

    fn is_finite(&self) -> bool {
        self.trace.saved.iter().all(|s| s.is_finite())
    }

    fn backward(&self, g_out: &Seq<F>, w_rec: Option<&Matrix<F>>) -> ScanGrads<F> {
        scan::backward_with(&self.model, &self.trace, g_out, w_rec, &self.ctx)
    }

    fn box_clone(&self) -> Box<dyn ModelRun<F>> {
        Box::new(self.clone())
    }
}

/// `n` time constants `τ·exp(spread·z)`, `z ~ N(0, 1)` (all equal to `τ` when `spread = 0`).
pub(super) fn spread_taus<F: Real, R: Rng>(
    n: usize,
    tau_s: f64,
    spread: f64,
    rng: &mut R,
) -> Vec<F> {
    (0..n)
        .map(|_| {
            let z: f64 = if spread > 0.0 {
                StandardNormal.sample(rng)
            } else {
                0.0
            };
            F::from_f64(tau_s * (spread * z).exp())
        })
        .collect()
}
