//! `spikegrad reproduce NAME`: re-runs a paper's key result and prints it beside the
//! published figure.

use super::{plots, train::Progress};
use anyhow::{bail, Context};
use clap::Args;
use spikegrad::reproduce::{self, Options};
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
    let Some(entry) = reproduce::find(&name) else {
        bail!("no reproduction `{name}` (spikegrad reproduce --list shows them)");
    };
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join("reproduce").join(&name));
    let out_dir = out.clone();
    println!("{}: {} ({})", entry.name, entry.summary, entry.paper);
    let start = Instant::now();
    let mut progress = Progress::new(0);
    let mut options = Options {
        out,
        quick: args.quick,
        observer: &mut progress,
    };
    let outcome = (entry.run)(&mut options).with_context(|| format!("reproduce {name}"))?;
    progress.bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    for run in &outcome.runs {
        plots::plot_run(run).with_context(|| format!("plots of {}", run.display()))?;
    }
    for figure in &outcome.figures {
        let path = out_dir.join(&figure.file);
        plots::plot_figure(&path, figure).with_context(|| format!("figure {}", path.display()))?;
        println!("figure: {}", path.display());
    }
    for map in &outcome.heat_maps {
        let path = out_dir.join(&map.file);
        plots::plot_heat_map(&path, map).with_context(|| format!("figure {}", path.display()))?;
        println!("figure: {}", path.display());
    }
    println!(
        "{:<24} {:>10} {:>10}  published",
        "metric", "ours", "anchor"
    );
    for row in &outcome.rows {
        let anchor = row.anchor.map_or("-".to_string(), |a| format!("{a:.4}"));
        println!(
            "{:<24} {:>10} {:>10}  {}",
            row.metric,
            row.ours.to_string(),
            anchor,
            row.published
        );
    }
    println!("setting: {}", outcome.setting);
    let runs: Vec<String> = outcome
        .runs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!("runs (with plots): {}; {seconds:.0} s", runs.join(", "));
    if args.json {
        let json = serde_json::json!({
            "name": entry.name,
            "metrics": outcome.metrics(),
            "anchor": outcome.anchors(),
            "seconds": seconds,
        });
        println!("{json}");
    }
    Ok(())
}
