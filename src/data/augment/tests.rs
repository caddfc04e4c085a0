//! Statistics of each transform against their closed forms.

use super::*;
use crate::data::Target;

/// `n` spikes of `unit` at `time_s`.
fn constant(n: usize, time_s: f32, unit: u32) -> EventSample {
    EventSample {
        times_s: vec![time_s; n],
        units: vec![unit; n],
        target: Target::Class(0),
    }
}

fn mean_std(values: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let v: Vec<f64> = values.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt(), v.len())
}

#[test]
fn everything_is_off_by_default_and_leaves_samples_unchanged() {
    let config = AugmentConfig::default();
    assert!(!config.is_active());
    let sample = EventSample {
        times_s: vec![0.1, 0.0, 0.3],
        units: vec![3, 0, 9],
        target: Target::Class(2),
    };
    assert_eq!(config.apply(&sample, 10, 1.0, 7, 0), sample);
}

#[test]
fn deletion_removes_a_fraction_p_of_the_spikes() {
    let n = 20_000;
    for p in [0.1, 0.5, 0.9] {
        let config = AugmentConfig {
            delete_prob: p,
            ..AugmentConfig::default()
        };
        let kept = config.apply(&constant(n, 0.5, 3), 10, 1.0, 1, 0).len() as f64 / n as f64;
        // Binomial standard error √(p(1−p)/n) ≤ 0.0036; allow 4 of them.
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((kept - (1.0 - p)).abs() < 4.0 * se, "p = {p}: kept {kept}");
    }
}

#[test]
fn time_jitter_has_the_configured_standard_deviation() {
    let sigma = 0.01;
    let config = AugmentConfig {
        time_jitter_s: sigma,
        ..AugmentConfig::default()
    };
    let out = config.apply(&constant(20_000, 0.5, 1), 4, 1.0, 2, 0);
    assert_eq!(out.len(), 20_000, "nothing is near the borders");
    assert!(out.units.iter().all(|&u| u == 1), "units are untouched");
    let (mean, std, _) = mean_std(out.times_s.iter().map(|&t| f64::from(t) - 0.5));
    // Standard errors σ/√n = 7e-5 for the mean and σ/√(2n) = 5e-5 for the std.
    assert!(mean.abs() < 3e-4, "{mean}");
    assert!((std - sigma).abs() < 3e-4, "{std}");
}

#[test]
fn spikes_jittered_before_time_zero_are_dropped() {
    let config = AugmentConfig {
        time_jitter_s: 0.1,
        ..AugmentConfig::default()
    };
    let out = config.apply(&constant(20_000, 0.0, 0), 1, 1.0, 3, 0);
    let kept = out.len() as f64 / 20_000.0;
    assert!((kept - 0.5).abs() < 0.015, "{kept}");
    assert!(out.times_s.iter().all(|&t| t >= 0.0));
}

#[test]
fn uniform_unit_jitter_follows_stork() {
    // Unit 5 + U[−0.5, 0.5) truncates to 4 or 5 with equal probability.
    let config = AugmentConfig {
        unit_jitter: Some(UnitJitter::Uniform { width: 1.0 }),
        ..AugmentConfig::default()
    };
    let out = config.apply(&constant(20_000, 0.2, 5), 10, 1.0, 4, 0);
    let fours = out.units.iter().filter(|&&u| u == 4).count() as f64 / 20_000.0;
    assert!(out.units.iter().all(|&u| u == 4 || u == 5));
    assert!((fours - 0.5).abs() < 0.015, "{fours}");
    // At the lower border half the positions are negative and dropped; at the upper border
    // none is: u + U[−0.5, 0.5) < channels.
    let low = config.apply(&constant(20_000, 0.2, 0), 10, 1.0, 5, 0).len() as f64;
    assert!((low / 20_000.0 - 0.5).abs() < 0.015, "{low}");
    let high = config.apply(&constant(1000, 0.2, 9), 10, 1.0, 6, 0);
    assert_eq!(high.len(), 1000);
    assert!(high.units.iter().all(|&u| u == 8 || u == 9));
}

#[test]
fn gaussian_unit_jitter_matches_the_normal_distribution() {
    let std = 2.0;
    let config = AugmentConfig {
        unit_jitter: Some(UnitJitter::Gaussian { std }),
        ..AugmentConfig::default()
    };
    let channels = 200;
    let out = config.apply(&constant(40_000, 0.2, 100), channels, 1.0, 7, 0);
    assert_eq!(out.len(), 40_000);
    // P(⌊100 + z⌋ = 100) = P(0 ≤ z < 1) = Φ(0.5) − Φ(0) for z ~ N(0, 2²).
    let same = out.units.iter().filter(|&&u| u == 100).count() as f64 / 40_000.0;
    assert!((same - 0.191_462).abs() < 0.008, "{same}");
    // ⌊100 + z⌋ has mean 99.5 and variance σ² + 1/12.
    let (mean, sd, _) = mean_std(out.units.iter().map(|&u| f64::from(u)));
    assert!((mean - 99.5).abs() < 0.05, "{mean}");
    assert!(
        (sd - (std * std + 1.0 / 12.0f64).sqrt()).abs() < 0.04,
        "{sd}"
    );
    // Near the borders nothing leaves the channel range.
    for unit in [0, channels as u32 - 1] {
        let out = config.apply(&constant(5000, 0.2, unit), channels, 1.0, 8, 0);
        assert!(out.units.iter().all(|&u| (u as usize) < channels));
        let kept = out.len() as f64 / 5000.0;
        // Unit 0 keeps z ≥ 0 (1/2); the last unit keeps z < 1, Φ(0.5) = 0.691.
        let expected = if unit == 0 { 0.5 } else { 0.691_462 };
        assert!((kept - expected).abs() < 0.03, "unit {unit}: {kept}");
    }
}

#[test]
fn unit_shift_moves_a_whole_sample_together() {
    let std = 3.0;
    let config = AugmentConfig {
        unit_shift_std: std,
        ..AugmentConfig::default()
    };
    let shifts: Vec<f64> = (0..4000u64)
        .map(|stream| {
            let out = config.apply(&constant(20, 0.2, 50), 100, 1.0, 9, stream);
            assert!(
                out.units.windows(2).all(|w| w[0] == w[1]),
                "one shift per sample"
            );
            f64::from(out.units[0]) - 50.0
        })
        .collect();
    let (mean, sd, _) = mean_std(shifts.into_iter());
    assert!((mean + 0.5).abs() < 0.2, "{mean}");
    assert!(
        (sd - (std * std + 1.0 / 12.0f64).sqrt()).abs() < 0.15,
        "{sd}"
    );
}

#[test]
fn insertion_adds_uniform_spikes_at_the_configured_rate() {
    let config = AugmentConfig {
        insert_rate_hz: 25.0,
        ..AugmentConfig::default()
    };
    let (channels, duration_s) = (40, 2.0);
    let empty = constant(0, 0.0, 0);
    let out = config.apply(&empty, channels, duration_s, 10, 0);
    assert_eq!(out.len(), 2000, "⌊25 Hz · 40 · 2 s⌋");
    assert!(out.units.iter().all(|&u| (u as usize) < channels));
    assert!(out
        .times_s
        .iter()
        .all(|&t| (0.0..duration_s as f32).contains(&t)));
    // Uniform on [0, 2): mean 1, std 2/√12; uniform units: mean 19.5.
    let (mean_t, sd_t, _) = mean_std(out.times_s.iter().map(|&t| f64::from(t)));
    assert!((mean_t - 1.0).abs() < 0.05, "{mean_t}");
    assert!((sd_t - 2.0 / 12f64.sqrt()).abs() < 0.03, "{sd_t}");
    let (mean_u, _, _) = mean_std(out.units.iter().map(|&u| f64::from(u)));
    assert!((mean_u - 19.5).abs() < 1.0, "{mean_u}");
}

#[test]
fn draws_are_determined_by_seed_and_stream() {
    let config = AugmentConfig {
        time_jitter_s: 1e-3,
        unit_jitter: Some(UnitJitter::Gaussian { std: 1.0 }),
        unit_shift_std: 0.5,
        delete_prob: 0.2,
        insert_rate_hz: 5.0,
    };
    let sample = constant(100, 0.3, 20);
    let a = config.apply(&sample, 40, 1.0, 11, 3);
    assert_eq!(a, config.apply(&sample, 40, 1.0, 11, 3));
    assert_ne!(a, config.apply(&sample, 40, 1.0, 11, 4));
    assert_ne!(a, config.apply(&sample, 40, 1.0, 12, 3));
}

#[test]
fn invalid_values_name_the_field() {
    let bad = |config: AugmentConfig| config.validate().unwrap_err().0;
    let base = AugmentConfig::default;
    assert!(base().validate().is_ok());
    assert_eq!(
        bad(AugmentConfig {
            delete_prob: 1.0,
            ..base()
        }),
        "delete_prob"
    );
    assert_eq!(
        bad(AugmentConfig {
            time_jitter_s: f64::NAN,
            ..base()
        }),
        "time_jitter_s"
    );
    assert_eq!(
        bad(AugmentConfig {
            unit_jitter: Some(UnitJitter::Gaussian { std: -1.0 }),
            ..base()
        }),
        "unit_jitter.std"
    );
}
