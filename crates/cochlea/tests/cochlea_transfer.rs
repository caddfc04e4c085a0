//! The fast evaluation of the basilar-membrane transfer function against the literal one
//! (`TransferMethod::Reference`): every channel's membrane velocity must agree to 1e-9 of
//! that channel's peak |velocity|, on a pure tone and on broadband noise, at several rates.

use spikegrad_cochlea::{BasilarMembrane, Cochlea, CochleaParams, TransferMethod};
use std::f64::consts::PI;

fn tone(freq_hz: f64, rate: u32, seconds: f64) -> Vec<f64> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| (2.0 * PI * freq_hz * i as f64 / f64::from(rate)).sin())
        .collect()
}

/// Uniform white noise from a fixed linear congruential generator (broadband).
fn noise(rate: u32, seconds: f64) -> Vec<f64> {
    let n = (f64::from(rate) * seconds) as usize;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn velocity(
    membrane: &BasilarMembrane,
    method: TransferMethod,
    input: &[f64],
    rate: u32,
) -> Vec<Vec<f64>> {
    membrane.filter_channels_with(method, input, rate, 700, |_, v| v.to_vec())
}

/// Largest `max_t |fast − reference| / max_t |reference|` over channels.
fn worst_channel_error(signal: &[f64], rate: u32) -> f64 {
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let input = cochlea.prepare(signal, rate).unwrap();
    let membrane = cochlea.membrane();
    let fast = velocity(membrane, TransferMethod::Fast, &input, rate);
    let reference = velocity(membrane, TransferMethod::Reference, &input, rate);
    let mut worst = 0.0f64;
    for (channel, (a, b)) in fast.iter().zip(&reference).enumerate() {
        let peak = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak > 0.0, "channel {channel} is silent");
        let diff = a
            .iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            diff <= 1e-9 * peak,
            "channel {channel}: {:.2e} of its peak",
            diff / peak
        );
        worst = worst.max(diff / peak);
    }
    worst
}

#[test]
fn fast_transfer_matches_the_reference_on_a_tone() {
    // The 7.5 kHz tone lies far above the apical channels' skipped tails, so that their
    // output is the tone through the tail: the filter must notice and evaluate it.
    for (freq, rate) in [(440.0, 16_000), (3000.0, 48_000), (7500.0, 16_000)] {
        let worst = worst_channel_error(&tone(freq, rate, 0.1), rate);
        println!("{freq} Hz tone at {rate} Hz: largest channel error {worst:.1e} of the peak");
    }
}

#[test]
fn fast_transfer_matches_the_reference_on_noise() {
    for rate in [16_000, 22_050, 48_000] {
        let worst = worst_channel_error(&noise(rate, 0.1), rate);
        println!("noise at {rate} Hz: largest channel error {worst:.1e} of the peak");
    }
}

/// Point values of the two evaluations across the plane of frequency and place.
#[test]
fn fast_and_reference_transfer_agree_pointwise() {
    let membrane = BasilarMembrane::new(Default::default());
    let mut worst = 0.0f64;
    for k in 0..400 {
        let omega = 2.0 * PI * (1.0 + 24_000.0 * (k as f64 / 399.0).powi(2));
        for place in [0.0, 0.3, 1.0, 1.7, 2.5, 3.1, 3.5] {
            let a = membrane.transfer(omega, place, TransferMethod::Fast);
            let b = membrane.transfer(omega, place, TransferMethod::Reference);
            let err = (a - b).norm() / b.norm();
            assert!(err < 1e-11, "ω = {omega}, x = {place}: {a} vs {b}");
            worst = worst.max(err);
        }
    }
    println!("pointwise: largest relative difference {worst:.1e}");
}

/// The cached transfer matrix gives bit-for-bit the spikes of the direct path, for signals
/// of one shape and of another, and the cache keeps within its budget.
#[test]
fn cached_conversion_equals_the_direct_one() {
    use spikegrad_cochlea::TransferCache;
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let bytes_per_matrix = |n: usize| 700 * (n / 2 + 1) * 16;
    let mut cache = TransferCache::new(bytes_per_matrix(1600) + bytes_per_matrix(800));
    let signals = [
        tone(700.0, 16_000, 0.1),
        noise(16_000, 0.1),
        noise(16_000, 0.05),
        tone(1500.0, 16_000, 0.1),
    ];
    for (k, signal) in signals.iter().enumerate() {
        let direct = cochlea.audio_to_spikes(signal, 16_000, k as u64).unwrap();
        let cached = cochlea
            .audio_to_spikes_cached(&mut cache, signal, 16_000, k as u64)
            .unwrap();
        assert!(!direct.times_s.is_empty(), "signal {k} gives no spikes");
        assert_eq!(direct, cached, "signal {k}");
        assert!(cache.bytes() <= bytes_per_matrix(1600) + bytes_per_matrix(800));
    }
    assert_eq!(
        cache.bytes(),
        bytes_per_matrix(1600) + bytes_per_matrix(800)
    );
    // A budget below one matrix caches nothing and still converts.
    let mut small = TransferCache::new(1000);
    let direct = cochlea.audio_to_spikes(&signals[0], 16_000, 3).unwrap();
    let cached = cochlea
        .audio_to_spikes_cached(&mut small, &signals[0], 16_000, 3)
        .unwrap();
    assert_eq!(direct, cached);
    assert_eq!(small.bytes(), 0);
}
