//! Training runs on disk: a run directory with the resolved config, per-epoch metrics,
//! checkpoints that can be resumed, the best-on-validation weights and the final test result.
//!
//! ```text
//! RUN/config.toml              the fully resolved config (the run is determined by it)
//! RUN/metrics.jsonl            one JSON object per epoch (EpochRecord)
//! RUN/checkpoint.safetensors   weights + optimizer state after the last finished epoch
//! RUN/best.safetensors         weights of the best epoch on the validation split (int8 for a
//!                              quantization-aware run, see `weights` below)
//! RUN/final.json               test metrics of the best weights (FinalReport)
//! ```

mod braille;
mod compare;
mod evaluation;
mod family;
mod hdf5;
mod images;
mod memory;
mod prune;
mod ptq;
mod records;
mod state;
mod weights;

pub use compare::{Agreement, ComparedRule, RuleComparison};
pub use evaluation::TestResult;
pub use family::{restore_tensors, tensors_checkpoint};
pub use images::{encode as encode_images, DENSE_PERIOD_S};
pub use memory::{machine_limit_bytes, MemoryEstimate, MemoryPart};
pub use prune::{prune_magnitudes, PruneConfig, PruneReport, PruneTrial};
pub use ptq::{quantize_run, PtqReport};
pub use records::{EpochRecord, FinalReport};
pub use weights::{load_network, network_checkpoint, quantized_checkpoint};

use crate::config::{DataSource, ExperimentConfig, NetworkConfig};
use crate::data::{
    generate_evidence, generate_pattern, generate_randman, generate_xor, DataError, Dataset,
    EventDataset, Split,
};
use crate::error::ConfigError;
use crate::initializers::InitError;
use crate::io::{write_atomic_str, CheckpointError};
use crate::layers::ReadoutKind;
use crate::losses::LossError;
use crate::models::Mlp;
use crate::network::{Network, WeightInit};
use crate::optimizers::OptimError;
use crate::quant::{QuantError, Quantization};
use crate::training::{derive_seed, evaluate, BatchReport, EvalStats, TrainError, Trainer};
use family::not_family;
pub(crate) use family::RunModel;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
pub(crate) use state::{
    metadata, metadata_number, read_history, restore_trainer_state, trainer_checkpoint,
    write_history,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run could not be prepared, trained or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// A config value is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data could not be made or used.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The weights could not be initialized (not a `source`: the message already holds it).
    #[error("weight initialization: {0}")]
    Init(InitError),
    /// The optimizer could not be built or restored.
    #[error(transparent)]
    Optimizer(#[from] OptimError),
    /// Training stopped.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The weights could not be quantized.
    #[error(transparent)]
    Quantization(#[from] QuantError),
    /// A metric could not be computed.
    #[error("metrics: {0}")]
    Metrics(#[from] LossError),
    /// The observer asked to stop; the run can be resumed from its checkpoint.
    #[error("stopped after epoch {epoch}; resume to continue")]
    Interrupted {
        /// The last finished epoch.
        epoch: usize,
    },
    /// A file of the run directory could not be written or read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl From<InitError> for ExperimentError {
    fn from(e: InitError) -> Self {
        ExperimentError::Init(e)
    }
}

impl From<crate::substrate::SubstrateError> for ExperimentError {
    /// A network the emulated chip cannot run is a config error of `[substrate]`.
    fn from(e: crate::substrate::SubstrateError) -> Self {
        use crate::substrate::SubstrateError;
        match e {
            SubstrateError::Config(c) => c.into(),
            other => ConfigError::new("substrate", other.to_string()).into(),
        }
    }
}

/// Paths of the files in a run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
}

impl RunDir {
    /// The run directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.path.join("config.toml")
    }
    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }
    /// `checkpoint.safetensors`.
    pub fn checkpoint(&self) -> PathBuf {
        self.path.join("checkpoint.safetensors")
    }
    /// `best.safetensors`.
    pub fn best(&self) -> PathBuf {
        self.path.join("best.safetensors")
    }
    /// `final.json`.
    pub fn final_report(&self) -> PathBuf {
        self.path.join("final.json")
    }
    /// `plots/`.
    pub fn plots(&self) -> PathBuf {
        self.path.join("plots")
    }

    /// The architecture in the saved config with the best weights, without the data (for
    /// inference; the config's sizes must be resolved, as every saved run's are).
    pub fn open_network(&self) -> Result<Network<f32>, ExperimentError> {
        Ok(self.open_network_stored()?.0)
    }

    /// [`Self::open_network`], with the precision the best weights are stored at.
    pub fn open_network_stored(&self) -> Result<(Network<f32>, Quantization), ExperimentError> {
        let config = self.load_config()?;
        let spec = config
            .network
            .spiking()
            .ok_or_else(|| not_family("spiking"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut net = Network::new(spec, &mut rng)?;
        let stored = load_network(&mut net, &self.best())?;
        Ok((net, stored))
    }

    /// Writes `config` and `net` as the config and best weights of a run that was not trained
    /// here (e.g. an imported network), creating the directory.
    pub fn save_network(
        &self,
        config: &ExperimentConfig,
        net: &Network<f32>,
    ) -> Result<(), ExperimentError> {
        config.validate()?;
        std::fs::create_dir_all(&self.path).map_err(|e| file_error(&self.path, e))?;
        let text = toml::to_string_pretty(config).map_err(|e| file_error(&self.config(), e))?;
        write_atomic_str(&self.config(), &text).map_err(|e| file_error(&self.config(), e))?;
        network_checkpoint(net).save(&self.best())?;
        Ok(())
    }

    /// The run's saved config.
    pub fn load_config(&self) -> Result<ExperimentConfig, ExperimentError> {
        let path = self.config();
        let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
        let config: ExperimentConfig = toml::from_str(&text).map_err(|e| {
            let message = e.to_string();
            file_error(
                &path,
                message.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })?;
        config.validate()?;
        Ok(config)
    }
}

/// Receives progress while a run trains.
pub trait Observer {
    /// After every training batch.
    fn batch(&mut self, _epoch: usize, _report: BatchReport) {}
    /// After every epoch.
    fn epoch(&mut self, _record: &EpochRecord) {}
    /// Asked after every epoch (once its checkpoint is written): stop the run now?
    fn stop_requested(&mut self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

const SPLIT: u64 = 10;
const INIT: u64 = 11;

/// A resolved experiment: its config with every data-dependent value filled in, its data and
/// its split.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// The fully resolved config.
    pub config: ExperimentConfig,
    /// All samples.
    pub data: Dataset,
    /// Train / validation / test indices into `data`.
    pub split: Split,
    /// Time steps per sample.
    pub steps: usize,
}

impl Experiment {
    /// Validates `config`, makes the data and resolves every "from the data" value.
    pub fn prepare(mut config: ExperimentConfig) -> Result<Self, ExperimentError> {
        config.validate()?;
        if let Some(from) = &config.init_from {
            config.network = network_of_run(from)?;
        }
        let mut image_shape = None;
        let (data, split) = match &config.data.source {
            DataSource::Randman(r) => split_generated(&config, generate_randman(r)?)?,
            DataSource::EvidenceAccumulation(e) => split_generated(&config, generate_evidence(e)?)?,
            DataSource::SpikePattern(p) => pattern_split(generate_pattern(p)?),
            DataSource::TemporalXor(x) => split_generated(&config, generate_xor(x)?)?,
            DataSource::Hdf5 { .. } => hdf5::load(&config)?,
            DataSource::Braille { .. } => braille::load(&config)?,
            DataSource::Images(_) => {
                let (data, split, shape) = images::load(&config)?;
                image_shape = Some(shape);
                (data, split)
            }
            DataSource::PrimateReaching(r) => r.load()?.into_parts(),
            DataSource::SyntheticReaching(r) => r.generate()?.into_parts(),
        };
        if split.train.is_empty() {
            return Err(ConfigError::new("data.split", "the training split is empty").into());
        }
        check_input_kind(&config, &data)?;
        if let (Some(net), Some(shape)) = (config.network.spiking_mut(), image_shape) {
            // Convolutions see images as images; other layers see pixels as a vector.
            let convolutional = net.hidden.iter().any(|l| l.conv.is_some());
            if convolutional && net.input_shape.is_none() && net.encoder.is_none() {
                net.input_shape = Some(shape);
            }
        }
        resolve_sizes(&mut config, &data)?;
        if config.network.spiking().is_some() {
            config.init = resolve_rate(&config, &data, &split.train)?;
        }
        let steps = match &config.network {
            NetworkConfig::Spiking(spec) => {
                spec.validate()?;
                (data.duration_s() / (spec.dt_ms * 1e-3)).round().max(1.0) as usize
            }
            NetworkConfig::Mlp(spec) => {
                spec.validate()?;
                1
            }
        };
        config
            .training
            .loss
            .check_steps(steps)
            .map_err(|e| ConfigError::new("training.loss", e.to_string()))?;
        check_memory(&config, steps)?;
        // Without augmentation every epoch bins the same samples at the same step: bin once.
        let data = match config.network.spiking() {
            Some(spec) if !config.data.augment.is_active() => {
                data.binned_at(spec.dt_ms * 1e-3, steps)?
            }
            _ => data,
        };
        Ok(Self {
            config,
            data,
            split,
            steps,
        })
    }

    /// The network of this experiment, freshly initialized from the seed.
    pub fn new_network(&self) -> Result<Network<f32>, ExperimentError> {
        let spec = self
            .config
            .network
            .spiking()
            .ok_or_else(|| not_family("spiking"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, INIT, 0));
        let mut net = Network::new(spec, &mut rng)?;
        net.initialize(&self.config.init, &mut rng)?;
        if let Some(from) = &self.config.init_from {
            load_network(&mut net, &RunDir::new(from).best())?;
        }
        Ok(net)
    }

    /// The experiment saved in `dir` and its best weights.
    pub fn open_best(dir: &RunDir) -> Result<(Self, Network<f32>), ExperimentError> {
        let (exp, net, _) = Self::open_best_stored(dir)?;
        Ok((exp, net))
    }

    /// [`Self::open_best`], and how the best weights are stored (f32 or int8; int8 weights
    /// are loaded as their dequantized values).
    pub fn open_best_stored(
        dir: &RunDir,
    ) -> Result<(Self, Network<f32>, Quantization), ExperimentError> {
        let exp = Self::prepare(dir.load_config()?)?;
        let mut net = exp.new_network()?;
        let precision = load_network(&mut net, &dir.best())?;
        Ok((exp, net, precision))
    }

    /// Evaluates `net` on `indices`.
    pub fn evaluate(
        &self,
        net: &Network<f32>,
        indices: &[usize],
    ) -> Result<EvalStats, ExperimentError> {
        Ok(evaluate(
            net,
            &self.config.training,
            &self.data,
            indices,
            self.steps,
        )?)
    }

    /// The dense network of a dense run's best weights.
    pub fn open_best_mlp(dir: &RunDir) -> Result<(Self, Mlp<f32>), ExperimentError> {
        let exp = Self::prepare(dir.load_config()?)?;
        let mut net = exp.new_mlp()?;
        let path = dir.best();
        net.restore(&crate::io::Checkpoint::load(&path)?, &path)?;
        Ok((exp, net))
    }

    /// Trains into `dir` (created if needed), or continues the run there with `resume`.
    pub fn run(
        &self,
        dir: &RunDir,
        resume: bool,
        observer: &mut dyn Observer,
    ) -> Result<FinalReport, ExperimentError> {
        if self.config.continual.is_some() {
            return Err(ConfigError::new(
                "continual",
                "a task sequence trains through spikegrad::continual::train",
            )
            .into());
        }
        match self.config.network {
            NetworkConfig::Spiking(_) => self.run_family::<Network<f32>>(dir, resume, observer),
            NetworkConfig::Mlp(_) => self.run_family::<Mlp<f32>>(dir, resume, observer),
        }
    }

    fn run_family<M: RunModel>(
        &self,
        dir: &RunDir,
        resume: bool,
        observer: &mut dyn Observer,
    ) -> Result<FinalReport, ExperimentError> {
        std::fs::create_dir_all(&dir.path).map_err(|e| file_error(&dir.path, e))?;
        let mut progress: state::Progress<M> = if resume {
            state::Progress::restore(self, dir)?
        } else {
            self.write_config(dir)?;
            state::Progress::fresh(self)?
        };
        let epochs = self.config.training.epochs;
        let target = self.config.training.stop_at_valid_accuracy;
        let reached = |p: &state::Progress<M>| {
            let last = p.history.last().and_then(|r| r.valid_accuracy);
            matches!((target, last), (Some(t), Some(a)) if a >= t)
        };
        while progress.epoch < epochs && !reached(&progress) {
            let epoch = progress.epoch + 1;
            let record = self.train_one_epoch(&mut progress.trainer, epoch, observer)?;
            progress.record_epoch(self, dir, record)?;
            observer.epoch(progress.history.last().expect("just recorded"));
            if progress.epoch < epochs && !reached(&progress) && observer.stop_requested() {
                return Err(ExperimentError::Interrupted {
                    epoch: progress.epoch,
                });
            }
        }
        self.finish(dir, &progress)
    }

    fn train_one_epoch<M: RunModel>(
        &self,
        trainer: &mut Trainer<M::Rule, M>,
        epoch: usize,
        observer: &mut dyn Observer,
    ) -> Result<EpochRecord, ExperimentError> {
        let start = Instant::now();
        let lr = self.config.training.lr_at(epoch);
        let train = trainer.train_epoch(
            &self.data,
            &self.split.train,
            epoch,
            self.config.seed,
            &mut |r| observer.batch(epoch, r),
        )?;
        let valid = if self.split.valid.is_empty() {
            None
        } else {
            let net = trainer.forward_network()?;
            let config = &self.config.training;
            Some(net.evaluate(config, &self.data, &self.split.valid, self.steps)?)
        };
        let classify = self.config.training.loss.is_classification();
        Ok(EpochRecord {
            epoch,
            lr,
            train_loss: train.mean_loss(),
            train_reg_loss: train.mean_reg_loss(),
            train_accuracy: classify.then(|| train.accuracy()),
            valid_loss: valid.as_ref().map(EvalStats::mean_loss),
            valid_accuracy: valid.as_ref().filter(|_| classify).map(EvalStats::accuracy),
            rates_hz: train.rates_hz(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Writes the resolved config into `dir` (`config.toml`).
    pub(crate) fn write_config(&self, dir: &RunDir) -> Result<(), ExperimentError> {
        let text = toml::to_string_pretty(&self.config).map_err(|e| ExperimentError::File {
            path: dir.config(),
            reason: e.to_string(),
        })?;
        write_atomic_str(&dir.config(), &text).map_err(|e| file_error(&dir.config(), e))
    }

    /// Tests the best weights and writes `final.json`.
    fn finish<M: RunModel>(
        &self,
        dir: &RunDir,
        progress: &state::Progress<M>,
    ) -> Result<FinalReport, ExperimentError> {
        let (mut net, _) = M::build(self)?;
        let path = dir.best();
        let precision = net.restore(&crate::io::Checkpoint::load(&path)?, &path)?;
        tracing::info!(epoch = progress.best_epoch, "testing the best weights");
        let parts = net.test(self, precision)?;
        let test = parts.stats;
        let classify = self.config.training.loss.is_classification();
        let report = FinalReport {
            test_accuracy: classify.then(|| test.accuracy()),
            test_loss: test.mean_loss(),
            test_rates_hz: test.rates_hz(),
            test_samples: test.samples / test.trials.max(1),
            best_epoch: progress.best_epoch,
            best_valid_accuracy: progress.best_valid_accuracy,
            best_valid_loss: progress.best_valid_loss,
            epochs: progress.epoch,
            train_seconds: progress.train_seconds,
            cost: parts.cost,
            fano_factor: parts.fano_factor,
            van_rossum: parts.van_rossum,
        };
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        write_atomic_str(&dir.final_report(), &text)
            .map_err(|e| file_error(&dir.final_report(), e))?;
        Ok(report)
    }
}

/// Refuses a run whose estimated memory is above `training.memory_limit_gib` (default: what
/// the machine allows this process), before anything of its size is allocated.
fn check_memory(config: &ExperimentConfig, steps: usize) -> Result<(), ConfigError> {
    let limit = match config.training.memory_limit_gib {
        Some(gib) => Some((gib * memory::GIB, "training.memory_limit_gib")),
        None => machine_limit_bytes().map(|bytes| (bytes, "the machine's memory")),
    };
    match limit {
        Some((bytes, source)) => MemoryEstimate::of(config, steps).check(bytes, source),
        None => Ok(()),
    }
}

/// Noisy trials of the Fano factor's test sample.
const FANO_TRIALS: usize = 200;
/// Steps per bin of the Fano factor's spike counts (the paper's 10).
const FANO_BIN_STEPS: usize = 10;
const FANO_NOISE: u64 = 12;

impl Experiment {
    /// For stochastic spikes, the Fano factor of every hidden layer over 200
    /// noisy trials of the first test sample (one batch of copies: each copy draws its own
    /// noise); `None` for deterministic spikes or without test samples.
    pub fn fano_factors(
        &self,
        net: &Network<f32>,
    ) -> Result<Option<Vec<Option<f64>>>, ExperimentError> {
        let Some(&sample) = self.split.test.first() else {
            return Ok(None);
        };
        if !net.spec.spike.is_stochastic() {
            return Ok(None);
        }
        let dt_s = net.spec.dt_ms * 1e-3;
        let batch = self
            .data
            .batch(&[sample; FANO_TRIALS], dt_s, self.steps, None)?;
        let noise = crate::neurons::NoiseStream::derive(self.config.seed, &[FANO_NOISE]);
        let input = crate::training::batch_input(&batch.input);
        let trace = net.forward_in::<ChaCha8Rng>(input, None, noise);
        let fano = trace.hidden.iter();
        Ok(Some(
            fano.map(|l| crate::metrics::fano_factor(l.spikes(), FANO_BIN_STEPS))
                .collect(),
        ))
    }
}

/// A generated dataset with its split by `data.split` (stratified by class when
/// `data.stratified`).
fn split_generated(
    config: &ExperimentConfig,
    data: EventDataset,
) -> Result<(Dataset, Split), DataError> {
    let stratified = config.data.stratified && data.num_classes.is_some();
    let split = data.split_fractions(
        config.data.split,
        derive_seed(config.seed, SPLIT, 0),
        stratified,
    )?;
    Ok((data.into(), split))
}

/// Every copy of a memorised pattern trains; the first one validates and tests.
fn pattern_split(data: EventDataset) -> (Dataset, Split) {
    let split = Split {
        train: (0..data.len()).collect(),
        valid: vec![0],
        test: vec![0],
    };
    (data.into(), split)
}

/// An encoder needs analog data, and augmentation event data.
fn check_input_kind(config: &ExperimentConfig, data: &Dataset) -> Result<(), ConfigError> {
    let analog = data.analog().is_some();
    let encoder = config
        .network
        .spiking()
        .is_some_and(|n| n.encoder.is_some());
    if encoder && !analog {
        return Err(ConfigError::new(
            "network.encoder",
            "needs analog input (e.g. a braille source with encoding kind = \"analog\")",
        ));
    }
    if analog && config.data.augment.is_active() {
        return Err(ConfigError::new(
            "data.augment",
            "applies to spike-event data only, not to analog data",
        ));
    }
    Ok(())
}

/// The initializer with "the data's rate" filled in: the training split's mean input rate
/// for event data; analog data has none, so a fluctuation-driven init must name `nu_hz`.
fn resolve_rate(
    config: &ExperimentConfig,
    data: &Dataset,
    train: &[usize],
) -> Result<WeightInit, ExperimentError> {
    match data.mean_rate_hz(train)? {
        Some(rate_hz) => Ok(config.init.resolved(rate_hz)),
        None => match config.init {
            WeightInit::FluctuationDriven { nu_hz, .. } if nu_hz <= 0.0 => Err(ConfigError::new(
                "init.nu_hz",
                "must be set (> 0) for analog input: it is the rate of the spikes entering \
                 the first hidden layer, which the data cannot tell",
            )
            .into()),
            _ => Ok(config.init.clone()),
        },
    }
}

/// The spiking architecture saved in the run directory `from` (for `init_from`).
fn network_of_run(from: &Path) -> Result<NetworkConfig, ExperimentError> {
    let dir = RunDir::new(from);
    if !dir.best().exists() {
        return Err(ConfigError::new(
            "init_from",
            format!(
                "{} holds no trained or imported network (no {})",
                from.display(),
                dir.best().display()
            ),
        )
        .into());
    }
    match dir.load_config()?.network {
        network @ NetworkConfig::Spiking(_) => Ok(network),
        NetworkConfig::Mlp(_) => Err(ConfigError::new(
            "init_from",
            format!(
                "{} holds a dense network; init_from starts spiking networks",
                from.display()
            ),
        )
        .into()),
    }
}

/// Fills `network.inputs` and `network.readout.size` (and, for spiking outputs, a last hidden
/// layer of size 0) from the data, or checks them.
fn resolve_sizes(config: &mut ExperimentConfig, data: &Dataset) -> Result<(), ConfigError> {
    let channels = data.channels();
    let outputs = data.num_classes().or(data.value_dims()).unwrap_or(0);
    let net = match &mut config.network {
        NetworkConfig::Spiking(net) => net,
        NetworkConfig::Mlp(net) => {
            resolve_size("network.inputs", &mut net.inputs, channels, "channels")?;
            return resolve_size(
                "network.outputs",
                &mut net.outputs,
                outputs,
                "classes/outputs",
            );
        }
    };
    if net.inputs == 0 {
        net.inputs = channels;
    } else if net.inputs != channels {
        return Err(ConfigError::new(
            "network.inputs",
            format!("is {} but the data has {channels} channels", net.inputs),
        ));
    }
    net.resolve_conv_sizes()?;
    if let (ReadoutKind::Spikes, Some(last)) = (net.readout.kind, net.hidden.last_mut()) {
        if last.size == 0 {
            last.size = outputs;
        }
    }
    if net.readout.size == 0 {
        net.readout.size = outputs;
    } else if net.readout.size != outputs {
        return Err(ConfigError::new(
            "network.readout.size",
            format!(
                "is {} but the data has {outputs} classes/outputs",
                net.readout.size
            ),
        ));
    }
    Ok(())
}

/// Fills a "from the data" size (0) or checks it against the data's.
fn resolve_size(field: &str, size: &mut usize, data: usize, what: &str) -> Result<(), ConfigError> {
    if *size == 0 {
        *size = data;
    } else if *size != data {
        return Err(ConfigError::new(
            field,
            format!("is {size} but the data has {data} {what}"),
        ));
    }
    Ok(())
}

pub(crate) fn file_error(path: &Path, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
