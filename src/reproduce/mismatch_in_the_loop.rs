//! `mismatch-in-the-loop`: training with an analog substrate in the loop corrects for the
//! chip's fixed-pattern variation, where a network trained on the nominal model loses accuracy
//! on the chip (Cramer, Billaudelle, Kanya, …, Zenke & Schemmel, "Surrogate gradients for
//! analog neuromorphic computing", PNAS 2022, BrainScaleS-2).
//!
//! Setting (`configs/mismatch_mnist.toml`): the paper's MNIST network on the 5000-digit subset
//! (3500 train, 500 validation, 1000 test), images resampled to 16×16 and latency-coded,
//! 256 → 246 LIF → 10 leaky readouts, max over time, Adam 1.5e-3, batches of 100, 30 epochs.
//! The chips: the default [`crate::substrate::SubstrateConfig`] (20% spread of time constants
//! and synaptic gains, 10% of thresholds, leak offsets of 5% of the threshold, 6-bit weights,
//! current noise), seeds 1–10.
//!
//! Arms: the nominal model trained in software (`ideal_accuracy`: on the nominal model), the
//! same weights run on chips 1–10 (`nominal_on_chips_accuracy`, their mean); the network
//! trained with chip k in the loop and tested on chip k, for k = 1, 2, 3
//! (`in_the_loop_on_chips_accuracy`, their mean, beside the nominal weights on the same three
//! chips); and chip 1's network run on chips 4–10 (`in_the_loop_on_other_chips_accuracy`: how
//! much of the training is specific to its chip).
//!
//! What differs: an emulation, not a chip; the time constants are ours (τ_mem 10 ms,
//! τ_syn 5 ms, dt 1 ms, 60 ms samples), and the subset is 5000 digits instead of 60 000.

use super::{shipped, train, Options, Outcome, Reproduction, Row};
use crate::config::ExperimentConfig;
use crate::experiment::{Experiment, ExperimentError, RunDir};
use crate::reproduce::Metric;
use crate::substrate::SubstrateConfig;
use std::path::{Path, PathBuf};

pub(super) const CONFIG: &str = include_str!("../../configs/mismatch_mnist.toml");

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "mismatch-in-the-loop",
    paper: "Cramer et al., PNAS 2022 (BrainScaleS-2 surrogate gradients)",
    summary: "MNIST 16x16 on emulated analog chips: nominal training vs the chip in the loop",
    run,
};

/// How large a run is.
struct Size {
    epochs: usize,
    /// The chips that train in the loop (each tested on itself).
    loop_chips: &'static [u64],
    /// The chips the nominal network is tested on.
    test_chips: &'static [u64],
    /// The chips the first in-the-loop network is also tested on.
    other_chips: &'static [u64],
}

const FULL: Size = Size {
    epochs: 30,
    loop_chips: &[1, 2, 3],
    test_chips: &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    other_chips: &[4, 5, 6, 7, 8, 9, 10],
};

const QUICK: Size = Size {
    epochs: 1,
    loop_chips: &[1],
    test_chips: &[1, 2],
    other_chips: &[2],
};

fn config(epochs: usize, chip: Option<u64>) -> ExperimentConfig {
    let mut config: ExperimentConfig = shipped(CONFIG);
    config.training.epochs = epochs;
    config.substrate = chip.map(|chip_seed| SubstrateConfig {
        chip_seed,
        ..SubstrateConfig::default()
    });
    config
}

/// The test accuracy of `run`'s best weights on each of `chips`.
fn on_chips(run: &Path, chips: &[u64]) -> Result<Vec<f64>, ExperimentError> {
    let (exp, net) = Experiment::open_best(&RunDir::new(run))?;
    let substrate = SubstrateConfig::default();
    let stats = exp.measure_on_chips(&net, &exp.split.test, &substrate, chips)?;
    Ok(stats.iter().map(|s| s.accuracy()).collect())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let size = if options.quick { &QUICK } else { &FULL };
    let (nominal, report) = train(
        config(size.epochs, None),
        &options.out,
        "nominal",
        options.observer,
    )?;
    let ideal = report.test_accuracy.unwrap_or(f64::NAN);
    let nominal_chips = on_chips(&nominal, size.test_chips)?;
    let mut runs: Vec<PathBuf> = vec![nominal.clone()];
    let mut in_loop = Vec::with_capacity(size.loop_chips.len());
    for &chip in size.loop_chips {
        let name = format!("in_the_loop_chip{chip}");
        let (path, _) = train(
            config(size.epochs, Some(chip)),
            &options.out,
            &name,
            options.observer,
        )?;
        in_loop.extend(on_chips(&path, &[chip])?);
        runs.push(path);
    }
    let other = on_chips(&runs[1], size.other_chips)?;
    let nominal_same = on_chips(&nominal, size.loop_chips)?;
    let row = |metric, ours: Metric, published| Row {
        metric,
        ours,
        anchor: None,
        published,
    };
    let rows = vec![
        row(
            "ideal_accuracy",
            ideal.into(),
            "the software model (chip: 97.6% full MNIST)",
        ),
        row(
            "nominal_on_chips_accuracy",
            mean(&nominal_chips).into(),
            "trained on the model, run on the chip: degraded by mismatch",
        ),
        row(
            "in_the_loop_on_chips_accuracy",
            mean(&in_loop).into(),
            "trained with the chip in the loop: corrects for its mismatch",
        ),
        row(
            "nominal_on_loop_chips_accuracy",
            mean(&nominal_same).into(),
            "the nominal weights on the same chips as the in-the-loop runs",
        ),
        row(
            "in_the_loop_on_other_chips_accuracy",
            mean(&other).into(),
            "chip 1's network on other chips (not in the paper)",
        ),
        row(
            "nominal_on_chips_per_chip",
            Metric::Series(nominal_chips),
            "one value per chip",
        ),
        row(
            "in_the_loop_per_chip",
            Metric::Series(in_loop),
            "one value per chip trained in the loop",
        ),
    ];
    Ok(Outcome {
        rows,
        setting: format!(
            "configs/mismatch_mnist.toml: mnist5k at 16x16, latency code, 256-246-10 LIF, Adam \
             1.5e-3, {} epochs; default substrate (20% tau and gain spread, 10% thresholds, 6-bit \
             weights, current noise 0.02); in the loop on chips {:?}, nominal tested on {:?}",
            size.epochs, size.loop_chips, size.test_chips
        ),
        runs,
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{quick, value};
    use super::*;

    /// The quick version runs end to end on the shared MNIST subset (skipped without it) and
    /// reports accuracies in [0, 1].
    #[test]
    fn quick_mismatch_reports_accuracies() {
        let Some((outcome, _dir)) = quick(run, Some("../shared/data/mnist5k/mnist5k.h5")) else {
            return;
        };
        for name in [
            "ideal_accuracy",
            "nominal_on_chips_accuracy",
            "in_the_loop_on_chips_accuracy",
        ] {
            let v = value(&outcome, name);
            assert!((0.0..=1.0).contains(&v), "{name} = {v}");
        }
    }
}
