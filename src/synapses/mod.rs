//! Synapse models with internal state over several time scales, for the memory-retention
//! setting of the continual-learning literature (Zenke & Laborieux 2024, arXiv 2405.16922,
//! reviews it): a population of `N` synapses receives a stream of random patterns `ξ ∈
//! {−1, +1}^N`, one plasticity event per synapse and pattern (potentiation where `ξ_i = +1`,
//! depression where `ξ_i = −1`), and a memory is read out by the overlap of its pattern with
//! the weights,
//!
//! ```text
//! h = (1/N) Σ_i ξ_i w_i          signal: E[h] as the memory ages
//! noise = sd of h for a pattern never stored = √(Σ_i w_i²) / N
//! ```
//!
//! One file per model, each a pure state transition over a population (a parameter struct
//! acting on a separate state struct):
//!
//! - [`simple`]: the bounded binary synapse (Amit & Fusi 1994), one time scale;
//! - [`benna_fusi`]: the chain of communicating variables of Benna & Fusi (2016);
//! - [`cascade`]: the cascade of metaplastic states of Fusi, Drew & Abbott (2005);
//! - [`metaplastic`]: metaplastic binarized weights (Laborieux et al. 2021), a modulation of
//!   any optimizer's steps on a network's hidden weights ([`Metaplasticity`]).
//!
//! [`SynapseModel`] is what the memory experiments need of each: its equilibrium, storing a
//! pattern, reading the overlap, and the exact expectation to compare a simulation with.

pub mod benna_fusi;
pub mod cascade;
pub mod metaplastic;
pub mod simple;
pub(crate) mod symmetric;

pub use benna_fusi::{BennaFusi, BennaFusiParams, BennaFusiState};
pub use cascade::{Cascade, CascadeParams, CascadeState};
pub use metaplastic::Metaplasticity;
pub use simple::{Simple, SimpleParams, SimpleState};

use rand::Rng;
use thiserror::Error;

/// Errors of the synapse models.
#[derive(Error, Debug, Clone, PartialEq)]
pub enum SynapseError {
    /// A parameter is outside its valid range.
    #[error("invalid synapse parameter `{field}` = {value}: must be {requirement}")]
    InvalidParameter {
        /// The offending field.
        field: &'static str,
        /// The value given.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
    /// Two lists that must have the same length do not.
    #[error("`{field}` has {got} entries, expected {expected}")]
    Length {
        /// The offending field.
        field: &'static str,
        /// Its length.
        got: usize,
        /// The length it must have.
        expected: usize,
    },
    /// A pattern and a population of different sizes.
    #[error("a pattern of {pattern} synapses applied to a population of {population}")]
    PatternSize {
        /// The pattern's length.
        pattern: usize,
        /// The population's size.
        population: usize,
    },
    /// A synapse index past the population.
    #[error("synapse {index} of a population of {len}")]
    Index {
        /// The index given.
        index: usize,
        /// The population's size.
        len: usize,
    },
    /// The model has no stationary state (a Benna–Fusi chain without leak diffuses forever).
    #[error("no equilibrium: {0}")]
    NoEquilibrium(&'static str),
}

/// A plasticity event at one synapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Strengthen (`ξ_i = +1`).
    Potentiation,
    /// Weaken (`ξ_i = −1`).
    Depression,
}

impl Event {
    /// `+1` for potentiation, `−1` for depression.
    pub fn sign(self) -> f64 {
        match self {
            Event::Potentiation => 1.0,
            Event::Depression => -1.0,
        }
    }
}

/// A pattern `ξ ∈ {−1, +1}^N` (a memory, or the efficacies of binary synapses), 64 synapses
/// a word: bit `i % 64` of word `i / 64` is set where
/// `ξ_i = +1`. Bits past the end are zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    len: usize,
    words: Vec<u64>,
}

impl Pattern {
    /// A pattern of independent signs, each `+1` with probability 1/2.
    pub fn random<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Self {
        let mut words: Vec<u64> = (0..len.div_ceil(64)).map(|_| rng.next_u64()).collect();
        if let Some(last) = words.last_mut() {
            *last &= tail_mask(len);
        }
        Self { len, words }
    }

    /// The pattern with the given signs (`true`: `+1`).
    pub fn from_signs(signs: &[bool]) -> Self {
        let mut words = vec![0u64; signs.len().div_ceil(64)];
        for (i, _) in signs.iter().enumerate().filter(|(_, &s)| s) {
            words[i / 64] |= 1 << (i % 64);
        }
        Self {
            len: signs.len(),
            words,
        }
    }

    /// The number of synapses.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pattern covers no synapse.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `len` signs, all `−1`.
    pub fn negative(len: usize) -> Self {
        Self {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The packed signs.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The packed signs, to change in place (bits past the end must stay zero).
    pub(crate) fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    /// The sign `ξ_i` as `±1` (none past the end).
    pub fn sign(&self, i: usize) -> Option<f64> {
        self.event(i).map(Event::sign)
    }

    /// The event synapse `i` receives (none past the end).
    pub fn event(&self, i: usize) -> Option<Event> {
        (i < self.len).then(|| {
            if self.words[i / 64] >> (i % 64) & 1 == 1 {
                Event::Potentiation
            } else {
                Event::Depression
            }
        })
    }

    /// `Σ_i ξ_i w_i`.
    pub fn overlap(&self, weights: &[f64]) -> Result<f64, SynapseError> {
        self.check(weights.len())?;
        let mut plus = 0.0;
        for (word, chunk) in self.words.iter().zip(weights.chunks(64)) {
            // A select the compiler can vectorise, not a branch on random bits.
            plus += chunk
                .iter()
                .enumerate()
                .map(|(b, &w)| if word >> b & 1 == 1 { w } else { 0.0 })
                .sum::<f64>();
        }
        Ok(2.0 * plus - weights.iter().sum::<f64>())
    }

    /// `Σ_i ξ_i w_i` for binary weights packed like a pattern (bit set: `w_i = +1`; bits past
    /// the end zero).
    pub fn binary_overlap(&self, strong: &[u64]) -> Result<f64, SynapseError> {
        if strong.len() != self.words.len() {
            return Err(SynapseError::Length {
                field: "packed weights",
                got: strong.len(),
                expected: self.words.len(),
            });
        }
        let differ: u32 = self
            .words
            .iter()
            .zip(strong)
            .map(|(p, s)| (p ^ s).count_ones())
            .sum();
        Ok(self.len as f64 - 2.0 * differ as f64)
    }

    fn check(&self, population: usize) -> Result<(), SynapseError> {
        if self.len == population {
            Ok(())
        } else {
            Err(SynapseError::PatternSize {
                pattern: self.len,
                population,
            })
        }
    }
}

/// The valid bits of the last word of `len` packed synapses.
fn tail_mask(len: usize) -> u64 {
    match len % 64 {
        0 => u64::MAX,
        r => (1u64 << r) - 1,
    }
}

/// Draws `true` with probability `threshold / 2³²` (see [`probability_threshold`]).
#[inline(always)]
fn bernoulli<R: Rng + ?Sized>(rng: &mut R, threshold: u64) -> bool {
    (rng.next_u32() as u64) < threshold
}

/// A probability in `[0, 1]` as a threshold on a uniform 32-bit draw.
fn probability_threshold(p: f64) -> u64 {
    (p * 4_294_967_296.0).round() as u64
}

/// Checks that `value` is a probability in `(0, 1]`.
fn check_probability(field: &'static str, value: f64) -> Result<(), SynapseError> {
    if value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(SynapseError::InvalidParameter {
            field,
            value,
            requirement: "in (0, 1]",
        })
    }
}

/// A synapse model in the memory experiment: parameters acting on a population's state.
pub trait SynapseModel {
    /// The state of a population.
    type State;

    /// `len` synapses drawn from the model's equilibrium under patterns of random sign.
    fn equilibrium<R: Rng + ?Sized>(
        &self,
        len: usize,
        rng: &mut R,
    ) -> Result<Self::State, SynapseError>;

    /// Stores `pattern`: every synapse receives the event of its sign (a model with
    /// continuous dynamics first evolves for the interval between patterns).
    fn store<R: Rng + ?Sized>(
        &self,
        state: &mut Self::State,
        pattern: &Pattern,
        rng: &mut R,
    ) -> Result<(), SynapseError>;

    /// `Σ_i ξ_i w_i` for the pattern `ξ`.
    fn overlap(&self, state: &Self::State, pattern: &Pattern) -> Result<f64, SynapseError>;

    /// `Σ_i w_i²`.
    fn squared_weights(&self, state: &Self::State) -> f64;

    /// The expected `E[ξ_i w_i]` of one synapse for a pattern stored `age` patterns ago (0:
    /// just stored), from equilibrium, one value per age.
    fn expected_signal(&self, ages: &[usize]) -> Vec<f64>;

    /// The expected `E[w_i²]` at equilibrium.
    fn expected_squared_weight(&self) -> f64;

    /// The model's time scales, in patterns, fastest first.
    fn time_scales(&self) -> Vec<f64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn patterns_pack_signs_and_overlap_with_weights() {
        let signs = [true, false, true, true, false];
        let p = Pattern::from_signs(&signs);
        assert_eq!(p.len(), 5);
        assert_eq!(p.event(0), Some(Event::Potentiation));
        assert_eq!(p.event(1), Some(Event::Depression));
        assert_eq!(p.event(5), None);
        let w = [0.5, 2.0, -1.0, 3.0, 0.25];
        // 0.5 − 2 − 1 + 3 − 0.25
        assert!((p.overlap(&w).unwrap() - 0.25).abs() < 1e-12);
        assert!(p.overlap(&w[..4]).is_err());
        let strong = Pattern::from_signs(&[true, true, false, true, false]);
        // agree at 0, 3, 4; differ at 1, 2
        assert_eq!(p.binary_overlap(strong.words()), Ok(1.0));
        assert!(p.binary_overlap(&[]).is_err());
    }

    #[test]
    fn random_patterns_are_balanced_and_clean_past_the_end() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = Pattern::random(1000, &mut rng);
        assert_eq!(p.words().len(), 16);
        assert_eq!(p.words()[15] >> (1000 % 64), 0);
        let plus: u32 = p.words().iter().map(|w| w.count_ones()).sum();
        assert!((plus as i64 - 500).abs() < 80, "{plus} of 1000 positive");
        let long: Vec<f64> = (0..1000).map(|i| p.event(i).unwrap().sign()).collect();
        assert_eq!(p.overlap(&vec![1.0; 1000]), Ok(long.iter().sum::<f64>()));
    }

    #[test]
    fn probabilities_become_exact_thresholds() {
        assert_eq!(probability_threshold(1.0), 1 << 32);
        assert_eq!(probability_threshold(0.5), 1 << 31);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert!((0..100).all(|_| bernoulli(&mut rng, probability_threshold(1.0))));
        assert!(check_probability("q", 0.0).is_err() && check_probability("q", 1.5).is_err());
        assert!(check_probability("q", f64::NAN).is_err());
    }
}
