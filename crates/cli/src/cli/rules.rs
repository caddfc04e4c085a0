//! `spikegrad rules compare`: every applicable rule's gradient against BPTT's.

use super::config_file;
use anyhow::bail;
use clap::{Args, Subcommand};
use spikegrad::experiment::{ComparedRule, Experiment, RuleComparison, RunDir};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// The gradients of RTRL, e-prop and random e-prop on the same batches as BPTT's, per
    /// tensor: cosine similarity and relative error.
    Compare {
        /// The config (its network and data; default: the built-in randman task).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Take the network's weights from this run's best weights instead of a fresh init
        /// (its saved config is used unless --config is given).
        #[arg(long)]
        run: Option<PathBuf>,
        /// Override a config value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Training batches to sum the gradients over.
        #[arg(long, default_value_t = 1)]
        batches: usize,
        /// The rules to compare, comma-separated: rtrl, eprop, eprop_random (default: all;
        /// RTRL's work grows with the cube of the layer size, so leave it out on big layers).
        #[arg(long, value_delimiter = ',')]
        rules: Vec<ComparedRule>,
        /// End with one JSON line `{"rules": {RULE: {TENSOR: {"cosine", "rel_err"}}}}`.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: RulesArgs) -> anyhow::Result<()> {
    let RulesCommand::Compare {
        config,
        run,
        sets,
        batches,
        rules,
        json,
    } = args.command;
    if batches == 0 {
        bail!("--batches must be at least 1");
    }
    let (experiment, net) = match (&run, &config) {
        (Some(dir), None) if sets.is_empty() => Experiment::open_best(&RunDir::new(dir))?,
        (Some(dir), _) => {
            let experiment = Experiment::prepare(config_file::load(config.as_deref(), &sets)?)?;
            let mut net = experiment.new_network()?;
            spikegrad::experiment::load_network(&mut net, &RunDir::new(dir).best())?;
            (experiment, net)
        }
        (None, _) => {
            let experiment = Experiment::prepare(config_file::load(config.as_deref(), &sets)?)?;
            let net = experiment.new_network()?;
            (experiment, net)
        }
    };
    let rules = if rules.is_empty() {
        ComparedRule::ALL.to_vec()
    } else {
        rules
    };
    let comparison = experiment.compare_rules(&net, batches, &rules)?;
    for (rule, result) in &comparison {
        match result {
            RuleComparison::Skipped { skipped } => println!("{rule}: not applicable: {skipped}"),
            RuleComparison::Tensors(tensors) => {
                println!("{rule} against bptt ({batches} batch(es)):");
                for (name, a) in tensors {
                    println!(
                        "  {name:<28} cosine {:>10.7}  rel_err {:.3e}  norm ratio {:.3}",
                        a.cosine, a.rel_err, a.norm_ratio
                    );
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::json!({ "rules": comparison }));
    }
    Ok(())
}
