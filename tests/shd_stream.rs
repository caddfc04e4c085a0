//! Streaming SHD/SSC files: the same samples as reading them whole, bit-identical training,
//! and errors naming file, dataset and sample when bad data shows up only as a batch is read.

mod common;

use common::metrics;
use spikegrad::config::{DataSource, ExperimentConfig, ValidBy};
use spikegrad::data::{
    generate_randman, read_shd, write_shd, DataError, Dataset, EventDataset, EventSample,
    RandmanConfig, ShdReadOptions, ShdStream, StreamedEvents, Target, UnitJitter,
};
use spikegrad::experiment::{Experiment, RunDir, Silent};
use spikegrad::io::Checkpoint;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hdf5")
        .join(name)
}

/// Every sample of `path` read by a stream equals the sample `read_shd` gives.
fn assert_stream_reads_like_read_shd(path: &Path, channels: usize) {
    let opts = ShdReadOptions {
        channels,
        ..ShdReadOptions::default()
    };
    let whole = read_shd(path, &opts).unwrap();
    let stream = ShdStream::open(path, channels).unwrap();
    assert_eq!(stream.len(), whole.data.len());
    assert_eq!(stream.num_classes(), whole.data.num_classes.unwrap());
    assert_eq!(stream.class_names(), whole.class_names.as_deref());
    assert_eq!(stream.speakers(), whole.speakers.as_deref());
    // Backwards, so that reads do not simply follow the file.
    for i in (0..stream.len()).rev() {
        assert_eq!(stream.read(i).unwrap(), whole.data.samples[i], "sample {i}");
        assert_eq!(
            stream.spike_counts()[i] as usize,
            whole.data.samples[i].len()
        );
    }
    assert!(matches!(
        stream.read(stream.len()),
        Err(DataError::IndexOutOfRange { .. })
    ));
}

#[test]
fn streams_read_the_h5py_fixtures_like_read_shd() {
    // gzip + shuffle chunked float16, contiguous float32, HDF5 1.8 format float64.
    for name in [
        "shd_f16_gzip.h5",
        "shd_f32_contiguous.h5",
        "shd_f64_v108.h5",
    ] {
        assert_stream_reads_like_read_shd(&fixture(name), 700);
    }
}

/// `samples` samples of 3 classes over 20 units, with speakers, written to `path`.
fn write_randman(path: &Path, samples_per_class: usize, seed: u64) -> EventDataset {
    let config = RandmanConfig {
        nb_classes: 3,
        nb_samples: samples_per_class,
        nb_units: 20,
        nb_steps: 50,
        seed,
        ..RandmanConfig::default()
    };
    let data = generate_randman(&config).unwrap();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let speakers: Vec<u32> = (0..data.len() as u32).map(|i| i % 7).collect();
    write_shd(path, &data, Some(&names), Some(&speakers)).unwrap();
    data
}

#[test]
fn streams_read_our_own_files_like_read_shd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.h5");
    write_randman(&path, 30, 5);
    assert_stream_reads_like_read_shd(&path, 20);
}

fn config(train: &Path, test: &Path, stream: bool) -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Hdf5 {
        train: train.to_path_buf(),
        test: Some(test.to_path_buf()),
        valid: None,
        max_time_s: 0.1,
        channels: 20,
        stream,
    };
    c.data.valid_by = ValidBy::Speaker;
    c.network.spiking_mut().unwrap().hidden[0].size = 12;
    c.training.epochs = 2;
    c.training.batch_size = 16;
    let a = &mut c.data.augment;
    a.time_jitter_s = 1e-3;
    a.unit_jitter = Some(UnitJitter::Uniform { width: 1.0 });
    a.delete_prob = 0.1;
    a.insert_rate_hz = 2.0;
    c
}

#[test]
fn streamed_training_is_bit_identical_to_in_memory_training() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.h5"), dir.path().join("test.h5"));
    write_randman(&train, 30, 1);
    write_randman(&test, 8, 2);
    let memory = Experiment::prepare(config(&train, &test, false)).unwrap();
    let streamed = Experiment::prepare(config(&train, &test, true)).unwrap();
    assert!(matches!(memory.data, Dataset::Events(_)));
    assert!(matches!(streamed.data, Dataset::Streamed(_)));
    // Same split (by speaker, from the index alone) and the same input rate for the init.
    assert_eq!(memory.split, streamed.split);
    assert_eq!(memory.config.init, streamed.config.init);
    assert_eq!(streamed.data.len(), 90 + 24);
    let runs = [memory, streamed].map(|exp| {
        let run = RunDir::new(
            dir.path()
                .join(format!("run_{}", exp.data.streamed().is_some())),
        );
        let report = exp.run(&run, false, &mut Silent).unwrap();
        (run, report)
    });
    let [(mem_dir, mem_report), (str_dir, str_report)] = &runs;
    let (a, b) = (metrics(mem_dir), metrics(str_dir));
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "losses, accuracies and rates of every epoch");
    assert!(a[0].valid_loss.is_some());
    for file in ["checkpoint.safetensors", "best.safetensors"] {
        let x = Checkpoint::load(&mem_dir.path.join(file)).unwrap();
        let y = Checkpoint::load(&str_dir.path.join(file)).unwrap();
        assert_eq!(
            x.tensors.keys().collect::<Vec<_>>(),
            y.tensors.keys().collect::<Vec<_>>()
        );
        for (name, t) in &x.tensors {
            let bits = |data: &[f32]| data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert!(
                bits(&t.data) == bits(&y.tensors[name].data),
                "{file}: {name} differs (weights or optimizer state)"
            );
        }
    }
    assert_eq!(mem_report.test_loss, str_report.test_loss);
    assert_eq!(mem_report.test_accuracy, str_report.test_accuracy);
    assert_eq!(str_report.test_samples, 24);
}

fn sample_error(err: &DataError) -> (&Path, &str, usize, &str) {
    match err {
        DataError::Hdf5Sample {
            path,
            dataset,
            sample,
            reason,
        } => (path, dataset, *sample, reason),
        other => panic!("expected an error about one sample, got {other:?}"),
    }
}

#[test]
fn bad_units_and_times_show_when_their_batch_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.h5");
    // Sample 3 has a unit id that fits 30 channels but not 20; sample 5 gets a negative
    // time, put into the written file by hand.
    write_tiny(&path, 30, 25);
    let mut bytes = std::fs::read(&path).unwrap();
    let times: Vec<u8> = [0.01f32, 0.02, 0.03]
        .iter()
        .flat_map(|t| t.to_le_bytes())
        .collect();
    let at = find(&bytes, &times, 5);
    bytes[at + 8..at + 12].copy_from_slice(&(-0.5f32).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let stream = ShdStream::open(&path, 20).unwrap();
    let data: Dataset = StreamedEvents::new(vec![stream], 0.1).unwrap().into();
    data.batch(&[0, 1, 2, 4], 1e-3, 100, None).unwrap();
    let err = data.batch(&[0, 3], 1e-3, 100, None).unwrap_err();
    let (file, dataset, sample, reason) = sample_error(&err);
    assert_eq!(
        (file, dataset, sample),
        (path.as_path(), "/spikes/units", 3)
    );
    assert!(
        reason.contains("unit id 25 is out of range for 20"),
        "{err}"
    );
    assert!(err.to_string().contains("wide.h5"), "{err}");
    let err = data.batch(&[5], 1e-3, 100, None).unwrap_err();
    let (_, dataset, sample, reason) = sample_error(&err);
    assert_eq!((dataset, sample), ("/spikes/times", 5));
    assert!(reason.contains("-0.5"), "{err}");
}

/// Six samples of three spikes; sample 3 has unit `unit_of_3`, sample 5 units 17, 18, 19.
fn write_tiny(path: &Path, channels: usize, unit_of_3: u32) {
    let samples: Vec<EventSample> = (0..6)
        .map(|i| EventSample {
            times_s: vec![0.01, 0.02, 0.03],
            units: match i {
                3 => vec![1, 2, unit_of_3],
                5 => vec![17, 18, 19],
                _ => vec![1, 2, 3],
            },
            target: Target::Class(i % 2),
        })
        .collect();
    let data = EventDataset::new(samples, channels, Some(2), 0.1).unwrap();
    write_shd(path, &data, None, None).unwrap();
}

/// Offset of the `n`-th occurrence of `needle` in `bytes`.
fn find(bytes: &[u8], needle: &[u8], n: usize) -> usize {
    (0..bytes.len() - needle.len())
        .filter(|&i| bytes[i..i + needle.len()] == *needle)
        .nth(n)
        .expect("pattern in the file")
}

#[test]
fn a_file_truncated_while_streaming_names_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.h5");
    write_tiny(&path, 20, 3);
    let stream = ShdStream::open(&path, 20).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let units_of_5: Vec<u8> = [17u16, 18, 19]
        .iter()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let cut = find(&bytes, &units_of_5, 0) + 2;
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(cut as u64).unwrap();
    drop(file);
    // Samples before the cut still read; sample 5's units are cut.
    for i in 0..5 {
        stream.read(i).unwrap();
    }
    let err = stream.read(5).unwrap_err();
    let (file, dataset, sample, reason) = sample_error(&err);
    assert_eq!(
        (file, dataset, sample),
        (path.as_path(), "/spikes/units", 5)
    );
    assert!(reason.contains("truncated"), "{err}");
    // Opening the cut file again fails cleanly too.
    let err = ShdStream::open(&path, 20).unwrap_err();
    assert!(err.to_string().contains("cut.h5"), "{err}");
}

#[test]
fn broken_fixtures_fail_at_open_or_read_like_read_shd() {
    let err = ShdStream::open(&fixture("broken_ragged_sample.h5"), 700).unwrap_err();
    let (_, dataset, sample, reason) = sample_error(&err);
    assert_eq!((dataset, sample), ("/spikes/units", 1));
    assert!(reason.contains("1 unit ids but 2 spike times"), "{err}");
    let stream = ShdStream::open(&fixture("broken_unit_700.h5"), 700).unwrap();
    stream.read(0).unwrap();
    let err = stream.read(1).unwrap_err();
    assert_eq!(sample_error(&err).2, 1);
    let stream = ShdStream::open(&fixture("broken_nan_time.h5"), 700).unwrap();
    let err = stream.read(1).unwrap_err();
    assert!(sample_error(&err).3.contains("NaN"), "{err}");
    for name in [
        "broken_truncated.h5",
        "broken_not_hdf5.h5",
        "broken_count_mismatch.h5",
    ] {
        let err = ShdStream::open(&fixture(name), 700).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn damaged_files_give_errors_not_panics_when_streamed() {
    let original = std::fs::read(fixture("shd_f32_contiguous.h5")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.h5");
    for at in (0..original.len()).step_by(53) {
        for bytes in [original[..at].to_vec(), {
            let mut flipped = original.clone();
            flipped[at] ^= 0xa5;
            flipped
        }] {
            std::fs::write(&path, &bytes).unwrap();
            // Either outcome is fine (a flipped byte may sit in unused space); a panic is not.
            if let Ok(stream) = ShdStream::open(&path, 700) {
                for i in 0..stream.len() {
                    let _ = stream.read(i);
                }
            }
        }
    }
}
