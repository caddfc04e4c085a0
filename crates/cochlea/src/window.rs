//! Hann ramps at both ends of the signal: the second stage of the Heidelberg pipeline.
//!
//! lauscher's `HanningWindow` multiplies the first `n_up` samples by the rising half of a
//! Hann window of length `2 n_up` and the last `n_down` samples by the falling half of one of
//! length `2 n_down`, where the Hann window of length `M` is NumPy's
//! `w[k] = 0.5 − 0.5 cos(2πk/(M − 1))`, `k = 0..M`. By default `n_up = n_down = ⌊N/2⌋` for a
//! signal of `N` samples, so an even-length signal is multiplied by one whole Hann window and
//! an odd-length one keeps its middle sample. The ramps suppress the onset and offset
//! transients that the frequency-domain cochlea model would otherwise wrap around.

use std::f64::consts::PI;

/// NumPy's `hanning(len)`: `0.5 − 0.5 cos(2πk/(len − 1))`; `[1]` for `len = 1`.
pub fn hann(len: usize) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let denom = (len - 1) as f64;
    (0..len)
        .map(|k| 0.5 - 0.5 * (2.0 * PI * k as f64 / denom).cos())
        .collect()
}

/// Multiplies the first `ramp_up` samples by a rising Hann ramp and the last `ramp_down`
/// samples by a falling one (each clamped to the signal length).
pub fn apply_hann_ramps(samples: &mut [f64], ramp_up: usize, ramp_down: usize) {
    let n = samples.len();
    let up = ramp_up.min(n);
    let down = ramp_down.min(n);
    let rising = hann(2 * up);
    for (x, w) in samples[..up].iter_mut().zip(&rising) {
        *x *= w;
    }
    let falling = hann(2 * down);
    for (x, w) in samples[n - down..]
        .iter_mut()
        .zip(falling[..down].iter().rev())
    {
        *x *= w;
    }
}

/// The default of the pipeline: ramps over half the signal each.
pub fn apply_half_hann(samples: &mut [f64]) {
    let half = samples.len() / 2;
    apply_hann_ramps(samples, half, half);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_has_its_closed_form_values() {
        let w = hann(5);
        // 0.5 − 0.5 cos(πk/2): 0, 0.5, 1, 0.5, 0
        for (got, want) in w.iter().zip([0.0, 0.5, 1.0, 0.5, 0.0]) {
            assert!((got - want).abs() < 1e-15, "{w:?}");
        }
        assert_eq!(hann(1), [1.0]);
        assert!(hann(0).is_empty());
    }

    #[test]
    fn even_signal_is_one_whole_window() {
        let mut x = vec![1.0; 10];
        apply_half_hann(&mut x);
        for (got, want) in x.iter().zip(hann(10)) {
            assert!((got - want).abs() < 1e-15);
        }
    }

    #[test]
    fn odd_signal_keeps_its_middle_and_is_symmetric() {
        let mut x = vec![2.0; 9];
        apply_half_hann(&mut x);
        assert_eq!(x[4], 2.0);
        assert_eq!(x[0], 0.0);
        for k in 0..4 {
            assert!((x[k] - x[8 - k]).abs() < 1e-15);
            assert!((x[k] - 2.0 * hann(8)[k]).abs() < 1e-15);
        }
    }

    #[test]
    fn short_ramps_touch_only_the_ends() {
        let mut x = vec![1.0; 20];
        apply_hann_ramps(&mut x, 3, 2);
        assert_eq!(&x[3..18], &[1.0; 15]);
        assert_eq!(x[0], 0.0);
        assert_eq!(x[19], 0.0);
        assert!((x[18] - hann(4)[1]).abs() < 1e-15);
    }
}
