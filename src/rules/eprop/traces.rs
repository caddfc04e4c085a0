//! e-prop's per-sample traces and their advance over one chunk of steps.
//!
//! A synapse onto neuron `j` carries `z = (ε, F^I, F^U)` (`Z = D + 2` values): a linear system
//! over the chunk's steps whose matrices belong to neuron `j` alone ([`super::system`]), so a
//! chunk costs one `Z × Z` product per synapse plus one `Z`-vector update per non-zero
//! presynaptic value, besides each neuron's recursion.

use super::system::{carry, presynaptic, Filtered, Mat, System};
use crate::layers::{Input, SlotChain};
use crate::network::{Network, NetworkStates};
use crate::neurons::StepJacobian;
use crate::real::Real;
use crate::tensor::Matrix;

/// The most state components e-prop's traces handle (its systems have `D + 2`).
pub(super) const MAX_STATE_DIM: usize = 4;

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
    pub(super) fn advance(&mut self, view: &ChunkView<'_, F>, b: usize) {
        match self.dim {
            1 => self.advance_with::<1, 3>(view, b),
            2 => self.advance_with::<2, 4>(view, b),
            3 => self.advance_with::<3, 5>(view, b),
            4 => self.advance_with::<4, 6>(view, b),
            d => unreachable!("e-prop refuses models of {d} > {MAX_STATE_DIM} state components"),
        }
        self.advance_readout(view, b);
    }

    /// [`Self::advance`] for `D` state components (`Z = D + 2`).
    fn advance_with<const D: usize, const Z: usize>(&mut self, view: &ChunkView<'_, F>, b: usize) {
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let n = self.n;
        let decays = readout_decays(view, b);
        let mut neuron = Filtered::<F, D>::new(steps, self.chains.len(), decays);
        let mut system = System::<F, Z>::results(steps, self.chains.len());
        let mut jac = StepJacobian::zeros(D, hidden.slots());
        let mut psi: Vec<Mat<F, Z>> = Vec::with_capacity(n);
        let mut lam0 = Vec::with_capacity(n);
        let mut q = vec![F::zero(); steps * n];
        let mut r_m = vec![[F::zero(); Z]; steps * n];
        let mut last_g = vec![F::zero(); n * D];
        for j in 0..n {
            let g_end = self.build::<D>(view, b, j, &mut jac, &mut neuron);
            last_g[j * D..(j + 1) * D].copy_from_slice(&g_end);
            neuron.solve(&mut system);
            psi.push(system.psi);
            lam0.push(system.lam0);
            for tau in 0..steps {
                q[tau * n + j] = system.q[tau];
                r_m[tau * n + j] = system.r_m[tau];
            }
            for s in 0..self.chains.len() {
                let at = (s * n + j) * Z;
                let z: &mut [F; Z] = (&mut self.z_par[at..at + Z]).try_into().expect("Z values");
                self.g_par[s * n + j] += super::system::dot(&system.lam0, z) + system.par_g[s];
                let next = super::system::mat_vec(&system.psi, z);
                for k in 0..Z {
                    z[k] = next[k] + system.par_z[s][k];
                }
            }
        }
        carry(&psi, &lam0, &mut self.z_in, &mut self.g_in);
        for tau in 0..steps {
            let (q_t, r_t) = (&q[tau * n..(tau + 1) * n], &r_m[tau * n..(tau + 1) * n]);
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
                let (q_t, r_t) = (&q[tau * n..(tau + 1) * n], &r_m[tau * n..(tau + 1) * n]);
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

    /// Neuron `j`'s system over the chunk ([`Filtered`]); returns its `∂o/∂s` of the
    /// chunk's last step.
    fn build<const D: usize>(
        &self,
        view: &ChunkView<'_, F>,
        b: usize,
        j: usize,
        jac: &mut StepJacobian<F>,
        neuron: &mut Filtered<F, D>,
    ) -> [F; D] {
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let c = self.outputs;
        let mut g_prev = [F::zero(); D];
        g_prev.copy_from_slice(&self.prev_g[j * D..(j + 1) * D]);
        neuron.r = view
            .g_counts
            .get(b * self.n + j)
            .copied()
            .unwrap_or(F::zero());
        let params = self.chains.len();
        let feedback = view.feedback.row(j);
        for tau in 0..steps {
            hidden.jacobian(tau, b, j, jac);
            let g: [F; D] = jac.out[..D].try_into().expect("D values");
            // Ã = ∂s/∂s' + ∂s/∂o' ⊗ ∂o'/∂s' (the neuron's own previous output).
            let a = &mut neuron.a[tau];
            for (row, a_row) in a.iter_mut().enumerate() {
                for (col, v) in a_row.iter_mut().enumerate() {
                    *v = jac.prev[row * D + col] + jac.prev_out[row] * g_prev[col];
                }
            }
            neuron.g[tau] = g;
            neuron.c[tau] = jac.input[..D].try_into().expect("D values");
            for (s, chain) in self.chains.iter().enumerate() {
                let col = &mut neuron.params[tau * params + s];
                for (r, v) in col.iter_mut().enumerate() {
                    *v = jac.params[r * jac.slots + chain.slot] * chain.factor[j];
                }
            }
            let g_row = &view.g_out[(tau * view.batch + b) * c..][..c];
            neuron.learning[tau] = feedback.iter().zip(g_row).map(|(&w, &gk)| w * gk).sum();
            g_prev = g;
        }
        g_prev
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
                let (q, rm) = (&system.q[tau..=tau], &system.r_m[tau..=tau]);
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
