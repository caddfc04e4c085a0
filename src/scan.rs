//! The generic time scan: runs any [`NeuronModel`] forward over `[T, B, N]` and backward
//! through time (BPTT), parallel over the batch.
//!
//! The scan owns what is common to every model: the optional recurrent product
//! `x[t] += o[t−1] · W_rec` (a row gather over the non-zero outputs), the bookkeeping of state
//! adjoints between steps, the reduction of per-neuron parameter gradients over the batch, and
//! the [`StepContext`] of every row (step, sample, noise stream). For spiking layers (and
//! readouts fed spikes) it also runs the products with spike operands around the neurons, one
//! block of rows at a time as it reaches them: the feed-forward current of input events
//! ([`Current`]), `∂L/∂o` through a readout's weights ([`OutputGrad`]) and the weight
//! gradients of input and recurrent spikes ([`backward_gathering`]), so that no `[T, B, N]`
//! current or gradient is written, cleared and read back (memory traffic, not arithmetic,
//! bounds a spiking step).
//!
//! What the forward scan keeps of each step is its sink's choice ([`StepSink`]): the records
//! the backward pass needs ([`KeepSaved`]), whole states ([`KeepStates`], for rules that
//! process the states of a few steps at a time), or nothing ([`KeepNothing`], inference).

use crate::events::SpikeEvents;
use crate::neurons::{NeuronModel, NoiseStream, StepContext};
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
pub use current::{Current, ProjectedEvents};
use output_grad::BlockGrad;
pub use output_grad::OutputGrad;
use outputs::{DenseBlocks, EventRows, OutputSink};
use partials::{WeightEvents, WeightPartials};
use rayon::prelude::*;
use std::fmt::Debug;
use std::mem::MaybeUninit;

/// What the forward scan keeps of every neuron and step.
pub trait StepSink<F: Real, M: NeuronModel<F>> {
    /// The record kept per neuron and step (`()` keeps nothing, in no memory).
    type Record: Copy + Default + Send + Sync + Debug;
    /// The record of one neuron's new state.
    fn record(model: &M, state: &M::State) -> Self::Record;
}

/// Keeps what the model's adjoint needs ([`NeuronModel::Saved`]): the BPTT sink.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepSaved;

impl<F: Real, M: NeuronModel<F>> StepSink<F, M> for KeepSaved {
    type Record = M::Saved;
    #[inline(always)]
    fn record(model: &M, state: &M::State) -> M::Saved {
        model.save(state)
    }
}

/// Keeps every neuron's whole state.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepStates;

impl<F: Real, M: NeuronModel<F>> StepSink<F, M> for KeepStates {
    type Record = M::State;
    #[inline(always)]
    fn record(_model: &M, state: &M::State) -> M::State {
        *state
    }
}

/// Keeps nothing (forward passes whose outputs are all that is needed).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepNothing;

impl<F: Real, M: NeuronModel<F>> StepSink<F, M> for KeepNothing {
    type Record = ();
    #[inline(always)]
    fn record(_model: &M, _state: &M::State) {}
}

/// Where a scan runs: the noise stream its stochastic models draw from, and the step of the
/// whole sequence its first input step is (a scan may run a sequence a chunk at a time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanContext {
    /// The forward pass's random numbers.
    pub noise: NoiseStream,
    /// The step of the sequence that the scan's step 0 is.
    pub first_step: usize,
}

impl ScanContext {
    /// The context of row `sample` at the scan's step `step`.
    #[inline(always)]
    fn at(&self, step: usize, sample: usize) -> StepContext {
        StepContext {
            step: self.first_step + step,
            sample,
            noise: self.noise,
        }
    }
}

/// Where a scan continues from: every neuron's state and output after the previous step
/// (`[B, N]` each), instead of the initial state and zero outputs.
#[derive(Clone, Copy, Debug)]
pub struct ScanStart<'a, S, F> {
    /// The states.
    pub states: &'a [S],
    /// The outputs.
    pub outs: &'a [F],
}

/// What the forward scan keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct ScanTrace<F, S> {
    /// What the model keeps of every neuron and step for the backward pass
    /// ([`NeuronModel::Saved`]), time-major like [`Seq`].
    pub saved: Vec<S>,
    /// Outputs `o[t, b, j]` (spikes, or membrane traces for a readout). A layer that keeps
    /// binary spikes as `events` may release them (the backward pass does not read them).
    pub out: Seq<F>,
    /// The outputs as events, when they are binary spikes (set by the layer that knows it):
    /// the recurrent weight gradient then gathers from them instead of scanning `out`.
    pub events: Option<SpikeEvents>,
}

/// Gradients produced by the backward scan.
#[derive(Clone, Debug)]
pub struct ScanGrads<F> {
    /// `∂L/∂x[t, b, j]`, the gradient of the feed-forward input currents (`None` when the
    /// caller asked for it to be discarded, [`InputGrad::Discard`]).
    pub input: Option<Seq<F>>,
    /// `∂L/∂W_rec`, when the layer is recurrent.
    pub w_rec: Option<Matrix<F>>,
    /// `∂L/∂W_in` of the spike input given to [`backward_gathering`], if any.
    pub w_in: Option<Matrix<F>>,
    /// Per-neuron parameter gradients, parameter-major: `params[p * N + j]`.
    pub params: Vec<F>,
}

/// Blocks of samples a batch is split into, whatever the number of threads: each block's
/// weight-gradient partial sums are added in block order, so a split that depends on the
/// batch alone keeps results independent of the thread count. Eight blocks balance two
/// threads well (paired `shd-rsnn` runs at B = 128 against two blocks per thread: 0.95× the
/// time) and keep up to eight busy.
const SCAN_BLOCKS: usize = 8;

/// Fewest samples per block: below this the per-block partial sums cost more than the work
/// they split (paired `shd-rsnn` runs at B = 32, one thread: 0.93× the time of 4-sample
/// blocks).
const MIN_BLOCK_SAMPLES: usize = 8;

/// Samples per parallel task: a block of samples (so that per-step products run on blocks,
/// not single rows), [`SCAN_BLOCKS`] blocks per batch unless they would be smaller than
/// [`MIN_BLOCK_SAMPLES`].
fn samples_per_task(batch: usize) -> usize {
    batch.div_ceil(SCAN_BLOCKS).max(MIN_BLOCK_SAMPLES)
}

/// Runs `model` over the input currents `input` `[T, B, N]` (given whole, or spike events
/// through a weight matrix, [`Current`]), keeping what the backward pass needs, with the
/// default noise stream.
///
/// With `w_rec` (`[N, N]`), the previous step's outputs feed back: `x[t] += o[t−1] · W_rec`.
pub fn forward<'a, F: Real, M: NeuronModel<F>>(
    model: &M,
    input: impl Into<Current<'a, F>>,
    w_rec: Option<&Matrix<F>>,
) -> ScanTrace<F, M::Saved> {
    let ctx = ScanContext::default();
    forward_kept::<F, M, KeepSaved>(model, input.into(), w_rec, &ctx, None, Outputs::Dense).0
}

/// [`forward`] in context `ctx`, keeping what the sink `K` records of every step.
pub fn forward_with<F: Real, M: NeuronModel<F>, K: StepSink<F, M>>(
    model: &M,
    input: Seq<F>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
) -> ScanTrace<F, K::Record> {
    forward_from::<F, M, K>(model, input, w_rec, ctx, None).0
}

/// [`forward_with`] from `start` (the initial state when `None`); also returns every
/// neuron's state after the last step (`[B, N]`), from which a next chunk continues.
pub fn forward_from<F: Real, M: NeuronModel<F>, K: StepSink<F, M>>(
    model: &M,
    input: Seq<F>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
    start: Option<ScanStart<'_, M::State, F>>,
) -> (ScanTrace<F, K::Record>, Vec<M::State>) {
    forward_kept::<F, M, K>(model, input.into(), w_rec, ctx, start, Outputs::Dense)
}

/// [`forward_with`] for a model whose outputs are binary spikes: they are kept as events
/// only (`events` is set, `out` is empty), and no dense `[T, B, N]` output is ever written.
/// The input current may be given whole or as spike events through a weight matrix
/// ([`Current`]).
pub fn forward_events<'a, F: Real, M: NeuronModel<F>, K: StepSink<F, M>>(
    model: &M,
    input: impl Into<Current<'a, F>>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
) -> ScanTrace<F, K::Record> {
    forward_kept::<F, M, K>(model, input.into(), w_rec, ctx, None, Outputs::Events).0
}

/// How a forward scan keeps its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outputs {
    /// The dense sequence `[T, B, N]`.
    Dense,
    /// Event lists of the non-zero outputs only.
    Events,
}

/// The forward scan, keeping its outputs as `outputs` says.
fn forward_kept<F: Real, M: NeuronModel<F>, K: StepSink<F, M>>(
    model: &M,
    input: Current<'_, F>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
    start: Option<ScanStart<'_, M::State, F>>,
    outputs: Outputs,
) -> (ScanTrace<F, K::Record>, Vec<M::State>) {
    let (steps, batch, n) = input.shape();
    assert_eq!(
        model.width(),
        n,
        "scan::forward: model width != input width"
    );
    let slab = batch * n;
    if let Some(start) = &start {
        assert!(
            start.states.len() == slab && start.outs.len() == slab,
            "scan start shape"
        );
    }
    let block = samples_per_task(batch) * n;
    // Left uninitialised: the tasks write every record exactly once, and clearing them first
    // (13–26 MB at B = 128) would cost as much memory traffic as writing them.
    let mut saved = uninit_records::<K::Record>(steps * slab);
    let mut finals: Vec<M::State> = match &start {
        Some(s) => s.states.to_vec(),
        None => (0..slab).map(|i| model.initial_state(i % n)).collect(),
    };
    let zeros = vec![F::zero(); slab];
    let first_outs = start.map_or(&zeros[..], |s| s.outs);
    let run = Run {
        model,
        ctx,
        block,
        real: std::marker::PhantomData,
    };
    let (out, events) = match outputs {
        Outputs::Dense => {
            let mut out = Seq::zeros(steps, batch, n);
            let sinks: Vec<DenseBlocks<'_, F>> = blocks_per_task(&mut out.data, slab, block)
                .into_iter()
                .map(|blocks| DenseBlocks {
                    blocks: blocks.into_iter(),
                })
                .collect();
            run.blocks::<K, _>(&input, w_rec, &mut saved, sinks, &mut finals, first_outs);
            (out, None)
        }
        Outputs::Events => {
            let sinks = (0..slab.div_ceil(block))
                .map(|_| EventRows::new(n))
                .collect();
            let tasks =
                run.blocks::<K, _>(&input, w_rec, &mut saved, sinks, &mut finals, first_outs);
            let events = outputs::assemble(steps, batch, n, &tasks);
            (Seq::zeros(0, 0, 0), Some(events))
        }
    };
    // SAFETY: `Run::blocks` wrote every record: each task writes all rows of its block at
    // every step, and the tasks' blocks cover every step's slab.
    let saved = unsafe { assume_written(saved) };
    let trace = ScanTrace { saved, out, events };
    (trace, finals)
}

/// `len` records to be written before they are read.
fn uninit_records<R>(len: usize) -> Vec<MaybeUninit<R>> {
    let mut records = Vec::with_capacity(len);
    // SAFETY: the capacity is there, and an uninitialised `MaybeUninit` is a valid value.
    unsafe { records.set_len(len) };
    records
}

/// The records, all written.
///
/// # Safety
/// Every element of `records` must have been written.
unsafe fn assume_written<R>(records: Vec<MaybeUninit<R>>) -> Vec<R> {
    let mut records = std::mem::ManuallyDrop::new(records);
    let (ptr, len, cap) = (records.as_mut_ptr(), records.len(), records.capacity());
    // SAFETY: `MaybeUninit<R>` has the layout of `R`, the allocation is handed over whole,
    // and the caller guarantees every element is initialised.
    unsafe { Vec::from_raw_parts(ptr.cast::<R>(), len, cap) }
}

/// A forward scan's model, context and block size.
struct Run<'a, F, M> {
    model: &'a M,
    ctx: &'a ScanContext,
    /// Elements per block of samples.
    block: usize,
    real: std::marker::PhantomData<F>,
}

impl<F: Real, M: NeuronModel<F>> Run<'_, F, M> {
    /// Steps one row (sample `sample` at step `t`) and records its new states.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn row<K: StepSink<F, M>>(
        &self,
        t: usize,
        sample: usize,
        prev: &[M::State],
        prev_outs: &[F],
        x: &[F],
        states: &mut [M::State],
        outs: &mut [F],
        records: &mut [MaybeUninit<K::Record>],
    ) {
        let ctx = self.ctx.at(t, sample);
        self.model.step_row(prev, prev_outs, x, states, outs, &ctx);
        for (r, s) in records.iter_mut().zip(states.iter()) {
            r.write(K::record(self.model, s));
        }
    }
}

/// Splits each step's slab of a time-major buffer into blocks, and hands block `c` of every
/// step to task `c`: `tasks[c][t]` is block `c` of step `t`.
fn blocks_per_task<T>(data: &mut [T], slab: usize, block: usize) -> Vec<Vec<&mut [T]>> {
    let mut tasks: Vec<Vec<&mut [T]>> = (0..slab.div_ceil(block)).map(|_| Vec::new()).collect();
    for step in data.chunks_mut(slab) {
        for (task, blk) in tasks.iter_mut().zip(step.chunks_mut(block)) {
            task.push(blk);
        }
    }
    tasks
}

impl<F: Real, M: NeuronModel<F>> Run<'_, F, M> {
    /// Each task runs its block of samples through every step, with no barrier between
    /// steps: without recurrence the samples never interact, and with it a sample's recurrent
    /// input is its own previous output (`w_rec`, added to a copy of each row's input).
    /// Measured against a barrier per step (each step's blocks re-balanced between threads),
    /// paired whole-process runs of `shd-rsnn`: 0.80–0.87× the time at B = 32, 0.96× at
    /// B = 64, 0.98× at B = 128 (forward and backward both without barriers).
    /// `finals` holds the states before the first step on entry and after the last on exit;
    /// `first_outs` the outputs before the first step. Each task hands every step's outputs
    /// to its sink (`sinks[c]` for task `c`) and returns it.
    fn blocks<K: StepSink<F, M>, O: OutputSink<F>>(
        &self,
        input: &Current<'_, F>,
        w_rec: Option<&Matrix<F>>,
        saved: &mut [MaybeUninit<K::Record>],
        sinks: Vec<O>,
        finals: &mut [M::State],
        first_outs: &[F],
    ) -> Vec<O> {
        let block = self.block;
        let (_, batch, n) = input.shape();
        let slab = batch * n;
        let started = first_outs.iter().any(|&o| o != F::zero());
        let saves = blocks_per_task(saved, slab, block);
        sinks
            .into_par_iter()
            .zip(saves)
            .zip(finals.par_chunks_mut(block))
            .enumerate()
            .map(|(c, ((mut sink, mut s_blks), finals))| {
                let start = c * block;
                let len = finals.len();
                let mut prev = finals.to_vec();
                let mut cur = vec![M::State::default(); len];
                let mut prev_o = first_outs[start..start + len].to_vec();
                let mut cur_o = vec![F::zero(); len];
                let mut x_rec = vec![F::zero(); n];
                for (t, s_blk) in s_blks.iter_mut().enumerate() {
                    let recurrent = w_rec.filter(|_| t > 0 || started);
                    for r in 0..len / n {
                        let cols = r * n..(r + 1) * n;
                        let row = t * batch + start / n + r;
                        let x_row = match (input.given_row(row), recurrent) {
                            (Some(x), None) => x,
                            (_, recurrent) => {
                                input.write_row(row, &mut x_rec);
                                // x += o[t−1] · W_rec, gathering the rows of active outputs
                                // only: the ids the sink kept of binary outputs (the same
                                // sums), or found in the outputs.
                                if let Some(w) = recurrent {
                                    let o = &prev_o[cols.clone()];
                                    match sink.last_active(r) {
                                        Some(ids) => crate::linalg::add_rows(
                                            &w.data, w.cols, ids, &mut x_rec,
                                        ),
                                        None => crate::linalg::add_active_rows(w, o, &mut x_rec),
                                    }
                                }
                                &x_rec[..]
                            }
                        };
                        self.row::<K>(
                            t,
                            start / n + r,
                            &prev[cols.clone()],
                            &prev_o[cols.clone()],
                            x_row,
                            &mut cur[cols.clone()],
                            &mut cur_o[cols.clone()],
                            &mut s_blk[cols],
                        );
                    }
                    sink.emit(&cur_o);
                    std::mem::swap(&mut prev, &mut cur);
                    std::mem::swap(&mut prev_o, &mut cur_o);
                }
                finals.copy_from_slice(&prev);
                sink
            })
            .collect()
    }
}

/// Backpropagates `g_out = ∂L/∂o` (from everything downstream of the layer) through a scan
/// run with the default noise stream.
pub fn backward<F: Real, M: NeuronModel<F>>(
    model: &M,
    trace: &ScanTrace<F, M::Saved>,
    g_out: &Seq<F>,
    w_rec: Option<&Matrix<F>>,
) -> ScanGrads<F> {
    backward_with(model, trace, g_out, w_rec, &ScanContext::default())
}

/// [`backward`] of a scan run in context `ctx`.
pub fn backward_with<F: Real, M: NeuronModel<F>>(
    model: &M,
    trace: &ScanTrace<F, M::Saved>,
    g_out: &Seq<F>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
) -> ScanGrads<F> {
    backward_gathering(model, trace, g_out, w_rec, ctx, None, InputGrad::Keep)
}

impl<F> ScanGrads<F> {
    /// `∂L/∂x` of a backward pass that kept it ([`backward`], [`backward_with`], or
    /// [`InputGrad::Keep`]).
    ///
    /// # Panics
    /// When it was discarded.
    pub fn kept_input(&self) -> &Seq<F> {
        self.input.as_ref().expect("the input gradient was kept")
    }
}

/// Whether the backward scan returns `∂L/∂x` `[T, B, N]` ([`ScanGrads::input`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputGrad {
    /// Return it.
    Keep,
    /// Only the weight and parameter gradients are wanted: each block of samples reuses one
    /// step's rows (the whole `[T, B, N]` gradient is never written). It is kept anyway when
    /// the recurrent weight gradient needs it (outputs not kept as events).
    Discard,
}

/// [`backward_with`], also summing the weight gradient of spike inputs `input` (the events
/// whose product with `W_in` was the scan's input current): `∂L/∂W_in[i] = Σ_{r : i ∈ input(r)}
/// ∂L/∂x[r]`, in [`ScanGrads::w_in`]. Each block of samples adds its rows' `∂L/∂x` into its
/// own partial sums while they are in cache (the recurrent weight gradient too, when the
/// outputs are events), instead of reading them back from the whole `[T, B, N]` gradient.
pub fn backward_gathering<'a, F: Real, M: NeuronModel<F>>(
    model: &M,
    trace: &ScanTrace<F, M::Saved>,
    g_out: impl Into<OutputGrad<'a, F>>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
    input: Option<&SpikeEvents>,
    input_grad: InputGrad,
) -> ScanGrads<F> {
    let g_out = g_out.into();
    let (steps, batch, n) = g_out.shape();
    assert_eq!(
        model.width(),
        n,
        "scan::backward: model width != gradient width"
    );
    assert_eq!(
        trace.saved.len(),
        steps * batch * n,
        "scan::backward: trace shape"
    );
    let slab = batch * n;
    let per_task = samples_per_task(batch);
    let block = per_task * n;
    let p = M::GRADS_PER_NEURON;
    let initial: Vec<M::Saved> = (0..n)
        .map(|j| model.save(&model.initial_state(j)))
        .collect();
    let dense_recurrent = w_rec.is_some() && trace.events.is_none();
    let mut g_in =
        (input_grad == InputGrad::Keep || dense_recurrent).then(|| Seq::zeros(steps, batch, n));
    // Per sample: state adjoints carried to the previous step, and gradient reaching o[t−1]
    // (from the reset/adaptation path and from the recurrent product).
    let mut carry = vec![M::State::default(); slab];
    let mut g_prev_out = vec![F::zero(); slab];
    let mut param_grads = vec![F::zero(); batch * n * param_slots::<F, M>()];
    if let Some(x) = input {
        assert_eq!(
            (x.steps, x.batch),
            (steps, batch),
            "scan::backward: input events shape"
        );
    }
    let gathered = WeightEvents {
        input,
        recurrent: w_rec.and(trace.events.as_ref()),
    };
    let blocks = AdjointBlocks {
        trace,
        g_out: BlockGrad::new(g_out),
        batch,
        initial: &initial,
        block,
        ctx,
    };
    // `W_recᵀ` row-major, once: `gemm` would otherwise repack the transposed operand in every
    // per-step, per-block product (measured 85 → 45 µs per 32×256×256 product).
    let w_t = w_rec.map(Matrix::transpose);
    let partials = blocks.run(
        model,
        w_t.as_ref(),
        &gathered,
        g_in.as_mut(),
        &mut carry,
        &mut g_prev_out,
        &mut param_grads,
    );
    let width_in = input.map_or(0, |x| x.width);
    let w_rec_grad = w_rec.map(|w| match gathered.recurrent {
        Some(_) => WeightPartials::sum_recurrent(&partials, width_in, n),
        None => recurrent_weight_grad(
            &trace.out,
            g_in.as_ref()
                .expect("kept for the dense recurrent gradient"),
            w.rows,
        ),
    });
    ScanGrads {
        input: g_in,
        w_rec: w_rec_grad,
        w_in: input.map(|x| WeightPartials::sum_input(&partials, x.width, n)),
        params: reduce_param_grads(&param_grads, batch, n, p),
    }
}

/// What every block of the backward scan reads.
struct AdjointBlocks<'a, F, S> {
    trace: &'a ScanTrace<F, S>,
    g_out: BlockGrad<'a, F>,
    batch: usize,
    /// Saved records of the initial state (the "step −1" of every sample).
    initial: &'a [S],
    /// Elements per block of samples.
    block: usize,
    ctx: &'a ScanContext,
}

/// Parameter-gradient slots per neuron and sample: parameter gradients are chunked per task
/// like the state, so a model without any gets 1-wide dummies.
fn param_slots<F: Real, M: NeuronModel<F>>() -> usize {
    M::GRADS_PER_NEURON.max(1)
}

impl<F: Real, S: Sync> AdjointBlocks<'_, F, S> {
    /// Step `t` of one block (`start` = its first element within a step): the adjoint of every
    /// row, accumulating into the block's carries and parameter gradients.
    #[allow(clippy::too_many_arguments)]
    fn step<M: NeuronModel<F, Saved = S>>(
        &self,
        model: &M,
        t: usize,
        start: usize,
        g_ext: &[F],
        gx_blk: &mut [F],
        lam_blk: &mut [M::State],
        gpo_blk: &mut [F],
        pg_blk: &mut [F],
    ) {
        let n = model.width();
        let slab = self.batch * n;
        let s_t = &self.trace.saved[t * slab..(t + 1) * slab];
        let prev_s = (t > 0).then(|| &self.trace.saved[(t - 1) * slab..t * slab]);
        let p = M::GRADS_PER_NEURON;
        for r in 0..gx_blk.len() / n {
            let cols = r * n..(r + 1) * n;
            let abs = start + r * n..start + (r + 1) * n;
            model.adjoint_row(
                prev_s.map_or(self.initial, |s| &s[abs.clone()]),
                t == 0,
                &s_t[abs],
                &g_ext[cols.clone()],
                &mut lam_blk[cols.clone()],
                &mut gpo_blk[cols.clone()],
                &mut gx_blk[cols],
                &mut pg_blk[r * n * p..(r + 1) * n * p],
                &self.ctx.at(t, start / n + r),
            );
        }
    }

    /// Each task runs its block of samples back through every step, with no barrier between
    /// steps; with recurrence (`w_t` = `W_recᵀ`), a sample's `∂L/∂o[t−1]` gains its own
    /// `∂L/∂x[t] · W_recᵀ` after each step.
    /// Returns each block's partial weight gradients, in block order.
    #[allow(clippy::too_many_arguments)]
    fn run<M: NeuronModel<F, Saved = S>>(
        &self,
        model: &M,
        w_t: Option<&Matrix<F>>,
        gathered: &WeightEvents<'_>,
        g_in: Option<&mut Seq<F>>,
        carry: &mut [M::State],
        g_prev_out: &mut [F],
        param_grads: &mut [F],
    ) -> Vec<WeightPartials<F>> {
        let n = model.width();
        let slab = carry.len();
        let p_alloc = param_slots::<F, M>();
        // Each task's `∂L/∂x` blocks of every step, or `None`: one block reused every step.
        let kept: Vec<Option<Vec<&mut [F]>>> = match g_in {
            Some(g) => blocks_per_task(&mut g.data, slab, self.block)
                .into_iter()
                .map(Some)
                .collect(),
            None => (0..slab.div_ceil(self.block)).map(|_| None).collect(),
        };
        let steps = self.trace.saved.len() / slab.max(1);
        kept.into_par_iter()
            .zip(carry.par_chunks_mut(self.block))
            .zip(g_prev_out.par_chunks_mut(self.block))
            .zip(param_grads.par_chunks_mut(self.block * p_alloc))
            .enumerate()
            .map(|(c, (((mut kept, lam_blk), gpo_blk), pg_blk))| {
                let start = c * self.block;
                let first_sample = start / n;
                let len = lam_blk.len();
                let mut partials = WeightPartials::new(gathered, n, len / n, steps);
                let scratch = |used: bool| vec![F::zero(); if used { len } else { 0 }];
                let gathers = partials.gathers();
                let mut gx_scratch = scratch(kept.is_none() && !gathers);
                let mut g_ext_buf = scratch(self.g_out.computed());
                for t in (0..steps).rev() {
                    // Gathered rows go to the partials' window (and are copied out when
                    // kept); otherwise straight to the kept block or the scratch.
                    let gx_blk: &mut [F] = match &mut kept {
                        _ if gathers => partials.slot(t),
                        Some(blocks) => blocks[t],
                        None => &mut gx_scratch,
                    };
                    let g_ext = self
                        .g_out
                        .rows(t, (first_sample, len / n), n, &mut g_ext_buf);
                    self.step(model, t, start, g_ext, gx_blk, lam_blk, gpo_blk, pg_blk);
                    if let (Some(w_t), true) = (w_t, t > 0) {
                        let rows = gx_blk.len() / n;
                        crate::linalg::gemm_serial(
                            rows, n, n, gx_blk, false, &w_t.data, false, gpo_blk, true,
                        );
                    }
                    if let (Some(blocks), true) = (&mut kept, gathers) {
                        blocks[t].copy_from_slice(partials.slot(t));
                    }
                    partials.after_step(gathered, t, first_sample);
                }
                partials
            })
            .collect()
    }
}

/// `∂L/∂W_rec = Σ_t o[t−1]ᵀ · ∂L/∂x[t]` as one dense product (outputs without events).
pub(crate) fn recurrent_weight_grad<F: Real>(out: &Seq<F>, g_in: &Seq<F>, n: usize) -> Matrix<F> {
    let slab = out.batch * n;
    let rows = out.rows().saturating_sub(out.batch);
    let mut dw = Matrix::zeros(n, n);
    let (prev, next) = (&out.data[..rows * n], &g_in.data[slab..]);
    crate::linalg::gemm(n, n, rows, prev, true, next, false, &mut dw.data, true);
    dw
}

/// Sums `[B, N, P]` per-sample gradients into parameter-major `[P, N]`.
fn reduce_param_grads<F: Real>(per_sample: &[F], batch: usize, n: usize, p: usize) -> Vec<F> {
    let mut total = vec![F::zero(); p * n];
    for b in 0..batch {
        for j in 0..n {
            for k in 0..p {
                total[k * n + j] += per_sample[(b * n + j) * p + k];
            }
        }
    }
    total
}

mod current;
mod output_grad;
mod outputs;
mod partials;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
