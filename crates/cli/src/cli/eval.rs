//! `spikegrad eval`: test accuracy, loss and cost metrics of a run's best weights.

use spikegrad::experiment::{Experiment, RunDir};
use spikegrad::network::Network;
use spikegrad::quant::integer::{self, EvalScope, IntegerNetwork};
use spikegrad::quant::{Quantization, QuantizedNetwork};
use spikegrad::training::Model;
use std::path::Path;

/// How the best weights are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalMode {
    /// As trained.
    Float,
    /// Quantized to int8 first (post-training, nothing is written; `spikegrad quantize`
    /// writes the quantized run).
    Int8,
    /// In integers ([`spikegrad::quant::integer`]), beside the float network.
    Integer,
    /// On this many emulated analog chips ([`spikegrad::substrate`]).
    Chips(usize),
}

/// The results as one JSON object.
pub fn eval(run: &Path, mode: EvalMode) -> anyhow::Result<serde_json::Value> {
    let dir = RunDir::new(run);
    if dir.load_config()?.network.mlp().is_some() {
        return eval_dense(&dir, mode);
    }
    let (exp, mut net, mut precision) = Experiment::open_best_stored(&dir)?;
    match mode {
        EvalMode::Integer => return eval_integer(run, &exp, &net),
        EvalMode::Chips(chips) => return eval_on_chips(run, &exp, &net, chips),
        EvalMode::Int8 => {
            net = QuantizedNetwork::quantize(&net)?.net;
            precision = Quantization::Int8;
        }
        EvalMode::Float => {}
    }
    let (test, cost) = exp.measure(&net, &exp.split.test, precision)?;
    let summary = serde_json::json!({
        "run": run.display().to_string(),
        "test_samples": test.samples,
        "test_loss": test.mean_loss(),
        "test_accuracy": exp.config.training.loss.is_classification().then(|| test.accuracy()),
        "test_rates_hz": test.rates_hz(),
        "cost": cost,
    });
    Ok(summary)
}

/// [`eval`] in integers: the integer network's test loss, accuracy and rates, the float
/// network's loss and accuracy, and how far the two agree.
fn eval_integer(
    run: &Path,
    exp: &Experiment,
    net: &Network<f32>,
) -> anyhow::Result<serde_json::Value> {
    let int = IntegerNetwork::from_network(net)?;
    let training = &exp.config.training;
    let scope = EvalScope {
        data: &exp.data,
        indices: &exp.split.test,
        steps: exp.steps,
        batch_size: training.batch_size,
        loss: training.loss,
    };
    let e = integer::evaluate(&int, net, scope)?;
    let summary = serde_json::json!({
        "run": run.display().to_string(),
        "integer": true,
        "test_samples": e.samples,
        "test_loss": e.mean_loss(),
        "test_accuracy": e.accuracy(),
        "test_rates_hz": e.rates_hz(),
        "float": {
            "test_loss": e.float_mean_loss(),
            "test_accuracy": e.float_accuracy(),
        },
        "spike_agreement": e.spike_agreement(),
        "prediction_agreement": e.prediction_agreement(),
        "fixed_point": {
            "state": "i32 Q15.16 (hidden layers in units of their threshold)",
            "frac_bits": integer::FRAC_BITS,
            "decay_bits": integer::DECAY_BITS,
            "weights": "int8, one scale per matrix, requantised by multiplier and shift",
        },
    });
    Ok(summary)
}

/// [`eval`] on emulated chips: the test accuracy (or loss) on each of `chips` chips whose
/// seeds follow the run's own chip (1, 2, … for a run trained without one), their mean and
/// standard deviation.
fn eval_on_chips(
    run: &Path,
    exp: &Experiment,
    net: &Network<f32>,
    chips: usize,
) -> anyhow::Result<serde_json::Value> {
    if chips == 0 {
        anyhow::bail!("--substrate-chips must be at least 1");
    }
    let substrate = exp.config.substrate.unwrap_or_default();
    let first = exp
        .config
        .substrate
        .map_or(1, |s| s.chip_seed.wrapping_add(1));
    let seeds: Vec<u64> = (0..chips as u64).map(|k| first.wrapping_add(k)).collect();
    let stats = exp.measure_on_chips(net, &exp.split.test, &substrate, &seeds)?;
    let classification = exp.config.training.loss.is_classification();
    let scores: Vec<f64> = stats
        .iter()
        .map(|s| {
            if classification {
                s.accuracy()
            } else {
                s.mean_loss()
            }
        })
        .collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let var = scores.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / scores.len() as f64;
    let summary = serde_json::json!({
        "run": run.display().to_string(),
        "substrate": substrate,
        "chip_seeds": seeds,
        "score": if classification { "test_accuracy" } else { "test_loss" },
        "per_chip": scores,
        "mean": mean,
        "std": var.sqrt(),
    });
    Ok(summary)
}

/// [`eval`] of a dense run: test loss and accuracy (dense runs have no int8 form).
fn eval_dense(dir: &RunDir, mode: EvalMode) -> anyhow::Result<serde_json::Value> {
    let flag = match mode {
        EvalMode::Float => None,
        EvalMode::Int8 => Some("--int8"),
        EvalMode::Integer => Some("--integer"),
        EvalMode::Chips(_) => Some("--substrate-chips"),
    };
    if let Some(flag) = flag {
        anyhow::bail!("{flag} applies to spiking networks; this run's network is dense");
    }
    let (exp, net) = Experiment::open_best_mlp(dir)?;
    let config = &exp.config.training;
    let test = net.evaluate(config, &exp.data, &exp.split.test, exp.steps)?;
    let summary = serde_json::json!({
        "run": dir.path.display().to_string(),
        "test_samples": test.samples,
        "test_loss": test.mean_loss(),
        "test_accuracy": config.loss.is_classification().then(|| test.accuracy()),
    });
    Ok(summary)
}
