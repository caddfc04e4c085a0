//! Symmetric per-tensor int8 quantization of one weight matrix.

use super::QuantError;

/// The largest stored magnitude: values live in `[−127, 127]` (−128 is never used, so the
/// range is symmetric and `−q` is always representable).
pub const INT8_MAX: f32 = 127.0;

/// A weight matrix stored as int8 values with one f32 scale: `w ≈ q · scale`.
///
/// `scale = max|w| / 127`, `q = clamp(round(w / scale), −127, 127)`, rounding to the nearest
/// integer with ties to even (as `torch.round` and `torch.quantize_per_tensor`). Zero weights
/// stay exactly zero, the largest-magnitude weight is stored exactly as ±127·scale, and every
/// other weight is off by at most `scale / 2`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedTensor {
    /// Shape of the matrix (`[rows, cols]`).
    pub shape: Vec<usize>,
    /// The int8 values, row-major.
    pub values: Vec<i8>,
    /// The dequantization scale (positive).
    pub scale: f32,
}

impl QuantizedTensor {
    /// Quantizes `w` (named `name` in errors).
    ///
    /// An all-zero matrix gets `scale = 1`: any positive scale represents it exactly, and 1 keeps
    /// stored files free of zero or denormal scales that a reader might divide by.
    pub fn quantize(name: &str, shape: Vec<usize>, w: &[f32]) -> Result<Self, QuantError> {
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite {
                tensor: name.to_string(),
                index: i,
            });
        }
        let max_abs = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max_abs > 0.0 {
            max_abs / INT8_MAX
        } else {
            1.0
        };
        let values = w.iter().map(|&v| quantize_value(v, scale)).collect();
        Ok(Self {
            shape,
            values,
            scale,
        })
    }

    /// The values `q · scale` the network computes with.
    pub fn dequantize(&self) -> Vec<f32> {
        self.values.iter().map(|&q| q as f32 * self.scale).collect()
    }

    /// Rebuilds a tensor read from a file; the scale must be positive and finite.
    pub fn from_parts(
        name: &str,
        shape: Vec<usize>,
        values: Vec<i8>,
        scale: f32,
    ) -> Result<Self, QuantError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(QuantError::BadScale {
                tensor: name.to_string(),
                scale,
            });
        }
        if let Some(i) = values.iter().position(|&q| q == i8::MIN) {
            return Err(QuantError::OutOfRange {
                tensor: name.to_string(),
                index: i,
            });
        }
        Ok(Self {
            shape,
            values,
            scale,
        })
    }
}

/// `clamp(round_ties_even(w / scale), −127, 127)`.
pub(super) fn quantize_value(w: f32, scale: f32) -> i8 {
    (w / scale).round_ties_even().clamp(-INT8_MAX, INT8_MAX) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(w: &[f32]) -> QuantizedTensor {
        QuantizedTensor::quantize("w", vec![w.len()], w).unwrap()
    }

    #[test]
    fn scale_is_max_abs_over_127_and_the_extremes_map_to_127() {
        let t = q(&[0.5, -2.54, 1.0]);
        assert_eq!(t.scale, 2.54f32 / 127.0);
        assert_eq!(t.values[1], -127);
        let t = q(&[3.0, -1.0]);
        assert_eq!(t.values[0], 127);
        assert_eq!(t.dequantize()[0], 127.0 * (3.0f32 / 127.0));
    }

    #[test]
    fn values_stay_in_the_symmetric_range() {
        let w: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.37).sin() * 5.0).collect();
        let t = q(&w);
        assert!(t.values.iter().all(|&v| (-127..=127).contains(&v)));
        assert!(t.values.contains(&127) || t.values.contains(&-127));
        // Every value is within half a step of its original.
        for (a, b) in t.dequantize().iter().zip(&w) {
            assert!((a - b).abs() <= t.scale * 0.5 * (1.0 + 1e-5), "{a} vs {b}");
        }
    }

    #[test]
    fn rounding_is_to_nearest_with_ties_to_even() {
        // Scale 1 (max 127): the values are their own quotients.
        let t = q(&[127.0, 0.4, 0.6, 1.5, 2.5, -0.5, -1.5, -2.6, 3.49]);
        assert_eq!(t.scale, 1.0);
        assert_eq!(t.values, [127, 0, 1, 2, 2, 0, -2, -3, 3]);
    }

    #[test]
    fn zero_stays_zero_and_an_all_zero_matrix_has_a_positive_scale() {
        let t = q(&[0.0, 1.0, -0.0, 0.0]);
        assert_eq!(t.values[0], 0);
        assert_eq!(t.values[2], 0);
        assert_eq!(t.dequantize()[3], 0.0);
        let z = q(&[0.0; 6]);
        assert_eq!(z.scale, 1.0);
        assert!(z.values.iter().all(|&v| v == 0));
        assert!(z.dequantize().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn quantizing_dequantized_values_gives_the_same_integers() {
        let w: Vec<f32> = (0..500).map(|i| ((i as f32) * 1.3).cos() * 0.07).collect();
        let t = q(&w);
        let again = q(&t.dequantize());
        assert_eq!(again.values, t.values);
        assert!((again.scale - t.scale).abs() <= t.scale * 1e-6);
    }

    #[test]
    fn bad_values_are_errors_naming_the_tensor() {
        let e = QuantizedTensor::quantize("hidden.0.w_in", vec![2], &[1.0, f32::NAN]).unwrap_err();
        assert!(e.to_string().contains("hidden.0.w_in"), "{e}");
        assert!(QuantizedTensor::from_parts("w", vec![1], vec![1], 0.0).is_err());
        assert!(QuantizedTensor::from_parts("w", vec![1], vec![1], f32::NAN).is_err());
        assert!(QuantizedTensor::from_parts("w", vec![1], vec![-128], 1.0).is_err());
    }
}
