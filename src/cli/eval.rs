//! `spikegrad eval`.

use spikegrad::experiment::{Experiment, RunDir};
use std::path::Path;

pub fn eval(run: &Path) -> anyhow::Result<()> {
    let (exp, net) = Experiment::open_best(&RunDir::new(run))?;
    let test = exp.evaluate(&net, &exp.split.test)?;
    let summary = serde_json::json!({
        "run": run.display().to_string(),
        "test_samples": test.samples,
        "test_loss": test.mean_loss(),
        "test_accuracy": exp.config.training.loss.is_classification().then(|| test.accuracy()),
        "test_rates_hz": test.rates_hz(),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
