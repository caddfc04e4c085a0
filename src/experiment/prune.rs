//! Iterative magnitude pruning of a trained spiking network (Liu et al., BioCAS 2024, as in
//! `fmi-basel/neural-decoding-RSNN`).
//!
//! A trial of fraction `p` starts from the unpruned weights, sets the `⌊p·n⌋` smallest
//! magnitudes of every weight matrix (`w_in`, `w_rec`, the readout's `w`) to zero under a mask (ties
//! broken by position), and retrains `retrain_epochs` epochs with a fresh optimizer and the
//! run's schedule over those epochs; masked weights get no gradient and stay zero. The trial is
//! accepted when the retrained network's score on the training split (R² for regression,
//! accuracy for classification, evaluated without dropout) has dropped by at most `tolerance`
//! of the unpruned score. `p` runs from `start` in steps of `coarse_step`; after the first
//! rejection it goes back one step and continues in steps of `fine_step`; it stops at the
//! second rejection or beyond `max`. The result is the last accepted trial's network (the
//! unpruned one when none is accepted).

use super::family::RunModel;
use super::{file_error, Experiment, ExperimentError, TestResult};
use crate::error::{check_positive, ConfigError};
use crate::io::write_atomic_str;
use crate::metrics::connection_sparsity;
use crate::network::Network;
use crate::quant::Quantization;
use crate::training::Trainer;
use serde::{Deserialize, Serialize};

/// The fractions tried and when a trial is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PruneConfig {
    /// The first fraction tried (0.4).
    pub start: f64,
    /// The step between fractions until the first rejection (0.1).
    pub coarse_step: f64,
    /// The step after it (0.05).
    pub fine_step: f64,
    /// The largest fraction tried (0.8).
    pub max: f64,
    /// Epochs of retraining per trial (100).
    pub retrain_epochs: usize,
    /// The largest accepted drop of the training score, relative to the unpruned one (0.02).
    pub tolerance: f64,
}

impl Default for PruneConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl PruneConfig {
    /// Their repository's settings (`conf/training/training-tinyRSNN.yaml`).
    pub const DEFAULT: Self = Self {
        start: 0.4,
        coarse_step: 0.1,
        fine_step: 0.05,
        max: 0.8,
        retrain_epochs: 100,
        tolerance: 0.02,
    };
}

impl PruneConfig {
    /// Checks every field; errors name it (`prune.start`, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("prune.start", self.start),
            ("prune.coarse_step", self.coarse_step),
            ("prune.fine_step", self.fine_step),
            ("prune.max", self.max),
        ] {
            check_positive(field, value)?;
            if value >= 1.0 {
                return Err(ConfigError::new(
                    field,
                    format!("must be below 1, got {value}"),
                ));
            }
        }
        check_positive("prune.tolerance", self.tolerance)?;
        if self.retrain_epochs == 0 {
            return Err(ConfigError::new(
                "prune.retrain_epochs",
                "must be at least 1",
            ));
        }
        if self.start > self.max {
            return Err(ConfigError::new(
                "prune.start",
                format!("{} is above prune.max = {}", self.start, self.max),
            ));
        }
        Ok(())
    }
}

/// One trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PruneTrial {
    /// The fraction of each hidden weight matrix set to zero.
    pub fraction: f64,
    /// The retrained network's score on the training split.
    pub train_score: f64,
    /// Its score on the validation split (`None` without one).
    pub valid_score: Option<f64>,
    /// The fraction of zero weights over every weight matrix after retraining.
    pub sparsity: f64,
    /// Whether the training score stayed within the tolerance.
    pub accepted: bool,
}

/// The whole search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PruneReport {
    /// `"r2"` (regression) or `"accuracy"`.
    pub score: String,
    /// The unpruned network's score on the training split.
    pub unpruned_train_score: f64,
    /// Every trial, in order.
    pub trials: Vec<PruneTrial>,
    /// The accepted fraction of the returned network (`None`: none was accepted).
    pub fraction: Option<f64>,
}

/// Rounds a fraction to 1e-9, so that sums of steps land on the decimal values.
fn round_fraction(p: f64) -> f64 {
    (p * 1e9).round() / 1e9
}

/// What the search found: the last accepted model with its fraction, and every trial.
pub(crate) type Searched<N> = (Option<(N, f64)>, Vec<PruneTrial>);

/// The search over fractions (the module documentation), given a `trial` that prunes and
/// retrains at a fraction. A fraction already tried is not retrained (retraining is
/// determined by the seed): reaching it again ends the search as its first result did.
/// Returns the last accepted model with its fraction, and every trial.
pub(crate) fn search<N, E>(
    config: &PruneConfig,
    mut trial: impl FnMut(f64) -> Result<(N, PruneTrial), E>,
) -> Result<Searched<N>, E> {
    let mut trials: Vec<PruneTrial> = Vec::new();
    let mut best = None;
    let (mut p, mut refining) = (round_fraction(config.start), false);
    while p <= config.max + 1e-9 {
        let accepted = match trials.iter().find(|t| t.fraction == p) {
            Some(done) => done.accepted,
            None => {
                let (model, result) = trial(p)?;
                let accepted = result.accepted;
                trials.push(result);
                if accepted {
                    best = Some((model, p));
                }
                accepted
            }
        };
        if accepted {
            let step = if refining {
                config.fine_step
            } else {
                config.coarse_step
            };
            p = round_fraction(p + step);
        } else if refining {
            break;
        } else {
            // Back one coarse step, then on in fine steps.
            refining = true;
            p = round_fraction(p - config.coarse_step + config.fine_step);
        }
    }
    Ok((best, trials))
}

/// The pruning masks of a fraction `p`: each weight matrix's `⌊p·n⌋` smallest magnitudes set
/// to zero (a matrix's absent connections count among them), weights and masks both.
pub fn prune_magnitudes(net: &mut Network<f32>, fraction: f64) {
    if net.readout.has_weights() {
        net.readout.mask = Some(prune(&mut net.readout.w.data, fraction));
    }
    for layer in &mut net.hidden {
        layer.mask_in = Some(prune(&mut layer.w_in.data, fraction));
        if let Some(w) = &mut layer.w_rec {
            layer.mask_rec = Some(prune(&mut w.data, fraction));
        }
    }
}

/// Zeroes the `⌊fraction·n⌋` smallest magnitudes of `w`; returns their mask.
fn prune(w: &mut [f32], fraction: f64) -> Vec<f32> {
    let mask = smallest_masked(w, fraction);
    w.iter_mut().zip(&mask).for_each(|(w, &m)| *w *= m);
    mask
}

/// A 0/1 mask with zeros at the `⌊fraction·n⌋` smallest `|w|` (the earlier index on ties).
fn smallest_masked(w: &[f32], fraction: f64) -> Vec<f32> {
    let cut = ((fraction * w.len() as f64).floor() as usize).min(w.len());
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()).then(a.cmp(&b)));
    let mut mask = vec![1.0; w.len()];
    for &i in &order[..cut] {
        mask[i] = 0.0;
    }
    mask
}

impl Experiment {
    /// Iterative magnitude pruning of `net`: trials at the fractions [`PruneConfig`] sets,
    /// each pruned from the unpruned weights and retrained, the last accepted one returned;
    /// `progress` hears of each trial.
    pub fn prune(
        &self,
        net: &Network<f32>,
        config: &PruneConfig,
        progress: &mut dyn FnMut(&PruneTrial),
    ) -> Result<(Network<f32>, PruneReport), ExperimentError> {
        config.validate()?;
        if let Some((k, s)) = net.spec.first_structured() {
            return Err(ConfigError::new(
                format!("network.hidden[{k}].{}", s.field()),
                format!(
                    "pruning does not run {} (their weights have a structure a mask would break)",
                    s.layers()
                ),
            )
            .into());
        }
        let unpruned = self.score(net, &self.split.train)?;
        let mut report = PruneReport {
            score: self.score_name().to_string(),
            unpruned_train_score: unpruned,
            trials: Vec::new(),
            fraction: None,
        };
        let floor = unpruned - config.tolerance * unpruned.abs();
        let (best, trials) = search(config, |fraction| {
            let trial_net = self.retrain_pruned(net, fraction, config.retrain_epochs)?;
            let train_score = self.score(&trial_net, &self.split.train)?;
            let valid_score = if self.split.valid.is_empty() {
                None
            } else {
                Some(self.score(&trial_net, &self.split.valid)?)
            };
            let trial = PruneTrial {
                fraction,
                train_score,
                valid_score,
                sparsity: connection_sparsity(&trial_net),
                accepted: train_score >= floor,
            };
            progress(&trial);
            Ok::<_, ExperimentError>((trial_net, trial))
        })?;
        report.fraction = best.as_ref().map(|(_, p)| *p);
        report.trials = trials;
        Ok((best.map_or_else(|| net.clone(), |(n, _)| n), report))
    }

    /// `net` pruned at `fraction` and retrained for `epochs` epochs with a fresh optimizer.
    fn retrain_pruned(
        &self,
        net: &Network<f32>,
        fraction: f64,
        epochs: usize,
    ) -> Result<Network<f32>, ExperimentError> {
        let mut pruned = net.clone();
        prune_magnitudes(&mut pruned, fraction);
        let (_, rule) = <Network<f32> as RunModel>::build(self)?;
        let mut training = self.config.training.clone();
        training.epochs = epochs;
        let mut trainer = Trainer::with_rule(pruned, rule, training, self.steps)?;
        trainer.augment = self.config.data.augment.clone();
        for epoch in 1..=epochs {
            trainer.train_epoch(
                &self.data,
                &self.split.train,
                epoch,
                self.config.seed,
                &mut |_| {},
            )?;
        }
        Ok(trainer.forward_network()?.into_owned())
    }

    fn score_name(&self) -> &'static str {
        if self.config.training.loss.is_classification() {
            "accuracy"
        } else {
            "r2"
        }
    }

    /// R² (regression) or accuracy of `net` on `indices`, without dropout.
    fn score(&self, net: &Network<f32>, indices: &[usize]) -> Result<f64, ExperimentError> {
        let (stats, cost) = self.measure(net, indices, Quantization::None)?;
        if self.config.training.loss.is_classification() {
            return Ok(stats.accuracy());
        }
        cost.r2.map(|r2| r2.mean).ok_or_else(|| {
            ConfigError::new(
                "training.loss",
                "pruning a regression run needs value targets",
            )
            .into()
        })
    }
}

impl crate::experiment::RunDir {
    /// Writes a pruned network as a run: the source run's config, the pruned best weights
    /// (with their masks), and `pruning.json` (the search and the test results).
    pub fn save_pruned(
        &self,
        exp: &Experiment,
        net: &Network<f32>,
        report: &PruneReport,
    ) -> Result<TestResult, ExperimentError> {
        self.save_network(&exp.config, net)?;
        let test = exp.test_result(net, Quantization::None)?;
        let json = serde_json::json!({ "pruning": report, "test": test });
        let text = serde_json::to_string_pretty(&json).expect("the report serializes");
        let path = self.pruning();
        write_atomic_str(&path, &text).map_err(|e| file_error(&path, e))?;
        Ok(test)
    }

    /// `pruning.json`.
    pub fn pruning(&self) -> std::path::PathBuf {
        self.path.join("pruning.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataSource;
    use crate::data::reaching::SyntheticReachingConfig;
    use crate::experiment::RunDir;

    fn trial_at(accept_up_to: f64) -> impl FnMut(f64) -> Result<(f64, PruneTrial), ()> {
        move |fraction| {
            let trial = PruneTrial {
                fraction,
                train_score: 1.0 - fraction,
                valid_score: None,
                sparsity: fraction,
                accepted: fraction <= accept_up_to + 1e-12,
            };
            Ok((fraction, trial))
        }
    }

    fn tried(config: &PruneConfig, accept_up_to: f64) -> (Option<f64>, Vec<f64>) {
        let (best, trials) = search(config, trial_at(accept_up_to)).unwrap();
        (
            best.map(|(_, p)| p),
            trials.iter().map(|t| t.fraction).collect(),
        )
    }

    #[test]
    fn the_search_steps_coarse_then_fine_and_stops_at_the_second_rejection() {
        let c = PruneConfig::default();
        // Their schedule: 0.4, 0.5, 0.6, 0.7 rejected, back to 0.6 + 0.05.
        assert_eq!(tried(&c, 0.62), (Some(0.6), vec![0.4, 0.5, 0.6, 0.7, 0.65]));
        // 0.65 accepted, then 0.7 again: already rejected, not retrained.
        assert_eq!(
            tried(&c, 0.67),
            (Some(0.65), vec![0.4, 0.5, 0.6, 0.7, 0.65])
        );
        assert_eq!(tried(&c, 1.0), (Some(0.8), vec![0.4, 0.5, 0.6, 0.7, 0.8]));
        // Nothing accepted at 0.4: 0.35 is tried, then 0.4 again ends it.
        assert_eq!(tried(&c, 0.36), (Some(0.35), vec![0.4, 0.35]));
        assert_eq!(tried(&c, 0.1), (None, vec![0.4, 0.35]));
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let bad = [
            PruneConfig {
                start: 0.0,
                ..PruneConfig::default()
            },
            PruneConfig {
                max: 1.0,
                ..PruneConfig::default()
            },
            PruneConfig {
                fine_step: f64::NAN,
                ..PruneConfig::default()
            },
            PruneConfig {
                retrain_epochs: 0,
                ..PruneConfig::default()
            },
            PruneConfig {
                start: 0.9,
                max: 0.8,
                ..PruneConfig::default()
            },
        ];
        let fields = [
            "prune.start",
            "prune.max",
            "prune.fine_step",
            "prune.retrain_epochs",
            "prune.start",
        ];
        for (config, field) in bad.iter().zip(fields) {
            let e = config.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn magnitude_pruning_removes_the_smallest_of_each_matrix() {
        let w = [0.5, -0.1, 0.3, -0.7, 0.1, 0.0, 0.2, -0.4];
        // floor(0.5 · 8) = 4: 0.0, then the tie −0.1 / 0.1 (earlier first), then 0.2.
        assert_eq!(
            smallest_masked(&w, 0.5),
            [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        );
        assert_eq!(smallest_masked(&w, 0.0), [1.0; 8]);
        assert_eq!(smallest_masked(&w, 1.0), [0.0; 8]);
    }

    /// A small decoding run: 40 s of synthetic reaches, 16 recurrent LIF, 3 epochs.
    fn small_decoder() -> Experiment {
        let mut config: ExperimentConfig =
            toml::from_str(include_str!("../../configs/tiny_rsnn.toml")).unwrap();
        config.data.source = DataSource::SyntheticReaching(SyntheticReachingConfig {
            channels: 24,
            duration_s: 60.0,
            sample_steps: 100,
            hop_steps: 50,
            seed: 2,
            ..SyntheticReachingConfig::default()
        });
        let spec = config.network.spiking_mut().unwrap();
        spec.hidden[0].size = 16;
        config.training.epochs = 3;
        config.training.batch_size = 32;
        Experiment::prepare(config).unwrap()
    }

    use crate::config::ExperimentConfig;

    #[test]
    fn pruned_weights_stay_zero_through_retraining_and_are_saved_with_their_masks() {
        let exp = small_decoder();
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        exp.run(&run, false, &mut crate::experiment::Silent)
            .unwrap();
        let (exp, net) = Experiment::open_best(&run).unwrap();
        let config = PruneConfig {
            retrain_epochs: 2,
            start: 0.5,
            max: 0.6,
            tolerance: 0.5,
            ..PruneConfig::default()
        };
        let mut heard = 0;
        let (pruned, report) = exp.prune(&net, &config, &mut |_| heard += 1).unwrap();
        assert_eq!(heard, report.trials.len());
        assert_eq!(report.score, "r2");
        let fraction = report.fraction.expect("a 50% tolerance accepts");
        let layer = &pruned.hidden[0];
        let mask_in = layer.mask_in.as_ref().unwrap();
        let mask_rec = layer.mask_rec.as_ref().unwrap();
        let mask_out = pruned.readout.mask.as_ref().unwrap();
        for (w, mask) in [
            (&layer.w_in.data, mask_in),
            (&layer.w_rec.as_ref().unwrap().data, mask_rec),
            (&pruned.readout.w.data, mask_out),
        ] {
            let cut = mask.iter().filter(|&&m| m == 0.0).count();
            assert_eq!(cut, (fraction * w.len() as f64).floor() as usize);
            // Retrained, yet every pruned weight is still exactly zero.
            assert!(w.iter().zip(mask).all(|(&w, &m)| m == 1.0 || w == 0.0));
            assert!(w.iter().zip(mask).any(|(&w, &m)| m == 1.0 && w != 0.0));
        }
        assert_ne!(
            pruned.hidden[0].w_in.data,
            {
                let mut only_pruned = net.clone();
                prune_magnitudes(&mut only_pruned, fraction);
                only_pruned.hidden[0].w_in.data.clone()
            },
            "the kept weights were retrained"
        );
        assert!((connection_sparsity(&pruned) - fraction).abs() < 0.01);

        // The same search again gives the same network (seeded retraining).
        let (again, _) = exp.prune(&net, &config, &mut |_| {}).unwrap();
        assert_eq!(
            again.hidden[0].w_rec.as_ref().unwrap().data,
            layer.w_rec.as_ref().unwrap().data
        );

        let out = RunDir::new(dir.path().join("pruned"));
        let test = out.save_pruned(&exp, &pruned, &report).unwrap();
        assert!(test.cost.connection_sparsity > 0.4);
        let (_, reopened) = Experiment::open_best(&out).unwrap();
        assert_eq!(reopened.hidden[0].mask_in.as_ref(), Some(mask_in));
        assert_eq!(reopened.readout.mask.as_ref(), Some(mask_out));
        assert_eq!(reopened.hidden[0].w_in.data, layer.w_in.data);
        let text = std::fs::read_to_string(out.pruning()).unwrap();
        assert!(text.contains("\"unpruned_train_score\""));
    }
}
