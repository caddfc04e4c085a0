//! Weight initialization: fluctuation-driven initialization, Kaiming normal, and sparse
//! connectivity.
//!
//! The centrepiece is the **fluctuation-driven initialization** of Rossbroich, Gygax & Zenke,
//! "Fluctuation-driven initialization for spiking neural network training", *Neuromorphic
//! Computing and Engineering* 2, 044016 (2022). It chooses the weight distribution
//! `W ~ N(μ_W, σ_W²)` so that, for Poisson input at rate `ν`, the free membrane potential of
//! the target neurons has mean `μ_U` and standard deviation `σ_U`. By Campbell's theorem, with
//! `N` afferents and PSP kernel `ε(t)`,
//!
//! ```text
//! μ_U = N ν μ_W ε̄,            ε̄ = ∫ ε(t) dt
//! σ_U² = N ν (μ_W² + σ_W²) ε̂,  ε̂ = ∫ ε(t)² dt
//! ```
//!
//! which inverts to `μ_W = μ_U/(N ν ε̄)` and `σ_W² = σ_U²/(N ν ε̂) − μ_W²`. The kernel integrals
//! come from [`psp_kernel_integrals`] (numerical, as stork does by default) or
//! [`psp_kernel_integrals_analytical`]; the layer-wise split of the variance between
//! feed-forward and recurrent afferents is [`FluctuationDriven::afferent_stats`]. Dale's-law
//! layers draw exponential weights instead ([`FluctuationDriven::dale_means`], `dale.rs`).
//!
//! Everything here is computed in `f64`; only [`fill_normal`] and [`sparsify`] touch `F`.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::real::Real;
use crate::tensor::Matrix;

mod dale;
pub use dale::{DaleAfferents, DaleTimescales, DaleWeightMeans};

/// The firing threshold `θ` of the reference LIF model (fixed at 1, as in stork).
pub const THRESHOLD: f64 = 1.0;

/// Most time steps [`psp_kernel`] will simulate (`10·max(τ)/dt`).
pub const MAX_KERNEL_STEPS: usize = 100_000_000;

/// Errors of weight initialization.
#[derive(Error, Debug, Clone, PartialEq)]
pub enum InitError {
    /// A parameter is outside its valid range.
    #[error("invalid initializer parameter `{field}` = {value}: must be {requirement}")]
    InvalidParameter {
        /// The offending field (e.g. `tau_mem_s`).
        field: &'static str,
        /// The value given.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
    /// The PSP kernel would have fewer than two or more than [`MAX_KERNEL_STEPS`] steps.
    #[error(
        "PSP kernel of 10·max(tau)/dt_s = {steps} steps is outside [2, {MAX_KERNEL_STEPS}]: \
         `dt_s` is too large or too small for the time constants"
    )]
    KernelLength {
        /// `10·max(τ_mem, τ_syn)/dt`, the requested number of steps.
        steps: f64,
    },
    /// The initializer does not apply to a layer's neurons.
    #[error("network.hidden[{layer}]: {reason}")]
    NotApplicable {
        /// The hidden layer.
        layer: usize,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// A layer was given no afferents.
    #[error("fluctuation-driven initialization needs at least one afferent")]
    NoAfferents,
    /// A layer was given only recurrent afferents.
    #[error("fluctuation-driven initialization needs at least one feed-forward afferent")]
    NoFeedForward,
    /// An afferent has zero fan-in.
    #[error("afferent {afferent} has `fan_in` = 0: must be >= 1")]
    ZeroFanIn {
        /// Position of the afferent in the list.
        afferent: usize,
    },
    /// The target statistics cannot be reached: the required weight variance is negative.
    #[error(
        "afferent {afferent}: weight variance {variance} < 0; the target mean `mu_u` is too large \
         for the target standard deviation `sigma_u` (need mu_w² <= scale·sigma_u²/(N·nu_hz·ε̂))"
    )]
    NegativeVariance {
        /// Position of the afferent in the list.
        afferent: usize,
        /// `scale·σ_U²/(N ν ε̂) − μ_W²`.
        variance: f64,
    },
    /// A mask's length differs from the matrix size.
    #[error("mask has length {got}, expected {expected} (rows × cols)")]
    MaskLength {
        /// `rows × cols` of the matrix.
        expected: usize,
        /// Length of the mask.
        got: usize,
    },
}

/// Checks `x` is finite and > 0.
fn positive(field: &'static str, x: f64) -> Result<f64, InitError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(InitError::InvalidParameter {
            field,
            value: x,
            requirement: "finite and > 0",
        })
    }
}

/// Checks `x` is finite.
fn finite(field: &'static str, x: f64) -> Result<f64, InitError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(InitError::InvalidParameter {
            field,
            value: x,
            requirement: "finite",
        })
    }
}

/// The sampled post-synaptic potential kernel of the reference LIF model, exactly as stork's
/// `utils.get_lif_kernel`.
///
/// With `α = exp(−dt/τ_syn)`, `β = exp(−dt/τ_mem)`, start from `I = 1`, `U = 0` and repeat
/// `n = ⌊10·max(τ_mem, τ_syn)/dt⌋` times: record `U`; `U ← βU + (1−β)I`; `I ← αI`. So
/// `k[0] = 0` and, for `n ≥ 1`, `k[n] = (1−β)(βⁿ − αⁿ)/(β − α)`.
///
/// This is the membrane response of the reference model (DESIGN.md §3) to one unit input
/// spike, delayed by one step (stork's connection delay): with `x[0] = 1` the reference model
/// gives `U[t] = k[t+1]`. The delay changes the integrals only through the truncated tail.
///
/// Fails unless all inputs are finite and > 0 and `2 ≤ n ≤` [`MAX_KERNEL_STEPS`].
pub fn psp_kernel(tau_mem_s: f64, tau_syn_s: f64, dt_s: f64) -> Result<Vec<f64>, InitError> {
    let tau_mem_s = positive("tau_mem_s", tau_mem_s)?;
    let tau_syn_s = positive("tau_syn_s", tau_syn_s)?;
    let dt_s = positive("dt_s", dt_s)?;
    // Same expression (and rounding) as stork: int(tau_max * 10 / dt).
    let steps = (tau_mem_s.max(tau_syn_s) * 10.0 / dt_s).trunc();
    if !(2.0..=MAX_KERNEL_STEPS as f64).contains(&steps) {
        return Err(InitError::KernelLength { steps });
    }
    let alpha = (-dt_s / tau_syn_s).exp();
    let beta = (-dt_s / tau_mem_s).exp();
    let (mut i, mut u) = (1.0f64, 0.0f64);
    let mut kernel = Vec::with_capacity(steps as usize);
    for _ in 0..steps as usize {
        kernel.push(u);
        u = beta * u + (1.0 - beta) * i;
        i *= alpha;
    }
    Ok(kernel)
}

/// The PSP-kernel integrals `(ε̄, ε̂) = (Σ k dt, Σ k² dt)` in seconds, from the sampled kernel of
/// [`psp_kernel`] (stork's `epsilon_calc_mode="numerical"`, its default).
///
/// For stork notebook 00's parameters (`τ_mem` = 20 ms, `τ_syn` = 10 ms, `dt` = 1 ms) this gives
/// `ε̄ = 0.0105073533…`, `ε̂ = 0.00184194805…`. As `dt → 0` the values approach
/// [`psp_kernel_integrals_analytical`].
pub fn psp_kernel_integrals(
    tau_mem_s: f64,
    tau_syn_s: f64,
    dt_s: f64,
) -> Result<(f64, f64), InitError> {
    let kernel = psp_kernel(tau_mem_s, tau_syn_s, dt_s)?;
    let sum: f64 = kernel.iter().sum();
    let sum_sq: f64 = kernel.iter().map(|k| k * k).sum();
    Ok((sum * dt_s, sum_sq * dt_s))
}

/// The continuous-time limits of the PSP-kernel integrals:
/// `ε̄ = τ_syn`, `ε̂ = τ_syn²/(2(τ_syn + τ_mem))` (stork's `epsilon_calc_mode="analytical"`).
pub fn psp_kernel_integrals_analytical(
    tau_mem_s: f64,
    tau_syn_s: f64,
) -> Result<(f64, f64), InitError> {
    let tau_mem_s = positive("tau_mem_s", tau_mem_s)?;
    let tau_syn_s = positive("tau_syn_s", tau_syn_s)?;
    Ok((
        tau_syn_s,
        tau_syn_s * tau_syn_s / (2.0 * (tau_syn_s + tau_mem_s)),
    ))
}

/// How [`FluctuationDriven`] computes the PSP-kernel integrals.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EpsilonMode {
    /// Sum the sampled kernel ([`psp_kernel_integrals`]); stork's default, better for dt ≥ 1 ms.
    #[default]
    Numerical,
    /// Continuous-time closed forms ([`psp_kernel_integrals_analytical`]).
    Analytical,
}

/// Whether an afferent connection comes from another layer or from the target layer itself.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AfferentKind {
    /// From a previous layer (or the input).
    FeedForward,
    /// From the target population itself.
    Recurrent,
}

/// One afferent connection (weight matrix) of a target population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Afferent {
    /// Number of presynaptic neurons (rows of the weight matrix).
    pub fan_in: usize,
    /// Feed-forward or recurrent.
    pub kind: AfferentKind,
}

/// The time constants of the target neurons and the simulation step, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetTimescales {
    /// Membrane time constant `τ_mem`.
    pub tau_mem_s: f64,
    /// Synaptic time constant `τ_syn`.
    pub tau_syn_s: f64,
    /// Simulation time step `dt`.
    pub dt_s: f64,
    /// The look-ahead of prospective neurons, whose potential `V = U + k (U − A)` answers a
    /// spike with a sharper kernel (the same `ε̄`, a larger `ε̂`); `None` for the others.
    pub lookahead: Option<Lookahead>,
}

/// A prospective neuron's look-ahead ([`crate::neurons::Prospective`]), in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookahead {
    /// Adaptation time constant `τ_ada`.
    pub tau_ada_s: f64,
    /// Horizon `τ_pro` (0: none).
    pub horizon_s: f64,
}

impl Lookahead {
    /// The decays `(ρ, δ)` at step `dt_s` (`δ = 0` for a zero horizon).
    pub fn decays(&self, dt_s: f64) -> (f64, f64) {
        (
            (-dt_s / self.tau_ada_s).exp(),
            (-dt_s / self.horizon_s).exp(),
        )
    }

    /// `kernel` seen through the look-ahead at step `dt_s`: `a ← ρ a + (1 − ρ) k`,
    /// `k̃ = k + g (k − a)` with the prospective gain `g`.
    pub fn apply(&self, kernel: &[f64], dt_s: f64) -> Vec<f64> {
        let (rho, delta) = self.decays(dt_s);
        let gain = crate::neurons::lookahead_gain(rho, delta);
        let mut a = 0.0;
        kernel
            .iter()
            .map(|&k| {
                a = rho * a + (1.0 - rho) * k;
                k + gain * (k - a)
            })
            .collect()
    }
}

/// Mean and standard deviation of a normal weight distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightStats {
    /// Mean `μ_W`.
    pub mean: f64,
    /// Standard deviation `σ_W` (≥ 0).
    pub std: f64,
}

/// Weight statistics of a layer with one feed-forward and at most one recurrent afferent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerWeightStats {
    /// Statistics of the feed-forward weights.
    pub feed_forward: WeightStats,
    /// Statistics of the recurrent weights, if the layer is recurrent.
    pub recurrent: Option<WeightStats>,
}

fn default_alpha() -> f64 {
    0.9
}

/// Fluctuation-driven initialization (Rossbroich, Gygax & Zenke 2022), following stork's
/// `FluctuationDrivenNormalInitializer.initialize_layer` (layer-wise rule).
///
/// For a target population with afferent connections `c` (fan-in `N_c`), all receiving Poisson
/// input at `ν`, with threshold `θ = 1`:
///
/// ```text
/// μ_W   = μ_U / (N_total ν ε̄)                   (the same for every afferent; N_total = Σ_c N_c)
/// σ_W,c = √( scale_c σ_U² / (N_c ν ε̂) − μ_W² )
/// scale_c = α / n_ff        for each of the n_ff feed-forward afferents
///         = (1 − α) / n_rec  for each of the n_rec recurrent afferents
/// ```
///
/// where `n_ff`, `n_rec` count afferent *connections* (not neurons) and `α` is replaced by 1
/// when there is no recurrent afferent. Then the membrane statistics add up exactly:
/// `Σ_c N_c ν μ_W ε̄ = μ_U` and `Σ_c N_c ν (μ_W² + σ_W,c²) ε̂ = σ_U²`.
///
/// The centred variant (stork's `FluctuationDrivenCenteredNormalInitializer`, used by all its
/// examples with `σ_U = 1`) is `μ_U = 0`: `W_c ~ N(0, σ_U² scale_c/(N_c ν ε̂))`. stork's
/// parametrization by `ξ` (distance of `μ_U` from threshold in units of `σ_U`) maps to
/// `σ_U = (θ − μ_U)/ξ`; see [`FluctuationDriven::from_xi`].
///
/// A single connection initialized on its own (stork's `initialize_connection`, e.g. its
/// readout connections) is the special case of one feed-forward afferent.
///
/// Serialized as a struct; `mu_u` defaults to 0, `alpha` to 0.9, `epsilon` to numerical.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FluctuationDriven {
    /// Target standard deviation `σ_U` of the free membrane potential (> 0; stork's examples: 1).
    pub sigma_u: f64,
    /// Target mean `μ_U` of the free membrane potential (0 = centred, the common case).
    #[serde(default)]
    pub mu_u: f64,
    /// Assumed presynaptic firing rate `ν` in Hz (> 0; stork: 15.8 Hz for SHD).
    pub nu_hz: f64,
    /// Fraction `α` ∈ [0, 1] of the membrane variance carried by feed-forward afferents when
    /// the layer is recurrent (default 0.9).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// How the PSP-kernel integrals are computed (default numerical).
    #[serde(default)]
    pub epsilon: EpsilonMode,
}

impl FluctuationDriven {
    /// The centred initializer: `μ_U = 0`, `α = 0.9`, numerical kernel integrals.
    pub fn centered(sigma_u: f64, nu_hz: f64) -> Self {
        Self {
            sigma_u,
            mu_u: 0.0,
            nu_hz,
            alpha: default_alpha(),
            epsilon: EpsilonMode::Numerical,
        }
    }

    /// stork's `FluctuationDrivenNormalInitializer(mu_u, xi, nu)` parametrization: the mean
    /// membrane potential sits `ξ` standard deviations below threshold, `σ_U = (θ − μ_U)/ξ`.
    /// Fails unless `ξ > 0` and `μ_U < θ`.
    pub fn from_xi(mu_u: f64, xi: f64, nu_hz: f64) -> Result<Self, InitError> {
        let xi = positive("xi", xi)?;
        let mu_u = finite("mu_u", mu_u)?;
        if mu_u >= THRESHOLD {
            return Err(InitError::InvalidParameter {
                field: "mu_u",
                value: mu_u,
                requirement: "below the threshold 1 when parametrized by xi",
            });
        }
        Ok(Self {
            mu_u,
            ..Self::centered((THRESHOLD - mu_u) / xi, nu_hz)
        })
    }

    /// Checks `sigma_u` and `nu_hz` are finite and > 0, `mu_u` is finite, `alpha` ∈ [0, 1].
    pub fn validate(&self) -> Result<(), InitError> {
        positive("sigma_u", self.sigma_u)?;
        finite("mu_u", self.mu_u)?;
        positive("nu_hz", self.nu_hz)?;
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(InitError::InvalidParameter {
                field: "alpha",
                value: self.alpha,
                requirement: "in [0, 1]",
            });
        }
        Ok(())
    }

    /// The kernel integrals `(ε̄, ε̂)` for the target neurons, according to [`Self::epsilon`].
    /// Prospective targets always sum their sampled kernel (no closed form is kept for it).
    pub fn epsilons(&self, target: &TargetTimescales) -> Result<(f64, f64), InitError> {
        if let Some(lookahead) = target.lookahead {
            positive("tau_ada_s", lookahead.tau_ada_s)?;
            let kernel = psp_kernel(target.tau_mem_s, target.tau_syn_s, target.dt_s)?;
            let seen = lookahead.apply(&kernel, target.dt_s);
            let sum: f64 = seen.iter().sum();
            let sum_sq: f64 = seen.iter().map(|k| k * k).sum();
            return Ok((sum * target.dt_s, sum_sq * target.dt_s));
        }
        match self.epsilon {
            EpsilonMode::Numerical => {
                psp_kernel_integrals(target.tau_mem_s, target.tau_syn_s, target.dt_s)
            }
            EpsilonMode::Analytical => {
                positive("dt_s", target.dt_s)?;
                psp_kernel_integrals_analytical(target.tau_mem_s, target.tau_syn_s)
            }
        }
    }

    /// Weight statistics for every afferent of one target population (stork's layer-wise rule,
    /// see the type's documentation), in the order given.
    ///
    /// Fails on invalid parameters, no afferents, no feed-forward afferent, a zero fan-in, or a
    /// negative weight variance (too large `|μ_U|` for `σ_U`).
    pub fn afferent_stats(
        &self,
        afferents: &[Afferent],
        target: &TargetTimescales,
    ) -> Result<Vec<WeightStats>, InitError> {
        self.validate()?;
        if afferents.is_empty() {
            return Err(InitError::NoAfferents);
        }
        if let Some(afferent) = afferents.iter().position(|a| a.fan_in == 0) {
            return Err(InitError::ZeroFanIn { afferent });
        }
        let n_rec = afferents
            .iter()
            .filter(|a| a.kind == AfferentKind::Recurrent)
            .count();
        let n_ff = afferents.len() - n_rec;
        if n_ff == 0 {
            return Err(InitError::NoFeedForward);
        }
        let alpha = if n_rec > 0 { self.alpha } else { 1.0 };
        let (eps_bar, eps_hat) = self.epsilons(target)?;
        let n_total: f64 = afferents.iter().map(|a| a.fan_in as f64).sum();
        let mean = self.mu_u / (n_total * self.nu_hz * eps_bar);
        afferents
            .iter()
            .enumerate()
            .map(|(idx, a)| {
                let scale = match a.kind {
                    AfferentKind::FeedForward => alpha / n_ff as f64,
                    AfferentKind::Recurrent => (1.0 - alpha) / n_rec as f64,
                };
                let variance = scale * self.sigma_u * self.sigma_u
                    / (a.fan_in as f64 * self.nu_hz * eps_hat)
                    - mean * mean;
                if variance < 0.0 {
                    Err(InitError::NegativeVariance {
                        afferent: idx,
                        variance,
                    })
                } else {
                    Ok(WeightStats {
                        mean,
                        std: variance.sqrt(),
                    })
                }
            })
            .collect()
    }

    /// Weight statistics for the common layer shape: one feed-forward afferent of fan-in
    /// `n_ff` and, if `n_rec` is given, one recurrent afferent of fan-in `n_rec`
    /// (see [`Self::afferent_stats`]).
    pub fn layer_stats(
        &self,
        n_ff: usize,
        n_rec: Option<usize>,
        target: &TargetTimescales,
    ) -> Result<LayerWeightStats, InitError> {
        let mut afferents = vec![Afferent {
            fan_in: n_ff,
            kind: AfferentKind::FeedForward,
        }];
        if let Some(fan_in) = n_rec {
            afferents.push(Afferent {
                fan_in,
                kind: AfferentKind::Recurrent,
            });
        }
        let stats = self.afferent_stats(&afferents, target)?;
        Ok(LayerWeightStats {
            feed_forward: stats[0],
            recurrent: stats.get(1).copied(),
        })
    }
}

/// The standard deviation of Kaiming-normal initialization, `σ = gain/√fan_in` (He et al. 2015,
/// "Delving deep into rectifiers"; stork's `KaimingNormalInitializer`). Fails unless
/// `fan_in ≥ 1` and `gain` is finite and > 0.
pub fn kaiming_normal(fan_in: usize, gain: f64) -> Result<f64, InitError> {
    let gain = positive("gain", gain)?;
    if fan_in == 0 {
        return Err(InitError::InvalidParameter {
            field: "fan_in",
            value: 0.0,
            requirement: ">= 1",
        });
    }
    Ok(gain / (fan_in as f64).sqrt())
}

/// Fills `m` with independent draws from `N(mean, std²)`, sampled in `f64` and rounded to `F`
/// (row-major order, so a seeded `rng` gives the same matrix for `f32` and `f64` up to rounding).
/// Fails unless `mean` is finite and `std` is finite and ≥ 0.
pub fn fill_normal<F: Real, R: Rng + ?Sized>(
    m: &mut Matrix<F>,
    mean: f64,
    std: f64,
    rng: &mut R,
) -> Result<(), InitError> {
    let mean = finite("mean", mean)?;
    if !(std.is_finite() && std >= 0.0) {
        return Err(InitError::InvalidParameter {
            field: "std",
            value: std,
            requirement: "finite and >= 0",
        });
    }
    for w in &mut m.data {
        let z: f64 = rng.sample(StandardNormal);
        *w = F::from_f64(mean + std * z);
    }
    Ok(())
}

/// Checks a connection density is in (0, 1].
fn check_density(density: f64) -> Result<f64, InitError> {
    if density > 0.0 && density <= 1.0 {
        Ok(density)
    } else {
        Err(InitError::InvalidParameter {
            field: "density",
            value: density,
            requirement: "in (0, 1]",
        })
    }
}

/// A random connectivity mask for a `rows × cols` matrix (row-major): each connection is kept
/// (`true`) independently with probability `density` ∈ (0, 1]. With `density = 1` every entry
/// is kept and no random numbers are drawn (as stork skips sparsification then).
pub fn sparse_mask<R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    density: f64,
    rng: &mut R,
) -> Result<Vec<bool>, InitError> {
    let density = check_density(density)?;
    if density == 1.0 {
        return Ok(vec![true; rows * cols]);
    }
    Ok((0..rows * cols)
        .map(|_| rng.random::<f64>() < density)
        .collect())
}

/// How [`sparsify`] rescales the weights it keeps.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SparseScaling {
    /// Keep the drawn values.
    #[default]
    Keep,
    /// Multiply kept weights by `1/√density`, as stork's `Initializer(sparseness=p)` does. This
    /// preserves each row's expected sum of squares `Σ w²`, hence the membrane variance of a
    /// centred initialization, but scales a non-zero mean weight by `√density`.
    InverseSqrtDensity,
}

/// Zeroes the entries of `m` where `mask` is `false`. Use it to re-impose a connectivity mask
/// (e.g. after an optimizer step). Fails if the mask length is not `rows × cols`.
pub fn apply_mask<F: Real>(m: &mut Matrix<F>, mask: &[bool]) -> Result<(), InitError> {
    if mask.len() != m.data.len() {
        return Err(InitError::MaskLength {
            expected: m.data.len(),
            got: mask.len(),
        });
    }
    for (w, &keep) in m.data.iter_mut().zip(mask) {
        if !keep {
            *w = F::zero();
        }
    }
    Ok(())
}

/// Makes an initialized matrix sparse: draws a [`sparse_mask`] with the given `density`, zeroes
/// the dropped entries, rescales the kept ones according to `scaling`, and returns the mask.
pub fn sparsify<F: Real, R: Rng + ?Sized>(
    m: &mut Matrix<F>,
    density: f64,
    scaling: SparseScaling,
    rng: &mut R,
) -> Result<Vec<bool>, InitError> {
    let mask = sparse_mask(m.rows, m.cols, density, rng)?;
    apply_mask(m, &mask)?;
    if scaling == SparseScaling::InverseSqrtDensity && density < 1.0 {
        let factor = F::from_f64(1.0 / density.sqrt());
        for w in &mut m.data {
            *w *= factor;
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs()
    }

    /// stork notebook 00 (examples/00_FluctuationDrivenInitialization.ipynb) uses
    /// `tau_mem = 20e-3`, `tau_syn = 10e-3`, `dt = 1e-3` and prints these values.
    #[test]
    fn integrals_match_stork_notebook_00() {
        let (eps_bar, eps_hat) = psp_kernel_integrals(20e-3, 10e-3, 1e-3).unwrap();
        assert!(rel_close(eps_bar, 0.010507353352192265, 1e-12), "{eps_bar}");
        assert!(rel_close(eps_hat, 0.001841948059032449, 1e-12), "{eps_hat}");
    }

    #[test]
    fn integrals_match_closed_form_geometric_sums() {
        // k[0] = 0, k[n] = c (βⁿ − αⁿ) with c = (1−β)/(β−α), for n < N = ⌊10 τ_max/dt⌋.
        for (tm, ts, dt) in [
            (20e-3, 10e-3, 1e-3),
            (10e-3, 5e-3, 1e-3),
            (20e-3, 10e-3, 2e-3),
            (5e-3, 30e-3, 0.5e-3),
            (0.7, 10e-3, 2e-3),
        ] {
            let (a, b) = (f64::exp(-dt / ts), f64::exp(-dt / tm));
            let n = (f64::max(tm, ts) * 10.0 / dt).trunc() as i32;
            let c = (1.0 - b) / (b - a);
            let geo = |r: f64| (1.0 - r.powi(n)) / (1.0 - r);
            let bar = dt * c * (geo(b) - geo(a));
            let hat = dt * c * c * (geo(b * b) - 2.0 * geo(a * b) + geo(a * a));
            let (eps_bar, eps_hat) = psp_kernel_integrals(tm, ts, dt).unwrap();
            assert!(
                rel_close(eps_bar, bar, 1e-9),
                "{tm} {ts} {dt}: {eps_bar} vs {bar}"
            );
            assert!(
                rel_close(eps_hat, hat, 1e-9),
                "{tm} {ts} {dt}: {eps_hat} vs {hat}"
            );
        }
    }

    #[test]
    fn integrals_approach_continuous_limit_at_small_dt() {
        for (tm, ts) in [(20e-3, 10e-3), (10e-3, 5e-3), (5e-3, 20e-3)] {
            let (bar, hat) = psp_kernel_integrals(tm, ts, 1e-6).unwrap();
            let (bar_c, hat_c) = psp_kernel_integrals_analytical(tm, ts).unwrap();
            assert_eq!(bar_c, ts);
            assert!(rel_close(hat_c, ts * ts / (2.0 * (ts + tm)), 1e-15));
            assert!(rel_close(bar, bar_c, 1e-3), "{bar} vs {bar_c}");
            assert!(rel_close(hat, hat_c, 1e-3), "{hat} vs {hat_c}");
        }
    }

    #[test]
    fn kernel_is_delayed_impulse_response_of_reference_model() {
        let (tm, ts, dt) = (10e-3f64, 5e-3f64, 1e-3f64);
        let k = psp_kernel(tm, ts, dt).unwrap();
        assert_eq!(k.len(), 100);
        assert_eq!(k[0], 0.0);
        // DESIGN.md reference model, no spikes: I[t] = αI[t−1] + x[t], U[t] = βU[t−1] + (1−β)I[t].
        let (a, b) = ((-dt / ts).exp(), (-dt / tm).exp());
        let (mut i, mut u) = (0.0, 0.0);
        for t in 0..k.len() - 1 {
            i = a * i + if t == 0 { 1.0 } else { 0.0 };
            u = b * u + (1.0 - b) * i;
            assert!((u - k[t + 1]).abs() <= 1e-15, "t = {t}");
        }
    }

    #[test]
    fn kernel_rejects_bad_inputs() {
        for (tm, ts, dt, field) in [
            (0.0, 5e-3, 1e-3, "tau_mem_s"),
            (f64::NAN, 5e-3, 1e-3, "tau_mem_s"),
            (10e-3, -1.0, 1e-3, "tau_syn_s"),
            (10e-3, 5e-3, f64::INFINITY, "dt_s"),
        ] {
            assert!(matches!(
                psp_kernel_integrals(tm, ts, dt),
                Err(InitError::InvalidParameter { field: f, .. }) if f == field
            ));
        }
        assert!(matches!(
            psp_kernel(10e-3, 5e-3, 0.1),
            Err(InitError::KernelLength { .. })
        ));
        assert!(matches!(
            psp_kernel(10.0, 5e-3, 1e-9),
            Err(InitError::KernelLength { .. })
        ));
        assert!(psp_kernel_integrals_analytical(1e-2, 0.0).is_err());
    }

    const NB00: TargetTimescales = TargetTimescales {
        tau_mem_s: 20e-3,
        tau_syn_s: 10e-3,
        dt_s: 1e-3,
        lookahead: None,
    };

    #[test]
    fn centred_sigma_matches_hand_computation() {
        // Notebook 00: N = 5000, ν = 3 Hz, ξ = 2 ⇒ σ_U = 0.5; σ_W = √(0.25/(5000·3·ε̂)).
        let init = FluctuationDriven::centered(0.5, 3.0);
        let s = init.layer_stats(5000, None, &NB00).unwrap();
        assert_eq!(s.recurrent, None);
        assert_eq!(s.feed_forward.mean, 0.0);
        assert!(rel_close(s.feed_forward.std, 0.09512303207813731, 1e-12));
        // Same through the ξ parametrization.
        let via_xi = FluctuationDriven::from_xi(0.0, 2.0, 3.0).unwrap();
        assert_eq!(via_xi.layer_stats(5000, None, &NB00).unwrap(), s);

        // Recurrent layer, 700 inputs + 128 recurrent, ν = 15.8 Hz, σ_U = 1, α = 0.9:
        // σ_ff = √(0.9/(700 ν ε̂)), σ_rec = √(0.1/(128 ν ε̂)).
        let init = FluctuationDriven::centered(1.0, 15.8);
        let s = init.layer_stats(700, Some(128), &NB00).unwrap();
        assert!(rel_close(s.feed_forward.std, 0.21018658861975983, 1e-12));
        assert!(rel_close(
            s.recurrent.unwrap().std,
            0.1638429587312375,
            1e-12
        ));
        assert_eq!(s.recurrent.unwrap().mean, 0.0);
    }

    #[test]
    fn non_centred_matches_hand_computation() {
        // μ_U = 0.2, ξ = 2 ⇒ σ_U = 0.4; N = 5000, ν = 3 Hz.
        let init = FluctuationDriven::from_xi(0.2, 2.0, 3.0).unwrap();
        assert!(rel_close(init.sigma_u, 0.4, 1e-15));
        let s = init.layer_stats(5000, None, &NB00).unwrap().feed_forward;
        assert!(rel_close(s.mean, 0.001268952597901493, 1e-12));
        assert!(rel_close(s.std, 0.07608784494002191, 1e-12));
    }

    #[test]
    fn layer_rule_reproduces_target_membrane_statistics() {
        let target = TargetTimescales {
            tau_mem_s: 20e-3,
            tau_syn_s: 10e-3,
            dt_s: 2e-3,
            lookahead: None,
        };
        let (eps_bar, eps_hat) = psp_kernel_integrals(20e-3, 10e-3, 2e-3).unwrap();
        let init = FluctuationDriven {
            sigma_u: 0.8,
            mu_u: -0.3,
            nu_hz: 10.0,
            alpha: 0.7,
            epsilon: EpsilonMode::Numerical,
        };
        let afferents = [
            Afferent {
                fan_in: 300,
                kind: AfferentKind::FeedForward,
            },
            Afferent {
                fan_in: 50,
                kind: AfferentKind::Recurrent,
            },
            Afferent {
                fan_in: 120,
                kind: AfferentKind::FeedForward,
            },
            Afferent {
                fan_in: 80,
                kind: AfferentKind::Recurrent,
            },
        ];
        let stats = init.afferent_stats(&afferents, &target).unwrap();
        let (mut mu, mut var, mut var_ff) = (0.0, 0.0, 0.0);
        for (a, s) in afferents.iter().zip(&stats) {
            let n = a.fan_in as f64;
            mu += n * init.nu_hz * s.mean * eps_bar;
            let v = n * init.nu_hz * (s.mean * s.mean + s.std * s.std) * eps_hat;
            var += v;
            if a.kind == AfferentKind::FeedForward {
                var_ff += v;
            }
        }
        assert!(rel_close(mu, -0.3, 1e-12), "{mu}");
        assert!(rel_close(var, 0.64, 1e-12), "{var}");
        assert!(rel_close(var_ff, 0.7 * 0.64, 1e-12), "{var_ff}");
        // Connections of the same kind split their share equally (counted per connection).
        let share = |i: usize| {
            let n = afferents[i].fan_in as f64;
            n * (stats[i].mean.powi(2) + stats[i].std.powi(2))
        };
        assert!(rel_close(share(0), share(2), 1e-12));
        assert!(rel_close(share(1), share(3), 1e-12));
    }

    #[test]
    fn analytical_mode_uses_closed_forms() {
        let mut init = FluctuationDriven::centered(1.0, 5.0);
        init.epsilon = EpsilonMode::Analytical;
        let s = init.layer_stats(100, None, &NB00).unwrap().feed_forward;
        let eps_hat = 0.01f64 * 0.01 / (2.0 * 0.03);
        assert!(rel_close(
            s.std,
            (1.0 / (100.0 * 5.0 * eps_hat)).sqrt(),
            1e-12
        ));
    }

    #[test]
    fn fluctuation_driven_errors() {
        let ok = FluctuationDriven::centered(1.0, 10.0);
        let field_of = |init: FluctuationDriven| match init.layer_stats(100, Some(10), &NB00) {
            Err(InitError::InvalidParameter { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_of(FluctuationDriven { sigma_u: 0.0, ..ok }),
            "sigma_u"
        );
        assert_eq!(
            field_of(FluctuationDriven {
                nu_hz: f64::NAN,
                ..ok
            }),
            "nu_hz"
        );
        assert_eq!(
            field_of(FluctuationDriven {
                mu_u: f64::INFINITY,
                ..ok
            }),
            "mu_u"
        );
        assert_eq!(field_of(FluctuationDriven { alpha: 1.1, ..ok }), "alpha");
        let bad_target = TargetTimescales {
            tau_syn_s: -1.0,
            ..NB00
        };
        assert!(matches!(
            ok.layer_stats(100, None, &bad_target),
            Err(InitError::InvalidParameter {
                field: "tau_syn_s",
                ..
            })
        ));
        assert_eq!(ok.afferent_stats(&[], &NB00), Err(InitError::NoAfferents));
        assert_eq!(
            ok.afferent_stats(
                &[Afferent {
                    fan_in: 10,
                    kind: AfferentKind::Recurrent
                }],
                &NB00
            ),
            Err(InitError::NoFeedForward)
        );
        assert_eq!(
            ok.layer_stats(0, None, &NB00),
            Err(InitError::ZeroFanIn { afferent: 0 })
        );
        assert_eq!(
            ok.layer_stats(5, Some(0), &NB00),
            Err(InitError::ZeroFanIn { afferent: 1 })
        );
        // A large mean with a small spread cannot be reached.
        let tight = FluctuationDriven {
            mu_u: 0.9,
            sigma_u: 0.01,
            ..ok
        };
        assert!(matches!(
            tight.layer_stats(1000, None, &NB00),
            Err(InitError::NegativeVariance { afferent: 0, .. })
        ));
        assert!(FluctuationDriven::from_xi(1.0, 2.0, 3.0).is_err());
        assert!(FluctuationDriven::from_xi(0.0, 0.0, 3.0).is_err());
        // α = 1 in a recurrent layer gives exactly zero recurrent weights, not an error.
        let all_ff = FluctuationDriven { alpha: 1.0, ..ok };
        assert_eq!(
            all_ff
                .layer_stats(10, Some(10), &NB00)
                .unwrap()
                .recurrent
                .unwrap()
                .std,
            0.0
        );
        let msg = FluctuationDriven { nu_hz: -1.0, ..ok }
            .validate()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`nu_hz`"), "{msg}");
    }

    #[test]
    fn serde_defaults_and_unknown_fields() {
        let init: FluctuationDriven =
            serde_json::from_str(r#"{"sigma_u":1.0,"nu_hz":15.8}"#).unwrap();
        assert_eq!(init, FluctuationDriven::centered(1.0, 15.8));
        let init: FluctuationDriven =
            serde_json::from_str(r#"{"sigma_u":1.0,"nu_hz":15.8,"epsilon":"analytical"}"#).unwrap();
        assert_eq!(init.epsilon, EpsilonMode::Analytical);
        assert!(
            serde_json::from_str::<FluctuationDriven>(r#"{"sigma_u":1.0,"nu_hz":1,"xi":2}"#)
                .is_err()
        );
    }

    #[test]
    fn kaiming_normal_std() {
        assert_eq!(kaiming_normal(100, 1.0).unwrap(), 0.1);
        assert!(rel_close(
            kaiming_normal(50, std::f64::consts::SQRT_2).unwrap(),
            0.2,
            1e-15
        ));
        assert!(matches!(
            kaiming_normal(0, 1.0),
            Err(InitError::InvalidParameter {
                field: "fan_in",
                ..
            })
        ));
        assert!(matches!(
            kaiming_normal(10, f64::NAN),
            Err(InitError::InvalidParameter { field: "gain", .. })
        ));
    }

    fn moments<F: Real>(data: &[F]) -> (f64, f64) {
        let n = data.len() as f64;
        let mean = data.iter().map(|x| x.as_f64()).sum::<f64>() / n;
        let var = data
            .iter()
            .map(|x| (x.as_f64() - mean).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn fill_normal_statistics() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut m = Matrix::<f32>::zeros(400, 500);
        fill_normal(&mut m, 0.1, 0.05, &mut rng).unwrap();
        let (mean, std) = moments(&m.data);
        // 200 000 draws: standard error of the mean 1.1e-4, of the std ~0.16%.
        assert!((mean - 0.1).abs() < 6e-4, "{mean}");
        assert!(rel_close(std, 0.05, 0.01), "{std}");
        // Seeded draws agree across element types up to rounding.
        let mut m64 = Matrix::<f64>::zeros(400, 500);
        fill_normal(&mut m64, 0.1, 0.05, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
        assert_eq!(m64.cast::<f32>(), m);
        // Zero std gives the mean everywhere.
        fill_normal(&mut m64, -0.5, 0.0, &mut rng).unwrap();
        assert!(m64.data.iter().all(|&w| w == -0.5));
        assert!(matches!(
            fill_normal(&mut m, 0.0, -1.0, &mut rng),
            Err(InitError::InvalidParameter { field: "std", .. })
        ));
        assert!(matches!(
            fill_normal(&mut m, f64::NAN, 1.0, &mut rng),
            Err(InitError::InvalidParameter { field: "mean", .. })
        ));
    }

    #[test]
    fn fluctuation_driven_draws_have_target_statistics() {
        let init = FluctuationDriven::from_xi(0.1, 2.0, 5.0).unwrap();
        let s = init.layer_stats(600, None, &NB00).unwrap().feed_forward;
        let mut m = Matrix::<f64>::zeros(600, 400);
        fill_normal(&mut m, s.mean, s.std, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let (mean, std) = moments(&m.data);
        assert!((mean - s.mean).abs() < 0.01 * s.std, "{mean} vs {}", s.mean);
        assert!(rel_close(std, s.std, 0.01));
    }

    #[test]
    fn sparse_mask_density_and_scaling() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mask = sparse_mask(400, 500, 0.3, &mut rng).unwrap();
        let kept = mask.iter().filter(|&&k| k).count() as f64 / mask.len() as f64;
        assert!((kept - 0.3).abs() < 0.005, "{kept}");
        assert!(sparse_mask(3, 4, 1.0, &mut rng).unwrap().iter().all(|&k| k));
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(matches!(
                sparse_mask(2, 2, bad, &mut rng),
                Err(InitError::InvalidParameter {
                    field: "density",
                    ..
                })
            ));
        }

        // stork's 1/√p rescaling keeps the mean square of the weights.
        let mut m = Matrix::<f64>::zeros(400, 500);
        fill_normal(&mut m, 0.0, 0.2, &mut rng).unwrap();
        let dense = m.clone();
        let mask = sparsify(&mut m, 0.25, SparseScaling::InverseSqrtDensity, &mut rng).unwrap();
        let ms = |d: &[f64]| d.iter().map(|x| x * x).sum::<f64>() / d.len() as f64;
        assert!(rel_close(ms(&m.data), ms(&dense.data), 0.02));
        for ((&w, &w0), &keep) in m.data.iter().zip(&dense.data).zip(&mask) {
            assert_eq!(w, if keep { w0 * 2.0 } else { 0.0 });
        }
        // Keep: the kept weights are unchanged.
        let mut k = dense.clone();
        let mask = sparsify(&mut k, 0.5, SparseScaling::Keep, &mut rng).unwrap();
        for ((&w, &w0), &keep) in k.data.iter().zip(&dense.data).zip(&mask) {
            assert_eq!(w, if keep { w0 } else { 0.0 });
        }
        assert_eq!(
            apply_mask(&mut k, &[true; 3]),
            Err(InitError::MaskLength {
                expected: 200_000,
                got: 3
            })
        );
    }

    /// The look-ahead keeps the kernel's area (the high-passed part integrates to zero) and
    /// sharpens it (a larger `ε̂`, so smaller weights for the same `σ_U`); a zero horizon
    /// leaves it as it was.
    #[test]
    fn lookahead_keeps_the_kernel_area_and_raises_its_energy() {
        let init = FluctuationDriven::centered(1.0, 10.0);
        let plain = init.epsilons(&NB00).unwrap();
        let with = |horizon_s| TargetTimescales {
            lookahead: Some(Lookahead {
                tau_ada_s: 2e-3,
                horizon_s,
            }),
            ..NB00
        };
        let none = init.epsilons(&with(0.0)).unwrap();
        assert!((none.0 - plain.0).abs() < 1e-15 && (none.1 - plain.1).abs() < 1e-15);
        let ahead = init.epsilons(&with(30e-3)).unwrap();
        assert!(
            (ahead.0 - plain.0).abs() < 1e-3 * plain.0,
            "{ahead:?} {plain:?}"
        );
        assert!(ahead.1 > 2.0 * plain.1, "{ahead:?} {plain:?}");
    }
}
