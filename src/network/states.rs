//! The network run keeping every neuron's whole state at every step, a chunk of steps at a
//! time: what forward-mode rules (RTRL, e-prop) take the Jacobians of each step from.

use super::Network;
use crate::layers::{Carry, Input, StateRun};
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::scan::ScanContext;

/// Every layer's states over a chunk of steps.
pub struct NetworkStates<F: Real> {
    /// Per hidden layer, input side first.
    pub hidden: Vec<Box<dyn StateRun<F>>>,
    /// The readout (its outputs are the network's output).
    pub readout: Box<dyn StateRun<F>>,
}

/// Where the next chunk of a network run continues from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkCarry<F> {
    /// Per hidden layer.
    pub hidden: Vec<Carry<F>>,
    /// The readout.
    pub readout: Carry<F>,
}

impl<F: Real> NetworkStates<F> {
    /// The states and outputs after the chunk's last step.
    pub fn carry(&self) -> NetworkCarry<F> {
        NetworkCarry {
            hidden: self.hidden.iter().map(|h| h.carry()).collect(),
            readout: self.readout.carry(),
        }
    }

    /// Names the first layer whose state is not finite.
    pub fn non_finite(&self) -> Option<String> {
        if let Some(k) = self.hidden.iter().position(|h| !h.is_finite()) {
            return Some(format!("the state of hidden layer {k}"));
        }
        (!self.readout.is_finite()).then(|| "the readout state".to_string())
    }
}

impl<F: Real> Network<F> {
    /// Runs the chunk `input` (the steps from `first_step` on) keeping every state, from
    /// `start` (the initial state when `None`). Stochastic neurons draw from `noise` as in
    /// [`Network::forward_in`]; dropout is off.
    ///
    /// # Panics
    /// With an encoder (forward-mode rules do not run one; they refuse such networks first).
    pub fn forward_states(
        &self,
        input: Input<F>,
        noise: NoiseStream,
        first_step: usize,
        start: Option<&NetworkCarry<F>>,
    ) -> NetworkStates<F> {
        assert!(self.encoder.is_none(), "forward_states runs no encoder");
        let mut hidden: Vec<Box<dyn StateRun<F>>> = Vec::with_capacity(self.hidden.len());
        for (k, layer) in self.hidden.iter().enumerate() {
            let ctx = ScanContext {
                noise: noise.child(k as u64 + 1),
                first_step,
            };
            let from = start.map(|s| &s.hidden[k]);
            let run = layer.forward_states(self.chunk_input(input, &hidden), &ctx, from);
            hidden.push(run);
        }
        let ctx = ScanContext {
            first_step,
            ..ScanContext::default()
        };
        let x = self.chunk_input(input, &hidden);
        let readout = self
            .readout
            .forward_states(x, &ctx, start.map(|s| &s.readout));
        NetworkStates { hidden, readout }
    }

    /// The input of the layer after `done`.
    fn chunk_input<'a>(
        &self,
        input: Input<'a, F>,
        done: &'a [Box<dyn StateRun<F>>],
    ) -> Input<'a, F> {
        match done.last() {
            None => input,
            Some(run) => Input::Dense {
                x: run.out(),
                sparse: self.sparse_spikes(),
            },
        }
    }
}
