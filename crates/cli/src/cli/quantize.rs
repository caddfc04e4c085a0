//! `spikegrad quantize`: post-training int8 quantization of a run.

use anyhow::bail;
use spikegrad::experiment::{quantize_run, RunDir};
use std::path::Path;

/// Writes the int8 run into `out` and prints the source and int8 test results as JSON.
pub fn quantize(run: &Path, out: &Path, force: bool) -> anyhow::Result<()> {
    let (src, dst) = (RunDir::new(run), RunDir::new(out));
    if dst.best().exists() && !force {
        bail!(
            "{} already holds a run; use --force to replace it, or another --out",
            out.display()
        );
    }
    let report = quantize_run(&src, &dst)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
