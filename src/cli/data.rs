//! `spikegrad data`: looking at data files.

use clap::{Args, Subcommand};
use serde::Serialize;
use spikegrad::data::shd::{SHD_CHANNELS, SHD_MAX_TIME_S};
use spikegrad::data::{read_shd, ShdFile, ShdReadOptions};
use std::collections::BTreeSet;
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

/// What `data info` reports.
#[derive(Debug, Serialize)]
struct Summary {
    file: String,
    samples: usize,
    classes: usize,
    class_names: Option<Vec<String>>,
    samples_per_class: Vec<usize>,
    channels: usize,
    times_dtype: String,
    spikes_total: usize,
    spikes_per_sample_min: usize,
    spikes_per_sample_mean: f64,
    spikes_per_sample_max: usize,
    time_min_s: Option<f32>,
    time_max_s: Option<f32>,
    speakers: Option<Vec<u32>>,
}

fn info(file: PathBuf, json: bool, channels: usize) -> anyhow::Result<()> {
    let opts = ShdReadOptions {
        channels,
        max_time_s: SHD_MAX_TIME_S,
        samples: None,
    };
    let shd = read_shd(&file, &opts)?;
    let summary = summarize(&file, &shd);
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

fn summarize(file: &std::path::Path, shd: &ShdFile) -> Summary {
    let data = &shd.data;
    let counts: Vec<usize> = data.samples.iter().map(|s| s.len()).collect();
    let total: usize = counts.iter().sum();
    let times = data.samples.iter().flat_map(|s| s.times_s.iter().copied());
    let time_min_s = times.clone().reduce(f32::min);
    let time_max_s = times.reduce(f32::max);
    let classes = data.num_classes.unwrap_or(0);
    let mut per_class = vec![0; classes];
    for sample in &data.samples {
        if let spikegrad::data::Target::Class(c) = sample.target {
            per_class[c] += 1;
        }
    }
    let speakers = shd.speakers.as_ref().map(|s| {
        s.iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    Summary {
        file: file.display().to_string(),
        samples: data.len(),
        classes,
        class_names: shd.class_names.clone(),
        samples_per_class: per_class,
        channels: data.channels,
        times_dtype: shd.times_dtype.clone(),
        spikes_total: total,
        spikes_per_sample_min: counts.iter().copied().min().unwrap_or(0),
        spikes_per_sample_mean: total as f64 / data.len().max(1) as f64,
        spikes_per_sample_max: counts.iter().copied().max().unwrap_or(0),
        time_min_s,
        time_max_s,
        speakers,
    }
}

fn print_text(s: &Summary) {
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
