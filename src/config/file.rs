//! Reading configs: TOML text or a file (or the default task), plus `key.path=value`
//! overrides (the command line's `--set`), validated.

use super::ExperimentConfig;
use crate::error::ConfigError;
use std::path::Path;
use toml::Value;

/// The default task, `configs/randman.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../configs/randman.toml");

/// Why a config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read config {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The text is not TOML, or not an experiment config (unknown key, wrong type).
    #[error("{source_name}: {reason}")]
    Parse {
        /// Where the text came from (a path, or "the default config").
        source_name: String,
        /// What is wrong, on one line.
        reason: String,
    },
    /// An override could not be applied.
    #[error("--set {assignment}: {reason}")]
    Override {
        /// The `key=value` given.
        assignment: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value is out of range.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

/// The config in `file` (or the default task), with `overrides` applied, validated.
pub fn load(
    file: Option<&Path>,
    overrides: &[String],
) -> Result<ExperimentConfig, ConfigFileError> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            from_toml(&text, &format!("config {}", path.display()), overrides)
        }
        None => from_toml(DEFAULT_CONFIG, "the default config", overrides),
    }
}

/// The config in TOML `text` (`source_name` names it in errors), with `overrides` applied,
/// validated.
pub fn from_toml(
    text: &str,
    source_name: &str,
    overrides: &[String],
) -> Result<ExperimentConfig, ConfigFileError> {
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| parse_error(source_name, &e.to_string()))?;
    from_value(Value::Table(table), source_name, overrides)
}

/// The config in a TOML `value` (a table), with `overrides` applied, validated.
pub fn from_value(
    mut value: Value,
    source_name: &str,
    overrides: &[String],
) -> Result<ExperimentConfig, ConfigFileError> {
    for assignment in overrides {
        apply_override(&mut value, assignment)?;
    }
    let config: ExperimentConfig = value
        .try_into()
        .map_err(|e: toml::de::Error| parse_error(source_name, &e.to_string()))?;
    config.validate()?;
    Ok(config)
}

fn parse_error(source_name: &str, message: &str) -> ConfigFileError {
    ConfigFileError::Parse {
        source_name: source_name.to_string(),
        reason: one_line(message),
    }
}

/// Applies `key.path=value`; the value is read as TOML (`0.5`, `true`, `"text"`, `[1, 2]`),
/// or as a string if it is not valid TOML. Array elements are addressed by index
/// (`network.hidden.0.size=64`).
pub fn apply_override(root: &mut Value, assignment: &str) -> Result<(), ConfigFileError> {
    let fail = |reason: String| ConfigFileError::Override {
        assignment: assignment.to_string(),
        reason,
    };
    let Some((key, raw)) = assignment.split_once('=') else {
        return Err(fail("expected key=value".into()));
    };
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let (last, path) = parts.split_last().expect("split yields at least one part");
    let mut node = root;
    for part in path {
        node = child(node, part).ok_or_else(|| fail(format!("no `{part}` here")))?;
    }
    match node {
        Value::Table(t) => {
            t.insert(last.to_string(), value);
        }
        Value::Array(a) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(|| fail(format!("`{last}` is not an index of the list")))?;
            *slot = value;
        }
        _ => {
            return Err(fail(format!(
                "the parent of `{last}` is not a table or list"
            )))
        }
    }
    Ok(())
}

/// The child `part` of a table (created if missing) or the element of a list.
fn child<'a>(node: &'a mut Value, part: &str) -> Option<&'a mut Value> {
    match node {
        Value::Table(t) => Some(
            t.entry(part.to_string())
                .or_insert_with(|| Value::Table(Default::default())),
        ),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    }
}

/// TOML errors span several lines (with a source excerpt); keep the message on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped configs, at the repository root.
    fn configs() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
    }

    /// `reset = "subtract"` and `"subtract_after_leak"` are read on LIF and IF layers and
    /// refused, naming the field, on models without those modes.
    #[test]
    fn reset_by_subtraction_is_a_mode_of_lif_and_if_layers() {
        use crate::neurons::ResetMode;
        for mode in [ResetMode::Subtract, ResetMode::SubtractAfterLeak] {
            let set = |neuron: &str| {
                let overrides = [
                    format!(r#"network.hidden.0.reset="{}""#, mode.name()),
                    format!(r#"network.hidden.0.neuron={{kind="{neuron}"}}"#),
                ];
                load(None, &overrides)
            };
            for neuron in ["lif", "integrate_fire"] {
                let c = set(neuron).unwrap();
                let layer = &c.network.spiking().unwrap().hidden[0];
                assert_eq!(layer.reset, mode, "{neuron}");
            }
            for neuron in ["adaptive_lif", "prospective"] {
                let e = set(neuron).unwrap_err().to_string();
                assert!(e.contains("network.hidden[0].reset"), "{e}");
            }
        }
    }

    #[test]
    fn the_default_is_the_randman_config() {
        let c = load(None, &[]).unwrap();
        assert_eq!(c, load(Some(&configs().join("randman.toml")), &[]).unwrap());
        assert_eq!(c.network.spiking().unwrap().readout.tau_mem_ms, 200.0);
        assert_eq!(c.network.spiking().unwrap().hidden.len(), 1);
    }

    #[test]
    fn every_shipped_config_is_valid() {
        for entry in std::fs::read_dir(configs()).unwrap() {
            let path = entry.unwrap().path();
            load(Some(&path), &[]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn overrides_reach_nested_tables_and_lists() {
        let c = load(
            None,
            &[
                "training.epochs=3".into(),
                "network.hidden.0.size=17".into(),
                "seed=9".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.training.epochs, 3);
        assert_eq!(c.network.spiking().unwrap().hidden[0].size, 17);
        assert_eq!(c.seed, 9);
    }

    #[test]
    fn bad_input_is_a_one_line_error_naming_the_problem() {
        let err = |sets: &[&str]| {
            let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
            load(None, &sets).unwrap_err().to_string()
        };
        let e = err(&["training.bogus=1"]);
        assert!(e.contains("bogus") && !e.contains('\n'), "{e}");
        let e = err(&["network.hidden.0.tau_mem_ms=-5"]);
        assert!(e.contains("network.hidden[0].tau_mem_ms"), "{e}");
        let e = err(&["network.hidden.0.tau_syn_ms=0"]);
        assert!(e.contains("tau_syn_ms"), "{e}");
        let e = err(&["training.optimizer.lr=nan"]);
        assert!(e.contains("lr"), "{e}");
        let e = err(&["seed"]);
        assert!(e.contains("--set seed: expected key=value"), "{e}");
        let e = load(Some(Path::new("no/such/file.toml")), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no/such/file.toml"), "{e}");
        let e = from_toml("seed = [", "text", &[]).unwrap_err().to_string();
        assert!(e.starts_with("text: ") && !e.contains('\n'), "{e}");
    }
}
