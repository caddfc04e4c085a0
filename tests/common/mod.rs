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

/// Writes an image file of the `images` source: `/images` uint8 `[N, side, side]` (pixels
/// row-major) and `/labels` uint8 `[N]`.
pub fn write_images(path: &std::path::Path, side: usize, pixels: Vec<u8>, labels: Vec<u8>) {
    use spikegrad::io::hdf5::{DatasetData, Datatype, Hdf5Writer};
    assert_eq!(pixels.len(), labels.len() * side * side);
    let mut w = Hdf5Writer::new();
    let images = DatasetData::Array {
        dtype: Datatype::uint(1),
        shape: vec![labels.len() as u64, side as u64, side as u64],
        bytes: pixels,
    };
    w.add("images", images).unwrap();
    let labels = DatasetData::Numbers {
        dtype: Datatype::uint(1),
        bytes: labels,
    };
    w.add("labels", labels).unwrap();
    let mut bytes = std::io::Cursor::new(Vec::new());
    w.write_to(&mut bytes).unwrap();
    std::fs::write(path, bytes.into_inner()).unwrap();
}
