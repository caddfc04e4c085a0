//! `spikegrad nir export|import`: NIR files in and out.

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use spikegrad::config::{DataSource, ExperimentConfig};
use spikegrad::data::shd::SHD_MAX_TIME_S;
use spikegrad::experiment::RunDir;
use spikegrad::neurons::ResetMode;
use spikegrad::nir::{self, Discretisation, ImportOptions};
use spikegrad::quant::integer::IntegerNetwork;
use spikegrad::quant::{Quantization, QuantizedNetwork};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct NirArgs {
    #[command(subcommand)]
    command: NirCommand,
}

#[derive(Debug, Subcommand)]
enum NirCommand {
    /// Write a run's best weights as a NIR graph (CubaLIF layers, CubaLI readout).
    Export {
        /// The run directory.
        #[arg(long)]
        run: PathBuf,
        /// The NIR file to write.
        out: PathBuf,
        /// Also record the integer network (int8 weights, requantisation multipliers and
        /// shifts, Q0.16 decays, the Q15.16 state format) in the nodes' metadata.
        #[arg(long)]
        integer: bool,
    },
    /// Build a run directory (config.toml + best.safetensors) from a NIR graph.
    Import {
        /// The NIR file.
        file: PathBuf,
        /// Time step to simulate at, in seconds (snnTorch files: 1e-4).
        #[arg(long)]
        dt: f64,
        /// The run directory to create.
        #[arg(long)]
        out: PathBuf,
        /// How the continuous-time equations are discretised (default: the file's metadata,
        /// else exponential; snnTorch and Norse files: forward-euler).
        #[arg(long, value_enum)]
        discretisation: Option<DiscretisationArg>,
        /// The file comes from Norse's exporter run with this dt in seconds (Norse writes its
        /// time constants as dt·τ; they are rescaled to seconds).
        #[arg(long)]
        norse_export_dt: Option<f64>,
        /// What a spike does to the spiking layers' membranes (default: the nodes'
        /// `reset_mode` metadata, else NIR's reset to v_reset, "zero"). NIR cannot express
        /// a reset by subtraction: give "subtract-after-leak" for files of snnTorch's
        /// default neurons (reset_mechanism "subtract", reset_delay True), "subtract" for
        /// reset_delay False.
        #[arg(long, value_enum)]
        reset: Option<ResetArg>,
        /// SHD-layout HDF5 file that `spikegrad eval` evaluates on (train and test split).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Sample duration in seconds binned by `eval`.
        #[arg(long, default_value_t = SHD_MAX_TIME_S)]
        max_time_s: f64,
        /// Replace an existing run in `--out`.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ResetArg {
    Zero,
    Subtract,
    SubtractAfterLeak,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DiscretisationArg {
    Exponential,
    ForwardEuler,
}

pub fn run(args: NirArgs) -> anyhow::Result<()> {
    let summary = match args.command {
        NirCommand::Export { run, out, integer } => export(run, out, integer),
        NirCommand::Import {
            file,
            dt,
            out,
            discretisation,
            norse_export_dt,
            reset,
            data,
            max_time_s,
            force,
        } => {
            let discretisation = discretisation.map(|d| match d {
                DiscretisationArg::Exponential => Discretisation::Exponential,
                DiscretisationArg::ForwardEuler => Discretisation::ForwardEuler,
            });
            let opts = ImportOptions {
                dt_s: dt,
                discretisation,
                norse_export_dt_s: norse_export_dt,
                reset: reset.map(|r| match r {
                    ResetArg::Zero => ResetMode::Zero,
                    ResetArg::Subtract => ResetMode::Subtract,
                    ResetArg::SubtractAfterLeak => ResetMode::SubtractAfterLeak,
                }),
            };
            import(file, out, opts, data, max_time_s, force)
        }
    }?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Writes the run's best weights as a NIR graph; returns a summary.
pub fn export(run: PathBuf, out: PathBuf, integer: bool) -> anyhow::Result<serde_json::Value> {
    let (net, stored) = RunDir::new(&run).open_network_stored()?;
    let mut graph = nir::export_network(&net)?;
    if stored == Quantization::Int8 {
        nir::mark_int8(&mut graph, &QuantizedNetwork::quantize(&net)?)?;
    }
    if integer {
        nir::mark_integer(&mut graph, &IntegerNetwork::from_network(&net)?)?;
    }
    nir::write_nir(&out, &graph)?;
    let subtracting: Vec<usize> = (net.hidden.iter().enumerate())
        .filter(|(_, l)| l.spec.reset != ResetMode::Zero)
        .map(|(k, _)| k)
        .collect();
    if !subtracting.is_empty() {
        eprintln!(
            "note: hidden layers {subtracting:?} reset by subtraction, which NIR's nodes cannot \
             express: their nodes say so in their metadata (reset_mode), which other readers \
             ignore (they reset to v_reset)"
        );
    }
    let summary = serde_json::json!({
        "run": run.display().to_string(),
        "out": out.display().to_string(),
        "dt_s": net.spec.dt_ms * 1e-3,
        "weights": stored,
        "integer": integer,
        "reset_by_subtraction": subtracting,
        "nodes": graph.nodes.len(),
        "edges": graph.edges.len(),
    });
    Ok(summary)
}

/// Imports a NIR graph as a run directory; returns a summary.
pub fn import(
    file: PathBuf,
    out: PathBuf,
    opts: ImportOptions,
    data: Option<PathBuf>,
    max_time_s: f64,
    force: bool,
) -> anyhow::Result<serde_json::Value> {
    let dir = RunDir::new(&out);
    if dir.config().exists() && !force {
        bail!(
            "{} already holds a run; use --force to replace it, or another --out",
            out.display()
        );
    }
    let graph = nir::read_nir(&file)?;
    let imported =
        nir::import_graph(&graph, &opts).with_context(|| format!("{}", file.display()))?;
    let net = &imported.network;
    let mut config = ExperimentConfig {
        network: net.spec.clone().into(),
        ..ExperimentConfig::default()
    };
    let path = data.clone().unwrap_or_default();
    config.data.source = DataSource::Hdf5 {
        train: path.clone(),
        test: data.map(|_| path),
        valid: None,
        max_time_s,
        channels: net.spec.inputs,
        stream: false,
    };
    dir.save_network(&config, net)?;
    let summary = serde_json::json!({
        "file": file.display().to_string(),
        "out": out.display().to_string(),
        "dt_s": opts.dt_s,
        "discretisation": imported.discretisation.name(),
        "discretisation_from_file": imported.discretisation_from_file,
        "inputs": net.spec.inputs,
        "hidden": net.hidden.iter().map(|l| l.size()).collect::<Vec<_>>(),
        "recurrent": net.hidden.iter().map(|l| l.w_rec.is_some()).collect::<Vec<_>>(),
        "outputs": net.readout.spec.size,
        "notes": imported.notes,
    });
    Ok(summary)
}
