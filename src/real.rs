//! The floating-point element type of every kernel.
//!
//! Training runs in `f32`; gradient checks run the very same code in `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A real scalar usable by every kernel (`f32` or `f64`).
pub trait Real:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// Converts from `f64` (rounding to the nearest representable value).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly (named apart from `ToPrimitive::to_f64`, which returns an `Option`).
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}

/// `x` itself as `f32`s when `F` is `f32`, for kernels written for `f32` alone (vector
/// intrinsics); `None` for any other element type.
pub(crate) fn as_f32<F: Real>(x: &[F]) -> Option<&[f32]> {
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `F` is `f32` (same type id), so the slice is reinterpreted as itself.
        unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()) }
    })
}

/// [`as_f32`] of a mutable slice.
pub(crate) fn as_f32_mut<F: Real>(x: &mut [F]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `F` is `f32` (same type id), so the slice is reinterpreted as itself.
        unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f32>(), x.len()) }
    })
}
