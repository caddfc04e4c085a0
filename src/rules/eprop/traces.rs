//! e-prop's per-sample traces and their advance over one chunk of steps.
//!
//! A synapse onto neuron `j` carries `z = (ε, F^I, F^U)` (`Z = D + 2` values), a linear system
//! over the chunk's steps `τ`: `z[τ] = M[τ] z[τ−1] + m[τ] u[τ]` with the contribution
//! `h[τ]·z[τ]` to its gradient, where `M`, `m` and `h` belong to neuron `j` alone. With the
//! backward recursion `λ[τ] = h[τ] + M[τ+1]ᵀ λ[τ+1]` and `R[τ] = R[τ+1] M[τ+1]` (`R[K−1] = I`):
//!
//! ```text
//! gradient += (M[0]ᵀ λ[0]) · z_start + Σ_τ u[τ] (m[τ] · λ[τ])
//! z_end     = (R[0] M[0]) z_start    + Σ_τ u[τ] R[τ] m[τ]
//! ```
//!
//! so a chunk costs one `Z × Z` product per synapse plus one `Z`-vector update per non-zero
//! presynaptic value, besides the per-neuron recursion.

use crate::layers::{Input, SlotChain};
use crate::network::{Network, NetworkStates};
use crate::neurons::StepJacobian;
use crate::real::Real;
use crate::tensor::Matrix;

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

/// One neuron's system over a chunk, after the backward recursion.
struct NeuronChunk<F> {
    z: usize,
    /// `M[τ]` `[K, Z, Z]`, `m[τ]` `[K, Z]`, `h[τ]` `[K, Z]`, the parameters' `m` `[K, S, Z]`.
    m_mat: Vec<F>,
    m_vec: Vec<F>,
    h: Vec<F>,
    m_par: Vec<F>,
    /// Results: `R[0] M[0]` `[Z, Z]`, `M[0]ᵀ λ[0]` `[Z]`, `m[τ]·λ[τ]` `[K]`, `R[τ] m[τ]`
    /// `[K, Z]`, and per parameter `Σ_τ m_p·λ` `[S]` and `Σ_τ R m_p` `[S, Z]`.
    psi: Vec<F>,
    lam0: Vec<F>,
    q: Vec<F>,
    r_m: Vec<F>,
    par_g: Vec<F>,
    par_z: Vec<F>,
}

impl<F: Real> NeuronChunk<F> {
    fn new(z: usize, steps: usize, params: usize) -> Self {
        let zeros = |n| vec![F::zero(); n];
        Self {
            z,
            m_mat: zeros(steps * z * z),
            m_vec: zeros(steps * z),
            h: zeros(steps * z),
            m_par: zeros(steps * params * z),
            psi: zeros(z * z),
            lam0: zeros(z),
            q: zeros(steps),
            r_m: zeros(steps * z),
            par_g: zeros(params),
            par_z: zeros(params * z),
        }
    }

    /// The backward recursion over `steps` steps.
    fn solve(&mut self, steps: usize) {
        let z = self.z;
        let params = self.par_g.len();
        let mut lam = vec![F::zero(); z];
        let mut r = identity::<F>(z);
        let mut tmp = vec![F::zero(); z * z];
        self.par_g.iter_mut().for_each(|v| *v = F::zero());
        self.par_z.iter_mut().for_each(|v| *v = F::zero());
        for tau in (0..steps).rev() {
            if tau + 1 < steps {
                let next = &self.m_mat[(tau + 1) * z * z..(tau + 2) * z * z];
                lam = mat_t_vec(next, &lam, z);
                mat_mul(&r, next, z, &mut tmp);
                std::mem::swap(&mut r, &mut tmp);
            }
            add(&mut lam, &self.h[tau * z..(tau + 1) * z]);
            let m = &self.m_vec[tau * z..(tau + 1) * z];
            self.q[tau] = dot(m, &lam);
            mat_vec(&r, m, z, &mut self.r_m[tau * z..(tau + 1) * z]);
            for s in 0..params {
                let mp = &self.m_par[(tau * params + s) * z..(tau * params + s + 1) * z];
                self.par_g[s] += dot(mp, &lam);
                let mut rm = vec![F::zero(); z];
                mat_vec(&r, mp, z, &mut rm);
                add(&mut self.par_z[s * z..(s + 1) * z], &rm);
            }
        }
        let first = &self.m_mat[..z * z];
        self.lam0 = mat_t_vec(first, &lam, z);
        mat_mul(&r, first, z, &mut self.psi);
    }
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
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let (n, z) = (self.n, self.dim + 2);
        let (alpha_o, beta_o) = readout_decays(view, b);
        let mut chunk = NeuronChunk::new(z, steps, self.chains.len());
        let mut jac = StepJacobian::zeros(hidden.dim(), hidden.slots());
        // Per neuron: the chunk's transition, start adjoint, and per step q and R·m.
        let mut psi = vec![F::zero(); n * z * z];
        let mut lam0 = vec![F::zero(); n * z];
        let mut q = vec![F::zero(); steps * n];
        let mut r_m = vec![F::zero(); steps * n * z];
        let mut last_g = vec![F::zero(); n * self.dim];
        for j in 0..n {
            self.build(
                view,
                b,
                j,
                (alpha_o, beta_o),
                &mut jac,
                &mut chunk,
                &mut last_g,
            );
            chunk.solve(steps);
            psi[j * z * z..(j + 1) * z * z].copy_from_slice(&chunk.psi);
            lam0[j * z..(j + 1) * z].copy_from_slice(&chunk.lam0);
            for tau in 0..steps {
                q[tau * n + j] = chunk.q[tau];
                let dst = (tau * n + j) * z;
                r_m[dst..dst + z].copy_from_slice(&chunk.r_m[tau * z..(tau + 1) * z]);
            }
            for s in 0..self.chains.len() {
                let at = (s * n + j) * z;
                let zs = &mut self.z_par[at..at + z];
                self.g_par[s * n + j] += dot(&chunk.lam0, zs) + chunk.par_g[s];
                let mut next = vec![F::zero(); z];
                mat_vec(&chunk.psi, zs, z, &mut next);
                add(&mut next, &chunk.par_z[s * z..(s + 1) * z]);
                zs.copy_from_slice(&next);
            }
        }
        let system = Chunked {
            n,
            z,
            psi: &psi,
            lam0: &lam0,
            q: &q,
            r_m: &r_m,
        };
        system.carry(&mut self.z_in, &mut self.g_in);
        for tau in 0..steps {
            for (i, u) in view.input.active(tau, b) {
                system.presynaptic(tau, i, u, &mut self.z_in, &mut self.g_in);
            }
        }
        if self.recurrent {
            system.carry(&mut self.z_rec, &mut self.g_rec);
            for tau in 0..steps {
                let prev = match tau {
                    0 => &self.prev_out[..],
                    _ => hidden.out().row(tau - 1, b),
                };
                for (k, &u) in prev.iter().enumerate().filter(|(_, &u)| u != F::zero()) {
                    system.presynaptic(tau, k, u, &mut self.z_rec, &mut self.g_rec);
                }
            }
        }
        self.advance_readout(view, b);
        self.prev_out
            .copy_from_slice(hidden.out().row(steps - 1, b));
        self.prev_g = last_g;
    }

    /// Neuron `j`'s `M`, `m`, `h` and parameters' `m` over the chunk (see the module
    /// documentation); `last_g` receives its `∂o/∂s` of the chunk's last step.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        view: &ChunkView<'_, F>,
        b: usize,
        j: usize,
        (alpha_o, beta_o): (F, F),
        jac: &mut StepJacobian<F>,
        chunk: &mut NeuronChunk<F>,
        last_g: &mut [F],
    ) {
        let hidden = view.states.hidden[0].as_ref();
        let steps = hidden.out().steps;
        let (d, z, c) = (self.dim, self.dim + 2, self.outputs);
        let leak = F::one() - beta_o;
        let mut g_prev = self.prev_g[j * d..(j + 1) * d].to_vec();
        let r = view
            .g_counts
            .get(b * self.n + j)
            .copied()
            .unwrap_or(F::zero());
        let params = self.chains.len();
        for tau in 0..steps {
            hidden.jacobian(tau, b, j, jac);
            let g = &jac.out;
            // Ã = ∂s/∂s' + ∂s/∂o' ⊗ ∂o'/∂s' (the neuron's own previous output).
            let mut a = jac.prev.clone();
            for (row, &bo) in a.chunks_exact_mut(d).zip(&jac.prev_out) {
                row.iter_mut()
                    .zip(&g_prev)
                    .for_each(|(v, &gp)| *v += bo * gp);
            }
            let ga: Vec<F> = (0..d)
                .map(|col| (0..d).map(|r| g[r] * a[r * d + col]).sum())
                .collect();
            let m = &mut chunk.m_mat[tau * z * z..(tau + 1) * z * z];
            m.iter_mut().for_each(|v| *v = F::zero());
            for r in 0..d {
                m[r * z..r * z + d].copy_from_slice(&a[r * d..(r + 1) * d]);
            }
            for col in 0..d {
                m[d * z + col] = ga[col];
                m[(d + 1) * z + col] = leak * ga[col];
            }
            m[d * z + d] = alpha_o;
            m[(d + 1) * z + d] = leak * alpha_o;
            m[(d + 1) * z + d + 1] = beta_o;
            filtered(
                &jac.input,
                g,
                leak,
                F::one(),
                &mut chunk.m_vec[tau * z..(tau + 1) * z],
            );
            for (s, chain) in self.chains.iter().enumerate() {
                let col: Vec<F> = (0..d)
                    .map(|r| jac.params[r * jac.slots + chain.slot])
                    .collect();
                let at = (tau * params + s) * z;
                filtered(&col, g, leak, chain.factor[j], &mut chunk.m_par[at..at + z]);
            }
            let h = &mut chunk.h[tau * z..(tau + 1) * z];
            h.iter_mut().zip(g).for_each(|(h, &gr)| *h = r * gr);
            h[d] = F::zero();
            let g_row = &view.g_out[(tau * view.batch + b) * c..][..c];
            h[d + 1] = dot(view.feedback.row(j), g_row);
            g_prev.copy_from_slice(g);
        }
        last_g[j * d..(j + 1) * d].copy_from_slice(&g_prev);
    }

    /// The readout synapses' exact traces over the chunk: `z = ∂(I_k, U_k)/∂W_jk`.
    fn advance_readout(&mut self, view: &ChunkView<'_, F>, b: usize) {
        let readout = view.states.readout.as_ref();
        let hidden = view.states.hidden[0].out();
        let steps = hidden.steps;
        let (n, c) = (self.n, self.outputs);
        let mut jac = StepJacobian::zeros(2, readout.slots());
        readout.jacobian(0, b, 0, &mut jac);
        let (a, m) = (jac.prev.clone(), jac.input.clone());
        let mut chunk = NeuronChunk::new(2, steps, 0);
        for tau in 0..steps {
            chunk.m_mat[tau * 4..(tau + 1) * 4].copy_from_slice(&a);
            chunk.m_vec[tau * 2..(tau + 1) * 2].copy_from_slice(&m);
        }
        for k in 0..c {
            for tau in 0..steps {
                let g = view.g_out[(tau * view.batch + b) * c + k];
                chunk.h[tau * 2..(tau + 1) * 2].copy_from_slice(&[F::zero(), g]);
            }
            chunk.solve(steps);
            for j in 0..n {
                let at = (j * c + k) * 2;
                let zs = &mut self.z_out[at..at + 2];
                self.g_out[j * c + k] += dot(&chunk.lam0, zs);
                let mut next = [F::zero(); 2];
                mat_vec(&chunk.psi, zs, 2, &mut next);
                zs.copy_from_slice(&next);
            }
            for tau in 0..steps {
                let row = hidden.row(tau, b);
                for (j, &u) in row.iter().enumerate().filter(|(_, &u)| u != F::zero()) {
                    self.g_out[j * c + k] += u * chunk.q[tau];
                    let at = (j * c + k) * 2;
                    let rm = &chunk.r_m[tau * 2..(tau + 1) * 2];
                    self.z_out[at] += u * rm[0];
                    self.z_out[at + 1] += u * rm[1];
                }
            }
        }
    }
}

/// The readout's decays `(α, β)`, read off its Jacobian (every output has the same).
fn readout_decays<F: Real>(view: &ChunkView<'_, F>, b: usize) -> (F, F) {
    let readout = view.states.readout.as_ref();
    let mut jac = StepJacobian::zeros(2, readout.slots());
    readout.jacobian(0, b, 0, &mut jac);
    (jac.prev[0], jac.prev[3])
}

/// `[v; g·v; (1 − β) g·v] · scale`: a state tangent `v` extended by its eligibility trace's
/// filter inputs.
fn filtered<F: Real>(v: &[F], g: &[F], leak: F, scale: F, out: &mut [F]) {
    let d = v.len();
    let e = dot(g, v);
    out[..d]
        .iter_mut()
        .zip(v)
        .for_each(|(o, &x)| *o = scale * x);
    out[d] = scale * e;
    out[d + 1] = scale * leak * e;
}

/// The per-neuron results of a chunk, applied to the synapses of one presynaptic population.
struct Chunked<'a, F> {
    n: usize,
    z: usize,
    psi: &'a [F],
    lam0: &'a [F],
    q: &'a [F],
    r_m: &'a [F],
}

impl<F: Real> Chunked<'_, F> {
    /// Every synapse `[pre, N, Z]`: `g += λ0 · z`, then `z ← Ψ z`.
    fn carry(&self, z_syn: &mut [F], g_syn: &mut [F]) {
        let (n, z) = (self.n, self.z);
        let mut next = vec![F::zero(); z];
        for (zs_pre, gs_pre) in z_syn.chunks_exact_mut(n * z).zip(g_syn.chunks_exact_mut(n)) {
            for (j, (zs, gs)) in zs_pre.chunks_exact_mut(z).zip(gs_pre).enumerate() {
                *gs += dot(&self.lam0[j * z..(j + 1) * z], zs);
                mat_vec(&self.psi[j * z * z..(j + 1) * z * z], zs, z, &mut next);
                zs.copy_from_slice(&next);
            }
        }
    }

    /// The presynaptic value `u` of input `i` at step `tau`, on every synapse `i → j`.
    fn presynaptic(&self, tau: usize, i: usize, u: F, z_syn: &mut [F], g_syn: &mut [F]) {
        let (n, z) = (self.n, self.z);
        let zs = &mut z_syn[i * n * z..(i + 1) * n * z];
        let gs = &mut g_syn[i * n..(i + 1) * n];
        let q = &self.q[tau * n..(tau + 1) * n];
        let rm = &self.r_m[tau * n * z..(tau + 1) * n * z];
        gs.iter_mut().zip(q).for_each(|(g, &qj)| *g += u * qj);
        zs.iter_mut().zip(rm).for_each(|(v, &r)| *v += u * r);
    }
}

fn identity<F: Real>(z: usize) -> Vec<F> {
    let mut m = vec![F::zero(); z * z];
    (0..z).for_each(|k| m[k * z + k] = F::one());
    m
}

fn dot<F: Real>(a: &[F], b: &[F]) -> F {
    a.iter().zip(b).map(|(&x, &y)| x * y).sum()
}

fn add<F: Real>(dst: &mut [F], src: &[F]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
}

/// `out = M v` for `M` `[z, z]`.
fn mat_vec<F: Real>(m: &[F], v: &[F], z: usize, out: &mut [F]) {
    for (o, row) in out.iter_mut().zip(m.chunks_exact(z)) {
        *o = dot(row, v);
    }
}

/// `Mᵀ v`.
fn mat_t_vec<F: Real>(m: &[F], v: &[F], z: usize) -> Vec<F> {
    (0..z)
        .map(|c| (0..z).map(|r| m[r * z + c] * v[r]).sum())
        .collect()
}

/// `out = A B` for `[z, z]` matrices.
fn mat_mul<F: Real>(a: &[F], b: &[F], z: usize, out: &mut [F]) {
    for r in 0..z {
        for c in 0..z {
            out[r * z + c] = (0..z).map(|k| a[r * z + k] * b[k * z + c]).sum();
        }
    }
}
