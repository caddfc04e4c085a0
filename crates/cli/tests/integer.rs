//! `eval --integer`, `run --integer` and `nir export --integer` on a small trained randman run:
//! the integer network's accuracy against the float network's, and its parameters in NIR.

mod command;
use command::{json, spikegrad};

/// A small randman task that trains in about a second: 3 classes, 300 samples (30 test), one
/// recurrent layer of 32 LIF neurons.
const SMALL: &[&str] = &[
    "--set",
    "data.source.nb_classes=3",
    "--set",
    "data.source.nb_samples=100",
    "--set",
    "network.hidden.0.size=32",
    "--set",
    "network.hidden.0.recurrent=true",
    "--set",
    "training.epochs=40",
    "--set",
    "training.batch_size=32",
];

fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn integer_eval_run_and_export_follow_the_float_network() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let run = dir.to_str().unwrap();
    let mut train = vec!["train", "--out", run];
    train.extend_from_slice(SMALL);
    let trained = spikegrad(&train);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );

    let float = json(&spikegrad(&["eval", "--run", run]));
    let int = json(&spikegrad(&["eval", "--run", run, "--integer"]));
    assert_eq!(int["integer"], true);
    assert_eq!(int["test_samples"], 30);
    assert_eq!(int["float"]["test_accuracy"], float["test_accuracy"]);
    let (acc, float_acc) = (
        number(&int["test_accuracy"]),
        number(&float["test_accuracy"]),
    );
    assert!(float_acc > 0.5, "the small run must learn: {float}");
    // 30 test samples: the int8 weights of a small recurrent network may flip two of them.
    assert!((acc - float_acc).abs() <= 2.0 / 30.0 + 1e-9, "{int}");
    assert!(number(&int["spike_agreement"]) > 0.9, "{int}");
    assert!(number(&int["prediction_agreement"]) >= 0.9, "{int}");
    assert!(number(&int["test_loss"]).is_finite());
    assert_eq!(int["fixed_point"]["frac_bits"], 16);
    let rates = int["test_rates_hz"].as_array().unwrap();
    assert_eq!(rates.len(), 1);

    let both = spikegrad(&["eval", "--run", run, "--integer", "--int8"]);
    assert!(!both.status.success());

    // Against the float network with the same int8 weights, only the fixed-point arithmetic
    // differs: nearly every spike and every prediction agree (a sample whose two classes are
    // within rounding of each other may flip: at most one of the 30).
    let quantized = tmp.path().join("int8");
    let args = [
        "quantize",
        "--run",
        run,
        "--out",
        quantized.to_str().unwrap(),
    ];
    json(&spikegrad(&args));
    let q = quantized.to_str().unwrap();
    let same_weights = json(&spikegrad(&["eval", "--run", q, "--integer"]));
    assert!(
        number(&same_weights["spike_agreement"]) > 0.995,
        "{same_weights}"
    );
    let one_sample = 1.0 / 30.0 + 1e-9;
    assert!(
        number(&same_weights["prediction_agreement"]) >= 1.0 - one_sample,
        "{same_weights}"
    );
    let float_acc = number(&same_weights["float"]["test_accuracy"]);
    assert!(
        (number(&same_weights["test_accuracy"]) - float_acc).abs() <= one_sample,
        "{same_weights}"
    );

    // `run --integer` on the run's own data in the SHD layout.
    let config = spikegrad::experiment::RunDir::new(run)
        .load_config()
        .unwrap();
    let exp = spikegrad::experiment::Experiment::prepare(config).unwrap();
    let input = tmp.path().join("in.h5");
    let events = exp.data.events().expect("randman is event data");
    spikegrad::data::write_shd(&input, events, None, None).unwrap();
    let records = ["float.h5", "int.h5"].map(|f| tmp.path().join(f));
    let mut summaries = Vec::new();
    for (record, flag) in records.iter().zip([None, Some("--integer")]) {
        let mut args = vec!["run", "--model", run, "--input", input.to_str().unwrap()];
        args.extend(["--out", record.to_str().unwrap(), "--steps", "100"]);
        args.extend(flag);
        summaries.push(json(&spikegrad(&args)));
    }
    assert_eq!(summaries[1]["integer"], true);
    let spikes = |s: &serde_json::Value| number(&s["hidden_spikes"][0]);
    let (float_spikes, int_spikes) = (spikes(&summaries[0]), spikes(&summaries[1]));
    assert!(int_spikes > 0.0);
    assert!(
        (int_spikes - float_spikes).abs() <= 0.05 * float_spikes,
        "{float_spikes} vs {int_spikes}"
    );

    // The integer parameters in the NIR file's metadata.
    let nir_file = tmp.path().join("int.nir");
    let export = json(&spikegrad(&[
        "nir",
        "export",
        "--run",
        run,
        nir_file.to_str().unwrap(),
        "--integer",
    ]));
    assert_eq!(export["integer"], true);
    let graph = spikegrad::nir::read_nir(&nir_file).unwrap();
    let meta_number = |m: &spikegrad::nir::Metadata, k: &str| match m.get(k) {
        Some(spikegrad::nir::MetaValue::Number(v)) => *v,
        other => panic!("{k}: {other:?}"),
    };
    let meta_list = |m: &spikegrad::nir::Metadata, k: &str| -> Vec<i64> {
        match m.get(k) {
            Some(spikegrad::nir::MetaValue::Text(s)) => serde_json::from_str(s).unwrap(),
            other => panic!("{k}: {other:?}"),
        }
    };
    assert_eq!(meta_number(&graph.metadata, "integer_frac_bits"), 16.0);
    for (name, size) in [("fc0", 20 * 32), ("rec0", 32 * 32), ("fc_out", 32 * 3)] {
        let node = &graph.nodes[name];
        let q = meta_list(&node.metadata, "int8_weight");
        assert_eq!(q.len(), size, "{name}");
        assert!(q.iter().all(|v| v.abs() <= 127));
        let scale = meta_number(&node.metadata, "weight_scale");
        let shift = meta_number(&node.metadata, "requant_shift");
        assert!((1.0..=62.0).contains(&shift));
        let spikegrad::nir::NodeKind::Linear { weight } = &node.kind else {
            panic!("{name} is not Linear");
        };
        // The float weights (NIR's [out, in] order) round to the recorded int8 values.
        for (&w, &q) in weight.data.iter().zip(&q) {
            assert_eq!((w / scale).round() as i64, q, "{name}");
        }
    }
    for (name, size) in [("lif0", 32), ("readout", 3)] {
        let node = &graph.nodes[name];
        for key in ["integer_alpha", "integer_beta"] {
            let m = meta_list(&node.metadata, key);
            assert_eq!(m.len(), size);
            assert!(m.iter().all(|&v| (0..=65536).contains(&v)));
        }
    }
    assert_eq!(
        meta_number(&graph.nodes["lif0"].metadata, "integer_threshold"),
        65536.0
    );
}
