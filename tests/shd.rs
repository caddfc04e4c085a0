//! SHD/SSC HDF5 files: h5py-written fixtures (tests/fixtures/hdf5/make_fixtures.py), round
//! trips through our writer, and broken files.

use spikegrad::data::{
    read_shd, write_shd, write_shd_with, DataError, EventDataset, EventSample, ShdReadOptions,
    ShdWriteOptions, Target, TimeDtype,
};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hdf5")
        .join(name)
}

/// The values make_fixtures.py wrote into `name`.
struct Expected {
    times_s: Vec<Vec<f64>>,
    units: Vec<Vec<u32>>,
    labels: Vec<usize>,
    keys: Option<Vec<String>>,
    speakers: Option<Vec<u32>>,
}

fn from<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let e = &all[name];
    Expected {
        times_s: from(&e["times_s"]),
        units: from(&e["units"]),
        labels: from(&e["labels"]),
        keys: from(&e["keys"]),
        speakers: from(&e["speakers"]),
    }
}

fn check_against_expected(name: &str, channels: usize, max_time_s: f64) {
    let opts = ShdReadOptions {
        max_time_s,
        ..ShdReadOptions::default()
    };
    let file = read_shd(&fixture(name), &opts).unwrap();
    let e = expected(name);
    let data = &file.data;
    assert_eq!(data.len(), e.labels.len());
    assert_eq!(data.channels, channels);
    assert_eq!(data.duration_s, max_time_s);
    let num_classes = match &e.keys {
        Some(keys) => keys.len(),
        None => e.labels.iter().max().unwrap() + 1,
    };
    assert_eq!(data.num_classes, Some(num_classes));
    for (i, sample) in data.samples.iter().enumerate() {
        // Float16 and float32 values are exact in f32; float64 ones are rounded once.
        let times: Vec<f32> = e.times_s[i].iter().map(|&t| t as f32).collect();
        assert_eq!(sample.times_s, times, "{name} sample {i}");
        assert_eq!(sample.units, e.units[i], "{name} sample {i}");
        assert_eq!(sample.target, Target::Class(e.labels[i]));
    }
    assert_eq!(file.class_names, e.keys);
    assert_eq!(file.speakers, e.speakers);
    assert_eq!((file.first_sample, file.file_samples), (0, e.labels.len()));
}

#[test]
fn reads_float16_times_from_gzip_chunked_datasets() {
    check_against_expected("shd_f16_gzip.h5", 700, 1.4);
    let file = read_shd(&fixture("shd_f16_gzip.h5"), &ShdReadOptions::default()).unwrap();
    assert_eq!(file.times_dtype, "vlen<float16>");
    assert!(file.data.samples[2].is_empty());
}

#[test]
fn reads_float32_times_from_contiguous_datasets_with_fixed_length_keys() {
    check_against_expected("shd_f32_contiguous.h5", 700, 1.0);
    let file = read_shd(
        &fixture("shd_f32_contiguous.h5"),
        &ShdReadOptions::default(),
    )
    .unwrap();
    assert_eq!(file.times_dtype, "vlen<float32>");
}

#[test]
fn reads_float64_times_from_an_hdf5_1_8_format_file_with_a_dense_group() {
    check_against_expected("shd_f64_v108.h5", 700, 2.0);
}

#[test]
fn reads_a_range_of_samples() {
    let path = fixture("shd_f16_gzip.h5");
    let all = read_shd(&path, &ShdReadOptions::default()).unwrap();
    let opts = ShdReadOptions {
        samples: Some(1..4),
        ..ShdReadOptions::default()
    };
    let part = read_shd(&path, &opts).unwrap();
    assert_eq!(part.data.samples, all.data.samples[1..4]);
    assert_eq!(part.data.num_classes, all.data.num_classes);
    assert_eq!(part.speakers.unwrap(), all.speakers.unwrap()[1..4]);
    assert_eq!((part.first_sample, part.file_samples), (1, 6));
    let outside = ShdReadOptions {
        samples: Some(4..9),
        ..ShdReadOptions::default()
    };
    let err = read_shd(&path, &outside).unwrap_err();
    assert!(
        err.to_string().contains("outside the file's 6 samples"),
        "{err}"
    );
}

fn small_dataset() -> EventDataset {
    let sample = |times_s: Vec<f32>, units: Vec<u32>, class| EventSample {
        times_s,
        units,
        target: Target::Class(class),
    };
    let samples = vec![
        sample(vec![0.0, 0.001, 0.5, 1.25], vec![0, 699, 3, 3], 1),
        sample(vec![], vec![], 0),
        sample(vec![0.1 + 1e-7, 0.3], vec![42, 7], 2),
    ];
    EventDataset::new(samples, 700, Some(3), 1.4).unwrap()
}

#[test]
fn written_files_read_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_dataset();
    let names: Vec<String> = ["null", "eins", "zwei"].map(String::from).to_vec();
    let speakers = [3u32, 70_000, 5];
    let path = dir.path().join("out.h5");
    write_shd(&path, &data, Some(&names), Some(&speakers)).unwrap();
    let back = read_shd(&path, &ShdReadOptions::default()).unwrap();
    assert_eq!(back.data, data);
    assert_eq!(back.class_names.as_deref(), Some(&names[..]));
    assert_eq!(back.speakers.as_deref(), Some(&speakers[..]));
    assert_eq!(back.times_dtype, "vlen<float32>");
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn every_time_width_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_dataset();
    for (dtype, name) in [
        (TimeDtype::F16, "float16"),
        (TimeDtype::F32, "float32"),
        (TimeDtype::F64, "float64"),
    ] {
        let path = dir.path().join(format!("{name}.h5"));
        let opts = ShdWriteOptions {
            time_dtype: dtype,
            ..ShdWriteOptions::default()
        };
        write_shd_with(&path, &data, &opts).unwrap();
        let back = read_shd(&path, &ShdReadOptions::default()).unwrap();
        assert_eq!(back.times_dtype, format!("vlen<{name}>"));
        assert_eq!(back.class_names, None);
        for (a, b) in back.data.samples.iter().zip(&data.samples) {
            assert_eq!(a.units, b.units);
            for (&x, &y) in a.times_s.iter().zip(&b.times_s) {
                // Half precision keeps 11 significant bits.
                let tolerance = if dtype == TimeDtype::F16 {
                    y * 1e-3
                } else {
                    0.0
                };
                assert!((x - y).abs() <= tolerance, "{name}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn writing_checks_names_and_speakers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.h5");
    let data = small_dataset();
    let two = vec!["a".to_string(), "b".to_string()];
    let err = write_shd(&path, &data, Some(&two), None).unwrap_err();
    assert!(matches!(&err, DataError::Hdf5 { dataset, .. } if dataset == "/extra/keys"));
    let err = write_shd(&path, &data, None, Some(&[1])).unwrap_err();
    assert!(matches!(&err, DataError::Hdf5 { dataset, .. } if dataset == "/extra/speaker"));
    assert!(!path.exists());
}

/// Runs `script` with `python3` if it has h5py; `None` (after saying so) otherwise.
fn python_with_h5py(script: &str, arg: &Path) -> Option<String> {
    let probe = Command::new("python3").args(["-c", "import h5py"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: python3 with h5py is not available; h5py interoperability not checked");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

const H5PY_DUMP: &str = r#"
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    keys = [k.decode() if isinstance(k, bytes) else k for k in f["extra/keys"][()]]
    print(json.dumps({
        "times": [[float(t) for t in row] for row in f["spikes/times"][()]],
        "units": [[int(u) for u in row] for row in f["spikes/units"][()]],
        "labels": [int(x) for x in f["labels"][()]],
        "keys": keys,
        "speakers": [int(x) for x in f["extra/speaker"][()]],
        "dtypes": [str(f["spikes/times"].dtype.metadata["vlen"]),
                   str(f["spikes/units"].dtype.metadata["vlen"]),
                   str(f["labels"].dtype)],
    }))
"#;

#[test]
fn h5py_reads_our_files_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.h5");
    let data = small_dataset();
    let names: Vec<String> = ["zero", "fünf", "two"].map(String::from).to_vec();
    write_shd(&path, &data, Some(&names), Some(&[1, 2, 3])).unwrap();
    let Some(json) = python_with_h5py(H5PY_DUMP, &path) else {
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let times: Vec<Vec<f64>> = serde_json::from_value(v["times"].clone()).unwrap();
    let units: Vec<Vec<u32>> = serde_json::from_value(v["units"].clone()).unwrap();
    for (i, sample) in data.samples.iter().enumerate() {
        let ours: Vec<f64> = sample.times_s.iter().map(|&t| f64::from(t)).collect();
        assert_eq!(times[i], ours);
        assert_eq!(units[i], sample.units);
    }
    assert_eq!(v["labels"], serde_json::json!([1, 0, 2]));
    assert_eq!(v["keys"], serde_json::json!(names));
    assert_eq!(v["speakers"], serde_json::json!([1, 2, 3]));
    assert_eq!(
        v["dtypes"],
        serde_json::json!(["float32", "uint16", "uint16"])
    );
}

fn read_error(name: &str) -> DataError {
    read_shd(&fixture(name), &ShdReadOptions::default()).unwrap_err()
}

fn assert_file_error(err: &DataError, want_dataset: &str, want_reason: &str) {
    let DataError::Hdf5 {
        path,
        dataset,
        reason,
    } = err
    else {
        panic!("expected an Hdf5 error, got {err:?}");
    };
    assert!(path.extension().is_some_and(|e| e == "h5"), "{path:?}");
    assert_eq!(dataset, want_dataset, "{err}");
    assert!(reason.contains(want_reason), "{err}");
}

fn assert_sample_error(err: &DataError, want_dataset: &str, want_sample: usize, want: &str) {
    let DataError::Hdf5Sample {
        dataset,
        sample,
        reason,
        ..
    } = err
    else {
        panic!("expected an Hdf5Sample error, got {err:?}");
    };
    assert_eq!(
        (dataset.as_str(), *sample),
        (want_dataset, want_sample),
        "{err}"
    );
    assert!(reason.contains(want), "{err}");
}

#[test]
fn broken_files_give_errors_naming_file_dataset_and_sample() {
    let err = read_error("broken_truncated.h5");
    assert_file_error(&err, "/", "truncated");
    assert!(err.to_string().contains("broken_truncated.h5"), "{err}");
    assert_file_error(&read_error("broken_not_hdf5.h5"), "/", "not an HDF5 file");
    assert_file_error(&read_error("no_such_file.h5"), "/", "I/O error");
    assert_file_error(
        &read_error("broken_missing_units.h5"),
        "/spikes/units",
        "not found",
    );
    assert_file_error(
        &read_error("broken_missing_labels.h5"),
        "/labels",
        "not found",
    );
    assert_file_error(
        &read_error("broken_count_mismatch.h5"),
        "/labels",
        "shape [3] but /spikes/times has 2 samples",
    );
    let err = read_error("broken_ragged_sample.h5");
    assert_sample_error(&err, "/spikes/units", 1, "1 unit ids but 2 spike times");
    let err = read_error("broken_unit_700.h5");
    assert_sample_error(
        &err,
        "/spikes/units",
        1,
        "unit id 700 is out of range for 700",
    );
    let err = read_error("broken_nan_time.h5");
    assert_sample_error(&err, "/spikes/times", 1, "NaN");
    let err = read_error("broken_negative_time.h5");
    assert_sample_error(&err, "/spikes/times", 0, "-0.2");
}

#[test]
fn dense_link_groups_are_read() {
    use spikegrad::io::hdf5::Hdf5Reader;
    // make_fixtures.py puts 20 datasets into /notes, more than a compact group holds.
    let r = Hdf5Reader::open(&fixture("shd_f64_v108.h5")).unwrap();
    let names = r.members("/notes").unwrap();
    assert_eq!(names.len(), 20);
    assert_eq!(names[0], "n00");
    let d = r.dataset("/notes/n17").unwrap();
    assert_eq!(r.read_ints(&d, 0, 1).unwrap(), [17]);
}

/// A small randman dataset written as train and test HDF5 files; returns their paths.
#[test]
fn experiments_take_their_splits_from_hdf5_files() {
    use spikegrad::config::{DataSource, ExperimentConfig};
    use spikegrad::experiment::Experiment;
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = common::randman_files(dir.path());
    let mut config = ExperimentConfig::default();
    config.data.source = DataSource::Hdf5 {
        train: train.clone(),
        test: Some(test.clone()),
        valid: None,
        max_time_s: 0.2,
        channels: 20,
        stream: false,
    };
    let exp = Experiment::prepare(config).unwrap();
    // The 60 train-file samples split 8:1 per class of 20 (18 + 2), then the 15 test-file
    // samples.
    assert_eq!(exp.data.len(), 75);
    assert_eq!((exp.split.train.len(), exp.split.valid.len()), (54, 6));
    assert_eq!(exp.split.test, (60..75).collect::<Vec<_>>());
    assert!(exp
        .split
        .train
        .iter()
        .chain(&exp.split.valid)
        .all(|&i| i < 60));
    let test_file = read_shd(&test, &ShdReadOptions::default()).unwrap();
    assert_eq!(
        exp.data.events().unwrap().samples[60..],
        test_file.data.samples[..]
    );
    assert_eq!(
        (
            exp.config.network.spiking().unwrap().inputs,
            exp.config.network.spiking().unwrap().readout.size
        ),
        (20, 3)
    );
    assert_eq!(exp.steps, 100);
}

#[test]
fn hdf5_sources_parse_from_toml_with_defaults() {
    use spikegrad::config::{DataSource, ExperimentConfig};
    let config: ExperimentConfig =
        toml::from_str("[data.source]\nkind = \"hdf5\"\ntrain = \"shd_train.h5\"\n").unwrap();
    assert_eq!(
        config.data.source,
        DataSource::Hdf5 {
            train: "shd_train.h5".into(),
            test: None,
            valid: None,
            max_time_s: 1.4,
            channels: 700,
            stream: false,
        }
    );
    config.validate().unwrap();
    let text = "[data.source]\nkind = \"hdf5\"\ntrain = \"a.h5\"\ntset = \"b.h5\"\n";
    let err = toml::from_str::<ExperimentConfig>(text).unwrap_err();
    assert!(err.to_string().contains("tset"), "{err}");
    let bad: ExperimentConfig =
        toml::from_str("[data.source]\nkind = \"hdf5\"\ntrain = \"a.h5\"\nchannels = 0\n").unwrap();
    assert!(bad.validate().is_err());
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let original = std::fs::read(fixture("shd_f16_gzip.h5")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.h5");
    let opts = ShdReadOptions::default();
    let mut damaged = Vec::new();
    for at in (0..original.len()).step_by(61) {
        damaged.push(original[..at].to_vec());
        let mut flipped = original.clone();
        flipped[at] ^= 0xa5;
        damaged.push(flipped);
    }
    for bytes in damaged {
        std::fs::write(&path, &bytes).unwrap();
        // Either outcome is fine (a flipped byte may sit in unused space); a panic is not.
        let _ = read_shd(&path, &opts);
    }
}
