//! `spikegrad nir export`, `nir import`, `run` and `eval` on one trained run: the imported
//! network runs exactly as the trained one, and trains further with `train --init-from`.

use std::path::Path;

#[path = "../../../tests/common/mod.rs"]
mod common;

fn spikegrad(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spikegrad"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "spikegrad {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cli_export_import_run_and_eval_reproduce_the_trained_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let tiny = [
        "--set",
        "data.source.nb_classes=3",
        "--set",
        "data.source.nb_samples=30",
        "--set",
        "network.hidden.0.size=16",
        "--set",
        "network.hidden.0.recurrent=true",
        "--set",
        "training.epochs=2",
    ];
    let trained = p("run");
    let mut train = vec!["train", "--out", &trained];
    train.extend(tiny);
    spikegrad(&train);
    // Input spikes: the run's own data, written in the SHD layout.
    let config = spikegrad::experiment::RunDir::new(&trained)
        .load_config()
        .unwrap();
    let exp = spikegrad::experiment::Experiment::prepare(config).unwrap();
    let events = exp.data.events().expect("randman is event data");
    spikegrad::data::write_shd(Path::new(&p("in.h5")), events, None, None).unwrap();

    spikegrad(&["nir", "export", "--run", &trained, &p("net.nir")]);
    spikegrad(&[
        "nir",
        "import",
        &p("net.nir"),
        "--dt",
        "0.002",
        "--out",
        &p("imp"),
        "--data",
        &p("in.h5"),
        "--max-time-s",
        "0.2",
    ]);
    spikegrad(&[
        "run",
        "--model",
        &trained,
        "--input",
        &p("in.h5"),
        "--out",
        &p("a.h5"),
    ]);
    spikegrad(&[
        "run",
        "--model",
        &p("imp"),
        "--input",
        &p("in.h5"),
        "--out",
        &p("b.h5"),
    ]);
    let (a, b) = (
        std::fs::read(p("a.h5")).unwrap(),
        std::fs::read(p("b.h5")).unwrap(),
    );
    assert!(
        a == b,
        "run outputs of the trained and the imported network differ"
    );
    let (shape, spikes) = common::stored_spikes(Path::new(&p("a.h5")), 0);
    assert_eq!(shape[1..], [90, 16]);
    assert!(spikes.iter().sum::<i64>() > 0);
    let eval: serde_json::Value =
        serde_json::from_str(&spikegrad(&["eval", "--run", &p("imp")])).unwrap();
    assert_eq!(eval["test_samples"], 90);

    // The imported network trains further from its weights, on the data it was imported with.
    let config = format!("{}/config.toml", p("imp"));
    let continued = p("continued");
    spikegrad(&[
        "train",
        "--config",
        &config,
        "--init-from",
        &p("imp"),
        "--set",
        "training.epochs=1",
        "--out",
        &continued,
    ]);
    let saved = spikegrad::experiment::RunDir::new(&continued)
        .load_config()
        .unwrap();
    assert_eq!(saved.init_from.as_deref(), Some(Path::new(&p("imp"))));
    let eval: serde_json::Value =
        serde_json::from_str(&spikegrad(&["eval", "--run", &continued])).unwrap();
    assert_eq!(eval["test_samples"], 90);
}
