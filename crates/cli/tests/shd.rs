//! `spikegrad train` on SHD-layout files and `spikegrad data info`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../tests/common/mod.rs"]
mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hdf5")
        .join(name)
}

fn spikegrad(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spikegrad"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

#[test]
fn cli_trains_on_hdf5_files_and_reports_data_info() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = common::randman_files(dir.path());
    let config = dir.path().join("config.toml");
    let text = format!(
        "[data.source]\nkind = \"hdf5\"\ntrain = {:?}\ntest = {:?}\nmax_time_s = 0.2\n\
         channels = 20\n\n[[network.hidden]]\nsize = 16\n\n[training]\nepochs = 2\n\
         batch_size = 16\n",
        train.to_str().unwrap(),
        test.to_str().unwrap()
    );
    std::fs::write(&config, text).unwrap();
    let run = dir.path().join("run");
    let out = spikegrad(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("final.json")).unwrap()).unwrap();
    assert_eq!(report["test_samples"], 15);

    let out = spikegrad(&[
        "data",
        "info",
        train.to_str().unwrap(),
        "--json",
        "--channels",
        "20",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["samples"], 60);
    assert_eq!(info["class_names"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(info["samples_per_class"], serde_json::json!([20, 20, 20]));
    assert_eq!(info["times_dtype"], "vlen<float32>");

    let out = spikegrad(&["data", "info", fixture("shd_f16_gzip.h5").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("samples:   6") && text.contains("\"fünf\": 2 samples"),
        "{text}"
    );
    let out = spikegrad(&[
        "data",
        "info",
        fixture("broken_unit_700.h5").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken_unit_700.h5: /spikes/units: sample 1"),
        "{err}"
    );
}
