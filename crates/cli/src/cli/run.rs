//! `spikegrad run`: forward-only inference of a saved network on an SHD-layout spike file.

use anyhow::bail;
use clap::Args;
use spikegrad::data::{read_shd, time_bin, ShdReadOptions};
use spikegrad::experiment::RunDir;
use spikegrad::inference::{infer, write_record};
use spikegrad::quant::integer::{self, IntegerNetwork};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run directory (config.toml + best.safetensors), trained or imported.
    #[arg(long)]
    model: PathBuf,
    /// SHD-layout HDF5 file of input spikes (unit ids below the network's inputs).
    #[arg(long)]
    input: PathBuf,
    /// HDF5 file to write: /hidden/<k>/spikes, /readout/membrane, /dt_s.
    #[arg(long)]
    out: PathBuf,
    /// Time steps per sample (default: up to the step of the file's last spike).
    #[arg(long)]
    steps: Option<usize>,
    /// Samples per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Run in integers (int8 weights, Q15.16 fixed-point state, integer decays); the readout
    /// membranes are written as the reals v / 2^16.
    #[arg(long)]
    integer: bool,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let net = RunDir::new(&args.model).open_network()?;
    let dt_s = net.spec.dt_ms * 1e-3;
    let opts = ShdReadOptions {
        channels: net.spec.inputs,
        ..ShdReadOptions::default()
    };
    let data = read_shd(&args.input, &opts)?.data;
    let steps = match args.steps {
        Some(0) => bail!("--steps must be at least 1"),
        Some(s) => s,
        None => {
            let last = data
                .samples
                .iter()
                .flat_map(|s| s.times_s.iter())
                .fold(0.0f64, |m, &t| m.max(f64::from(t)));
            time_bin(last, dt_s, usize::MAX).map_or(1, |s| s + 1)
        }
    };
    let rec = if args.integer {
        integer::infer(
            &IntegerNetwork::from_network(&net)?,
            &data,
            steps,
            args.batch_size,
        )?
    } else {
        infer(&net, &data, steps, args.batch_size)?
    };
    write_record(&args.out, &rec).map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    let spikes: Vec<usize> = rec
        .hidden
        .iter()
        .map(|(_, s)| s.iter().map(|&v| usize::from(v)).sum())
        .collect();
    let summary = serde_json::json!({
        "model": args.model.display().to_string(),
        "out": args.out.display().to_string(),
        "samples": rec.samples,
        "steps": steps,
        "dt_s": dt_s,
        "integer": args.integer,
        "hidden_spikes": spikes,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
