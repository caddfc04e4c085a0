//! The fuzzing harness shared by `tests/fuzz.rs` (in-process) and the command-line fuzz test
//! of the `spikegrad-cli` crate: the mutator, the readers under test and their fixtures, the
//! watchdog. The including file defines `ROOT`, the repository root.

#![allow(dead_code)] // each including test uses part of it

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a single case may take.
pub const CASE_LIMIT: Duration = Duration::from_secs(20);

pub fn repo() -> PathBuf {
    PathBuf::from(super::ROOT)
}

pub fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Byte values that sit on the edges of integer types.
pub const INTERESTING: [u64; 12] = [
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
pub fn mutate(base: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
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
pub fn case(bases: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let base = &bases[rng.random_range(0..bases.len())];
    mutate(base, &mut rng)
}

/// A reader under test: takes a file, returns whether it was read without error.
pub type Reader = fn(&Path) -> bool;

pub struct Target {
    pub name: &'static str,
    /// File extension of the mutants (readers may look at it).
    pub extension: &'static str,
    pub fixtures: Vec<PathBuf>,
    pub read: Reader,
}

pub fn shd(path: &Path) -> bool {
    use spikegrad::data::{read_shd, ShdReadOptions, ShdStream};
    let whole = read_shd(path, &ShdReadOptions::default()).is_ok();
    // What `spikegrad data info` reads.
    let streamed = ShdStream::open(path, 700)
        .is_ok_and(|stream| spikegrad::data::ShdSummary::of(&stream).is_ok());
    whole && streamed
}

pub fn braille(path: &Path) -> bool {
    use spikegrad::data::braille::{read_braille, BrailleEncoding};
    read_braille(path).is_ok_and(|data| data.encode(&BrailleEncoding::default()).is_ok())
}

pub fn nir(path: &Path) -> bool {
    use spikegrad::nir::{import_graph, read_nir, ImportOptions};
    let opts = ImportOptions {
        dt_s: 1e-3,
        discretisation: None,
        norse_export_dt_s: None,
        reset: None,
    };
    read_nir(path).is_ok_and(|graph| import_graph(&graph, &opts).is_ok())
}

pub fn wav(path: &Path) -> bool {
    spikegrad::audio::wav::read_wav(path).is_ok()
}

pub fn toml_config(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    toml::from_str::<spikegrad::config::ExperimentConfig>(&text).is_ok_and(|c| c.validate().is_ok())
}

pub fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
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
pub fn wav_fixture(dir: &Path) -> PathBuf {
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

pub fn targets(scratch: &Path) -> Vec<Target> {
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
pub struct Watchdog {
    /// Milliseconds since `epoch` at which the running case started (0: none running).
    started_ms: Arc<AtomicU64>,
    case: Arc<Mutex<String>>,
    epoch: Instant,
}

impl Watchdog {
    pub fn start() -> Self {
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

    pub fn run(&self, case: String, f: impl FnOnce() -> bool) -> bool {
        *self.case.lock().unwrap() = case;
        let now = self.epoch.elapsed().as_millis() as u64;
        self.started_ms.store(now.max(1), Ordering::SeqCst);
        let ok = f();
        self.started_ms.store(0, Ordering::SeqCst);
        ok
    }
}

/// What one target's run found.
pub struct Tally {
    pub cases: u64,
    pub read: u64,
    pub errors: u64,
    pub slowest: Duration,
}

pub fn fuzz(target: &Target, cases: u64, seed: u64, scratch: &Path, dog: &Watchdog) -> Tally {
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
pub fn regressions(target: &Target, dog: &Watchdog) -> usize {
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
