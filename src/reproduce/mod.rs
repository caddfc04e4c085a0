//! Reproductions: the research line's key results, each re-run end to end with this crate's
//! code (`spikegrad reproduce NAME`) and reported beside the published figure.
//!
//! A reproduction is one file: what it trains (configs shipped with the crate, in run
//! directories under the output folder), the metrics it reports, and the published anchor of
//! each metric (a number where the paper gives one, else the claim in words). `quick` runs a
//! much smaller version to check that everything runs; its numbers are not the result.

mod bam_digits;
mod disinhibition;
mod eprop_evidence;
mod finger_velocity;
mod gep_homeostasis;
mod hep_mnist;
mod image_split;
mod isoloss_mnist;
mod isoloss_toy;
mod memory_lifetime;
mod metaplastic_mnist;
mod mismatch_in_the_loop;
mod ntt_mnist;
mod prospective_chain;
mod prospective_tracking;
mod si_mnist;
mod si_split_snn;
mod stochastic_randman;
mod superspike_pattern;
mod superspike_xor;

use crate::config::ExperimentConfig;
use crate::experiment::{Experiment, ExperimentError, FinalReport, Observer, RunDir};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a reproduction runs.
pub struct Options<'a> {
    /// Where its run directories go (one subfolder per run).
    pub out: PathBuf,
    /// A small, fast version (checks that it runs; not the result).
    pub quick: bool,
    /// Sees every run's progress.
    pub observer: &'a mut dyn Observer,
}

/// A metric's value: one number, or one per setting of a swept quantity (a depth, a size).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Metric {
    /// One number.
    Value(f64),
    /// One number per setting, in the order the setting describes.
    Series(Vec<f64>),
}

impl From<f64> for Metric {
    fn from(v: f64) -> Self {
        Metric::Value(v)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::Value(v) => write!(f, "{v:.4}"),
            Metric::Series(values) => {
                // Three significant digits for values below 10 (accuracies, lags in ms), one
                // decimal above (lifetimes in patterns).
                let cell = |v: &f64| match v.abs() < 10.0 {
                    true => format!("{v:.3}"),
                    false => format!("{v:.1}"),
                };
                let parts: Vec<String> = values.iter().map(cell).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// One reported metric beside its published anchor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The metric's name (a key of [`Outcome::metrics`]).
    pub metric: &'static str,
    /// Our value.
    pub ours: Metric,
    /// The published value, if the paper gives one.
    pub anchor: Option<f64>,
    /// The published figure or claim, in words.
    pub published: &'static str,
}

/// What a reproduction found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// Every metric beside its anchor.
    pub rows: Vec<Row>,
    /// The setting, in words (what was trained, how long).
    pub setting: String,
    /// The run directories written.
    pub runs: Vec<PathBuf>,
    /// Figures to draw into the output folder (the command line renders them).
    pub figures: Vec<Figure>,
    /// Matrices to draw as heat maps into the output folder.
    pub heat_maps: Vec<HeatMap>,
}

/// A matrix as plain data, drawn as a heat map with every cell's value written in it (a
/// continual run's accuracy matrix).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeatMap {
    /// The image's file name in the output folder (`si-accuracy.png`).
    pub file: String,
    /// The title.
    pub title: String,
    /// What the columns are.
    pub column_label: String,
    /// What the rows are.
    pub row_label: String,
    /// `rows[i][j]`, row 0 at the top; rows may be shorter than the widest (a triangular
    /// matrix), the missing cells blank.
    pub rows: Vec<Vec<f64>>,
    /// The values at the two ends of the colour scale.
    pub range: (f64, f64),
}

impl HeatMap {
    /// The accuracy matrix of a continual run: row `i` after task `i + 1`, column `j` task
    /// `j + 1`, coloured on `[0, 1]`.
    pub fn accuracy(file: &str, title: &str, report: &crate::continual::ContinualReport) -> Self {
        Self {
            file: file.into(),
            title: title.into(),
            column_label: "tested on task".into(),
            row_label: "after training task".into(),
            rows: report.accuracy.clone(),
            range: (0.0, 1.0),
        }
    }
}

/// A figure as plain data: named curves over x. The library draws nothing; `spikegrad
/// reproduce` renders it as `out/FILE`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// The image's file name in the output folder (`snr.png`).
    pub file: String,
    /// The title.
    pub title: String,
    /// The x axis' label (with its unit).
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// How the x axis maps values.
    pub x_scale: Scale,
    /// How the y axis maps values.
    pub y_scale: Scale,
    /// The curves, one colour each.
    pub series: Vec<Series>,
}

/// How an axis maps values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scale {
    /// Evenly.
    Linear,
    /// By their logarithm (values ≤ 0 are left out).
    Log,
}

/// One named curve of a [`Figure`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// The measured points `(x, y)`, drawn marked and joined.
    pub points: Vec<(f64, f64)>,
    /// The model's expected curve, if it has one (else empty), drawn dashed in the same
    /// colour.
    pub expected: Vec<(f64, f64)>,
}

impl Outcome {
    /// The metrics by name.
    pub fn metrics(&self) -> BTreeMap<&'static str, Metric> {
        self.rows
            .iter()
            .map(|r| (r.metric, r.ours.clone()))
            .collect()
    }

    /// The published anchors by name (numbers where given, else the claim in words).
    pub fn anchors(&self) -> BTreeMap<&'static str, serde_json::Value> {
        self.rows
            .iter()
            .map(|r| {
                let v = match r.anchor {
                    Some(a) => serde_json::json!(a),
                    None => serde_json::json!(r.published),
                };
                (r.metric, v)
            })
            .collect()
    }
}

/// A registered reproduction.
pub struct Reproduction {
    /// Its name on the command line.
    pub name: &'static str,
    /// The paper.
    pub paper: &'static str,
    /// What it reproduces, in one line.
    pub summary: &'static str,
    /// Runs it.
    pub run: fn(&mut Options<'_>) -> Result<Outcome, ExperimentError>,
}

/// Every reproduction, by name.
pub const REGISTRY: &[Reproduction] = &[
    eprop_evidence::ENTRY,
    memory_lifetime::ENTRY,
    stochastic_randman::ENTRY,
    prospective_chain::ENTRY,
    prospective_tracking::ENTRY,
    superspike_pattern::ENTRY,
    superspike_xor::ENTRY,
    si_mnist::SPLIT,
    si_mnist::PERMUTED,
    si_split_snn::ENTRY,
    metaplastic_mnist::ENTRY,
    hep_mnist::ENTRY,
    disinhibition::ENTRY,
    gep_homeostasis::ENTRY,
    isoloss_toy::ENTRY,
    isoloss_mnist::ENTRY,
    mismatch_in_the_loop::ENTRY,
    finger_velocity::ENTRY,
    ntt_mnist::ENTRY,
    bam_digits::ENTRY,
];

/// The reproduction called `name`.
pub fn find(name: &str) -> Option<&'static Reproduction> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// A config shipped with the crate (`configs/NAME.toml`, built into the binary).
fn shipped(text: &str) -> ExperimentConfig {
    toml::from_str(text).expect("the shipped configs parse (a test checks them)")
}

/// The spiking architecture of a shipped spiking config.
fn spiking(config: &mut ExperimentConfig) -> &mut crate::network::NetworkSpec {
    config
        .network
        .spiking_mut()
        .expect("the shipped spiking configs are spiking (a test checks them)")
}

/// Trains `config` into `out/name` (replacing an earlier run there) and returns its final
/// report.
fn train(
    config: ExperimentConfig,
    out: &Path,
    name: &str,
    observer: &mut dyn Observer,
) -> Result<(PathBuf, FinalReport), ExperimentError> {
    let path = out.join(name);
    if path.exists() {
        std::fs::remove_dir_all(&path).map_err(|e| crate::experiment::file_error(&path, e))?;
    }
    let experiment = Experiment::prepare(config)?;
    let report = experiment.run(&RunDir::new(&path), false, observer)?;
    Ok((path, report))
}

/// A spike-train run's best weights, their test output on the first test sample and its
/// target trains, both `[T, 1, C]`.
struct TestSpikes {
    experiment: Experiment,
    dt_ms: f64,
    output: crate::tensor::Seq<f32>,
    target: crate::tensor::Seq<f32>,
}

fn test_spikes(run: &Path) -> Result<TestSpikes, ExperimentError> {
    let (experiment, net) = Experiment::open_best(&RunDir::new(run))?;
    let dt_ms = net.spec.dt_ms;
    let test = &experiment.split.test[..1];
    let batch = experiment
        .data
        .batch(test, dt_ms * 1e-3, experiment.steps, None)?;
    let trace =
        net.forward::<rand_chacha::ChaCha8Rng>(crate::training::batch_input(&batch.input), None);
    let crate::data::BatchTargets::Trains(target) = batch.targets else {
        unreachable!("a spike-train reproduction has target trains")
    };
    Ok(TestSpikes {
        output: trace.output().clone(),
        target,
        experiment,
        dt_ms,
    })
}

/// Writes `raster` as `out/name` (a PNG, black spikes on white) and returns its path.
fn write_raster(
    out: &Path,
    name: &str,
    raster: &crate::data::raster::Raster,
) -> Result<PathBuf, ExperimentError> {
    use crate::experiment::file_error;
    std::fs::create_dir_all(out).map_err(|e| file_error(out, e))?;
    let path = out.join(name);
    let file = std::fs::File::create(&path).map_err(|e| file_error(&path, e))?;
    crate::data::raster::write_png(raster, std::io::BufWriter::new(file))
        .map_err(|e| file_error(&path, e))?;
    Ok(path)
}

/// What the reproductions' tests share: a quick run into a temporary folder, a metric's value.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Metric, Options, Outcome};
    use crate::experiment::{ExperimentError, Silent};

    /// `run`'s quick version in a temporary folder (returned with the outcome, so its files
    /// can be checked); `None`, with a message, where the data file `needs` is absent.
    pub(crate) fn quick(
        run: fn(&mut Options<'_>) -> Result<Outcome, ExperimentError>,
        needs: Option<&str>,
    ) -> Option<(Outcome, tempfile::TempDir)> {
        if let Some(file) = needs.filter(|f| !std::path::Path::new(f).exists()) {
            eprintln!("skipped: {file} is absent");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut options = Options {
            out: dir.path().to_path_buf(),
            quick: true,
            observer: &mut Silent,
        };
        Some((run(&mut options).unwrap(), dir))
    }

    /// Metric `name` of `outcome`, which must be one number.
    pub(crate) fn value(outcome: &Outcome, name: &str) -> f64 {
        match outcome.metrics().get(name) {
            Some(Metric::Value(v)) => *v,
            other => panic!("{name} is not one number: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_shipped_configs_are_valid() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        for text in [
            eprop_evidence::CONFIG,
            stochastic_randman::DETERMINISTIC,
            stochastic_randman::STOCHASTIC,
            superspike_pattern::CONFIG,
            superspike_xor::CONFIG,
            si_mnist::CONFIG,
        ] {
            shipped(text).validate().unwrap();
        }
        assert!(find("eprop-evidence").is_some() && find("nothing").is_none());
        assert!(find("memory-lifetime").is_some());
    }
}
