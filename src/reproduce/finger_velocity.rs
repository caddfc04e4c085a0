//! `finger-velocity`: tiny recurrent SNNs decode finger velocity from cortical spikes, and
//! iterative magnitude pruning makes them sparser without losing R² (Liu, Gygax, Rossbroich,
//! Chua, Zhang & Zenke, "Decoding finger velocity from cortical spike trains with recurrent
//! spiking neural networks", BioCAS 2024; the NeuroBench primate-reaching task).
//!
//! Setting: the synthetic reaching session of `configs/tiny_rsnn.toml` (600 s of center-out
//! reaches, 96 cosine-tuned Poisson channels, 4 ms steps, NeuroBench's 50/25/25 segment
//! split, 2 s windows). The tiny network (`configs/tiny_rsnn.toml`, 64 recurrent LIF, 200
//! epochs) and the big one (`configs/big_rsnn.toml`, 1024 recurrent LIF, a readout averaging
//! five heads, trained for 60 of its 200 epochs here: each takes about 9 s on two cores); then the tiny one pruned as their
//! repository does ([`crate::experiment::PruneConfig`]'s defaults: 40% of each weight matrix
//! (readout included), +10% per accepted step, +5% after the first rejection, up to 80%, 100 epochs of
//! retraining per step, accepted while the training R² drops at most 2%).
//!
//! The table is the paper's Table 2 (NeuroBench's metrics on the test split): R² (mean of
//! the x and y velocity), footprint (every parameter in f32, zero weights included; the
//! pruning masks are training state and not counted), connection sparsity (zero weights over
//! all weight matrices, readout included), activation sparsity, and dense, effective MAC and
//! effective AC synaptic operations per 4 ms step (NeuroBench's sample of this task is one
//! step). Published anchors are on Indy's and Loco's recordings, which are not reachable here.
//!
//! What differs: the data are synthetic (their statistics, not the monkeys'); the big
//! network is trained for 60 epochs (its cosine schedule spans them); the loss, optimizer
//! and pruning are theirs (RMSE, SMORMS3 2e-3, cosine; every weight matrix, readout included).

use super::{shipped, spiking, train, Metric, Options, Outcome, Reproduction, Row};
use crate::config::{DataSource, ExperimentConfig};
use crate::data::reaching::SyntheticReachingConfig;
use crate::experiment::{Experiment, ExperimentError, FinalReport, PruneConfig, RunDir};
use crate::metrics::CostMetrics;

pub(super) const TINY: &str = include_str!("../../configs/tiny_rsnn.toml");
pub(super) const BIG: &str = include_str!("../../configs/big_rsnn.toml");

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "finger-velocity",
    paper: "Liu et al., BioCAS 2024 (tiny RSNNs decoding finger velocity)",
    summary: "tiny and big recurrent SNNs on synthetic reaching, pruning, NeuroBench's Table 2",
    run,
};

/// How large a run is.
struct Size {
    tiny_epochs: usize,
    big_epochs: usize,
    /// Hidden neurons of the big network (the config's 1024 in the full run).
    big_hidden: Option<usize>,
    /// A shorter session (the config's 600 s in the full run).
    session_s: Option<f64>,
    prune: PruneConfig,
}

const FULL: Size = Size {
    tiny_epochs: 200,
    big_epochs: 60,
    big_hidden: None,
    session_s: None,
    prune: PruneConfig::DEFAULT,
};

const QUICK: Size = Size {
    tiny_epochs: 2,
    big_epochs: 1,
    big_hidden: Some(96),
    session_s: Some(60.0),
    prune: PruneConfig {
        max: 0.5,
        retrain_epochs: 1,
        ..PruneConfig::DEFAULT
    },
};

fn config(text: &str, size: &Size, epochs: usize, hidden: Option<usize>) -> ExperimentConfig {
    let mut config = shipped(text);
    config.training.epochs = epochs;
    if let (Some(duration_s), DataSource::SyntheticReaching(source)) =
        (size.session_s, &mut config.data.source)
    {
        *source = SyntheticReachingConfig {
            duration_s,
            ..source.clone()
        };
    }
    if let Some(n) = hidden {
        spiking(&mut config).hidden[0].size = n;
    }
    config
}

/// One network's Table-2 row.
struct Table2 {
    r2: f64,
    footprint_bytes: f64,
    connection_sparsity: f64,
    activation_sparsity: f64,
    dense_ops: f64,
    effective_macs: f64,
    effective_acs: f64,
}

impl Table2 {
    /// The row of test metrics `cost` of samples of `steps` steps (operations per step).
    fn of(cost: &CostMetrics, steps: usize) -> Self {
        let per_step = 1.0 / steps as f64;
        Self {
            r2: cost.r2.as_ref().map_or(f64::NAN, |r| r.mean),
            footprint_bytes: cost.footprint.parameter_bytes as f64,
            connection_sparsity: cost.connection_sparsity,
            activation_sparsity: cost.activation_sparsity,
            dense_ops: cost.synops.dense * per_step,
            effective_macs: cost.synops.effective_macs * per_step,
            effective_acs: cost.synops.effective_acs * per_step,
        }
    }

    fn from_report(report: &FinalReport, steps: usize) -> Result<Self, ExperimentError> {
        let cost = report.cost.as_ref().ok_or_else(|| ExperimentError::File {
            path: "final.json".into(),
            reason: "the run's report has no cost metrics".into(),
        })?;
        Ok(Self::of(cost, steps))
    }
}

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let size = if options.quick { &QUICK } else { &FULL };
    let tiny_config = config(TINY, size, size.tiny_epochs, None);
    let (tiny_dir, tiny_report) = train(tiny_config, &options.out, "tiny", options.observer)?;
    let big_config = config(BIG, size, size.big_epochs, size.big_hidden);
    let (big_dir, big_report) = train(big_config, &options.out, "big", options.observer)?;

    let (exp, tiny_net) = Experiment::open_best(&RunDir::new(&tiny_dir))?;
    let (pruned, search) = exp.prune(&tiny_net, &size.prune, &mut |t| {
        let verdict = if t.accepted { "accepted" } else { "rejected" };
        tracing::info!(
            "pruned {:.2}: training R² {:.4}: {verdict}",
            t.fraction,
            t.train_score
        );
    })?;
    let pruned_dir = RunDir::new(options.out.join("tiny_pruned"));
    let pruned_test = pruned_dir.save_pruned(&exp, &pruned, &search)?;

    let steps = exp.steps;
    let tiny = Table2::from_report(&tiny_report, steps)?;
    let big = Table2::from_report(&big_report, steps)?;
    let cut = Table2::of(&pruned_test.cost, steps);
    let mut rows = vec![
        row(
            "tiny_r2",
            tiny.r2,
            Some(0.660),
            "tinyRSNN R² 0.660 (real data, mean of 6 sessions)",
        ),
        row(
            "big_r2",
            big.r2,
            Some(0.698),
            "bigRSNN R² 0.698; NeuroBench's SNN baseline 0.581",
        ),
        row(
            "pruned_r2",
            cut.r2,
            None,
            "the pruned tiny network keeps ≥ 98% of its R²",
        ),
        row(
            "pruned_sparsity",
            cut.connection_sparsity,
            None,
            "connection sparsity after pruning (theirs: up to 0.8 of each matrix)",
        ),
        row(
            "pruned_footprint_bytes",
            cut.footprint_bytes,
            Some(27144.0),
            "tinyRSNN footprint 27 144 B (their stored model)",
        ),
        row(
            "pruned_effective_acs",
            cut.effective_acs,
            Some(213.0),
            "tinyRSNN effective ACs per step 213",
        ),
        row(
            "pruned_fraction",
            search.fraction.unwrap_or(0.0),
            None,
            "the largest accepted fraction of each weight matrix",
        ),
    ];
    rows.extend(table_rows(TINY_COLUMNS, &tiny));
    rows.extend(table_rows(BIG_COLUMNS, &big));
    rows.extend(table_rows(PRUNED_COLUMNS, &cut));
    Ok(Outcome {
        rows,
        setting: format!(
            "synthetic reaching (96 channels, 4 ms steps, 2 s windows, {} training windows); \
             tiny {} epochs, big {} epochs, pruning from {:.2} to {:.2} with {} epochs of \
             retraining (trials: {}); per-step operations; the pruned network (no training \
             curve of its own) in {}",
            exp.split.train.len(),
            size.tiny_epochs,
            size.big_epochs,
            size.prune.start,
            size.prune.max,
            size.prune.retrain_epochs,
            search
                .trials
                .iter()
                .map(|t| format!(
                    "{:.2} {} R² {:.3}",
                    t.fraction,
                    if t.accepted { "kept" } else { "refused" },
                    t.train_score
                ))
                .collect::<Vec<_>>()
                .join(", "),
            pruned_dir.path.display(),
        ),
        runs: vec![tiny_dir, big_dir],
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}

fn row(metric: &'static str, ours: f64, anchor: Option<f64>, published: &'static str) -> Row {
    Row {
        metric,
        ours: Metric::Value(ours),
        anchor,
        published,
    }
}

/// Table-2 columns of one network as rows named by `names` (footprint, connection sparsity,
/// activation sparsity, dense ops, effective MACs, effective ACs; an empty name skips one).
fn table_rows(names: [&'static str; 6], t: &Table2) -> Vec<Row> {
    let values = [
        t.footprint_bytes,
        t.connection_sparsity,
        t.activation_sparsity,
        t.dense_ops,
        t.effective_macs,
        t.effective_acs,
    ];
    names
        .into_iter()
        .zip(values)
        .filter(|(name, _)| !name.is_empty())
        .map(|(metric, v)| Row {
            metric,
            ours: Metric::Value(v),
            anchor: None,
            published: "Table 2 column (operations per 4 ms step)",
        })
        .collect()
}

const TINY_COLUMNS: [&str; 6] = [
    "tiny_footprint_bytes",
    "tiny_connection_sparsity",
    "tiny_activation_sparsity",
    "tiny_dense_ops",
    "tiny_effective_macs",
    "tiny_effective_acs",
];
const BIG_COLUMNS: [&str; 6] = [
    "big_footprint_bytes",
    "big_connection_sparsity",
    "big_activation_sparsity",
    "big_dense_ops",
    "big_effective_macs",
    "big_effective_acs",
];
/// The pruned network's footprint, sparsity and ACs are rows of their own above.
const PRUNED_COLUMNS: [&str; 6] = [
    "",
    "",
    "pruned_activation_sparsity",
    "pruned_dense_ops",
    "pruned_effective_macs",
    "",
];

#[cfg(test)]
mod tests {
    use super::super::testing::{quick, value};
    use super::*;

    /// The quick version trains, prunes and reports every Table-2 column.
    #[test]
    fn quick_finger_velocity_reports_the_table() {
        let Some((outcome, _dir)) = quick(run, None) else {
            return;
        };
        for name in ["tiny_r2", "big_r2", "pruned_r2"] {
            let v = value(&outcome, name);
            assert!(v.is_finite() && v <= 1.0, "{name} = {v}");
        }
        let sparsity = value(&outcome, "pruned_sparsity");
        assert!((0.35..=0.5).contains(&sparsity), "{sparsity}");
        assert!(value(&outcome, "tiny_footprint_bytes") > 40_000.0);
        assert!(value(&outcome, "big_dense_ops") > value(&outcome, "tiny_dense_ops"));
    }
}
