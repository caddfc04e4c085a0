//! The primate-reaching loader against the MATLAB v7.3 fixture written by
//! `scripts/make_reaching_fixture.py` (values NeuroBench's preprocessing gives, computed by
//! NumPy in `expected.json`), corrupt files, the split and windows, and the synthetic source.

use super::*;
use crate::config::{DataSource, ExperimentConfig};
use crate::data::BatchTargets;
use crate::io::hdf5::{DatasetData, Datatype, Hdf5Reader, Hdf5Writer};
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reaching")
}

fn fixture() -> PathBuf {
    fixture_dir().join("indy_fixture.mat")
}

#[derive(serde::Deserialize)]
struct Expected {
    steps: usize,
    channels: usize,
    units: usize,
    active_steps: Vec<Vec<usize>>,
    velocity: Vec<f64>,
    segments: Vec<[usize; 2]>,
    train_ratio: f64,
    split: ExpectedSplit,
    spike_counts: std::collections::BTreeMap<String, usize>,
}

#[derive(serde::Deserialize)]
struct ExpectedSplit {
    train: Vec<usize>,
    valid: Vec<usize>,
    test: Vec<usize>,
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_fixture_reads_exactly() {
    let e = expected();
    let mat = read_mat_session(&fixture()).unwrap();
    assert_eq!((mat.t_s.len(), mat.channels()), (e.steps, e.channels));
    for (channel, units) in mat.spikes.iter().enumerate() {
        assert_eq!(units.len(), e.units);
        for (unit, times) in units.iter().enumerate() {
            assert_eq!(times.len(), e.spike_counts[&format!("{unit},{channel}")]);
        }
    }
    let session = bin_session(&mat).unwrap();
    assert_eq!((session.steps(), session.channels), (e.steps, e.channels));
    let mut active_steps = vec![Vec::new(); e.channels];
    for (step, channels) in session.active.iter().enumerate() {
        assert!(channels.windows(2).all(|w| w[0] < w[1]));
        for &c in channels {
            active_steps[c as usize].push(step);
        }
    }
    assert_eq!(active_steps, e.active_steps);
    let velocity: Vec<f32> = session.velocity.iter().flatten().copied().collect();
    let want: Vec<f32> = e.velocity.iter().map(|&v| v as f32).collect();
    assert_eq!(velocity, want);
    let segs: Vec<[usize; 2]> = segments(&session.target_pos)
        .iter()
        .map(|r| [r.start, r.end])
        .collect();
    assert_eq!(segs, e.segments);
    let split = neurobench_split(&segments(&session.target_pos), e.train_ratio);
    assert_eq!(split.train.collect::<Vec<_>>(), e.split.train);
    assert_eq!(split.valid.collect::<Vec<_>>(), e.split.valid);
    assert_eq!(split.test.collect::<Vec<_>>(), e.split.test);
}

#[test]
fn edge_spikes_follow_numpy_histogram() {
    // Hand-placed spikes of channel 1: t[10] (on an edge) and t[10] + 1, 2 ms (same bin) mark
    // step 12 once; edges[0] marks step 1; the spike on the last edge marks step T (dropped).
    let session = bin_session(&read_mat_session(&fixture()).unwrap()).unwrap();
    assert!(session.active[12].contains(&0));
    assert!(session.active[1].contains(&0));
    assert!(session.active[7].contains(&0)); // t[5]
    assert!(session.active[0].is_empty());
}

#[test]
fn samples_are_windows_of_the_session() {
    let session = bin_session(&read_mat_session(&fixture()).unwrap()).unwrap();
    let windows = ReachingWindows {
        sample_steps: 40,
        hop_steps: 15,
        train_ratio: 0.5,
    };
    let data = session_samples(&session, &windows).unwrap();
    assert_eq!(data.steps.train, 0..228);
    assert_eq!(data.split.train.len(), (228 - 40) / 15 + 1);
    assert_eq!(data.split.valid.len(), 81 / 40);
    assert_eq!(data.split.test.len(), 91 / 40);
    assert_eq!(data.dataset.channels, 6);
    assert_eq!(data.dataset.value_dims(), Some(2));
    assert!((data.dataset.duration_s - 0.16).abs() < 1e-12);
    for (i, &start) in data.window_starts.iter().enumerate() {
        let in_split = |r: &std::ops::Range<usize>| r.start <= start && start + 40 <= r.end;
        let range = if data.split.train.contains(&i) {
            &data.steps.train
        } else if data.split.valid.contains(&i) {
            &data.steps.valid
        } else {
            &data.steps.test
        };
        assert!(in_split(range));
    }
    let index = data.split.valid[1];
    let start = data.window_starts[index];
    let batch = data.dataset.bin(&[index], BIN_S, 40).unwrap();
    assert_eq!(batch.dropped + batch.collapsed, 0);
    for k in 0..40 {
        let mut step = batch.spikes.row(k).to_vec();
        step.sort_unstable();
        assert_eq!(step, session.active[start + k]);
    }
    let BatchTargets::Series(targets) = &batch.targets else {
        panic!("per-step targets expected");
    };
    for k in 0..40 {
        assert_eq!(targets.row(k, 0), session.velocity[start + k]);
    }
    assert_eq!(session_samples(&session, &windows).unwrap(), data);
}

fn write(path: &Path, arrays: &[(&str, Datatype, Vec<u64>, Vec<u8>)]) {
    let mut w = Hdf5Writer::new();
    for (name, dtype, shape, bytes) in arrays {
        let data = DatasetData::Array {
            dtype: dtype.clone(),
            shape: shape.clone(),
            bytes: bytes.clone(),
        };
        w.add(name, data).unwrap();
    }
    let mut out = std::io::Cursor::new(Vec::new());
    w.write_to(&mut out).unwrap();
    std::fs::write(path, out.into_inner()).unwrap();
}

fn f64_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
    values.into_iter().flat_map(f64::to_le_bytes).collect()
}

/// Loads a file of `t` (spacing `dt_s`), `cursor_pos` of `cursor_shape`, a `target_pos` and
/// `spikes` as a float array, and returns the error message.
fn load_error(dt_s: f64, cursor_shape: [u64; 2], cursor_value: f64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mat");
    let steps = 10u64;
    let f = Datatype::float(8);
    write(
        &path,
        &[
            (
                "t",
                f.clone(),
                vec![1, steps],
                f64_bytes((0..steps).map(|i| i as f64 * dt_s)),
            ),
            (
                "cursor_pos",
                f.clone(),
                cursor_shape.to_vec(),
                f64_bytes((0..20).map(|_| cursor_value)),
            ),
            (
                "target_pos",
                f.clone(),
                vec![2, steps],
                f64_bytes((0..20).map(|_| 1.0)),
            ),
            ("spikes", f, vec![1, 2], f64_bytes([0.5, 0.7])),
        ],
    );
    let err = PrimateReachingConfig::new(&path)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.mat"), "{err}");
    err
}

#[test]
fn wrong_types_and_shapes_are_named() {
    let spikes = load_error(0.004, [2, 10], 1.0);
    assert!(
        spikes.contains("/spikes") && spikes.contains("expected object references"),
        "{spikes}"
    );
    let shape = load_error(0.004, [10, 2], 1.0);
    assert!(
        shape.contains("/cursor_pos") && shape.contains("expected [2, 10]"),
        "{shape}"
    );
    let nan = load_error(0.004, [2, 10], f64::NAN);
    assert!(
        nan.contains("/cursor_pos") && nan.contains("not finite"),
        "{nan}"
    );
    let dt = PrimateReachingConfig::new(fixture());
    assert!(dt.load().is_ok());
    // A 1 ms clock passes the reader but not the 4 ms preprocessing.
    let clock = load_error(0.001, [2, 10], 1.0);
    assert!(clock.contains("/spikes"), "{clock}");
    let missing = PrimateReachingConfig::new(fixture_dir().join("nope.mat"));
    assert!(matches!(missing.load(), Err(DataError::Hdf5 { .. })));
}

/// The fixture's bytes after `edit`, loaded.
fn load_edited(edit: impl FnOnce(&mut Vec<u8>)) -> Result<ReachingData, DataError> {
    let mut bytes = std::fs::read(fixture()).unwrap();
    edit(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.mat");
    std::fs::write(&path, bytes).unwrap();
    PrimateReachingConfig::new(&path).load()
}

#[test]
fn truncated_files_are_errors() {
    let len = std::fs::metadata(fixture()).unwrap().len() as usize;
    for keep in [0, 300, 800, len / 3, len / 2, len - 8] {
        let err = load_edited(|b| b.truncate(keep)).unwrap_err();
        assert!(matches!(err, DataError::Hdf5 { .. }), "{keep}: {err}");
    }
}

#[test]
fn broken_references_and_markers_are_errors() {
    let reader = Hdf5Reader::open(&fixture()).unwrap();
    let spikes = reader.dataset("/spikes").unwrap();
    let refs = reader.read_object_refs(&spikes).unwrap();
    let raw: Vec<u8> = refs.iter().flat_map(|a| a.to_le_bytes()).collect();
    let bytes = std::fs::read(fixture()).unwrap();
    let at = bytes
        .windows(raw.len())
        .position(|w| w == raw.as_slice())
        .unwrap();
    for bad in [3u64, 1 << 40, u64::MAX] {
        let err = load_edited(|b| b[at..at + 8].copy_from_slice(&bad.to_le_bytes())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/spikes{channel 1, unit 1}"), "{text}");
    }
    // Without its MATLAB_empty attribute, the empty marker is a uint64 array, not spike times.
    let name = b"MATLAB_empty";
    let err = load_edited(|b| {
        let i = b.windows(name.len()).position(|w| w == name).unwrap();
        b[i + 11] = b'x';
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("uint64 without the MATLAB_empty attribute"),
        "{err}"
    );
}

#[test]
fn corrupt_bytes_give_errors_not_panics() {
    let len = std::fs::metadata(fixture()).unwrap().len() as usize;
    for at in (0..len).step_by(89) {
        let _ = load_edited(|b| b[at] ^= 0xa5);
    }
}

#[test]
fn segments_and_split_follow_neurobench() {
    let targets: Vec<[f64; 2]> = [0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0]
        .iter()
        .map(|&x| [x, 0.0])
        .collect();
    // Changes after steps 0, 3, 5 and 8: an empty first segment, as NeuroBench keeps it.
    let segs = segments(&targets);
    assert_eq!(segs, [0..0, 0..3, 3..5, 5..8, 8..10]);
    let split = neurobench_split(&segs, 0.5);
    assert_eq!((split.train, split.valid, split.test), (0..3, 3..5, 5..10));
    let split = neurobench_split(&segs, 0.8);
    assert_eq!((split.train, split.valid, split.test), (0..8, 8..8, 8..10));
    assert_eq!(window_starts(&(3..20), 5, 4), [3, 7, 11, 15]);
    assert!(window_starts(&(3..7), 5, 1).is_empty());
}

#[test]
fn velocity_is_torch_gradient() {
    let pos = [[0.0, 1.0], [1.0, 1.0], [4.0, 0.0], [9.0, -2.0]];
    assert_eq!(
        velocity_of(&pos),
        [[1.0, 0.0], [2.0, -0.5], [4.0, -1.5], [5.0, -2.0]]
    );
}

#[test]
fn only_a_4_ms_clock_is_binned() {
    let mut mat = read_mat_session(&fixture()).unwrap();
    for (i, t) in mat.t_s.iter_mut().enumerate() {
        *t = i as f64 * 0.001;
    }
    let err = bin_session(&mat).unwrap_err().to_string();
    assert!(err.contains("needs 4 ms"), "{err}");
}

fn velocity_of(pos: &[[f64; 2]]) -> Vec<[f32; 2]> {
    binning::velocity(pos)
}

fn small_synthetic(channels: usize, seed: u64) -> SyntheticReachingConfig {
    SyntheticReachingConfig {
        channels,
        duration_s: 120.0,
        seed,
        ..SyntheticReachingConfig::default()
    }
}

#[test]
fn synthetic_sessions_are_seeded() {
    let a = generate_reaching(&small_synthetic(96, 3)).unwrap();
    assert_eq!(a, generate_reaching(&small_synthetic(96, 3)).unwrap());
    assert_ne!(
        a.session.active,
        generate_reaching(&small_synthetic(96, 4))
            .unwrap()
            .session
            .active
    );
    let wide = generate_reaching(&small_synthetic(192, 3)).unwrap();
    assert_eq!(wide.session.channels, 192);
    assert!(wide.session.active.iter().flatten().any(|&c| c >= 96));
    assert_eq!(a.session.steps(), 30_000);
}

#[test]
fn synthetic_reaches_are_minimum_jerk_center_out() {
    let s = generate_reaching(&small_synthetic(8, 1)).unwrap();
    let segs = segments(&s.session.target_pos);
    assert!(segs.len() > 100, "{} segments", segs.len());
    for seg in &segs[1..segs.len() - 1] {
        // Each segment ends (its hold) at its target, 80 mm out or at the center.
        let target = s.session.target_pos[seg.end - 1];
        let end = s.position[seg.end - 1];
        assert!((end[0] - target[0]).abs() < 1e-9 && (end[1] - target[1]).abs() < 1e-9);
        let r = target[0].hypot(target[1]);
        assert!(r < 1e-9 || (r - 80.0).abs() < 1e-9);
    }
    // Peak speed of a minimum-jerk reach: 1.875 · 80 mm / (0.4–0.7 s), per 4 ms step.
    let peak = s
        .session
        .velocity
        .iter()
        .map(|v| f64::from(v[0]).hypot(f64::from(v[1])))
        .fold(0.0, f64::max);
    assert!(peak <= 1.875 * 80.0 / 0.4 * BIN_S * 1.01, "{peak}");
    assert!(peak >= 1.875 * 80.0 / 0.7 * BIN_S * 0.99, "{peak}");
}

#[test]
fn synthetic_tuning_is_recoverable() {
    let s = generate_reaching(&small_synthetic(32, 7)).unwrap();
    let steps = s.session.steps();
    // Rate at rest (speed below 1 mm/s) against the baselines.
    let still: Vec<usize> = (0..steps)
        .filter(|&i| {
            let v = s.session.velocity[i];
            f64::from(v[0]).hypot(f64::from(v[1])) < BIN_S
        })
        .collect();
    assert!(still.len() > steps / 5);
    let mut counts = vec![0usize; 32];
    for &i in &still {
        for &c in &s.session.active[i] {
            counts[c as usize] += 1;
        }
    }
    let seconds = still.len() as f64 * BIN_S;
    for (c, tuning) in s.tuning.iter().enumerate() {
        let p = 1.0 - (-tuning.baseline_hz * BIN_S).exp();
        let expected = p * still.len() as f64;
        let sd = (expected * (1.0 - p)).sqrt();
        assert!(
            (counts[c] as f64 - expected).abs() < 5.0 * sd,
            "channel {c}: {} Hz",
            counts[c] as f64 / seconds
        );
        assert!((5.0..=20.0).contains(&tuning.baseline_hz));
    }
    // The preferred direction from a least-squares fit of spikes on velocity.
    let mut recovered = 0;
    for (c, tuning) in s.tuning.iter().enumerate() {
        let (mut sxx, mut sxy, mut syy, mut sx, mut sy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..steps {
            let v = s.session.velocity[i];
            let (vx, vy) = (f64::from(v[0]), f64::from(v[1]));
            let spike = if s.session.active[i].contains(&(c as u32)) {
                1.0
            } else {
                0.0
            };
            sxx += vx * vx;
            sxy += vx * vy;
            syy += vy * vy;
            sx += vx * spike;
            sy += vy * spike;
        }
        let det = sxx * syy - sxy * sxy;
        let bx = (syy * sx - sxy * sy) / det;
        let by = (sxx * sy - sxy * sx) / det;
        let error = (by.atan2(bx) - tuning.preferred_rad).rem_euclid(std::f64::consts::TAU);
        let error = error.min(std::f64::consts::TAU - error);
        if error < 20f64.to_radians() {
            recovered += 1;
        }
    }
    assert!(
        recovered >= 29,
        "{recovered} of 32 preferred directions within 20°"
    );
}

#[test]
fn configs_parse_and_prepare() {
    let text = r#"
        seed = 3
        [data.source]
        kind = "synthetic_reaching"
        channels = 16
        duration_s = 60.0
        [network]
        dt_ms = 4.0
        [training]
        loss = "mse"
    "#;
    let mut config: ExperimentConfig = toml::from_str(text).unwrap();
    let DataSource::SyntheticReaching(source) = &config.data.source else {
        panic!("synthetic_reaching expected");
    };
    assert_eq!(
        (source.sample_steps, source.hop_steps, source.train_ratio),
        (500, 100, 0.5)
    );
    config.network.spiking_mut().unwrap().hidden[0].size = 8;
    let exp = crate::experiment::Experiment::prepare(config.clone()).unwrap();
    assert_eq!(exp.steps, 500);
    let spec = exp.config.network.spiking().unwrap();
    assert_eq!((spec.inputs, spec.readout.size), (16, 2));
    config.training.loss = crate::losses::LossKind::LastStepCe;
    assert!(config.validate().unwrap_err().to_string().contains("mse"));
    let text = "kind = \"primate_reaching\"\npath = \"indy_20160622_01.mat\"\nsample_steps = 250\n";
    let source: DataSource = toml::from_str(text).unwrap();
    let DataSource::PrimateReaching(r) = source else {
        panic!("primate_reaching expected");
    };
    assert_eq!(
        (r.sample_steps, r.hop_steps, r.train_ratio),
        (250, 100, 0.5)
    );
    assert!(
        toml::from_str::<DataSource>("kind = \"primate_reaching\"\npath = \"a\"\nbins = 3\n")
            .is_err()
    );
}
