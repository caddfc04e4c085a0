//! The `train-run` workload: a whole training run (reading SHD-layout files, binning,
//! training, validation, checkpoints, the final test) timed as a user would run it, on
//! synthetic spoken words written to a scratch directory first.

use anyhow::Context;
use serde_json::{json, Value};
use spikegrad::bench::spoken::{spoken_words, CHANNELS, DURATION_S};
use spikegrad::config::file::from_toml;
use spikegrad::data::{write_shd, EventDataset};
use spikegrad::experiment::RunDir;
use std::path::Path;
use std::time::Instant;

use crate::cli::train::{train_config, Show};

/// The workload's config (an in-memory SHD-like data set and the reference RSNN).
const CONFIG: &str = include_str!("train_run.toml");

/// Trains `epochs` epochs of the workload into a temporary directory and reports the seconds
/// per epoch (median, min and max over the epochs, each with its validation and checkpoint)
/// and of the whole run.
pub fn train_run(epochs: usize, batch: Option<usize>) -> anyhow::Result<Value> {
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let (train, test) = (
        scratch.path().join("train.h5"),
        scratch.path().join("test.h5"),
    );
    write_data(&train, &test)?;
    let mut overrides = vec![
        format!("training.epochs={epochs}"),
        format!("data.source.train={:?}", train.display().to_string()),
        format!("data.source.test={:?}", test.display().to_string()),
    ];
    if let Some(b) = batch {
        overrides.push(format!("training.batch_size={b}"));
    }
    let config = from_toml(CONFIG, "the train-run workload", &overrides)?;
    let batch_size = config.training.batch_size;
    let dir = RunDir::new(scratch.path().join("run"));
    let start = Instant::now();
    train_config(config, &dir, false, Show::Nothing)?;
    let total_s = start.elapsed().as_secs_f64();
    let mut seconds = epoch_seconds(&dir)?;
    seconds.sort_by(f64::total_cmp);
    let final_report: Value = read_json(&dir.final_report())?;
    Ok(json!({
        "workload": "train-run",
        "median_s_per_epoch": seconds[seconds.len() / 2],
        "min_s_per_epoch": seconds[0],
        "max_s_per_epoch": seconds[seconds.len() - 1],
        "epochs": seconds.len(),
        "total_s": total_s,
        "test_accuracy": final_report["test_accuracy"],
        "threads": rayon::current_num_threads(),
        "peak_rss_mb": spikegrad::bench::peak_rss_mb(),
        "shape": {"inputs": CHANNELS, "hidden": 256, "outputs": 20, "T": 120, "B": batch_size,
                  "train": 280, "valid": 40, "test": 80},
    }))
}

/// 400 spoken words (20 classes), the first 320 as the train file, the rest as the test file.
fn write_data(train: &Path, test: &Path) -> anyhow::Result<()> {
    let words = spoken_words(20, 20, 0);
    let (first, rest) = words.samples.split_at(320);
    for (path, samples) in [(train, first), (test, rest)] {
        let part = EventDataset::new(samples.to_vec(), CHANNELS, Some(20), DURATION_S)?;
        write_shd(path, &part, None, None)?;
    }
    Ok(())
}

/// Each epoch's wall-clock seconds, from the run's metrics.
fn epoch_seconds(dir: &RunDir) -> anyhow::Result<Vec<f64>> {
    let path = dir.metrics();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line)?;
            record["seconds"]
                .as_f64()
                .context("an epoch record without seconds")
        })
        .collect()
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}
