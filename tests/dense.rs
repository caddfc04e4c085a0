//! Dense networks end to end: image files, configs, training runs, exact resume, evaluation.

mod common;

use spikegrad::config::{DataSource, ExperimentConfig, NetworkConfig};
use spikegrad::data::{ImageData, ImageEncoding, ImagesConfig};
use spikegrad::experiment::{EpochRecord, Experiment, ExperimentError, Observer, RunDir, Silent};
use spikegrad::models::{Activation, DenseLayerSpec, MlpSpec};
use spikegrad::optimizers::OptimizerKind;
use std::path::{Path, PathBuf};

const SIDE: usize = 6;
const CLASSES: usize = 4;

/// `n` 6×6 images of 4 classes: class `k` lights a bar at row or column `k`-dependent
/// places, plus deterministic noise; values 0–255.
fn write_images(path: &Path, n: usize) {
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % CLASSES;
        labels.push(class as u8);
        for r in 0..SIDE {
            for c in 0..SIDE {
                let on = match class {
                    0 => r == 1,
                    1 => r == 4,
                    2 => c == 1,
                    _ => c == 4,
                };
                let noise = ((i * 31 + r * 7 + c * 13) % 97) as u8;
                pixels.push(if on { 255 - noise } else { noise });
            }
        }
    }
    common::write_images(path, SIDE, pixels, labels);
}

fn dense_config(path: PathBuf) -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Images(ImagesConfig {
        path,
        max_value: None,
        resize_px: None,
        encoding: ImageEncoding::Dense,
    });
    c.network = NetworkConfig::Mlp(MlpSpec {
        hidden: vec![DenseLayerSpec {
            size: 16,
            activation: Activation::Tanh,
        }],
        ..MlpSpec::default()
    });
    c.training.epochs = 6;
    c.training.batch_size = 16;
    c.training.optimizer = OptimizerKind::Adam {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    c
}

struct StopAfter(usize);

impl Observer for StopAfter {
    fn epoch(&mut self, _: &EpochRecord) {
        self.0 = self.0.saturating_sub(1);
    }
    fn stop_requested(&mut self) -> bool {
        self.0 == 0
    }
}

#[test]
fn image_files_read_scaled_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.h5");
    write_images(&path, 8);
    let images = ImageData::read(&path, None).unwrap();
    assert_eq!(
        (images.len(), images.size(), images.num_classes),
        (8, 36, 4)
    );
    assert!(images.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    let brightest = images.pixels.iter().copied().fold(0.0, f32::max);
    assert_eq!(brightest, 1.0, "the brightest pixel scales to 1");
    let raw = 255.0 - 7.0; // pixel (1, 0) of image 0
    let file_max = 254.0; // the brightest pixel of these 8 images
    assert_eq!(images.image(0)[SIDE], raw / file_max);
    let halved = ImageData::read(&path, Some(2.0 * 255.0)).unwrap();
    assert_eq!(halved.image(0)[SIDE], raw / 510.0);
    std::fs::write(&path, b"not an hdf5 file").unwrap();
    let err = ImageData::read(&path, None).unwrap_err().to_string();
    assert!(err.contains("images.h5"), "{err}");
}

#[test]
fn a_dense_run_learns_resumes_exactly_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.h5");
    write_images(&path, 200);
    let exp = Experiment::prepare(dense_config(path)).unwrap();
    let mlp = exp.config.network.mlp().unwrap();
    assert_eq!((mlp.inputs, mlp.outputs, exp.steps), (36, CLASSES, 1));

    let whole = RunDir::new(dir.path().join("whole"));
    let report = exp.run(&whole, false, &mut Silent).unwrap();
    assert!(report.test_accuracy.unwrap() > 0.9, "{report:?}");
    assert!(report.cost.is_none() && report.test_rates_hz.is_empty());

    let parts = RunDir::new(dir.path().join("parts"));
    let stopped = exp.run(&parts, false, &mut StopAfter(2));
    assert!(matches!(
        stopped,
        Err(ExperimentError::Interrupted { epoch: 2 })
    ));
    let resumed = exp.run(&parts, true, &mut Silent).unwrap();
    assert_eq!(resumed.test_accuracy, report.test_accuracy);
    let bytes = |d: &RunDir| std::fs::read(d.best()).unwrap();
    assert_eq!(
        bytes(&whole),
        bytes(&parts),
        "resume gives the same best weights"
    );

    let (reopened, net) = Experiment::open_best_mlp(&whole).unwrap();
    use spikegrad::training::Model;
    let test = net
        .evaluate(
            &reopened.config.training,
            &reopened.data,
            &reopened.split.test,
            1,
        )
        .unwrap();
    assert_eq!(Some(test.accuracy()), report.test_accuracy);
    assert!(Experiment::open_best(&whole).is_err(), "not a spiking run");
}

#[test]
fn dense_configs_round_trip_and_refuse_what_they_cannot_run() {
    let c = dense_config(PathBuf::from("x.h5"));
    let text = toml::to_string_pretty(&c).unwrap();
    assert!(text.contains("kind = \"mlp\""), "{text}");
    let back: ExperimentConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, c);
    // A config without a kind is spiking, as before.
    let spiking: ExperimentConfig = toml::from_str("[network]\ndt_ms = 1.0\n").unwrap();
    assert_eq!(spiking.network.spiking().unwrap().dt_ms, 1.0);
    let unknown = toml::from_str::<ExperimentConfig>("[network]\nkind = \"mlp\"\ndt_ms = 1.0\n");
    assert!(unknown.unwrap_err().to_string().contains("dt_ms"));

    let refused = |change: &dyn Fn(&mut ExperimentConfig), field: &str| {
        let mut c = dense_config(PathBuf::from("x.h5"));
        change(&mut c);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{field}: {err}");
    };
    refused(
        &|c| {
            c.training.rule = toml::from_str::<toml::Table>("r = { kind = \"eprop\" }").unwrap()
                ["r"]
                .clone()
                .try_into()
                .unwrap()
        },
        "training.rule",
    );
    refused(
        &|c| {
            if let DataSource::Images(i) = &mut c.data.source {
                i.encoding = ImageEncoding::latency();
            }
        },
        "data.source.encoding",
    );
    refused(
        &|c| c.network = NetworkConfig::default(),
        "data.source.encoding",
    );
    refused(
        &|c| c.data.source = DataSource::Randman(Default::default()),
        "data.source",
    );
    refused(
        &|c| c.network.mlp_mut().unwrap().hidden[0].size = 0,
        "network.hidden[0].size",
    );
}

#[test]
fn spiking_networks_read_images_as_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.h5");
    write_images(&path, 40);
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Images(ImagesConfig {
        path,
        max_value: None,
        resize_px: None,
        encoding: ImageEncoding::latency(),
    });
    c.training.epochs = 1;
    let exp = Experiment::prepare(c).unwrap();
    assert_eq!(exp.config.network.spiking().unwrap().inputs, 36);
    // 100 ms at the default 2 ms step.
    assert_eq!(exp.steps, 50);
    let report = exp
        .run(&RunDir::new(dir.path().join("run")), false, &mut Silent)
        .unwrap();
    assert!(report.test_accuracy.is_some());
}

/// The must-show of the dense family: `configs/mlp_mnist5k.toml` reaches 92% on the test
/// split.
#[test]
fn mlp_on_mnist5k_reaches_92_percent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("../shared/data/mnist5k/mnist5k.h5");
    if !file.exists() {
        eprintln!("skipped: {} is absent", file.display());
        return;
    }
    let text = std::fs::read_to_string(root.join("configs/mlp_mnist5k.toml")).unwrap();
    let mut config: ExperimentConfig = toml::from_str(&text).unwrap();
    if let DataSource::Images(images) = &mut config.data.source {
        images.path = file;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = Experiment::prepare(config).unwrap();
    let report = exp
        .run(&RunDir::new(dir.path()), false, &mut Silent)
        .unwrap();
    assert!(report.test_accuracy.unwrap() >= 0.92, "{report:?}");
}
