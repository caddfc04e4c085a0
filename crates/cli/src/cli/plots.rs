//! `spikegrad plot`: PNG plots of a saved run; a reproduction's figures.

use super::plot::{self, Curve, CurveStyle, EpochPoint, Raster, Traces, XyPlot};
use anyhow::Context;
use rand_chacha::ChaCha8Rng;
use spikegrad::continual::ContinualFinal;
use spikegrad::data::{BatchInput, BatchTargets};
use spikegrad::experiment::{EpochRecord, Experiment, RunDir};
use spikegrad::io::write_atomic_str;
use spikegrad::metrics::CostMetrics;
use spikegrad::network::Network;
use spikegrad::reproduce::{Figure, HeatMap, Scale};
use spikegrad::tensor::Seq;
use spikegrad::training::{batch_input, EvalStats, Model};
use std::path::Path;

/// Draws a run's PNG plots and `summary.txt` into `RUN/plots/`.
pub fn plot_run(run: &Path) -> anyhow::Result<()> {
    let dir = RunDir::new(run);
    let plots = dir.plots();
    std::fs::create_dir_all(&plots)
        .with_context(|| format!("cannot create {}", plots.display()))?;
    if let Some(warning) = plot::font_status() {
        eprintln!("warning: {warning}");
    }
    plot::plot_curves(&plots.join("curves.png"), &read_curves(&dir.metrics())?)?;
    let config = dir.load_config()?;
    if config.continual.is_some() && dir.final_report().exists() {
        let path = dir.final_report();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let result: ContinualFinal = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a continual run's report", path.display()))?;
        plot_accuracy_matrix(&dir, &result)?;
    }
    if config.network.mlp().is_some() {
        return plot_dense(&dir);
    }
    let (exp, net, precision) = Experiment::open_best_stored(&dir)?;
    let sample = *exp
        .split
        .test
        .first()
        .context("the run has no test samples")?;
    plot_sample(&exp, &net, sample, &plots)?;
    let (test, cost) = exp.measure(&net, &exp.split.test, precision)?;
    write_summary(&plots.join("summary.txt"), &exp, &test, &cost)?;
    for (k, rates) in neuron_rates(&exp, &net)?.iter().enumerate() {
        let sparsity = cost.activation_sparsity_per_layer[k];
        let title =
            format!("Hidden layer {k}: test firing rates, activation sparsity {sparsity:.3}");
        plot::plot_rate_histogram(&plots.join(format!("rates_hidden{k}.png")), &title, rates)?;
    }
    println!("plots written to {}", plots.display());
    Ok(())
}

/// The learning curves (drawn already) and `summary.txt` of a dense run: dense networks have
/// no spikes to draw.
fn plot_dense(dir: &RunDir) -> anyhow::Result<()> {
    let (exp, net) = Experiment::open_best_mlp(dir)?;
    let test = net.evaluate(&exp.config.training, &exp.data, &exp.split.test, exp.steps)?;
    let text = test_lines(&exp, &test);
    let path = dir.plots().join("summary.txt");
    write_atomic_str(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("plots written to {}", dir.plots().display());
    Ok(())
}

/// The test accuracy, loss and sample count, one per line.
fn test_lines(exp: &Experiment, test: &EvalStats) -> String {
    let mut text = String::new();
    if exp.config.training.loss.is_classification() {
        text += &format!("test accuracy: {:.2}%\n", 100.0 * test.accuracy());
    }
    text += &format!("test loss: {:.4}\n", test.mean_loss());
    text += &format!("test samples: {}\n", test.samples);
    text
}

/// Draws a reproduction's `figure` as a PNG at `path`: each series' points marked and
/// joined, its expected curve dashed in the same colour.
pub fn plot_figure(path: &Path, figure: &Figure) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if let Some(warning) = plot::font_status() {
        eprintln!("warning: {warning}");
    }
    let scale = |s: Scale| match s {
        Scale::Linear => plot::Scale::Linear,
        Scale::Log => plot::Scale::Log,
    };
    let mut curves = Vec::new();
    for (colour, series) in figure.series.iter().enumerate() {
        curves.push(Curve {
            label: Some(series.name.clone()),
            points: series.points.clone(),
            style: CurveStyle::Marked,
            colour,
        });
        if !series.expected.is_empty() {
            curves.push(Curve {
                label: None,
                points: series.expected.clone(),
                style: CurveStyle::Dashed,
                colour,
            });
        }
    }
    let has_expected = figure.series.iter().any(|s| !s.expected.is_empty());
    let plot = XyPlot {
        title: if has_expected {
            format!("{} (dashed: expected)", figure.title)
        } else {
            figure.title.clone()
        },
        x_desc: figure.x_label.clone(),
        y_desc: figure.y_label.clone(),
        x_scale: scale(figure.x_scale),
        y_scale: scale(figure.y_scale),
        curves,
    };
    plot::plot_xy(path, &plot)
}

/// Draws a continual run's accuracy matrix as `plots/accuracy.png`.
pub fn plot_accuracy_matrix(dir: &RunDir, result: &ContinualFinal) -> anyhow::Result<()> {
    let title = format!(
        "Test accuracy (mean after the last task {:.3}, forgetting {:.3})",
        result.report.mean_accuracy, result.report.forgetting
    );
    let map = HeatMap::accuracy("accuracy.png", &title, &result.report);
    plot_heat_map(&dir.plots().join(&map.file), &map)
}

/// Draws a reproduction's heat map as a PNG at `path`.
pub fn plot_heat_map(path: &Path, map: &HeatMap) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let plot = plot::HeatMapPlot {
        title: map.title.clone(),
        x_desc: map.column_label.clone(),
        y_desc: map.row_label.clone(),
        rows: map.rows.clone(),
        range: map.range,
    };
    plot::plot_heatmap(path, &plot)
}

/// `summary.txt`: the test results and cost metrics of the best weights, one per line.
fn write_summary(
    path: &Path,
    exp: &Experiment,
    test: &EvalStats,
    cost: &CostMetrics,
) -> anyhow::Result<()> {
    let mut text = test_lines(exp, test);
    for part in cost.summary().split(", ") {
        text += part;
        text.push('\n');
    }
    for c in &cost.synops_per_connection {
        let o = c.ops;
        text += &format!(
            "synaptic ops per sample, {}: dense {:.4e}, effective MACs {:.4e}, effective ACs {:.4e}\n",
            c.connection, o.dense, o.effective_macs, o.effective_acs
        );
    }
    write_atomic_str(path, &text).with_context(|| format!("cannot write {}", path.display()))
}

fn read_curves(path: &Path) -> anyhow::Result<Vec<EpochPoint>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let r: EpochRecord = serde_json::from_str(line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?;
            Ok(EpochPoint {
                epoch: r.epoch,
                train_loss: r.train_loss,
                valid_loss: r.valid_loss.unwrap_or(f64::NAN),
                train_accuracy: r.train_accuracy,
                valid_accuracy: r.valid_accuracy,
            })
        })
        .collect()
}

/// Spike rasters (input and hidden layers) and readout traces of one test sample.
fn plot_sample(
    exp: &Experiment,
    net: &Network<f32>,
    sample: usize,
    plots: &Path,
) -> anyhow::Result<()> {
    let dt_ms = net.spec.dt_ms;
    let batch = exp.data.batch(&[sample], dt_ms * 1e-3, exp.steps, None)?;
    let trace = net.forward::<ChaCha8Rng>(batch_input(&batch.input), None);
    let mut rasters = Vec::new();
    match (&batch.input, &trace.encoder) {
        (BatchInput::Events(spikes), _) => {
            rasters.push(raster("Input", &spikes.to_dense(), dt_ms));
        }
        (BatchInput::Analog(_), Some(encoder)) => {
            rasters.push(raster("Encoder", encoder.spikes(), dt_ms));
        }
        (BatchInput::Analog(_), None) => {}
    }
    for (k, layer) in trace.hidden.iter().enumerate() {
        rasters.push(raster(&format!("Hidden layer {k}"), layer.spikes(), dt_ms));
    }
    plot::plot_rasters(&plots.join("raster.png"), &rasters)?;
    let out = trace.output();
    let label = match &batch.targets {
        BatchTargets::Classes(c) => c.first().copied(),
        BatchTargets::Values { .. } | BatchTargets::Trains(_) | BatchTargets::Series(_) => None,
    };
    let traces = Traces {
        // The plot names the highlighted target unit itself.
        title: format!("Readout membranes, test sample {sample}"),
        dt_ms,
        values: (0..out.width)
            .map(|c| (0..out.steps).map(|t| out.at(t, 0, c) as f64).collect())
            .collect(),
        highlight: label,
    };
    plot::plot_traces(&plots.join("readout.png"), &traces)
}

fn raster(title: &str, spikes: &Seq<f32>, dt_ms: f64) -> Raster {
    let mut events = Vec::new();
    for t in 0..spikes.steps {
        for (n, &s) in spikes.row(t, 0).iter().enumerate() {
            if s != 0.0 {
                events.push((t, n));
            }
        }
    }
    Raster {
        title: title.to_string(),
        steps: spikes.steps,
        neurons: spikes.width,
        dt_ms,
        spikes: events,
    }
}

/// Per hidden layer, each neuron's mean firing rate over the test split, in Hz.
fn neuron_rates(exp: &Experiment, net: &Network<f32>) -> anyhow::Result<Vec<Vec<f64>>> {
    let dt_s = net.spec.dt_ms * 1e-3;
    let mut counts: Vec<Vec<f64>> = net.hidden.iter().map(|l| vec![0.0; l.size()]).collect();
    for chunk in exp.split.test.chunks(exp.config.training.batch_size) {
        let batch = exp.data.batch(chunk, dt_s, exp.steps, None)?;
        let trace = net.forward::<ChaCha8Rng>(batch_input(&batch.input), None);
        for (layer, count) in trace.hidden.iter().zip(&mut counts) {
            let s = layer.spikes();
            for row in s.data.chunks(s.width) {
                row.iter()
                    .zip(count.iter_mut())
                    .for_each(|(&v, c)| *c += v as f64);
            }
        }
    }
    let seconds = exp.split.test.len() as f64 * exp.steps as f64 * dt_s;
    Ok(counts
        .into_iter()
        .map(|c| c.into_iter().map(|n| n / seconds).collect())
        .collect())
}
