//! `spikegrad data`: looking at data files.

use clap::{Args, Subcommand};
use serde::Serialize;
use spikegrad::data::shd::SHD_CHANNELS;
use spikegrad::data::ShdStream;
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
    let stream = ShdStream::open(&file, channels)?;
    let summary = summarize(&stream)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

/// Reads the samples one at a time (memory stays bounded on SSC-sized files), checking each.
fn summarize(stream: &ShdStream) -> anyhow::Result<Summary> {
    let (mut time_min_s, mut time_max_s) = (None::<f32>, None::<f32>);
    for i in 0..stream.len() {
        let sample = stream.read(i)?;
        for &t in &sample.times_s {
            time_min_s = Some(time_min_s.map_or(t, |m| m.min(t)));
            time_max_s = Some(time_max_s.map_or(t, |m| m.max(t)));
        }
    }
    let counts = stream.spike_counts();
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    let classes = stream.num_classes();
    let mut per_class = vec![0; classes];
    for &label in stream.labels() {
        if let Some(count) = per_class.get_mut(label as usize) {
            *count += 1;
        }
    }
    let speakers = stream.speakers().map(|s| {
        s.iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    });
    Ok(Summary {
        file: stream.path().display().to_string(),
        samples: stream.len(),
        classes,
        class_names: stream.class_names().map(<[String]>::to_vec),
        samples_per_class: per_class,
        channels: stream.channels(),
        times_dtype: stream.times_dtype(),
        spikes_total: total,
        spikes_per_sample_min: counts.iter().map(|&c| c as usize).min().unwrap_or(0),
        spikes_per_sample_mean: total as f64 / stream.len().max(1) as f64,
        spikes_per_sample_max: counts.iter().map(|&c| c as usize).max().unwrap_or(0),
        time_min_s,
        time_max_s,
        speakers,
    })
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
