//! The continual-learning protocol on a synthetic image file: consolidation protects the first
//! task of a permuted sequence, and class splits train and score each head on its classes.

mod common;

use spikegrad::config::{DataSource, ExperimentConfig, NetworkConfig};
use spikegrad::consolidation::ConsolidationKind;
use spikegrad::continual::{self, ContinualConfig, TaskSequence};
use spikegrad::data::{ImageEncoding, ImagesConfig};
use spikegrad::experiment::Experiment;
use spikegrad::models::MlpSpec;
use std::path::Path;

/// 400 8×8 images of 4 classes: class k lights quadrant k, with deterministic noise.
fn write_images(path: &Path) {
    let (n, side) = (400usize, 8usize);
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let class = i % 4;
        labels.push(class as u8);
        for r in 0..side {
            for c in 0..side {
                let quadrant = (r / 4) * 2 + c / 4;
                let noise = ((i * 37 + r * 11 + c * 5) % 101) as u8;
                pixels.push(if quadrant == class {
                    200 + noise / 2
                } else {
                    noise
                });
            }
        }
    }
    common::write_images(path, side, pixels, labels);
}

fn experiment(path: &Path) -> Experiment {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Images(ImagesConfig {
        path: path.to_path_buf(),
        max_value: None,
        resize_px: None,
        encoding: ImageEncoding::Dense,
    });
    c.data.split = [0.7, 0.0, 0.3];
    c.network = NetworkConfig::Mlp(MlpSpec {
        hidden: vec![Default::default(); 1],
        ..MlpSpec::default()
    });
    c.network.mlp_mut().unwrap().hidden[0].size = 32;
    c.training.batch_size = 16;
    c.training.optimizer = toml::from_str::<toml::Table>("o = { kind = \"adam\", lr = 0.01 }")
        .unwrap()["o"]
        .clone()
        .try_into()
        .unwrap();
    Experiment::prepare(c).unwrap()
}

fn run(
    exp: &Experiment,
    tasks: TaskSequence,
    consolidation: ConsolidationKind,
) -> continual::ContinualReport {
    let config = ContinualConfig {
        tasks,
        epochs_per_task: 5,
        reset_optimizer: false,
        consolidation,
    };
    continual::run(exp, &config, &mut |_, _| {}).unwrap()
}

#[test]
fn consolidation_protects_the_first_permuted_task() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.h5");
    write_images(&path);
    let exp = experiment(&path);
    let tasks = TaskSequence::Permuted { tasks: 3 };
    let finetune = run(&exp, tasks, ConsolidationKind::Finetune);
    let si = run(&exp, tasks, ConsolidationKind::Si { c: 10.0, xi: 0.1 });
    let ewc = run(
        &exp,
        tasks,
        ConsolidationKind::Ewc {
            // The empirical Fisher of a task fit to 100% is tiny: a large λ makes up for it.
            lambda: 1e6,
            fisher_samples: 100,
        },
    );
    assert_eq!(finetune.accuracy.len(), 3);
    assert!(finetune
        .accuracy
        .iter()
        .enumerate()
        .all(|(i, row)| row.len() == i + 1));
    // Every task is learned when it is trained.
    assert!(
        (0..3).all(|j| finetune.accuracy[j][j] > 0.9),
        "{finetune:?}"
    );
    assert!(
        si.forgetting < finetune.forgetting && ewc.forgetting < finetune.forgetting,
        "si {si:?}\newc {ewc:?}\nfinetune {finetune:?}"
    );
}

#[test]
fn class_splits_score_each_head_on_its_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.h5");
    write_images(&path);
    let exp = experiment(&path);
    let tasks = TaskSequence::SplitClasses {
        classes_per_task: 2,
    };
    let report = run(&exp, tasks, ConsolidationKind::Finetune);
    assert_eq!(report.accuracy.len(), 2);
    // Two-way decisions on separable classes: near perfect on each head.
    assert!(report.accuracy[1].iter().all(|&a| a > 0.9), "{report:?}");
    let bad = ContinualConfig {
        tasks,
        epochs_per_task: 0,
        reset_optimizer: false,
        consolidation: ConsolidationKind::Finetune,
    };
    let err = continual::run(&exp, &bad, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("continual.epochs_per_task"), "{err}");
}

/// A small spiking experiment: randman of 4 classes, 16 hidden LIF neurons.
fn spiking_experiment(rule: &str) -> Experiment {
    let text = format!(
        r#"
        seed = 3
        [data]
        split = [0.7, 0.0, 0.3]
        [data.source]
        kind = "randman"
        nb_classes = 4
        nb_units = 10
        nb_steps = 40
        nb_samples = 150
        dt_s = 0.002
        seed = 5
        [network]
        dt_ms = 2.0
        [[network.hidden]]
        size = 32
        [training]
        epochs = 1
        batch_size = 25
        loss = "max_over_time_ce"
        rule = {{ kind = "{rule}" }}
        optimizer = {{ kind = "smorms3", lr = 0.05 }}
        "#
    );
    Experiment::prepare(toml::from_str(&text).unwrap()).unwrap()
}

#[test]
fn spiking_networks_learn_task_sequences_on_their_heads() {
    let exp = spiking_experiment("bptt");
    let tasks = TaskSequence::SplitClasses {
        classes_per_task: 2,
    };
    let si = ConsolidationKind::Si { c: 1.0, xi: 0.1 };
    let report = run(&exp, tasks, si);
    assert_eq!(report.accuracy.len(), 2);
    // Each head decides between two classes: above chance on both after training.
    assert!(report.accuracy[1].iter().all(|&a| a > 0.6), "{report:?}");
    let config = ContinualConfig {
        tasks,
        epochs_per_task: 2,
        reset_optimizer: false,
        consolidation: si,
    };
    let alone = continual::from_scratch(&exp, &config, &mut |_, _| {}).unwrap();
    assert_eq!(alone.len(), 2);
    assert!(alone.iter().all(|a| (0.0..=1.0).contains(a)));
    // Permuted spike trains train on one head.
    let permuted = run(&exp, TaskSequence::Permuted { tasks: 2 }, si);
    assert_eq!(permuted.accuracy.len(), 2);
}

#[test]
fn online_rules_refuse_heads_up_front() {
    let exp = spiking_experiment("eprop");
    let config = ContinualConfig {
        tasks: TaskSequence::SplitClasses {
            classes_per_task: 2,
        },
        epochs_per_task: 1,
        reset_optimizer: false,
        consolidation: ConsolidationKind::Finetune,
    };
    let err = continual::run(&exp, &config, &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("training.rule") && err.contains("head"),
        "{err}"
    );
}

/// Asks to stop after the first `after` epochs.
struct StopAfter {
    epochs: usize,
    after: usize,
}

impl spikegrad::experiment::Observer for StopAfter {
    fn epoch(&mut self, _record: &spikegrad::experiment::EpochRecord) {
        self.epochs += 1;
    }
    fn stop_requested(&mut self) -> bool {
        self.epochs >= self.after
    }
}

fn continual_run_config(path: &Path) -> Experiment {
    let mut config = experiment(path).config.clone();
    config.continual = Some(ContinualConfig {
        tasks: TaskSequence::Permuted { tasks: 3 },
        epochs_per_task: 2,
        reset_optimizer: false,
        consolidation: ConsolidationKind::Si { c: 1.0, xi: 0.1 },
    });
    Experiment::prepare(config).unwrap()
}

fn without_seconds(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let strip = |line: &str| {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v.as_object_mut().unwrap().remove("seconds");
        v
    };
    text.lines().map(strip).collect()
}

/// A continual run in a run directory, stopped after its first task and resumed, ends with
/// the same accuracy matrix, weights and metrics as an uninterrupted one.
#[test]
fn an_interrupted_continual_run_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images.h5");
    write_images(&images);
    let exp = continual_run_config(&images);
    let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
    let silent = &mut spikegrad::experiment::Silent;
    let dir = |p: &Path| spikegrad::experiment::RunDir::new(p);
    let uninterrupted = continual::train(&exp, &dir(&whole), false, silent).unwrap();
    let mut stop = StopAfter {
        epochs: 0,
        after: 2,
    };
    let err = continual::train(&exp, &dir(&split), false, &mut stop).unwrap_err();
    assert!(err.to_string().contains("stopped after epoch 2"), "{err}");
    let first: serde_json::Value = {
        let ckpt = spikegrad::io::Checkpoint::load(&dir(&split).checkpoint()).unwrap();
        assert!(ckpt
            .tensors
            .keys()
            .any(|k| k.starts_with("consolidation.importance.")));
        serde_json::from_str(&ckpt.metadata["accuracy"]).unwrap()
    };
    assert_eq!(first.as_array().unwrap().len(), 1);
    let resumed = continual::train(&exp, &dir(&split), true, silent).unwrap();
    assert_eq!(resumed.report, uninterrupted.report);
    assert_eq!(resumed.report.accuracy.len(), 3);
    assert_eq!(
        std::fs::read(whole.join("best.safetensors")).unwrap(),
        std::fs::read(split.join("best.safetensors")).unwrap()
    );
    assert_eq!(without_seconds(&whole), without_seconds(&split));
    // The plain run refuses a task sequence instead of ignoring it.
    let err = exp.run(&dir(&tmp.path().join("plain")), false, silent);
    assert!(err.unwrap_err().to_string().contains("continual"));
}

/// A checkpoint whose accuracy rows are not an accuracy matrix is refused with a clear error.
#[test]
fn corrupt_continual_checkpoints_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images.h5");
    write_images(&images);
    let exp = continual_run_config(&images);
    let run = spikegrad::experiment::RunDir::new(tmp.path().join("run"));
    let mut stop = StopAfter {
        epochs: 0,
        after: 2,
    };
    continual::train(&exp, &run, false, &mut stop).unwrap_err();
    let path = run.checkpoint();
    for bad in [
        "[[2.0]]",
        "[[0.5, 0.5]]",
        "[[0.5]",
        "[[0.5],[0.5,0.5],[1,1,1],[1,1,1,1]]",
    ] {
        let mut ckpt = spikegrad::io::Checkpoint::load(&path).unwrap();
        ckpt.metadata.insert("accuracy".into(), bad.into());
        ckpt.save(&path).unwrap();
        let silent = &mut spikegrad::experiment::Silent;
        let err = continual::train(&exp, &run, true, silent).unwrap_err();
        assert!(err.to_string().contains("accuracy"), "{bad}: {err}");
    }
}
