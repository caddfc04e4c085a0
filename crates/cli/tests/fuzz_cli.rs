//! The readers through the command line: seeded mutants of the SHD and NIR fixtures sent
//! through `spikegrad data info` and `spikegrad nir import`, one process per case under a
//! 4 GiB address-space limit (`ulimit -v 4194304`), each killed after 20 s. Run on request:
//! `FUZZ_CLI=20000 cargo test --release -p spikegrad-cli --test fuzz_cli -- --nocapture`
//! sends that many SHD mutants and a fifth as many NIR mutants; every exit must be 0 or 1
//! (an error). The mutator and fixtures are those of the repository's `tests/fuzz.rs`.

#[path = "../../../tests/fuzz/harness.rs"]
mod harness;

use harness::*;
use std::time::{Duration, Instant};

/// The repository root.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How one command-line case ended.
enum Exit {
    Ok,
    Error,
    /// Anything else: a panic (101), an abort (a signal), or no exit within the limit.
    Failure(String),
}

/// Runs `spikegrad ARGS` under a 4 GiB address-space limit, killed after [`CASE_LIMIT`].
fn run_cli(args: &[&str]) -> Exit {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "ulimit -v 4194304; exec '{}' {}",
        env!("CARGO_BIN_EXE_spikegrad"),
        quoted.join(" ")
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .env("RAYON_NUM_THREADS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sh runs");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return match status.code() {
                Some(0) => Exit::Ok,
                Some(1) => Exit::Error,
                code => {
                    let mut err = String::new();
                    use std::io::Read;
                    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                    Exit::Failure(format!("exit {code:?}: {}", err.trim()))
                }
            };
        }
        if start.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Exit::Failure(format!("still running after {CASE_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `FUZZ_CLI=N`: N SHD mutants through `data info`, N/5 NIR mutants through `nir import`,
/// one process each (skipped without `FUZZ_CLI`).
#[test]
fn cli_survives_mutated_files() {
    let cases = env_number("FUZZ_CLI", 0);
    if cases == 0 {
        eprintln!("skipped: set FUZZ_CLI=N to run N command-line cases");
        return;
    }
    let seed = env_number("FUZZ_SEED", 1);
    let scratch = tempfile::tempdir().unwrap();
    let all = targets(scratch.path());
    let plans: [(&str, u64); 2] = [("shd", cases), ("nir", cases / 5)];
    let mut failures = Vec::new();
    for (name, count) in plans {
        let target = all.iter().find(|t| t.name == name).unwrap();
        let bases: Vec<Vec<u8>> = target
            .fixtures
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let file = scratch.path().join(format!("case.{}", target.extension));
        let out = scratch.path().join("imported");
        let (mut ok, mut errors, mut slowest) = (0, 0, Duration::ZERO);
        let start = Instant::now();
        for index in 0..count {
            std::fs::write(&file, case(&bases, seed, index)).unwrap();
            let path = file.to_str().unwrap();
            let case_start = Instant::now();
            let exit = match name {
                "shd" => run_cli(&["data", "info", path]),
                _ => run_cli(&[
                    "nir",
                    "import",
                    path,
                    "--dt",
                    "1e-3",
                    "--force",
                    "--out",
                    out.to_str().unwrap(),
                ]),
            };
            slowest = slowest.max(case_start.elapsed());
            match exit {
                Exit::Ok => ok += 1,
                Exit::Error => errors += 1,
                Exit::Failure(why) => {
                    failures.push(format!("{name} seed {seed} case {index}: {why}"))
                }
            }
        }
        println!(
            "{name} through the command line: {count} mutants ({ok} read, {errors} errors, {} \
             failures), slowest {:.3} s, {:.1} s in all",
            failures.len(),
            slowest.as_secs_f64(),
            start.elapsed().as_secs_f64()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
