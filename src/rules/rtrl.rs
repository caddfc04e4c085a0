//! Exact real-time recurrent learning (RTRL; Williams & Zipser 1989), the forward-mode view of
//! an SNN's gradient in Zenke & Neftci 2021 ("Brain-inspired learning on neuromorphic
//! substrates", Proc. IEEE).
//!
//! Every neuron state carries its influence `M[t] = ∂s[t]/∂θ` on every learnable parameter
//! `θ` of its own and earlier layers, propagated with each step by the model's Jacobians
//! ([`crate::neurons::StepJacobian`]):
//!
//! ```text
//! dx_j[t] = Σ_k W_in[k, j] do_k^{below}[t] + Σ_k W_rec[k, j] do_k[t−1]  (+ in_i[t] for W_in[i, j],
//!                                                                        + o_k[t−1] for W_rec[k, j])
//! M_j[t]  = ∂s/∂s' · M_j[t−1] + ∂s/∂o' · do_j[t−1] + ∂s/∂x · dx_j[t] + ∂s/∂p_j     (p_j: own τ's)
//! do_j[t] = ∂o/∂s · M_j[t]
//! dL/dθ   = Σ_t Σ_k ∂L/∂y_k[t] dy_k[t]/dθ + Σ_t Σ_j ∂R/∂cnt_j · do_j[t]
//! ```
//!
//! with `y` the readout membranes and `R` the activity regularizers of the spike counts. This
//! is the same gradient BPTT computes (tests check it to 1e-9 in f64), in the same
//! conventions (surrogate derivative, detached or differentiable reset).
//!
//! Cost: per sample, the influence of a layer of `N` neurons with `D` state components on the
//! `P` parameters up to it takes `(2D + 3)·N·P` values (two steps of `M`, `do`, and `dx`);
//! each step costs `O(N·(N_in + N + D²)·P)`. With `P ≈ N²` this is the `O(N³)` memory and
//! `O(N⁴)` time per step that make RTRL a reference for small networks: a recurrent layer of
//! 64 LIF neurons on 20 inputs has `P ≈ 5 800` and needs `≈ 3 MB` per sample in f32; 256
//! neurons on 700 inputs need `≈ 1.3 GB` per sample. The rule refuses a batch whose memory
//! (influence of the samples run at once, plus the states of the forward pass) exceeds
//! `max_memory_mb`. The loss is evaluated on a first forward pass (which keeps every state);
//! its gradient `∂L/∂y[t]` then enters the forward-mode pass step by step.

use super::{activity_penalties, Batch, BatchGradients, GradientRule, RuleError};
use crate::layers::{Input, SlotChain, StateRun};
use crate::losses;
use crate::network::{Network, NetworkStates};
use crate::neurons::StepJacobian;
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use rayon::prelude::*;

/// The default memory limit of RTRL.
pub const DEFAULT_RTRL_MEMORY_MB: f64 = 2048.0;

/// Exact forward-mode gradients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rtrl {
    /// The most memory a batch may take, in MB (see the module documentation).
    pub max_memory_mb: f64,
}

impl Default for Rtrl {
    fn default() -> Self {
        Self {
            max_memory_mb: DEFAULT_RTRL_MEMORY_MB,
        }
    }
}

/// One layer's learnable parameters as influence columns.
#[derive(Clone, Debug)]
struct Block<F> {
    /// Column of the first input weight (row-major `[inputs, N]`).
    w_in: usize,
    /// Column of the first recurrent weight.
    w_rec: Option<usize>,
    /// Learnable per-neuron parameters: their first column and how they enter the model.
    chains: Vec<(usize, SlotChain<F>)>,
    /// One past the layer's last column: the influence width of the layer.
    end: usize,
}

/// Every learnable tensor as columns, in [`Network::tensors`] order.
struct Columns<F> {
    hidden: Vec<Block<F>>,
    readout: Block<F>,
    /// Values per learnable tensor.
    sizes: Vec<usize>,
}

impl<F: Real> Columns<F> {
    fn of(net: &Network<F>) -> Self {
        let mut sizes: Vec<usize> = Vec::new();
        // The first column of a new tensor of `n` values.
        let mut take = |n: usize| {
            let first = sizes.iter().sum();
            sizes.push(n);
            first
        };
        let mut hidden = Vec::new();
        for layer in &net.hidden {
            let n = layer.size();
            let w_in = take(layer.w_in.data.len());
            let w_rec = layer.w_rec.as_ref().map(|w| take(w.data.len()));
            let chains = layer.neurons.slot_chains();
            let chains: Vec<_> = chains.into_iter().map(|c| (take(n), c)).collect();
            let end = take(0);
            hidden.push(Block {
                w_in,
                w_rec,
                chains,
                end,
            });
        }
        let r = &net.readout;
        let w_in = take(r.w.data.len());
        let chains = r.slot_chains().into_iter();
        let chains: Vec<_> = chains.map(|c| (take(r.spec.size), c)).collect();
        let end = take(0);
        sizes.retain(|&n| n > 0);
        let readout = Block {
            w_in,
            w_rec: None,
            chains,
            end,
        };
        Self {
            hidden,
            readout,
            sizes,
        }
    }

    fn total(&self) -> usize {
        self.readout.end
    }
}

/// The values a layer's influence takes per sample: `(2D + 3)·N·P + N·P_below`.
fn influence_values(n: usize, dim: usize, end: usize, below: usize) -> usize {
    (2 * dim + 3) * n * end + n * below
}

impl<F: Real> GradientRule<F> for Rtrl {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        super::check_online_rule("rtrl", net, &batch)?;
        let (steps, samples, _) = batch.input.shape();
        let columns = Columns::of(net);
        self.check_memory(net, &columns, steps, samples)?;
        let states = net.forward_states(batch.input, batch.noise, 0, None);
        if let Some(place) = states.non_finite() {
            return Err(RuleError::NonFinite(place));
        }
        let out = losses::compute_timed(
            batch.loss,
            net.spec.dt_ms,
            states.readout.out(),
            batch.targets,
        )?;
        if !out.loss.is_finite() {
            return Err(RuleError::NonFinite("the loss".into()));
        }
        let spikes: Vec<Seq<F>> = states.hidden.iter().map(|h| h.out().clone()).collect();
        let (reg_loss, g_counts) = activity_penalties(batch.activity, &spikes)?;
        let pass = Pass {
            net,
            input: batch.input,
            states: &states,
            columns: &columns,
            g_out: &out.grad,
            g_counts: &g_counts,
        };
        let per_sample: Vec<Vec<F>> = (0..samples)
            .into_par_iter()
            .map(|b| pass.sample(b))
            .collect();
        let mut total = vec![F::zero(); columns.total()];
        for g in &per_sample {
            total.iter_mut().zip(g).for_each(|(t, &v)| *t += v);
        }
        Ok(BatchGradients {
            loss: out.loss,
            correct: out.correct,
            reg_loss,
            spikes: spikes
                .iter()
                .map(|s| s.data.iter().map(|v| v.as_f64()).sum())
                .collect(),
            grads: super::masked_tensors(net, &columns.sizes, total),
        })
    }
}

impl Rtrl {
    /// Refuses a batch whose influence tensors and states exceed the memory limit.
    fn check_memory<F: Real>(
        &self,
        net: &Network<F>,
        columns: &Columns<F>,
        steps: usize,
        samples: usize,
    ) -> Result<(), RuleError> {
        let mut per_sample = 0;
        let mut state_values = 0;
        let mut below = 0;
        for (layer, block) in net.hidden.iter().zip(&columns.hidden) {
            let dim = layer.neurons.state_dim();
            per_sample += influence_values(layer.size(), dim, block.end, below);
            state_values += steps * samples * layer.size() * (dim + 1);
            below = block.end;
        }
        let c = net.readout.spec.size;
        per_sample += influence_values(c, 2, columns.total(), below) + columns.total();
        state_values += steps * samples * c * 3;
        let at_once = samples.min(rayon::current_num_threads());
        let values = per_sample * at_once + state_values + samples * columns.total();
        let needed_mb = (values * size_of::<F>()) as f64 / 1e6;
        if needed_mb > self.max_memory_mb {
            return Err(RuleError::MemoryLimit {
                rule: "rtrl",
                needed_mb,
                limit_mb: self.max_memory_mb,
                detail: format!(
                    "{} parameters, {:.1} MB of influence tensors per sample, {at_once} samples \
                     at once; raise training.rule.max_memory_mb or shrink the network",
                    columns.total(),
                    (per_sample * size_of::<F>()) as f64 / 1e6
                ),
            });
        }
        Ok(())
    }
}

/// What every sample's forward-mode pass reads.
struct Pass<'a, F: Real> {
    net: &'a Network<F>,
    input: Input<'a, F>,
    states: &'a NetworkStates<F>,
    columns: &'a Columns<F>,
    g_out: &'a Seq<F>,
    /// Per hidden layer, `∂R/∂cnt` `[B, N]` (empty without regularizers).
    g_counts: &'a [Vec<F>],
}

/// One layer's influence on the parameters up to it, for one sample.
struct Influence<F> {
    dim: usize,
    /// Columns (the layer's `end`).
    width: usize,
    /// `M[t]` and `M[t−1]`, `[N, D, P]`.
    ds: Vec<F>,
    ds_prev: Vec<F>,
    /// `do[t]` and `do[t−1]`, `[N, P]`.
    dout: Vec<F>,
    dout_prev: Vec<F>,
    /// `dx[t]` `[N, P]`, and the product with the layer below `[N, P_below]`.
    dx: Vec<F>,
    below: Vec<F>,
    jac: StepJacobian<F>,
}

impl<F: Real> Influence<F> {
    fn new(n: usize, run: &dyn StateRun<F>, width: usize, below: usize) -> Self {
        let dim = run.dim();
        let zeros = |len| vec![F::zero(); len];
        Self {
            dim,
            width,
            ds: zeros(n * dim * width),
            ds_prev: zeros(n * dim * width),
            dout: zeros(n * width),
            dout_prev: zeros(n * width),
            dx: zeros(n * width),
            below: zeros(n * below),
            jac: StepJacobian::zeros(dim, run.slots()),
        }
    }

    /// `dx += Wᵀ · do_below` (the layer below's output tangents, `P_below` columns).
    fn add_from_below(&mut self, w: &Matrix<F>, do_below: &[F], p_below: usize) {
        let n = w.cols;
        crate::linalg::gemm_serial(
            n,
            p_below,
            w.rows,
            &w.data,
            true,
            do_below,
            false,
            &mut self.below,
            false,
        );
        for j in 0..n {
            let (dst, src) = (j * self.width, j * p_below);
            add_into(
                &mut self.dx[dst..dst + p_below],
                &self.below[src..src + p_below],
            );
        }
    }

    /// `M[t]` and `do[t]` of every neuron from `dx` and the previous step.
    fn advance(&mut self, run: &dyn StateRun<F>, t: usize, b: usize, block: &Block<F>) {
        let (d, p) = (self.dim, self.width);
        let n = self.dout.len() / p;
        for j in 0..n {
            run.jacobian(t, b, j, &mut self.jac);
            let jac = &self.jac;
            for r in 0..d {
                let row = &mut self.ds[(j * d + r) * p..(j * d + r + 1) * p];
                row.iter_mut().for_each(|v| *v = F::zero());
                for c in 0..d {
                    let a = jac.prev[r * d + c];
                    if a != F::zero() {
                        axpy_into(row, a, &self.ds_prev[(j * d + c) * p..(j * d + c + 1) * p]);
                    }
                }
                let (bo, ci) = (jac.prev_out[r], jac.input[r]);
                if bo != F::zero() {
                    axpy_into(row, bo, &self.dout_prev[j * p..(j + 1) * p]);
                }
                if ci != F::zero() {
                    axpy_into(row, ci, &self.dx[j * p..(j + 1) * p]);
                }
                for (col, chain) in &block.chains {
                    row[col + j] += jac.params[r * jac.slots + chain.slot] * chain.factor[j];
                }
            }
            let dout = &mut self.dout[j * p..(j + 1) * p];
            dout.iter_mut().for_each(|v| *v = F::zero());
            for r in 0..d {
                let g = jac.out[r];
                if g != F::zero() {
                    axpy_into(dout, g, &self.ds[(j * d + r) * p..(j * d + r + 1) * p]);
                }
            }
        }
    }

    fn swap(&mut self) {
        std::mem::swap(&mut self.ds, &mut self.ds_prev);
        std::mem::swap(&mut self.dout, &mut self.dout_prev);
    }
}

impl<F: Real> Pass<'_, F> {
    /// The gradient contribution of sample `b`.
    fn sample(&self, b: usize) -> Vec<F> {
        let (net, cols) = (self.net, self.columns);
        let mut below = 0;
        let mut work: Vec<Influence<F>> = Vec::new();
        for ((layer, block), run) in net.hidden.iter().zip(&cols.hidden).zip(&self.states.hidden) {
            work.push(Influence::new(layer.size(), run.as_ref(), block.end, below));
            below = block.end;
        }
        let readout_run = self.states.readout.as_ref();
        let c = net.readout.spec.size;
        let mut readout = Influence::new(c, readout_run, cols.total(), below);
        let mut grad = vec![F::zero(); cols.total()];
        let steps = self.g_out.steps;
        for t in 0..steps {
            for k in 0..work.len() {
                let (done, rest) = work.split_at_mut(k);
                let below = done.last().map(|w| (&w.dout[..], w.width));
                self.layer_step(k, t, b, &mut rest[0], below);
            }
            let last = work.last().expect("a network has a hidden layer");
            readout.dx.iter_mut().for_each(|v| *v = F::zero());
            readout.add_from_below(&net.readout.w, &last.dout, last.width);
            let spikes = self.states.hidden.last().expect("hidden layer").out();
            add_immediate(
                &mut readout.dx,
                cols.total(),
                cols.readout.w_in,
                spikes.row(t, b),
                c,
            );
            readout.advance(readout_run, t, b, &cols.readout);
            for (k, &g) in self.g_out.row(t, b).iter().enumerate() {
                axpy_into(
                    &mut grad,
                    g,
                    &readout.dout[k * cols.total()..(k + 1) * cols.total()],
                );
            }
            for (w, g) in work.iter().zip(self.g_counts) {
                let n = w.dout.len() / w.width;
                for (j, &gc) in g[b * n..(b + 1) * n].iter().enumerate() {
                    axpy_into(
                        &mut grad[..w.width],
                        gc,
                        &w.dout[j * w.width..(j + 1) * w.width],
                    );
                }
            }
            work.iter_mut().for_each(Influence::swap);
            readout.swap();
        }
        grad
    }

    /// Step `t` of hidden layer `k` for sample `b`; `below` is the layer below's `do[t]` and
    /// width.
    fn layer_step(
        &self,
        k: usize,
        t: usize,
        b: usize,
        w: &mut Influence<F>,
        below: Option<(&[F], usize)>,
    ) {
        let layer = &self.net.hidden[k];
        let block = &self.columns.hidden[k];
        let run = self.states.hidden[k].as_ref();
        let n = layer.size();
        w.dx.iter_mut().for_each(|v| *v = F::zero());
        if let Some((do_below, p_below)) = below {
            w.add_from_below(&layer.w_in, do_below, p_below);
        }
        if let (Some(w_rec), Some(col)) = (&layer.w_rec, block.w_rec) {
            crate::linalg::gemm_serial(
                n,
                w.width,
                n,
                &w_rec.data,
                true,
                &w.dout_prev,
                false,
                &mut w.dx,
                true,
            );
            if t > 0 {
                add_immediate(&mut w.dx, w.width, col, run.out().row(t - 1, b), n);
            }
        }
        let input = self.layer_input(k, t, b);
        add_immediate(&mut w.dx, w.width, block.w_in, &input, n);
        w.advance(run, t, b, block);
    }

    /// Layer `k`'s input row `(t, b)`, dense.
    fn layer_input(&self, k: usize, t: usize, b: usize) -> Vec<F> {
        match k {
            0 => match self.input {
                Input::Events(e) => {
                    let mut row = vec![F::zero(); e.width];
                    for &i in e.row(t * e.batch + b) {
                        row[i as usize] = F::one();
                    }
                    row
                }
                Input::Dense { x, .. } => x.row(t, b).to_vec(),
            },
            _ => self.states.hidden[k - 1].out().row(t, b).to_vec(),
        }
    }
}

/// `dx[j][col + i·n + j] += x_i` for every non-zero input `x_i` (the immediate influence of
/// the weights `W[i, j]`, stored from column `col` row-major `[inputs, n]`).
fn add_immediate<F: Real>(dx: &mut [F], width: usize, col: usize, x: &[F], n: usize) {
    for (i, &xi) in x.iter().enumerate() {
        if xi != F::zero() {
            for j in 0..n {
                dx[j * width + col + i * n + j] += xi;
            }
        }
    }
}

fn add_into<F: Real>(dst: &mut [F], src: &[F]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
}

fn axpy_into<F: Real>(dst: &mut [F], a: F, src: &[F]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += a * s);
}
