//! randman: spike-timing classification on random smooth manifolds.
//!
//! Zenke & Vogels (2021), "The remarkable robustness of surrogate gradient learning for
//! instilling complex function in spiking neural networks", Neural Computation; the
//! generator follows `fzenke/randman` and stork's `make_tempo_randman`, written from their
//! equations. A random manifold maps a latent point `x ∈ [0,1)^d` to one value per unit, a
//! sum of random sinusoids with a decaying spectrum. Each class has its own manifolds; a
//! sample draws a latent point and every unit fires once per manifold, at a time set by the
//! manifold's (standardised) value.
//!
//! The draws cannot match torch's generator bit for bit; they reproduce the distribution,
//! deterministically per seed (ChaCha8).

use std::f64::consts::TAU;

use rand::RngCore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::dataset::{EventDataset, EventSample, Target};
use super::{rng, DataError};

/// Added to the min–max range when standardising, as in the reference (avoids 0/0).
const STANDARDIZE_EPS: f64 = 1e-7;

/// Parameters of a randman dataset; the defaults are stork's randman example.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandmanConfig {
    /// Number of classes (one set of manifolds each).
    pub nb_classes: usize,
    /// Number of input units (the manifolds' embedding dimension).
    pub nb_units: usize,
    /// Number of time steps of a sample.
    pub nb_steps: usize,
    /// Fraction of the steps over which spikes are spread, in `(0, 1]`.
    pub step_frac: f64,
    /// Dimension of the latent manifold.
    pub dim_manifold: usize,
    /// Spikes per unit and sample (one manifold per spike).
    pub nb_spikes: usize,
    /// Samples per class.
    pub nb_samples: usize,
    /// Spectral decay exponent; larger is smoother.
    pub alpha: f64,
    /// Amplitude below which Fourier terms are cut off, in `(0, 1)`.
    pub prec: f64,
    /// Upper bound on the number of Fourier terms.
    pub max_f_cutoff: usize,
    /// Time step in seconds; spike times are multiples of it.
    pub dt_s: f64,
    /// Master seed of every draw.
    pub seed: u64,
}

impl Default for RandmanConfig {
    fn default() -> Self {
        Self {
            nb_classes: 10,
            nb_units: 20,
            nb_steps: 100,
            step_frac: 0.5,
            dim_manifold: 1,
            nb_spikes: 1,
            nb_samples: 1000,
            alpha: 1.0,
            prec: 1e-3,
            max_f_cutoff: 1000,
            dt_s: 2e-3,
            seed: 42,
        }
    }
}

impl RandmanConfig {
    /// Checks that every field is usable: counts at least 1, `step_frac` in `(0, 1]` with
    /// at least one usable step, `alpha` and `dt_s` finite and positive, `prec` in `(0, 1)`,
    /// and at least two Fourier terms (with the bias removed, one term is a constant).
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |field, reason| Err(DataError::InvalidConfig { field, reason });
        let counts = [
            ("nb_classes", self.nb_classes),
            ("nb_units", self.nb_units),
            ("nb_steps", self.nb_steps),
            ("dim_manifold", self.dim_manifold),
            ("nb_spikes", self.nb_spikes),
            ("nb_samples", self.nb_samples),
        ];
        if let Some((field, _)) = counts.iter().find(|(_, count)| *count == 0) {
            return invalid(field, "must be at least 1");
        }
        if self.nb_units > u32::MAX as usize {
            return invalid("nb_units", "must fit a u32 unit id");
        }
        if !(self.step_frac > 0.0 && self.step_frac <= 1.0) {
            return invalid("step_frac", "must be in (0, 1]");
        }
        if self.nb_steps as f64 * self.step_frac < 1.0 {
            return invalid("step_frac", "times nb_steps must be at least 1 step");
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return invalid("alpha", "must be finite and positive");
        }
        if !(self.prec > 0.0 && self.prec < 1.0) {
            return invalid("prec", "must be in (0, 1)");
        }
        if self.f_cutoff() < 2 {
            return invalid(
                "max_f_cutoff",
                "with prec and alpha must allow at least 2 terms",
            );
        }
        if !(self.dt_s.is_finite() && self.dt_s > 0.0) {
            return invalid("dt_s", "must be finite and positive");
        }
        Ok(())
    }

    /// Number of Fourier terms of every manifold (see [`f_cutoff`]).
    pub fn f_cutoff(&self) -> usize {
        f_cutoff(self.alpha, self.prec, self.max_f_cutoff)
    }

    /// Nominal duration of a sample in seconds, `nb_steps * dt_s`.
    pub fn duration_s(&self) -> f64 {
        self.nb_steps as f64 * self.dt_s
    }
}

/// Number of Fourier terms: `min(ceil(prec^(-1/alpha)), max_f_cutoff)`, i.e. enough terms for
/// the spectrum `~ i^-alpha` to decay to `prec` (alpha = 1 gives 1000 at prec = 1e-3).
pub fn f_cutoff(alpha: f64, prec: f64, max_f_cutoff: usize) -> usize {
    let needed = prec.powf(-1.0 / alpha).ceil();
    // Compared in f64 so that an infinite or huge `needed` cannot overflow the cast.
    if needed.is_nan() || needed >= max_f_cutoff as f64 {
        max_f_cutoff
    } else {
        needed as usize
    }
}

/// A random smooth map from `[0,1)^manifold_dim` to `embedding_dim` values.
///
/// With parameters `θ ~ U[0,1)` of shape `[embedding_dim, manifold_dim, 3, f_cutoff]` and the
/// spectrum `s_i = 1 / ((i+1)^alpha + 1)`, unit `e` takes the value
/// `f_e(x) = Π_d Σ_i θ[e,d,0,i] s_i sin(2π (i x_d θ[e,d,1,i] + θ[e,d,2,i]))`.
/// The constant (bias) term is removed: `θ[e,d,0,0] = 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomManifold {
    embedding_dim: usize,
    manifold_dim: usize,
    f_cutoff: usize,
    /// `θ[e,d,0,i] s_i`, laid out `[embedding_dim, manifold_dim, f_cutoff]`.
    amplitudes: Vec<f64>,
    /// `i θ[e,d,1,i]`, in turns per unit of `x`; same layout.
    frequencies: Vec<f64>,
    /// `θ[e,d,2,i]`, in turns; same layout.
    phases: Vec<f64>,
}

impl RandomManifold {
    /// A manifold with `f_cutoff` terms per dimension and spectral decay `alpha`, drawn from
    /// `seed` (parameters in `[e, d, 3, i]` row-major order, like the reference).
    pub fn new(
        embedding_dim: usize,
        manifold_dim: usize,
        alpha: f64,
        f_cutoff: usize,
        seed: u64,
    ) -> Self {
        let spectrum: Vec<f64> = (0..f_cutoff)
            .map(|i| 1.0 / (((i + 1) as f64).powf(alpha) + 1.0))
            .collect();
        let len = embedding_dim * manifold_dim * f_cutoff;
        let mut amplitudes = Vec::with_capacity(len);
        let mut frequencies = Vec::with_capacity(len);
        let mut phases = Vec::with_capacity(len);
        let mut rng = rng::seeded(seed);
        for _ in 0..embedding_dim * manifold_dim {
            let start = amplitudes.len();
            amplitudes.extend(spectrum.iter().map(|s| rng::unit_f64(&mut rng) * s));
            frequencies.extend((0..f_cutoff).map(|i| i as f64 * rng::unit_f64(&mut rng)));
            phases.extend((0..f_cutoff).map(|_| rng::unit_f64(&mut rng)));
            if f_cutoff > 0 {
                amplitudes[start] = 0.0; // no bias term
            }
        }
        Self {
            embedding_dim,
            manifold_dim,
            f_cutoff,
            amplitudes,
            frequencies,
            phases,
        }
    }

    /// Number of output values (units).
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Dimension of the latent space.
    pub fn manifold_dim(&self) -> usize {
        self.manifold_dim
    }

    /// Number of Fourier terms per latent dimension.
    pub fn f_cutoff(&self) -> usize {
        self.f_cutoff
    }

    /// The manifold at one latent point `x` (length `manifold_dim`, entries in `[0, 1)`),
    /// one value per unit; `None` if `x` has the wrong length.
    pub fn eval(&self, x: &[f64]) -> Option<Vec<f64>> {
        (x.len() == self.manifold_dim).then(|| {
            (0..self.embedding_dim)
                .map(|unit| {
                    let mut value = [1.0];
                    for (dim, &coordinate) in x.iter().enumerate() {
                        self.multiply_1d(unit, dim, &[coordinate], &mut value);
                    }
                    value[0]
                })
                .collect()
        })
    }

    /// Unit `unit` at many latent points, given column-major as `latents[dim * n + sample]`.
    fn eval_unit(&self, unit: usize, latents: &[f64]) -> Vec<f64> {
        let n = latents.len() / self.manifold_dim;
        let mut values = vec![1.0; n];
        for (dim, coordinates) in latents.chunks_exact(n).enumerate() {
            self.multiply_1d(unit, dim, coordinates, &mut values);
        }
        values
    }

    /// Multiplies `values` by the 1-d factor of `unit` along `dim` at `coordinates`.
    fn multiply_1d(&self, unit: usize, dim: usize, coordinates: &[f64], values: &mut [f64]) {
        let start = (unit * self.manifold_dim + dim) * self.f_cutoff;
        let terms = start..start + self.f_cutoff;
        let mut sums = vec![0.0; coordinates.len()];
        // Terms outside, samples inside: the inner loop has no reduction and vectorises.
        for ((&a, &f), &p) in self.amplitudes[terms.clone()]
            .iter()
            .zip(&self.frequencies[terms.clone()])
            .zip(&self.phases[terms])
        {
            for (sum, &x) in sums.iter_mut().zip(coordinates) {
                *sum += a * sin_turns(f * x + p);
            }
        }
        for (value, sum) in values.iter_mut().zip(sums) {
            *value *= sum;
        }
    }
}

/// `sin(2π t)` for `t` in turns, within about 1e-15 for `|t| < 2^51`.
///
/// Arguments in turns reduce exactly to `[-1/4, 1/4]`, where a short odd series suffices;
/// this is several times cheaper than `f64::sin` and dominates randman generation.
#[inline(always)]
fn sin_turns(t: f64) -> f64 {
    // Adding and removing 1.5 * 2^52 rounds to the nearest integer without a libm call.
    const ROUNDER: f64 = 6_755_399_441_055_744.0;
    let r = t - ((t + ROUNDER) - ROUNDER); // in [-1/2, 1/2]
                                           // sin(2π r) = sin(2π (±1/2 − r)) folds r into [-1/4, 1/4].
    let r = if r.abs() > 0.25 {
        0.5f64.copysign(r) - r
    } else {
        r
    };
    let x = TAU * r;
    let x2 = x * x;
    // Taylor series of sin to x^19; the first omitted term is below 3e-16 on [-π/2, π/2].
    const C: [f64; 9] = [
        -1.0 / 6.0,
        1.0 / 120.0,
        -1.0 / 5_040.0,
        1.0 / 362_880.0,
        -1.0 / 39_916_800.0,
        1.0 / 6_227_020_800.0,
        -1.0 / 1_307_674_368_000.0,
        1.0 / 355_687_428_096_000.0,
        -1.0 / 121_645_100_408_832_000.0,
    ];
    let series = C.iter().rev().fold(0.0, |acc, &c| acc * x2 + c);
    x + x * x2 * series
}

/// Generates a randman dataset (stork's `make_tempo_randman` with `offset_frac = 0`).
///
/// For every class and spike index a manifold with its own seed (drawn from the master
/// seed) maps the class's latent points `x ~ U[0,1)^dim_manifold` to one value per unit; each
/// unit's values are min–max standardised over the class's samples to `[0, 1)` and give the
/// spike step `floor(nb_steps * step_frac * y)`. Spike times are `step * dt_s` (bin starts,
/// so [`EventDataset::bin`] at `dt_s` recovers the steps), sorted by time then unit. Each unit
/// spikes `nb_spikes` times per sample; samples of all classes are shuffled.
pub fn generate(config: &RandmanConfig) -> Result<EventDataset, DataError> {
    config.validate()?;
    let mut master = rng::seeded(config.seed);
    let manifold_seeds: Vec<u64> = (0..config.nb_classes * config.nb_spikes)
        .map(|_| master.next_u64())
        .collect();
    let latents: Vec<Vec<f64>> = (0..config.nb_classes)
        .map(|_| {
            let len = config.dim_manifold * config.nb_samples;
            (0..len).map(|_| rng::unit_f64(&mut master)).collect()
        })
        .collect();
    let steps = spike_steps(config, &manifold_seeds, &latents);
    let mut samples = assemble_samples(config, &steps);
    rng::shuffle(&mut master, &mut samples);
    EventDataset::new(
        samples,
        config.nb_units,
        Some(config.nb_classes),
        config.duration_s(),
    )
}

/// Spike steps per (class, spike index, unit), each over the class's samples, in that order.
fn spike_steps(config: &RandmanConfig, seeds: &[u64], latents: &[Vec<f64>]) -> Vec<Vec<u32>> {
    let f_cutoff = config.f_cutoff();
    let manifolds: Vec<RandomManifold> = seeds
        .par_iter()
        .map(|&seed| {
            RandomManifold::new(
                config.nb_units,
                config.dim_manifold,
                config.alpha,
                f_cutoff,
                seed,
            )
        })
        .collect();
    let span_steps = config.nb_steps as f64 * config.step_frac;
    (0..manifolds.len() * config.nb_units)
        .into_par_iter()
        .map(|task| {
            let (manifold, unit) = (task / config.nb_units, task % config.nb_units);
            let class = manifold / config.nb_spikes;
            let mut values = manifolds[manifold].eval_unit(unit, &latents[class]);
            standardize(&mut values);
            // y < 1 after standardising, so steps stay below nb_steps * step_frac.
            values
                .iter()
                .map(|y| (span_steps * y).floor() as u32)
                .collect()
        })
        .collect()
}

/// Min–max standardisation to `[0, 1)`: `(y − min) / (max − min + 1e−7)`.
fn standardize(values: &mut [f64]) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let scale = 1.0 / (max - min + STANDARDIZE_EPS);
    for value in values {
        *value = (*value - min) * scale;
    }
}

/// One sample per (class, latent point), with events sorted by time then unit.
fn assemble_samples(config: &RandmanConfig, steps: &[Vec<u32>]) -> Vec<EventSample> {
    let per_class = config.nb_spikes * config.nb_units;
    let mut samples = Vec::with_capacity(config.nb_classes * config.nb_samples);
    for (class, class_steps) in steps.chunks_exact(per_class).enumerate() {
        for s in 0..config.nb_samples {
            // Task t of a class is (spike index, unit) = (t / nb_units, t % nb_units).
            let mut events: Vec<(u32, u32)> = class_steps
                .iter()
                .enumerate()
                .map(|(task, steps)| (steps[s], (task % config.nb_units) as u32))
                .collect();
            events.sort_unstable();
            samples.push(EventSample {
                times_s: events
                    .iter()
                    .map(|&(step, _)| (f64::from(step) * config.dt_s) as f32)
                    .collect(),
                units: events.iter().map(|&(_, unit)| unit).collect(),
                target: Target::Class(class),
            });
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> RandmanConfig {
        RandmanConfig {
            nb_classes: 4,
            nb_units: 10,
            nb_steps: 50,
            nb_spikes: 2,
            nb_samples: 100,
            seed,
            ..RandmanConfig::default()
        }
    }

    fn class_of(sample: &EventSample) -> usize {
        match sample.target {
            Target::Class(c) => c,
            _ => unreachable!("randman has class targets"),
        }
    }

    /// Per sample, its spike step per (spike slot, unit): the sorted steps of each unit.
    fn step_matrix(ds: &EventDataset, config: &RandmanConfig) -> Vec<Vec<f64>> {
        let binned = ds.bin(
            &(0..ds.len()).collect::<Vec<_>>(),
            config.dt_s,
            config.nb_steps,
        );
        let ev = binned.unwrap().spikes;
        let mut per_sample = vec![vec![Vec::new(); config.nb_units]; ds.len()];
        for t in 0..ev.steps {
            for (b, units) in per_sample.iter_mut().enumerate() {
                for &u in ev.row(t * ev.batch + b) {
                    units[u as usize].push(t as f64);
                }
            }
        }
        per_sample.into_iter().map(|units| units.concat()).collect()
    }

    #[test]
    fn f_cutoff_follows_the_formula() {
        assert_eq!(f_cutoff(1.0, 1e-3, 1000), 1000);
        assert_eq!(f_cutoff(2.0, 1e-3, 1000), 32);
        assert_eq!(f_cutoff(1.0, 1e-3, 100), 100);
        assert_eq!(f_cutoff(1e-300, 1e-3, 1000), 1000);
        assert_eq!(RandmanConfig::default().f_cutoff(), 1000);
    }

    #[test]
    fn sin_turns_matches_std_sin() {
        // Reduce exactly before calling std sin: `TAU * t` alone loses ~1e-12 at t ~ 2000.
        let reference = |t: f64| (TAU * (t - t.round())).sin();
        let mut rng = rng::seeded(1);
        for _ in 0..200_000 {
            let t = rng::unit_f64(&mut rng) * 2_000.0 - 10.0;
            let err = (sin_turns(t) - reference(t)).abs();
            assert!(err < 1e-14, "t = {t}: error {err}");
        }
        for (t, exact) in [
            (0.0, 0.0),
            (0.25, 1.0),
            (0.5, 0.0),
            (0.75, -1.0),
            (-0.25, -1.0),
        ] {
            assert!((sin_turns(t) - exact).abs() < 1e-15, "{t}");
            assert!((sin_turns(t + 1000.0) - exact).abs() < 1e-15, "{t} + 1000");
        }
    }

    #[test]
    fn manifold_has_no_bias_and_matches_its_formula() {
        let m = RandomManifold::new(3, 2, 2.0, 32, 5);
        assert_eq!(
            (m.embedding_dim(), m.manifold_dim(), m.f_cutoff()),
            (3, 2, 32)
        );
        let x = [0.3, 0.8];
        let values = m.eval(&x).unwrap();
        for (unit, &value) in values.iter().enumerate() {
            let mut expected = 1.0;
            for (dim, &xd) in x.iter().enumerate() {
                let start = (unit * 2 + dim) * 32;
                assert_eq!(m.amplitudes[start], 0.0);
                expected *= (start..start + 32)
                    .map(|k| m.amplitudes[k] * (TAU * (m.frequencies[k] * xd + m.phases[k])).sin())
                    .sum::<f64>();
            }
            assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
        }
        assert!(m.eval(&[0.1]).is_none());
        assert_ne!(m, RandomManifold::new(3, 2, 2.0, 32, 6));
    }

    #[test]
    fn standardized_values_lie_in_unit_interval() {
        let m = RandomManifold::new(4, 1, 1.0, 1000, 9);
        let latents: Vec<f64> = (0..500).map(|i| i as f64 / 500.0).collect();
        for unit in 0..4 {
            let mut values = m.eval_unit(unit, &latents);
            standardize(&mut values);
            assert!(values.iter().all(|y| (0.0..1.0).contains(y)), "unit {unit}");
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(0.0, f64::max);
            assert_eq!(min, 0.0);
            assert!(max > 0.999_999, "{max}");
        }
    }

    #[test]
    fn every_unit_fires_nb_spikes_times_within_the_span() {
        let config = small(3);
        let ds = generate(&config).unwrap();
        assert_eq!(ds.len(), 400);
        assert_eq!((ds.channels, ds.num_classes), (10, Some(4)));
        assert!((ds.duration_s - 0.1).abs() < 1e-12);
        let span = config.nb_steps as f64 * config.step_frac;
        for (sample, steps) in ds.samples.iter().zip(step_matrix(&ds, &config)) {
            for unit in 0..10 {
                let count = sample.units.iter().filter(|&&u| u == unit).count();
                assert_eq!(count, config.nb_spikes);
            }
            assert!(sample.times_s.windows(2).all(|w| w[0] <= w[1]));
            // Binning may merge two spikes of a unit in one step, never move them out.
            assert!(steps.iter().all(|&t| t < span), "{steps:?}");
        }
    }

    #[test]
    fn binning_at_dt_recovers_every_spike_step() {
        let config = small(4);
        let ds = generate(&config).unwrap();
        for (index, sample) in ds.samples.iter().enumerate() {
            let binned = ds.bin(&[index], config.dt_s, config.nb_steps).unwrap();
            assert_eq!(binned.dropped, 0);
            for (&time_s, &unit) in sample.times_s.iter().zip(&sample.units) {
                let step = (f64::from(time_s) / config.dt_s).round() as usize;
                assert!(
                    binned.spikes.row(step).contains(&unit),
                    "{time_s} s, unit {unit}"
                );
            }
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let a = generate(&small(7)).unwrap();
        assert_eq!(a, generate(&small(7)).unwrap());
        assert_ne!(a, generate(&small(8)).unwrap());
    }

    #[test]
    fn classes_are_balanced_and_shuffled() {
        let ds = generate(&small(2)).unwrap();
        let mut counts = [0usize; 4];
        for sample in &ds.samples {
            counts[class_of(sample)] += 1;
        }
        assert_eq!(counts, [100; 4]);
        let first: Vec<usize> = ds.samples[..20].iter().map(class_of).collect();
        assert!(first.windows(2).any(|w| w[0] != w[1]), "{first:?}");
    }

    #[test]
    fn classes_are_distinguishable() {
        let config = RandmanConfig {
            nb_spikes: 1,
            ..small(5)
        };
        let ds = generate(&config).unwrap();
        let steps = step_matrix(&ds, &config);
        let classes: Vec<usize> = ds.samples.iter().map(class_of).collect();
        let distance =
            |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum() };
        // Leave-one-out nearest neighbour on spike-step vectors: far above chance (1/4).
        let correct = (0..ds.len())
            .filter(|&i| {
                let nearest = (0..ds.len())
                    .filter(|&j| j != i)
                    .min_by(|&j, &k| {
                        distance(&steps[i], &steps[j]).total_cmp(&distance(&steps[i], &steps[k]))
                    })
                    .unwrap();
                classes[nearest] == classes[i]
            })
            .count();
        assert!(
            correct as f64 / ds.len() as f64 > 0.9,
            "{correct} / {}",
            ds.len()
        );
        // Mean profiles of two halves of a class agree better than those of two classes.
        let profile = |class: usize, half: usize| -> Vec<f64> {
            let members: Vec<&Vec<f64>> = (0..ds.len())
                .filter(|&i| classes[i] == class)
                .map(|i| &steps[i])
                .collect();
            let part = &members[half * 50..(half + 1) * 50];
            (0..config.nb_units)
                .map(|u| part.iter().map(|s| s[u]).sum::<f64>() / 50.0)
                .collect()
        };
        for class in 1..4 {
            let within = distance(&profile(class, 0), &profile(class, 1));
            let between = distance(&profile(class, 0), &profile(0, 0));
            assert!(between > within, "class {class}: {between} vs {within}");
        }
    }

    #[test]
    fn default_config_generates_the_stork_example() {
        let config = RandmanConfig::default();
        let start = std::time::Instant::now();
        let ds = generate(&config).unwrap();
        eprintln!("default randman generated in {:?}", start.elapsed());
        assert_eq!(ds.len(), 10_000);
        assert!(ds.samples.iter().all(|s| s.len() == 20));
        let rate_hz = ds.mean_rate_hz(&(0..ds.len()).collect::<Vec<_>>()).unwrap();
        assert!(
            (rate_hz - 5.0).abs() < 1e-9,
            "one spike per unit in 0.2 s: {rate_hz}"
        );
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let cases: Vec<(RandmanConfig, &str)> = vec![
            (
                RandmanConfig {
                    nb_classes: 0,
                    ..Default::default()
                },
                "nb_classes",
            ),
            (
                RandmanConfig {
                    nb_samples: 0,
                    ..Default::default()
                },
                "nb_samples",
            ),
            (
                RandmanConfig {
                    step_frac: 0.0,
                    ..Default::default()
                },
                "step_frac",
            ),
            (
                RandmanConfig {
                    step_frac: f64::NAN,
                    ..Default::default()
                },
                "step_frac",
            ),
            (
                RandmanConfig {
                    step_frac: 1.5,
                    ..Default::default()
                },
                "step_frac",
            ),
            (
                RandmanConfig {
                    nb_steps: 1,
                    ..Default::default()
                },
                "step_frac",
            ),
            (
                RandmanConfig {
                    alpha: -1.0,
                    ..Default::default()
                },
                "alpha",
            ),
            (
                RandmanConfig {
                    alpha: f64::NAN,
                    ..Default::default()
                },
                "alpha",
            ),
            (
                RandmanConfig {
                    prec: 0.0,
                    ..Default::default()
                },
                "prec",
            ),
            (
                RandmanConfig {
                    prec: 1.0,
                    ..Default::default()
                },
                "prec",
            ),
            (
                RandmanConfig {
                    max_f_cutoff: 1,
                    ..Default::default()
                },
                "max_f_cutoff",
            ),
            (
                RandmanConfig {
                    dt_s: 0.0,
                    ..Default::default()
                },
                "dt_s",
            ),
            (
                RandmanConfig {
                    dt_s: f64::INFINITY,
                    ..Default::default()
                },
                "dt_s",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().unwrap_err();
            assert!(
                err.to_string().contains(&format!("`{field}`")),
                "{err} vs {field}"
            );
            assert!(generate(&config).is_err());
        }
        assert!(RandmanConfig::default().validate().is_ok());
    }

    #[test]
    fn config_serde_fills_defaults_and_rejects_unknown_fields() {
        let config = small(9);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<RandmanConfig>(&json).unwrap(),
            config
        );
        let partial: RandmanConfig = serde_json::from_str(r#"{"nb_classes": 3}"#).unwrap();
        assert_eq!(partial.nb_classes, 3);
        assert_eq!(partial.nb_units, 20);
        assert!(serde_json::from_str::<RandmanConfig>(r#"{"nb_class": 3}"#).is_err());
    }
}
