//! RMS normalisation: the first stage of the Heidelberg cochlea pipeline.
//!
//! Cramer et al. (2020) scale every recording to the same root-mean-square amplitude before
//! the basilar-membrane model, `x ← x · L / √(mean(x²))` with `L = 0.3` (lauscher's
//! `RmsNormalizer(0.3)`), so that the spike output does not depend on recording gain.

use super::AudioError;

/// The RMS level of the Heidelberg pipeline.
pub const RMS_LEVEL: f64 = 0.3;

/// The root mean square `√(mean(x²))` of `samples` (0 for no samples).
pub fn rms(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|x| x * x).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Scales `samples` in place to RMS `level`.
///
/// Errors for an empty or silent signal (no scale reaches the level) and for a NaN or
/// infinite sample.
pub fn normalize_rms(samples: &mut [f64], level: f64) -> Result<(), AudioError> {
    if let Some(index) = samples.iter().position(|x| !x.is_finite()) {
        return Err(AudioError::NonFinite { index });
    }
    let current = rms(samples);
    if current == 0.0 || !current.is_finite() {
        return Err(AudioError::Silent);
    }
    let scale = level / current;
    samples.iter_mut().for_each(|x| *x *= scale);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_the_level_and_keeps_the_shape() {
        let mut x: Vec<f64> = (0..1000)
            .map(|i| (i as f64 * 0.01).sin() * 3.7 + 0.2)
            .collect();
        let original = x.clone();
        normalize_rms(&mut x, RMS_LEVEL).unwrap();
        assert!((rms(&x) - 0.3).abs() < 1e-12);
        let ratio = x[10] / original[10];
        for (a, b) in x.iter().zip(&original) {
            assert!((a - b * ratio).abs() < 1e-12);
        }
    }

    #[test]
    fn rms_of_a_sine_is_amplitude_over_root_two() {
        // A whole number of periods: mean(sin²) = 1/2 exactly up to rounding.
        let x: Vec<f64> = (0..800)
            .map(|i| 2.0 * (2.0 * std::f64::consts::PI * i as f64 / 80.0).sin())
            .collect();
        assert!((rms(&x) - 2.0 / 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn silence_and_nan_are_errors() {
        assert!(matches!(
            normalize_rms(&mut [0.0; 8], 0.3),
            Err(AudioError::Silent)
        ));
        assert!(matches!(
            normalize_rms(&mut [], 0.3),
            Err(AudioError::Silent)
        ));
        let mut x = [0.1, f64::NAN, 0.2];
        assert!(matches!(
            normalize_rms(&mut x, 0.3),
            Err(AudioError::NonFinite { index: 1 })
        ));
    }
}
