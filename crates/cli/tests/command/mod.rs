//! Running the `spikegrad` binary in the tests (not every test file uses each helper).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root: shipped configs and `../shared` paths are relative to it.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the binary from the repository root on two threads.
pub fn spikegrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikegrad"))
        .current_dir(root())
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the binary runs")
}

/// The JSON a command printed (it must have succeeded).
pub fn json(o: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    serde_json::from_slice(&o.stdout).unwrap()
}
