//! Activity and weight regularizers (stork semantics, reference §1.7).
//!
//! An activity regularizer penalises the spike count of a layer,
//! `cnt[b, j] = Σ_t S[t, b, j]` for its output `S` `[T, B, N]`, either per neuron or averaged
//! over the layer's neurons (population level), against a threshold `θ` in spikes per sample:
//!
//! `L = strength · mean(f(e))`, with `e = d`, `max(d, 0)` or `min(d, 0)` for a two-sided, upper
//! or lower bound on `d = cnt − θ`, and `f(e) = e²` (L2) or `|e|` (L1).
//!
//! `|min(d, 0)| = relu(θ − cnt)`, so the lower bound is stork's `LowerBoundL1/L2`. Since `L`
//! depends on `S` only through the counts, `∂L/∂S[t, b, j] = ∂L/∂cnt[b, j]` at every step `t`.

use crate::real::Real;
use crate::tensor::Seq;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which deviations of the spike count from the threshold are penalised.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    /// Both sides, `e = cnt − θ`: a target count (stork `ActivityRegularizer`, `…L1`).
    Both,
    /// Counts above the threshold, `e = relu(cnt − θ)` (stork `UpperBoundL1/L2`).
    Upper,
    /// Counts below the threshold, `|e| = relu(θ − cnt)` (stork `LowerBoundL1/L2`).
    Lower,
}

/// The penalty of a deviation `e`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// `|e|`, with subgradient 0 at `e = 0`.
    L1,
    /// `e²`.
    L2,
}

/// Where the spike count is taken.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Every neuron of every sample on its own: `mean` over `[B, N]` (stork `dims=False`).
    PerNeuron,
    /// The mean count over the layer's neurons, per sample: `mean` over `[B]` (stork `dims=1`).
    Population,
}

/// A penalty on a spiking layer's spike counts:
/// `L = strength · mean(f(e))` (see the [module docs](self) for `e` and `f`).
///
/// stork's SHD settings are a per-neuron lower bound (L2, strength 100, θ = 1e-3), which wakes
/// silent neurons, and a population upper bound (L2, strength 0.1, θ = 7), which caps the mean
/// count.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActivityRegularizer {
    /// Which side of the threshold is penalised.
    pub kind: BoundKind,
    /// `|e|` or `e²`.
    pub norm: Norm,
    /// Per neuron or per population.
    pub level: Level,
    /// Factor on the mean penalty; finite and `≥ 0` (0 disables the regularizer).
    pub strength: f64,
    /// `θ`, in spikes per sample over the whole sequence (not a rate); finite.
    pub threshold: f64,
}

impl ActivityRegularizer {
    /// Checks that the strength is finite and non-negative and the threshold finite.
    pub fn validate(&self) -> Result<(), RegularizerError> {
        check_strength(self.strength)?;
        if !self.threshold.is_finite() {
            return Err(RegularizerError::Threshold(self.threshold));
        }
        Ok(())
    }

    /// `(f(e), df/dcnt)` for one count (mean count at the population level).
    #[inline]
    fn penalty(&self, count: f64) -> (f64, f64) {
        let d = count - self.threshold;
        let e = match self.kind {
            BoundKind::Both => d,
            BoundKind::Upper => d.max(0.0),
            BoundKind::Lower => d.min(0.0),
        };
        // `de/dcnt` is 1 wherever `e ≠ 0`, so `df/dcnt` is `f'(e)`.
        match self.norm {
            Norm::L1 => (e.abs(), sign(e)),
            Norm::L2 => (e * e, 2.0 * e),
        }
    }
}

/// A penalty on a weight array `w` of `n` entries:
/// `L = strength · mean(w²)` (L2, stork `WeightL2Regularizer`) or `strength · mean|w|` (L1).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightRegularizer {
    /// `|w|` or `w²`.
    pub norm: Norm,
    /// Factor on the mean penalty; finite and `≥ 0` (0 disables the regularizer).
    pub strength: f64,
}

impl WeightRegularizer {
    /// Checks that the strength is finite and non-negative.
    pub fn validate(&self) -> Result<(), RegularizerError> {
        check_strength(self.strength)
    }
}

/// Why a regularizer could not be applied.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RegularizerError {
    /// The strength is negative, NaN or infinite.
    #[error("regularizer strength must be finite and non-negative, got {0}")]
    Strength(f64),
    /// The threshold is NaN or infinite.
    #[error("activity regularizer threshold must be finite, got {0}")]
    Threshold(f64),
    /// A sequence's data length disagrees with its shape.
    #[error("sequence holds {len} values, but its shape needs {expected}")]
    Malformed {
        /// Values the sequence holds.
        len: usize,
        /// Values its shape needs.
        expected: usize,
    },
    /// A neuron's output is NaN or infinite at some step.
    #[error("non-finite spike output of neuron {neuron} in sample {sample}")]
    NonFiniteSpikes {
        /// The sample.
        sample: usize,
        /// The neuron.
        neuron: usize,
    },
    /// The gradient buffer is not shaped like the spikes.
    #[error("gradient shape {grad:?} differs from spike shape {spikes:?}")]
    GradShape {
        /// The spikes' shape `[T, B, N]`.
        spikes: [usize; 3],
        /// The gradient's shape `[T, B, N]`.
        grad: [usize; 3],
    },
    /// Spike counts that are not `[B, N]` for the layer's `N` neurons.
    #[error("{counts} spike counts do not divide into rows of {neurons} neurons")]
    CountShape {
        /// Number of spike counts.
        counts: usize,
        /// Neurons per row.
        neurons: usize,
    },
    /// The weight gradient buffer has a different length from the weights.
    #[error("weight gradient has {grad} entries for {weights} weights")]
    GradLength {
        /// Number of weights.
        weights: usize,
        /// Gradient entries.
        grad: usize,
    },
}

/// Reusable buffers for [`add_activity_penalties`]: spike counts and their gradient, `[B, N]`.
#[derive(Clone, Debug, Default)]
pub struct ActivityScratch<F> {
    counts: Vec<f64>,
    dcounts: Vec<F>,
}

/// The activity penalty `reg` of spikes `S` `[T, B, N]` with its gradient `∂L/∂S`, allocating
/// both; [`add_activity_penalties`] accumulates several penalties without allocating.
pub fn activity_penalty<F: Real>(
    reg: &ActivityRegularizer,
    spikes: &Seq<F>,
) -> Result<(f64, Seq<F>), RegularizerError> {
    check_seq(spikes)?;
    let mut grad = Seq::zeros(spikes.steps, spikes.batch, spikes.width);
    let loss = add_activity_penalties(
        std::slice::from_ref(reg),
        spikes,
        &mut grad,
        &mut ActivityScratch::default(),
    )?;
    Ok((loss, grad))
}

/// Adds `∂L/∂S` of every regularizer in `regs` on spikes `S` `[T, B, N]` into `grad` (shaped
/// like `S`) and returns the summed penalty `L`.
///
/// The counts are taken once for all of `regs`, and their gradients are summed over `regs`
/// before being broadcast over time, so the spikes are read once and `grad` updated once.
/// With no active regularizer (empty `regs` or all strengths 0), or no sample or neuron, the
/// penalty is 0 and nothing is touched; with `T = 0` every count is 0.
pub fn add_activity_penalties<F: Real>(
    regs: &[ActivityRegularizer],
    spikes: &Seq<F>,
    grad: &mut Seq<F>,
    scratch: &mut ActivityScratch<F>,
) -> Result<f64, RegularizerError> {
    for reg in regs {
        reg.validate()?;
    }
    check_seq(spikes)?;
    let shape = [spikes.steps, spikes.batch, spikes.width];
    let grad_shape = [grad.steps, grad.batch, grad.width];
    if shape != grad_shape {
        return Err(RegularizerError::GradShape {
            spikes: shape,
            grad: grad_shape,
        });
    }
    check_seq(grad)?;
    let slab = spikes.batch * spikes.width;
    if slab == 0 || regs.iter().all(|r| r.strength == 0.0) {
        return Ok(0.0);
    }

    let counts = &mut scratch.counts;
    counts.clear();
    counts.resize(slab, 0.0);
    spikes.sum_steps_into(counts);
    let loss = activity_count_penalties(regs, counts, spikes.width, &mut scratch.dcounts)?;
    grad.add_to_every_step(&scratch.dcounts);
    Ok(loss)
}

/// The summed penalty of `regs` on spike counts `cnt[b, j]` (`counts`, `[B, N]` with
/// `N = neurons`), with `∂L/∂cnt[b, j]` written to `dcounts` (resized to `[B, N]`).
///
/// `L` depends on the spikes only through their counts, so `∂L/∂S[t, b, j] = ∂L/∂cnt[b, j]` at
/// every step: a layer that keeps its spikes as events never needs them dense.
pub fn activity_count_penalties<F: Real>(
    regs: &[ActivityRegularizer],
    counts: &[f64],
    neurons: usize,
    dcounts: &mut Vec<F>,
) -> Result<f64, RegularizerError> {
    for reg in regs {
        reg.validate()?;
    }
    dcounts.clear();
    if counts.is_empty() {
        return Ok(0.0);
    }
    if neurons == 0 || !counts.len().is_multiple_of(neurons) {
        return Err(RegularizerError::CountShape {
            counts: counts.len(),
            neurons,
        });
    }
    let batch = counts.len() / neurons;
    // Checked on the counts (B·N values) rather than the spikes: one NaN poisons its count.
    if let Some(i) = counts.iter().position(|c| !c.is_finite()) {
        return Err(RegularizerError::NonFiniteSpikes {
            sample: i / neurons,
            neuron: i % neurons,
        });
    }

    dcounts.resize(counts.len(), F::zero());
    let mut loss = 0.0;
    for reg in regs.iter().filter(|r| r.strength > 0.0) {
        match reg.level {
            Level::PerNeuron => {
                let scale = reg.strength / counts.len() as f64;
                for (dc, &c) in dcounts.iter_mut().zip(counts) {
                    let (f, df) = reg.penalty(c);
                    loss += scale * f;
                    *dc += F::from_f64(scale * df);
                }
            }
            Level::Population => {
                // L = s/B Σ_b f(mean_j cnt[b, j]), so ∂L/∂cnt[b, j] = s/(B·N) f'(·).
                let scale = reg.strength / batch as f64;
                let rows = counts
                    .chunks_exact(neurons)
                    .zip(dcounts.chunks_exact_mut(neurons));
                for (row, drow) in rows {
                    let (f, df) = reg.penalty(row.iter().sum::<f64>() / neurons as f64);
                    loss += scale * f;
                    let g = F::from_f64(scale * df / neurons as f64);
                    drow.iter_mut().for_each(|dc| *dc += g);
                }
            }
        }
    }
    Ok(loss)
}

/// Adds `∂L/∂w` of the weight penalty `reg` into `grad` (same length as `w`) and returns `L`:
/// `2·strength·w / n` for L2, `strength·sign(w) / n` for L1 (0 at `w = 0`).
///
/// Empty weights or a strength of 0 give 0 and leave `grad` untouched.
pub fn add_weight_penalty<F: Real>(
    reg: &WeightRegularizer,
    w: &[F],
    grad: &mut [F],
) -> Result<f64, RegularizerError> {
    reg.validate()?;
    if w.len() != grad.len() {
        return Err(RegularizerError::GradLength {
            weights: w.len(),
            grad: grad.len(),
        });
    }
    if w.is_empty() || reg.strength == 0.0 {
        return Ok(0.0);
    }
    let scale = reg.strength / w.len() as f64;
    let mut sum = 0.0;
    match reg.norm {
        Norm::L2 => {
            let k = F::from_f64(2.0 * scale);
            for (g, &v) in grad.iter_mut().zip(w) {
                sum += v.as_f64() * v.as_f64();
                *g += k * v;
            }
        }
        Norm::L1 => {
            let k = F::from_f64(scale);
            for (g, &v) in grad.iter_mut().zip(w) {
                sum += v.as_f64().abs();
                *g += k * F::from_f64(sign(v.as_f64()));
            }
        }
    }
    Ok(scale * sum)
}

/// `sign(x)` with 0 at 0 (the subgradient used for `|x|`).
#[inline]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn check_strength(strength: f64) -> Result<(), RegularizerError> {
    if strength.is_finite() && strength >= 0.0 {
        Ok(())
    } else {
        Err(RegularizerError::Strength(strength))
    }
}

fn check_seq<F>(s: &Seq<F>) -> Result<(), RegularizerError> {
    // Saturating: a corrupt shape must give an error, not an overflow panic.
    let expected = s.steps.saturating_mul(s.batch).saturating_mul(s.width);
    if s.data.len() == expected {
        Ok(())
    } else {
        Err(RegularizerError::Malformed {
            len: s.data.len(),
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const KINDS: [BoundKind; 3] = [BoundKind::Both, BoundKind::Upper, BoundKind::Lower];
    const NORMS: [Norm; 2] = [Norm::L1, Norm::L2];
    const LEVELS: [Level; 2] = [Level::PerNeuron, Level::Population];

    fn reg(
        kind: BoundKind,
        norm: Norm,
        level: Level,
        strength: f64,
        threshold: f64,
    ) -> ActivityRegularizer {
        ActivityRegularizer {
            kind,
            norm,
            level,
            strength,
            threshold,
        }
    }

    /// Spikes whose counts are exactly `counts[b][j]`: one spike per step up to the count.
    fn spikes_with_counts(steps: usize, counts: &[&[usize]]) -> Seq<f64> {
        let (batch, width) = (counts.len(), counts[0].len());
        let mut s = Seq::zeros(steps, batch, width);
        for (b, row) in counts.iter().enumerate() {
            for (j, &n) in row.iter().enumerate() {
                for t in 0..n {
                    s.data[(t * batch + b) * width + j] = 1.0;
                }
            }
        }
        s
    }

    fn assert_close(a: f64, b: f64, what: &str) {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        );
    }

    #[test]
    fn activity_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for kind in KINDS {
            for norm in NORMS {
                for level in LEVELS {
                    let (steps, batch, width) = (
                        rng.random_range(1..6),
                        rng.random_range(1..4),
                        rng.random_range(1..5),
                    );
                    // Non-binary "spikes" make the counts smooth in every element.
                    let data = (0..steps * batch * width).map(|_| rng.random_range(0.0..1.0));
                    let s = Seq::from_vec(steps, batch, width, data.collect()).unwrap();
                    // A threshold near the mean count puts counts on both sides of it.
                    let threshold = 0.5 * steps as f64 + 0.0123;
                    let r = reg(kind, norm, level, 0.7, threshold);
                    let (_, grad) = activity_penalty(&r, &s).unwrap();
                    let h = 1e-6;
                    let mut probe = s.clone();
                    for i in 0..s.data.len() {
                        probe.data[i] = s.data[i] + h;
                        let plus = activity_penalty(&r, &probe).unwrap().0;
                        probe.data[i] = s.data[i] - h;
                        let minus = activity_penalty(&r, &probe).unwrap().0;
                        probe.data[i] = s.data[i];
                        let fd = (plus - minus) / (2.0 * h);
                        let g = grad.data[i];
                        assert!(
                            (g - fd).abs() <= 1e-6 * g.abs().max(fd.abs()) + 1e-9,
                            "{r:?} element {i}: analytic {g}, finite difference {fd}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stork_lower_bound_per_neuron_hand_values() {
        // Two of six neurons are silent: each costs (1e-3)², the others nothing.
        let s = spikes_with_counts(4, &[&[0, 2, 1], &[3, 0, 4]]);
        let r = reg(BoundKind::Lower, Norm::L2, Level::PerNeuron, 100.0, 1e-3);
        let (loss, grad) = activity_penalty(&r, &s).unwrap();
        assert_close(loss, 100.0 * 2.0 * 1e-6 / 6.0, "loss");
        let silent = 100.0 * 2.0 * -1e-3 / 6.0;
        for t in 0..4 {
            assert_close(grad.at(t, 0, 0), silent, "silent neuron");
            assert_close(grad.at(t, 1, 1), silent, "silent neuron");
            assert_eq!([grad.at(t, 0, 1), grad.at(t, 0, 2)], [0.0, 0.0]);
            assert_eq!([grad.at(t, 1, 0), grad.at(t, 1, 2)], [0.0, 0.0]);
        }
    }

    #[test]
    fn stork_upper_bound_population_hand_values() {
        // Sample 0 averages 9 spikes (2 over θ = 7), sample 1 averages 4 (under).
        let s = spikes_with_counts(20, &[&[10, 8], &[3, 5]]);
        let r = reg(BoundKind::Upper, Norm::L2, Level::Population, 0.1, 7.0);
        let (loss, grad) = activity_penalty(&r, &s).unwrap();
        assert_close(loss, 0.1 * 4.0 / 2.0, "loss");
        // 0.1/B · 2·2 / N = 0.1 for each neuron of sample 0 at every step.
        for t in 0..20 {
            assert_close(grad.at(t, 0, 0), 0.1, "sample 0");
            assert_close(grad.at(t, 0, 1), 0.1, "sample 0");
            assert_eq!(grad.row(t, 1), [0.0, 0.0]);
        }
        // The same from the counts alone (what training uses: no dense spikes).
        let mut dcounts = Vec::new();
        let loss = activity_count_penalties(&[r], &[10.0, 8.0, 3.0, 5.0], 2, &mut dcounts);
        assert_close(loss.unwrap(), 0.2, "loss from counts");
        for (got, want) in dcounts.iter().zip([0.1, 0.1, 0.0, 0.0]) {
            assert_close(*got, want, "dL/dcnt");
        }
    }

    #[test]
    fn two_sided_and_l1_hand_values() {
        let s = spikes_with_counts(5, &[&[1, 4]]); // deviations from θ = 2: −1 and +2
        let cases = [
            (BoundKind::Both, Norm::L2, (1.0 + 4.0) / 2.0, [-1.0, 2.0]),
            (BoundKind::Both, Norm::L1, (1.0 + 2.0) / 2.0, [-0.5, 0.5]),
            (BoundKind::Upper, Norm::L1, 2.0 / 2.0, [0.0, 0.5]),
            (BoundKind::Lower, Norm::L1, 1.0 / 2.0, [-0.5, 0.0]),
            (BoundKind::Lower, Norm::L2, 1.0 / 2.0, [-1.0, 0.0]),
        ];
        for (kind, norm, loss, g) in cases {
            let r = reg(kind, norm, Level::PerNeuron, 1.0, 2.0);
            let (l, grad) = activity_penalty(&r, &s).unwrap();
            assert_close(l, loss, "loss");
            assert!((0..5).all(|t| grad.row(t, 0) == g), "{kind:?} {norm:?}");
        }
        // At the population level the two neurons average 2.5 spikes: 0.5 over θ.
        let r = reg(BoundKind::Both, Norm::L2, Level::Population, 1.0, 2.0);
        let (l, grad) = activity_penalty(&r, &s).unwrap();
        assert_close(l, 0.25, "population loss");
        assert_eq!(grad.row(3, 0), [0.5, 0.5]);
    }

    #[test]
    fn penalties_accumulate_into_the_gradient() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let data = (0..3 * 2 * 4).map(|_| rng.random_range(0.0..1.0)).collect();
        let s: Seq<f32> = Seq::from_vec(3, 2, 4, data).unwrap();
        let lb = reg(BoundKind::Lower, Norm::L2, Level::PerNeuron, 100.0, 1.2);
        let ub = reg(BoundKind::Upper, Norm::L2, Level::Population, 0.1, 1.0);
        let (l1, g1) = activity_penalty(&lb, &s).unwrap();
        let (l2, g2) = activity_penalty(&ub, &s).unwrap();
        let mut grad = Seq::from_vec(3, 2, 4, vec![0.25f32; 24]).unwrap();
        let mut scratch = ActivityScratch::default();
        for _ in 0..2 {
            let l = add_activity_penalties(&[lb, ub], &s, &mut grad, &mut scratch).unwrap();
            assert!((l - (l1 + l2)).abs() < 1e-12);
        }
        for (i, &g) in grad.data.iter().enumerate() {
            assert!((g - (0.25 + 2.0 * (g1.data[i] + g2.data[i]))).abs() < 1e-5);
        }
    }

    #[test]
    fn f32_agrees_with_f64() {
        let s = spikes_with_counts(30, &[&[0, 12, 5], &[20, 1, 9]]);
        let s32: Seq<f32> = s.cast();
        for kind in KINDS {
            for level in LEVELS {
                let r = reg(kind, Norm::L2, level, 0.3, 6.5);
                let (a, ga) = activity_penalty(&r, &s).unwrap();
                let (b, gb) = activity_penalty(&r, &s32).unwrap();
                assert_close(b, a, "f32 loss"); // counts of 0/1 spikes are exact in f32
                assert!(ga
                    .data
                    .iter()
                    .zip(&gb.data)
                    .all(|(x, y)| (x - f64::from(*y)).abs() < 1e-6));
            }
        }
    }

    #[test]
    fn inactive_or_empty_adds_nothing() {
        let mut scratch = ActivityScratch::default();
        let s = spikes_with_counts(3, &[&[0, 1]]);
        let mut grad = Seq::from_vec(3, 1, 2, vec![1.0; 6]).unwrap();
        let off = reg(BoundKind::Lower, Norm::L2, Level::PerNeuron, 0.0, 5.0);
        assert_eq!(
            add_activity_penalties(&[off], &s, &mut grad, &mut scratch),
            Ok(0.0)
        );
        assert_eq!(
            add_activity_penalties(&[], &s, &mut grad, &mut scratch),
            Ok(0.0)
        );
        assert!(grad.data.iter().all(|&g| g == 1.0));
        let on = reg(BoundKind::Lower, Norm::L2, Level::Population, 1.0, 5.0);
        let empty = Seq::<f64>::zeros(3, 0, 2);
        assert_eq!(activity_penalty(&on, &empty).unwrap().0, 0.0);
        // No steps: every count is 0, a deficit of 5.
        let no_steps = Seq::<f64>::zeros(0, 2, 2);
        assert_eq!(activity_penalty(&on, &no_steps).unwrap().0, 25.0);
    }

    #[test]
    fn bad_settings_and_shapes_are_errors() {
        let s = spikes_with_counts(3, &[&[0, 1]]);
        for strength in [-1.0, f64::NAN, f64::INFINITY] {
            let r = reg(BoundKind::Upper, Norm::L1, Level::PerNeuron, strength, 1.0);
            assert!(matches!(r.validate(), Err(RegularizerError::Strength(_))));
            assert!(activity_penalty(&r, &s).is_err());
            let w = WeightRegularizer {
                norm: Norm::L2,
                strength,
            };
            assert!(matches!(w.validate(), Err(RegularizerError::Strength(_))));
            assert!(add_weight_penalty(&w, &[1.0], &mut [0.0]).is_err());
        }
        let r = reg(BoundKind::Upper, Norm::L1, Level::PerNeuron, 1.0, f64::NAN);
        assert!(matches!(r.validate(), Err(RegularizerError::Threshold(_))));
        let ok = reg(BoundKind::Upper, Norm::L1, Level::PerNeuron, 1.0, 1.0);
        assert!(ok.validate().is_ok());
        let mut scratch = ActivityScratch::default();
        let mut wrong = Seq::zeros(3, 2, 1);
        assert!(matches!(
            add_activity_penalties(&[ok], &s, &mut wrong, &mut scratch),
            Err(RegularizerError::GradShape { .. })
        ));
        let mut malformed = s.clone();
        malformed.data.pop();
        assert!(matches!(
            activity_penalty(&ok, &malformed),
            Err(RegularizerError::Malformed {
                len: 5,
                expected: 6
            })
        ));
        let mut nan = s.clone();
        nan.data[3] = f64::NAN;
        assert_eq!(
            activity_penalty(&ok, &nan).unwrap_err(),
            RegularizerError::NonFiniteSpikes {
                sample: 0,
                neuron: 1
            }
        );
        let mut dcounts = Vec::<f64>::new();
        assert_eq!(
            activity_count_penalties(&[ok], &[1.0, 2.0, 3.0], 2, &mut dcounts),
            Err(RegularizerError::CountShape {
                counts: 3,
                neurons: 2
            })
        );
        assert_eq!(
            activity_count_penalties(&[ok], &[1.0, f64::NAN], 1, &mut dcounts),
            Err(RegularizerError::NonFiniteSpikes {
                sample: 1,
                neuron: 0
            })
        );
        let w = WeightRegularizer {
            norm: Norm::L1,
            strength: 1.0,
        };
        assert_eq!(
            add_weight_penalty(&w, &[1.0, 2.0], &mut [0.0]),
            Err(RegularizerError::GradLength {
                weights: 2,
                grad: 1
            })
        );
    }

    #[test]
    fn weight_penalties_match_hand_values_and_finite_differences() {
        let w = [0.5, -1.5, 0.0, 2.0];
        let l2 = WeightRegularizer {
            norm: Norm::L2,
            strength: 0.2,
        };
        let l1 = WeightRegularizer {
            norm: Norm::L1,
            strength: 0.2,
        };
        let mut g = [1.0; 4];
        assert_close(
            add_weight_penalty(&l2, &w, &mut g).unwrap(),
            0.2 * 6.5 / 4.0,
            "L2",
        );
        assert_eq!(g, [1.05, 0.85, 1.0, 1.2]);
        let mut g = [0.0; 4];
        assert_close(
            add_weight_penalty(&l1, &w, &mut g).unwrap(),
            0.2 * 4.0 / 4.0,
            "L1",
        );
        assert_eq!(g, [0.05, -0.05, 0.0, 0.05]); // subgradient 0 at w = 0
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let w: Vec<f64> = (0..7).map(|_| rng.random_range(-1.0..1.0)).collect();
        for reg in [l1, l2] {
            let mut g = vec![0.0; 7];
            add_weight_penalty(&reg, &w, &mut g).unwrap();
            let loss = |w: &[f64]| add_weight_penalty(&reg, w, &mut [0.0; 7]).unwrap();
            for i in 0..7 {
                let (mut plus, mut minus) = (w.clone(), w.clone());
                plus[i] += 1e-6;
                minus[i] -= 1e-6;
                let fd = (loss(&plus) - loss(&minus)) / 2e-6;
                assert!((g[i] - fd).abs() <= 1e-6 * fd.abs() + 1e-9, "{reg:?} {i}");
            }
        }
        let mut none: [f32; 0] = [];
        assert_eq!(add_weight_penalty(&l2, &[], &mut none), Ok(0.0));
    }

    #[test]
    fn settings_use_snake_case_and_reject_unknown_fields() {
        let json = r#"{"kind":"lower","norm":"l2","level":"per_neuron","strength":100.0,"threshold":0.001}"#;
        let r: ActivityRegularizer = serde_json::from_str(json).unwrap();
        assert_eq!(
            r,
            reg(BoundKind::Lower, Norm::L2, Level::PerNeuron, 100.0, 1e-3)
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), json);
        let extra = r#"{"kind":"upper","norm":"l2","level":"population","strength":0.1,"threshold":7,"dims":1}"#;
        assert!(serde_json::from_str::<ActivityRegularizer>(extra).is_err());
        let w: WeightRegularizer = serde_json::from_str(r#"{"norm":"l1","strength":0.5}"#).unwrap();
        assert_eq!(w.norm, Norm::L1);
    }
}
