//! SuperSpike (Zenke & Ganguli 2018, "SuperSpike: Supervised learning in multilayer spiking
//! neural networks", Neural Comput. 30:1514): an online three-factor rule for precise spike
//! timing. In discrete time, for the synapse from `j` to `i`:
//!
//! ```text
//! p_j   = ε ∗ S_j                        the presynaptic PSP (the neuron's τ_syn, then τ_mem)
//! λ_ij  = κ ∗ (σ'(U_i − θ) p_j)          the eligibility (κ: the van Rossum kernel)
//! e_i   = κ ∗ (S*_i − S_i)               the filtered output error
//! G_ij += dt · e_i λ_ij                  every step; −G is the gradient the optimizer takes
//! ```
//!
//! Hidden layers receive `e_k = κ ∗ Σ_i B_ik (S*_i − S_i)` through a feedback matrix `B`
//! ([`SuperSpikeFeedback`]): the transposed weights of the layers above (symmetric; no
//! surrogate factor on the way, as in the paper), a fixed standard-normal matrix from the
//! output to every hidden layer (random), or all ones (uniform). With random feedback each
//! hidden weight also decays by `ρ w_ij z_i⁴` per ms, `z_i` a trace of neuron `i`'s spikes
//! with time constant `τ_z` (the paper's homeostasis: ρ = 1, τ_z = 100 ms).
//!
//! For one layer whose reset is not differentiated, `p_j = ∂U_i/∂w_ij` while the neuron does
//! not spike, so `−G/B` is then exactly the gradient of the van Rossum loss with the
//! surrogate `σ'` (the tests). The surrogate is the network's (`network.spike`); the paper's
//! `β/(1 + β|U − θ|)²` is the SuperSpike surrogate up to the factor β, which a normalising
//! optimizer (RMSmax) absorbs.
//!
//! Spiking prospective neurons ([`crate::neurons::Prospective`]) take their own PSP: the
//! LIF's seen through the look-ahead, `p̃ = p + k (p − a)` with `a` the PSP low-passed by
//! `τ_ada` ([`Lookahead`]), which is `∂V_i/∂w_ij` while the neuron does not spike.
//!
//! How this differs from the paper: the weights change once per batch (a trial), not every
//! 0.5 s within it; and the traces are advanced over the forward pass's stored spikes and
//! membranes, so memory grows with the sequence like BPTT's (the traces themselves are
//! constant in time).

mod traces;

pub use traces::{Lookahead, SuperSpikeTraces};

use super::{check_online_rule, Batch, BatchGradients, GradientRule, RuleError};
use crate::filters::DoubleExponential;
use crate::layers::{NeuronKind, ReadoutKind};
use crate::linalg::grad_input;
use crate::losses::{self, LossKind, Targets};
use crate::network::Network;
use crate::neurons::ProspectiveForm;
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How the output error reaches the hidden layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuperSpikeFeedback {
    /// Back through the transposed weights of the layers above.
    #[default]
    Symmetric,
    /// A fixed standard-normal matrix from the output to each hidden layer, with the
    /// homeostatic weight decay.
    Random,
    /// All ones from the output to each hidden layer.
    Uniform,
}

/// The homeostasis of random feedback: `ρ` and the trace's time constant (the paper's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Homeostasis {
    /// Strength `ρ` (per ms).
    pub rho: f64,
    /// Time constant of the spike trace `z`, in ms.
    pub tau_ms: f64,
}

impl Default for Homeostasis {
    fn default() -> Self {
        Self {
            rho: 1.0,
            tau_ms: 100.0,
        }
    }
}

/// SuperSpike.
#[derive(Clone, Debug, PartialEq)]
pub struct SuperSpike {
    /// How the error is fed back.
    pub feedback: SuperSpikeFeedback,
    /// The decay that random feedback adds to hidden weights.
    pub homeostasis: Homeostasis,
    /// Per layer below the output, the fixed feedback `[N_k, C]` (random and uniform only).
    pub direct: Vec<Matrix<f64>>,
}

impl SuperSpike {
    /// SuperSpike for `net`; random feedback draws its matrices from `seed`.
    pub fn new<F: Real>(
        feedback: SuperSpikeFeedback,
        homeostasis: Homeostasis,
        net: &Network<F>,
        seed: u64,
    ) -> Self {
        let c = net.hidden.last().map_or(0, |l| l.size());
        let below = net.hidden.len().saturating_sub(1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let direct = net.hidden[..below]
            .iter()
            .filter(|_| feedback != SuperSpikeFeedback::Symmetric)
            .map(|layer| {
                let data = (0..layer.size() * c)
                    .map(|_| match feedback {
                        SuperSpikeFeedback::Random => StandardNormal.sample(&mut rng),
                        _ => 1.0,
                    })
                    .collect();
                Matrix::from_vec(layer.size(), c, data).expect("n × c values")
            })
            .collect();
        Self {
            feedback,
            homeostasis,
            direct,
        }
    }
}

/// Whether SuperSpike knows the PSP of `neuron`: the LIF's, and the spiking prospective
/// neuron's (the LIF's seen through its look-ahead).
pub fn knows_psp(neuron: NeuronKind) -> bool {
    match neuron {
        NeuronKind::Lif => true,
        NeuronKind::Prospective { form, .. } => form == ProspectiveForm::Spiking,
        _ => false,
    }
}

/// Refuses what SuperSpike does not cover, naming it.
fn check_network<F: Real>(net: &Network<F>, batch: &Batch<'_, F>) -> Result<(), RuleError> {
    let unsupported = |what: String| RuleError::Unsupported {
        rule: "superspike",
        what,
    };
    if net.readout.spec.kind != ReadoutKind::Spikes {
        return Err(unsupported(
            "a leaky readout (it trains spiking outputs: network.readout.kind = \"spikes\")".into(),
        ));
    }
    for (k, layer) in net.hidden.iter().enumerate() {
        if !knows_psp(layer.spec.neuron) {
            return Err(unsupported(format!(
                "{:?} neurons (hidden layer {k}; it knows the PSPs of LIF and spiking \
                 prospective neurons)",
                layer.spec.neuron
            )));
        }
        if layer.spec.tau_spread != 0.0 || layer.spec.learn_tau {
            return Err(unsupported(format!(
                "heterogeneous or learned time constants (hidden layer {k}: one PSP kernel per \
                 layer)"
            )));
        }
    }
    if !matches!(batch.loss, LossKind::VanRossum(_)) {
        return Err(unsupported(format!(
            "the loss {:?} (it follows the van Rossum distance)",
            batch.loss
        )));
    }
    if !batch.activity.is_empty() {
        return Err(unsupported("activity regularizers".into()));
    }
    Ok(())
}

impl<F: Real> GradientRule<F> for SuperSpike {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        check_online_rule("superspike", net, &batch)?;
        check_network(net, &batch)?;
        let LossKind::VanRossum(kernel) = batch.loss else {
            unreachable!("checked above")
        };
        let Targets::Sequence(target) = batch.targets else {
            return Err(RuleError::Unsupported {
                rule: "superspike",
                what: "targets other than spike trains".into(),
            });
        };
        let dt_ms = net.spec.dt_ms;
        let trace = net.forward_in::<ChaCha8Rng>(batch.input, None, batch.noise);
        let output = trace.output();
        let loss = losses::compute_timed(batch.loss, dt_ms, output, batch.targets)?;
        let errors = self.layer_errors(net, output, target);
        let input = batch.input.to_dense();
        let grads: Vec<Vec<Vec<F>>> = (0..net.hidden.len())
            .into_par_iter()
            .map(|k| {
                let pre = if k == 0 {
                    &*input
                } else {
                    trace.hidden[k - 1].spikes()
                };
                let run = LayerRun {
                    net,
                    k,
                    pre,
                    spikes: trace.hidden[k].spikes(),
                    membrane: &trace.hidden[k].membrane(),
                    error: &errors[k],
                    kernel: kernel.filter_at(dt_ms),
                };
                run.gradients(self.decay_of(k, net))
            })
            .collect();
        let spikes = trace.hidden.iter().map(|h| h.spike_count()).collect();
        let sizes: Vec<usize> = grads.iter().flatten().map(Vec::len).collect();
        Ok(BatchGradients {
            loss: loss.loss,
            correct: 0,
            reg_loss: 0.0,
            spikes,
            grads: super::masked_tensors(
                net,
                &sizes,
                grads.into_iter().flatten().flatten().collect(),
            ),
        })
    }
}

impl SuperSpike {
    /// The unfiltered error of every layer `[T, B, N_k]`: `S* − S` at the output, fed back
    /// below it.
    fn layer_errors<F: Real>(
        &self,
        net: &Network<F>,
        output: &Seq<F>,
        target: &Seq<f32>,
    ) -> Vec<Seq<F>> {
        let depth = net.hidden.len();
        let mut out_error = output.clone();
        out_error
            .data
            .iter_mut()
            .zip(&target.data)
            .for_each(|(e, &s)| *e = F::from_f64(f64::from(s)) - *e);
        let mut errors = vec![out_error];
        for k in (0..depth - 1).rev() {
            let fed = match self.feedback {
                // `e · Wᵀ`: the product a layer's backward pass sends to its input.
                SuperSpikeFeedback::Symmetric => {
                    grad_input(errors.last().expect("one"), &net.hidden[k + 1].w_in)
                }
                _ => grad_input(&errors[0], &self.direct[k].cast()),
            };
            errors.push(fed);
        }
        errors.reverse();
        errors
    }

    /// The homeostatic decay of layer `k` (random feedback, hidden layers only).
    fn decay_of<F: Real>(&self, k: usize, net: &Network<F>) -> Option<Homeostasis> {
        let hidden = k + 1 < net.hidden.len();
        (hidden && self.feedback == SuperSpikeFeedback::Random && self.homeostasis.rho > 0.0)
            .then_some(self.homeostasis)
    }
}

/// What one layer's update reads.
struct LayerRun<'a, F: Real> {
    net: &'a Network<F>,
    k: usize,
    /// Presynaptic spikes `[T, B, inputs]`.
    pre: &'a Seq<F>,
    /// The layer's spikes `[T, B, N]`.
    spikes: &'a Seq<F>,
    membrane: &'a Seq<F>,
    error: &'a Seq<F>,
    kernel: DoubleExponential<F>,
}

impl<F: Real> LayerRun<'_, F> {
    /// `[∂L/∂w_in, ∂L/∂w_rec]` (the second for recurrent layers): `−G/B`, plus the decay.
    fn gradients(&self, decay: Option<Homeostasis>) -> Vec<Vec<F>> {
        let layer = &self.net.hidden[self.k];
        let (steps, batch, n) = (self.spikes.steps, self.spikes.batch, self.spikes.width);
        let dt_ms = self.net.spec.dt_ms;
        let psp = DoubleExponential::new(layer.spec.tau_syn_ms, layer.spec.tau_mem_ms, dt_ms);
        let lookahead = layer.spec.lookahead().map(|l| Lookahead::new(&l, dt_ms));
        let new = |inputs| {
            let traces = SuperSpikeTraces::new(batch, inputs, n, psp, self.kernel, dt_ms);
            match lookahead {
                Some(l) => traces.with_lookahead(l),
                None => traces,
            }
        };
        let mut ff = new(self.pre.width);
        let mut rec = layer.w_rec.as_ref().map(|_| new(n));
        let threshold = F::from_f64(layer.spec.threshold);
        let spike = self.net.spec.spike;
        let mut sigma = vec![F::zero(); batch * n];
        let zero = vec![F::zero(); batch * n];
        // Σ_t Σ_b z_i⁴ of the homeostatic trace.
        let mut z = vec![0.0; batch * n];
        let mut z4 = vec![0.0; n];
        let z_decay = decay.map_or(0.0, |h| (-dt_ms / h.tau_ms).exp());
        for t in 0..steps {
            let u = self.membrane.step(t);
            sigma
                .iter_mut()
                .zip(u)
                .for_each(|(s, &u)| *s = spike.derivative(u - threshold));
            let error = self.error.step(t);
            ff.step(self.pre.step(t), &sigma, error);
            if let Some(rec) = &mut rec {
                let previous = if t == 0 {
                    &zero[..]
                } else {
                    self.spikes.step(t - 1)
                };
                rec.step(previous, &sigma, error);
            }
            if decay.is_some() {
                for (i, (z, &s)) in z.iter_mut().zip(self.spikes.step(t)).enumerate() {
                    *z = *z * z_decay + s.as_f64();
                    z4[i % n] += z.powi(4);
                }
            }
        }
        let scale = -1.0 / batch as f64;
        let finish = |traces: &SuperSpikeTraces<F>, w: &Matrix<F>| -> Vec<F> {
            let mut g: Vec<F> = traces
                .update()
                .iter()
                .map(|&g| g * F::from_f64(scale))
                .collect();
            if let Some(h) = decay {
                // The decay is a descent direction: +ρ w z⁴ dt per sample in the gradient.
                let per = h.rho * dt_ms / batch as f64;
                for (idx, g) in g.iter_mut().enumerate() {
                    let i = idx % n;
                    *g += w.data[idx] * F::from_f64(per * z4[i]);
                }
            }
            g
        };
        let mut out = vec![finish(&ff, &layer.w_in)];
        if let (Some(rec), Some(w)) = (&rec, &layer.w_rec) {
            out.push(finish(rec, w));
        }
        out
    }
}
