//! Helpers shared by the integration tests (not every test file uses each one).
#![allow(dead_code)]

use spikegrad::experiment::{EpochRecord, RunDir};

/// The epoch records of a run, with their wall-clock times zeroed (so that two runs that
/// trained identically compare equal).
pub fn metrics(dir: &RunDir) -> Vec<EpochRecord> {
    std::fs::read_to_string(dir.metrics())
        .unwrap()
        .lines()
        .map(|l| {
            let mut r: EpochRecord = serde_json::from_str(l).unwrap();
            r.seconds = 0.0;
            r
        })
        .collect()
}

/// Random weights that make a network's neurons spike often: feed-forward weights around
/// `3/√inputs` (mostly positive), recurrent in ±0.6, readout in ±1.
pub fn randomize(net: &mut spikegrad::network::Network<f64>, rng: &mut rand_chacha::ChaCha8Rng) {
    use rand::Rng;
    for layer in &mut net.hidden {
        let scale = 3.0 / (layer.w_in.rows as f64).sqrt();
        for w in &mut layer.w_in.data {
            *w = rng.random_range(-0.5..1.5) * scale;
        }
        if let Some(w) = &mut layer.w_rec {
            w.data
                .iter_mut()
                .for_each(|w| *w = rng.random_range(-0.6..0.6));
        }
    }
    for w in &mut net.readout.w.data {
        *w = rng.random_range(-1.0..1.0);
    }
}
