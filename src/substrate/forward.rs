//! A run of the device network: the nominal network's forward pass with each hidden layer's
//! input current shifted by the leak offsets and perturbed by the current noise.

use super::Device;
use crate::data::rng;
use crate::layers::Input;
use crate::network::NetworkTrace;
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::tensor::Seq;
use rand::Rng;

/// The key of the current noise under a layer's noise stream (its stochastic spikes, if any,
/// draw from the stream itself).
const CURRENT_NOISE: u64 = 0x5b5;

impl<F: Real> Device<F> {
    /// Runs the device on `input` (spikes; dropout with `dropout_rng`), the current noise drawn
    /// from `noise` (hidden layer `k` from `noise.child(k + 1)`, as [`crate::network::Network::forward_in`]).
    /// The trace is what the nominal backward pass takes: the device's recorded trajectory.
    pub fn forward_in<R: Rng>(
        &self,
        input: Input<F>,
        dropout_rng: Option<&mut R>,
        noise: NoiseStream,
    ) -> NetworkTrace<F> {
        let mut perturb = |k: usize, current: &mut Seq<F>, stream: NoiseStream| {
            self.perturb(k, current, stream.child(CURRENT_NOISE));
        };
        self.net
            .forward_perturbed(input, dropout_rng, noise, Some(&mut perturb))
    }

    /// Adds layer `k`'s offsets and (where its deviation is not zero) fresh noise to every
    /// step and sample of `current` (`[T, B, N]`).
    fn perturb(&self, k: usize, current: &mut Seq<F>, noise: NoiseStream) {
        let (offsets, std) = (&self.offsets[k], &self.noise_std[k]);
        let noisy = std.iter().any(|&s| s != F::zero());
        let mut draws = rng::seeded(noise.0);
        for row in current.data.chunks_exact_mut(offsets.len()) {
            for ((x, &o), &s) in row.iter_mut().zip(offsets).zip(std) {
                *x += o;
                if noisy {
                    *x += s * F::from_f64(rng::normal(&mut draws));
                }
            }
        }
    }
}
