//! Training with an emulated substrate in the loop (Cramer et al., PNAS 2022): the forward
//! pass runs on the chip, the backward pass is BPTT of the nominal model on the chip's
//! recorded trajectory (see [`crate::substrate`]).

use super::bptt::gradients_from;
use super::{evaluate_trace, Batch, BatchGradients, GradientRule, RuleError};
use crate::layers::RecurrentPath;
use crate::network::Network;
use crate::real::Real;
use crate::substrate::{Chip, SubstrateConfig, SubstrateError};

/// BPTT with the chip in the loop.
#[derive(Clone, Debug, PartialEq)]
pub struct InTheLoop {
    /// The chip the forward passes run on.
    pub chip: Chip,
}

impl InTheLoop {
    /// The rule on chip `config.chip_seed`, drawn for the shape of `net`.
    pub fn new<F: Real>(
        config: &SubstrateConfig,
        net: &Network<F>,
    ) -> Result<Self, SubstrateError> {
        Ok(Self {
            chip: Chip::draw(config, net)?,
        })
    }
}

impl<F: Real> GradientRule<F> for InTheLoop {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        let Batch {
            input,
            targets,
            loss,
            activity,
            dropout,
            noise,
        } = batch;
        let device = self.chip.device(net)?;
        let trace = device.forward_in(input, dropout, noise);
        let evaluated = evaluate_trace(trace, net.spec.dt_ms, targets, loss)?;
        gradients_from(net, input, &evaluated, activity, RecurrentPath::Followed)
    }
}
