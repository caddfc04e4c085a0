//! `eprop-evidence`: e-prop learns the evidence-accumulation task (Bellec et al. 2020,
//! "A solution to the learning dilemma for recurrent networks of spiking neurons", Nat.
//! Commun. 11:3625, Fig. 3), as do BPTT and random e-prop.
//!
//! The task and network of `configs/eprop_evidence.toml` (the tutorial's defaults: 50 LIF +
//! 50 adaptive LIF with τ_a = 2 s, recall-window cross-entropy, Adam 5e-3, batch 64), trained
//! with each rule until the validation accuracy reaches 93% (the tutorial's stopping
//! criterion, recall error below 7%) or the epochs run out; test accuracy reported.

use super::{shipped, train, Options, Outcome, Reproduction, Row};
use crate::experiment::ExperimentError;
use crate::rules::{Feedback, RuleKind, DEFAULT_EPROP_CHUNK_STEPS};

/// The config trained.
pub(super) const CONFIG: &str = include_str!("../../configs/eprop_evidence.toml");

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "eprop-evidence",
    paper: "Bellec et al. 2020, Nat. Commun. 11:3625 (e-prop), Fig. 3",
    summary: "e-prop, random e-prop and BPTT on the evidence-accumulation task",
    run,
};

/// The tutorial's stopping criterion: recall error below 7%.
const CRITERION: f64 = 0.93;

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let eprop = |feedback| RuleKind::Eprop {
        feedback,
        chunk_steps: DEFAULT_EPROP_CHUNK_STEPS,
    };
    let rules = [
        ("bptt_accuracy", "bptt", RuleKind::Bptt),
        ("eprop_accuracy", "eprop", eprop(Feedback::Symmetric)),
        (
            "random_eprop_accuracy",
            "eprop_random",
            eprop(Feedback::Random),
        ),
    ];
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let mut epochs = Vec::new();
    for (metric, name, rule) in rules {
        let mut config = shipped(CONFIG);
        config.training.rule = rule;
        config.training.stop_at_valid_accuracy = Some(CRITERION);
        if options.quick {
            config.training.epochs = 2;
            if let crate::config::DataSource::EvidenceAccumulation(e) = &mut config.data.source {
                e.nb_samples = 400;
            }
        }
        let (path, report) = train(config, &options.out, name, options.observer)?;
        epochs.push(format!("{name} {} epochs", report.epochs));
        rows.push(Row {
            metric,
            ours: report.test_accuracy.unwrap_or(f64::NAN).into(),
            anchor: Some(CRITERION),
            published: "solves the task: recall error below 7% (the tutorial's stopping criterion)",
        });
        runs.push(path);
    }
    let setting =
        format!(
        "configs/eprop_evidence.toml{}: 100 neurons (50 adaptive), 2250 steps of 1 ms; trained \
         until 93% validation accuracy or the last epoch ({}); test accuracy",
        if options.quick { " (quick: 400 samples, 2 epochs)" } else { "" },
        epochs.join(", ")
    );
    Ok(Outcome {
        rows,
        setting,
        runs,
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}
