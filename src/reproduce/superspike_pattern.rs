//! `superspike-pattern`: SuperSpike trains a hidden layer and 200 spiking outputs to draw a
//! picture in spikes (Zenke & Ganguli 2018, Neural Comput. 30:1514, Fig. 5), with symmetric,
//! random and uniform feedback, beside BPTT on the same network, loss and optimizer.
//!
//! The network, task and training of `configs/superspike_pattern.toml` (200 frozen Poisson
//! inputs → 256 → 200 LIF outputs, the project's own 200 × 189 target of 10 ms columns,
//! RMSmax, 300 epochs of 10 trials); each arm changes only the rule. The metric is the final
//! van Rossum distance divided by that of a silent output; each run directory gets
//! `plots/raster_over_target.png` (both black, target alone grey, output alone red).

use super::{shipped, train, Options, Outcome, Reproduction, Row};
use crate::config::DataSource;
use crate::data::raster::{write_overlay_png, Raster};
use crate::experiment::{file_error, ExperimentError};
use crate::rules::{Homeostasis, RuleKind, SuperSpikeFeedback};
use crate::tensor::Seq;
use std::path::Path;

/// The config trained.
pub(super) const CONFIG: &str = include_str!("../../configs/superspike_pattern.toml");

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "superspike-pattern",
    paper: "Zenke & Ganguli 2018, Neural Comput. 30:1514 (SuperSpike), Fig. 5",
    summary: "a 200-neuron spike pattern learned with symmetric, random, uniform feedback and BPTT",
    run,
};

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let superspike = |feedback| RuleKind::SuperSpike {
        feedback,
        homeostasis: Homeostasis::default(),
    };
    let arms = [
        (
            "symmetric_vr",
            "symmetric",
            superspike(SuperSpikeFeedback::Symmetric),
        ),
        (
            "random_vr",
            "random",
            superspike(SuperSpikeFeedback::Random),
        ),
        (
            "uniform_vr",
            "uniform",
            superspike(SuperSpikeFeedback::Uniform),
        ),
        ("bptt_vr", "bptt", RuleKind::Bptt),
    ];
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for (metric, name, rule) in arms {
        let mut config = shipped(CONFIG);
        config.training.rule = rule;
        if options.quick {
            config.training.epochs = 2;
            if let DataSource::SpikePattern(p) = &mut config.data.source {
                p.nb_samples = 2;
            }
        }
        let (path, report) = train(config, &options.out, name, options.observer)?;
        plot_over_target(&path)?;
        rows.push(Row {
            metric,
            ours: report.van_rossum.unwrap_or(f64::NAN).into(),
            anchor: None,
            published: published(name),
        });
        runs.push(path);
    }
    let setting =
        format!(
        "configs/superspike_pattern.toml{}: 200 inputs -> 256 -> 200 LIF outputs, 189 columns of \
         10 ms at dt = 1 ms; each arm changes only the rule; van Rossum distance of the test \
         output over that of silence",
        if options.quick { " (quick: 2 epochs of 2 trials)" } else { "" }
    );
    Ok(Outcome {
        rows,
        setting,
        runs,
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}

fn published(arm: &str) -> &'static str {
    match arm {
        "symmetric" => "learns the pattern (the hard task needs symmetric feedback)",
        "random" | "uniform" => "falls short of symmetric feedback on this harder task",
        _ => "not in the paper (exact surrogate gradient, the same loss)",
    }
}

/// Draws the best weights' test output over the target, column by column.
fn plot_over_target(run: &Path) -> Result<(), ExperimentError> {
    let spikes = super::test_spikes(run)?;
    let DataSource::SpikePattern(pattern) = &spikes.experiment.config.data.source else {
        unreachable!("the reproduction's config is a spike pattern")
    };
    let column_steps = (pattern.column_ms / spikes.dt_ms).round().max(1.0) as usize;
    let dir = run.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
    let path = dir.join("raster_over_target.png");
    let file = std::fs::File::create(&path).map_err(|e| file_error(&path, e))?;
    let (output, target) = (
        columns(&spikes.output, column_steps),
        columns(&spikes.target, column_steps),
    );
    write_overlay_png(&output, &target, std::io::BufWriter::new(file))
        .map_err(|e| file_error(&path, e))
}

/// Sample 0 of `[T, B, C]` spikes as a raster of `C` rows and one column per `column_steps`
/// steps (a spike anywhere in the column marks it).
fn columns<F: crate::real::Real>(spikes: &Seq<F>, column_steps: usize) -> Raster {
    let (rows, cols) = (spikes.width, spikes.steps.div_ceil(column_steps));
    let mut marks = vec![false; rows * cols];
    for t in 0..spikes.steps {
        for (r, &s) in spikes.row(t, 0).iter().enumerate() {
            if s.as_f64() > 0.5 {
                marks[r * cols + t / column_steps] = true;
            }
        }
    }
    Raster {
        rows,
        columns: cols,
        spikes: marks,
    }
}
