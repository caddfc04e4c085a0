//! Augmentation inside training runs (applied to the training split only, seeded so that
//! resume stays exact) and the speaker-wise validation split of HDF5 sources, on a small
//! SHD-layout file written here.

mod common;

use common::metrics;
use spikegrad::config::{DataSource, ExperimentConfig, ValidBy};
use spikegrad::data::{
    generate_randman, read_shd, write_shd, RandmanConfig, ShdReadOptions, UnitJitter,
};
use spikegrad::experiment::{EpochRecord, Experiment, Observer, RunDir, Silent};
use spikegrad::io::Checkpoint;
use std::path::{Path, PathBuf};

fn randman(nb_samples: usize, seed: u64) -> RandmanConfig {
    RandmanConfig {
        nb_classes: 3,
        nb_samples,
        nb_units: 20,
        nb_steps: 50,
        seed,
        ..RandmanConfig::default()
    }
}

fn augmented_config() -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Randman(randman(40, 42));
    c.network.spiking_mut().unwrap().hidden[0].size = 10;
    c.training.epochs = 3;
    c.training.batch_size = 16;
    let a = &mut c.data.augment;
    a.time_jitter_s = 2e-3;
    a.unit_jitter = Some(UnitJitter::Uniform { width: 1.0 });
    a.unit_shift_std = 0.5;
    a.delete_prob = 0.1;
    a.insert_rate_hz = 2.0;
    c
}

struct StopAfter(usize);

impl Observer for StopAfter {
    fn epoch(&mut self, _: &EpochRecord) {
        self.0 -= 1;
    }
    fn stop_requested(&mut self) -> bool {
        self.0 == 0
    }
}

#[test]
fn augmented_runs_resume_exactly_and_differ_from_plain_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = Experiment::prepare(augmented_config()).unwrap();
    let whole = RunDir::new(tmp.path().join("whole"));
    let parts = RunDir::new(tmp.path().join("parts"));
    let a = exp.run(&whole, false, &mut Silent).unwrap();
    assert!(exp.run(&parts, false, &mut StopAfter(2)).is_err());
    let b = exp.run(&parts, true, &mut Silent).unwrap();
    assert_eq!(metrics(&whole), metrics(&parts));
    assert_eq!(a.test_loss, b.test_loss);
    let ca = Checkpoint::load(&whole.checkpoint()).unwrap();
    let cb = Checkpoint::load(&parts.checkpoint()).unwrap();
    assert_eq!(ca.tensors, cb.tensors);

    let mut plain_config = augmented_config();
    plain_config.data.augment = Default::default();
    let plain = Experiment::prepare(plain_config).unwrap();
    let dir = RunDir::new(tmp.path().join("plain"));
    plain.run(&dir, false, &mut Silent).unwrap();
    let (m_aug, m_plain) = (metrics(&whole), metrics(&dir));
    assert_ne!(
        m_aug[0].train_loss, m_plain[0].train_loss,
        "augmentation changed nothing"
    );
}

#[test]
fn validation_and_test_splits_are_never_augmented() {
    let exp = Experiment::prepare(augmented_config()).unwrap();
    let mut plain_config = augmented_config();
    plain_config.data.augment = Default::default();
    let plain = Experiment::prepare(plain_config).unwrap();
    assert_eq!(exp.split, plain.split);
    let net = exp.new_network().unwrap();
    for indices in [&exp.split.valid, &exp.split.test] {
        assert_eq!(
            exp.evaluate(&net, indices).unwrap(),
            plain.evaluate(&net, indices).unwrap()
        );
    }
}

/// A train file of 3 classes × 24 samples whose speaker ids are `i % 6` (6 speakers of 12
/// samples), and a test file.
fn speaker_files(dir: &Path) -> (PathBuf, PathBuf) {
    let train = generate_randman(&randman(24, 1)).unwrap();
    let speakers: Vec<u32> = (0..train.len() as u32).map(|i| i % 6).collect();
    let train_path = dir.join("train.h5");
    write_shd(&train_path, &train, None, Some(&speakers)).unwrap();
    let test = generate_randman(&randman(5, 2)).unwrap();
    let test_path = dir.join("test.h5");
    write_shd(&test_path, &test, None, None).unwrap();
    (train_path, test_path)
}

fn hdf5_config(train: &Path, test: Option<&Path>) -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Hdf5 {
        train: train.to_path_buf(),
        test: test.map(Path::to_path_buf),
        valid: None,
        max_time_s: 0.1,
        channels: 20,
        stream: false,
    };
    c.data.split = [0.5, 0.3, 0.2];
    c.data.valid_by = ValidBy::Speaker;
    c
}

#[test]
fn speaker_split_holds_out_whole_speakers() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = speaker_files(tmp.path());
    let speakers = read_shd(&train, &ShdReadOptions::default())
        .unwrap()
        .speakers
        .unwrap();
    let exp = Experiment::prepare(hdf5_config(&train, Some(&test))).unwrap();
    let split = &exp.split;
    // The test file is the test split; train and valid come from the 72 train-file samples.
    assert_eq!(split.test, (72..87).collect::<Vec<_>>());
    assert_eq!(split.train.len() + split.valid.len(), 72);
    // Valid fraction 0.3 / 0.8 of 72 = 27 samples: the nearest whole speakers are 2 (24).
    assert_eq!(split.valid.len(), 24);
    let held: std::collections::BTreeSet<u32> = split.valid.iter().map(|&i| speakers[i]).collect();
    assert_eq!(held.len(), 2);
    assert!(split.train.iter().all(|&i| !held.contains(&speakers[i])));
    // By sample (the default), validation mixes speakers.
    let mut by_sample = hdf5_config(&train, Some(&test));
    by_sample.data.valid_by = ValidBy::Sample;
    let exp = Experiment::prepare(by_sample).unwrap();
    let mixed: std::collections::BTreeSet<u32> =
        exp.split.valid.iter().map(|&i| speakers[i]).collect();
    assert!(mixed.len() > 2);
}

#[test]
fn speaker_split_without_a_test_file_keeps_the_test_samples_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = speaker_files(tmp.path());
    let exp = Experiment::prepare(hdf5_config(&train, None)).unwrap();
    let split = &exp.split;
    let mut all: Vec<usize> = [&split.train, &split.valid, &split.test]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..72).collect::<Vec<_>>());
    let plain = {
        let mut c = hdf5_config(&train, None);
        c.data.valid_by = ValidBy::Sample;
        Experiment::prepare(c).unwrap()
    };
    assert_eq!(split.test, plain.split.test, "the test split does not move");
}

#[test]
fn speaker_split_needs_speakers_and_an_hdf5_source() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, test) = speaker_files(tmp.path());
    // The test file has no /extra/speaker.
    let err = Experiment::prepare(hdf5_config(&test, None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/extra/speaker") && err.contains("test.h5"),
        "{err}"
    );
    let mut c = ExperimentConfig::default();
    c.data.valid_by = ValidBy::Speaker;
    let err = c.validate().unwrap_err();
    assert_eq!(err.field, "data.valid_by");
    let parsed: ExperimentConfig = toml::from_str("[data]\nvalid_by = \"speaker\"\n").unwrap();
    assert_eq!(parsed.data.valid_by, ValidBy::Speaker);
    assert!(toml::from_str::<ExperimentConfig>("[data]\nvalid_by = \"voice\"\n").is_err());
}
