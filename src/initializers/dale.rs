//! Fluctuation-driven initialization of Dale's-law layers with exponential weights, as
//! stork's `FluctuationDrivenExponentialInitializer` (Rossbroich, Gygax & Zenke 2022): every
//! weight is non-negative, drawn from an exponential distribution whose rate is chosen per
//! afferent group so that the free membrane potential has mean `μ_U` and standard deviation
//! `σ_U`, with excitation and inhibition balanced.
//!
//! A neuron of the layer (E or I, both see the same afferents) receives `N_x` feed-forward
//! excitatory inputs, `N_E` recurrent excitatory ones (a recurrent layer only) and `N_I`
//! inhibitory ones, all Poisson at rate `ν`. An excitatory spike adds the LIF kernel with
//! `τ_syn = τ_exc` to `U`, an inhibitory one subtracts that with `τ_inh`; `(ε̄_e, ε̂_e)` and
//! `(ε̄_i, ε̂_i)` are their integrals ([`super::FluctuationDriven::epsilons`]). With weights
//! `w ~ Exp(λ)` (mean `a = 1/λ`, `E[w²] = 2a²`), Campbell's theorem gives
//!
//! ```text
//! μ_U  = ν ε̄_e Σ_g N_g a_g − ν ε̄_i N_I a_I           (g over the excitatory groups)
//! σ_U² = 2 ν ε̂_e Σ_g N_g a_g² + 2 ν ε̂_i N_I a_I²  =  V_e + V_i
//! ```
//!
//! The excitatory variance `V_e` is shared between the excitatory groups as the normal
//! initializer shares it between afferents (`s_g = α` feed-forward, `1 − α` recurrent; 1
//! without recurrence): `a_g = √(s_g V_e / (2 ν ε̂_e N_g))`. Then the excitatory mean is
//! `c_e √V_e` and the inhibitory one `c_i √V_i`, with
//!
//! ```text
//! c_e = ν ε̄_e Σ_g √(s_g N_g) / √(2 ν ε̂_e)     c_i = ν ε̄_i √N_I / √(2 ν ε̂_i)
//! ```
//!
//! and the two targets `c_e √V_e − c_i √V_i = μ_U`, `V_e + V_i = σ_U²` fix the split: with
//! `y = √V_i`,
//!
//! ```text
//! y = (c_e √((c_e² + c_i²) σ_U² − μ_U²) − μ_U c_i) / (c_e² + c_i²),   √V_e = (μ_U + c_i y)/c_e
//! ```
//!
//! (for `μ_U = 0`, the balanced state: `V_e/V_i = c_i²/c_e²`, the mean excitation cancelled
//! by the mean inhibition). The rates are `λ = 1/a`.

use super::{positive, FluctuationDriven, InitError, TargetTimescales};

/// The afferents of a Dale's-law layer's neurons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaleAfferents {
    /// Feed-forward excitatory inputs `N_x`.
    pub inputs: usize,
    /// Excitatory neurons of the layer `N_E` (afferents only when `recurrent`).
    pub exc: usize,
    /// Inhibitory neurons of the layer `N_I`.
    pub inh: usize,
    /// Whether the excitatory neurons project back into the layer.
    pub recurrent: bool,
}

/// The time constants of a Dale's-law layer, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DaleTimescales {
    /// Membrane time constant.
    pub tau_mem_s: f64,
    /// Excitatory synaptic time constant.
    pub tau_exc_s: f64,
    /// Inhibitory synaptic time constant.
    pub tau_inh_s: f64,
    /// Simulation step.
    pub dt_s: f64,
}

/// Mean weights `a = 1/λ` of the exponential distributions of a Dale's-law layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DaleWeightMeans {
    /// Feed-forward (XE, XI).
    pub input: f64,
    /// Recurrent excitatory (EE, EI), in a recurrent layer.
    pub exc: Option<f64>,
    /// Inhibitory (IE, II).
    pub inh: f64,
}

impl FluctuationDriven {
    /// The mean weights of each afferent group of a Dale's-law layer (see the module
    /// documentation for the derivation).
    pub fn dale_means(
        &self,
        afferents: &DaleAfferents,
        tau: &DaleTimescales,
    ) -> Result<DaleWeightMeans, InitError> {
        let nu = positive("nu_hz", self.nu_hz)?;
        let sigma = positive("sigma_u", self.sigma_u)?;
        let at = |tau_syn_s| TargetTimescales {
            tau_mem_s: tau.tau_mem_s,
            tau_syn_s,
            dt_s: tau.dt_s,
            lookahead: None,
        };
        let (bar_e, hat_e) = self.epsilons(&at(tau.tau_exc_s))?;
        let (bar_i, hat_i) = self.epsilons(&at(tau.tau_inh_s))?;
        let count = |field, n: usize| positive(field, n as f64);
        let n_x = count("inputs", afferents.inputs)?;
        let n_i = count("inh", afferents.inh)?;
        let alpha = if afferents.recurrent { self.alpha } else { 1.0 };
        let mut groups = vec![(alpha, n_x)];
        if afferents.recurrent {
            groups.push((1.0 - alpha, count("exc", afferents.exc)?));
        }
        let c_e = nu * bar_e * groups.iter().map(|(s, n)| (s * n).sqrt()).sum::<f64>()
            / (2.0 * nu * hat_e).sqrt();
        let c_i = nu * bar_i * n_i.sqrt() / (2.0 * nu * hat_i).sqrt();
        let mu = self.mu_u;
        let norm = c_e * c_e + c_i * c_i;
        let disc = norm * sigma * sigma - mu * mu;
        let y = (c_e * disc.max(0.0).sqrt() - mu * c_i) / norm;
        let x = (mu + c_i * y) / c_e;
        if disc < 0.0 || y < 0.0 || x < 0.0 {
            return Err(InitError::InvalidParameter {
                field: "mu_u",
                value: mu,
                requirement: "reachable with non-negative weights for this sigma_u",
            });
        }
        let (v_e, v_i) = (x * x, y * y);
        let mean = |share: f64, n: f64| (share * v_e / (2.0 * nu * hat_e * n)).sqrt();
        Ok(DaleWeightMeans {
            input: mean(alpha, n_x),
            exc: afferents
                .recurrent
                .then(|| mean(1.0 - alpha, afferents.exc as f64)),
            inh: (v_i / (2.0 * nu * hat_i * n_i)).sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initializers::EpsilonMode;
    use crate::neurons::{ExcInh, ExcInhState, ResetGrad, SynapseTarget};
    use crate::surrogates::SpikeFn;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Exp1};

    fn init(mu_u: f64) -> FluctuationDriven {
        FluctuationDriven {
            sigma_u: 1.0,
            mu_u,
            nu_hz: 20.0,
            alpha: 0.9,
            epsilon: EpsilonMode::Numerical,
        }
    }

    const TAU: DaleTimescales = DaleTimescales {
        tau_mem_s: 20e-3,
        tau_exc_s: 10e-3,
        tau_inh_s: 20e-3,
        dt_s: 1e-3,
    };

    /// The closed-form targets hold: Campbell's mean and variance of the means found.
    #[test]
    fn the_means_reach_the_targets() {
        for (recurrent, mu_u) in [(true, 0.0), (false, 0.0), (true, -0.5), (true, 0.3)] {
            let aff = DaleAfferents {
                inputs: 700,
                exc: 128,
                inh: 32,
                recurrent,
            };
            let fd = init(mu_u);
            let m = fd.dale_means(&aff, &TAU).unwrap();
            let eps = |tau_syn_s| {
                fd.epsilons(&TargetTimescales {
                    tau_mem_s: TAU.tau_mem_s,
                    tau_syn_s,
                    dt_s: TAU.dt_s,
                    lookahead: None,
                })
                .unwrap()
            };
            let ((be, he), (bi, hi)) = (eps(TAU.tau_exc_s), eps(TAU.tau_inh_s));
            let nu = fd.nu_hz;
            let rec = m.exc.unwrap_or(0.0);
            let n_rec = if recurrent { 128.0 } else { 0.0 };
            let mean = nu * be * (700.0 * m.input + n_rec * rec) - nu * bi * 32.0 * m.inh;
            let var = 2.0 * nu * he * (700.0 * m.input.powi(2) + n_rec * rec * rec)
                + 2.0 * nu * hi * 32.0 * m.inh.powi(2);
            assert!((mean - mu_u).abs() < 1e-12, "mean {mean}");
            assert!((var - 1.0).abs() < 1e-12, "variance {var}");
            assert_eq!(m.exc.is_some(), recurrent);
        }
        // A mean at threshold is out of reach of a unit standard deviation... of any.
        assert!(init(50.0)
            .dale_means(
                &DaleAfferents {
                    inputs: 10,
                    exc: 8,
                    inh: 2,
                    recurrent: false
                },
                &TAU
            )
            .is_err());
    }

    /// The free membrane of neurons with exponential weights of those means, driven by
    /// Bernoulli spikes at `ν` on every afferent, has the target standard deviation and a
    /// balanced mean (within sampling error).
    #[test]
    fn the_free_membrane_fluctuates_as_targeted() {
        let mut rng = ChaCha8Rng::seed_from_u64(71);
        let (n_x, n_e, n_i, n) = (200, 64, 16, 40);
        let aff = DaleAfferents {
            inputs: n_x,
            exc: n_e,
            inh: n_i,
            recurrent: true,
        };
        let fd = init(0.0);
        let m = fd.dale_means(&aff, &TAU).unwrap();
        let mut draw = |rows: usize, mean: f64| -> Vec<f64> {
            (0..rows * n)
                .map(|_| {
                    let z: f64 = Exp1.sample(&mut rng);
                    mean * z
                })
                .collect()
        };
        let (w_x, w_e, w_i) = (
            draw(n_x, m.input),
            draw(n_e, m.exc.unwrap()),
            draw(n_i, m.inh),
        );
        let decay = |tau: f64| (-TAU.dt_s / tau).exp();
        let model = ExcInh {
            beta: vec![decay(TAU.tau_mem_s); n],
            alpha_exc: vec![decay(TAU.tau_exc_s); n],
            alpha_inh: vec![decay(TAU.tau_inh_s); n],
            target: vec![SynapseTarget::Exc; n],
            threshold: 1e9,
            spike: SpikeFn::default(),
            reset: ResetGrad::Detached,
        };
        let p = fd.nu_hz * TAU.dt_s;
        let (burn, steps) = (500, 40_000);
        let mut state = vec![ExcInhState::default(); n];
        let (mut sum, mut sum_sq) = (vec![0.0; n], vec![0.0; n]);
        for t in 0..burn + steps {
            let (mut e, mut h) = (vec![0.0; n], vec![0.0; n]);
            let add = |w: &[f64], rows: usize, into: &mut Vec<f64>, rng: &mut ChaCha8Rng| {
                for i in 0..rows {
                    if rng.random::<f64>() < p {
                        into.iter_mut()
                            .zip(&w[i * n..(i + 1) * n])
                            .for_each(|(x, w)| *x += w);
                    }
                }
            };
            add(&w_x, n_x, &mut e, &mut rng);
            add(&w_e, n_e, &mut e, &mut rng);
            add(&w_i, n_i, &mut h, &mut rng);
            for j in 0..n {
                state[j] = model.step_both(j, &state[j], 0.0, e[j], h[j]);
                if t >= burn {
                    sum[j] += state[j].mem;
                    sum_sq[j] += state[j].mem * state[j].mem;
                }
            }
        }
        let steps = steps as f64;
        let means: Vec<f64> = sum.iter().map(|s| s / steps).collect();
        let stds: Vec<f64> = (0..n)
            .map(|j| (sum_sq[j] / steps - means[j] * means[j]).sqrt())
            .collect();
        let std = stds.iter().sum::<f64>() / n as f64;
        let mean = means.iter().sum::<f64>() / n as f64;
        // Bernoulli spikes have variance p(1 − p), not p: σ_U is √(1 − p) smaller.
        let want = fd.sigma_u * (1.0 - p).sqrt();
        assert!(
            (std - want).abs() < 0.08 * want,
            "membrane std {std} vs {want}"
        );
        assert!(mean.abs() < 0.15, "membrane mean {mean} vs 0");
    }
}
