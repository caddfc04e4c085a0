//! Run directories: resume reproduces an uninterrupted run exactly.

use super::*;
use crate::data::RandmanConfig;
use crate::io::Checkpoint;
use crate::network::WeightInit;

fn small_config() -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Randman(RandmanConfig {
        nb_classes: 3,
        nb_samples: 60,
        nb_units: 10,
        nb_steps: 40,
        ..RandmanConfig::default()
    });
    c.network.hidden[0].size = 12;
    c.network.hidden[0].recurrent = true;
    c.network.hidden[0].dropout = 0.1;
    c.training.epochs = 4;
    c.training.batch_size = 32;
    c
}

struct StopAfter(usize, usize);

impl Observer for StopAfter {
    fn epoch(&mut self, _: &EpochRecord) {
        self.1 += 1;
    }
    fn stop_requested(&mut self) -> bool {
        self.1 >= self.0
    }
}

/// Metrics without the wall-clock fields.
fn metrics(dir: &RunDir) -> Vec<EpochRecord> {
    let text = std::fs::read_to_string(dir.metrics()).unwrap();
    text.lines()
        .map(|l| {
            let mut r: EpochRecord = serde_json::from_str(l).unwrap();
            r.seconds = 0.0;
            r
        })
        .collect()
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let exp = Experiment::prepare(small_config()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let whole = RunDir::new(tmp.path().join("whole"));
    let parts = RunDir::new(tmp.path().join("parts"));

    let a = exp.run(&whole, false, &mut Silent).unwrap();
    let err = exp.run(&parts, false, &mut StopAfter(2, 0)).unwrap_err();
    assert!(
        matches!(err, ExperimentError::Interrupted { epoch: 2 }),
        "{err}"
    );
    assert_eq!(metrics(&parts).len(), 2);
    let b = exp.run(&parts, true, &mut Silent).unwrap();

    assert_eq!(metrics(&whole), metrics(&parts));
    assert_eq!(a.test_loss, b.test_loss);
    assert_eq!(a.test_accuracy, b.test_accuracy);
    assert_eq!(a.best_epoch, b.best_epoch);
    let ca = Checkpoint::load(&whole.checkpoint()).unwrap();
    let cb = Checkpoint::load(&parts.checkpoint()).unwrap();
    assert_eq!(ca.tensors, cb.tensors, "weights and optimizer state differ");
    assert!(ca.tensors.keys().any(|k| k.starts_with("optim.")));
}

#[test]
fn runs_are_determined_by_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = small_config();
    c.training.epochs = 1;
    let run = |c: &ExperimentConfig, name: &str| {
        let dir = RunDir::new(tmp.path().join(name));
        Experiment::prepare(c.clone())
            .unwrap()
            .run(&dir, false, &mut Silent)
            .unwrap();
        metrics(&dir)
    };
    let first = run(&c, "a");
    assert_eq!(first, run(&c, "b"));
    c.seed += 1;
    assert_ne!(first, run(&c, "c"));
}

#[test]
fn run_directory_holds_resolved_config_and_results() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let mut c = small_config();
    c.training.epochs = 2;
    let exp = Experiment::prepare(c).unwrap();
    let report = exp.run(&dir, false, &mut Silent).unwrap();
    let saved: ExperimentConfig =
        toml::from_str(&std::fs::read_to_string(dir.config()).unwrap()).unwrap();
    assert_eq!(saved, exp.config);
    assert_eq!(saved.network.inputs, 10);
    assert_eq!(saved.network.readout.size, 3);
    let WeightInit::FluctuationDriven { nu_hz, .. } = saved.init else {
        panic!("init kind")
    };
    assert!((nu_hz - 1.0 / 0.08).abs() < 1e-9, "nu = {nu_hz}");
    let final_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.final_report()).unwrap()).unwrap();
    for key in ["test_accuracy", "test_loss", "best_epoch", "train_seconds"] {
        assert!(final_json.get(key).is_some(), "final.json lacks {key}");
    }
    assert_eq!(report.epochs, 2);
    assert!(dir.best().exists() && dir.checkpoint().exists());
}

#[test]
fn data_dependent_sizes_are_checked() {
    let mut c = small_config();
    c.network.inputs = 7;
    let err = Experiment::prepare(c).unwrap_err().to_string();
    assert!(
        err.contains("network.inputs") && err.contains("10 channels"),
        "{err}"
    );
}

#[test]
fn non_finite_values_stop_the_run_naming_layer_and_epoch() {
    let exp = Experiment::prepare(small_config()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let _ = exp.run(&dir, false, &mut StopAfter(1, 0)).unwrap_err();
    // Corrupt one input weight, as an exploding update would.
    let mut ckpt = Checkpoint::load(&dir.checkpoint()).unwrap();
    ckpt.tensors.get_mut("net.hidden.0.w_in").unwrap().data[0] = f32::INFINITY;
    ckpt.save(&dir.checkpoint()).unwrap();
    let before = std::fs::read(dir.checkpoint()).unwrap();

    let err = exp.run(&dir, true, &mut Silent).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            ExperimentError::Train(TrainError::NonFinite { epoch: 2, .. })
        ),
        "{text}"
    );
    assert!(
        text.contains("hidden layer 0") && text.contains("epoch 2"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(dir.checkpoint()).unwrap(),
        before,
        "the last good checkpoint must stay"
    );
}
