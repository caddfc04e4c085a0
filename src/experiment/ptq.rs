//! Post-training quantization of a saved run into a new run directory.

use super::{
    file_error, quantized_checkpoint, Experiment, ExperimentError, FinalReport, RunDir, TestResult,
};
use crate::io::write_atomic_str;
use crate::quant::{Quantization, QuantizedNetwork};
use serde::{Deserialize, Serialize};

/// The source run's best weights and their int8 quantization, side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PtqReport {
    /// The best weights as stored in the source run.
    pub source: TestResult,
    /// After post-training int8 quantization.
    pub int8: TestResult,
}

/// Quantizes the best weights of the run in `src` to int8 (one symmetric scale per weight
/// matrix, [`QuantizedNetwork::quantize`]) and writes a run directory `dst` that `eval` and
/// `plot` read like any other: the same `config.toml` and `metrics.jsonl`, an int8
/// `best.safetensors` and a `final.json` with the quantized model's test results. `dst` must
/// not be `src`.
pub fn quantize_run(src: &RunDir, dst: &RunDir) -> Result<PtqReport, ExperimentError> {
    let (exp, net, precision) = Experiment::open_best_stored(src)?;
    let q = QuantizedNetwork::quantize(&net)?;
    let source = exp.test_result(&net, precision)?;
    let (stats, cost) = exp.measure(&q.net, &exp.split.test, Quantization::Int8)?;
    let int8 = exp.result_of(&stats, cost);

    std::fs::create_dir_all(&dst.path).map_err(|e| file_error(&dst.path, e))?;
    let same = |a: &RunDir, b: &RunDir| {
        let canonical = |d: &RunDir| std::fs::canonicalize(&d.path).ok();
        canonical(a).is_some() && canonical(a) == canonical(b)
    };
    if same(src, dst) {
        return Err(file_error(
            &dst.path,
            "is the source run; choose another directory",
        ));
    }
    copy_file(&src.config(), &dst.config())?;
    if src.metrics().exists() {
        copy_file(&src.metrics(), &dst.metrics())?;
    }
    quantized_checkpoint(&q).save(&dst.best())?;
    let mut report = read_final(src)?.unwrap_or(FinalReport {
        test_accuracy: None,
        test_loss: 0.0,
        test_rates_hz: Vec::new(),
        test_samples: 0,
        best_epoch: 0,
        best_valid_accuracy: None,
        best_valid_loss: None,
        epochs: 0,
        train_seconds: 0.0,
        cost: None,
        fano_factor: None,
        van_rossum: None,
    });
    report.test_accuracy = int8.test_accuracy;
    report.test_loss = int8.test_loss;
    report.test_rates_hz = stats.rates_hz();
    report.test_samples = stats.samples / stats.trials.max(1);
    report.cost = Some(int8.cost.clone());
    let text = serde_json::to_string_pretty(&report).expect("report serializes");
    write_atomic_str(&dst.final_report(), &text).map_err(|e| file_error(&dst.final_report(), e))?;
    Ok(PtqReport { source, int8 })
}

fn read_final(dir: &RunDir) -> Result<Option<FinalReport>, ExperimentError> {
    let path = dir.final_report();
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| file_error(&path, e))
}

fn copy_file(from: &std::path::Path, to: &std::path::Path) -> Result<(), ExperimentError> {
    let text = std::fs::read_to_string(from).map_err(|e| file_error(from, e))?;
    write_atomic_str(to, &text).map_err(|e| file_error(to, e))
}
