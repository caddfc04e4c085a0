//! `spikegrad eval`: test accuracy, loss and cost metrics of a run's best weights.

use spikegrad::experiment::{Experiment, RunDir};
use spikegrad::quant::{Quantization, QuantizedNetwork};
use spikegrad::training::Model;
use std::path::Path;

/// Prints one JSON object. With `int8`, the best weights are first quantized (post-training,
/// nothing is written; `spikegrad quantize` writes the quantized run).
pub fn eval(run: &Path, int8: bool) -> anyhow::Result<()> {
    let dir = RunDir::new(run);
    if dir.load_config()?.network.mlp().is_some() {
        return eval_dense(&dir, int8);
    }
    let (exp, mut net, mut precision) = Experiment::open_best_stored(&dir)?;
    if int8 {
        net = QuantizedNetwork::quantize(&net)?.net;
        precision = Quantization::Int8;
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
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// [`eval`] of a dense run: test loss and accuracy (dense runs have no int8 form).
fn eval_dense(dir: &RunDir, int8: bool) -> anyhow::Result<()> {
    if int8 {
        anyhow::bail!("--int8 applies to spiking networks; this run's network is dense");
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
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
