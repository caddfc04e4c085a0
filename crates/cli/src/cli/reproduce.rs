//! `spikegrad reproduce NAME`: re-runs a paper's key result and prints it beside the
//! published figure.

use super::{plots, train::Progress};
use anyhow::{bail, Context};
use clap::Args;
use spikegrad::reproduce::{self, Options, Outcome, Reproduction};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The reproduction (see --list).
    name: Option<String>,
    /// List the reproductions.
    #[arg(long)]
    list: bool,
    /// Where its run directories go (default: runs/reproduce/NAME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A small, fast version that checks everything runs (its numbers are not the result).
    #[arg(long)]
    quick: bool,
    /// End with one JSON line `{"name", "metrics", "anchor", "seconds"}`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    if args.list {
        for r in reproduce::REGISTRY {
            println!("{:<22} {} ({})", r.name, r.summary, r.paper);
        }
        return Ok(());
    }
    let Some(name) = args.name else {
        bail!("name a reproduction (spikegrad reproduce --list shows them)");
    };
    let done = reproduce_one(&name, args.out, args.quick, |entry| {
        println!("{}: {} ({})", entry.name, entry.summary, entry.paper);
    })?;
    for file in &done.figures {
        println!("figure: {}", file.display());
    }
    println!(
        "{:<24} {:>10} {:>10}  published",
        "metric", "ours", "anchor"
    );
    for row in &done.outcome.rows {
        let anchor = row.anchor.map_or("-".to_string(), |a| format!("{a:.4}"));
        println!(
            "{:<24} {:>10} {:>10}  {}",
            row.metric,
            row.ours.to_string(),
            anchor,
            row.published
        );
    }
    println!("setting: {}", done.outcome.setting);
    let runs: Vec<String> = done
        .outcome
        .runs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!(
        "runs (with plots): {}; {:.0} s",
        runs.join(", "),
        done.seconds
    );
    if args.json {
        println!("{}", done.json());
    }
    Ok(())
}

/// A finished reproduction.
pub struct Reproduced {
    /// Which one.
    pub entry: &'static Reproduction,
    /// Its rows, setting and run directories.
    pub outcome: Outcome,
    /// The figures drawn.
    pub figures: Vec<PathBuf>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Reproduced {
    /// `{"name", "metrics", "anchor", "seconds"}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.entry.name,
            "metrics": self.outcome.metrics(),
            "anchor": self.outcome.anchors(),
            "seconds": self.seconds,
        })
    }
}

/// Runs reproduction `name` into `out` (default `runs/reproduce/NAME`) and draws its plots
/// and figures; `started` hears of it first.
pub fn reproduce_one(
    name: &str,
    out: Option<PathBuf>,
    quick: bool,
    started: impl FnOnce(&Reproduction),
) -> anyhow::Result<Reproduced> {
    let Some(entry) = reproduce::find(name) else {
        bail!("no reproduction `{name}` (spikegrad reproduce --list shows them)");
    };
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join("reproduce").join(name));
    let out_dir = out.clone();
    started(entry);
    let start = Instant::now();
    let mut progress = Progress::new(0);
    let mut options = Options {
        out,
        quick,
        observer: &mut progress,
    };
    let outcome = (entry.run)(&mut options).with_context(|| format!("reproduce {name}"))?;
    progress.bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    for run in &outcome.runs {
        plots::plot_run(run).with_context(|| format!("plots of {}", run.display()))?;
    }
    let mut figures = Vec::new();
    for figure in &outcome.figures {
        let path = out_dir.join(&figure.file);
        plots::plot_figure(&path, figure).with_context(|| format!("figure {}", path.display()))?;
        figures.push(path);
    }
    for map in &outcome.heat_maps {
        let path = out_dir.join(&map.file);
        plots::plot_heat_map(&path, map).with_context(|| format!("figure {}", path.display()))?;
        figures.push(path);
    }
    Ok(Reproduced {
        entry,
        outcome,
        figures,
        seconds,
    })
}
