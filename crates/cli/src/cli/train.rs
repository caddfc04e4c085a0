//! `spikegrad train`.

use super::{config_file, plots};
use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use spikegrad::config::{ExperimentConfig, NetworkConfig};
use spikegrad::continual;
use spikegrad::experiment::{EpochRecord, Experiment, FinalReport, Observer, RunDir, Silent};
use spikegrad::training::BatchReport;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config (default: the built-in randman task).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run directory (default: runs/<config name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override a config value, e.g. `--set training.epochs=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Start from the network of this run directory (a trained run, or one written by
    /// `nir import`): its architecture replaces the config's network and its best weights the
    /// initialization (same as `--set init_from="DIR"`).
    #[arg(long, value_name = "DIR")]
    init_from: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint, with its saved config.
    #[arg(long)]
    resume: bool,
    /// Replace an existing run in --out.
    #[arg(long)]
    force: bool,
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let dir = RunDir::new(args.out.clone().unwrap_or_else(|| default_out(&args)));
    let config = if args.resume {
        if args.config.is_some() || !args.sets.is_empty() || args.init_from.is_some() {
            bail!(
                "--resume continues with the run's saved config; drop --config, --set and --init-from"
            );
        }
        if !dir.checkpoint().exists() {
            bail!("cannot resume: {} has no checkpoint", dir.path.display());
        }
        dir.load_config()?
    } else {
        check_fresh(&dir, args.force)?;
        let mut config = config_file::load(args.config.as_deref(), &args.sets)?;
        if let Some(from) = args.init_from.clone() {
            config.init_from = Some(from);
        }
        config
    };
    train_config(config, &dir, args.resume, Show::Progress)
}

/// What a training run prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// The setup, a progress bar, a line per epoch and the results.
    Progress,
    /// Nothing.
    Nothing,
}

/// Refuses to train into a directory that holds a run, unless `force`.
pub fn check_fresh(dir: &RunDir, force: bool) -> anyhow::Result<()> {
    if dir.checkpoint().exists() && !force {
        bail!(
            "{} already holds a run; use --resume to continue it, --force to replace it, or another --out",
            dir.path.display()
        );
    }
    Ok(())
}

/// Trains `config` into `dir` (continuing its checkpoint with `resume`).
pub fn train_config(
    config: ExperimentConfig,
    dir: &RunDir,
    resume: bool,
    show: Show,
) -> anyhow::Result<()> {
    let experiment = Experiment::prepare(config)?;
    if show == Show::Progress {
        print_setup(&experiment, dir);
    }
    if experiment.config.continual.is_some() {
        return train_continual(&experiment, dir, resume, show);
    }
    let mut progress = Progress::new(experiment.config.training.epochs);
    let mut silent = Silent;
    let observer: &mut dyn Observer = match show {
        Show::Progress => &mut progress,
        Show::Nothing => &mut silent,
    };
    let report = experiment.run(dir, resume, observer).with_context(|| {
        format!(
            "run {} stopped (its last good checkpoint is kept)",
            dir.path.display()
        )
    })?;
    progress.bar.finish_and_clear();
    if show == Show::Progress {
        print_report(&report, dir);
    }
    Ok(())
}

/// A `[continual]` run: the task sequence, its accuracy matrix printed and drawn.
fn train_continual(exp: &Experiment, dir: &RunDir, resume: bool, show: Show) -> anyhow::Result<()> {
    let per_task = exp.config.continual.map_or(0, |c| c.epochs_per_task);
    let mut progress = Progress::new(continual::task_count(exp) * per_task);
    let mut silent = Silent;
    let observer: &mut dyn Observer = match show {
        Show::Progress => &mut progress,
        Show::Nothing => &mut silent,
    };
    let result = continual::train(exp, dir, resume, observer).with_context(|| {
        format!(
            "run {} stopped (its last finished task's checkpoint is kept)",
            dir.path.display()
        )
    })?;
    progress.bar.finish_and_clear();
    plots::plot_accuracy_matrix(dir, &result)?;
    if show == Show::Nothing {
        return Ok(());
    }
    let report = &result.report;
    println!("test accuracy after each task (row i: after task i, on tasks 1..=i):");
    for (i, row) in report.accuracy.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|a| format!("{a:.3}")).collect();
        println!("  {:>3}: {}", i + 1, cells.join(" "));
    }
    println!(
        "done: mean accuracy {:.4}, forgetting {:.4}, backward transfer {:.4} over {} tasks \
         ({} epochs, {:.1} s); results in {} (heat map: plots/accuracy.png)",
        report.mean_accuracy,
        report.forgetting,
        report.backward_transfer,
        report.accuracy.len(),
        result.epochs,
        result.train_seconds,
        dir.path.display()
    );
    Ok(())
}

fn default_out(args: &TrainArgs) -> PathBuf {
    let name = args
        .config
        .as_ref()
        .and_then(|p| p.file_stem())
        .map_or("randman".to_string(), |s| s.to_string_lossy().into_owned());
    PathBuf::from("runs").join(name)
}

fn print_setup(exp: &Experiment, dir: &RunDir) {
    let (inputs, sizes, outputs, time) = match &exp.config.network {
        NetworkConfig::Spiking(net) => (
            net.inputs,
            net.hidden.iter().map(|l| l.size).collect::<Vec<_>>(),
            net.readout.size,
            format!("{} steps of {} ms", exp.steps, net.dt_ms),
        ),
        NetworkConfig::Mlp(net) => (
            net.inputs,
            net.hidden.iter().map(|l| l.size).collect(),
            net.outputs,
            "dense".to_string(),
        ),
    };
    let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
    println!(
        "spikegrad: {} samples ({} train / {} valid / {} test), {inputs} inputs -> [{}] -> {outputs} outputs, {time}, {} threads -> {}",
        exp.data.len(),
        exp.split.train.len(),
        exp.split.valid.len(),
        exp.split.test.len(),
        sizes.join(", "),
        rayon::current_num_threads(),
        dir.path.display()
    );
}

fn print_report(r: &FinalReport, dir: &RunDir) {
    let acc = r.test_accuracy.map_or(String::new(), |a| {
        format!("test accuracy {:.2}%, ", 100.0 * a)
    });
    println!(
        "done: {acc}test loss {:.4} (best epoch {} of {}), {:.1} s training; results in {}",
        r.test_loss,
        r.best_epoch,
        r.epochs,
        r.train_seconds,
        dir.path.display()
    );
    if let Some(cost) = &r.cost {
        println!("cost: {}", cost.summary());
    }
}

/// A progress bar over the batches of an epoch and one summary line per epoch.
pub(super) struct Progress {
    pub(super) bar: ProgressBar,
    epochs: usize,
}

impl Progress {
    pub(super) fn new(epochs: usize) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} batches, loss {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Self { bar, epochs }
    }
}

impl Progress {
    /// `epoch/epochs`, or the epoch alone when the total is not known (0).
    fn of(&self, epoch: usize) -> String {
        match self.epochs {
            0 => format!("{epoch:>3}"),
            n => format!("{epoch:>3}/{n}"),
        }
    }
}

impl Observer for Progress {
    fn batch(&mut self, epoch: usize, r: BatchReport) {
        if r.done == 1 {
            self.bar.reset();
            self.bar.set_length(r.total as u64);
            self.bar.set_prefix(self.of(epoch));
        }
        self.bar.set_position(r.done as u64);
        self.bar.set_message(format!("{:.4}", r.loss));
    }

    fn epoch(&mut self, r: &EpochRecord) {
        let pct = |a: Option<f64>| a.map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
        let rates: Vec<String> = r.rates_hz.iter().map(|h| format!("{h:.1}")).collect();
        let rates = match rates.is_empty() {
            true => String::new(),
            false => format!("rates [{}] Hz  ", rates.join(", ")),
        };
        let line = format!(
            "epoch {}  loss {:.4}  acc {}  valid loss {}  valid acc {}  {rates}{:.1} s",
            self.of(r.epoch),
            r.train_loss,
            pct(r.train_accuracy),
            r.valid_loss.map_or("-".to_string(), |l| format!("{l:.4}")),
            pct(r.valid_accuracy),
            r.seconds
        );
        // A hidden bar (no terminal) drops println, so print directly then.
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}
