//! Seeded mutation fuzzing of every file reader: SHD/SSC HDF5 (whole-file and streamed, as
//! `spikegrad data info` reads them), the Braille recordings, NIR import, WAV and TOML
//! configs. Each case mutates one of the committed fixtures (bit flips, interesting values,
//! 4- and 8-byte field overwrites, random bytes, truncation, chunk duplication) and feeds it
//! to the reader, which must return (an error is fine) without panicking, aborting or
//! running away: a watchdog aborts the whole run, naming the case, if one takes longer than
//! 20 s.
//!
//! `cargo test --release --test fuzz` runs a smoke run (2000 cases per target); a long run:
//! `FUZZ_CASES=20000 cargo test --release --test fuzz -- --nocapture` (`FUZZ_SEED` changes
//! the stream, `FUZZ_TARGET=shd` runs one target). A failing case is printed as target,
//! seed and index; `FUZZ_SAVE=DIR` writes every case that makes a reader fail into DIR, and
//! the case running now as `DIR/current.EXT` (what is left there after an abort).
//! Files that once broke a reader are kept in `tests/fixtures/fuzz/TARGET/` and run first;
//! `FUZZ_WRITE="TARGET SEED CASE PATH" cargo test --release --test fuzz write_case` writes
//! one case to a file (to keep it, or to feed it to the command line).
//!
//! Through the command line, one process per case under a 4 GiB address-space limit
//! (`ulimit -v 4194304`): `FUZZ_CLI=20000 cargo test --release --test fuzz -- --nocapture
//! cli` sends that many SHD mutants through `spikegrad data info` and a fifth as many NIR
//! mutants through `spikegrad nir import`; every exit must be 0 or 1 (an error), within 20 s.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a single case may take.
const CASE_LIMIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Byte values that sit on the edges of integer types.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
    0x0000_0001_0000_0000,
];

/// One to four mutations of `base`.
fn mutate(base: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        let at = rng.random_range(0..len);
        match rng.random_range(0..6) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => {
                let value = INTERESTING[rng.random_range(0..INTERESTING.len())].to_le_bytes();
                let width = [1, 2, 4, 8][rng.random_range(0..4)];
                let end = (at + width).min(len);
                bytes[at..end].copy_from_slice(&value[..end - at]);
            }
            2 => {
                let width = if rng.random_bool(0.5) { 4 } else { 8 };
                let end = (at + width).min(len);
                rng.fill_bytes(&mut bytes[at..end]);
            }
            3 => bytes.truncate(at),
            4 => {
                // Copy a chunk over another place.
                let size = rng.random_range(1..=64.min(len));
                let from = rng.random_range(0..=len - size);
                let chunk = bytes[from..from + size].to_vec();
                let end = (at + size).min(len);
                bytes[at..end].copy_from_slice(&chunk[..end - at]);
            }
            _ => {
                // Duplicate a chunk in place (the file grows).
                let size = rng.random_range(1..=64.min(len - at));
                let chunk = bytes[at..at + size].to_vec();
                bytes.splice(at..at, chunk);
            }
        }
    }
    bytes
}

/// Case `index` of stream `seed`: a mutant of one of `bases`.
fn case(bases: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let base = &bases[rng.random_range(0..bases.len())];
    mutate(base, &mut rng)
}

/// A reader under test: takes a file, returns whether it was read without error.
type Reader = fn(&Path) -> bool;

struct Target {
    name: &'static str,
    /// File extension of the mutants (readers may look at it).
    extension: &'static str,
    fixtures: Vec<PathBuf>,
    read: Reader,
}

fn shd(path: &Path) -> bool {
    use spikegrad::data::{read_shd, ShdReadOptions, ShdStream};
    let whole = read_shd(path, &ShdReadOptions::default()).is_ok();
    // What `spikegrad data info` reads.
    let streamed = ShdStream::open(path, 700)
        .is_ok_and(|stream| spikegrad::data::ShdSummary::of(&stream).is_ok());
    whole && streamed
}

fn braille(path: &Path) -> bool {
    use spikegrad::data::braille::{read_braille, BrailleEncoding};
    read_braille(path).is_ok_and(|data| data.encode(&BrailleEncoding::default()).is_ok())
}

fn nir(path: &Path) -> bool {
    use spikegrad::nir::{import_graph, read_nir, ImportOptions};
    let opts = ImportOptions {
        dt_s: 1e-3,
        discretisation: None,
    };
    read_nir(path).is_ok_and(|graph| import_graph(&graph, &opts).is_ok())
}

fn wav(path: &Path) -> bool {
    spikegrad::audio::wav::read_wav(path).is_ok()
}

fn toml_config(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    toml::from_str::<spikegrad::config::ExperimentConfig>(&text).is_ok_and(|c| c.validate().is_ok())
}

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("bad"))
        .collect();
    found.sort();
    found
}

/// A valid 16-bit mono WAV: 0.05 s of a 440 Hz tone at 16 kHz.
fn wav_fixture(dir: &Path) -> PathBuf {
    let path = dir.join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..800 {
        let x = (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 16_000.0).sin();
        w.write_sample((x * 12_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    path
}

fn targets(scratch: &Path) -> Vec<Target> {
    let shd_fixtures = [
        "shd_f16_gzip.h5",
        "shd_f32_contiguous.h5",
        "shd_f64_v108.h5",
    ]
    .iter()
    .map(|f| repo().join("tests/fixtures/hdf5").join(f))
    .collect();
    vec![
        Target {
            name: "shd",
            extension: "h5",
            fixtures: shd_fixtures,
            read: shd,
        },
        Target {
            name: "braille",
            extension: "h5",
            fixtures: vec![repo().join("tests/fixtures/braille/braille_small.h5")],
            read: braille,
        },
        Target {
            name: "nir",
            extension: "nir",
            fixtures: files("tests/fixtures/nir", "nir"),
            read: nir,
        },
        Target {
            name: "wav",
            extension: "wav",
            fixtures: vec![wav_fixture(scratch)],
            read: wav,
        },
        Target {
            name: "toml",
            extension: "toml",
            fixtures: files("configs", "toml"),
            read: toml_config,
        },
    ]
}

/// Aborts the process if the case running now takes longer than [`CASE_LIMIT`].
struct Watchdog {
    /// Milliseconds since `epoch` at which the running case started (0: none running).
    started_ms: Arc<AtomicU64>,
    case: Arc<Mutex<String>>,
    epoch: Instant,
}

impl Watchdog {
    fn start() -> Self {
        let started_ms = Arc::new(AtomicU64::new(0));
        let case = Arc::new(Mutex::new(String::new()));
        let epoch = Instant::now();
        let (watched, name) = (started_ms.clone(), case.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let start = watched.load(Ordering::SeqCst);
            let now = epoch.elapsed().as_millis() as u64;
            if start > 0 && now.saturating_sub(start) > CASE_LIMIT.as_millis() as u64 {
                eprintln!("runaway: {} took over {CASE_LIMIT:?}", name.lock().unwrap());
                std::process::abort();
            }
        });
        Self {
            started_ms,
            case,
            epoch,
        }
    }

    fn run(&self, case: String, f: impl FnOnce() -> bool) -> bool {
        *self.case.lock().unwrap() = case;
        let now = self.epoch.elapsed().as_millis() as u64;
        self.started_ms.store(now.max(1), Ordering::SeqCst);
        let ok = f();
        self.started_ms.store(0, Ordering::SeqCst);
        ok
    }
}

/// What one target's run found.
struct Tally {
    cases: u64,
    read: u64,
    errors: u64,
    slowest: Duration,
}

fn fuzz(target: &Target, cases: u64, seed: u64, scratch: &Path, dog: &Watchdog) -> Tally {
    let bases: Vec<Vec<u8>> = target
        .fixtures
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    for (base, path) in bases.iter().zip(&target.fixtures) {
        assert!(
            (target.read)(path),
            "the fixture {} must read",
            path.display()
        );
        assert!(!base.is_empty());
    }
    let save = std::env::var_os("FUZZ_SAVE").map(PathBuf::from);
    let file = scratch.join(format!("case.{}", target.extension));
    let mut tally = Tally {
        cases,
        read: 0,
        errors: 0,
        slowest: Duration::ZERO,
    };
    for index in 0..cases {
        let bytes = case(&bases, seed, index);
        std::fs::write(&file, &bytes).unwrap();
        let name = format!("{} seed {seed} case {index}", target.name);
        if let Some(dir) = &save {
            // The case about to run, kept should it abort the process.
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("current.{}", target.extension)), &bytes).unwrap();
            std::fs::write(dir.join("current.txt"), &name).unwrap();
        }
        let start = Instant::now();
        let ok = dog.run(name, || (target.read)(&file));
        tally.slowest = tally.slowest.max(start.elapsed());
        if ok {
            tally.read += 1;
        } else {
            tally.errors += 1;
            if let Some(dir) = &save {
                std::fs::create_dir_all(dir).unwrap();
                let kept = format!("{}-{seed}-{index}.{}", target.name, target.extension);
                std::fs::write(dir.join(kept), &bytes).unwrap();
            }
        }
    }
    tally
}

/// Every file that once broke a reader, through that reader.
fn regressions(target: &Target, dog: &Watchdog) -> usize {
    let dir = repo().join("tests/fixtures/fuzz").join(target.name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        // Every kept file is corrupt: its reader must refuse it, not just survive it.
        let read = dog.run(format!("regression {}", path.display()), || {
            (target.read)(&path)
        });
        assert!(!read, "{} was read without an error", path.display());
        count += 1;
    }
    count
}

#[test]
fn readers_survive_mutated_files() {
    let scratch = tempfile::tempdir().unwrap();
    let cases = env_number("FUZZ_CASES", 2000);
    let seed = env_number("FUZZ_SEED", 1);
    let only = std::env::var("FUZZ_TARGET").ok();
    let dog = Watchdog::start();
    for target in targets(scratch.path()) {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        let kept = regressions(&target, &dog);
        let start = Instant::now();
        let t = fuzz(&target, cases, seed, scratch.path(), &dog);
        println!(
            "{}: {} mutants ({} read, {} errors), {kept} regression files, slowest case \
             {:.3} s, {:.1} s in all",
            target.name,
            t.cases,
            t.read,
            t.errors,
            t.slowest.as_secs_f64(),
            start.elapsed().as_secs_f64()
        );
    }
}

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

/// `FUZZ_WRITE="TARGET SEED CASE PATH"`: writes that case to PATH (skipped without it).
#[test]
fn write_case() {
    let Ok(spec) = std::env::var("FUZZ_WRITE") else {
        return;
    };
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [name, seed, index, path] = parts[..] else {
        panic!("FUZZ_WRITE wants \"TARGET SEED CASE PATH\", got {spec:?}");
    };
    let scratch = tempfile::tempdir().unwrap();
    let all = targets(scratch.path());
    let target = all.iter().find(|t| t.name == name).expect("a known target");
    let bases: Vec<Vec<u8>> = target
        .fixtures
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let bytes = case(&bases, seed.parse().unwrap(), index.parse().unwrap());
    std::fs::write(path, bytes).unwrap();
}
