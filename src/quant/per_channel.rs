//! Symmetric int8 quantization with one scale per output channel.

use super::int8::{quantize_value, INT8_MAX};
use super::QuantError;

/// A weight tensor stored as int8 values with one f32 scale per output channel:
/// `w ≈ q · scale[c]` for every value of channel `c`.
///
/// The tensor is laid out as `[outer, channels, inner]` (row-major): a conv kernel
/// `[C_out, C_in, K, K]` is `outer = 1`, `inner = C_in·K·K`; a dense matrix `[inputs, outputs]`
/// is `outer = inputs`, `inner = 1`. Each channel is quantized as [`super::QuantizedTensor`]
/// quantizes a whole tensor: `scale[c] = max|w_c| / 127` (1 for an all-zero channel),
/// `q = clamp(round(w / scale[c]), −127, 127)` with ties to even, so every value is within
/// half of its channel's step and no value is clamped.
#[derive(Clone, Debug, PartialEq)]
pub struct PerChannelTensor {
    /// Values before the channel axis (`outer`).
    pub outer: usize,
    /// Values after the channel axis (`inner`).
    pub inner: usize,
    /// The int8 values, row-major `[outer, channels, inner]`.
    pub values: Vec<i8>,
    /// The dequantization scales `[channels]` (positive).
    pub scales: Vec<f32>,
}

impl PerChannelTensor {
    /// Quantizes `w` `[outer, channels, inner]` (named `name` in errors), one scale per channel.
    pub fn quantize(
        name: &str,
        w: &[f32],
        outer: usize,
        channels: usize,
        inner: usize,
    ) -> Result<Self, QuantError> {
        if outer * channels * inner != w.len() {
            return Err(QuantError::Unsupported(format!(
                "{name}: {} values are not {outer}×{channels}×{inner}",
                w.len()
            )));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite {
                tensor: name.to_string(),
                index: i,
            });
        }
        let channel = |i: usize| (i / inner.max(1)) % channels.max(1);
        let mut max_abs = vec![0.0f32; channels];
        for (i, v) in w.iter().enumerate() {
            let m = &mut max_abs[channel(i)];
            *m = m.max(v.abs());
        }
        let scales: Vec<f32> = max_abs
            .into_iter()
            .map(|m| if m > 0.0 { m / INT8_MAX } else { 1.0 })
            .collect();
        let values = w
            .iter()
            .enumerate()
            .map(|(i, &v)| quantize_value(v, scales[channel(i)]))
            .collect();
        Ok(Self {
            outer,
            inner,
            values,
            scales,
        })
    }

    /// The values `q · scale[c]` the network computes with, in the tensor's layout.
    pub fn dequantize(&self) -> Vec<f32> {
        let (inner, channels) = (self.inner.max(1), self.scales.len().max(1));
        self.values
            .iter()
            .enumerate()
            .map(|(i, &q)| q as f32 * self.scales[(i / inner) % channels])
            .collect()
    }

    /// Bytes of the int8 values and the f32 scales.
    pub fn bytes(&self) -> usize {
        self.values.len() + 4 * self.scales.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::QuantizedTensor;

    #[test]
    fn each_channel_has_its_own_scale_and_round_trips_within_half_a_step() {
        // A conv-like [C_out = 3, rest = 4] tensor with channels of very different sizes.
        let w = [
            1.0, -0.5, 0.25, 0.0, // channel 0: max 1
            0.01, -0.02, 0.002, 0.0, // channel 1: max 0.02
            0.0, 0.0, 0.0, 0.0, // channel 2: all zero
        ];
        let t = PerChannelTensor::quantize("w", &w, 1, 3, 4).unwrap();
        assert_eq!(t.scales, [1.0 / 127.0, 0.02 / 127.0, 1.0]);
        assert_eq!(t.values[0], 127);
        assert_eq!(t.values[5], -127);
        assert!(t.values[8..].iter().all(|&q| q == 0));
        let back = t.dequantize();
        for (c, chunk) in w.chunks(4).enumerate() {
            for (i, &v) in chunk.iter().enumerate() {
                let d = back[4 * c + i];
                assert!(
                    (d - v).abs() <= t.scales[c] * 0.5 * (1.0 + 1e-5),
                    "{d} vs {v}"
                );
            }
        }
        // The small channel keeps its resolution; one scale for the tensor rounds it away.
        let per_tensor = QuantizedTensor::quantize("w", vec![12], &w).unwrap();
        assert_eq!(per_tensor.dequantize()[6], 0.0);
        assert!((back[6] - 0.002).abs() < 1e-4);
        assert_eq!(t.bytes(), 12 + 3 * 4);
    }

    #[test]
    fn channels_of_a_dense_matrix_are_its_columns() {
        // [inputs = 2, outputs = 3]: column c is channel c.
        let w = [3.0, 0.05, -0.5, -1.2, 0.2, 0.3];
        let t = PerChannelTensor::quantize("w", &w, 2, 3, 1).unwrap();
        assert_eq!(t.scales, [3.0 / 127.0, 0.2 / 127.0, 0.5 / 127.0]);
        assert_eq!(t.values, [127, 32, -127, -51, 127, 76]);
        // Quantizing the dequantized values again gives the same integers.
        let again = PerChannelTensor::quantize("w", &t.dequantize(), 2, 3, 1).unwrap();
        assert_eq!(again.values, t.values);
    }

    #[test]
    fn one_channel_is_the_per_tensor_quantization() {
        let w: Vec<f32> = (0..300).map(|i| ((i as f32) * 0.71).sin() * 0.3).collect();
        let t = PerChannelTensor::quantize("w", &w, 1, 1, 300).unwrap();
        let p = QuantizedTensor::quantize("w", vec![300], &w).unwrap();
        assert_eq!(t.values, p.values);
        assert_eq!(t.scales, [p.scale]);
        assert_eq!(t.dequantize(), p.dequantize());
    }

    #[test]
    fn bad_values_and_shapes_are_errors_naming_the_tensor() {
        let e = PerChannelTensor::quantize("conv.0.w", &[1.0, f32::NAN], 1, 2, 1).unwrap_err();
        assert!(e.to_string().contains("conv.0.w"), "{e}");
        let e = PerChannelTensor::quantize("conv.1.w", &[1.0; 5], 1, 2, 2).unwrap_err();
        assert!(e.to_string().contains("conv.1.w"), "{e}");
    }
}
