//! The experiment configuration: everything a training run is determined by.
//!
//! A config is TOML with unknown keys rejected. Values left at their "from the data" default
//! (`network.inputs = 0`, `network.readout.size = 0`, `init.nu_hz = 0`) are filled in by
//! [`crate::experiment`], which saves the fully resolved config next to the results.

use crate::consolidation::ConsolidationKind;
use crate::data::reaching::{PrimateReachingConfig, SyntheticReachingConfig};
use crate::data::{
    AugmentConfig, BrailleEncoding, EvidenceConfig, ImageEncoding, ImagesConfig, RandmanConfig,
    SpikePatternConfig, TemporalXorConfig,
};
use crate::error::{check_count, check_range, ConfigError};
use crate::layers::ReadoutKind;
use crate::losses::LossKind;
use crate::models::MlpSpec;
use crate::network::{NetworkSpec, WeightInit};
use crate::optimizers::{LrSchedule, OptimizerKind};
use crate::quant::Quantization;
use crate::regularizers::{ActivityRegularizer, WeightRegularizer};
use crate::rules::RuleKind;
use crate::substrate::SubstrateConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;

pub mod file;
pub use file::{ConfigFileError, DEFAULT_CONFIG};

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Seed of every random draw of the run (init, shuffling, dropout).
    pub seed: u64,
    /// Where the samples come from and how they are split.
    pub data: DataConfig,
    /// The architecture: a spiking network or a dense one (`[network] kind`).
    pub network: NetworkConfig,
    /// How a spiking network's weights are initialized (a dense network's init is part of
    /// its [`MlpSpec`]).
    pub init: WeightInit,
    /// The optimization.
    pub training: TrainingConfig,
    /// A sequence of tasks trained one after another ([`crate::continual`]); absent: one
    /// task, the whole data set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continual: Option<ContinualConfig>,
    /// Train with an emulated analog substrate in the loop ([`crate::substrate`]; BPTT only):
    /// the forward passes run on chip `chip_seed`, and the run is tested on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substrate: Option<SubstrateConfig>,
    /// A run directory (a trained run, or a network imported from NIR) whose saved spiking
    /// architecture replaces `network` and whose best weights start the training instead of
    /// `init` (the optimizer starts fresh); absent: a fresh network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
}

impl Default for ExperimentConfig {
    /// The default task: stork's randman example.
    fn default() -> Self {
        Self {
            seed: 1,
            data: DataConfig::default(),
            network: NetworkConfig::default(),
            init: WeightInit::default(),
            training: TrainingConfig::default(),
            continual: None,
            substrate: None,
            init_from: None,
        }
    }
}

/// Which model family a config trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// Spiking layers and a readout ([`NetworkSpec`]).
    #[default]
    Spiking,
    /// A multi-layer perceptron ([`MlpSpec`]).
    Mlp,
}

/// The `[network]` table: `kind = "spiking"` (the default when absent) or `kind = "mlp"`, and
/// that family's fields.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkConfig {
    /// A spiking network.
    Spiking(NetworkSpec),
    /// A dense network.
    Mlp(MlpSpec),
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self::Spiking(NetworkSpec::default())
    }
}

impl From<NetworkSpec> for NetworkConfig {
    fn from(spec: NetworkSpec) -> Self {
        Self::Spiking(spec)
    }
}

impl From<MlpSpec> for NetworkConfig {
    fn from(spec: MlpSpec) -> Self {
        Self::Mlp(spec)
    }
}

impl NetworkConfig {
    /// The family.
    pub fn kind(&self) -> NetworkKind {
        match self {
            Self::Spiking(_) => NetworkKind::Spiking,
            Self::Mlp(_) => NetworkKind::Mlp,
        }
    }

    /// The spiking architecture, if this is one.
    pub fn spiking(&self) -> Option<&NetworkSpec> {
        match self {
            Self::Spiking(spec) => Some(spec),
            Self::Mlp(_) => None,
        }
    }

    /// The spiking architecture, mutably, if this is one.
    pub fn spiking_mut(&mut self) -> Option<&mut NetworkSpec> {
        match self {
            Self::Spiking(spec) => Some(spec),
            Self::Mlp(_) => None,
        }
    }

    /// The dense architecture, if this is one.
    pub fn mlp(&self) -> Option<&MlpSpec> {
        match self {
            Self::Mlp(spec) => Some(spec),
            Self::Spiking(_) => None,
        }
    }

    /// The dense architecture, mutably, if this is one.
    pub fn mlp_mut(&mut self) -> Option<&mut MlpSpec> {
        match self {
            Self::Mlp(spec) => Some(spec),
            Self::Spiking(_) => None,
        }
    }
}

impl Serialize for NetworkConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a, T> {
            kind: NetworkKind,
            #[serde(flatten)]
            spec: &'a T,
        }
        let kind = self.kind();
        match self {
            Self::Spiking(spec) => Tagged { kind, spec }.serialize(serializer),
            Self::Mlp(spec) => Tagged { kind, spec }.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for NetworkConfig {
    /// Reads `kind` (default `"spiking"`), then the rest as that family's spec, unknown keys
    /// rejected.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let kind = match table.remove("kind") {
            None => NetworkKind::Spiking,
            Some(value) => NetworkKind::deserialize(value).map_err(D::Error::custom)?,
        };
        let rest = toml::Value::Table(table);
        match kind {
            NetworkKind::Spiking => NetworkSpec::deserialize(rest).map(Self::Spiking),
            NetworkKind::Mlp => MlpSpec::deserialize(rest).map(Self::Mlp),
        }
        .map_err(|e| D::Error::custom(e.message()))
    }
}

/// The data source and split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The samples.
    pub source: DataSource,
    /// Fractions of samples for training, validation and test.
    pub split: [f64; 3],
    /// Whether each split keeps the class proportions.
    pub stratified: bool,
    /// How the validation split is carved from the training samples.
    pub valid_by: ValidBy,
    /// Augmentation of the training split (spike-event data only; off by default).
    pub augment: AugmentConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            source: DataSource::Randman(RandmanConfig::default()),
            split: [0.8, 0.1, 0.1],
            stratified: true,
            valid_by: ValidBy::Sample,
            augment: AugmentConfig::default(),
        }
    }
}

/// What the validation split is made of.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidBy {
    /// Samples drawn at random (stratified by class when `data.stratified`).
    #[default]
    Sample,
    /// All samples of randomly drawn speakers (HDF5 sources with `/extra/speaker`), so that
    /// validation measures generalization to unseen speakers.
    Speaker,
}

/// A source of event samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DataSource {
    /// Synthetic random-manifold spike patterns (Zenke & Vogels 2021).
    Randman(RandmanConfig),
    /// The synthetic evidence-accumulation task of the e-prop paper (Bellec et al. 2020,
    /// [`crate::data::evidence`]): two classes, 40 channels and 2250 ms by default.
    EvidenceAccumulation(EvidenceConfig),
    /// SuperSpike's spike-pattern task ([`crate::data::spike_pattern`]): frozen Poisson
    /// input and a target raster from a PNG image or an SHD-layout file. Every split holds
    /// the same pattern; `nb_samples` copies make one epoch.
    SpikePattern(SpikePatternConfig),
    /// A temporal XOR in spike times ([`crate::data::temporal_xor`]): two groups code two
    /// bits by firing early or late, and one output must fire at a set time when they
    /// differ. Split by `data.split`.
    TemporalXor(TemporalXorConfig),
    /// Spike trains from HDF5 files in the Spiking Heidelberg Digits / Spiking Speech
    /// Commands layout ([`crate::data::shd`]). Relative paths are relative to the working
    /// directory.
    ///
    /// A `valid` or `test` file is that split; the `train` file is split by `data.split`
    /// among the remaining splits (fractions renormalized), e.g. with a test file only,
    /// into train and validation samples in the ratio `split[0] : split[1]`.
    Hdf5 {
        /// The training file.
        train: PathBuf,
        /// The test file, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test: Option<PathBuf>,
        /// The validation file, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid: Option<PathBuf>,
        /// Nominal sample duration in seconds: the time window that is binned.
        #[serde(default = "default_max_time_s")]
        max_time_s: f64,
        /// Number of input channels; unit ids must be below it.
        #[serde(default = "default_channels")]
        channels: usize,
        /// Read each batch's spikes from the files instead of loading every sample: memory
        /// for the data is then an index of 28 bytes per sample plus one batch
        /// ([`crate::data::streamed`]). Training is bit-identical either way.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stream: bool,
    },
    /// The Braille letter recordings (Müller-Cleve et al. 2022) of an HDF5 file
    /// ([`crate::data::braille`]), encoded as events; 27 classes, 50 samples each, split by
    /// `data.split`. The path is relative to the working directory.
    Braille {
        /// The recordings file, e.g. `../shared/data/braille/braille_taxels.h5`.
        path: PathBuf,
        /// How the taxel signals become events.
        #[serde(default)]
        encoding: BrailleEncoding,
    },
    /// Images from an HDF5 file with `/images` and `/labels` ([`crate::data::images`]):
    /// pixels for a dense network, rate- or latency-coded spikes for a spiking one.
    Images(ImagesConfig),
    /// A NeuroBench primate-reaching recording (a MATLAB v7.3 `.mat` file,
    /// [`crate::data::reaching`]): 4 ms bins, per-step 2-D velocity targets, NeuroBench's
    /// segment split (not `data.split`). Needs `training.loss = "mse"` or `"rmse"`.
    PrimateReaching(PrimateReachingConfig),
    /// Synthetic center-out reaches decoded from cosine-tuned Poisson channels
    /// ([`crate::data::reaching::synthetic`]), binned, split and cut like
    /// `primate_reaching`. Needs `training.loss = "mse"` or `"rmse"`.
    SyntheticReaching(SyntheticReachingConfig),
}

impl DataSource {
    /// Whether its samples' targets are spike trains (the van Rossum loss needs them).
    pub fn has_target_trains(&self) -> bool {
        matches!(self, Self::SpikePattern(_) | Self::TemporalXor(_))
    }
}

fn default_max_time_s() -> f64 {
    crate::data::shd::SHD_MAX_TIME_S
}

fn default_channels() -> usize {
    crate::data::shd::SHD_CHANNELS
}

/// The optimization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Samples per batch of validation and test (no gradients, so larger batches cost no
    /// more memory per sample and fewer batches cost less time); `None`: `batch_size`.
    /// Results do not depend on it for deterministic spikes; stochastic spikes draw their
    /// noise per evaluation batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_batch_size: Option<usize>,
    /// How gradients are computed (`{ kind = "bptt" }`, the default).
    pub rule: RuleKind,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule over epochs.
    pub schedule: LrSchedule,
    /// Global gradient-norm clipping; 0 = off.
    pub clip_grad_norm: f64,
    /// Every synaptic weight is clipped into `[−bound, bound]` after each update
    /// (SuperSpike's `±w_max`); `None`: unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_bound: Option<f64>,
    /// Metaplasticity strength `m` (Laborieux et al. 2021): every update that shrinks a weight
    /// matrix element is scaled by `1 − tanh²(m·w)` (see [`crate::synapses::metaplastic`]);
    /// `None`: plain updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metaplasticity: Option<f64>,
    /// The loss.
    pub loss: LossKind,
    /// Activity regularizers, applied to every hidden layer's spikes.
    pub activity: Vec<ActivityRegularizer>,
    /// Weight regularizers, applied to every weight matrix.
    pub weights: Vec<WeightRegularizer>,
    /// Quantization-aware training: `"int8"` trains with fake-quantized weight matrices
    /// (validation and test use the int8 model, `best.safetensors` stores it as int8);
    /// `"none"` trains in f32. See [`crate::quant`].
    pub quantize: Quantization,
    /// How a network with stochastic spikes is evaluated (validation and test).
    pub eval_spikes: EvalSpikes,
    /// Noisy trials per sample when stochastic spikes are evaluated stochastically: loss,
    /// accuracy and rates are averaged over them.
    pub eval_trials: usize,
    /// Stop before `epochs` once the validation accuracy reaches this value (the e-prop
    /// tutorial's stopping criterion); `None`: train every epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at_valid_accuracy: Option<f64>,
    /// Runs whose estimated memory is above this many GiB are refused before they start
    /// (`None`: what the machine allows the process, its memory or `ulimit -v`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_gib: Option<f64>,
}

/// The most noisy trials an evaluation may run per sample.
pub const MAX_EVAL_TRIALS: usize = 10_000;

/// How stochastic spikes behave when a network is evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalSpikes {
    /// Sampled as in training, averaged over `eval_trials` trials.
    #[default]
    Stochastic,
    /// The deterministic limit: a spike when `U > θ`.
    Deterministic,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 250,
            eval_batch_size: None,
            rule: RuleKind::Bptt,
            optimizer: OptimizerKind::Smorms3 {
                lr: 5e-3,
                eps: 1e-16,
            },
            schedule: LrSchedule::Constant,
            clip_grad_norm: 0.0,
            weight_bound: None,
            metaplasticity: None,
            loss: LossKind::MaxOverTimeCe,
            activity: Vec::new(),
            weights: Vec::new(),
            quantize: Quantization::None,
            eval_spikes: EvalSpikes::Stochastic,
            eval_trials: 1,
            stop_at_valid_accuracy: None,
            memory_limit_gib: None,
        }
    }
}

impl TrainingConfig {
    /// Samples per evaluation batch: `eval_batch_size`, else `batch_size` (at least 1).
    pub fn eval_batch(&self) -> usize {
        self.eval_batch_size.unwrap_or(self.batch_size).max(1)
    }

    /// The learning rate of 1-based `epoch` under the schedule.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.schedule
            .lr_at(self.optimizer.lr(), epoch - 1, self.epochs)
    }
}

impl ExperimentConfig {
    /// Refuses what Dale's-law, convolutional and delayed layers do not run: int8 training and
    /// the emulated substrate.
    fn check_structure_support(&self) -> Result<(), ConfigError> {
        let Some(spec) = self.network.spiking() else {
            return Ok(());
        };
        let Some((k, structure)) = spec.first_structured() else {
            return Ok(());
        };
        let field = format!("network.hidden[{k}].{}", structure.field());
        let layers = structure.layers();
        if self.training.quantize != Quantization::None {
            return Err(ConfigError::new(
                field,
                format!("{layers} train in f32 only (training.quantize = \"none\")"),
            ));
        }
        if self.substrate.is_some() {
            return Err(ConfigError::new(
                field,
                format!("{layers} do not run on the emulated substrate"),
            ));
        }
        Ok(())
    }

    /// Checks every value that does not depend on the data.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_structure_support()?;
        let sum: f64 = self.data.split.iter().sum();
        for (i, f) in self.data.split.iter().enumerate() {
            check_range(&format!("data.split[{i}]"), *f, 0.0, 1.0, true)?;
        }
        if (sum - 1.0).abs() > 1e-9 {
            return Err(ConfigError::new(
                "data.split",
                format!("fractions must sum to 1, got {sum}"),
            ));
        }
        match &self.data.source {
            DataSource::Randman(r) => r
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
            DataSource::EvidenceAccumulation(e) => e
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
            DataSource::SpikePattern(p) => p
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
            DataSource::TemporalXor(x) => x
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
            DataSource::Hdf5 {
                max_time_s,
                channels,
                ..
            } => {
                crate::error::check_positive("data.source.max_time_s", *max_time_s)?;
                check_count("data.source.channels", *channels)?;
            }
            DataSource::Braille { encoding, .. } => encoding
                .validate()
                .map_err(|e| ConfigError::new("data.source.encoding", e))?,
            DataSource::Images(images) => images.encoding.validate().map_err(|(field, e)| {
                ConfigError::new(format!("data.source.encoding.{field}"), e)
            })?,
            DataSource::PrimateReaching(r) => r
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
            DataSource::SyntheticReaching(r) => r
                .validate()
                .map_err(|e| ConfigError::new("data.source", e.to_string()))?,
        }
        let reaching = matches!(
            self.data.source,
            DataSource::PrimateReaching(_) | DataSource::SyntheticReaching(_)
        );
        if reaching && !self.training.loss.is_squared_error() {
            return Err(ConfigError::new(
                "training.loss",
                "reaching sources have per-step velocity targets: use \"mse\" or \"rmse\"",
            ));
        }
        self.check_encoding()?;
        self.data
            .augment
            .validate()
            .map_err(|(field, e)| ConfigError::new(format!("data.augment.{field}"), e))?;
        if self.data.valid_by == ValidBy::Speaker
            && !matches!(self.data.source, DataSource::Hdf5 { valid: None, .. })
        {
            return Err(ConfigError::new(
                "data.valid_by",
                "\"speaker\" needs an hdf5 source whose validation split comes from the train file",
            ));
        }
        self.init.validate()?;
        let t = &self.training;
        check_count("training.epochs", t.epochs)?;
        check_count("training.batch_size", t.batch_size)?;
        if let Some(size) = t.eval_batch_size {
            check_count("training.eval_batch_size", size)?;
        }
        check_count("training.eval_trials", t.eval_trials)?;
        if let Some(bound) = t.weight_bound {
            if !(bound.is_finite() && bound > 0.0) {
                return Err(ConfigError::new(
                    "training.weight_bound",
                    format!("must be finite and > 0, got {bound}"),
                ));
            }
        }
        if let Some(a) = t.stop_at_valid_accuracy {
            check_range("training.stop_at_valid_accuracy", a, 0.0, 1.0, true)?;
        }
        if let Some(gib) = t.memory_limit_gib {
            if !(gib.is_finite() && gib > 0.0) {
                return Err(ConfigError::new(
                    "training.memory_limit_gib",
                    format!("must be finite and > 0, got {gib}"),
                ));
            }
        }
        if let Some(m) = t.metaplasticity {
            if !(m.is_finite() && m >= 0.0) {
                return Err(ConfigError::new(
                    "training.metaplasticity",
                    format!("must be finite and ≥ 0, got {m}"),
                ));
            }
        }
        t.rule
            .validate()
            .map_err(|(field, e)| ConfigError::new(format!("training.rule.{field}"), e))?;
        match &self.network {
            NetworkConfig::Spiking(spec) => t
                .rule
                .check_network(spec)
                .map_err(|(field, e)| ConfigError::new(field, e))?,
            NetworkConfig::Mlp(_) => self.check_dense_training()?,
        }
        if t.eval_trials > MAX_EVAL_TRIALS {
            return Err(ConfigError::new(
                "training.eval_trials",
                format!("must be at most {MAX_EVAL_TRIALS}, got {}", t.eval_trials),
            ));
        }
        t.optimizer
            .validate()
            .map_err(|e| ConfigError::new("training.optimizer", e.to_string()))?;
        t.schedule
            .validate()
            .map_err(|e| ConfigError::new("training.schedule", e.to_string()))?;
        t.loss
            .validate()
            .map_err(|e| ConfigError::new("training.loss", e.to_string()))?;
        let pattern = self.data.source.has_target_trains();
        match t.loss {
            LossKind::VanRossum(_) if !pattern => {
                return Err(ConfigError::new(
                    "training.loss",
                    "van_rossum compares spike trains: it needs target trains (data.source kind \
                     = \"spike_pattern\" or \"temporal_xor\")",
                ))
            }
            LossKind::VanRossum(_) | LossKind::Mse | LossKind::Rmse => {}
            _ if pattern => {
                return Err(ConfigError::new(
                    "training.loss",
                    "this source has target spike trains: use van_rossum (or mse)",
                ))
            }
            _ => {}
        }
        check_range(
            "training.clip_grad_norm",
            t.clip_grad_norm,
            0.0,
            f64::MAX,
            false,
        )?;
        for (i, r) in t.activity.iter().enumerate() {
            r.validate()
                .map_err(|e| ConfigError::new(format!("training.activity[{i}]"), e.to_string()))?;
        }
        for (i, r) in t.weights.iter().enumerate() {
            r.validate()
                .map_err(|e| ConfigError::new(format!("training.weights[{i}]"), e.to_string()))?;
        }
        if let Some(continual) = &self.continual {
            continual.validate()?;
        }
        // The data-dependent sizes may still be 0 ("from the data") here.
        let mut net = match &self.network {
            NetworkConfig::Spiking(spec) => spec.clone(),
            NetworkConfig::Mlp(spec) => {
                let mut spec = spec.clone();
                spec.inputs = spec.inputs.max(1);
                spec.outputs = spec.outputs.max(1);
                return spec.validate();
            }
        };
        if net.inputs > 0 {
            // Convolutions are checked against their inputs once these are known.
            net.resolve_conv_sizes()?;
        }
        net.inputs = net.inputs.max(1);
        if let (ReadoutKind::Spikes, Some(last)) = (net.readout.kind, net.hidden.last_mut()) {
            // A spiking output layer's size may come from the data as well.
            if last.size == 0 {
                last.size = net.readout.size.max(1);
            }
            if net.readout.size == 0 {
                net.readout.size = last.size;
            }
        }
        net.readout.size = net.readout.size.max(1);
        net.validate()
    }
}

impl ExperimentConfig {
    /// Images reach a dense network as pixels and a spiking one as spikes.
    fn check_encoding(&self) -> Result<(), ConfigError> {
        let DataSource::Images(images) = &self.data.source else {
            return match self.network.kind() {
                NetworkKind::Mlp => Err(ConfigError::new(
                    "data.source",
                    "a dense network (network.kind = \"mlp\") needs an images source",
                )),
                NetworkKind::Spiking => Ok(()),
            };
        };
        let dense = images.encoding == ImageEncoding::Dense;
        match self.network.kind() {
            NetworkKind::Mlp if !dense => Err(ConfigError::new(
                "data.source.encoding",
                "a dense network takes pixels: use kind = \"dense\"",
            )),
            NetworkKind::Spiking if dense => Err(ConfigError::new(
                "data.source.encoding",
                "a spiking network takes spikes: use kind = \"rate\" or \"latency\"",
            )),
            _ => Ok(()),
        }
    }

    /// What a dense network cannot use: spiking rules, spike regularizers, int8 training.
    fn check_dense_training(&self) -> Result<(), ConfigError> {
        let t = &self.training;
        if t.rule != RuleKind::Bptt {
            return Err(ConfigError::new(
                "training.rule",
                "a dense network trains by backpropagation: use kind = \"bptt\"",
            ));
        }
        if !t.activity.is_empty() {
            return Err(ConfigError::new(
                "training.activity",
                "spike-count regularizers need a spiking network",
            ));
        }
        if t.quantize != Quantization::None {
            return Err(ConfigError::new(
                "training.quantize",
                "int8 training is implemented for spiking networks only",
            ));
        }
        Ok(())
    }
}

/// How the tasks are made from the experiment's data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSequence {
    /// Consecutive groups of `classes_per_task` classes, a head each.
    SplitClasses {
        /// Classes per task.
        classes_per_task: usize,
    },
    /// `tasks` fixed random input permutations (the first the identity), one head.
    Permuted {
        /// Number of tasks.
        tasks: usize,
    },
}

impl TaskSequence {
    /// The number of tasks on data with `num_classes` classes.
    pub fn count(self, num_classes: usize) -> usize {
        match self {
            Self::Permuted { tasks } => tasks,
            Self::SplitClasses { classes_per_task } => {
                num_classes.div_ceil(classes_per_task.max(1))
            }
        }
    }
}

/// The protocol's settings (`[continual]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinualConfig {
    /// The tasks.
    pub tasks: TaskSequence,
    /// Passes over each task's training samples.
    pub epochs_per_task: usize,
    /// Whether the optimizer's state starts afresh with every task.
    pub reset_optimizer: bool,
    /// The penalty protecting earlier tasks.
    pub consolidation: ConsolidationKind,
}

impl ContinualConfig {
    /// Checks the values; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_count("continual.epochs_per_task", self.epochs_per_task)?;
        match self.tasks {
            TaskSequence::SplitClasses { classes_per_task } => {
                check_count("continual.tasks.classes_per_task", classes_per_task)?
            }
            TaskSequence::Permuted { tasks } => check_count("continual.tasks.tasks", tasks)?,
        }
        self.consolidation
            .validate()
            .map_err(|(field, e)| ConfigError::new(format!("continual.consolidation.{field}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_bound_and_van_rossum_are_checked() {
        let mut config = ExperimentConfig::default();
        config.validate().unwrap();
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            config.training.weight_bound = Some(bad);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("training.weight_bound"), "{err}");
        }
        config.training.weight_bound = Some(0.1);
        config.validate().unwrap();
        for bad in [-0.5, f64::NAN, f64::INFINITY] {
            config.training.metaplasticity = Some(bad);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("training.metaplasticity"), "{err}");
        }
        config.training.metaplasticity = Some(0.0);
        config.validate().unwrap();
        config.training.loss = LossKind::VanRossum(Default::default());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("training.loss"), "{err}");
        config.data.source = DataSource::SpikePattern(SpikePatternConfig::default());
        config.validate().unwrap();
        config.training.loss = LossKind::SumOverTimeCe;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("training.loss") && err.contains("van_rossum"),
            "{err}"
        );
    }
}
