//! `spikegrad prune`: iterative magnitude pruning of a trained run.

use anyhow::bail;
use clap::Args;
use spikegrad::experiment::{Experiment, PruneConfig, RunDir};
use std::path::PathBuf;

/// Arguments of `spikegrad prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The trained run.
    #[arg(long)]
    run: PathBuf,
    /// The run directory to write (the pruned best weights and `pruning.json`).
    #[arg(long)]
    out: PathBuf,
    /// The first fraction of each weight matrix to prune.
    #[arg(long, default_value_t = PruneConfig::default().start)]
    start: f64,
    /// The step between fractions until the first rejected one.
    #[arg(long, default_value_t = PruneConfig::default().coarse_step)]
    coarse_step: f64,
    /// The step after it.
    #[arg(long, default_value_t = PruneConfig::default().fine_step)]
    fine_step: f64,
    /// The largest fraction tried.
    #[arg(long, default_value_t = PruneConfig::default().max)]
    max: f64,
    /// Epochs of retraining per fraction.
    #[arg(long, default_value_t = PruneConfig::default().retrain_epochs)]
    retrain_epochs: usize,
    /// The largest accepted drop of the training score (R² or accuracy), relative.
    #[arg(long, default_value_t = PruneConfig::default().tolerance)]
    tolerance: f64,
    /// Replace an existing run in --out.
    #[arg(long)]
    force: bool,
}

/// Prunes, writes the run into `--out`, and prints the search and the test results as JSON
/// (one line per trial on stderr as it finishes).
pub fn run(args: PruneArgs) -> anyhow::Result<()> {
    let (src, dst) = (RunDir::new(&args.run), RunDir::new(&args.out));
    let config = PruneConfig {
        start: args.start,
        coarse_step: args.coarse_step,
        fine_step: args.fine_step,
        max: args.max,
        retrain_epochs: args.retrain_epochs,
        tolerance: args.tolerance,
    };
    config.validate()?;
    if dst.best().exists() && !args.force {
        bail!(
            "{} already holds a run; use --force to replace it, or another --out",
            args.out.display()
        );
    }
    let (exp, net) = Experiment::open_best(&src)?;
    let (pruned, report) = exp.prune(&net, &config, &mut |t| {
        let verdict = if t.accepted { "accepted" } else { "rejected" };
        eprintln!(
            "pruned {:.2}: training score {:.4}, sparsity {:.3}: {verdict}",
            t.fraction, t.train_score, t.sparsity
        );
    })?;
    let test = dst.save_pruned(&exp, &pruned, &report)?;
    let json = serde_json::json!({
        "run": args.out.display().to_string(),
        "pruning": report,
        "test": test,
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
