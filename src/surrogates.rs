//! The spike non-linearity: a Heaviside step forward, a surrogate derivative backward.
//!
//! `x = U − θ` is the distance of the membrane potential from threshold. Every surrogate is a
//! smooth, peaked stand-in for the Dirac delta `H'(x)`; `beta` sets its steepness. Stochastic
//! spikes with escape noise are in [`EscapeNoise`].

mod escape_noise;

pub use escape_noise::EscapeNoise;

use crate::real::Real;
use serde::{Deserialize, Serialize};

/// Surrogate derivatives `σ'(x)` used in place of `H'(x)` in the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Surrogate {
    /// SuperSpike fast sigmoid (Zenke & Ganguli 2018): `1 / (β|x| + 1)²`.
    SuperSpike {
        /// The steepness β.
        beta: f64,
    },
    /// Derivative of the logistic sigmoid: `β s (1 − s)`, `s = 1 / (1 + e^{−βx})`.
    Sigmoid {
        /// The steepness β.
        beta: f64,
    },
    /// Arc-tangent (Fang et al. 2021, snnTorch's form): `(β/2) / (1 + (π β x / 2)²)`.
    Atan {
        /// The steepness β.
        beta: f64,
    },
    /// Triangle (Esser et al. 2016; Bellec et al. 2018): `max(0, 1 − β|x|)`.
    Triangle {
        /// The steepness β.
        beta: f64,
    },
    /// e-prop's pseudo-derivative (Bellec et al. 2018, 2020): the triangle scaled by a
    /// dampening factor, `γ max(0, 1 − β|x|)` (their γ = 0.3), which keeps gradients through
    /// many recurrent steps from exploding.
    DampenedTriangle {
        /// The steepness β.
        beta: f64,
        /// The factor γ of the triangle.
        dampening: f64,
    },
    /// Exponential (Shrestha & Orchard 2018): `exp(−β|x|)`.
    Exponential {
        /// The steepness β.
        beta: f64,
    },
}

impl Default for Surrogate {
    fn default() -> Self {
        Surrogate::SuperSpike { beta: 20.0 }
    }
}

impl Surrogate {
    /// The steepness parameter β.
    pub fn beta(&self) -> f64 {
        match *self {
            Surrogate::SuperSpike { beta }
            | Surrogate::Sigmoid { beta }
            | Surrogate::Atan { beta }
            | Surrogate::Triangle { beta }
            | Surrogate::DampenedTriangle { beta, .. }
            | Surrogate::Exponential { beta } => beta,
        }
    }

    /// The surrogate derivative at `x = U − θ`.
    #[inline(always)]
    pub fn derivative<F: Real>(&self, x: F) -> F {
        let one = F::one();
        match *self {
            Surrogate::SuperSpike { beta } => {
                let d = F::from_f64(beta) * x.abs() + one;
                one / (d * d)
            }
            Surrogate::Sigmoid { beta } => {
                let b = F::from_f64(beta);
                let s = logistic(b * x);
                b * s * (one - s)
            }
            Surrogate::Atan { beta } => {
                let b = F::from_f64(beta);
                let half_pi = F::from_f64(std::f64::consts::FRAC_PI_2);
                let z = half_pi * b * x;
                b / F::from_f64(2.0) / (one + z * z)
            }
            Surrogate::Triangle { beta } => (one - F::from_f64(beta) * x.abs()).max(F::zero()),
            Surrogate::DampenedTriangle { beta, dampening } => {
                F::from_f64(dampening) * (one - F::from_f64(beta) * x.abs()).max(F::zero())
            }
            Surrogate::Exponential { beta } => (-F::from_f64(beta) * x.abs()).exp(),
        }
    }
}

/// How a spiking neuron turns its membrane potential into an output.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SpikeFn {
    /// Heaviside step `H(x)` forward, the surrogate's derivative backward (training default).
    Heaviside {
        /// The surrogate derivative.
        surrogate: Surrogate,
    },
    /// Smooth relaxation `s(x) = 1 / (1 + e^{−βx})` forward with its exact derivative backward.
    ///
    /// The network is then an ordinary differentiable function, so its hand-written backward
    /// pass can be checked against finite differences.
    Relaxed {
        /// The steepness β.
        beta: f64,
    },
    /// Stochastic spikes `S ~ Bernoulli(f(x))` with escape noise `f` ([`EscapeNoise`]); the
    /// backward pass uses `f'` (the surrogate matched to the noise) or `surrogate` when given.
    EscapeNoise {
        /// The escape-noise function.
        noise: EscapeNoise,
        /// A surrogate to use backward instead of `f'`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        surrogate: Option<Surrogate>,
    },
}

impl Default for SpikeFn {
    fn default() -> Self {
        SpikeFn::Heaviside {
            surrogate: Surrogate::default(),
        }
    }
}

impl SpikeFn {
    /// The output at `x = U − θ` of a neuron whose random number at this step is
    /// `uniform()` (called only by stochastic spikes).
    #[inline(always)]
    pub fn fire<F: Real>(&self, x: F, uniform: impl FnOnce() -> F) -> F {
        match self {
            SpikeFn::EscapeNoise { noise, .. } => noise.fire(x, uniform()),
            _ => self.value(x),
        }
    }

    /// The deterministic output at `x = U − θ` (`H(x)` for stochastic spikes: their
    /// deterministic limit).
    #[inline(always)]
    pub fn value<F: Real>(&self, x: F) -> F {
        match *self {
            SpikeFn::Heaviside { .. } | SpikeFn::EscapeNoise { .. } => {
                if x > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
            SpikeFn::Relaxed { beta } => logistic(F::from_f64(beta) * x),
        }
    }

    /// The derivative used backward at `x = U − θ`.
    #[inline(always)]
    pub fn derivative<F: Real>(&self, x: F) -> F {
        match *self {
            SpikeFn::Heaviside { surrogate } => surrogate.derivative(x),
            SpikeFn::Relaxed { beta } => Surrogate::Sigmoid { beta }.derivative(x),
            SpikeFn::EscapeNoise { noise, surrogate } => match surrogate {
                Some(s) => s.derivative(x),
                None => noise.derivative(x),
            },
        }
    }

    /// Whether outputs are exactly 0 or 1 (so they can be consumed as events).
    pub fn is_binary(&self) -> bool {
        !matches!(self, SpikeFn::Relaxed { .. })
    }

    /// Whether the spikes are random (escape noise).
    pub fn is_stochastic(&self) -> bool {
        matches!(self, SpikeFn::EscapeNoise { .. })
    }

    /// The deterministic counterpart (`U > θ` forward) of stochastic spikes; other spike
    /// functions unchanged. The backward pass keeps the same derivative.
    pub fn deterministic(&self) -> SpikeFn {
        match *self {
            SpikeFn::EscapeNoise { noise, surrogate } => SpikeFn::Heaviside {
                surrogate: surrogate.unwrap_or(match noise {
                    EscapeNoise::Sigmoid { beta } => Surrogate::Sigmoid { beta },
                    // Not the same derivative, but the forward pass is all that is used.
                    EscapeNoise::Exponential { delta_u, .. } => Surrogate::Exponential {
                        beta: 1.0 / delta_u,
                    },
                }),
            },
            other => other,
        }
    }

    /// Checks the parameters; the error names the field (`surrogate.beta`, `noise.p0`, ...).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let beta = |field: &str, beta: f64| {
            if beta > 0.0 && beta.is_finite() {
                Ok(())
            } else {
                Err((
                    field.into(),
                    format!("must be positive and finite, got {beta}"),
                ))
            }
        };
        match *self {
            SpikeFn::Heaviside { surrogate } => {
                if let Surrogate::DampenedTriangle { dampening, .. } = surrogate {
                    beta("surrogate.dampening", dampening)?;
                }
                beta("surrogate.beta", surrogate.beta())
            }
            SpikeFn::Relaxed { beta: b } => beta("beta", b),
            SpikeFn::EscapeNoise { noise, surrogate } => {
                if let Some(s) = surrogate {
                    beta("surrogate.beta", s.beta())?;
                }
                noise.validate().map_err(|e| {
                    let field = e.split_whitespace().next().unwrap_or("").to_string();
                    (format!("noise.{field}"), e)
                })
            }
        }
    }
}

/// A spike non-linearity resolved to one concrete kind, so that a loop over neurons runs
/// without a branch on the kind per element (see [`SpikeFn::dispatch`]).
pub trait SpikeKernel<F: Real>: Copy {
    /// The output at `x = U − θ`; `uniform()` is the neuron's random number of this step
    /// (called only by stochastic spikes).
    fn fire(self, x: F, uniform: impl FnOnce() -> F) -> F;
    /// The derivative used backward at `x = U − θ`.
    fn derivative(self, x: F) -> F;
}

/// Code generic over the spike kernel, run by [`SpikeFn::dispatch`].
pub trait WithSpikeKernel<F: Real> {
    /// Runs with the resolved kernel.
    fn run<K: SpikeKernel<F>>(self, kernel: K);
}

/// Heaviside forward with the surrogate `D` backward.
#[derive(Clone, Copy)]
struct Heaviside<D>(D);

/// The relaxed sigmoid spike with its exact derivative.
#[derive(Clone, Copy)]
struct RelaxedKernel<F>(F);

macro_rules! surrogate_kernel {
    ($name:ident, |$b:ident, $x:ident| $body:expr) => {
        #[derive(Clone, Copy)]
        struct $name<F>(F);

        impl<F: Real> $name<F> {
            #[inline(always)]
            fn derivative(self, $x: F) -> F {
                let $b = self.0;
                $body
            }
        }

        impl<F: Real> SpikeKernel<F> for Heaviside<$name<F>> {
            #[inline(always)]
            fn fire(self, x: F, _uniform: impl FnOnce() -> F) -> F {
                step(x)
            }
            #[inline(always)]
            fn derivative(self, x: F) -> F {
                self.0.derivative(x)
            }
        }
    };
}

/// The Heaviside step `H(x)` of the row kernels (0 at `x = 0`).
#[inline(always)]
fn step<F: Real>(x: F) -> F {
    if x > F::zero() {
        F::one()
    } else {
        F::zero()
    }
}

// The same formulas as `Surrogate::derivative` (a test checks that they agree).
surrogate_kernel!(SuperSpikeK, |b, x| {
    let d = b * x.abs() + F::one();
    F::one() / (d * d)
});
surrogate_kernel!(SigmoidK, |b, x| {
    let s = logistic(b * x);
    b * s * (F::one() - s)
});
surrogate_kernel!(AtanK, |b, x| {
    let z = F::from_f64(std::f64::consts::FRAC_PI_2) * b * x;
    b / F::from_f64(2.0) / (F::one() + z * z)
});
surrogate_kernel!(TriangleK, |b, x| (F::one() - b * x.abs()).max(F::zero()));
surrogate_kernel!(ExponentialK, |b, x| (-b * x.abs()).exp());

/// The dampened triangle: `(β, γ)`.
#[derive(Clone, Copy)]
struct DampenedTriangleK<F>(F, F);

impl<F: Real> SpikeKernel<F> for Heaviside<DampenedTriangleK<F>> {
    #[inline(always)]
    fn fire(self, x: F, _uniform: impl FnOnce() -> F) -> F {
        step(x)
    }
    #[inline(always)]
    fn derivative(self, x: F) -> F {
        let DampenedTriangleK(b, g) = self.0;
        g * (F::one() - b * x.abs()).max(F::zero())
    }
}

impl<F: Real> SpikeKernel<F> for RelaxedKernel<F> {
    #[inline(always)]
    fn fire(self, x: F, _uniform: impl FnOnce() -> F) -> F {
        logistic(self.0 * x)
    }
    #[inline(always)]
    fn derivative(self, x: F) -> F {
        SigmoidK(self.0).derivative(x)
    }
}

impl SpikeFn {
    /// Runs `code` with this spike function resolved to a concrete kernel.
    #[inline(always)]
    pub fn dispatch<F: Real, C: WithSpikeKernel<F>>(&self, code: C) {
        match *self {
            SpikeFn::Heaviside { surrogate } => {
                let b = F::from_f64(surrogate.beta());
                match surrogate {
                    Surrogate::SuperSpike { .. } => code.run(Heaviside(SuperSpikeK(b))),
                    Surrogate::Sigmoid { .. } => code.run(Heaviside(SigmoidK(b))),
                    Surrogate::Atan { .. } => code.run(Heaviside(AtanK(b))),
                    Surrogate::Triangle { .. } => code.run(Heaviside(TriangleK(b))),
                    Surrogate::Exponential { .. } => code.run(Heaviside(ExponentialK(b))),
                    Surrogate::DampenedTriangle { dampening, .. } => {
                        code.run(Heaviside(DampenedTriangleK(b, F::from_f64(dampening))))
                    }
                }
            }
            SpikeFn::Relaxed { beta } => code.run(RelaxedKernel(F::from_f64(beta))),
            SpikeFn::EscapeNoise { .. } => code.run(EscapeKernel(*self)),
        }
    }
}

/// Stochastic spikes: the enum's own formulas (their cost is the random number, not the
/// branch on the noise kind).
#[derive(Clone, Copy)]
struct EscapeKernel(SpikeFn);

impl<F: Real> SpikeKernel<F> for EscapeKernel {
    #[inline(always)]
    fn fire(self, x: F, uniform: impl FnOnce() -> F) -> F {
        self.0.fire(x, uniform)
    }
    #[inline(always)]
    fn derivative(self, x: F) -> F {
        self.0.derivative(x)
    }
}

#[inline(always)]
fn logistic<F: Real>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    const XS: [f64; 9] = [-1.3, -0.4, -0.05, -0.001, 0.0, 0.002, 0.07, 0.5, 2.0];

    #[test]
    fn each_surrogate_matches_its_formula() {
        for beta in [1.0, 5.0, 20.0, 100.0] {
            for &x in &XS {
                let s = 1.0 / (1.0 + (-beta * x).exp());
                let cases = [
                    (
                        Surrogate::SuperSpike { beta },
                        1.0 / (beta * x.abs() + 1.0).powi(2),
                    ),
                    (Surrogate::Sigmoid { beta }, beta * s * (1.0 - s)),
                    (
                        Surrogate::Atan { beta },
                        beta / 2.0 / (1.0 + (PI / 2.0 * beta * x).powi(2)),
                    ),
                    (
                        Surrogate::Triangle { beta },
                        (1.0 - beta * x.abs()).max(0.0),
                    ),
                    (Surrogate::Exponential { beta }, (-beta * x.abs()).exp()),
                    (
                        Surrogate::DampenedTriangle {
                            beta,
                            dampening: 0.3,
                        },
                        0.3 * (1.0 - beta * x.abs()).max(0.0),
                    ),
                ];
                for (sur, expect) in cases {
                    let got = sur.derivative(x);
                    assert!(
                        (got - expect).abs() <= 1e-14 * expect.abs().max(1.0),
                        "{sur:?} at {x}"
                    );
                    let got32 = sur.derivative(x as f32) as f64;
                    assert!(
                        (got32 - expect).abs() <= 1e-5 * expect.abs().max(1.0),
                        "{sur:?} f32"
                    );
                }
            }
        }
    }

    #[test]
    fn sigmoid_surrogate_is_the_derivative_of_the_relaxation() {
        let relaxed = SpikeFn::Relaxed { beta: 7.0 };
        for &x in &XS {
            let h = 1e-6;
            let fd = (relaxed.value(x + h) - relaxed.value(x - h)) / (2.0 * h);
            assert!((relaxed.derivative(x) - fd).abs() < 1e-8);
        }
    }

    #[test]
    fn atan_sigmoid_and_superspike_peak_where_documented() {
        assert_eq!(Surrogate::SuperSpike { beta: 20.0 }.derivative(0.0), 1.0);
        assert_eq!(Surrogate::Sigmoid { beta: 8.0 }.derivative(0.0), 2.0);
        assert_eq!(Surrogate::Atan { beta: 2.0 }.derivative(0.0), 1.0);
        assert_eq!(Surrogate::Triangle { beta: 1.0 }.derivative(1.5), 0.0);
    }

    /// The dispatched kernels compute exactly what `SpikeFn::value`/`derivative` compute.
    #[test]
    fn dispatched_kernels_equal_the_enum_formulas() {
        struct Probe(Vec<(f64, f64)>);
        impl WithSpikeKernel<f64> for &mut Probe {
            fn run<K: SpikeKernel<f64>>(self, k: K) {
                self.0 = XS
                    .iter()
                    .map(|&x| (k.fire(x, || 0.5), k.derivative(x)))
                    .collect();
            }
        }
        let surrogates = |beta| {
            [
                Surrogate::SuperSpike { beta },
                Surrogate::Sigmoid { beta },
                Surrogate::Atan { beta },
                Surrogate::Triangle { beta },
                Surrogate::Exponential { beta },
                Surrogate::DampenedTriangle {
                    beta,
                    dampening: 0.3,
                },
            ]
        };
        let mut fns: Vec<SpikeFn> = surrogates(3.0)
            .into_iter()
            .map(|surrogate| SpikeFn::Heaviside { surrogate })
            .collect();
        fns.push(SpikeFn::Relaxed { beta: 3.0 });
        for f in fns {
            let mut probe = Probe(Vec::new());
            f.dispatch(&mut probe);
            let expect: Vec<(f64, f64)> =
                XS.iter().map(|&x| (f.value(x), f.derivative(x))).collect();
            assert_eq!(probe.0, expect, "{f:?}");
        }
    }

    #[test]
    fn heaviside_is_binary_and_strict() {
        let h = SpikeFn::default();
        assert_eq!(h.value(0.0), 0.0);
        assert_eq!(h.value(1e-9), 1.0);
        assert!(h.is_binary());
        assert!(!SpikeFn::Relaxed { beta: 1.0 }.is_binary());
    }
}
