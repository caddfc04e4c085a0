//! `spikegrad bench`: timing workloads, one JSON object per line.

use anyhow::{bail, Context};
use clap::Args;
use spikegrad::bench::{self, Workload};
use spikegrad::rules::RuleKind;

mod train_run;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// shd-rsnn, on-lif, long, infer, train-run, or all (each in its own process, so that peak
    /// memory is the workload's own).
    #[arg(long, default_value = "shd-rsnn")]
    workload: String,
    /// Timed steps (after warm-up); the epochs of train-run.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Threads (default: RAYON_NUM_THREADS, else one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Layer width of on-lif.
    #[arg(long, default_value_t = 1024)]
    n: usize,
    /// Gradient rule of the training workloads: bptt, rtrl or eprop (default: BPTT in line,
    /// as the peers' harness times it).
    #[arg(long)]
    rule: Option<String>,
    /// Time steps per sample instead of the workload's own (shd-rsnn, long, infer).
    #[arg(long)]
    timesteps: Option<usize>,
    /// Samples per batch instead of the workload's own (shd-rsnn and infer 128, long 32,
    /// on-lif 16, train-run 32).
    #[arg(long)]
    batch: Option<usize>,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("cannot size the thread pool")?;
    }
    if args.workload == "all" {
        return run_each(&args);
    }
    if args.batch == Some(0) {
        bail!("--batch must be at least 1");
    }
    if args.workload == "train-run" {
        let report = train_run::train_run(args.steps, args.batch)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let workload = match args.workload.as_str() {
        "shd-rsnn" => Workload::ShdRsnn,
        "on-lif" => Workload::OnLif { n: args.n },
        "long" => Workload::Long,
        "infer" => Workload::Infer,
        other => {
            bail!("unknown workload `{other}` (shd-rsnn, on-lif, long, infer, train-run, all)")
        }
    };
    let warmup = if matches!(workload, Workload::Long) {
        1
    } else {
        3
    };
    let rule = match args.rule.as_deref() {
        None => None,
        Some("bptt") => Some(RuleKind::Bptt),
        Some("rtrl") => Some(RuleKind::Rtrl {
            max_memory_mb: spikegrad::rules::DEFAULT_RTRL_MEMORY_MB,
        }),
        Some("eprop") => Some(RuleKind::Eprop {
            feedback: spikegrad::rules::Feedback::Symmetric,
            chunk_steps: spikegrad::rules::DEFAULT_EPROP_CHUNK_STEPS,
        }),
        Some(other) => bail!("unknown rule `{other}` (bptt, rtrl, eprop)"),
    };
    if args.timesteps == Some(0) {
        bail!("--timesteps must be at least 1");
    }
    let options = bench::TrainOptions {
        rule,
        timesteps: args.timesteps,
        batch: args.batch,
    };
    let report = bench::run_with(workload, args.steps, warmup, options)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Runs every workload in a child process of this binary.
fn run_each(args: &BenchArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    for name in ["shd-rsnn", "on-lif", "long", "infer", "train-run"] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "bench",
            "--workload",
            name,
            "--steps",
            &args.steps.to_string(),
            "--n",
            &args.n.to_string(),
        ]);
        if let Some(t) = args.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        if let Some(b) = args.batch {
            cmd.args(["--batch", &b.to_string()]);
        }
        let status = cmd
            .status()
            .with_context(|| format!("cannot run workload {name}"))?;
        if !status.success() {
            bail!("workload {name} failed ({status})");
        }
    }
    Ok(())
}
