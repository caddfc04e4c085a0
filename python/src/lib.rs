//! `spikegrad._native`: the Rust side of the Python package. Each function is a thin call into
//! the library or into what the `spikegrad` command runs (`spikegrad_cli::api`), so results and
//! error messages are the command's. The Pythonic API is `spikegrad/__init__.py`.

mod arrays;
mod network;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use spikegrad::config::file as config_file;
use spikegrad::experiment::RunDir;
use spikegrad::neurons::ResetMode;
use spikegrad::nir::{Discretisation, ImportOptions};
use spikegrad_cli::api::{self, EvalMode, Show};
use std::path::PathBuf;

pyo3::create_exception!(
    _native,
    SpikegradError,
    PyException,
    "An error of spikegrad: bad input, a bad config, a file that cannot be read or written. \
     The message is the command line's."
);

/// The error as the command line prints it: the chain of causes joined by ": ".
pub(crate) fn to_py(e: impl Into<anyhow::Error>) -> PyErr {
    SpikegradError::new_err(format!("{:#}", e.into()))
}

/// The validated config as TOML: from `toml` text, `json` (a dict), a `path`, or the default
/// task when all are `None`, with `key.path=value` overrides applied.
#[pyfunction]
#[pyo3(signature = (toml=None, json=None, path=None, overrides=Vec::new()))]
fn resolve_config(
    toml: Option<&str>,
    json: Option<&str>,
    path: Option<PathBuf>,
    overrides: Vec<String>,
) -> PyResult<String> {
    let config = match (toml, json, path) {
        (Some(text), None, None) => config_file::from_toml(text, "config", &overrides),
        (None, Some(json), None) => {
            let value: serde_json::Value = serde_json::from_str(json).map_err(to_py)?;
            let value = ::toml::Value::try_from(value).map_err(to_py)?;
            config_file::from_value(value, "config", &overrides)
        }
        (None, None, path) => config_file::load(path.as_deref(), &overrides),
        _ => return Err(SpikegradError::new_err("give one of toml, json or path")),
    }
    .map_err(to_py)?;
    ::toml::to_string(&config).map_err(to_py)
}

/// Trains a resolved config (TOML) into `out`.
#[pyfunction]
fn train(py: Python<'_>, config: &str, out: PathBuf, force: bool, progress: bool) -> PyResult<()> {
    let config = config_file::from_toml(config, "config", &[]).map_err(to_py)?;
    let dir = RunDir::new(out);
    let show = if progress {
        Show::Progress
    } else {
        Show::Nothing
    };
    py.detach(|| {
        api::check_fresh(&dir, force)?;
        api::train_config(config, &dir, false, show)
    })
    .map_err(to_py)
}

/// `spikegrad eval --run RUN [--int8 | --integer | --substrate-chips K]` as JSON text.
#[pyfunction]
#[pyo3(signature = (run, int8=false, integer=false, substrate_chips=None))]
fn evaluate(
    py: Python<'_>,
    run: PathBuf,
    int8: bool,
    integer: bool,
    substrate_chips: Option<usize>,
) -> PyResult<String> {
    let mode = match (substrate_chips, integer, int8) {
        (Some(chips), false, false) => EvalMode::Chips(chips),
        (None, true, false) => EvalMode::Integer,
        (None, false, true) => EvalMode::Int8,
        (None, false, false) => EvalMode::Float,
        _ => {
            return Err(SpikegradError::new_err(
                "int8, integer and substrate_chips exclude each other",
            ))
        }
    };
    let summary = py.detach(|| api::eval(&run, mode)).map_err(to_py)?;
    Ok(summary.to_string())
}

/// `spikegrad plot --run RUN`: PNG plots and `summary.txt` into `RUN/plots/`.
#[pyfunction]
fn plot(py: Python<'_>, run: PathBuf) -> PyResult<()> {
    py.detach(|| api::plot_run(&run)).map_err(to_py)
}

/// `spikegrad nir export --run RUN OUT [--integer]`; the summary as JSON text.
#[pyfunction]
#[pyo3(signature = (run, out, integer=false))]
fn nir_export(run: PathBuf, out: PathBuf, integer: bool) -> PyResult<String> {
    Ok(api::nir_export(run, out, integer)
        .map_err(to_py)?
        .to_string())
}

/// `spikegrad nir import FILE --dt DT --out OUT`; the summary as JSON text.
#[pyfunction]
#[pyo3(signature = (file, dt, out, discretisation=None, data=None, max_time_s=1.4, force=false, norse_export_dt=None, reset=None))]
#[allow(clippy::too_many_arguments)]
fn nir_import(
    file: PathBuf,
    dt: f64,
    out: PathBuf,
    discretisation: Option<&str>,
    data: Option<PathBuf>,
    max_time_s: f64,
    force: bool,
    norse_export_dt: Option<f64>,
    reset: Option<&str>,
) -> PyResult<String> {
    let reset = match reset {
        None => None,
        Some(name) => Some(ResetMode::from_name(name).ok_or_else(|| {
            SpikegradError::new_err(format!(
                "reset {name:?}: expected \"zero\", \"subtract\" or \"subtract_after_leak\""
            ))
        })?),
    };
    let discretisation = match discretisation {
        None => None,
        Some("exponential") => Some(Discretisation::Exponential),
        Some("forward_euler" | "forward-euler") => Some(Discretisation::ForwardEuler),
        Some(other) => {
            return Err(SpikegradError::new_err(format!(
                "discretisation {other:?}: expected \"exponential\" or \"forward_euler\""
            )))
        }
    };
    let opts = ImportOptions {
        dt_s: dt,
        discretisation,
        norse_export_dt_s: norse_export_dt,
        reset,
    };
    let summary = api::nir_import(file, out, opts, data, max_time_s, force).map_err(to_py)?;
    Ok(summary.to_string())
}

/// `spikegrad reproduce NAME [--quick] [--out OUT] --json`, with the setting and the figures.
#[pyfunction]
#[pyo3(signature = (name, quick=false, out=None))]
fn reproduce(py: Python<'_>, name: &str, quick: bool, out: Option<PathBuf>) -> PyResult<String> {
    let done = py
        .detach(|| api::reproduce_one(name, out, quick, |_| {}))
        .map_err(to_py)?;
    let mut json = done.json();
    json["setting"] = done.outcome.setting.clone().into();
    json["runs"] = done
        .outcome
        .runs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    json["figures"] = done
        .figures
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    Ok(json.to_string())
}

/// Every reproduction: `(name, summary, paper)`.
#[pyfunction]
fn reproductions() -> Vec<(&'static str, &'static str, &'static str)> {
    spikegrad::reproduce::REGISTRY
        .iter()
        .map(|r| (r.name, r.summary, r.paper))
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpikegradError", m.py().get_type::<SpikegradError>())?;
    m.add_function(wrap_pyfunction!(resolve_config, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(plot, m)?)?;
    m.add_function(wrap_pyfunction!(nir_export, m)?)?;
    m.add_function(wrap_pyfunction!(nir_import, m)?)?;
    m.add_function(wrap_pyfunction!(reproduce, m)?)?;
    m.add_function(wrap_pyfunction!(reproductions, m)?)?;
    arrays::register(m)?;
    m.add_class::<network::Network>()?;
    Ok(())
}
