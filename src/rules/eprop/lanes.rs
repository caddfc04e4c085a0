//! Arithmetic on one value or on a group of [`LANES`] values at once: the eligibility
//! systems of [`LANES`] neurons are solved side by side, one neuron per lane, so the
//! step-by-step recursions (latency-bound for one neuron) run as vector operations.

use crate::real::Real;
use std::ops::{Add, AddAssign, Mul};

/// Neurons solved side by side.
pub(super) const LANES: usize = 8;

/// A value the systems are solved in: a scalar, or a [`Lane`] of them.
pub(super) trait Elem: Copy + Add<Output = Self> + Mul<Output = Self> + AddAssign {
    /// The precision of one lane.
    type Scalar: Real;
    /// `x` in every lane.
    fn splat(x: Self::Scalar) -> Self;
    /// Zero in every lane.
    #[inline(always)]
    fn zero() -> Self {
        Self::splat(<Self::Scalar as num_traits::Zero>::zero())
    }
    /// One in every lane.
    #[inline(always)]
    fn one() -> Self {
        Self::splat(<Self::Scalar as num_traits::One>::one())
    }
}

impl<F: Real> Elem for F {
    type Scalar = F;
    #[inline(always)]
    fn splat(x: F) -> F {
        x
    }
}

/// [`LANES`] values, one per neuron, with element-wise arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Lane<F>(pub [F; LANES]);

impl<F: Real> Elem for Lane<F> {
    type Scalar = F;
    #[inline(always)]
    fn splat(x: F) -> Self {
        Lane([x; LANES])
    }
}

impl<F: Real> Add for Lane<F> {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Lane(std::array::from_fn(|l| self.0[l] + rhs.0[l]))
    }
}

impl<F: Real> Mul for Lane<F> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        Lane(std::array::from_fn(|l| self.0[l] * rhs.0[l]))
    }
}

impl<F: Real> AddAssign for Lane<F> {
    #[inline(always)]
    fn add_assign(&mut self, rhs: Self) {
        for l in 0..LANES {
            self.0[l] += rhs.0[l];
        }
    }
}

/// Lane `l` of every entry of an array.
#[inline(always)]
pub(super) fn lane_of<F: Copy, const Z: usize>(v: &[Lane<F>; Z], l: usize) -> [F; Z] {
    std::array::from_fn(|k| v[k].0[l])
}

/// Lane `l` of every entry of a matrix.
#[inline(always)]
pub(super) fn lane_of_mat<F: Copy, const Z: usize>(m: &[[Lane<F>; Z]; Z], l: usize) -> [[F; Z]; Z] {
    std::array::from_fn(|r| lane_of(&m[r], l))
}
