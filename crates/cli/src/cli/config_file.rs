//! Reading configs: a TOML file (or the defaults) plus `--set key=value` overrides.

use anyhow::{bail, Context};
use spikegrad::config::ExperimentConfig;
use std::path::Path;
use toml::Value;

/// The default task, `configs/randman.toml`, built into the binary.
pub const DEFAULT_CONFIG: &str = include_str!("../../../../configs/randman.toml");

/// The config from `file` (or the default task), with `overrides` applied, validated.
pub fn load(file: Option<&Path>, overrides: &[String]) -> anyhow::Result<ExperimentConfig> {
    let mut value = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            text.parse::<toml::Table>().map(Value::Table).map_err(|e| {
                anyhow::anyhow!("config {}: {}", path.display(), one_line(&e.to_string()))
            })?
        }
        None => DEFAULT_CONFIG
            .parse::<toml::Table>()
            .map(Value::Table)
            .context("the built-in default config")?,
    };
    for assignment in overrides {
        apply_override(&mut value, assignment)?;
    }
    let source = file.map_or("the default config".to_string(), |p| {
        p.display().to_string()
    });
    let config: ExperimentConfig = value
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{source}: {}", one_line(&e.to_string())))?;
    config.validate()?;
    Ok(config)
}

/// Applies `key.path=value`; the value is read as TOML (`0.5`, `true`, `"text"`, `[1, 2]`),
/// or as a string if it is not valid TOML. Array elements are addressed by index
/// (`network.hidden.0.size=64`).
fn apply_override(root: &mut Value, assignment: &str) -> anyhow::Result<()> {
    let Some((key, raw)) = assignment.split_once('=') else {
        bail!("--set {assignment:?}: expected key=value");
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
        node = child(node, part).with_context(|| format!("--set {key}: no `{part}` here"))?;
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
                .with_context(|| format!("--set {key}: `{last}` is not an index of the list"))?;
            *slot = value;
        }
        _ => bail!("--set {key}: the parent of `{last}` is not a table or list"),
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
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
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
            load(Some(&path), &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
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
            format!("{:#}", load(None, &sets).unwrap_err())
        };
        let e = err(&["training.bogus=1"]);
        assert!(e.contains("bogus") && !e.contains('\n'), "{e}");
        let e = err(&["network.hidden.0.tau_mem_ms=-5"]);
        assert!(e.contains("network.hidden[0].tau_mem_ms"), "{e}");
        let e = err(&["network.hidden.0.tau_syn_ms=0"]);
        assert!(e.contains("tau_syn_ms"), "{e}");
        let e = err(&["training.optimizer.lr=nan"]);
        assert!(e.contains("lr"), "{e}");
        let e = format!(
            "{:#}",
            load(Some(Path::new("no/such/file.toml")), &[]).unwrap_err()
        );
        assert!(e.contains("no/such/file.toml"), "{e}");
    }
}
