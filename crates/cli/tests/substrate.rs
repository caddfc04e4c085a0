//! `train` with a `[substrate]` (the chip in the loop) and `eval --substrate-chips` on a small
//! randman run.

mod command;
use command::{json, spikegrad};

/// A small randman task (3 classes, 30 test samples, 32 LIF) trained for a few epochs.
fn train(out: &str, extra: &[&str]) {
    let mut args = vec!["train", "--out", out];
    for set in [
        "data.source.nb_classes=3",
        "data.source.nb_samples=100",
        "network.hidden.0.size=32",
        "training.epochs=5",
        "training.batch_size=32",
    ] {
        args.extend(["--set", set]);
    }
    args.extend_from_slice(extra);
    let trained = spikegrad(&args);
    let stderr = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{stderr}");
}

#[test]
fn eval_on_chips_reports_each_chip_after_the_runs_own() {
    let tmp = tempfile::tempdir().unwrap();
    let nominal = tmp.path().join("nominal");
    let nominal = nominal.to_str().unwrap();
    train(nominal, &[]);
    let chips = json(&spikegrad(&[
        "eval",
        "--run",
        nominal,
        "--substrate-chips",
        "3",
    ]));
    assert_eq!(chips["chip_seeds"], serde_json::json!([1, 2, 3]));
    assert_eq!(chips["score"], "test_accuracy");
    let per_chip: Vec<f64> = serde_json::from_value(chips["per_chip"].clone()).unwrap();
    assert_eq!(per_chip.len(), 3);
    assert!(per_chip.iter().all(|a| (0.0..=1.0).contains(a)));
    let mean = per_chip.iter().sum::<f64>() / 3.0;
    assert!((chips["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert_eq!(chips["substrate"]["weight_bits"], 6);

    // A run trained in the loop on chip 7 is tested on the chips after it.
    let in_loop = tmp.path().join("in_loop");
    let in_loop = in_loop.to_str().unwrap();
    train(in_loop, &["--set", "substrate.chip_seed=7"]);
    let chips = json(&spikegrad(&[
        "eval",
        "--run",
        in_loop,
        "--substrate-chips",
        "2",
    ]));
    assert_eq!(chips["chip_seeds"], serde_json::json!([8, 9]));

    for bad in [
        vec!["eval", "--run", nominal, "--substrate-chips", "0"],
        vec![
            "eval",
            "--run",
            nominal,
            "--substrate-chips",
            "2",
            "--integer",
        ],
    ] {
        let o = spikegrad(&bad);
        assert!(!o.status.success(), "{bad:?} must fail");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
}
