//! `spikegrad audio2spikes`: WAV files → SHD-layout spike files with the cochlea model.

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use spikegrad::audio::{
    read_wav, sample_seed, Cochlea, CochleaParams, TransferCache, COCHLEA_CHANNELS,
};
use spikegrad::data::{write_shd, EventDataset, EventSample, Target};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct Audio2SpikesArgs {
    /// A WAV file, or a folder of WAV files (with `--labels`).
    input: PathBuf,
    /// The SHD-layout HDF5 file to write.
    output: PathBuf,
    /// For a folder: a CSV file with a header and rows `file,label[,speaker]` (file names
    /// relative to the folder, labels integers from 0, speakers integers).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Class names, one per line (line k names label k), stored as /extra/keys.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// For one file: its label.
    #[arg(long, default_value_t = 0)]
    label: usize,
    /// For one file: its speaker id.
    #[arg(long)]
    speaker: Option<u32>,
    /// Seed of the spike draws; sample k of a folder uses a seed derived from it and k.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of cochlea channels.
    #[arg(long, default_value_t = COCHLEA_CHANNELS)]
    channels: usize,
    /// Memory (MiB) for the membrane's transfer matrices, reused across files of the same
    /// length and rate (16 B per channel and frequency bin: 90 MB for 700 channels and a
    /// one-second clip at 16 kHz); 0 evaluates the matrix for every file.
    #[arg(long, default_value_t = 512)]
    transfer_cache_mib: usize,
}

/// One input file and what to store with it.
struct Entry {
    file: PathBuf,
    label: usize,
    speaker: Option<u32>,
}

pub fn run(args: Audio2SpikesArgs) -> anyhow::Result<()> {
    let entries = if args.input.is_dir() {
        let Some(labels) = &args.labels else {
            bail!(
                "{} is a folder: give its label map with --labels FILE.csv",
                args.input.display()
            );
        };
        read_label_map(&args.input, labels)?
    } else {
        vec![Entry {
            file: args.input.clone(),
            label: args.label,
            speaker: args.speaker,
        }]
    };
    let params = CochleaParams {
        channels: args.channels,
        ..CochleaParams::default()
    };
    let cochlea = Cochlea::new(params)?;
    let start = Instant::now();
    // One file gains nothing from keeping its matrix.
    let cache_bytes = match entries.len() {
        1 => 0,
        _ => args.transfer_cache_mib.saturating_mul(1 << 20),
    };
    let mut cache = TransferCache::new(cache_bytes);
    let (samples, seconds_audio, longest_s) =
        convert_all(&cochlea, &mut cache, &entries, args.seed)?;
    let elapsed = start.elapsed().as_secs_f64();
    let keys = args.keys.as_deref().map(read_keys).transpose()?;
    let num_classes = match &keys {
        Some(k) => k.len(),
        None => entries.iter().map(|e| e.label + 1).max().unwrap_or(1),
    };
    let speakers: Option<Vec<u32>> = entries.iter().map(|e| e.speaker).collect();
    let data = EventDataset::new(
        samples,
        args.channels,
        Some(num_classes),
        longest_s.max(1e-3),
    )
    .context("building the dataset")?;
    write_shd(&args.output, &data, keys.as_deref(), speakers.as_deref())
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "{} samples ({seconds_audio:.1} s of audio) in {elapsed:.1} s ({:.3} s per second of audio) → {}",
        entries.len(),
        elapsed / seconds_audio.max(1e-9),
        args.output.display()
    );
    Ok(())
}

/// Converts every entry; returns the samples, the total and the longest audio duration (s).
fn convert_all(
    cochlea: &Cochlea,
    cache: &mut TransferCache,
    entries: &[Entry],
    seed: u64,
) -> anyhow::Result<(Vec<EventSample>, f64, f64)> {
    let progress = ProgressBar::new(entries.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("a valid template"),
    );
    if entries.len() < 2 {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut samples = Vec::with_capacity(entries.len());
    let (mut total_s, mut longest_s) = (0.0, 0.0f64);
    for (k, entry) in entries.iter().enumerate() {
        let audio = read_wav(&entry.file)?;
        let seconds = audio.samples.len() as f64 / f64::from(audio.sample_rate_hz);
        total_s += seconds;
        longest_s = longest_s.max(seconds);
        let spikes = cochlea
            .audio_to_spikes_cached(
                cache,
                &audio.samples,
                audio.sample_rate_hz,
                sample_seed(seed, k),
            )
            .with_context(|| format!("converting {}", entry.file.display()))?;
        samples.push(EventSample {
            times_s: spikes.times_s.iter().map(|&t| t as f32).collect(),
            units: spikes.units,
            target: Target::Class(entry.label),
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((samples, total_s, longest_s))
}

/// Reads `file,label[,speaker]` rows (after a header line) of the CSV at `path`.
fn read_label_map(folder: &Path, path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entries = Vec::new();
    for (line_no, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = || format!("{} line {}", path.display(), line_no + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if !(2..=3).contains(&fields.len()) {
            bail!("{}: expected file,label[,speaker], got {line:?}", at());
        }
        let label = fields[1]
            .parse()
            .with_context(|| format!("{}: label {:?} is not an integer ≥ 0", at(), fields[1]))?;
        let speaker = match fields.get(2) {
            Some(s) => Some(
                s.parse()
                    .with_context(|| format!("{}: speaker {s:?} is not an integer ≥ 0", at()))?,
            ),
            None => None,
        };
        entries.push(Entry {
            file: folder.join(fields[0]),
            label,
            speaker,
        });
    }
    if entries.is_empty() {
        bail!("{} lists no files", path.display());
    }
    let with_speaker = entries.iter().filter(|e| e.speaker.is_some()).count();
    if with_speaker != 0 && with_speaker != entries.len() {
        bail!(
            "{}: give a speaker for every file or for none",
            path.display()
        );
    }
    Ok(entries)
}

/// Class names, one per non-empty line.
fn read_keys(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}
