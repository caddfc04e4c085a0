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
        }
    }

    /// `φ'(z)`, given `z` and `a = φ(z)` (ReLU's derivative at 0 is taken as 0).
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
    fn softplus_is_stable_for_large_inputs() {
        assert_eq!(Activation::Softplus.apply(1000.0f64), 1000.0);
        assert!(Activation::Softplus.apply(-1000.0f64) >= 0.0);
        assert!((Activation::Softplus.apply(0.0f64) - 2f64.ln()).abs() < 1e-15);
    }
}
