//! The fixed-point format: constants, the rounding shift, saturation, requantisation
//! multipliers and decay multipliers (the arithmetic is documented in the parent module).

use super::IntegerError;

/// Fractional bits of every state value (`Q15.16` in an `i32`).
pub const FRAC_BITS: u32 = 16;

/// The state value `1.0`: the threshold of a hidden layer, whose states are in units of `θ`.
pub const STATE_ONE: i32 = 1 << FRAC_BITS;

/// Fractional bits of the decay multipliers `α`, `β` (`Q0.16`).
pub const DECAY_BITS: u32 = 16;

/// The decay multiplier `1.0`.
pub const DECAY_ONE: i32 = 1 << DECAY_BITS;

/// The largest state magnitude: states saturate to `[−(2³¹ − 1), 2³¹ − 1]` (symmetric, so
/// negation never overflows).
pub const STATE_MAX: i32 = i32::MAX;

/// Bits of the normalised requantisation multiplier: `2³⁰ ≤ M < 2³¹`.
const MULTIPLIER_BITS: i32 = 30;

/// `round(v / 2ⁿ)` with ties toward `+∞`: `(v + 2ⁿ⁻¹) >> n` (arithmetic shift), `n ≥ 1`.
#[inline(always)]
pub fn round_shift(v: i64, n: u32) -> i64 {
    (v + (1i64 << (n - 1))) >> n
}

/// `v` clamped into the state range `[−STATE_MAX, STATE_MAX]`.
#[inline(always)]
pub fn saturate(v: i64) -> i32 {
    v.clamp(-i64::from(STATE_MAX), i64::from(STATE_MAX)) as i32
}

/// A real multiplier `m ≈ M · 2^−shift` applied to an `i32` accumulator in integers (as
/// TFLite and CMSIS-NN requantise): `round_shift(acc · M, shift)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requant {
    /// `M`: in `[2³⁰, 2³¹)`, or 0 for a multiplier below `2⁻³²` (whose products with any
    /// `i32` accumulator round to 0).
    pub multiplier: i32,
    /// The right shift, `1..=62`.
    pub shift: u32,
}

impl Requant {
    /// The integer form of the positive real multiplier `real`; `tensor` names it in errors.
    pub fn new(tensor: &str, real: f64) -> Result<Self, IntegerError> {
        let bad = |reason: &str| IntegerError::Requant {
            tensor: tensor.to_string(),
            multiplier: real,
            reason: reason.to_string(),
        };
        if !(real.is_finite() && real > 0.0) {
            return Err(bad("it is not a positive finite number"));
        }
        // real = f · 2^e with 1 ≤ f < 2 (up to the rounding of log2, corrected below).
        let mut e = real.log2().floor() as i32;
        if real / 2f64.powi(e) >= 2.0 {
            e += 1;
        } else if real / 2f64.powi(e) < 1.0 {
            e -= 1;
        }
        let mut m = (real * 2f64.powi(MULTIPLIER_BITS - e)).round();
        if m >= 2f64.powi(MULTIPLIER_BITS + 1) {
            m /= 2.0;
            e += 1;
        }
        let shift = MULTIPLIER_BITS - e;
        if shift > 62 {
            return Ok(Self {
                multiplier: 0,
                shift: 1,
            });
        }
        if shift < 1 {
            return Err(bad(
                "it is 2³⁰ or more (one weight step is worth 2¹⁴ thresholds or more)",
            ));
        }
        Ok(Self {
            multiplier: m as i32,
            shift: shift as u32,
        })
    }

    /// `round_shift(acc · M, shift)`: `acc · m` rounded to an integer (no overflow: `|acc · M|
    /// < 2⁶²`).
    #[inline(always)]
    pub fn apply(self, acc: i32) -> i64 {
        round_shift(i64::from(acc) * i64::from(self.multiplier), self.shift)
    }

    /// The real multiplier the integers represent, `M · 2^−shift`.
    pub fn real(self) -> f64 {
        f64::from(self.multiplier) / 2f64.powi(self.shift as i32)
    }
}

/// The decay multiplier of `decay` (in `[0, 1]`): `round(decay · 2¹⁶)`, in `0..=DECAY_ONE`.
pub fn decay_multiplier(decay: f32) -> i32 {
    (f64::from(decay) * f64::from(DECAY_ONE))
        .round()
        .clamp(0.0, f64::from(DECAY_ONE)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_shift_rounds_to_nearest_with_ties_up() {
        assert_eq!(round_shift(5, 1), 3); // 2.5 → 3
        assert_eq!(round_shift(-5, 1), -2); // −2.5 → −2
        assert_eq!(round_shift(7, 2), 2); // 1.75 → 2
        assert_eq!(round_shift(-7, 2), -2);
        assert_eq!(round_shift(-6, 2), -1); // −1.5 → −1
        assert_eq!(round_shift(1 << 20, 16), 16);
    }

    #[test]
    fn saturation_is_symmetric() {
        assert_eq!(saturate(i64::MAX), i32::MAX);
        assert_eq!(saturate(i64::MIN), -i32::MAX);
        assert_eq!(saturate(-12), -12);
    }

    #[test]
    fn requant_multipliers_are_normalised_and_accurate() {
        for real in [
            1e-9,
            3.7e-5,
            0.013,
            0.5,
            1.0,
            1.999_999_999,
            2.0,
            777.7,
            1e8,
        ] {
            let r = Requant::new("w", real).unwrap();
            assert!(
                (1 << 30..=i32::MAX).contains(&r.multiplier),
                "{real}: {r:?}"
            );
            assert!((1..=62).contains(&r.shift));
            assert!(
                (r.real() - real).abs() <= real * 1e-9,
                "{real}: {}",
                r.real()
            );
            for acc in [-100_000, -127, -1, 0, 1, 5, 127, 254_000] {
                let want = (f64::from(acc) * r.real() + 0.5).floor() as i64;
                assert_eq!(r.apply(acc), want, "{real} · {acc}");
            }
        }
        let tiny = Requant::new("w", 1e-12).unwrap();
        assert_eq!(tiny.apply(i32::MAX), 0);
        assert!(Requant::new("hidden.0.w_in", 2e9)
            .unwrap_err()
            .to_string()
            .contains("hidden.0.w_in"));
        assert!(Requant::new("w", f64::NAN).is_err());
        assert!(Requant::new("w", 0.0).is_err());
    }

    #[test]
    fn decay_multipliers_round_into_q0_16() {
        assert_eq!(decay_multiplier(0.5), 32768);
        assert_eq!(decay_multiplier(1.0), DECAY_ONE);
        assert_eq!(decay_multiplier(0.0), 0);
        assert_eq!(decay_multiplier(0.904_837_4), 59299); // exp(−0.1)·2¹⁶ = 59299.2
    }
}
