//! `spikegrad prune` on a small finger-velocity decoder trained on synthetic reaching data.

mod command;
use command::{json, spikegrad};

#[test]
fn prune_writes_a_sparser_run_that_eval_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("tiny");
    let run = run.to_str().unwrap();
    let mut train = vec!["train", "--config", "configs/tiny_rsnn.toml", "--out", run];
    for set in [
        "data.source.duration_s=60",
        "data.source.sample_steps=100",
        "data.source.hop_steps=50",
        "network.hidden.0.size=16",
        "training.epochs=2",
        "training.batch_size=32",
    ] {
        train.extend(["--set", set]);
    }
    let trained = spikegrad(&train);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let out = tmp.path().join("pruned");
    let out = out.to_str().unwrap();
    let prune = [
        "prune",
        "--run",
        run,
        "--out",
        out,
        "--retrain-epochs",
        "1",
        "--start",
        "0.5",
        "--max",
        "0.6",
        "--tolerance",
        "10",
    ];
    let report = json(&spikegrad(&prune));
    assert_eq!(report["pruning"]["score"], "r2");
    assert_eq!(report["pruning"]["fraction"], 0.6, "{report}");
    let trials = report["pruning"]["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2);
    let sparsity = report["test"]["cost"]["connection_sparsity"]
        .as_f64()
        .unwrap();
    assert!(sparsity > 0.5, "{report}");

    // The pruned run is a run: eval reads its weights and masks.
    let eval = json(&spikegrad(&["eval", "--run", out]));
    assert_eq!(
        eval["cost"]["connection_sparsity"],
        report["test"]["cost"]["connection_sparsity"]
    );
    assert!(eval["cost"]["r2"]["mean"].as_f64().unwrap().is_finite());

    let again = spikegrad(&prune);
    assert!(!again.status.success(), "an existing --out needs --force");
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let mut bad = prune.to_vec();
    bad[8] = "1.5";
    let refused = spikegrad(&bad);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("prune.start"),
        "{stderr}"
    );
}
