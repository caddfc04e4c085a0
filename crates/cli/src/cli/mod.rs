//! Command-line interface: argument parsing and the subcommands.

mod audio2spikes;
mod bench;
mod config_file;
mod data;
pub(crate) mod eval;
pub(crate) mod nir;
mod plot;
pub(crate) mod plots;
mod prune;
mod quantize;
pub(crate) mod reproduce;
mod rules;
mod run;
pub(crate) mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Fast, correct surrogate-gradient training of spiking neural networks.
#[derive(Debug, Parser)]
#[command(name = "spikegrad", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network (with no config: the default randman task).
    Train(train::TrainArgs),
    /// Re-evaluate a saved run's best weights on its test split: accuracy, loss and cost
    /// metrics (footprint, sparsities, synaptic operations).
    Eval {
        /// The run directory.
        #[arg(long)]
        run: PathBuf,
        /// Quantize the weights to int8 first (post-training; nothing is written).
        #[arg(long)]
        int8: bool,
        /// Run in integers (int8 weights, Q15.16 fixed-point state, integer decays) and report
        /// the float network beside it: accuracies, spike and prediction agreement.
        #[arg(long, conflicts_with = "int8")]
        integer: bool,
        /// Run the best weights on K emulated analog chips (the run's `[substrate]` settings,
        /// or the defaults) other than the one it trained on: accuracy per chip, mean, spread.
        #[arg(long, value_name = "K", conflicts_with_all = ["int8", "integer"])]
        substrate_chips: Option<usize>,
    },
    /// Post-training int8 quantization: writes a run directory with int8 best weights and
    /// their test results, and prints the float and int8 results.
    Quantize {
        /// The source run directory.
        #[arg(long)]
        run: PathBuf,
        /// The run directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing run in --out.
        #[arg(long)]
        force: bool,
    },
    /// Iterative magnitude pruning of a trained run: each weight matrix's smallest
    /// weights removed, retrained, kept while the training R² (or accuracy) holds.
    Prune(prune::PruneArgs),
    /// Time standard workloads (one JSON object per workload).
    Bench(bench::BenchArgs),
    /// Look at data files (`data info FILE`).
    Data(data::DataArgs),
    /// NIR files: `nir export --run DIR OUT.nir`, `nir import IN.nir --dt S --out DIR`.
    Nir(nir::NirArgs),
    /// Run a saved network forward on an SHD-layout spike file; write its spikes and traces.
    Run(run::RunArgs),
    /// Convert WAV audio to SHD-layout spike trains with the Heidelberg cochlea model.
    Audio2spikes(audio2spikes::Audio2SpikesArgs),
    /// Re-run a paper's key result and print it beside the published figure
    /// (`reproduce --list`).
    Reproduce(reproduce::ReproduceArgs),
    /// Gradient rules: `rules compare --config FILE` (each rule's gradient against BPTT's).
    Rules(rules::RulesArgs),
    /// Write PNG plots of a saved run into RUN/plots/.
    Plot {
        /// The run directory.
        #[arg(long)]
        run: PathBuf,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::train(args),
        Command::Eval {
            run,
            int8,
            integer,
            substrate_chips,
        } => {
            let mode = match (substrate_chips, integer, int8) {
                (Some(chips), _, _) => eval::EvalMode::Chips(chips),
                (None, true, _) => eval::EvalMode::Integer,
                (None, false, true) => eval::EvalMode::Int8,
                (None, false, false) => eval::EvalMode::Float,
            };
            let summary = eval::eval(&run, mode)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Command::Quantize { run, out, force } => quantize::quantize(&run, &out, force),
        Command::Prune(args) => prune::run(args),
        Command::Plot { run } => plots::plot_run(&run),
        Command::Bench(args) => bench::bench(args),
        Command::Rules(args) => rules::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Data(args) => data::run(args),
        Command::Nir(args) => nir::run(args),
        Command::Run(args) => run::run(args),
        Command::Audio2spikes(args) => audio2spikes::run(args),
    }
}

/// Log to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
