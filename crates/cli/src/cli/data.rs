//! `spikegrad data`: looking at data files.

use clap::{Args, Subcommand};
use spikegrad::data::shd::SHD_CHANNELS;
use spikegrad::data::{ShdStream, ShdSummary};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Summarize an SHD/SSC-layout HDF5 file: samples, classes, spikes, times, speakers.
    Info {
        /// The HDF5 file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Number of input channels (unit ids must be below it).
        #[arg(long, default_value_t = SHD_CHANNELS)]
        channels: usize,
    },
}

pub fn run(args: DataArgs) -> anyhow::Result<()> {
    match args.command {
        DataCommand::Info {
            file,
            json,
            channels,
        } => info(file, json, channels),
    }
}

fn info(file: PathBuf, json: bool, channels: usize) -> anyhow::Result<()> {
    let stream = ShdStream::open(&file, channels)?;
    let summary = ShdSummary::of(&stream)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

fn print_text(s: &ShdSummary) {
    println!("file:      {}", s.file);
    println!("samples:   {}", s.samples);
    println!("classes:   {}", s.classes);
    for (class, count) in s.samples_per_class.iter().enumerate() {
        let name = s
            .class_names
            .as_ref()
            .and_then(|n| n.get(class))
            .map_or(String::new(), |n| format!(" {n:?}"));
        println!("  {class:>3}{name}: {count} samples");
    }
    println!("channels:  {}", s.channels);
    println!("times:     {}", s.times_dtype);
    println!(
        "spikes:    {} total; per sample min {}, mean {:.1}, max {}",
        s.spikes_total, s.spikes_per_sample_min, s.spikes_per_sample_mean, s.spikes_per_sample_max
    );
    match (s.time_min_s, s.time_max_s) {
        (Some(lo), Some(hi)) => println!("time range: {lo} s .. {hi} s"),
        _ => println!("time range: (no spikes)"),
    }
    match &s.speakers {
        Some(ids) => println!("speakers:  {} ({ids:?})", ids.len()),
        None => println!("speakers:  (none recorded)"),
    }
}
