//! Run directories: resume reproduces an uninterrupted run exactly.

use super::*;
use crate::data::RandmanConfig;
use crate::io::Checkpoint;
use crate::losses::LossKind;
use crate::network::WeightInit;
use crate::quant::QuantizedNetwork;

fn small_config() -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.data.source = DataSource::Randman(RandmanConfig {
        nb_classes: 3,
        nb_samples: 60,
        nb_units: 10,
        nb_steps: 40,
        ..RandmanConfig::default()
    });
    c.network.spiking_mut().unwrap().hidden[0].size = 12;
    c.network.spiking_mut().unwrap().hidden[0].recurrent = true;
    c.network.spiking_mut().unwrap().hidden[0].dropout = 0.1;
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
    assert_eq!(saved.network.spiking().unwrap().inputs, 10);
    assert_eq!(saved.network.spiking().unwrap().readout.size, 3);
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
    c.network.spiking_mut().unwrap().inputs = 7;
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

fn qat_config() -> ExperimentConfig {
    let mut c = small_config();
    c.training.epochs = 3;
    c.training.quantize = Quantization::Int8;
    c
}

#[test]
fn a_quantization_aware_run_stores_int8_weights_and_reports_their_cost() {
    let exp = Experiment::prepare(qat_config()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("qat"));
    let report = exp.run(&dir, false, &mut Silent).unwrap();

    let best = Checkpoint::load(&dir.best()).unwrap();
    assert_eq!(best.metadata["quantization"], "int8");
    for name in ["hidden.0.w_in", "hidden.0.w_rec", "readout.w"] {
        assert!(best.int8.contains_key(&format!("net.{name}")), "{name}");
        assert!(
            best.tensors.contains_key(&format!("scale.{name}")),
            "{name}"
        );
    }
    assert!(best.tensors.contains_key("net.hidden.0.tau_mem_s"));
    // The training checkpoint keeps the float master weights.
    let ckpt = Checkpoint::load(&dir.checkpoint()).unwrap();
    assert!(ckpt.int8.is_empty() && ckpt.tensors.contains_key("net.hidden.0.w_in"));

    let (_, net, precision) = Experiment::open_best_stored(&dir).unwrap();
    assert_eq!(precision, Quantization::Int8);
    let again = QuantizedNetwork::quantize(&net).unwrap();
    for (name, q) in &again.weights {
        assert_eq!(q.values, best.int8[&format!("net.{name}")].data, "{name}");
    }
    let cost = report.cost.unwrap();
    assert_eq!(cost.quantization, Quantization::Int8);
    // 10 inputs → 12 recurrent → 3: 120 + 144 + 36 one-byte weights, 3 scales, and
    // τ_mem, τ_syn of 12 + 3 neurons as f32.
    assert_eq!(cost.footprint.total_bytes, 300 + 12 + 30 * 4);
    assert_eq!(cost.samples, exp.split.test.len());
    let test = exp.evaluate(&net, &exp.split.test).unwrap();
    assert_eq!(report.test_accuracy, Some(test.accuracy()));
}

#[test]
fn a_resumed_quantization_aware_run_equals_an_uninterrupted_one() {
    let exp = Experiment::prepare(qat_config()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let whole = RunDir::new(tmp.path().join("whole"));
    let parts = RunDir::new(tmp.path().join("parts"));
    let a = exp.run(&whole, false, &mut Silent).unwrap();
    exp.run(&parts, false, &mut StopAfter(1, 0)).unwrap_err();
    let b = exp.run(&parts, true, &mut Silent).unwrap();
    assert_eq!(metrics(&whole), metrics(&parts));
    assert_eq!(a.test_loss, b.test_loss);
    assert_eq!(
        Checkpoint::load(&whole.best()).unwrap(),
        Checkpoint::load(&parts.best()).unwrap()
    );
}

#[test]
fn post_training_quantization_writes_an_int8_run() {
    let mut c = small_config();
    c.training.epochs = 2;
    let exp = Experiment::prepare(c).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let src = RunDir::new(tmp.path().join("float"));
    let dst = RunDir::new(tmp.path().join("int8"));
    let float = exp.run(&src, false, &mut Silent).unwrap();
    let report = quantize_run(&src, &dst).unwrap();
    assert_eq!(report.source.test_accuracy, float.test_accuracy);
    assert_eq!(report.source.cost, float.cost.unwrap());
    assert_eq!(report.int8.cost.quantization, Quantization::Int8);

    let (_, float_net) = Experiment::open_best(&src).unwrap();
    let (_, net, precision) = Experiment::open_best_stored(&dst).unwrap();
    assert_eq!(precision, Quantization::Int8);
    let expected = QuantizedNetwork::quantize(&float_net).unwrap().net;
    for (a, b) in net.tensors().iter().zip(expected.tensors()) {
        assert_eq!(a.data, b.data, "{}", a.name);
    }
    let saved: FinalReport =
        serde_json::from_str(&std::fs::read_to_string(dst.final_report()).unwrap()).unwrap();
    assert_eq!(saved.test_accuracy, report.int8.test_accuracy);
    assert_eq!(saved.best_epoch, float.best_epoch);
    assert!(
        quantize_run(&src, &src).is_err(),
        "must not overwrite the source"
    );
}

#[test]
fn corrupt_int8_checkpoints_are_errors_naming_the_tensor() {
    let exp = Experiment::prepare(qat_config()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("qat"));
    exp.run(&dir, false, &mut StopAfter(1, 0)).unwrap_err();
    let good = Checkpoint::load(&dir.best()).unwrap();
    let mut net = exp.new_network().unwrap();
    let path = tmp.path().join("bad.safetensors");
    let load = |ckpt: Checkpoint, net: &mut Network<f32>| {
        ckpt.save(&path).unwrap();
        load_network(net, &path).unwrap_err().to_string()
    };
    let mut c = good.clone();
    c.insert("scale.readout.w", vec![1], vec![0.0]);
    let e = load(c, &mut net);
    assert!(e.contains("net.readout.w") && e.contains("scale"), "{e}");
    let mut c = good.clone();
    c.tensors.remove("scale.hidden.0.w_rec");
    let e = load(c, &mut net);
    assert!(
        e.contains("scale.hidden.0.w_rec") && e.contains("missing"),
        "{e}"
    );
    let mut c = good.clone();
    c.int8.get_mut("net.hidden.0.w_in").unwrap().data[3] = -128;
    let e = load(c, &mut net);
    assert!(e.contains("net.hidden.0.w_in") && e.contains("−128"), "{e}");
    let mut c = good;
    c.insert("net.readout.w", vec![12, 3], vec![0.0; 36]);
    let e = load(c, &mut net);
    assert!(e.contains("int8") && e.contains("f32"), "{e}");
}

#[test]
fn a_last_steps_loss_must_fit_the_steps_and_is_saved_as_a_table() {
    let mut c = small_config();
    c.training.loss = LossKind::LastStepsCe { steps: 0 };
    let err = Experiment::prepare(c.clone()).unwrap_err().to_string();
    assert!(
        err.contains("training.loss") && err.contains("at least 1"),
        "{err}"
    );
    c.training.loss = LossKind::LastStepsCe { steps: 1000 };
    let err = Experiment::prepare(c.clone()).unwrap_err().to_string();
    assert!(
        err.contains("training.loss") && err.contains("1000"),
        "{err}"
    );

    c.training.loss = LossKind::LastStepsCe { steps: 5 };
    c.training.epochs = 1;
    let exp = Experiment::prepare(c).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let report = exp.run(&dir, false, &mut Silent).unwrap();
    assert!(report.test_loss.is_finite() && report.test_accuracy.is_some());
    let text = std::fs::read_to_string(dir.config()).unwrap();
    assert_eq!(dir.load_config().unwrap(), exp.config, "{text}");
}

/// A small evidence-accumulation run: 40 samples, a 12-neuron recurrent layer, 1 ms steps.
const EVIDENCE_TOML: &str = r#"
[data.source]
kind = "evidence_accumulation"
nb_samples = 40
seed = 3

[network]
dt_ms = 1.0

[[network.hidden]]
size = 12
recurrent = true

[training]
epochs = 1
batch_size = 16
loss = { last_steps_ce = { steps = 150 } }
"#;

#[test]
fn an_evidence_accumulation_source_is_generated_split_and_trained() {
    let config: ExperimentConfig = toml::from_str(EVIDENCE_TOML).unwrap();
    let DataSource::EvidenceAccumulation(source) = &config.data.source else {
        panic!(
            "not an evidence-accumulation source: {:?}",
            config.data.source
        );
    };
    assert_eq!((source.nb_samples, source.n_cues, source.seed), (40, 7, 3));
    let exp = Experiment::prepare(config).unwrap();
    assert_eq!(exp.steps, 2250);
    assert_eq!(exp.config.network.spiking().unwrap().inputs, 40);
    assert_eq!(exp.config.network.spiking().unwrap().readout.size, 2);
    assert_eq!(exp.data.len(), 40);
    let sizes = [&exp.split.train, &exp.split.valid, &exp.split.test].map(|s| s.len());
    assert_eq!(sizes.iter().sum::<usize>(), 40);
    assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let report = exp.run(&dir, false, &mut Silent).unwrap();
    assert!(report.test_loss.is_finite() && report.test_accuracy.is_some());
    assert_eq!(dir.load_config().unwrap(), exp.config);
}

#[test]
fn evidence_accumulation_configs_are_checked() {
    let with = |line: &str| EVIDENCE_TOML.replace("seed = 3", line);
    let config: ExperimentConfig = toml::from_str(&with("n_cues = 6")).unwrap();
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("data.source") && err.contains("`n_cues`"),
        "{err}"
    );
    assert!(toml::from_str::<ExperimentConfig>(&with("cue_count = 7")).is_err());
    let config: ExperimentConfig = toml::from_str(&with("recall_ms = 2000")).unwrap();
    let err = Experiment::prepare(config).unwrap_err().to_string();
    assert!(err.contains("`recall_ms`"), "{err}");
}

/// A random-e-prop run keeps its feedback matrix in the checkpoint, and resuming it gives the
/// uninterrupted run's results; a stochastic run likewise.
#[test]
fn resumed_online_and_stochastic_runs_equal_uninterrupted_ones() {
    use crate::rules::{Feedback, RuleKind};
    use crate::surrogates::{EscapeNoise, SpikeFn};
    let mut eprop = small_config();
    eprop.network.spiking_mut().unwrap().hidden[0].dropout = 0.0;
    eprop.training.rule = RuleKind::Eprop {
        feedback: Feedback::Random,
        chunk_steps: 16,
    };
    let mut stochastic = small_config();
    stochastic.network.spiking_mut().unwrap().spike = SpikeFn::EscapeNoise {
        noise: EscapeNoise::Sigmoid { beta: 10.0 },
        surrogate: None,
    };
    stochastic.training.eval_trials = 3;
    for config in [eprop, stochastic] {
        let exp = Experiment::prepare(config).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let whole = RunDir::new(tmp.path().join("whole"));
        let parts = RunDir::new(tmp.path().join("parts"));
        let a = exp.run(&whole, false, &mut Silent).unwrap();
        exp.run(&parts, false, &mut StopAfter(2, 0)).unwrap_err();
        let b = exp.run(&parts, true, &mut Silent).unwrap();
        assert_eq!(metrics(&whole), metrics(&parts));
        assert_eq!((a.test_loss, a.fano_factor), (b.test_loss, b.fano_factor));
        let (ca, cb) = (
            Checkpoint::load(&whole.checkpoint()).unwrap(),
            Checkpoint::load(&parts.checkpoint()).unwrap(),
        );
        assert_eq!(ca.tensors, cb.tensors);
        let feedback = ca.tensors.get("rule.eprop.feedback");
        assert_eq!(
            feedback.is_some(),
            exp.config.training.rule != RuleKind::Bptt
        );
    }
}

/// A network whose last hidden layer is the output trains with BPTT on spike counts (and
/// learns), resumes from its weights, and the state-keeping rules refuse it by field.
#[test]
fn spiking_output_networks_train_with_bptt_and_online_rules_refuse_them() {
    use crate::layers::{ReadoutKind, SpikingLayerSpec};
    use crate::rules::{Feedback, RuleKind};
    let mut config = small_config();
    config
        .network
        .spiking_mut()
        .unwrap()
        .hidden
        .push(SpikingLayerSpec {
            size: 3,
            ..SpikingLayerSpec::default()
        });
    config.network.spiking_mut().unwrap().readout.kind = ReadoutKind::Spikes;
    if let DataSource::Randman(r) = &mut config.data.source {
        r.nb_samples = 300;
    }
    config.training.loss = LossKind::SumOverTimeCe;
    config.training.optimizer = crate::optimizers::OptimizerKind::Adam {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    config.training.epochs = 15;
    let exp = Experiment::prepare(config.clone()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let report = exp.run(&dir, false, &mut Silent).unwrap();
    let records = metrics(&dir);
    let (first, last) = (records[0].train_loss, records.last().unwrap().train_loss);
    assert!(
        last < 0.9 * first,
        "the spike-count loss should fall: {first} -> {last}"
    );
    let accuracy = report.test_accuracy.unwrap();
    assert!(
        accuracy > 0.42,
        "spike-count outputs should beat chance (1/3): {accuracy}"
    );
    let (reopened, net) = Experiment::open_best(&dir).unwrap();
    assert_eq!(
        reopened.config.network.spiking().unwrap().readout.kind,
        ReadoutKind::Spikes
    );
    assert!(net.tensors().iter().all(|t| !t.name.starts_with("readout")));
    for rule in [
        RuleKind::Rtrl {
            max_memory_mb: 100.0,
        },
        RuleKind::Eprop {
            feedback: Feedback::Symmetric,
            chunk_steps: 16,
        },
    ] {
        let mut c = config.clone();
        c.network.spiking_mut().unwrap().hidden.truncate(1);
        c.network.spiking_mut().unwrap().hidden[0].size = 3;
        c.network.spiking_mut().unwrap().hidden[0].dropout = 0.0;
        c.training.rule = rule;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("network.readout.kind"), "{err}");
    }
}

/// `rule = { kind = "superspike", ... }` parses with its defaults, and networks it cannot
/// train are refused by field.
#[test]
fn superspike_configs_are_parsed_and_checked() {
    use crate::rules::{Homeostasis, RuleKind, SuperSpikeFeedback};
    let rule: RuleKind =
        toml::from_str::<toml::Table>("r = { kind = \"superspike\", feedback = \"random\" }")
            .unwrap()["r"]
            .clone()
            .try_into()
            .unwrap();
    assert_eq!(
        rule,
        RuleKind::SuperSpike {
            feedback: SuperSpikeFeedback::Random,
            homeostasis: Homeostasis::default()
        }
    );
    let mut config = small_config();
    config.training.rule = rule;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("network.readout.kind"), "{err}");
    config.training.rule = RuleKind::SuperSpike {
        feedback: SuperSpikeFeedback::Symmetric,
        homeostasis: Homeostasis {
            rho: -1.0,
            tau_ms: 100.0,
        },
    };
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("homeostasis.rho"), "{err}");
}

/// The shipped temporal-XOR config: symmetric SuperSpike learns it (test spikes on time),
/// while the same output without the hidden layer cannot (below 0.75 on the four
/// combinations).
#[test]
fn superspike_solves_the_temporal_xor_that_one_layer_cannot() {
    let text = include_str!("../../configs/superspike_xor.toml");
    let accuracy = |hidden_layer: bool| {
        let mut config: ExperimentConfig = toml::from_str(text).unwrap();
        if !hidden_layer {
            config.network.spiking_mut().unwrap().hidden.remove(0);
        }
        config.training.epochs = 100;
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let experiment = Experiment::prepare(config).unwrap();
        experiment.run(&run, false, &mut Silent).unwrap();
        let (experiment, net) = Experiment::open_best(&run).unwrap();
        let test = &experiment.split.test;
        experiment
            .spike_timing_accuracy(&net, test, 5.0)
            .unwrap()
            .unwrap()
    };
    let (with, without) = (accuracy(true), accuracy(false));
    println!("temporal XOR test accuracy: {with} with the hidden layer, {without} without");
    assert!(with >= 0.9, "{with}");
    assert!(without <= 0.75, "{without}");
}

#[test]
fn init_from_starts_from_another_runs_network_and_best_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let source = RunDir::new(tmp.path().join("source"));
    let mut c = small_config();
    c.training.epochs = 2;
    Experiment::prepare(c.clone())
        .unwrap()
        .run(&source, false, &mut Silent)
        .unwrap();
    let trained = source.open_network().unwrap();

    // Another architecture and seed in the config: the source's replaces them.
    let mut continued = c.clone();
    continued.seed += 7;
    continued.network.spiking_mut().unwrap().hidden[0].size = 5;
    continued.init_from = Some(source.path.clone());
    let exp = Experiment::prepare(continued).unwrap();
    assert_eq!(exp.config.network, trained.spec.clone().into());
    let start = exp.new_network().unwrap();
    for (a, b) in start.tensors().iter().zip(trained.tensors()) {
        assert_eq!((&a.name, a.data), (&b.name, b.data));
    }
    // The continued run trains from there and saves init_from in its resolved config.
    let dir = RunDir::new(tmp.path().join("continued"));
    exp.run(&dir, false, &mut Silent).unwrap();
    assert_eq!(
        dir.load_config().unwrap().init_from,
        Some(source.path.clone())
    );
    assert_ne!(
        dir.open_network().unwrap().tensors()[0].data,
        trained.tensors()[0].data
    );
}

#[test]
fn init_from_a_directory_without_a_network_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = small_config();
    c.init_from = Some(tmp.path().join("nothing"));
    let err = Experiment::prepare(c).unwrap_err().to_string();
    assert!(
        err.contains("init_from") && err.contains("no trained"),
        "{err}"
    );
}

#[test]
fn dale_layers_refuse_int8_training_and_the_substrate_by_name() {
    let mut c = small_config();
    c.network.spiking_mut().unwrap().hidden[0].dropout = 0.0;
    c.network.spiking_mut().unwrap().hidden[0].dale = Some(Default::default());
    c.training.quantize = Quantization::Int8;
    let err = Experiment::prepare(c.clone()).unwrap_err().to_string();
    assert!(
        err.contains("network.hidden[0].dale") && err.contains("f32"),
        "{err}"
    );
    c.training.quantize = Quantization::None;
    c.substrate = Some(Default::default());
    let err = Experiment::prepare(c).unwrap_err().to_string();
    assert!(err.contains("substrate"), "{err}");
}

/// A convolutional run: the resolved config holds the derived sizes, an interrupted run
/// resumes exactly, and the saved kernels rebuild the network that was trained.
#[test]
fn convolutional_runs_resolve_sizes_resume_and_reload() {
    let mut c = small_config();
    let spec = c.network.spiking_mut().unwrap();
    use crate::layers::conv::Extent;
    spec.hidden[0].conv = Some(crate::layers::conv::ConvLayerSpec {
        filters: 3,
        kernel: Extent::Same(3),
        stride: Extent::Same(2),
        ..Default::default()
    });
    spec.hidden[0].bias = true;
    let exp = Experiment::prepare(c).unwrap();
    // (10 − 3)/2 + 1 = 4 positions × 3 filters.
    assert_eq!(exp.config.network.spiking().unwrap().hidden[0].size, 12);
    let tmp = tempfile::tempdir().unwrap();
    let whole = RunDir::new(tmp.path().join("whole"));
    let parts = RunDir::new(tmp.path().join("parts"));
    let a = exp.run(&whole, false, &mut Silent).unwrap();
    exp.run(&parts, false, &mut StopAfter(2, 0)).unwrap_err();
    let b = exp.run(&parts, true, &mut Silent).unwrap();
    assert_eq!(metrics(&whole), metrics(&parts));
    assert_eq!(a.test_accuracy, b.test_accuracy);
    let saved: ExperimentConfig =
        toml::from_str(&std::fs::read_to_string(whole.config()).unwrap()).unwrap();
    assert_eq!(saved, exp.config);
    let net = whole.open_network().unwrap();
    let layer = &net.hidden[0];
    let conv = layer.conv.as_ref().unwrap();
    assert_eq!(
        layer.w_in,
        conv.input.matrix(),
        "W_in rebuilt from the kernel"
    );
    assert_eq!(layer.w_rec, conv.recurrent.as_ref().map(|k| k.matrix()));
    assert!(conv.input.kernel.iter().any(|&w| w != 0.0));
}

#[test]
fn convolutional_layers_refuse_int8_training_and_rules_by_name() {
    let mut c = small_config();
    c.network.spiking_mut().unwrap().hidden[0].conv = Some(Default::default());
    c.training.quantize = Quantization::Int8;
    let err = Experiment::prepare(c.clone()).unwrap_err().to_string();
    assert!(
        err.contains("network.hidden[0].conv") && err.contains("f32"),
        "{err}"
    );
    c.training.quantize = Quantization::None;
    c.training.rule = crate::rules::RuleKind::Rtrl {
        max_memory_mb: 100.0,
    };
    let err = Experiment::prepare(c).unwrap_err().to_string();
    assert!(
        err.contains("network.hidden[0].conv") && err.contains("bptt"),
        "{err}"
    );
}

/// `configs/mnist_conv2d.toml` on the 8×8 digits: the images' map becomes the network's
/// `input_shape`, the 2-D maps give the layer sizes, and a short run trains and reloads.
#[test]
fn a_2d_convolutional_config_runs_on_images() {
    let digits = "../shared/data/digits/digits.h5";
    if !Path::new(digits).exists() {
        eprintln!("skipped: {digits} is absent");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/mnist_conv2d.toml");
    let mut c = crate::config::file::load(Some(&path), &[]).unwrap();
    let DataSource::Images(images) = &mut c.data.source else {
        panic!("the config reads images")
    };
    images.path = digits.into();
    images.resize_px = None;
    c.training.epochs = 3;
    c.training.batch_size = 20;
    c.training.optimizer = crate::optimizers::OptimizerKind::Adam {
        lr: 3e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let exp = Experiment::prepare(c).unwrap();
    let spec = exp.config.network.spiking().unwrap();
    assert_eq!(spec.input_shape, Some(vec![1, 8, 8]));
    // 8 × 8 → 8 filters, pooled 4 × 4; → 16 filters, pooled 2 × 2.
    let sizes: Vec<usize> = spec.hidden.iter().map(|l| l.size).collect();
    assert_eq!(sizes, [8 * 4 * 4, 16 * 2 * 2]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path().join("run"));
    let outcome = exp.run(&dir, false, &mut Silent).unwrap();
    let accuracy = outcome.test_accuracy.unwrap();
    assert!(accuracy > 0.25, "10 classes: {accuracy}");
    let net = dir.open_network().unwrap();
    let conv = net.hidden[1].conv.as_ref().unwrap();
    assert_eq!(net.hidden[1].w_in, conv.input.matrix());
}
