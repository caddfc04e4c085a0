//! Element-wise activation functions of dense layers and their derivatives.

use crate::real::Real;
use serde::{Deserialize, Serialize};

/// The non-linearity of a dense layer, `a = φ(z)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(z, 0)`.
    #[default]
    Relu,
    /// `tanh z`.
    Tanh,
    /// `1 / (1 + e^{−z})`.
    Sigmoid,
    /// `ln(1 + e^z)`.
    Softplus,
    /// `z`.
    Identity,
    /// `sign z` (`+1` at 0), the activation of binarized networks. It has no useful
    /// derivative; the backward pass uses the straight-through estimator of Hubara et al.
    /// (2016), the derivative of `hardtanh z = clamp(z, −1, 1)`: 1 for `|z| ≤ 1`, else 0 (as
    /// Laborieux et al. 2021).
    Sign,
}

impl Activation {
    /// `φ(z)`.
    pub fn apply<F: Real>(self, z: F) -> F {
        match self {
            Self::Relu => z.max(F::zero()),
            Self::Tanh => z.tanh(),
            Self::Sigmoid => sigmoid(z),
            // ln(1 + e^z) = max(z, 0) + ln(1 + e^{−|z|}), which neither overflows nor loses
            // precision for large |z|.
            Self::Softplus => z.max(F::zero()) + (-z.abs()).exp().ln_1p(),
            Self::Identity => z,
            Self::Sign => {
                if z >= F::zero() {
                    F::one()
                } else {
                    -F::one()
                }
            }
        }
    }

    /// `φ'(z)`, given `z` and `a = φ(z)` (ReLU's derivative at 0 is taken as 0; for
    /// [`Self::Sign`], the straight-through estimate).
    pub fn derivative<F: Real>(self, z: F, a: F) -> F {
        match self {
            Self::Relu => {
                if z > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
            Self::Tanh => F::one() - a * a,
            Self::Sigmoid => a * (F::one() - a),
            Self::Softplus => sigmoid(z),
            Self::Identity => F::one(),
            Self::Sign => {
                if z.abs() <= F::one() {
                    F::one()
                } else {
                    F::zero()
                }
            }
        }
    }
}

fn sigmoid<F: Real>(z: F) -> F {
    F::one() / (F::one() + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let all = [
            Activation::Relu,
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Softplus,
            Activation::Identity,
        ];
        for act in all {
            for &z in &[-3.0f64, -0.7, 0.3, 2.5] {
                let h = 1e-6;
                let fd = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
                let exact = act.derivative(z, act.apply(z));
                assert!((fd - exact).abs() < 1e-8, "{act:?} at {z}: {fd} vs {exact}");
            }
        }
    }

    #[test]
    fn sign_is_binary_with_the_hardtanh_derivative() {
        for &z in &[-3.0f64, -1.0, -0.2, 0.0, 0.4, 1.0, 2.0] {
            let a = Activation::Sign.apply(z);
            assert_eq!(a, if z >= 0.0 { 1.0 } else { -1.0 });
            // The straight-through estimate is hardtanh's derivative (checked by finite
            // differences away from its kinks at ±1).
            let hardtanh = |v: f64| v.clamp(-1.0, 1.0);
            let expected = if z.abs() == 1.0 {
                1.0
            } else {
                (hardtanh(z + 1e-6) - hardtanh(z - 1e-6)) / 2e-6
            };
            assert!((Activation::Sign.derivative(z, a) - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn softplus_is_stable_for_large_inputs() {
        assert_eq!(Activation::Softplus.apply(1000.0f64), 1000.0);
        assert!(Activation::Softplus.apply(-1000.0f64) >= 0.0);
        assert!((Activation::Softplus.apply(0.0f64) - 2f64.ln()).abs() < 1e-15);
    }
}
