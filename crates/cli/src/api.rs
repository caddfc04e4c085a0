//! What the command line does, callable: training a config into a run directory, evaluating,
//! plotting, NIR files, reproductions. Errors carry the messages the command prints.

pub use crate::cli::eval::{eval, EvalMode};
pub use crate::cli::nir::{export as nir_export, import as nir_import};
pub use crate::cli::plots::plot_run;
pub use crate::cli::reproduce::{reproduce_one, Reproduced};
pub use crate::cli::train::{check_fresh, train_config, Show};
