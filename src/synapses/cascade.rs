//! The cascade model (Fusi, Drew & Abbott 2005, Neuron 45:599, "Cascade models of
//! synaptically stored memories"): a binary efficacy (`w = −1` weak, `w = +1` strong) and,
//! for each, a cascade of `n` metaplastic levels `k = 1 … n`, deeper levels less plastic.
//!
//! - An event opposing the efficacy (potentiation of a weak synapse, depression of a strong
//!   one) switches it with probability `q_k` and puts it at the top (`k = 1`) of the other
//!   cascade.
//! - An event agreeing with the efficacy moves the synapse one level deeper with probability
//!   `p_k` (`k < n`): the weight stays, its future plasticity falls.
//!
//! ```text
//! q_k = x^(k−1)  (k < n)      q_n = x^(n−1) / (1 − x)      p_k = x^k / (1 − x)  (k < n)
//! ```
//!
//! with `x = 1/2` in the paper. The boundary term `q_n` stands in for the levels past `n`:
//! with it the levels are equally occupied at equilibrium (the balance `π_k (p_k + q_k) =
//! π_{k−1} p_{k−1}` holds with `p_k + q_k = p_{k−1}`). The time scales `1/q_k` grow
//! geometrically, `1, 1/x, 1/x², …`, and a memory's signal decays as a power law (the paper:
//! close to `1/t`) up to the slowest of them, then exponentially.

use super::{bernoulli, probability_threshold, Event, Pattern, SynapseError, SynapseModel};
use rand::Rng;

/// The most levels a cascade may have (deeper ones would never be reached).
pub const MAX_LEVELS: usize = 64;

/// The cascade's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CascadeParams {
    /// `n`, the levels per efficacy.
    pub levels: usize,
    /// `x`, the ratio of successive transition probabilities.
    pub ratio: f64,
}

impl CascadeParams {
    /// The paper's cascade of `levels` with `x = 1/2`.
    pub fn paper(levels: usize) -> Self {
        Self { levels, ratio: 0.5 }
    }
}

/// The cascade, checked, with its transition probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Cascade {
    params: CascadeParams,
    switch: Vec<f64>,
    deepen: Vec<f64>,
    switch_threshold: Vec<u64>,
    deepen_threshold: Vec<u64>,
}

/// A population's efficacies (packed as a pattern's signs: `+1` strong) and levels
/// (0-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CascadeState {
    efficacy: Pattern,
    depth: Vec<u8>,
    /// No synapse is deeper than this many levels (a cascade with fewer refuses the state).
    levels: usize,
}

impl CascadeState {
    /// `len` weak synapses at the top of their cascade.
    pub fn weak(len: usize) -> Self {
        Self {
            efficacy: Pattern::negative(len),
            depth: vec![0; len],
            levels: 1,
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

    /// The level `k ∈ 1 … n` of synapse `i` (none past the end).
    pub fn level(&self, i: usize) -> Option<usize> {
        self.depth.get(i).map(|&d| d as usize + 1)
    }
}

impl Cascade {
    /// The cascade, once `2 ≤ n ≤ 64` and `0 < x ≤ 1/2` (every probability at most 1).
    pub fn new(params: CascadeParams) -> Result<Self, SynapseError> {
        let n = params.levels;
        if !(2..=MAX_LEVELS).contains(&n) {
            return Err(SynapseError::InvalidParameter {
                field: "levels",
                value: n as f64,
                requirement: "between 2 and 64",
            });
        }
        let x = params.ratio;
        if !(x > 0.0 && x <= 0.5) {
            return Err(SynapseError::InvalidParameter {
                field: "ratio",
                value: x,
                requirement: "in (0, 1/2]",
            });
        }
        let mut switch: Vec<f64> = (0..n).map(|k| x.powi(k as i32)).collect();
        switch[n - 1] /= 1.0 - x;
        let mut deepen: Vec<f64> = (0..n).map(|k| x.powi(k as i32 + 1) / (1.0 - x)).collect();
        deepen[n - 1] = 0.0;
        Ok(Self {
            params,
            switch_threshold: switch.iter().map(|&q| probability_threshold(q)).collect(),
            deepen_threshold: deepen.iter().map(|&p| probability_threshold(p)).collect(),
            switch,
            deepen,
        })
    }

    /// Its parameters.
    pub fn params(&self) -> CascadeParams {
        self.params
    }

    /// `q_1 … q_n`, the probabilities of switching the efficacy.
    pub fn switch_probabilities(&self) -> &[f64] {
        &self.switch
    }

    /// `p_1 … p_n`, the probabilities of moving a level deeper (`p_n = 0`).
    pub fn deepen_probabilities(&self) -> &[f64] {
        &self.deepen
    }

    /// Synapse `i` receives `event`.
    pub fn apply<R: Rng + ?Sized>(
        &self,
        state: &mut CascadeState,
        i: usize,
        event: Event,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        let w = state.weight(i).ok_or(SynapseError::Index {
            index: i,
            len: state.len(),
        })?;
        self.check(state)?;
        state.levels = self.switch.len();
        let agrees = w == event.sign();
        let (word, bit) = (&mut state.efficacy.words_mut()[i / 64], 1u64 << (i % 64));
        self.transition(word, bit, &mut state.depth[i], agrees, rng);
        Ok(())
    }

    /// Synapse `i` receives a potentiation event.
    pub fn potentiate<R: Rng + ?Sized>(
        &self,
        state: &mut CascadeState,
        i: usize,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Potentiation, rng)
    }

    /// Synapse `i` receives a depression event.
    pub fn depress<R: Rng + ?Sized>(
        &self,
        state: &mut CascadeState,
        i: usize,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Depression, rng)
    }

    /// One synapse's transition; the deepest level draws nothing for an agreeing event.
    #[inline(always)]
    fn transition<R: Rng + ?Sized>(
        &self,
        strong: &mut u64,
        bit: u64,
        depth: &mut u8,
        agrees: bool,
        rng: &mut R,
    ) {
        let k = *depth as usize;
        if agrees {
            if k + 1 < self.switch.len() && bernoulli(rng, self.deepen_threshold[k]) {
                *depth += 1;
            }
        } else if bernoulli(rng, self.switch_threshold[k]) {
            *strong ^= bit;
            *depth = 0;
        }
    }

    /// The equilibrium occupancy `π_1 … π_n` of the levels (either efficacy).
    pub fn equilibrium_levels(&self) -> Vec<f64> {
        let n = self.switch.len();
        let mut pi = vec![1.0; n];
        for k in 1..n {
            pi[k] = pi[k - 1] * self.deepen[k - 1] / (self.deepen[k] + self.switch[k]);
        }
        let total: f64 = pi.iter().sum();
        pi.iter().map(|p| p / total).collect()
    }

    /// The distribution over (strong?, level) after one event, `d[efficacy][level]`.
    fn evolve(&self, d: &[Vec<f64>; 2], event: Event) -> [Vec<f64>; 2] {
        let n = self.switch.len();
        let (same, other) = match event {
            Event::Potentiation => (1, 0),
            Event::Depression => (0, 1),
        };
        let mut out = [vec![0.0; n], vec![0.0; n]];
        for k in 0..n {
            let (agreeing, opposing) = (d[same][k], d[other][k]);
            out[same][k] += agreeing * (1.0 - self.deepen[k]);
            if k + 1 < n {
                out[same][k + 1] += agreeing * self.deepen[k];
            }
            out[same][0] += opposing * self.switch[k];
            out[other][k] += opposing * (1.0 - self.switch[k]);
        }
        out
    }

    fn check(&self, state: &CascadeState) -> Result<(), SynapseError> {
        if state.levels <= self.switch.len() {
            Ok(())
        } else {
            Err(SynapseError::InvalidParameter {
                field: "levels of the state",
                value: state.levels as f64,
                requirement: "at most the cascade's levels",
            })
        }
    }
}

impl SynapseModel for Cascade {
    type State = CascadeState;

    fn equilibrium<R: Rng + ?Sized>(
        &self,
        len: usize,
        rng: &mut R,
    ) -> Result<CascadeState, SynapseError> {
        let pi = self.equilibrium_levels();
        let cumulative: Vec<f64> = pi
            .iter()
            .scan(0.0, |sum, p| {
                *sum += p;
                Some(*sum)
            })
            .collect();
        let efficacy = Pattern::random(len, rng);
        let depth = (0..len)
            .map(|_| {
                let u: f64 = rng.random();
                cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(pi.len() - 1) as u8
            })
            .collect();
        Ok(CascadeState {
            efficacy,
            depth,
            levels: pi.len(),
        })
    }

    fn store<R: Rng + ?Sized>(
        &self,
        state: &mut CascadeState,
        pattern: &Pattern,
        rng: &mut R,
    ) -> Result<(), SynapseError> {
        pattern.check(state.len())?;
        self.check(state)?;
        state.levels = self.switch.len();
        let words = state.efficacy.words_mut().iter_mut().zip(pattern.words());
        for ((strong, &p), depths) in words.zip(state.depth.chunks_mut(64)) {
            let agree = !(*strong ^ p);
            let mut word = *strong;
            for (b, depth) in depths.iter_mut().enumerate() {
                self.transition(&mut word, 1 << b, depth, agree >> b & 1 == 1, rng);
            }
            *strong = word;
        }
        Ok(())
    }

    fn overlap(&self, state: &CascadeState, pattern: &Pattern) -> Result<f64, SynapseError> {
        pattern.check(state.len())?;
        pattern.binary_overlap(state.efficacy.words())
    }

    fn squared_weights(&self, state: &CascadeState) -> f64 {
        state.len() as f64
    }

    /// From the equilibrium, a potentiation (the stored `ξ_i = +1`, by symmetry the same
    /// for `−1`), then events of random sign; the signal is `P(strong) − P(weak)`.
    fn expected_signal(&self, ages: &[usize]) -> Vec<f64> {
        let half: Vec<f64> = self.equilibrium_levels().iter().map(|p| p / 2.0).collect();
        let mut d = self.evolve(&[half.clone(), half], Event::Potentiation);
        let mut order: Vec<usize> = (0..ages.len()).collect();
        order.sort_by_key(|&k| ages[k]);
        let mut signal = vec![0.0; ages.len()];
        let mut age = 0;
        for k in order {
            while age < ages[k] {
                let (up, down) = (
                    self.evolve(&d, Event::Potentiation),
                    self.evolve(&d, Event::Depression),
                );
                d = [0, 1].map(|e| {
                    up[e]
                        .iter()
                        .zip(&down[e])
                        .map(|(a, b)| 0.5 * (a + b))
                        .collect()
                });
                age += 1;
            }
            signal[k] = d[1].iter().sum::<f64>() - d[0].iter().sum::<f64>();
        }
        signal
    }

    fn expected_squared_weight(&self) -> f64 {
        1.0
    }

    /// `1/q_k`, in patterns.
    fn time_scales(&self) -> Vec<f64> {
        let mut scales: Vec<f64> = self.switch.iter().map(|q| 1.0 / q).collect();
        scales.sort_by(f64::total_cmp);
        scales
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_paper_s_probabilities() {
        let c = Cascade::new(CascadeParams::paper(4)).unwrap();
        assert_eq!(c.switch_probabilities(), &[1.0, 0.5, 0.25, 0.25]);
        assert_eq!(c.deepen_probabilities(), &[1.0, 0.5, 0.25, 0.0]);
        // Every level equally occupied.
        for p in c.equilibrium_levels() {
            assert!((p - 0.25).abs() < 1e-15);
        }
        assert_eq!(c.time_scales(), vec![1.0, 2.0, 4.0, 4.0]);
    }

    #[test]
    fn invalid_cascades_are_refused() {
        for params in [
            CascadeParams::paper(1),
            CascadeParams::paper(65),
            CascadeParams {
                levels: 4,
                ratio: 0.6,
            },
            CascadeParams {
                levels: 4,
                ratio: 0.0,
            },
            CascadeParams {
                levels: 4,
                ratio: f64::NAN,
            },
        ] {
            assert!(Cascade::new(params).is_err(), "{params:?}");
        }
        let c = Cascade::new(CascadeParams::paper(3)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut s = CascadeState::weak(2);
        assert!(c.potentiate(&mut s, 2, &mut rng).is_err());
        let deep = Cascade::new(CascadeParams::paper(8)).unwrap();
        let mut s = deep.equilibrium(500, &mut rng).unwrap();
        assert!(c
            .store(&mut s, &Pattern::random(500, &mut rng), &mut rng)
            .is_err());
    }

    #[test]
    fn opposing_events_switch_and_agreeing_ones_go_deeper() {
        let c = Cascade::new(CascadeParams::paper(3)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut s = CascadeState::weak(1);
        // q_1 = 1: the top of the weak cascade switches for sure, to the strong top.
        c.potentiate(&mut s, 0, &mut rng).unwrap();
        assert_eq!((s.weight(0), s.level(0)), (Some(1.0), Some(1)));
        // p_1 = 1: an agreeing event moves it to level 2 for sure, keeping the weight.
        c.potentiate(&mut s, 0, &mut rng).unwrap();
        assert_eq!((s.weight(0), s.level(0)), (Some(1.0), Some(2)));
        // The deepest level stays put under agreeing events.
        for _ in 0..200 {
            c.potentiate(&mut s, 0, &mut rng).unwrap();
        }
        assert_eq!((s.weight(0), s.level(0)), (Some(1.0), Some(3)));
        // Depression switches it eventually, to the weak top.
        while s.weight(0) == Some(1.0) {
            c.depress(&mut s, 0, &mut rng).unwrap();
        }
        assert_eq!(s.level(0), Some(1));
    }

    #[test]
    fn storing_a_pattern_is_one_event_per_synapse() {
        let c = Cascade::new(CascadeParams::paper(6)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let start = c.equilibrium(150, &mut rng).unwrap();
        let pattern = Pattern::random(150, &mut rng);
        let (mut a, mut b) = (start.clone(), start);
        c.store(&mut a, &pattern, &mut ChaCha8Rng::seed_from_u64(9))
            .unwrap();
        let mut events = ChaCha8Rng::seed_from_u64(9);
        for i in 0..150 {
            c.apply(&mut b, i, pattern.event(i).unwrap(), &mut events)
                .unwrap();
        }
        assert_eq!(a, b);
    }

    /// The simulated population follows the exact expectation, and the equilibrium stays.
    #[test]
    fn simulation_matches_the_expected_signal() {
        let c = Cascade::new(CascadeParams::paper(5)).unwrap();
        let n = 200_000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut s = c.equilibrium(n, &mut rng).unwrap();
        let memory = Pattern::random(n, &mut rng);
        c.store(&mut s, &memory, &mut rng).unwrap();
        let ages: Vec<usize> = (0..12).collect();
        let expected = c.expected_signal(&ages);
        for (age, want) in expected.iter().enumerate() {
            let got = c.overlap(&s, &memory).unwrap() / n as f64;
            assert!((got - want).abs() < 0.01, "age {age}: {got} vs {want}");
            c.store(&mut s, &Pattern::random(n, &mut rng), &mut rng)
                .unwrap();
        }
        let top = (0..n).filter(|&i| s.level(i) == Some(1)).count() as f64 / n as f64;
        assert!((top - 0.2).abs() < 0.01, "top level holds {top}");
        assert!(expected[1] > 0.0 && expected[11] < expected[4]);
        let unsorted = c.expected_signal(&[7, 0, 3, 7]);
        assert_eq!(
            unsorted,
            vec![expected[7], expected[0], expected[3], expected[7]]
        );
    }
}
