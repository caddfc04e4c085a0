//! e-prop (Bellec et al. 2020, "A solution to the learning dilemma for recurrent networks of
//! spiking neurons", Nat. Commun. 11:3625; code `IGITUGraz/eligibility_propagation`): the
//! diagonal approximation of RTRL, online.
//!
//! Each synapse `i → j` of the hidden layer keeps an eligibility vector `ε_ij = ∂s_j/∂W_ij`
//! propagated through neuron `j`'s own dynamics only (the recurrent input is treated as an
//! external input: no cross-neuron terms), with the model's Jacobians:
//!
//! ```text
//! ε_ij[t] = (∂s/∂s' + ∂s/∂o' ⊗ ∂o'/∂s') ε_ij[t−1] + ∂s/∂x · u_i[t]      (u: x_i[t], or S_i[t−1])
//! e_ij[t] = ∂o_j[t]/∂s_j · ε_ij[t]                                     (the eligibility trace)
//! F_ij[t] = κ ∗ e_ij                        (the readout's filter: I ← αI + e, U ← βU + (1−β)I)
//! ΔW_ij   = Σ_t L_j[t] F_ij[t] + ∂R/∂cnt_j · Σ_t e_ij[t]
//! L_j[t]  = Σ_k B_jk ∂ℓ/∂y_k[t]             (B = W_outᵀ: symmetric; or a fixed random B)
//! ```
//!
//! For the LIF this is Bellec's `ε^v` (a filtered presynaptic trace, reset by the neuron's own
//! spikes); for the adaptive LIF the adaptation component follows the `(ρ − β ψ)` recursion of
//! the paper (here the current-based adaptation's own Jacobian). Per-neuron time constants get
//! their eligibility the same way, and the readout's weights their exact gradient (it has no
//! cross terms). With symmetric feedback, the result is exactly BPTT with a stop-gradient on
//! the recurrent input ([`super::LocalBptt`]; tests check it in f64 to 1e-9).
//!
//! **Online.** The sequence runs in chunks of `chunk_steps`: each chunk's forward pass keeps
//! its states, then every synapse's eligibility advances over the chunk. Within a chunk the
//! eligibility and filter `z = (ε, F)` of a synapse are a linear system `z[t] = M_j[t] z[t−1]
//! + m_j[t] u[t]` whose matrices depend on the postsynaptic neuron alone, so the chunk's
//! contribution and the carried `z` are computed per neuron (a short backward recursion over
//! the chunk's steps) plus one small product per synapse and one update per input spike: the
//! same numbers as stepping every synapse every step, at a cost per synapse per chunk rather
//! than per step. Memory: per sample `(inputs + N)·N·(D + 3)` values for the synapses and
//! `chunk_steps·N·(D + 2)²` for one chunk's matrices, whatever the number of steps.
//!
//! Losses that need the whole output first (max- and sum-over-time) and activity regularizers
//! (which need the spike counts) take a first forward pass that keeps only those sums; the
//! gradient pass follows. Limits: one hidden layer (the learning signal reaches the layer the
//! readout reads), readout time constants equal for every output and not learned (one filter
//! `κ`), no encoder, no dropout.

mod filtered;
mod lanes;
mod system;
mod traces;

use super::{check_online_rule, Batch, BatchGradients, GradientRule, RuleError};
use crate::layers::{Input, OwnedInput};
use crate::losses::StepLoss;
use crate::network::{Network, NetworkCarry, NetworkStates};
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::regularizers::activity_count_penalties;
use crate::tensor::Matrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use traces::{ChunkScratch, ChunkView, SampleTraces, MAX_STATE_DIM};

/// Steps per chunk of the online pass by default.
pub const DEFAULT_EPROP_CHUNK_STEPS: usize = 256;

/// The feedback matrix `B` of e-prop's learning signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    /// `B = W_outᵀ`: the readout's own weights.
    #[default]
    Symmetric,
    /// A fixed random `B` with standard normal entries, drawn once from the run's seed (random
    /// e-prop, as the reference code draws it).
    Random,
}

/// e-prop.
#[derive(Clone, Debug, PartialEq)]
pub struct Eprop {
    /// How the learning signal is fed back.
    pub feedback: Feedback,
    /// Steps per chunk of the online pass.
    pub chunk_steps: usize,
    /// The random feedback matrix `[N, C]` (random feedback only).
    pub random: Option<Matrix<f64>>,
}

impl Eprop {
    /// e-prop for `net`; random feedback draws its matrix from `seed`.
    pub fn new<F: Real>(
        feedback: Feedback,
        chunk_steps: usize,
        net: &Network<F>,
        seed: u64,
    ) -> Self {
        let random = (feedback == Feedback::Random).then(|| {
            let (n, c) = (net.readout.w.rows, net.readout.w.cols);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let data = (0..n * c)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect();
            Matrix::from_vec(n, c, data).expect("n × c values")
        });
        Self {
            feedback,
            chunk_steps,
            random,
        }
    }

    /// `B` `[N, C]` in precision `F`.
    fn feedback_matrix<F: Real>(&self, net: &Network<F>) -> Result<Matrix<F>, RuleError> {
        match &self.random {
            None => Ok(net.readout.w.clone()),
            Some(b) if (b.rows, b.cols) == (net.readout.w.rows, net.readout.w.cols) => Ok(b.cast()),
            Some(b) => Err(RuleError::Unsupported {
                rule: "eprop",
                what: format!(
                    "a random feedback matrix of shape [{}, {}] for a readout of [{}, {}]",
                    b.rows, b.cols, net.readout.w.rows, net.readout.w.cols
                ),
            }),
        }
    }
}

/// Refuses what e-prop does not cover.
fn check_network<F: Real>(net: &Network<F>) -> Result<(), RuleError> {
    let unsupported = |what: &str| RuleError::Unsupported {
        rule: "eprop",
        what: what.into(),
    };
    if net.hidden.len() == 1 && net.hidden[0].neurons.state_dim() > MAX_STATE_DIM {
        return Err(unsupported(&format!(
            "neuron models with more than {MAX_STATE_DIM} state components"
        )));
    }
    if net.hidden.len() != 1 {
        return Err(unsupported(
            "networks with more than one hidden layer (its learning signal reaches the layer \
             the readout reads)",
        ));
    }
    let r = &net.readout;
    if r.spec.kind == crate::layers::ReadoutKind::Integrator {
        return Err(unsupported(
            "an integrator readout (the learning signal is filtered with the readout's leak)",
        ));
    }
    let uniform = |v: &[F]| v.iter().all(|&x| x == v[0]);
    if r.spec.learn_tau || !uniform(&r.tau_mem_s) || !uniform(&r.tau_syn_s) {
        return Err(unsupported(
            "readout time constants that differ between outputs or are learned (its traces \
             are filtered with one readout kernel; set network.readout.tau_spread = 0 and \
             learn_tau = false)",
        ));
    }
    Ok(())
}

/// The chunks `[t0, t1)` of `steps` steps.
fn chunks(steps: usize, chunk_steps: usize) -> Vec<(usize, usize)> {
    (0..steps)
        .step_by(chunk_steps.max(1))
        .map(|t0| (t0, (t0 + chunk_steps).min(steps)))
        .collect()
}

/// Runs the network over `input` chunk by chunk, showing every chunk's states to `visit`.
fn run_chunks<F: Real>(
    net: &Network<F>,
    input: Input<'_, F>,
    noise: NoiseStream,
    chunk_steps: usize,
    mut visit: impl FnMut(usize, &OwnedInput<F>, &NetworkStates<F>) -> Result<(), RuleError>,
) -> Result<(), RuleError> {
    let (steps, _, _) = input.shape();
    let mut carry: Option<NetworkCarry<F>> = None;
    for (t0, t1) in chunks(steps, chunk_steps) {
        let chunk = input.steps_range(t0, t1);
        let states = net.forward_states(chunk.as_input(), noise, t0, carry.as_ref());
        if let Some(place) = states.non_finite() {
            return Err(RuleError::NonFinite(place));
        }
        visit(t0, &chunk, &states)?;
        carry = Some(states.carry());
    }
    Ok(())
}

impl<F: Real> GradientRule<F> for Eprop {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        check_online_rule("eprop", net, &batch)?;
        check_network(net)?;
        let feedback = self.feedback_matrix(net)?;
        let (steps, samples, _) = batch.input.shape();
        let (n, c) = (net.hidden[0].size(), net.readout.spec.size);
        let mut loss = StepLoss::new(batch.loss, batch.targets, steps, samples, c)?;
        // First pass: the sums the loss and the regularizers need of the whole sequence.
        let mut counts = vec![0.0; samples * n];
        if loss.needs_first_pass() || !batch.activity.is_empty() {
            run_chunks(
                net,
                batch.input,
                batch.noise,
                self.chunk_steps,
                |t0, _, states| {
                    let y = states.readout.out();
                    for t in 0..y.steps {
                        loss.observe(t0 + t, y.step(t))?;
                    }
                    let mut chunk_counts = vec![0.0; samples * n];
                    states.hidden[0].out().sum_steps_into(&mut chunk_counts);
                    counts
                        .iter_mut()
                        .zip(&chunk_counts)
                        .for_each(|(a, b)| *a += b);
                    Ok(())
                },
            )?;
        }
        let mut g_counts = Vec::new();
        let reg_loss = match batch.activity.is_empty() {
            true => 0.0,
            false => activity_count_penalties(batch.activity, &counts, n, &mut g_counts)?,
        };
        // The gradient pass.
        let mut traces: Vec<SampleTraces<F>> =
            (0..samples).map(|_| SampleTraces::new(net)).collect();
        let mut spikes = 0.0;
        let mut g_out = Vec::new();
        run_chunks(
            net,
            batch.input,
            batch.noise,
            self.chunk_steps,
            |t0, chunk, states| {
                let y = states.readout.out();
                g_out.resize(y.data.len(), F::zero());
                for (t, g) in g_out.chunks_exact_mut(samples * c).enumerate() {
                    loss.gradient(t0 + t, y.step(t), g)?;
                }
                let hidden = states.hidden[0].out();
                spikes += hidden.data.iter().map(|v| v.as_f64()).sum::<f64>();
                let view = ChunkView {
                    input: chunk.as_input(),
                    batch: samples,
                    states,
                    g_out: &g_out,
                    feedback: &feedback,
                    g_counts: &g_counts,
                };
                traces
                    .par_iter_mut()
                    .enumerate()
                    .for_each_init(ChunkScratch::default, |scratch, (b, tr)| {
                        tr.advance(&view, b, scratch)
                    });
                Ok(())
            },
        )?;
        let (loss_value, correct) = loss.result();
        let mut total = vec![F::zero(); traces[0].gradient_len()];
        for tr in &traces {
            tr.add_gradient(&mut total);
        }
        Ok(BatchGradients {
            loss: loss_value,
            correct,
            reg_loss,
            spikes: vec![spikes],
            grads: super::masked_tensors(net, &traces[0].tensor_sizes(), total),
        })
    }
}
