//! The cochlea model against independent references: SciPy's Hankel functions and lauscher's
//! stage outputs (fixtures written by tests/fixtures/cochlea/make_fixtures.py), the local
//! resonance place of the membrane, and properties of the spike output.

use realfft::num_complex::Complex64;
use spikegrad_cochlea::bushy::BushyParams;
use spikegrad_cochlea::hankel::{hankel1_scaled, Order};
use spikegrad_cochlea::{Cochlea, CochleaParams, HairCellParams};
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cochlea")
        .join(name)
}

/// Whitespace-separated numbers, one row per line.
fn rows(name: &str) -> Vec<Vec<f64>> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect()
}

/// The fixture's channel rows as `(channel, samples)`.
fn channel_rows(name: &str) -> Vec<(usize, Vec<f64>)> {
    rows(name)
        .into_iter()
        .map(|r| (r[0] as usize, r[1..].to_vec()))
        .collect()
}

fn tone() -> Vec<f64> {
    rows("tone_input.txt").into_iter().map(|r| r[0]).collect()
}

/// `max |a − b| / max |b|`.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

#[test]
fn hankel_functions_match_scipy() {
    let mut worst = 0.0f64;
    for r in rows("hankel_scipy.txt") {
        let order = if r[0] == 0.0 { Order::Zero } else { Order::One };
        let z = Complex64::new(r[1], r[2]);
        let want = Complex64::new(r[3], r[4]);
        let err = (hankel1_scaled(order, z) - want).norm() / want.norm();
        assert!(
            err < 1e-12,
            "{order:?} z={z}: {} vs {want}",
            hankel1_scaled(order, z)
        );
        worst = worst.max(err);
    }
    println!("largest relative difference to SciPy's hankel1e: {worst:.2e}");
}

#[test]
fn membrane_velocity_matches_lauscher() {
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let ours = cochlea.membrane_velocity(&tone(), 16_000).unwrap();
    assert_eq!(ours.sample_rate_hz, 8000.0);
    let mut worst = 0.0f64;
    for (channel, reference) in channel_rows("tone_velocity.txt") {
        let err = relative_error(&ours.channels[channel], &reference);
        assert!(err < 1e-9, "channel {channel}: relative error {err:.2e}");
        worst = worst.max(err);
    }
    println!("basilar membrane: largest relative difference to lauscher {worst:.2e}");
}

#[test]
fn hair_cells_match_lauscher() {
    let params = HairCellParams::default();
    let velocity = channel_rows("tone_velocity.txt");
    let mut worst = 0.0f64;
    for ((channel, v), (_, reference)) in velocity.iter().zip(channel_rows("tone_probability.txt"))
    {
        let mut prob = vec![0.0; v.len()];
        params.firing_probability(v, 8000.0, &mut prob);
        let err = relative_error(&prob, &reference);
        assert!(err < 1e-12, "channel {channel}: relative error {err:.2e}");
        worst = worst.max(err);
    }
    // And the whole chain up to the hair cells, from the raw tone.
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let ours = cochlea.firing_probability(&tone(), 16_000).unwrap();
    for (channel, reference) in channel_rows("tone_probability.txt") {
        let err = relative_error(&ours.channels[channel], &reference);
        assert!(
            err < 1e-9,
            "chain, channel {channel}: relative error {err:.2e}"
        );
    }
    println!("hair cells: largest relative difference to lauscher {worst:.2e}");
}

/// lauscher draws its spikes from an unseeded generator, so the comparison is statistical:
/// mean output rates for constant firing probabilities, within four standard errors.
#[test]
fn bushy_cell_rates_match_lauscher() {
    let params = BushyParams::default();
    for r in rows("bushy_rates.txt") {
        let (p, rate, seconds, channels, want, std) = (r[0], r[1], r[2], r[3] as usize, r[4], r[5]);
        let prob = vec![p; (rate * seconds) as usize];
        let mut total = 0usize;
        let mut squares = 0.0;
        for ch in 0..channels {
            use rand::SeedableRng;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + ch as u64);
            let n = params.spike_samples(&prob, rate, &mut rng).len();
            total += n;
            squares += (n as f64 / seconds).powi(2);
        }
        let mean = total as f64 / seconds / channels as f64;
        let our_std = (squares / channels as f64 - mean * mean).max(0.0).sqrt();
        let se = ((std * std + our_std * our_std) / channels as f64).sqrt();
        println!("p = {p}: {mean:.2} Hz (lauscher {want:.2} Hz, standard error {se:.2})");
        assert!(
            (mean - want).abs() <= 4.0 * se + 0.5,
            "p={p}: {mean} vs {want} (se {se})"
        );
    }
}

fn pure_tone(freq_hz: f64, rate: u32, seconds: f64) -> Vec<f64> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .map(|i| (2.0 * PI * freq_hz * i as f64 / f64::from(rate)).sin())
        .collect()
}

/// A pure tone moves the membrane most at the place whose local resonance `s(x) = mω²`
/// matches its frequency; the peak moves from the apex to the base as the frequency rises.
#[test]
fn tones_excite_the_matching_place_most() {
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let places = cochlea.membrane().places_cm(700);
    let mut last_peak = usize::MAX;
    for freq in [150.0, 400.0, 1000.0, 2500.0, 6000.0] {
        let velocity = cochlea
            .membrane_velocity(&pure_tone(freq, 16_000, 0.2), 16_000)
            .unwrap();
        let energy: Vec<f64> = velocity
            .channels
            .iter()
            .map(|v| v.iter().map(|x| x * x).sum())
            .collect();
        let peak = (0..700)
            .max_by(|&a, &b| energy[a].total_cmp(&energy[b]))
            .unwrap();
        let resonance = cochlea.membrane().resonance_place_cm(freq);
        println!(
            "{freq} Hz: peak at {:.3} cm, resonance at {resonance:.3} cm",
            places[peak]
        );
        assert!((places[peak] - resonance).abs() < 0.15, "{freq} Hz");
        assert!(
            peak < last_peak,
            "{freq} Hz: peak channel {peak} not basal of {last_peak}"
        );
        last_peak = peak;
    }
}

#[test]
fn spikes_are_seeded_sorted_and_refractory() {
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    let mut signal = pure_tone(800.0, 16_000, 0.3);
    for (i, x) in signal.iter_mut().enumerate() {
        *x += 0.5 * (2.0 * PI * 3100.0 * i as f64 / 16_000.0).sin();
    }
    let a = cochlea.audio_to_spikes(&signal, 16_000, 7).unwrap();
    let b = cochlea.audio_to_spikes(&signal, 16_000, 7).unwrap();
    let c = cochlea.audio_to_spikes(&signal, 16_000, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.times_s.len() > 100, "{} spikes", a.times_s.len());
    // One thread gives the same spikes as many: the streams are per channel.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    assert_eq!(
        single.install(|| cochlea.audio_to_spikes(&signal, 16_000, 7).unwrap()),
        a
    );
    let pairs: Vec<(f64, u32)> = a
        .times_s
        .iter()
        .copied()
        .zip(a.units.iter().copied())
        .collect();
    assert!(
        pairs.windows(2).all(|w| w[0] <= w[1]),
        "not sorted by time, then unit"
    );
    let mut last = vec![f64::NEG_INFINITY; 700];
    for &(t, u) in &pairs {
        assert!(
            t - last[u as usize] > 1e-3,
            "unit {u}: spikes at {} and {t}",
            last[u as usize]
        );
        last[u as usize] = t;
    }
    assert!(a.times_s.iter().all(|&t| (0.0..0.3).contains(&t)));
}

#[test]
fn silent_or_broken_input_is_an_error() {
    let cochlea = Cochlea::new(CochleaParams::default()).unwrap();
    assert!(cochlea.audio_to_spikes(&[0.0; 100], 16_000, 1).is_err());
    assert!(cochlea
        .audio_to_spikes(&[0.1, f64::NAN], 16_000, 1)
        .is_err());
    assert!(cochlea.audio_to_spikes(&[0.1, 0.2], 1, 1).is_err());
    let bad = CochleaParams {
        channels: 0,
        ..CochleaParams::default()
    };
    let err = Cochlea::new(bad).unwrap_err().to_string();
    assert!(err.contains("cochlea.channels"), "{err}");
}
