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

/// Randman train and test files (3 classes, 20 and 5 samples per class) in the SHD layout,
/// class names "a", "b", "c".
pub fn randman_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use spikegrad::data::{generate_randman, RandmanConfig};
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let mut paths = Vec::new();
    for (name, seed, per_class) in [("train.h5", 1, 20), ("test.h5", 2, 5)] {
        let config = RandmanConfig {
            nb_classes: 3,
            nb_samples: per_class,
            seed,
            ..RandmanConfig::default()
        };
        let data = generate_randman(&config).unwrap();
        let path = dir.join(name);
        spikegrad::data::write_shd(&path, &data, Some(&names), None).unwrap();
        paths.push(path);
    }
    (paths[0].clone(), paths[1].clone())
}

/// Hidden layer `k`'s stored spikes of a `spikegrad run` output: shape and values.
pub fn stored_spikes(path: &std::path::Path, k: usize) -> (Vec<u64>, Vec<i64>) {
    stored_spikes_in(path, "", k)
}

/// [`stored_spikes`] under `group` (`"/snntorch"`: `/snntorch/hidden/{k}/spikes`).
pub fn stored_spikes_in(path: &std::path::Path, group: &str, k: usize) -> (Vec<u64>, Vec<i64>) {
    let r = spikegrad::io::hdf5::Hdf5Reader::open(path).unwrap();
    let ds = r.dataset(&format!("{group}/hidden/{k}/spikes")).unwrap();
    let raw = r.read_all_raw(&ds).unwrap();
    let mut out = Vec::new();
    ds.dtype.decode_ints(&raw, &mut out).unwrap();
    (ds.shape, out)
}
