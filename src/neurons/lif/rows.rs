//! The LIF's row kernels: one branch-free loop per spike kind, forward and adjoint, for both
//! saved-record forms ([`Lif`] keeps `I` and `U`, [`FixedLif`](super::FixedLif) keeps `U`).

use super::{Lif, LifState};
use crate::neurons::{ResetTerms, SavedState, StepAdjoint, StepContext};
use crate::real::Real;
use crate::surrogates::{SpikeKernel, WithSpikeKernel};

/// `λU*`, `λI*` and the previous-step gradients of the row kernel, mutably borrowed.
pub(super) type RowAdjoints<'a, F> = (&'a mut [LifState<F>], &'a mut [F], &'a mut [F]);

impl<F: Real> Lif<F> {
    /// The output of neuron `j` at step `ctx`, from either form's saved record.
    #[inline(always)]
    pub(super) fn record_output<S: SavedState<F>>(
        &self,
        j: usize,
        saved: &S,
        ctx: &StepContext,
    ) -> F {
        let x = saved.membrane() - self.threshold;
        self.spike.fire(x, || ctx.uniform(j))
    }

    /// One neuron's adjoint from either form's saved records.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn record_adjoint<S: LifRecord<F>>(
        &self,
        j: usize,
        prev: &S,
        prev_out: F,
        saved: &S,
        carry: &LifState<F>,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>> {
        let surrogate = self.spike.derivative(saved.membrane() - self.threshold);
        let consts = (self.alpha[j], self.beta[j], self.reset_terms());
        S::adjoint(
            self, consts, prev, prev_out, saved, carry, g_out, surrogate, grads,
        )
    }

    /// The adjoint row kernel for either form's saved records (`ctx`: step `t`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn adjoint_rows<S: LifRecord<F>>(
        &self,
        prev: &[S],
        first: bool,
        saved: &[S],
        g_ext: &[F],
        (lam, g_prev_out, g_input): RowAdjoints<'_, F>,
        grads: &mut [F],
        ctx: &StepContext,
    ) {
        self.spike.dispatch(AdjointRow {
            lif: self,
            prev,
            first,
            saved,
            g_ext,
            lam,
            g_prev_out,
            g_input,
            grads,
            ctx,
        });
    }

    /// The forward row kernel.
    #[inline(always)]
    pub(super) fn step_row_with(
        &self,
        prev: &[LifState<F>],
        prev_outs: &[F],
        input: &[F],
        states: &mut [LifState<F>],
        outs: &mut [F],
        ctx: &StepContext,
    ) {
        self.spike.dispatch(StepRow {
            lif: self,
            prev,
            prev_outs,
            input,
            states,
            outs,
            ctx,
        });
    }
}

/// The forward row kernel: one branch-free loop per spike kind.
struct StepRow<'a, F> {
    lif: &'a Lif<F>,
    prev: &'a [LifState<F>],
    prev_outs: &'a [F],
    input: &'a [F],
    states: &'a mut [LifState<F>],
    outs: &'a mut [F],
    ctx: &'a StepContext,
}

impl<F: Real> WithSpikeKernel<F> for StepRow<'_, F> {
    #[inline(always)]
    fn run<K: SpikeKernel<F>>(self, kernel: K) {
        step_rows(self, kernel);
    }
}

/// [`StepRow`]'s loop, compiled for AVX-512 and AVX2 beside the baseline and chosen at run
/// time (the state's interleaved fields vectorise poorly with baseline SSE).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_rows<'a, F: Real, K: SpikeKernel<F>>(row: StepRow<'a, F>, kernel: K) {
    let (theta, reset) = (row.lif.threshold, row.lif.reset_terms());
    let params = row.lif.alpha.iter().zip(&row.lif.beta);
    let inputs = row.prev.iter().zip(row.prev_outs).zip(row.input);
    let outputs = row.states.iter_mut().zip(row.outs.iter_mut());
    let rows = params.zip(inputs).zip(outputs).enumerate();
    for (j, (((&a, &b), ((p, &po), &x)), (s, o))) in rows {
        *s = Lif::update((a, b), reset, p, po, x);
        *o = kernel.fire(s.mem - theta, || row.ctx.uniform(j));
    }
}

/// A saved record the LIF adjoint works from: the whole state ([`Lif`], which accumulates the
/// decay gradients) or the membrane potential alone ([`FixedLif`](super::FixedLif)).
pub(super) trait LifRecord<F: Real>: SavedState<F> {
    /// Parameter gradients per neuron.
    const GRADS: usize;

    /// One neuron's adjoint step given its decays and reset terms, `S[t−1]` and
    /// `σ'(U[t] − θ)`.
    #[allow(clippy::too_many_arguments)]
    fn adjoint(
        lif: &Lif<F>,
        consts: (F, F, ResetTerms<F>),
        prev: &Self,
        prev_out: F,
        saved: &Self,
        carry: &LifState<F>,
        g_out: F,
        surrogate: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>>;
}

impl<F: Real> LifRecord<F> for LifState<F> {
    const GRADS: usize = 2;

    #[inline(always)]
    fn adjoint(
        lif: &Lif<F>,
        consts: (F, F, ResetTerms<F>),
        prev: &Self,
        prev_out: F,
        saved: &Self,
        carry: &LifState<F>,
        g_out: F,
        surrogate: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>> {
        lif.adjoint_with(
            consts, prev, prev_out, saved, carry, g_out, surrogate, grads,
        )
    }
}

impl<F: Real> LifRecord<F> for F {
    const GRADS: usize = 0;

    #[inline(always)]
    fn adjoint(
        lif: &Lif<F>,
        consts: (F, F, ResetTerms<F>),
        prev: &Self,
        prev_out: F,
        _saved: &Self,
        carry: &LifState<F>,
        g_out: F,
        surrogate: F,
        _grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>> {
        let lam = Lif::adjoints(consts.1, carry, g_out, surrogate);
        lif.propagate(consts, *prev, prev_out, &lam)
    }
}

/// The adjoint row kernel of both LIF forms, over their saved records `S`.
struct AdjointRow<'a, F, S> {
    lif: &'a Lif<F>,
    prev: &'a [S],
    first: bool,
    saved: &'a [S],
    g_ext: &'a [F],
    lam: &'a mut [LifState<F>],
    g_prev_out: &'a mut [F],
    g_input: &'a mut [F],
    grads: &'a mut [F],
    ctx: &'a StepContext,
}

impl<F: Real, S: LifRecord<F>> WithSpikeKernel<F> for AdjointRow<'_, F, S> {
    #[inline(always)]
    fn run<K: SpikeKernel<F>>(self, kernel: K) {
        adjoint_rows(self, kernel);
    }
}

/// [`AdjointRow`]'s loop, compiled like [`step_rows`].
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn adjoint_rows<'a, F: Real, S: LifRecord<F>, K: SpikeKernel<F>>(
    row: AdjointRow<'a, F, S>,
    kernel: K,
) {
    let lif = row.lif;
    // Row constants, read once: the loop's writes could alias them for the compiler.
    let (theta, reset) = (lif.threshold, lif.reset_terms());
    let params = lif.alpha.iter().zip(&lif.beta);
    let forward = row.prev.iter().zip(row.saved).zip(row.g_ext);
    let adjoints = row
        .lam
        .iter_mut()
        .zip(row.g_prev_out.iter_mut())
        .zip(row.g_input.iter_mut());
    // `S::GRADS` is a constant: the form without gradients compiles to a loop without them.
    let mut grads = row.grads.chunks_exact_mut(S::GRADS.max(1));
    let rows = params.zip(forward).zip(adjoints).enumerate();
    for (j, ((ab, ((p, s), &ge)), ((lam, gpo), gx))) in rows {
        let po = previous_output(&kernel, row.first, p.membrane() - theta, || {
            row.ctx.previous().uniform(j)
        });
        let surrogate = kernel.derivative(s.membrane() - theta);
        let g: &mut [F] = match S::GRADS {
            0 => &mut [],
            _ => grads.next().expect("GRADS_PER_NEURON gradients per neuron"),
        };
        let consts = (*ab.0, *ab.1, reset);
        let adj = S::adjoint(lif, consts, p, po, s, lam, ge + *gpo, surrogate, g);
        *lam = adj.prev_state;
        *gx = adj.input;
        *gpo = adj.prev_out;
    }
}

/// `S[t−1]` recomputed from `U[t−1] − θ` (and the neuron's random number of step `t−1`);
/// zero before the first step.
#[inline(always)]
fn previous_output<F: Real, K: SpikeKernel<F>>(
    kernel: &K,
    first: bool,
    x: F,
    uniform: impl FnOnce() -> F,
) -> F {
    if first {
        F::zero()
    } else {
        kernel.fire(x, uniform)
    }
}
