//! The Braille letter recordings: the h5py-written fixture (tests/fixtures/braille), the shared
//! data file (skipped when absent), the sigma-delta encoding, broken files and the config.

use spikegrad::config::{DataSource, ExperimentConfig};
use spikegrad::data::{read_braille, BrailleEncoding, DataError, Target};
use spikegrad::experiment::Experiment;
use spikegrad::io::hdf5::{DatasetData, Datatype, Hdf5Writer};
use std::path::{Path, PathBuf};

/// The shared data file, relative to the repository.
const SHARED: &str = "../shared/data/braille/braille_taxels.h5";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/braille/braille_small.h5")
}

/// The shared file, or `None` (with a message saying the test is skipped) when it is absent.
fn shared_file() -> Option<PathBuf> {
    let path = repo().join(SHARED);
    if path.exists() {
        return Some(path);
    }
    println!("SKIPPED: {SHARED} is absent (the Braille recordings live beside the repository)");
    None
}

#[test]
fn fixture_reads_with_chunks_cut_along_every_dimension() {
    let data = read_braille(&fixture()).unwrap();
    let lengths = [7, 6, 7, 5, 7];
    assert_eq!((data.len(), data.max_steps, data.taxels), (5, 7, 3));
    assert_eq!(data.lengths, lengths);
    assert_eq!(data.labels, [0, 1, 2, 1, 0]);
    assert_eq!(data.repetition, [0, 0, 0, 1, 1]);
    assert_eq!(data.class_names, ["Space", "A", "B"]);
    assert_eq!(data.sample_rate_hz, 40.0);
    for (i, &len) in lengths.iter().enumerate() {
        for s in 0..7 {
            for t in 0..3 {
                let expected = if s < len {
                    255.0 - ((7 * i + 3 * s + 5 * t) % 40) as f32
                } else {
                    0.0
                };
                assert_eq!(data.values[(i * 7 + s) * 3 + t], expected, "{i} {s} {t}");
            }
        }
        assert_eq!(data.signal(i).unwrap().len(), len * 3);
    }
    assert!(data.signal(5).is_none());
}

#[test]
fn shared_file_has_the_documented_shape_and_values() {
    let Some(path) = shared_file() else { return };
    let data = read_braille(&path).unwrap();
    assert_eq!((data.len(), data.max_steps, data.taxels), (1350, 77, 12));
    assert_eq!(data.class_names.len(), 27);
    assert_eq!(data.class_names[0], "Space");
    assert_eq!(data.class_names[26], "Z");
    assert!(data.lengths.iter().all(|&l| l == 76 || l == 77));
    assert_eq!(data.lengths.iter().filter(|&&l| l == 77).count(), 459);
    for class in 0..27 {
        assert_eq!(data.labels.iter().filter(|&&l| l == class).count(), 50);
    }
    // Values checked with h5py.
    assert_eq!(
        (data.labels[777], data.repetition[777], data.lengths[777]),
        (15, 27, 76)
    );
    assert_eq!((data.labels[1349], data.repetition[1349]), (26, 49));
    let row = |i: usize, s: usize| &data.values[(i * 77 + s) * 12..(i * 77 + s + 1) * 12];
    let first = [
        255., 227., 255., 255., 255., 255., 94., 255., 255., 255., 248., 255.,
    ];
    assert_eq!(row(0, 0), first);
    let later = [
        255., 240., 255., 255., 255., 255., 100., 255., 255., 255., 245., 255.,
    ];
    assert_eq!(row(777, 10), later);
    assert!(
        row(0, 76).iter().all(|&x| x == 0.0),
        "padding after 76 steps"
    );
    let sum: f64 = data.values.iter().map(|&x| f64::from(x)).sum();
    assert_eq!(sum, 295_422_785.0);
}

#[test]
fn shared_file_encodes_like_the_benchmark() {
    let Some(path) = shared_file() else { return };
    let data = read_braille(&path).unwrap();
    let encode = |threshold| {
        data.encode(&BrailleEncoding::SigmaDelta { threshold })
            .unwrap()
    };
    let events = encode(1.0);
    assert_eq!(events.channels, 24);
    assert_eq!(events.num_classes, Some(27));
    assert!((events.duration_s - 77.0 / 40.0).abs() < 1e-12);
    // Totals from the benchmark's utils/event_transform.py (sample_to_changes, 2022) run
    // on this file.
    let total =
        |d: &spikegrad::data::EventDataset| -> usize { d.samples.iter().map(|s| s.len()).sum() };
    assert_eq!(total(&events), 423_380usize);
    assert_eq!(total(&encode(10.0)), 20_466usize);
    // Sample 0: events only on taxels 1, 6 and 10 (ON, OFF counts), first times in seconds.
    let s0 = &events.samples[0];
    assert_eq!(s0.target, Target::Class(0));
    let count = |unit: u32| s0.units.iter().filter(|&&u| u == unit).count();
    let counts: Vec<usize> = (0..24).map(count).collect();
    let mut expected = vec![0; 24];
    for (unit, n) in [(2, 42), (3, 42), (12, 29), (13, 34), (20, 21), (21, 22)] {
        expected[unit] = n;
    }
    assert_eq!(counts, expected);
    let times = |unit: u32| -> Vec<f32> {
        let mut t: Vec<f32> = s0
            .times_s
            .iter()
            .zip(&s0.units)
            .filter(|(_, &u)| u == unit)
            .map(|(&t, _)| t)
            .collect();
        t.sort_by(f32::total_cmp);
        t.truncate(3);
        t
    };
    assert_eq!(times(2), [0.05, 0.15, 0.3]);
    assert_eq!(times(3), [0.0875, 0.1, 0.1875]);
    assert_eq!(times(12), [0.2, 0.2375, 0.25]);
}

fn write(path: &Path, datasets: Vec<(&str, DatasetData)>) {
    let mut w = Hdf5Writer::new();
    for (name, data) in datasets {
        w.add(name, data).unwrap();
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    w.write_to(&mut bytes).unwrap();
    std::fs::write(path, bytes.into_inner()).unwrap();
}

fn u16s(values: &[u16]) -> DatasetData {
    DatasetData::Numbers {
        dtype: Datatype::uint(2),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// A valid two-sample file (2 steps, 2 taxels) with the named datasets replaced or removed.
fn hand_made(path: &Path, replace: &str, with: Option<DatasetData>) {
    let taxels: Vec<f32> = vec![255.0, 250.0, 253.0, 250.0, 255.0, 255.0, 0.0, 0.0];
    let mut datasets = vec![
        (
            "taxels",
            DatasetData::Array {
                dtype: Datatype::float(4),
                shape: vec![2, 2, 2],
                bytes: taxels.iter().flat_map(|v| v.to_le_bytes()).collect(),
            },
        ),
        ("lengths", u16s(&[2, 1])),
        (
            "labels",
            DatasetData::Numbers {
                dtype: Datatype::uint(1),
                bytes: vec![1, 0],
            },
        ),
        (
            "classes",
            DatasetData::Array {
                dtype: Datatype::FixedString { size: 5 },
                shape: vec![2],
                bytes: b"SpaceA\0\0\0\0".to_vec(),
            },
        ),
        ("repetition", u16s(&[0, 0])),
    ];
    datasets.retain(|(name, _)| *name != replace);
    if let Some(data) = with {
        datasets.push((replace, data));
    }
    write(path, datasets);
}

#[test]
fn hand_made_file_reads_and_encodes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.h5");
    hand_made(&path, "", None);
    let data = read_braille(&path).unwrap();
    assert_eq!(data.class_names, ["Space", "A"]);
    assert_eq!(data.signal(0).unwrap(), [255.0, 250.0, 253.0, 250.0]);
    assert_eq!(data.signal(1).unwrap(), [255.0, 255.0]);
    let events = data
        .encode(&BrailleEncoding::SigmaDelta { threshold: 1.0 })
        .unwrap();
    assert_eq!(events.channels, 4);
    assert!((events.duration_s - 2.0 / 40.0).abs() < 1e-12);
    // Taxel 0 of sample 0: 255 -> 253, a pressure rise of 2: ON events at 1/2 and 1 sample.
    let s0 = &events.samples[0];
    assert_eq!(s0.units, [0, 0]);
    assert_eq!(s0.times_s, [0.5 / 40.0, 1.0 / 40.0]);
    assert_eq!(s0.target, Target::Class(1));
    assert!(events.samples[1].is_empty());
}

fn reason(err: DataError) -> String {
    err.to_string()
}

#[test]
fn broken_files_give_errors_naming_file_and_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.h5");
    let msg = reason(read_braille(&missing).unwrap_err());
    assert!(msg.contains("nope.h5"), "{msg}");

    let garbage = dir.path().join("garbage.h5");
    std::fs::write(&garbage, b"not an HDF5 file at all").unwrap();
    let msg = reason(read_braille(&garbage).unwrap_err());
    assert!(msg.contains("garbage.h5") && msg.contains("HDF5"), "{msg}");

    let cases: Vec<(&str, Option<DatasetData>, &str)> = vec![
        ("repetition", None, "/repetition: dataset not found"),
        ("lengths", Some(u16s(&[2, 1, 1])), "/lengths: has 3 rows"),
        ("lengths", Some(u16s(&[2, 3])), "sample 1: length 3 exceeds"),
        (
            "labels",
            Some(DatasetData::Numbers {
                dtype: Datatype::uint(1),
                bytes: vec![1, 2],
            }),
            "sample 1: label 2 has no name",
        ),
        (
            "taxels",
            Some(DatasetData::Numbers {
                dtype: Datatype::float(4),
                bytes: vec![0; 8],
            }),
            "/taxels: expected a 3-D float dataset",
        ),
        (
            "taxels",
            Some(DatasetData::Array {
                dtype: Datatype::float(4),
                shape: vec![2, 2, 1],
                bytes: [1.0f32, f32::NAN, 0.0, 0.0]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            }),
            "/taxels: sample 0: value NaN is not a sensor reading",
        ),
        (
            // A huge reading would make the sigma-delta encoding emit without bound.
            "taxels",
            Some(DatasetData::Array {
                dtype: Datatype::float(4),
                shape: vec![2, 2, 1],
                bytes: [1.0f32, 2.0, 3.0, 1e30]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            }),
            "/taxels: sample 1: value 1000000000000000000000000000000 is not a sensor reading",
        ),
    ];
    for (i, (name, data, wanted)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("broken{i}.h5"));
        hand_made(&path, name, data);
        let msg = reason(read_braille(&path).unwrap_err());
        assert!(
            msg.contains(wanted) && msg.contains(&format!("broken{i}.h5")),
            "{msg}"
        );
    }

    // A truncated copy of the fixture.
    let bytes = std::fs::read(fixture()).unwrap();
    let truncated = dir.path().join("truncated.h5");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let msg = reason(read_braille(&truncated).unwrap_err());
    assert!(msg.contains("truncated.h5"), "{msg}");
}

#[test]
fn bad_thresholds_are_rejected() {
    let data = read_braille(&fixture()).unwrap();
    for threshold in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let err = data
            .encode(&BrailleEncoding::SigmaDelta { threshold })
            .unwrap_err();
        assert!(err.to_string().contains("threshold"), "{err}");
    }
}

const CONFIG: &str = r#"
[data]
split = [0.6, 0.2, 0.2]
[data.source]
kind = "braille"
path = "FIXTURE"
encoding = { kind = "sigma_delta", threshold = 2.0 }
[network]
dt_ms = 5.0
[[network.hidden]]
size = 8
recurrent = true
[training]
epochs = 1
batch_size = 4
"#;

#[test]
fn config_parses_and_prepares_an_experiment() {
    let text = CONFIG.replace("FIXTURE", fixture().to_str().unwrap());
    let config: ExperimentConfig = toml::from_str(&text).unwrap();
    let DataSource::Braille { encoding, .. } = &config.data.source else {
        panic!("not a Braille source");
    };
    assert_eq!(*encoding, BrailleEncoding::SigmaDelta { threshold: 2.0 });
    let exp = Experiment::prepare(config.clone()).unwrap();
    assert_eq!(exp.config.network.spiking().unwrap().inputs, 6);
    assert_eq!(exp.config.network.spiking().unwrap().readout.size, 3);
    assert_eq!(exp.steps, 35); // 7 samples at 40 Hz in 5 ms steps
    let n = exp.split.train.len() + exp.split.valid.len() + exp.split.test.len();
    assert_eq!(n, 5);
    // The default encoding; unknown keys and bad thresholds are rejected.
    let default = text.replace("encoding = { kind = \"sigma_delta\", threshold = 2.0 }", "");
    let config: ExperimentConfig = toml::from_str(&default).unwrap();
    let DataSource::Braille { encoding, .. } = &config.data.source else {
        panic!("not a Braille source");
    };
    assert_eq!(*encoding, BrailleEncoding::SigmaDelta { threshold: 1.0 });
    let unknown = text.replace("kind = \"braille\"", "kind = \"braille\"\nchannels = 3");
    assert!(toml::from_str::<ExperimentConfig>(&unknown).is_err());
    let unknown = text.replace("threshold = 2.0", "threshold = 2.0, gain = 1.0");
    assert!(toml::from_str::<ExperimentConfig>(&unknown).is_err());
    let bad = text.replace("threshold = 2.0", "threshold = 0.0");
    let config: ExperimentConfig = toml::from_str(&bad).unwrap();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("data.source.encoding"), "{err}");
    let missing = text.replace("braille_small.h5", "absent.h5");
    let config: ExperimentConfig = toml::from_str(&missing).unwrap();
    let err = Experiment::prepare(config).unwrap_err().to_string();
    assert!(err.contains("absent.h5"), "{err}");
}

#[test]
fn shipped_config_parses() {
    let text = std::fs::read_to_string(repo().join("configs/braille.toml")).unwrap();
    let config: ExperimentConfig = toml::from_str(&text).unwrap();
    config.validate().unwrap();
    let DataSource::Braille { path, .. } = &config.data.source else {
        panic!("configs/braille.toml is not a Braille source");
    };
    assert_eq!(path, Path::new(SHARED));
}
