//! Standard timing workloads (`spikegrad bench`), defined exactly as the peers' harness defines
//! them so that step times can be compared side by side.
//!
//! - `shd-rsnn`: one training step (forward, BPTT, Adam) of 700 binary inputs (1.5% density) →
//!   256 recurrent current-based LIF → 20 leaky readouts, T = 100, B = 128, dt = 1 ms,
//!   τ_syn = 5 ms, τ_mem = 10 ms, SuperSpike β = 100, max-over-time cross-entropy.
//! - `on-lif`: the Open Neuromorphic benchmark on CPU: `Linear(n, n)` (with bias) → LIF without
//!   synaptic current, dense Gaussian input, B = 16, T = 500, loss = Σ spikes, forward + backward.
//! - `long`: `shd-rsnn` with T = 2000, B = 32, 512 hidden neurons.
//! - `infer`: forward passes only of the `shd-rsnn` network (throughput in samples/s).

use crate::events::SpikeEvents;
use crate::layers::Input;
use crate::linalg;
use crate::losses::{self, LossKind, Targets};
use crate::network::{Network, NetworkSpec};
use crate::neurons::NoiseStream;
use crate::neurons::{FixedLif, Lif, ResetGrad, ResetMode};
use crate::optimizers::{Optimizer, OptimizerKind};
use crate::rules::{Batch, GradientRule, Rule, RuleError, RuleKind};
use crate::scan;
use crate::surrogates::{SpikeFn, Surrogate};
use crate::tensor::{Matrix, Seq};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;
use std::time::Instant;

pub mod spoken;

/// A named workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// One training step of the SHD-style recurrent network.
    ShdRsnn,
    /// Linear + LIF forward and backward, `n` neurons.
    OnLif {
        /// Layer width.
        n: usize,
    },
    /// A long-sequence training step (T = 2000).
    Long,
    /// Forward-only inference of the SHD-style network.
    Infer,
}

impl Workload {
    /// The workload's name as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::ShdRsnn => "shd-rsnn",
            Workload::OnLif { .. } => "on-lif",
            Workload::Long => "long",
            Workload::Infer => "infer",
        }
    }
}

/// Timings of one workload (medians over the timed steps, after warm-up).
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Workload name.
    pub workload: String,
    /// Median step time in ms.
    pub median_ms: f64,
    /// Fastest step in ms.
    pub min_ms: f64,
    /// Slowest step in ms.
    pub max_ms: f64,
    /// Timed steps.
    pub steps: usize,
    /// Threads used.
    pub threads: usize,
    /// Peak resident memory of the process in MB (Linux; `None` elsewhere).
    pub peak_rss_mb: Option<f64>,
    /// Samples per second (`infer` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_per_s: Option<f64>,
    /// The workload's shape.
    pub shape: serde_json::Value,
}

/// Options of a training workload.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainOptions {
    /// The gradient rule (`None`: BPTT as the peers' harness times it, forward, backward and
    /// Adam in line).
    pub rule: Option<RuleKind>,
    /// Time steps per sample instead of the workload's own (`shd-rsnn`, `long`, `infer`).
    pub timesteps: Option<usize>,
    /// Samples per batch instead of the workload's own (128 for `shd-rsnn` and `infer`, 32
    /// for `long`, 16 for `on-lif`).
    pub batch: Option<usize>,
}

/// Runs `workload` for `warmup` untimed and `steps` timed steps.
pub fn run(workload: Workload, steps: usize, warmup: usize) -> BenchReport {
    run_with(workload, steps, warmup, TrainOptions::default()).expect("BPTT runs every workload")
}

/// [`run`] with a gradient rule and a sequence length of choice; fails when the rule does
/// not apply to the workload (e.g. RTRL beyond its memory limit).
pub fn run_with(
    workload: Workload,
    steps: usize,
    warmup: usize,
    options: TrainOptions,
) -> Result<BenchReport, RuleError> {
    let t = |default: usize| options.timesteps.unwrap_or(default);
    let b = |default: usize| options.batch.unwrap_or(default);
    let (times, shape, batch) = match workload {
        Workload::ShdRsnn => train_steps(rsnn(b(128), t(100), 256), steps, warmup, options.rule)?,
        Workload::Long => train_steps(rsnn(b(32), t(2000), 512), steps, warmup, options.rule)?,
        Workload::Infer => infer_steps(rsnn(b(128), t(100), 256), steps, warmup),
        Workload::OnLif { n } => on_lif(n, b(16), steps, warmup),
    };
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median_ms = sorted[sorted.len() / 2];
    Ok(BenchReport {
        workload: workload.name().to_string(),
        median_ms,
        min_ms: sorted[0],
        max_ms: sorted[sorted.len() - 1],
        steps: times.len(),
        threads: rayon::current_num_threads(),
        peak_rss_mb: peak_rss_mb(),
        samples_per_s: matches!(workload, Workload::Infer)
            .then(|| batch as f64 / (median_ms * 1e-3)),
        shape,
    })
}

/// The SHD-style problem: network, input events and labels.
struct Rsnn {
    net: Network<f32>,
    input: SpikeEvents,
    labels: Vec<usize>,
    shape: serde_json::Value,
}

fn rsnn(batch: usize, steps: usize, hidden: usize) -> Rsnn {
    let (inputs, outputs) = (700, 20);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let spec = NetworkSpec::recurrent_lif(
        inputs,
        hidden,
        outputs,
        SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 100.0 },
        },
    );
    let mut net = Network::new(&spec, &mut rng).expect("valid spec");
    let layer = &mut net.hidden[0];
    fill(&mut layer.w_in, 4.0 / (inputs as f64).sqrt(), &mut rng);
    fill(
        layer.w_rec.as_mut().expect("recurrent"),
        4.0 / (hidden as f64).sqrt(),
        &mut rng,
    );
    fill(&mut net.readout.w, 1.0 / (hidden as f64).sqrt(), &mut rng);
    let input = SpikeEvents::bernoulli(steps, batch, inputs, 0.015, &mut rng);
    let labels = (0..batch).map(|_| rng.random_range(0..outputs)).collect();
    let shape = serde_json::json!({"inputs": inputs, "hidden": hidden, "outputs": outputs, "T": steps, "B": batch});
    Rsnn {
        net,
        input,
        labels,
        shape,
    }
}

fn fill(w: &mut Matrix<f32>, std: f64, rng: &mut ChaCha8Rng) {
    for v in &mut w.data {
        let z: f64 = rng.sample(StandardNormal);
        *v = (z * std) as f32;
    }
}

fn train_steps(
    mut p: Rsnn,
    steps: usize,
    warmup: usize,
    rule: Option<RuleKind>,
) -> Result<(Vec<f64>, serde_json::Value, usize), RuleError> {
    let shapes: Vec<usize> = p
        .net
        .tensors()
        .iter()
        .filter(|t| t.learnable)
        .map(|t| t.data.len())
        .collect();
    let mut opt = Optimizer::new(OptimizerKind::adam(), &shapes).expect("valid optimizer");
    let rule = rule.map(|kind| Rule::new(kind, &p.net, 0));
    fn batch(p: &Rsnn) -> Batch<'_, f32> {
        Batch {
            input: Input::Events(&p.input),
            targets: Targets::Classes(&p.labels),
            loss: LossKind::MaxOverTimeCe,
            activity: &[],
            dropout: None,
            noise: NoiseStream::default(),
        }
    }
    if let Some(rule) = &rule {
        // One untimed step that may fail (then nothing is timed).
        rule.gradients(&p.net, batch(&p))?;
        p.shape["rule"] = serde_json::json!(rule.name());
    }
    let times = timed(steps, warmup, || {
        let input = Input::Events(&p.input);
        let targets = Targets::Classes(&p.labels);
        let grads = match &rule {
            Some(rule) => rule.gradients(&p.net, batch(&p)).expect("ran before").grads,
            None => {
                let trace = p.net.forward::<ChaCha8Rng>(input, None);
                let loss = losses::compute(LossKind::MaxOverTimeCe, trace.output(), targets)
                    .expect("valid loss");
                p.net.backward(input, &trace, &loss.grad, &[])
            }
        };
        let views: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        let mut params = p.net.learnable_mut();
        let mut pv: Vec<&mut [f32]> = params.iter_mut().map(|v| v.as_mut_slice()).collect();
        opt.step(&mut pv, &views, 1e-3).expect("matching shapes");
    });
    Ok((times, p.shape, p.labels.len()))
}

fn infer_steps(p: Rsnn, steps: usize, warmup: usize) -> (Vec<f64>, serde_json::Value, usize) {
    let times = timed(steps, warmup, || {
        let trace = p.net.forward::<ChaCha8Rng>(Input::Events(&p.input), None);
        std::hint::black_box(trace.output());
    });
    (times, p.shape, p.labels.len())
}

fn on_lif(
    n: usize,
    batch: usize,
    steps: usize,
    warmup: usize,
) -> (Vec<f64>, serde_json::Value, usize) {
    let t_len = 500;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let data: Vec<f32> = (0..t_len * batch * n)
        .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
        .collect();
    let x = Seq::from_vec(t_len, batch, n, data).expect("shape");
    let bound = 1.0 / (n as f64).sqrt();
    let w = Matrix::from_vec(
        n,
        n,
        (0..n * n)
            .map(|_| rng.random_range(-bound..bound) as f32)
            .collect(),
    )
    .expect("shape");
    let bias: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect();
    // Linear → LIF without a synaptic current (α = 0), β = exp(−1/5).
    let model = FixedLif(Lif {
        alpha: vec![0.0; n],
        beta: vec![(-0.2f32).exp(); n],
        threshold: 1.0,
        spike: SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 100.0 },
        },
        reset: ResetGrad::Detached,
        reset_mode: ResetMode::Zero,
    });
    // ∂(Σ spikes)/∂S = 1 is a constant of the workload (torch's sum backward does not
    // materialize it per step either).
    let g_out = Seq::from_vec(t_len, batch, n, vec![1.0; t_len * batch * n]).expect("shape");
    let times = timed(steps, warmup, || {
        // The bias broadcast over rows, then `x · W` accumulated onto it (one pass, not two).
        let rows = bias
            .iter()
            .copied()
            .cycle()
            .take(t_len * batch * n)
            .collect();
        let mut current = Seq::from_vec(t_len, batch, n, rows).expect("shape");
        linalg::dense_forward(&x, &w, &mut current);
        let trace = scan::forward(&model, current, None);
        let grads = scan::backward(&model, &trace, &g_out, None);
        let mut dw = Matrix::zeros(n, n);
        linalg::dense_grad_weight(&x, grads.kept_input(), &mut dw);
        let mut db = vec![0.0f32; n];
        for row in grads.kept_input().data.chunks(n) {
            db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
        }
        std::hint::black_box((dw, db));
    });
    (
        times,
        serde_json::json!({"n": n, "T": t_len, "B": batch}),
        batch,
    )
}

fn timed(steps: usize, warmup: usize, mut step: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        step();
    }
    (0..steps.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// Peak resident set size of this process (`VmHWM`), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--batch` and `--timesteps` reshape every workload they apply to.
    #[test]
    fn the_batch_and_sequence_length_are_the_ones_asked_for() {
        let options = TrainOptions {
            batch: Some(3),
            timesteps: Some(4),
            ..TrainOptions::default()
        };
        for workload in [Workload::ShdRsnn, Workload::Infer, Workload::Long] {
            let report = run_with(workload, 1, 0, options).unwrap();
            assert_eq!(report.shape["B"], 3, "{}", workload.name());
            assert_eq!(report.shape["T"], 4, "{}", workload.name());
            assert!(report.median_ms > 0.0);
        }
        let report = run_with(Workload::OnLif { n: 8 }, 1, 0, options).unwrap();
        assert_eq!(report.shape["B"], 3);
    }
}
