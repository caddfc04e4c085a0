//! End-to-end tests of the `spikegrad` command.

use std::path::Path;
use std::process::Output;

mod command;
use command::{root, spikegrad};

const TINY: &[&str] = &[
    "--set",
    "data.source.nb_classes=3",
    "--set",
    "data.source.nb_samples=30",
    "--set",
    "network.hidden.0.size=16",
    "--set",
    "training.epochs=2",
    "--set",
    "training.batch_size=16",
];

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    spikegrad(&args)
}

#[test]
fn train_eval_plot_write_the_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = train(&dir, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("epoch   2/2") && stdout.contains("test accuracy"),
        "{stdout}"
    );
    for file in [
        "config.toml",
        "metrics.jsonl",
        "final.json",
        "checkpoint.safetensors",
        "best.safetensors",
    ] {
        assert!(dir.join(file).exists(), "missing {file}");
    }
    let final_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("final.json")).unwrap()).unwrap();
    let acc = final_json["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );

    let out = spikegrad(&["eval", "--run", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let eval: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        eval["test_accuracy"].as_f64().unwrap(),
        acc,
        "eval must reproduce final.json"
    );

    let out = spikegrad(&["plot", "--run", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for png in [
        "curves.png",
        "raster.png",
        "readout.png",
        "rates_hidden0.png",
    ] {
        let bytes = std::fs::read(dir.join("plots").join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png} is not a PNG");
    }
}

#[test]
fn existing_runs_are_not_overwritten_and_resume_needs_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = spikegrad(&["train", "--resume", "--out", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no checkpoint"), "{}", stderr(&out));
    assert!(train(&dir, &[]).status.success());
    let out = train(&dir, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    let out = spikegrad(&["train", "--resume", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Each bad input gives one line naming the problem and a non-zero exit, never a panic.
#[test]
fn bad_input_gives_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "training.learning_rate=0.1"], "learning_rate"),
        (
            &["--set", "network.hidden.0.tau_mem_ms=-20"],
            "network.hidden[0].tau_mem_ms",
        ),
        (
            &["--set", "network.hidden.0.tau_syn_ms=0"],
            "network.hidden[0].tau_syn_ms",
        ),
        (&["--set", "training.optimizer.lr=nan"], "lr"),
        (&["--set", "training.quantize=\"int4\""], "int4"),
        (&["--config", "no/such/config.toml"], "no/such/config.toml"),
    ];
    for (args, needle) in cases {
        let out = train(&dir, args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_corrupt_config_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("broken.toml");
    std::fs::write(&config, "[training\nepochs = 3").unwrap();
    let out = spikegrad(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("broken.toml") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn eval_reports_cost_metrics_and_quantize_writes_an_int8_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert!(train(&dir, &[]).status.success());
    let run = dir.to_str().unwrap();
    let json = |o: &Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let eval = json(&spikegrad(&["eval", "--run", run]));
    let cost = &eval["cost"];
    // 20 inputs → 16 → 3 classes: (320 + 48) f32 weights, τ_mem and τ_syn of 19 neurons.
    assert_eq!(cost["footprint"]["total_bytes"], (368 + 38) * 4);
    assert_eq!(cost["quantization"], "none");
    // Dense synaptic operations per sample: 100 steps × (20·16 + 16·3).
    assert_eq!(cost["synops"]["dense"].as_f64().unwrap(), 100.0 * 368.0);
    assert_eq!(cost["synops"]["effective_macs"].as_f64().unwrap(), 0.0);
    let sparsity = cost["activation_sparsity"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&sparsity));
    let final_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("final.json")).unwrap()).unwrap();
    assert_eq!(final_json["cost"], *cost, "final.json and eval must agree");

    let int8 = json(&spikegrad(&["eval", "--run", run, "--int8"]));
    assert_eq!(int8["cost"]["quantization"], "int8");
    // Two matrices (no recurrence): two scales.
    assert_eq!(
        int8["cost"]["footprint"]["total_bytes"],
        368 + 2 * 4 + 38 * 4
    );

    let out = tmp.path().join("int8");
    let q = json(&spikegrad(&[
        "quantize",
        "--run",
        run,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(q["source"]["test_accuracy"], eval["test_accuracy"]);
    assert_eq!(q["int8"]["test_accuracy"], int8["test_accuracy"]);
    let again = spikegrad(&["quantize", "--run", run, "--out", out.to_str().unwrap()]);
    assert!(!again.status.success() && stderr(&again).contains("--force"));
    let stored = json(&spikegrad(&["eval", "--run", out.to_str().unwrap()]));
    assert_eq!(stored["test_accuracy"], int8["test_accuracy"]);
    assert_eq!(stored["cost"], int8["cost"]);

    // NIR export of the int8 run: weights on the int8 grid of the scale it records.
    let nir_file = tmp.path().join("int8.nir");
    let export = json(&spikegrad(&[
        "nir",
        "export",
        "--run",
        out.to_str().unwrap(),
        nir_file.to_str().unwrap(),
    ]));
    assert_eq!(export["weights"], "int8");
    let graph = spikegrad::nir::read_nir(&nir_file).unwrap();
    for name in ["fc0", "fc_out"] {
        let node = &graph.nodes[name];
        let text = |k: &str| node.metadata.get(k).cloned();
        assert_eq!(
            text("weight_precision"),
            Some(spikegrad::nir::MetaValue::Text("int8".into()))
        );
        let Some(spikegrad::nir::MetaValue::Number(scale)) = text("weight_scale") else {
            panic!("{name} has no weight_scale");
        };
        let spikegrad::nir::NodeKind::Linear { weight } = &node.kind else {
            panic!("{name} is not Linear");
        };
        for &w in &weight.data {
            let q = w / scale;
            assert!(
                q.abs() <= 127.0 + 1e-3 && (q - q.round()).abs() < 1e-3,
                "{name}: {q}"
            );
        }
    }

    let plot = spikegrad(&["plot", "--run", out.to_str().unwrap()]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let summary = std::fs::read_to_string(out.join("plots").join("summary.txt")).unwrap();
    assert!(
        summary.contains("int8 weights") && summary.contains("activation sparsity"),
        "{summary}"
    );
}
/// A 0.1 s tone at 16 kHz as a 16-bit WAV file.
fn write_tone(path: &Path, freq_hz: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..1600 {
        let x = (2.0 * std::f64::consts::PI * freq_hz * f64::from(i) / 16_000.0).sin();
        w.write_sample((x * 12_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn audio2spikes_converts_a_file_and_a_labelled_folder() {
    use spikegrad::data::{read_shd, ShdReadOptions, Target};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, freq) in [
        ("low.wav", 300.0),
        ("mid.wav", 1200.0),
        ("high.wav", 4000.0),
    ] {
        write_tone(&dir.join(name), freq);
    }
    let single = dir.join("one.h5");
    let out = spikegrad(&[
        "audio2spikes",
        dir.join("mid.wav").to_str().unwrap(),
        single.to_str().unwrap(),
        "--label",
        "2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = read_shd(&single, &ShdReadOptions::default()).unwrap();
    assert_eq!(file.data.len(), 1);
    assert_eq!(file.data.samples[0].target, Target::Class(2));
    assert!(file.data.samples[0].len() > 10);

    std::fs::write(
        dir.join("labels.csv"),
        "file,label,speaker\nlow.wav,0,7\nmid.wav,1,7\nhigh.wav,2,9\n",
    )
    .unwrap();
    std::fs::write(dir.join("keys.txt"), "low\nmid\nhigh\n").unwrap();
    let batch = dir.join("all.h5");
    let (labels, keys) = (dir.join("labels.csv"), dir.join("keys.txt"));
    let args = [
        "audio2spikes",
        dir.to_str().unwrap(),
        batch.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
        "--seed",
        "3",
    ];
    let out = spikegrad(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = read_shd(&batch, &ShdReadOptions::default()).unwrap();
    assert_eq!(file.data.len(), 3);
    assert_eq!(
        file.class_names.as_deref(),
        Some(&["low".to_string(), "mid".into(), "high".into()][..])
    );
    assert_eq!(file.speakers.as_deref(), Some(&[7, 7, 9][..]));
    // Tonotopy survives the whole chain: the mean active channel falls as the pitch rises
    // (channel 0 is the base of the cochlea).
    let mean_unit: Vec<f64> = file
        .data
        .samples
        .iter()
        .map(|s| s.units.iter().map(|&u| f64::from(u)).sum::<f64>() / s.len() as f64)
        .collect();
    assert!(
        mean_unit[0] > mean_unit[1] && mean_unit[1] > mean_unit[2],
        "{mean_unit:?}"
    );
    // Seeded: the same command gives the same file.
    let again = dir.join("again.h5");
    let mut args2 = args;
    args2[2] = again.to_str().unwrap();
    assert!(spikegrad(&args2).status.success());
    assert_eq!(
        std::fs::read(&batch).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn audio2spikes_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out_h5 = dir.join("x.h5");
    let out = spikegrad(&[
        "audio2spikes",
        dir.to_str().unwrap(),
        out_h5.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success() && stderr(&out).contains("--labels"),
        "{}",
        stderr(&out)
    );
    // A label map naming a missing file, and one with a label that is not a number.
    let labels = dir.join("labels.csv");
    for (map, named) in [
        ("file,label\nnone.wav,0\n", "none.wav"),
        ("file,label\na.wav,x\n", "line 2"),
    ] {
        std::fs::write(&labels, map).unwrap();
        let out = spikegrad(&[
            "audio2spikes",
            dir.to_str().unwrap(),
            out_h5.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
        ]);
        assert!(
            !out.status.success() && stderr(&out).contains(named),
            "{}",
            stderr(&out)
        );
    }
    assert!(!out_h5.exists());
}

/// `rules compare --json` on the shipped RTRL check: RTRL agrees with BPTT to f32 rounding,
/// e-prop's cosines are reported, and the last line is the JSON object.
#[test]
fn rules_compare_reports_rtrl_against_bptt() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/rtrl_check.toml");
    let out = spikegrad(&["rules", "compare", "--config", config, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    let rtrl = v["rules"]["rtrl"].as_object().unwrap();
    assert_eq!(rtrl.len(), 5, "every learnable tensor");
    for (name, a) in rtrl {
        assert!(a["cosine"].as_f64().unwrap() >= 0.99999, "{name}");
        assert!(a["rel_err"].as_f64().unwrap() <= 1e-4, "{name}");
    }
    let eprop = v["rules"]["eprop"]["hidden.0.w_in"]["cosine"]
        .as_f64()
        .unwrap();
    assert!(eprop > 0.0 && eprop < 1.0, "{eprop}");
    assert!((rtrl["readout.w"]["norm_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    // --rules picks the rules; an unknown one is refused by name.
    let out = spikegrad(&[
        "rules", "compare", "--config", config, "--rules", "eprop", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let names: Vec<&String> = v["rules"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["eprop"]);
    let out = spikegrad(&["rules", "compare", "--config", config, "--rules", "bogus"]);
    assert!(!out.status.success() && stderr(&out).contains("bogus"));
}

/// `reproduce --list` names every reproduction; a quick reproduction writes its runs (with
/// plots) and ends with the JSON line.
#[test]
fn reproduce_lists_and_runs_a_quick_reproduction() {
    let list = spikegrad(&["reproduce", "--list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("eprop-evidence") && text.contains("stochastic-randman"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let run = spikegrad(&[
        "reproduce",
        "stochastic-randman",
        "--quick",
        "--json",
        "--out",
        out,
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["name"], "stochastic-randman");
    for metric in [
        "deterministic_accuracy",
        "stochastic_accuracy",
        "fano_factor",
    ] {
        assert!(v["metrics"][metric].as_f64().is_some(), "{metric}");
    }
    assert!(tmp.path().join("stochastic/final.json").exists());
    assert!(tmp.path().join("stochastic/plots/curves.png").exists());
    let unknown = spikegrad(&["reproduce", "nothing"]);
    assert!(!unknown.status.success() && stderr(&unknown).contains("no reproduction"));
}

/// `train --config configs/superspike_pattern.toml --set data.source.target=OTHER.png` learns
/// an image the project does not ship (here smaller than the paper's, to keep the test short):
/// the output layer takes the image's row count, and `final.json` reports the normalised van
/// Rossum distance.
#[test]
fn the_pattern_config_learns_a_png_it_was_not_shipped_with() {
    use spikegrad::data::raster::{write_png, Raster};
    let (rows, columns) = (24, 40);
    // Two crossing diagonals and a horizontal bar: every row spikes a few times.
    let spikes = (0..rows * columns)
        .map(|i| {
            let (r, c) = (i / columns, i % columns);
            let d = 2 * r * columns / (rows * 2);
            c == d || c == columns - 1 - d || (r == rows / 2 && c % 8 == 3)
        })
        .collect();
    let raster = Raster {
        rows,
        columns,
        spikes,
    };
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("other.png");
    write_png(&raster, std::fs::File::create(&png).unwrap()).unwrap();
    let run = dir.path().join("run");
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/superspike_pattern.toml"
    );
    let target = format!("data.source.target={:?}", png.to_str().unwrap());
    let out = spikegrad(&[
        "train",
        "--config",
        config,
        "--set",
        &target,
        "--set",
        "data.source.inputs=60",
        "--set",
        "network.hidden.0.size=64",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("final.json")).unwrap()).unwrap();
    let distance = report["van_rossum"].as_f64().unwrap();
    println!("normalised van Rossum distance on an unseen {rows}×{columns} image: {distance:.3}");
    assert!(distance <= 0.3, "{distance}");
    let saved = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        saved.contains("size = 24"),
        "the output layer takes the image's rows"
    );
}

/// The quick versions of the SuperSpike XOR and the prospective tracking reproductions run
/// end to end and report every metric they name.
#[test]
fn quick_xor_and_tracking_reproductions_report_their_metrics() {
    let cases: [(&str, &[&str]); 2] = [
        (
            "superspike-xor",
            &[
                "symmetric_accuracy",
                "random_accuracy",
                "uniform_accuracy",
                "no_hidden_accuracy",
                "five_spikes_vr",
            ],
        ),
        (
            "prospective-tracking",
            &["tracking_r2_leaky", "tracking_r2_prospective"],
        ),
    ];
    for (name, metrics) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_str().unwrap();
        let run = spikegrad(&["reproduce", name, "--quick", "--json", "--out", out]);
        assert!(run.status.success(), "{}", stderr(&run));
        let stdout = String::from_utf8_lossy(&run.stdout);
        let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        for metric in metrics {
            assert!(v["metrics"][metric].as_f64().is_some(), "{name}: {metric}");
        }
    }
}

/// `[continual]` configs train their task sequence: the accuracy matrix printed, drawn and
/// in `final.json`; `plot` and `eval` read the run (skipped without the MNIST subset).
#[test]
fn a_continual_config_trains_its_task_sequence() {
    if !root().join("../shared/data/mnist5k/mnist5k.h5").exists() {
        eprintln!("skipped: ../shared/data/mnist5k/mnist5k.h5 is absent");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = spikegrad(&[
        "train",
        "--config",
        "configs/si_split_mnist.toml",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "continual.epochs_per_task=1",
        "--set",
        "network.hidden.0.size=32",
        "--set",
        "network.hidden.1.size=32",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("mean accuracy") && stdout.contains("  5: "),
        "{stdout}"
    );
    assert!(run.join("plots/accuracy.png").exists());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("final.json")).unwrap()).unwrap();
    assert_eq!(report["report"]["accuracy"].as_array().unwrap().len(), 5);
    std::fs::remove_file(run.join("plots/accuracy.png")).unwrap();
    let plotted = spikegrad(&["plot", "--run", run.to_str().unwrap()]);
    assert!(plotted.status.success(), "{}", stderr(&plotted));
    assert!(run.join("plots/accuracy.png").exists());
    let evaluated = spikegrad(&["eval", "--run", run.to_str().unwrap()]);
    assert!(evaluated.status.success(), "{}", stderr(&evaluated));
}

/// A network too large for the machine is refused before anything is allocated: one line
/// naming the layer and the estimate, a non-zero exit.
#[test]
fn an_oversized_network_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = spikegrad(&[
        "train",
        "--out",
        tmp.path().join("huge").to_str().unwrap(),
        "--set",
        "network.hidden.0.size=1000000000",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("network.hidden[0].size") && err.contains("GiB"),
        "{err}"
    );
    // An explicit limit applies to small networks too.
    let limited = train(
        &tmp.path().join("limited"),
        &["--set", "training.memory_limit_gib=1e-6"],
    );
    assert!(!limited.status.success());
    assert!(stderr(&limited).contains("training.memory_limit_gib"));
}

#[test]
fn the_train_run_workload_times_every_epoch_of_a_whole_run() {
    let out = spikegrad(&[
        "bench",
        "--workload",
        "train-run",
        "--steps",
        "2",
        "--threads",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = command::json(&out);
    assert_eq!(report["workload"], "train-run");
    assert_eq!(report["epochs"], 2);
    let (min, median) = (
        report["min_s_per_epoch"].as_f64().unwrap(),
        report["median_s_per_epoch"].as_f64().unwrap(),
    );
    assert!(min > 0.0 && min <= median);
    assert!(report["total_s"].as_f64().unwrap() >= 2.0 * min);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert_eq!(report["shape"]["B"], 32);
}
