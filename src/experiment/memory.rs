//! A run's memory, estimated from its resolved config before anything is allocated, so that
//! a network too large for the machine is refused with an error instead of aborting in the
//! allocator.
//!
//! The estimate counts what grows with the configuration: every parameter five times (the
//! value, its gradient, up to three optimizer buffers) and the activity a batch keeps for
//! the backward pass (per step and neuron a handful of saved state values; per dense unit
//! its pre-activation, activation and gradient). It leaves out the data, already loaded,
//! and constant overheads, so it is a lower bound of the run's footprint.

use crate::config::{ExperimentConfig, NetworkConfig};
use crate::error::ConfigError;

/// Bytes in a GiB.
pub const GIB: f64 = (1u64 << 30) as f64;
/// Copies of each parameter: value, gradient, optimizer buffers.
const PARAMETER_COPIES: f64 = 5.0;
/// Values a spiking neuron keeps per step for the backward pass (state records, its
/// projected input, its spike).
const SAVED_PER_NEURON_STEP: f64 = 6.0;
/// Values a dense unit keeps per sample (pre-activation, activation, gradient).
const SAVED_PER_UNIT: f64 = 3.0;

/// One part of the estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPart {
    /// What it is, in words (`hidden layer 0's weights (20 × 1000000000)`).
    pub what: String,
    /// The config field that sets it (`network.hidden[0].size`).
    pub field: String,
    /// Its bytes.
    pub bytes: f64,
}

/// The estimate of a run's memory: its parts, largest first.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// The parts, largest first.
    pub parts: Vec<MemoryPart>,
}

impl MemoryEstimate {
    /// The estimate of `config` (sizes resolved) with samples of `steps` steps.
    pub fn of(config: &ExperimentConfig, steps: usize) -> Self {
        // Evaluation keeps a forward pass of its (possibly larger) batch.
        let batch = config.training.batch_size.max(config.training.eval_batch()) as f64;
        let mut parts = match &config.network {
            NetworkConfig::Spiking(spec) => spiking_parts(spec, batch, steps as f64),
            NetworkConfig::Mlp(spec) => {
                let mut widths = vec![spec.inputs];
                widths.extend(spec.hidden.iter().map(|l| l.size));
                widths.push(spec.outputs);
                dense_parts(&widths, batch)
            }
        };
        parts.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
        Self { parts }
    }

    /// The total bytes.
    pub fn bytes(&self) -> f64 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// An error naming the largest part if the estimate is above `limit_bytes`.
    pub fn check(&self, limit_bytes: f64, limit_source: &str) -> Result<(), ConfigError> {
        let total = self.bytes();
        if total <= limit_bytes {
            return Ok(());
        }
        let largest = &self.parts[0];
        Err(ConfigError::new(
            largest.field.clone(),
            format!(
                "the run needs at least {:.1} GiB ({} alone: {:.1} GiB), above the limit of \
                 {:.1} GiB ({limit_source}; set training.memory_limit_gib to change it)",
                total / GIB,
                largest.what,
                largest.bytes / GIB,
                limit_bytes / GIB
            ),
        ))
    }
}

fn part(what: String, field: String, values: f64) -> MemoryPart {
    MemoryPart {
        what,
        field,
        bytes: values * 4.0,
    }
}

fn spiking_parts(spec: &crate::network::NetworkSpec, batch: f64, steps: f64) -> Vec<MemoryPart> {
    let fan_out = spec.encoder.as_ref().map_or(1, |e| e.fan_out);
    let mut width = (spec.inputs * fan_out) as f64;
    let mut parts = vec![part(
        format!("the input over a batch ({batch} × {steps} steps × {width})"),
        "training.batch_size".into(),
        batch * steps * width,
    )];
    for (l, layer) in spec.hidden.iter().enumerate() {
        let n = layer.size as f64;
        let recurrent = if layer.recurrent { n * n } else { 0.0 };
        let field = format!("network.hidden[{l}].size");
        parts.push(part(
            format!("hidden layer {l}'s weights ({width} × {n})"),
            field.clone(),
            PARAMETER_COPIES * (width * n + recurrent),
        ));
        parts.push(part(
            format!("hidden layer {l}'s activity over a batch ({batch} × {steps} steps × {n})"),
            field,
            SAVED_PER_NEURON_STEP * batch * steps * n,
        ));
        width = n;
    }
    let out = spec.readout.size as f64;
    parts.push(part(
        format!("the readout's weights ({width} × {out})"),
        "network.readout.size".into(),
        PARAMETER_COPIES * width * out + SAVED_PER_NEURON_STEP * batch * steps * out,
    ));
    parts
}

fn dense_parts(widths: &[usize], batch: f64) -> Vec<MemoryPart> {
    let last = widths.len() - 2;
    widths
        .windows(2)
        .enumerate()
        .map(|(l, pair)| {
            let (n_in, n) = (pair[0] as f64, pair[1] as f64);
            let (name, field) = if l == last {
                (
                    "the output layer".to_string(),
                    "network.outputs".to_string(),
                )
            } else {
                (
                    format!("hidden layer {l}"),
                    format!("network.hidden[{l}].size"),
                )
            };
            part(
                format!("{name}'s weights and activity ({n_in} × {n}, batch {batch})"),
                field,
                PARAMETER_COPIES * (n_in * n + n) + SAVED_PER_UNIT * batch * n,
            )
        })
        .collect()
}

/// The memory this process may use: the smaller of the machine's physical memory and the
/// address-space limit (`ulimit -v`), where the system says; `None` where it does not.
pub fn machine_limit_bytes() -> Option<f64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| kib_field(&text, "MemTotal:"))
        .map(|kib| kib * 1024.0);
    let address_space = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| address_space_limit(&text));
    match (total, address_space) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn kib_field(text: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft "Max address space" of `/proc/self/limits`, in bytes (`None`: unlimited).
fn address_space_limit(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    let soft = line["Max address space".len()..]
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_layer_is_named_with_its_estimate() {
        let mut config = ExperimentConfig::default();
        if let NetworkConfig::Spiking(spec) = &mut config.network {
            spec.inputs = 20;
            spec.readout.size = 10;
            spec.hidden[0].size = 1_000_000_000;
            spec.hidden[0].recurrent = false;
        }
        let estimate = MemoryEstimate::of(&config, 100);
        // The activity of 250 samples × 100 steps × 10⁹ neurons dominates.
        assert!(estimate.parts[0].what.contains("hidden layer 0's activity"));
        assert!(estimate.bytes() > 250.0 * 100.0 * 1e9 * 4.0);
        let err = estimate
            .check(16.0 * GIB, "the machine's memory")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("network.hidden[0].size") && text.contains("GiB"),
            "{text}"
        );
        // The default network is far below any real machine's memory.
        let small = MemoryEstimate::of(&ExperimentConfig::default(), 100);
        assert!(small.bytes() < 0.2 * GIB, "{}", small.bytes());
        small.check(GIB, "test").unwrap();
    }

    #[test]
    fn dense_estimates_name_the_largest_layer() {
        let estimate = dense_parts(&[784, 256, 100_000_000, 10], 64.0);
        let largest = estimate
            .iter()
            .max_by(|a, b| a.bytes.total_cmp(&b.bytes))
            .unwrap();
        assert_eq!(largest.field, "network.hidden[1].size");
    }

    #[test]
    fn limits_are_read_from_the_system_files() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree: 1 kB\n";
        assert_eq!(kib_field(meminfo, "MemTotal:"), Some(24576000.0));
        let limits = "Limit Soft Limit Hard Limit Units\n\
                      Max address space         4294967296           unlimited            bytes\n";
        assert_eq!(address_space_limit(limits), Some(4294967296.0));
        let unlimited =
            "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(address_space_limit(unlimited), None);
        assert!(machine_limit_bytes().is_none_or(|b| b > 0.0));
    }
}
