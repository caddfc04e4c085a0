//! `stochastic-randman`: networks of stochastic neurons trained with surrogate gradients match
//! deterministic ones (Gygax & Zenke 2025, "Elucidating the theoretical underpinnings of
//! surrogate gradient learning in spiking neural networks", Neural Computation 37(5)).
//!
//! The default randman task (`configs/randman.toml`) against the same task with sigmoid escape
//! noise and the matched surrogate (`configs/randman_stochastic.toml`, evaluated over 10 noisy
//! trials); the stochastic network's Fano factor in 10-step bins, as the paper measures it.

use super::{shipped, train, Options, Outcome, Reproduction, Row};
use crate::experiment::ExperimentError;

pub(super) const DETERMINISTIC: &str = include_str!("../../configs/randman.toml");
pub(super) const STOCHASTIC: &str = include_str!("../../configs/randman_stochastic.toml");

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "stochastic-randman",
    paper: "Gygax & Zenke 2025, Neural Computation 37(5):886–925",
    summary: "stochastic (escape-noise) against deterministic neurons on randman, Fano factor",
    run,
};

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let mut results = Vec::new();
    for (name, text) in [("deterministic", DETERMINISTIC), ("stochastic", STOCHASTIC)] {
        let mut config = shipped(text);
        if options.quick {
            config.training.epochs = 3;
        }
        results.push(train(config, &options.out, name, options.observer)?);
    }
    let accuracy = |k: usize| results[k].1.test_accuracy.unwrap_or(f64::NAN);
    let fano = results[1]
        .1
        .fano_factor
        .as_ref()
        .and_then(|f| f.first().copied().flatten())
        .unwrap_or(f64::NAN);
    let rows = vec![
        Row {
            metric: "deterministic_accuracy",
            ours: accuracy(0).into(),
            anchor: None,
            published: "the deterministic reference network",
        },
        Row {
            metric: "stochastic_accuracy",
            ours: accuracy(1).into(),
            anchor: None,
            published: "comparable to the deterministic network (no number published)",
        },
        Row {
            metric: "fano_factor",
            ours: fano.into(),
            anchor: None,
            published: "spike-count variability across trials of one input (10-step bins)",
        },
    ];
    let epochs = results[0].1.epochs;
    Ok(Outcome {
        rows,
        setting: format!(
            "randman, 10 classes, 128 LIF neurons, {epochs} epochs{}; stochastic: sigmoid escape \
             noise β = 10, evaluated over 10 trials",
            if options.quick { " (quick)" } else { "" }
        ),
        runs: results.into_iter().map(|(p, _)| p).collect(),
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}
