//! `memory-lifetime`: how long a population of synapses remembers one pattern among many,
//! for three synapse models (the memory-retention experiment of Amit & Fusi 1994, Fusi, Drew
//! & Abbott 2005 and Benna & Fusi 2016, reviewed for continual learning by Zenke &
//! Laborieux 2024, arXiv 2405.16922).
//!
//! `N = 10⁴` synapses receive random patterns `ξ ∈ {−1, +1}^N` one after another, each
//! synapse one potentiation or depression per pattern by its sign (the chain evolves for one
//! unit of time between patterns). The models ([`crate::synapses`]):
//!
//! - simple bounded synapse, `q = 0.1` (one time scale, `1/q = 10` patterns);
//! - Benna–Fusi chain of `m = 7` variables with the paper's `C_k = 2^(k−1)`, `g_{k,k+1} =
//!   2^(−k−2)` (time scales `C_k/g_{k,k+1}` = 8, 32, …, 32768 patterns);
//! - cascade of `n = 12` levels, `x = 1/2` (time scales `1/q_k` = 1, 2, …, 1024).
//!
//! Each starts at its equilibrium (drawn exactly for the binary models; for the chain with
//! the exact stationary covariance, which fixes the signal and the noise) and stores 4096
//! patterns of burn-in. Then, every 4th pattern, the memories stored after the burn-in are
//! read at log-spaced ages (8 per decade, 1 … 32768 patterns):
//!
//! ```text
//! h = (1/N) Σ_i ξ_i w_i            signal: mean of h over the memories of that age
//! noise = √(Σ_i w_i²) / N          the sd of h for a pattern never stored, given the weights
//! SNR = signal / noise             standard error: sd of h over the memories / √count / noise
//! ```
//!
//! The noise is the spread of the overlap with an unstored pattern, the null an ideal
//! observer must tell a memory from (the papers' definition); for ±1 patterns it is exact
//! given the weights, so it needs no estimate, and unlike the spread across memories it
//! leaves out the signal's own variability. The signal needs no subtraction: before storage
//! a pattern is independent of the weights, `E[h] = 0`.
//!
//! Exponents: the least-squares slope of `ln SNR` on `ln age` over a window set by each
//! model's own time scales, not by the result: one level in from either end of its time
//! scales for the chain (`[32, 8192]`) and the cascade (`[2, 1024]`), a factor 4 either
//! side of the simple synapse's one (`[2.5, 40]`); ages whose SNR is within three standard
//! errors of zero are left out. Each model's exact expectation (`SynapseModel`) is drawn
//! dashed beside the simulation and fitted over the same window.
//!
//! Lifetime against population size: the age at which the expected SNR falls to 1, for
//! `N = 10³ … 10⁶`, from each model's exact expectation (the simulation at `N = 10⁴` checks
//! it), and the log-log slope of lifetime on `N` (`lifetime.png`).

use super::{Figure, Metric, Options, Outcome, Reproduction, Row, Scale, Series};
use crate::experiment::{file_error, ExperimentError};
use crate::synapses::{
    BennaFusi, BennaFusiParams, Cascade, CascadeParams, Pattern, Simple, SimpleParams,
    SynapseError, SynapseModel,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "memory-lifetime",
    paper: "Benna & Fusi 2016, Nat. Neurosci. 19:1697; Fusi, Drew & Abbott 2005, Neuron 45:599",
    summary: "SNR of a stored memory as it ages: simple bounded, Benna-Fusi and cascade synapses",
    run,
};

/// `q` of the simple synapse.
const FLIP_PROBABILITY: f64 = 0.1;
/// `m` of the Benna–Fusi chain.
const CHAIN_VARIABLES: usize = 7;
/// `n` of the cascade.
const CASCADE_LEVELS: usize = 12;
/// Patterns arrive once per unit time of the chain's couplings.
const EVENT_INTERVAL: f64 = 1.0;
const AGES_PER_DECADE: usize = 8;
/// Seeds the patterns (one ChaCha stream per pattern) and, mixed with a model's name, its
/// draws.
const SEED: u64 = 2016;
/// Population sizes of the lifetime's scaling with `N` (from the exact expectations).
const POPULATIONS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// The oldest age the lifetime's scaling looks at.
const SCALING_MAX_AGE: usize = 1 << 24;

/// How large a run is.
struct Size {
    synapses: usize,
    burn_in: usize,
    /// Patterns stored after the burn-in.
    patterns: usize,
    max_age: usize,
    /// Read the memories after every this many patterns.
    every: usize,
}

const FULL: Size = Size {
    synapses: 10_000,
    burn_in: 4096,
    patterns: 65_536,
    max_age: 32_768,
    every: 4,
};

const QUICK: Size = Size {
    synapses: 2_000,
    burn_in: 512,
    patterns: 4096,
    max_age: 1024,
    every: 2,
};

/// Which model a curve is of.
struct Name {
    /// The metric suffix and CSV column prefix.
    key: &'static str,
    /// The legend entry.
    label: String,
}

impl Name {
    fn new(key: &'static str, label: String) -> Self {
        Self { key, label }
    }

    /// Seeds the model's own draws, apart from the patterns' and the other models'.
    fn seed(&self) -> u64 {
        self.key
            .bytes()
            .fold(SEED, |h, b| h.rotate_left(8) ^ b as u64)
    }
}

/// One model's SNR curve.
struct Curve {
    name: Name,
    snr: Vec<f64>,
    stderr: Vec<f64>,
    expected: Vec<f64>,
    time_scales: Vec<f64>,
}

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let size = if options.quick { &QUICK } else { &FULL };
    let ages = log_ages(size.max_age);
    let simple = Simple::new(SimpleParams {
        flip_probability: FLIP_PROBABILITY,
    });
    let chain = BennaFusi::new(BennaFusiParams::geometric(CHAIN_VARIABLES), EVENT_INTERVAL);
    let cascade = Cascade::new(CascadeParams::paper(CASCADE_LEVELS));
    let (simple, chain, cascade) = (valid(simple), valid(chain), valid(cascade));
    let scaling = [
        expected_lifetimes(&simple),
        expected_lifetimes(&chain),
        expected_lifetimes(&cascade),
    ];
    let simple_name = Name::new("simple", format!("simple bounded, q = {FLIP_PROBABILITY}"));
    let chain_name = Name::new("benna_fusi", format!("Benna-Fusi, m = {CHAIN_VARIABLES}"));
    let cascade_name = Name::new("cascade", format!("cascade, n = {CASCADE_LEVELS}"));
    let (simple, (chain, cascade)) = rayon::join(
        || curve(&simple, simple_name, size, &ages),
        || {
            rayon::join(
                || curve(&chain, chain_name, size, &ages),
                || curve(&cascade, cascade_name, size, &ages),
            )
        },
    );
    let curves = [simple, chain, cascade];
    write_csv(options, &ages, &curves)?;
    let mut outcome = outcome(size, &ages, &curves);
    add_scaling(&mut outcome, &curves, &scaling);
    Ok(outcome)
}

/// The lifetime (age at expected SNR 1) of a population of each size in [`POPULATIONS`]: the
/// model's exact expected signal scaled by `√(N / E[w²])`, as the simulation's is.
fn expected_lifetimes<M: SynapseModel>(model: &M) -> Vec<f64> {
    let ages = log_ages(SCALING_MAX_AGE);
    let signal = model.expected_signal(&ages);
    let of = |n: usize| {
        let scale = (n as f64 / model.expected_squared_weight()).sqrt();
        let snr: Vec<f64> = signal.iter().map(|s| s * scale).collect();
        lifetime(&ages, &snr)
    };
    POPULATIONS.iter().map(|&n| of(n)).collect()
}

/// The lifetimes against `N` as metrics (each model's log-log slope over [`POPULATIONS`]) and
/// a log-log figure.
fn add_scaling(outcome: &mut Outcome, curves: &[Curve; 3], scaling: &[Vec<f64>; 3]) {
    let slope = |lifetimes: &[f64]| {
        let ns: Vec<usize> = POPULATIONS.to_vec();
        exponent(&ns, lifetimes, None, (0.0, f64::INFINITY)).0
    };
    let published = [
        "ln(√N q)/q: ln(10)/(2q) ≈ 11.5 patterns more per decade of N",
        "grows almost linearly with N (slope near 1) up to the slowest time scale",
        "√N for a 1/t decay; t^(−0.67), as this cascade decays, gives N^0.75",
    ];
    let metrics = [
        ("lifetime_vs_n_exponent_simple", "lifetime_vs_n_simple"),
        (
            "lifetime_vs_n_exponent_benna_fusi",
            "lifetime_vs_n_benna_fusi",
        ),
        ("lifetime_vs_n_exponent_cascade", "lifetime_vs_n_cascade"),
    ];
    for ((lifetimes, (exponent, series)), published) in scaling.iter().zip(metrics).zip(published) {
        outcome.rows.push(Row {
            metric: exponent,
            ours: Metric::Value(slope(lifetimes)),
            anchor: None,
            published,
        });
        outcome.rows.push(Row {
            metric: series,
            ours: Metric::Series(lifetimes.clone()),
            anchor: None,
            published: "lifetimes at N = 10^3, 10^4, 10^5, 10^6 (exact expectation)",
        });
    }
    let series = curves
        .iter()
        .zip(scaling)
        .map(|(c, lifetimes)| Series {
            name: c.name.label.clone(),
            points: POPULATIONS
                .iter()
                .zip(lifetimes)
                .map(|(&n, &l)| (n as f64, l))
                .collect(),
            expected: Vec::new(),
        })
        .collect();
    outcome.figures.push(Figure {
        file: "lifetime.png".to_string(),
        title: "Memory lifetime (age at SNR 1) against population size, exact expectation"
            .to_string(),
        x_label: "synapses N".to_string(),
        y_label: "lifetime (patterns)".to_string(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series,
    });
}

/// The models' parameters are constants of this file, checked by its test.
fn valid<T>(result: Result<T, SynapseError>) -> T {
    result.expect("the reproduction's synapse models are valid (its test runs them)")
}

/// Ages `1 … max_age`, [`AGES_PER_DECADE`] a decade (rounded, without repeats), and
/// `max_age`.
fn log_ages(max_age: usize) -> Vec<usize> {
    let decades = (max_age as f64).log10();
    let steps = (decades * AGES_PER_DECADE as f64).floor() as usize;
    let mut ages: Vec<usize> = (0..=steps)
        .map(|k| 10f64.powf(k as f64 / AGES_PER_DECADE as f64).round() as usize)
        .chain(std::iter::once(max_age))
        .collect();
    ages.dedup();
    ages
}

/// Pattern `index` of the stream every model receives.
fn pattern(index: usize, synapses: usize) -> Pattern {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    rng.set_stream(index as u64);
    Pattern::random(synapses, &mut rng)
}

/// Simulates `model` and reads its memories at `ages` (ascending).
fn curve<M: SynapseModel>(model: &M, name: Name, size: &Size, ages: &[usize]) -> Curve {
    let n = size.synapses;
    let mut rng = ChaCha8Rng::seed_from_u64(name.seed());
    let mut state = valid(model.equilibrium(n, &mut rng));
    for index in 0..size.burn_in {
        valid(model.store(&mut state, &pattern(index, n), &mut rng));
    }
    // Per age: Σh, Σh², count.
    let mut sums = vec![(0.0, 0.0, 0usize); ages.len()];
    let (mut squares, mut reads) = (0.0, 0usize);
    for t in 0..size.patterns {
        valid(model.store(&mut state, &pattern(size.burn_in + t, n), &mut rng));
        if (t + 1) % size.every != 0 {
            continue;
        }
        squares += model.squared_weights(&state);
        reads += 1;
        // Only memories stored after the burn-in.
        for (sum, &age) in sums.iter_mut().zip(ages).take_while(|(_, &a)| a <= t) {
            let memory = pattern(size.burn_in + t - age, n);
            let h = valid(model.overlap(&state, &memory)) / n as f64;
            *sum = (sum.0 + h, sum.1 + h * h, sum.2 + 1);
        }
    }
    let noise = (squares / reads as f64).sqrt() / n as f64;
    let (snr, stderr) = sums
        .iter()
        .map(|&(s, s2, count)| {
            let count = count as f64;
            let mean = s / count;
            let var = (s2 / count - mean * mean).max(0.0);
            (mean / noise, (var / count).sqrt() / noise)
        })
        .unzip();
    let scale = (n as f64 / model.expected_squared_weight()).sqrt();
    Curve {
        name,
        snr,
        stderr,
        expected: model
            .expected_signal(ages)
            .iter()
            .map(|s| s * scale)
            .collect(),
        time_scales: model.time_scales(),
    }
}

/// A curve's exponent.
struct Fit {
    /// Over the simulated SNR.
    slope: f64,
    /// How many ages it used.
    ages: usize,
    /// Over the exact expectation.
    expected: f64,
    window: (f64, f64),
}

impl Fit {
    fn of(curve: &Curve, ages: &[usize]) -> Self {
        let window = fit_window(&curve.time_scales);
        let (slope, used) = exponent(ages, &curve.snr, Some(&curve.stderr), window);
        Self {
            slope,
            ages: used,
            expected: exponent(ages, &curve.expected, None, window).0,
            window,
        }
    }
}

/// The ages the exponent is fitted over: one level in from either end of a model's time
/// scales, or a factor 4 either side of a single one.
fn fit_window(scales: &[f64]) -> (f64, f64) {
    match scales {
        [] => (1.0, f64::INFINITY),
        [one] => (one / 4.0, one * 4.0),
        [fast, slow] => (*fast, *slow),
        _ => (scales[1], scales[scales.len() - 2]),
    }
}

/// The least-squares slope of `ln y` on `ln age` over the ages in `window` whose `y` is
/// positive and, with standard errors, more than three of them from zero; and how many.
fn exponent(ages: &[usize], y: &[f64], stderr: Option<&[f64]>, window: (f64, f64)) -> (f64, usize) {
    let points: Vec<(f64, f64)> = ages
        .iter()
        .enumerate()
        .filter(|&(k, &a)| {
            let a = a as f64;
            let significant = stderr.is_none_or(|se| y[k] > 3.0 * se[k]);
            a >= window.0 && a <= window.1 && y[k] > 0.0 && significant
        })
        .map(|(k, &a)| ((a as f64).ln(), y[k].ln()))
        .collect();
    if points.len() < 3 {
        return (f64::NAN, points.len());
    }
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (sxy / sxx, points.len())
}

/// The age at which the SNR first falls below 1, interpolated log-log between the ages
/// around it (linearly in SNR when the later one is not positive); NaN if it never does.
fn lifetime(ages: &[usize], snr: &[f64]) -> f64 {
    for k in 1..ages.len() {
        let (s0, s1) = (snr[k - 1], snr[k]);
        if s0 >= 1.0 && s1 < 1.0 {
            let (a0, a1) = ((ages[k - 1] as f64).ln(), (ages[k] as f64).ln());
            let f = if s1 > 0.0 {
                -s0.ln() / (s1.ln() - s0.ln())
            } else {
                (s0 - 1.0) / (s0 - s1)
            };
            return (a0 + f * (a1 - a0)).exp();
        }
    }
    f64::NAN
}

fn outcome(size: &Size, ages: &[usize], curves: &[Curve; 3]) -> Outcome {
    let fits: Vec<Fit> = curves.iter().map(|c| Fit::of(c, ages)).collect();
    let lifetimes: Vec<f64> = curves.iter().map(|c| lifetime(ages, &c.snr)).collect();
    let value = |v: f64| Metric::Value(v);
    let rows = vec![
        Row {
            metric: "snr_exponent_simple",
            ours: value(fits[0].slope),
            anchor: None,
            published: "exponential, SNR = √N q (1 − q)^t: a steep slope, steepening as −t/τ",
        },
        Row {
            metric: "snr_exponent_benna_fusi",
            ours: value(fits[1].slope),
            anchor: Some(-0.5),
            published: "power law t^(−1/2) between the chain's fastest and slowest time scales",
        },
        Row {
            metric: "snr_exponent_cascade",
            ours: value(fits[2].slope),
            anchor: Some(-1.0),
            published: "power law close to 1/t up to the slowest level's time scale",
        },
        Row {
            metric: "lifetime_patterns_simple",
            ours: value(lifetimes[0]),
            anchor: None,
            published: "age at SNR 1: ln(√N q)/q, grows as log N",
        },
        Row {
            metric: "lifetime_patterns_benna_fusi",
            ours: value(lifetimes[1]),
            anchor: None,
            published: "age at SNR 1: grows almost linearly with N (√N for earlier models)",
        },
        Row {
            metric: "lifetime_patterns_cascade",
            ours: value(lifetimes[2]),
            anchor: None,
            published: "age at SNR 1: grows as √N",
        },
    ];
    let memories = |age: usize| (size.patterns - age) / size.every;
    let windows: Vec<String> = curves
        .iter()
        .zip(&fits)
        .map(|(c, f)| {
            let (lo, hi) = (f.window.0, f.window.1.min(size.max_age as f64));
            format!(
                "{} [{lo}, {hi}] ({} ages; exact expectation {:.3})",
                c.name.key, f.ages, f.expected
            )
        })
        .collect();
    let setting = format!(
        "N = {} synapses, random ±1 patterns, one event per synapse and pattern (the chain \
         relaxes one time unit between patterns); from equilibrium after {} patterns of \
         burn-in; SNR of memories at {} log-spaced ages 1-{} (signal averaged over {} memories \
         at age 1, {} at the oldest), noise = sd of the overlap with an unstored pattern \
         (exact given the weights); exponents fitted over each model's time scales: {}; curves \
         in snr.csv, plot in snr.png",
        size.synapses,
        size.burn_in,
        ages.len(),
        size.max_age,
        memories(1),
        memories(size.max_age),
        windows.join(", ")
    );
    Outcome {
        rows,
        setting,
        runs: Vec::new(),
        figures: vec![figure(size, ages, curves)],
        heat_maps: Vec::new(),
    }
}

/// The SNR curves on log-log axes, each up to its first age within three standard errors of
/// zero (the CSV has them all), the expectations down to half the smallest point drawn.
fn figure(size: &Size, ages: &[usize], curves: &[Curve; 3]) -> Figure {
    let measured: Vec<Vec<(f64, f64)>> = curves
        .iter()
        .map(|c| {
            ages.iter()
                .zip(c.snr.iter().zip(&c.stderr))
                .take_while(|(_, (s, se))| **s > 3.0 * **se)
                .map(|(&a, (&s, _))| (a as f64, s))
                .collect()
        })
        .collect();
    let floor = measured
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        / 2.0;
    let series = curves
        .iter()
        .zip(measured)
        .map(|(c, points)| Series {
            name: c.name.label.clone(),
            points,
            expected: ages
                .iter()
                .zip(&c.expected)
                .filter(|(_, &e)| e >= floor)
                .map(|(&a, &e)| (a as f64, e))
                .collect(),
        })
        .collect();
    Figure {
        file: "snr.png".to_string(),
        title: format!("Memory SNR as it ages, N = {} synapses", size.synapses),
        x_label: "age (patterns stored since)".to_string(),
        y_label: "signal-to-noise ratio".to_string(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series,
    }
}

/// `snr.csv`: one row per age, per model the SNR, its standard error and the expected SNR.
fn write_csv(
    options: &Options<'_>,
    ages: &[usize],
    curves: &[Curve; 3],
) -> Result<(), ExperimentError> {
    let mut text = String::from("age");
    for c in curves {
        text.push_str(&format!(",snr_{0},stderr_{0},expected_{0}", c.name.key));
    }
    text.push('\n');
    for (k, age) in ages.iter().enumerate() {
        text.push_str(&age.to_string());
        for c in curves {
            text.push_str(&format!(
                ",{:.6e},{:.6e},{:.6e}",
                c.snr[k], c.stderr[k], c.expected[k]
            ));
        }
        text.push('\n');
    }
    let path = options.out.join("snr.csv");
    std::fs::create_dir_all(&options.out).map_err(|e| file_error(&options.out, e))?;
    crate::io::write_atomic_str(&path, &text).map_err(|e| file_error(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Silent;

    #[test]
    fn ages_are_log_spaced_and_end_at_the_oldest() {
        let ages = log_ages(1024);
        assert_eq!(&ages[..7], &[1, 2, 3, 4, 6, 7, 10]);
        assert_eq!(*ages.last().unwrap(), 1024);
        assert!(ages.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn exponents_and_lifetimes_of_known_curves() {
        let ages = log_ages(1000);
        let power: Vec<f64> = ages.iter().map(|&a| 30.0 * (a as f64).powf(-0.5)).collect();
        let (slope, used) = exponent(&ages, &power, None, (10.0, 100.0));
        assert!((slope + 0.5).abs() < 1e-12 && used == 9, "{slope}, {used}");
        assert!((lifetime(&ages, &power) - 900.0).abs() < 1e-6);
        let noisy = vec![1.0; ages.len()];
        assert!(exponent(&ages, &power, Some(&noisy), (1.0, 1000.0))
            .0
            .is_finite());
        assert!(exponent(&ages, &power, Some(&noisy), (500.0, 1000.0))
            .0
            .is_nan());
        assert!(lifetime(&ages, &vec![0.5; ages.len()]).is_nan());
        assert_eq!(fit_window(&[10.0]), (2.5, 40.0));
        assert_eq!(fit_window(&[1.0, 2.0, 4.0, 8.0]), (2.0, 4.0));
    }

    /// The quick run orders the models as the theory does: the simple synapse forgets
    /// fastest, the chain follows t^(−1/2), the cascade lies between.
    #[test]
    fn the_quick_run_orders_the_models() {
        let dir = tempfile::tempdir().unwrap();
        let mut observer = Silent;
        let mut options = Options {
            out: dir.path().to_path_buf(),
            quick: true,
            observer: &mut observer,
        };
        let outcome = run(&mut options).unwrap();
        let metrics = outcome.metrics();
        let get = |name: &str| match metrics[name] {
            Metric::Value(v) => v,
            Metric::Series(_) => unreachable!(),
        };
        let (simple, chain, cascade) = (
            get("snr_exponent_simple"),
            get("snr_exponent_benna_fusi"),
            get("snr_exponent_cascade"),
        );
        assert!(simple < -1.0, "simple {simple}");
        assert!((-0.7..=-0.3).contains(&chain), "Benna-Fusi {chain}");
        assert!(simple < cascade && cascade < chain, "cascade {cascade}");
        assert!(get("lifetime_patterns_benna_fusi") > get("lifetime_patterns_simple"));
        let csv = std::fs::read_to_string(dir.path().join("snr.csv")).unwrap();
        assert_eq!(csv.lines().count(), log_ages(QUICK.max_age).len() + 1);
        assert_eq!(outcome.figures.len(), 2);
        assert_eq!(outcome.figures[0].series.len(), 3);
        // Lifetime against N: linear for the chain up to its slowest time scale, logarithmic
        // for the simple synapse (ln(√N q)/q: ln(10)/(2q) more patterns per decade of N).
        let chain_scaling = get("lifetime_vs_n_exponent_benna_fusi");
        assert!((0.85..=1.05).contains(&chain_scaling), "{chain_scaling}");
        let Metric::Series(simple) = &metrics["lifetime_vs_n_simple"] else {
            unreachable!()
        };
        let per_decade = 10f64.ln() / (2.0 * FLIP_PROBABILITY);
        for pair in simple.windows(2) {
            let step = pair[1] - pair[0];
            assert!((step / per_decade - 1.0).abs() < 0.1, "{simple:?}");
        }
    }
}
