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
//! Through the command line, one process per case under a 4 GiB address-space limit:
//! `crates/cli/tests/fuzz_cli.rs` (`FUZZ_CLI=20000`), with this harness (`fuzz/harness.rs`).

#[path = "fuzz/harness.rs"]
mod harness;

use harness::*;
use std::time::Instant;

/// The repository root.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

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
