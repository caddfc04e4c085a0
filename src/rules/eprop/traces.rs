//! e-prop's per-sample traces and their advance over one chunk of steps.
//!
//! A synapse onto neuron `j` carries `z = (ε, F^I, F^U)` (`Z = D + 2` values): a linear system
//! over the chunk's steps whose matrices belong to neuron `j` alone ([`super::system`]), so a
//! chunk costs one `Z × Z` product per synapse plus one `Z`-vector update per non-zero
//! presynaptic value, besides each neuron's recursion. The neurons' recursions run
//! [`LANES`] at a time, one neuron per lane ([`super::lanes`]), so that their step-by-step
//! dependency chains overlap.

use super::filtered::Filtered;
use super::lanes::{lane_of, lane_of_mat, Lane, LANES};
use super::system::{carry, presynaptic, Mat, System};
use crate::layers::{Input, SlotChain};
use crate::network::{Network, NetworkStates};
use crate::neurons::StepJacobian;
use crate::real::Real;
use crate::tensor::Matrix;
use std::any::Any;
use std::ops::Range;

/// The most state components e-prop's traces handle (its systems have `D + 2`).
pub(super) const MAX_STATE_DIM: usize = 5;

/// What every sample's advance over one chunk reads.
pub(super) struct ChunkView<'a, F: Real> {
    /// The chunk's input.
    pub input: Input<'a, F>,
    /// Samples in the batch.
    pub batch: usize,
    /// The chunk's states.
    pub states: &'a NetworkStates<F>,
    /// `∂ℓ/∂y[τ]` `[K, B, C]`.
    pub g_out: &'a [F],
    /// The feedback matrix `B` `[N, C]`.
    pub feedback: &'a Matrix<F>,
    /// `∂R/∂cnt` `[B, N]` (empty without regularizers).
    pub g_counts: &'a [F],
}

/// Per-thread buffers of one chunk's per-step, per-neuron results, reused between samples
/// (allocating them per sample costs as much as filling them).
#[derive(Default)]
pub(super) struct ChunkScratch<F> {
    q: Vec<F>,
    r_m: Vec<F>,
    /// The [`Solver`] of the last chunk's shape (its type depends on the model's `D`).
    solver: Option<Box<dyn Any + Send>>,
}

/// One group of neurons' systems over a chunk and their results.
type Solver<F, const D: usize, const Z: usize> = (Filtered<Lane<F>, D>, System<Lane<F>, Z>);

/// The solver in `slot` if it fits the chunk, else a new one there. Every value a solve
/// reads is written by the group's build first, except spare lanes, whose results are not read.
fn solver_for<F: Real, const D: usize, const Z: usize>(
    slot: &mut Option<Box<dyn Any + Send>>,
    (steps, params): (usize, usize),
    decays: (F, F),
) -> &mut Solver<F, D, Z> {
    let fits = |s: &Solver<F, D, Z>| {
        s.0.a.len() == steps && s.0.decays == decays && s.1.par_g.len() == params
    };
    let reusable = slot
        .as_ref()
        .and_then(|b| b.downcast_ref::<Solver<F, D, Z>>())
        .is_some_and(fits);
    if !reusable {
        let fresh: Solver<F, D, Z> = (
            Filtered::new(steps, params, decays),
            System::results(steps, params),
        );
        *slot = Some(Box::new(fresh));
    }
    slot.as_mut()
        .and_then(|b| b.downcast_mut())
        .expect("the slot holds a solver of this shape")
}

/// One sample's synapse traces and gradients.
pub(super) struct SampleTraces<F> {
    n: usize,
    /// State components of a hidden neuron.
    dim: usize,
    outputs: usize,
    recurrent: bool,
    chains: Vec<SlotChain<F>>,
    /// Input synapses: `z` `[inputs, N, Z]`, gradient `[inputs, N]`.
    z_in: Vec<F>,
    g_in: Vec<F>,
    /// Recurrent synapses `[N, N, Z]`, `[N, N]` (empty without recurrence).
    z_rec: Vec<F>,
    g_rec: Vec<F>,
    /// Per-neuron parameters `[chains, N, Z]`, `[chains, N]`.
    z_par: Vec<F>,
    g_par: Vec<F>,
    /// Readout synapses: the readout state's tangent `[N, C, 2]`, gradient `[N, C]`.
    z_out: Vec<F>,
    g_out: Vec<F>,
    /// The hidden outputs and output derivatives `∂o/∂s` of the step before the chunk.
    prev_out: Vec<F>,
    prev_g: Vec<F>,
}

impl<F: Real> SampleTraces<F> {
    /// Zero traces for `net` (one hidden layer).
    pub(super) fn new(net: &Network<F>) -> Self {
        let layer = &net.hidden[0];
        let (n, inputs, c) = (layer.size(), layer.w_in.rows, net.readout.spec.size);
        let dim = layer.neurons.state_dim();
        let z = dim + 2;
        let chains = layer.neurons.slot_chains();
        let recurrent = layer.w_rec.is_some();
        let zeros = |len| vec![F::zero(); len];
        let rec = if recurrent { n * n } else { 0 };
        Self {
            n,
            dim,
            outputs: c,
            recurrent,
            z_in: zeros(inputs * n * z),
            g_in: zeros(inputs * n),
            z_rec: zeros(rec * z),
            g_rec: zeros(rec),
            z_par: zeros(chains.len() * n * z),
            g_par: zeros(chains.len() * n),
            chains,
            z_out: zeros(n * c * 2),
            g_out: zeros(n * c),
            prev_out: zeros(n),
            prev_g: zeros(n * dim),
        }
    }

    /// Values per learnable tensor, in [`Network::tensors`] order.
    pub(super) fn tensor_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.g_in.len()];
        if self.recurrent {
            sizes.push(self.g_rec.len());
        }
        sizes.extend(self.chains.iter().map(|_| self.n));
        sizes.push(self.g_out.len());
        sizes
    }

    /// The length of the flat gradient.
    pub(super) fn gradient_len(&self) -> usize {
        self.tensor_sizes().iter().sum()
    }

    /// Adds this sample's gradient to `total` (flat, [`Self::tensor_sizes`] layout).
    pub(super) fn add_gradient(&self, total: &mut [F]) {
        let parts = [&self.g_in, &self.g_rec, &self.g_par, &self.g_out];
        let flat = parts.iter().flat_map(|p| p.iter());
        total.iter_mut().zip(flat).for_each(|(t, &g)| *t += g);
    }

    /// Advances sample `b`'s traces over the chunk of `view`.
    pub(super) fn advance(
        &mut self,
        view: &ChunkView<'_, F>,
        b: usize,
        scratch: &mut ChunkScratch<F>,
    ) {
        match self.dim {
            1 => self.advance_with::<1, 3>(view, b, scratch),
            2 => self.advance_with::<2, 4>(view, b, scratch),
            3 => self.advance_with::<3, 5>(view, b, scratch),
            4 => self.advance_with::<4, 6>(view, b, scratch),
            5 => self.advance_with::<5, 7>(view, b, scratch),
            d => unreachable!("e-prop refuses models of {d} > {MAX_STATE_DIM} state components"),
        }
        self.advance_readout(view, b);
    }

    /// [`Self::advance`] for `D` state components (`Z = D + 2`).
    fn advance_with<const D: usize, const Z: usize>(
        &mut self,
        view: &ChunkView<'_, F>,
        b: usize,
        scratch: &mut ChunkScratch<F>,
    ) {
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let n = self.n;
        let decays = readout_decays(view, b);
        let params = self.chains.len();
        let (neuron, system) = solver_for::<F, D, Z>(&mut scratch.solver, (steps, params), decays);
        let mut jac = StepJacobian::zeros(D, hidden.slots());
        let mut psi: Vec<Mat<F, Z>> = Vec::with_capacity(n);
        let mut lam0 = Vec::with_capacity(n);
        // Every entry is written below: the buffers are only resized, never cleared.
        scratch.q.resize(steps * n, F::zero());
        scratch.r_m.resize(steps * n * Z, F::zero());
        let q = &mut scratch.q[..];
        let r_m = &mut scratch.r_m[..];
        let mut last_g = vec![F::zero(); n * D];
        // LANES neurons at a time; a last, partial group leaves its spare lanes as they
        // were (finite values whose results are not read).
        for j0 in (0..n).step_by(LANES) {
            let group = j0..n.min(j0 + LANES);
            self.build::<D>(view, b, group.clone(), &mut jac, neuron, &mut last_g);
            neuron.solve(system);
            for (l, j) in group.enumerate() {
                psi.push(lane_of_mat(&system.psi, l));
                lam0.push(lane_of(&system.lam0, l));
                for tau in 0..steps {
                    q[tau * n + j] = system.q[tau].0[l];
                    r_m[(tau * n + j) * Z..][..Z].copy_from_slice(&lane_of(&system.r_m[tau], l));
                }
                let (psi_j, lam0_j) = (&psi[j], &lam0[j]);
                for s in 0..params {
                    let at = (s * n + j) * Z;
                    let z: &mut [F; Z] =
                        (&mut self.z_par[at..at + Z]).try_into().expect("Z values");
                    self.g_par[s * n + j] += super::system::dot(lam0_j, z) + system.par_g[s].0[l];
                    let next = super::system::mat_vec(psi_j, z);
                    let par_z = lane_of(&system.par_z[s], l);
                    for k in 0..Z {
                        z[k] = next[k] + par_z[k];
                    }
                }
            }
        }
        carry(&psi, &lam0, &mut self.z_in, &mut self.g_in);
        for tau in 0..steps {
            let (q_t, r_t) = (
                &q[tau * n..(tau + 1) * n],
                &r_m[tau * n * Z..(tau + 1) * n * Z],
            );
            for (i, u) in view.input.active(tau, b) {
                let (zs, gs) = synapses_of::<F, Z>(i, n, &mut self.z_in, &mut self.g_in);
                presynaptic(u, q_t, r_t, zs, gs);
            }
        }
        if self.recurrent {
            carry(&psi, &lam0, &mut self.z_rec, &mut self.g_rec);
            for tau in 0..steps {
                let prev = match tau {
                    0 => &self.prev_out[..],
                    _ => hidden.out().row(tau - 1, b),
                };
                let (q_t, r_t) = (
                    &q[tau * n..(tau + 1) * n],
                    &r_m[tau * n * Z..(tau + 1) * n * Z],
                );
                for (k, &u) in prev.iter().enumerate().filter(|(_, &u)| u != F::zero()) {
                    let (zs, gs) = synapses_of::<F, Z>(k, n, &mut self.z_rec, &mut self.g_rec);
                    presynaptic(u, q_t, r_t, zs, gs);
                }
            }
        }
        self.prev_out
            .copy_from_slice(hidden.out().row(steps - 1, b));
        self.prev_g = last_g;
    }

    /// The systems of the neurons `group` over the chunk, one per lane of `neuron`
    /// ([`Filtered`]); writes their `∂o/∂s` of the chunk's last step into `last_g`. Steps
    /// outermost: the group's states of one step lie side by side.
    fn build<const D: usize>(
        &self,
        view: &ChunkView<'_, F>,
        b: usize,
        group: Range<usize>,
        jac: &mut StepJacobian<F>,
        neuron: &mut Filtered<Lane<F>, D>,
        last_g: &mut [F],
    ) {
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let c = self.outputs;
        let params = self.chains.len();
        let mut g_prev = [[F::zero(); D]; LANES];
        for (l, j) in group.clone().enumerate() {
            g_prev[l].copy_from_slice(&self.prev_g[j * D..(j + 1) * D]);
            neuron.r.0[l] = view
                .g_counts
                .get(b * self.n + j)
                .copied()
                .unwrap_or(F::zero());
        }
        for tau in 0..steps {
            let g_row = &view.g_out[(tau * view.batch + b) * c..][..c];
            for (l, j) in group.clone().enumerate() {
                hidden.jacobian(tau, b, j, jac);
                let g: [F; D] = jac.out[..D].try_into().expect("D values");
                // Ã = ∂s/∂s' + ∂s/∂o' ⊗ ∂o'/∂s' (the neuron's own previous output).
                for (row, a_row) in neuron.a[tau].iter_mut().enumerate() {
                    for (col, v) in a_row.iter_mut().enumerate() {
                        v.0[l] = jac.prev[row * D + col] + jac.prev_out[row] * g_prev[l][col];
                    }
                }
                for (k, (&gk, &ck)) in g.iter().zip(&jac.input).enumerate() {
                    neuron.g[tau][k].0[l] = gk;
                    neuron.c[tau][k].0[l] = ck;
                }
                for (s, chain) in self.chains.iter().enumerate() {
                    let col = &mut neuron.params[tau * params + s];
                    for (r, v) in col.iter_mut().enumerate() {
                        v.0[l] = jac.params[r * jac.slots + chain.slot] * chain.factor[j];
                    }
                }
                let feedback = view.feedback.row(j);
                neuron.learning[tau].0[l] =
                    feedback.iter().zip(g_row).map(|(&w, &gk)| w * gk).sum();
                g_prev[l] = g;
            }
        }
        for (l, j) in group.enumerate() {
            last_g[j * D..(j + 1) * D].copy_from_slice(&g_prev[l]);
        }
    }

    /// The readout synapses' exact traces over the chunk: `z = ∂(I_k, U_k)/∂W_jk`.
    fn advance_readout(&mut self, view: &ChunkView<'_, F>, b: usize) {
        let readout = view.states.readout.as_ref();
        let hidden = view.states.hidden[0].out();
        let steps = hidden.steps;
        let c = self.outputs;
        let mut jac = StepJacobian::zeros(2, readout.slots());
        readout.jacobian(0, b, 0, &mut jac);
        let a = [[jac.prev[0], jac.prev[1]], [jac.prev[2], jac.prev[3]]];
        let mut system = System::<F, 2>::new(steps, 0);
        system.m.iter_mut().for_each(|m| *m = a);
        system
            .input
            .iter_mut()
            .for_each(|m| *m = [jac.input[0], jac.input[1]]);
        for k in 0..c {
            for tau in 0..steps {
                system.h[tau] = [F::zero(), view.g_out[(tau * view.batch + b) * c + k]];
            }
            system.solve();
            let (psi, lam0) = ([system.psi], [system.lam0]);
            for j in 0..self.n {
                let at = (j * c + k) * 2;
                carry(
                    &psi,
                    &lam0,
                    &mut self.z_out[at..at + 2],
                    &mut self.g_out[j * c + k..][..1],
                );
            }
            for tau in 0..steps {
                let (q, rm) = (&system.q[tau..=tau], &system.r_m[tau][..]);
                for (j, &u) in hidden
                    .row(tau, b)
                    .iter()
                    .enumerate()
                    .filter(|(_, &u)| u != F::zero())
                {
                    let at = (j * c + k) * 2;
                    presynaptic(
                        u,
                        q,
                        rm,
                        &mut self.z_out[at..at + 2],
                        &mut self.g_out[j * c + k..][..1],
                    );
                }
            }
        }
    }
}

/// The traces and gradients of the synapses from presynaptic `i` onto every neuron.
fn synapses_of<'a, F, const Z: usize>(
    i: usize,
    n: usize,
    z_syn: &'a mut [F],
    g_syn: &'a mut [F],
) -> (&'a mut [F], &'a mut [F]) {
    (
        &mut z_syn[i * n * Z..(i + 1) * n * Z],
        &mut g_syn[i * n..(i + 1) * n],
    )
}

/// The readout's decays `(α, β)`, read off its Jacobian (every output has the same).
fn readout_decays<F: Real>(view: &ChunkView<'_, F>, b: usize) -> (F, F) {
    let readout = view.states.readout.as_ref();
    let mut jac = StepJacobian::zeros(2, readout.slots());
    readout.jacobian(0, b, 0, &mut jac);
    (jac.prev[0], jac.prev[3])
}
