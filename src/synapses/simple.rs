//! The simple bounded synapse (Amit & Fusi 1994, Neural Comput. 6:957; the baseline of Fusi,
//! Drew & Abbott 2005 and Benna & Fusi 2016): a binary efficacy `w ∈ {−1, +1}` and nothing
//! else. A potentiation event sets `w = +1` with probability `q`, a depression sets `w = −1`
//! with probability `q`; otherwise the synapse keeps its value.
//!
//! Storing a pattern `ξ` from equilibrium (`w = ±1` with probability 1/2 each) gives
//! `E[ξ_i w_i] = q`. A later pattern of random sign flips a synapse with probability `q/2`,
//! so each one multiplies the signal by `1 − q`:
//!
//! ```text
//! E[ξ_i w_i](t) = q (1 − q)^t        (t patterns after storage)
//! SNR(t) = √N q (1 − q)^t            (w² = 1: the noise is 1/√N)
//! ```
//!
//! An exponential decay with one time scale `1/q`: a small `q` keeps memories longer but
//! stores them more weakly.

use super::{
    bernoulli, check_probability, probability_threshold, Event, Pattern, SynapseError, SynapseModel,
};
use rand::Rng;

/// The parameter of the simple synapse.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimpleParams {
    /// `q`: the probability that an event of the other sign flips the efficacy.
    pub flip_probability: f64,
}

/// A population of simple synapses: the model, checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Simple {
    params: SimpleParams,
    threshold: u64,
}

/// The efficacies of a population, packed as a pattern's signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleState {
    efficacy: Pattern,
}

impl SimpleState {
    /// Synapses of efficacy `+1` where `strong` is `+1`.
    pub fn from_pattern(strong: &Pattern) -> Self {
        Self {
            efficacy: strong.clone(),
        }
    }

    /// The number of synapses.
    pub fn len(&self) -> usize {
        self.efficacy.len()
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.efficacy.is_empty()
    }

    /// The efficacy `w_i ∈ {−1, +1}` (none past the end).
    pub fn weight(&self, i: usize) -> Option<f64> {
        self.efficacy.sign(i)
    }
}

impl Simple {
    /// The model, once `q ∈ (0, 1]`.
    pub fn new(params: SimpleParams) -> Result<Self, SynapseError> {
        check_probability("flip_probability", params.flip_probability)?;
        Ok(Self {
            params,
            threshold: probability_threshold(params.flip_probability),
        })
    }

    /// Its parameter.
    pub fn params(&self) -> SimpleParams {
        self.params
    }

    /// Synapse `i` receives `event`.
    pub fn apply<R: Rng + ?Sized>(
        &self,
        state: &mut SimpleState,
        i: usize,
        event: Event,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        let w = state.weight(i).ok_or(SynapseError::Index {
            index: i,
            len: state.len(),
        })?;
        if w != event.sign() && bernoulli(rng, self.threshold) {
            state.efficacy.words_mut()[i / 64] ^= 1 << (i % 64);
        }
        Ok(())
    }

    /// Synapse `i` receives a potentiation event.
    pub fn potentiate<R: Rng + ?Sized>(
        &self,
        state: &mut SimpleState,
        i: usize,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Potentiation, rng)
    }

    /// Synapse `i` receives a depression event.
    pub fn depress<R: Rng + ?Sized>(
        &self,
        state: &mut SimpleState,
        i: usize,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Depression, rng)
    }
}

impl SynapseModel for Simple {
    type State = SimpleState;

    fn equilibrium<R: Rng + ?Sized>(
        &self,
        len: usize,
        rng: &mut R,
    ) -> Result<SimpleState, SynapseError> {
        Ok(SimpleState::from_pattern(&Pattern::random(len, rng)))
    }

    fn store<R: Rng + ?Sized>(
        &self,
        state: &mut SimpleState,
        pattern: &Pattern,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        pattern.check(state.len())?;
        for (s, &p) in state.efficacy.words_mut().iter_mut().zip(pattern.words()) {
            // Only synapses whose efficacy differs from the event can change.
            let mut differ = *s ^ p;
            let mut flips = 0u64;
            while differ != 0 {
                let bit = differ & differ.wrapping_neg();
                if bernoulli(rng, self.threshold) {
                    flips |= bit;
                }
                differ ^= bit;
            }
            *s ^= flips;
        }
        Ok(())
    }

    fn overlap(&self, state: &SimpleState, pattern: &Pattern) -> Result<f64, SynapseError> {
        pattern.check(state.len())?;
        pattern.binary_overlap(state.efficacy.words())
    }

    fn squared_weights(&self, state: &SimpleState) -> f64 {
        state.len() as f64
    }

    fn expected_signal(&self, ages: &[usize]) -> Vec<f64> {
        let q = self.params.flip_probability;
        ages.iter().map(|&t| q * (1.0 - q).powi(t as i32)).collect()
    }

    fn expected_squared_weight(&self) -> f64 {
        1.0
    }

    fn time_scales(&self) -> Vec<f64> {
        vec![1.0 / self.params.flip_probability]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(q: f64) -> Simple {
        Simple::new(SimpleParams {
            flip_probability: q,
        })
        .unwrap()
    }

    #[test]
    fn invalid_probabilities_are_refused() {
        for q in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(Simple::new(SimpleParams {
                flip_probability: q
            })
            .is_err());
        }
    }

    #[test]
    fn events_flip_toward_their_sign_only() {
        let m = model(1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut s = SimpleState::from_pattern(&Pattern::from_signs(&[false, true, false]));
        m.potentiate(&mut s, 0, &mut rng).unwrap();
        m.potentiate(&mut s, 1, &mut rng).unwrap();
        m.depress(&mut s, 2, &mut rng).unwrap();
        assert_eq!(
            (0..3).map(|i| s.weight(i).unwrap()).collect::<Vec<_>>(),
            vec![1.0, 1.0, -1.0]
        );
        assert!(m.depress(&mut s, 3, &mut rng).is_err());
        assert_eq!(s.weight(3), None);
    }

    #[test]
    fn storing_matches_single_events() {
        let m = model(0.3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let state = m.equilibrium(130, &mut rng).unwrap();
        let pattern = Pattern::random(130, &mut rng);
        let mut stored = state.clone();
        m.store(&mut stored, &pattern, &mut rng).unwrap();
        for i in 0..130 {
            let (before, after) = (state.weight(i).unwrap(), stored.weight(i).unwrap());
            let sign = pattern.event(i).unwrap().sign();
            assert!(after == before || after == sign, "synapse {i} moved away");
        }
        let wrong = Pattern::random(129, &mut rng);
        assert!(m.store(&mut stored, &wrong, &mut rng).is_err());
        assert!(m.overlap(&stored, &wrong).is_err());
    }

    /// The signal after `t` further patterns is `q (1 − q)^t` of one synapse.
    #[test]
    fn signal_decays_as_one_minus_q_to_the_age() {
        let (q, n) = (0.2, 200_000);
        let m = model(q);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut state = m.equilibrium(n, &mut rng).unwrap();
        let memory = Pattern::random(n, &mut rng);
        m.store(&mut state, &memory, &mut rng).unwrap();
        let expected = m.expected_signal(&[0, 1, 2, 3, 4, 5]);
        for (t, want) in expected.iter().enumerate() {
            let got = m.overlap(&state, &memory).unwrap() / n as f64;
            // The overlap of N independent synapses: sd 1/√N ≈ 0.0022.
            assert!((got - want).abs() < 0.01, "age {t}: {got} vs {want}");
            let next = Pattern::random(n, &mut rng);
            m.store(&mut state, &next, &mut rng).unwrap();
        }
        assert_eq!(m.squared_weights(&state), n as f64);
    }
}
