//! The forward-mode derivative of one model step, for rules that propagate derivatives
//! forward in time (RTRL, e-prop): a model's state as a flat vector ([`StateVector`]) and the
//! Jacobians of its step ([`StepJacobian`]).
//!
//! For `s[t] = F(s[t−1], o[t−1], x[t]; p)` and `o[t] = G(s[t])` (`G'` the surrogate
//! derivative), a tangent propagates as
//!
//! ```text
//! ds[t] = ∂F/∂s[t−1] · ds[t−1] + ∂F/∂o[t−1] · do[t−1] + ∂F/∂x[t] · dx[t] + ∂F/∂p · dp
//! do[t] = ∂G/∂s[t] · ds[t]
//! ```
//!
//! The adjoint of [`super::NeuronModel::adjoint`] is the transpose of the same Jacobians (a
//! test checks that they agree for every model).

use crate::real::Real;
use std::fmt::Debug;

/// A model's per-neuron state as a vector of `DIM` components.
pub trait StateVector<F>: Copy + Default + Send + Sync + Debug {
    /// Number of components.
    const DIM: usize;
    /// Writes the components into `out` (length `DIM`).
    fn write_to(&self, out: &mut [F]);
    /// The state with components `v` (length `DIM`).
    fn read_from(v: &[F]) -> Self;
}

/// The Jacobians of one step of one neuron (row-major; `dim` state components, `slots`
/// per-neuron parameters in the model's gradient-slot order).
#[derive(Clone, Debug, PartialEq)]
pub struct StepJacobian<F> {
    /// State components.
    pub dim: usize,
    /// Per-neuron parameter slots.
    pub slots: usize,
    /// `∂s[t]/∂s[t−1]` `[dim, dim]` (with `o[t−1]` held fixed).
    pub prev: Vec<F>,
    /// `∂s[t]/∂o[t−1]` `[dim]`: the neuron's own previous output (reset, adaptation).
    pub prev_out: Vec<F>,
    /// `∂s[t]/∂x[t]` `[dim]`.
    pub input: Vec<F>,
    /// `∂s[t]/∂p` `[dim, slots]`, with respect to the values the model uses (decays).
    pub params: Vec<F>,
    /// `∂o[t]/∂s[t]` `[dim]` (the surrogate derivative for spikes).
    pub out: Vec<F>,
}

impl<F: Real> StepJacobian<F> {
    /// Zero Jacobians of the given size.
    pub fn zeros(dim: usize, slots: usize) -> Self {
        Self {
            dim,
            slots,
            prev: vec![F::zero(); dim * dim],
            prev_out: vec![F::zero(); dim],
            input: vec![F::zero(); dim],
            params: vec![F::zero(); dim * slots],
            out: vec![F::zero(); dim],
        }
    }

    /// Sets every entry to zero.
    pub fn clear(&mut self) {
        for v in [
            &mut self.prev,
            &mut self.prev_out,
            &mut self.input,
            &mut self.params,
            &mut self.out,
        ] {
            v.iter_mut().for_each(|x| *x = F::zero());
        }
    }

    /// `∂s_r[t]/∂s_c[t−1]`.
    pub fn set_prev(&mut self, r: usize, c: usize, v: F) {
        self.prev[r * self.dim + c] = v;
    }

    /// `∂s_r[t]/∂p_k`.
    pub fn set_param(&mut self, r: usize, k: usize, v: F) {
        self.params[r * self.slots + k] = v;
    }
}

/// Implements [`StateVector`] for a state struct of named `F` fields, in the order given.
macro_rules! state_vector {
    ($state:ident { $($field:ident),+ }) => {
        impl<F: Real> $crate::neurons::StateVector<F> for $state<F> {
            const DIM: usize = [$(stringify!($field)),+].len();
            fn write_to(&self, out: &mut [F]) {
                let values = [$(self.$field),+];
                out[..values.len()].copy_from_slice(&values);
            }
            fn read_from(v: &[F]) -> Self {
                let mut k = 0;
                $(let $field = v[k]; k += 1;)+
                let _ = k;
                Self { $($field),+ }
            }
        }
    };
}
pub(crate) use state_vector;
