//! The traces of one SuperSpike layer, advanced one step at a time (memory independent of
//! the number of steps).

use crate::filters::{DoubleExponential, FilterState};
use crate::real::Real;

/// The prospective neuron's look-ahead on its PSP ([`crate::neurons::Prospective`]):
/// `a ← ρ a + (1 − ρ) p`, `p̃ = p + k (p − a)`, the response of `V = U + k (U − A)` to a
/// presynaptic spike (resets aside, as for the LIF's PSP).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookahead<F> {
    /// `ρ = exp(−dt/τ_ada)`.
    pub rho: F,
    /// The gain `k`.
    pub gain: F,
}

impl<F: Real> Lookahead<F> {
    /// A layer's look-ahead at step `dt_ms` (a zero horizon: gain 0).
    pub fn new(lookahead: &crate::initializers::Lookahead, dt_ms: f64) -> Self {
        let (rho, delta) = lookahead.decays(dt_ms * 1e-3);
        let gain = crate::neurons::lookahead_gain(rho, delta);
        Self {
            rho: F::from_f64(rho),
            gain: F::from_f64(gain),
        }
    }
}

/// Presynaptic PSPs, eligibilities, filtered errors and the accumulated update of one layer
/// of `outputs` neurons fed by `inputs` presynaptic neurons, for a batch of `batch` samples.
#[derive(Clone, Debug)]
pub struct SuperSpikeTraces<F> {
    batch: usize,
    inputs: usize,
    outputs: usize,
    psp_filter: DoubleExponential<F>,
    lookahead: Option<Lookahead<F>>,
    kernel: DoubleExponential<F>,
    dt_ms: F,
    /// `[B, inputs]`.
    psp: Vec<FilterState<F>>,
    /// The look-ahead's low-passed PSP `a` `[B, inputs]` (empty without one).
    psp_lowpass: Vec<F>,
    /// `[B, outputs]`.
    error: Vec<FilterState<F>>,
    /// `[B, inputs, outputs]`.
    eligibility: Vec<FilterState<F>>,
    /// `[inputs, outputs]`.
    update: Vec<F>,
}

impl<F: Real> SuperSpikeTraces<F> {
    /// Zero traces. `psp_filter` is the postsynaptic neurons' own response (rise τ_syn,
    /// decay τ_mem), `kernel` the van Rossum kernel of the error and the eligibility.
    pub fn new(
        batch: usize,
        inputs: usize,
        outputs: usize,
        psp_filter: DoubleExponential<F>,
        kernel: DoubleExponential<F>,
        dt_ms: f64,
    ) -> Self {
        Self {
            batch,
            inputs,
            outputs,
            psp_filter,
            lookahead: None,
            kernel,
            dt_ms: F::from_f64(dt_ms),
            psp: vec![FilterState::default(); batch * inputs],
            psp_lowpass: Vec::new(),
            error: vec![FilterState::default(); batch * outputs],
            eligibility: vec![FilterState::default(); batch * inputs * outputs],
            update: vec![F::zero(); inputs * outputs],
        }
    }

    /// The same traces for prospective postsynaptic neurons: every PSP looks ahead.
    pub fn with_lookahead(mut self, lookahead: Lookahead<F>) -> Self {
        self.lookahead = Some(lookahead);
        self.psp_lowpass = vec![F::zero(); self.psp.len()];
        self
    }

    /// Advances the PSP of presynaptic `at` (`b · inputs + j`) by input `x`; returns it.
    #[inline(always)]
    fn advance_psp(
        filter: &DoubleExponential<F>,
        lookahead: Option<Lookahead<F>>,
        state: &mut FilterState<F>,
        lowpass: Option<&mut F>,
        x: F,
    ) -> F {
        let p = filter.step(state, x);
        match (lookahead, lowpass) {
            (Some(l), Some(a)) => {
                *a = l.rho * *a + (F::one() - l.rho) * p;
                p + l.gain * (p - *a)
            }
            _ => p,
        }
    }

    /// Advances every trace by one step: presynaptic spikes `pre` `[B, inputs]`, surrogate
    /// derivatives `sigma_prime` `[B, outputs]` of the postsynaptic membranes at this step
    /// and the unfiltered error `error` `[B, outputs]` (`S* − S` at the outputs, its
    /// feedback in hidden layers); adds `dt · e λ` to the update.
    pub fn step(&mut self, pre: &[F], sigma_prime: &[F], error: &[F]) {
        let (n_in, n_out) = (self.inputs, self.outputs);
        debug_assert_eq!(pre.len(), self.batch * n_in);
        debug_assert_eq!(sigma_prime.len(), self.batch * n_out);
        debug_assert_eq!(error.len(), self.batch * n_out);
        for b in 0..self.batch {
            let errors = &mut self.error[b * n_out..(b + 1) * n_out];
            for (state, &x) in errors.iter_mut().zip(&error[b * n_out..]) {
                self.kernel.step(state, x);
            }
            let sig = &sigma_prime[b * n_out..(b + 1) * n_out];
            for j in 0..n_in {
                let at = b * n_in + j;
                let psp = Self::advance_psp(
                    &self.psp_filter,
                    self.lookahead,
                    &mut self.psp[at],
                    self.psp_lowpass.get_mut(at),
                    pre[at],
                );
                let row = (b * n_in + j) * n_out;
                let eligibility = &mut self.eligibility[row..row + n_out];
                let update = &mut self.update[j * n_out..(j + 1) * n_out];
                for (((state, u), &s), e) in eligibility
                    .iter_mut()
                    .zip(update)
                    .zip(sig)
                    .zip(errors.iter())
                {
                    let lambda = self.kernel.step(state, s * psp);
                    *u += self.dt_ms * e.out * lambda;
                }
            }
        }
    }

    /// The presynaptic PSP `p_j` of sample `b` (with the look-ahead, if any).
    pub fn psp(&self, b: usize, j: usize) -> F {
        let at = b * self.inputs + j;
        let p = self.psp[at].out;
        match self.lookahead {
            None => p,
            Some(l) => p + l.gain * (p - self.psp_lowpass[at]),
        }
    }

    /// The filtered error `e_i` of sample `b`.
    pub fn error(&self, b: usize, i: usize) -> F {
        self.error[b * self.outputs + i].out
    }

    /// The eligibility `λ_ij` of sample `b`.
    pub fn eligibility(&self, b: usize, j: usize, i: usize) -> F {
        self.eligibility[(b * self.inputs + j) * self.outputs + i].out
    }

    /// The accumulated update `G` `[inputs, outputs]`, summed over the batch.
    pub fn update(&self) -> &[F] {
        &self.update
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const DT: f64 = 0.5;

    fn traces(batch: usize, inputs: usize, outputs: usize) -> SuperSpikeTraces<f64> {
        SuperSpikeTraces::new(
            batch,
            inputs,
            outputs,
            DoubleExponential::new(5.0, 10.0, DT),
            DoubleExponential::new(4.0, 12.0, DT),
            DT,
        )
    }

    #[test]
    fn single_spikes_give_the_closed_forms() {
        // One presynaptic spike at step 3 and one error spike at step 7, random σ': p is the
        // PSP kernel, e the van Rossum kernel, λ the kernel convolved with σ'·p, and the
        // update the sum of dt·e·λ.
        let (steps, t_pre, t_err) = (120, 3, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let sigma: Vec<f64> = (0..steps).map(|_| rng.random_range(0.0..1.0)).collect();
        let mut tr = traces(1, 1, 1);
        let (psp_k, k) = (tr.psp_filter, tr.kernel);
        let mut expected_update = 0.0;
        for t in 0..steps {
            let pre = [f64::from(u8::from(t == t_pre))];
            let err = [f64::from(u8::from(t == t_err))];
            tr.step(&pre, &[sigma[t]], &err);
            let p = |s: usize| {
                if s >= t_pre {
                    psp_k.impulse_response(s - t_pre)
                } else {
                    0.0
                }
            };
            let e = if t >= t_err {
                k.impulse_response(t - t_err)
            } else {
                0.0
            };
            let lambda: f64 = (0..=t)
                .map(|s| k.impulse_response(t - s) * sigma[s] * p(s))
                .sum();
            assert!((tr.psp(0, 0) - p(t)).abs() < 1e-13, "p at {t}");
            assert!((tr.error(0, 0) - e).abs() < 1e-13, "e at {t}");
            assert!((tr.eligibility(0, 0, 0) - lambda).abs() < 1e-13, "λ at {t}");
            expected_update += DT * e * lambda;
        }
        assert!((tr.update()[0] - expected_update).abs() < 1e-13);
        assert!(expected_update > 0.0);
    }

    #[test]
    fn synapses_and_samples_are_independent_and_summed() {
        // The update of a batch is the sum of the updates of its samples, each synapse
        // driven only by its own pre- and postsynaptic signals.
        let (batch, inputs, outputs, steps) = (3, 4, 2, 60);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let draws: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = (0..steps)
            .map(|_| {
                let pre = (0..batch * inputs)
                    .map(|_| f64::from(u8::from(rng.random_bool(0.2))))
                    .collect();
                let sig = (0..batch * outputs)
                    .map(|_| rng.random_range(0.0..1.0))
                    .collect();
                let err = (0..batch * outputs)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect();
                (pre, sig, err)
            })
            .collect();
        let mut whole = traces(batch, inputs, outputs);
        for (pre, sig, err) in &draws {
            whole.step(pre, sig, err);
        }
        let mut sum = vec![0.0; inputs * outputs];
        for b in 0..batch {
            for j in 0..inputs {
                for i in 0..outputs {
                    let mut one = traces(1, 1, 1);
                    for (pre, sig, err) in &draws {
                        one.step(
                            &[pre[b * inputs + j]],
                            &[sig[b * outputs + i]],
                            &[err[b * outputs + i]],
                        );
                    }
                    sum[j * outputs + i] += one.update()[0];
                }
            }
        }
        for (a, b) in whole.update().iter().zip(&sum) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
