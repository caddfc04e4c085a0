//! `prospective-chain`: prospective neurons cancel the lag a hierarchy of slow neurons piles
//! up (Zucchet, Feng, Laborieux, Zenke, Senn & Sacramento, arXiv 2511.14917; the mechanism
//! of Latent Equilibrium, Haider et al. NeurIPS 2021).
//!
//! A chain of `L = 1…8` layers of rate neurons (one neuron each, `τ_syn = 5 ms`, `τ_mem = 20
//! ms`, `dt = 1 ms`), each driven by the one before with unit gain, the first by a smooth
//! signal (four slow sines, 0.23–1.03 Hz, 12 s). The lag of layer `L` is the peak of its
//! cross-correlation with the signal (interpolated between steps). Leaky neurons are the
//! [`Prospective`] model with no horizon (`k = 0`: `V = U`); prospective ones look ahead by
//! the default horizon `τ_syn + τ_mem`. Mismatch: the same chains with every `τ_syn` and
//! `τ_mem` 20% longer or shorter than the horizon assumes.

use super::{Metric, Options, Outcome, Reproduction, Row};
use crate::experiment::{file_error, ExperimentError};
use crate::neurons::{NeuronModel, Prospective, ProspectiveForm, ResetGrad, StepContext};
use crate::surrogates::SpikeFn;

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "prospective-chain",
    paper: "Zucchet et al. 2025, arXiv 2511.14917 (prospective neurons)",
    summary: "lag of a chain of slow neurons, leaky vs prospective, depths 1-8",
    run,
};

const DT_MS: f64 = 1.0;
const TAU_SYN_MS: f64 = 5.0;
const TAU_MEM_MS: f64 = 20.0;
const TAU_ADA_MS: f64 = 2.0;
const DEPTH: usize = 8;
const STEPS: usize = 12_000;
/// Steps left out of the correlation while the chain settles.
const SETTLE_STEPS: usize = 2_000;
/// The lags searched, in steps.
const LAGS: std::ops::RangeInclusive<i64> = -300..=600;

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let signal = drive();
    let horizon_ms = TAU_SYN_MS + TAU_MEM_MS;
    let lags = |scale: f64, horizon: Option<f64>| -> Vec<f64> {
        chain(&signal, scale, horizon)
            .iter()
            .map(|out| lag_ms(&signal, out))
            .collect()
    };
    let leaky = lags(1.0, None);
    let prospective = lags(1.0, Some(horizon_ms));
    let slower = lags(1.2, Some(horizon_ms));
    let faster = lags(0.8, Some(horizon_ms));
    write_csv(options, &[&leaky, &prospective, &slower, &faster])?;
    let ratio = prospective[DEPTH - 1].abs() / leaky[DEPTH - 1];
    let series = |v: &[f64]| Metric::Series(v.to_vec());
    let rows = vec![
        Row {
            metric: "lag_ms_leaky",
            ours: series(&leaky),
            anchor: None,
            published: "grows about linearly with depth (about τ per layer)",
        },
        Row {
            metric: "lag_ms_prospective",
            ours: series(&prospective),
            anchor: None,
            published: "stays near zero at every depth",
        },
        Row {
            metric: "lag_ratio_depth8",
            ours: ratio.into(),
            anchor: Some(0.2),
            published: "|prospective lag| / leaky lag at depth 8: near zero (criterion ≤ 0.2)",
        },
        Row {
            metric: "lag_ms_prospective_tau_plus20",
            ours: series(&slower),
            anchor: None,
            published: "robust to mismatched time constants (τ 20% longer than the horizon)",
        },
        Row {
            metric: "lag_ms_prospective_tau_minus20",
            ours: series(&faster),
            anchor: None,
            published: "robust to mismatched time constants (τ 20% shorter than the horizon)",
        },
    ];
    let setting = format!(
        "rate neurons, τ_syn {TAU_SYN_MS} ms, τ_mem {TAU_MEM_MS} ms, τ_ada {TAU_ADA_MS} ms, \
         horizon {horizon_ms} ms, dt {DT_MS} ms; depths 1-{DEPTH}; {} s of four slow sines; \
         lags in ms (positive: behind the input); table in lags.csv",
        STEPS as f64 * DT_MS * 1e-3
    );
    Ok(Outcome {
        rows,
        setting,
        runs: Vec::new(),
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}

/// The smooth input: four slow sines of incommensurate frequencies.
fn drive() -> Vec<f64> {
    let sines = [(0.23, 0.4), (0.41, 2.1), (0.67, 4.0), (1.03, 5.3)];
    (0..STEPS)
        .map(|t| {
            let s = t as f64 * DT_MS * 1e-3;
            sines
                .iter()
                .map(|&(hz, phase)| (std::f64::consts::TAU * hz * s + phase).sin())
                .sum::<f64>()
                / sines.len() as f64
        })
        .collect()
}

/// One rate neuron with time constants `scale` times the nominal ones and `horizon_ms`
/// (none: leaky).
fn neuron(scale: f64, horizon_ms: Option<f64>) -> Prospective<f64> {
    let decay = |tau_ms: f64| (-DT_MS / tau_ms).exp();
    Prospective {
        alpha: vec![decay(TAU_SYN_MS * scale)],
        beta: vec![decay(TAU_MEM_MS * scale)],
        rho: vec![decay(TAU_ADA_MS)],
        delta: vec![horizon_ms.map_or(0.0, decay)],
        threshold: 1.0,
        form: ProspectiveForm::Rate,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
    }
}

/// The output of every layer of the chain; each layer's input is the previous output scaled
/// by `1 − α`, so every layer passes a constant with gain 1.
fn chain(signal: &[f64], scale: f64, horizon_ms: Option<f64>) -> Vec<Vec<f64>> {
    let model = neuron(scale, horizon_ms);
    let gain = 1.0 - model.alpha[0];
    let ctx = StepContext::default();
    let mut layers = Vec::with_capacity(DEPTH);
    let mut input = signal.to_vec();
    for _ in 0..DEPTH {
        let mut state = model.initial_state(0);
        let out: Vec<f64> = input
            .iter()
            .map(|&x| {
                let (next, o) = model.step(0, &state, 0.0, gain * x, &ctx);
                state = next;
                o
            })
            .collect();
        input = out.clone();
        layers.push(out);
    }
    layers
}

/// The lag of `out` behind `signal` in ms: the peak of their cross-correlation over
/// [`LAGS`], refined by a parabola through the peak and its neighbours.
fn lag_ms(signal: &[f64], out: &[f64]) -> f64 {
    let (lo, hi) = (*LAGS.start(), *LAGS.end());
    let window = SETTLE_STEPS..STEPS - hi as usize;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ms, mo) = (mean(&signal[window.clone()]), mean(out));
    let corr = |lag: i64| -> f64 {
        window
            .clone()
            .map(|t| (signal[t] - ms) * (out[(t as i64 + lag) as usize] - mo))
            .sum()
    };
    let values: Vec<f64> = LAGS.map(corr).collect();
    let best = values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(k, _)| k);
    let refine = match (best.checked_sub(1), values.get(best + 1)) {
        (Some(left), Some(&right)) => {
            let (a, b, c) = (values[left], values[best], right);
            let curvature = a - 2.0 * b + c;
            if curvature < 0.0 {
                0.5 * (a - c) / curvature
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    (lo + best as i64) as f64 * DT_MS + refine * DT_MS
}

/// `lags.csv`: one row per depth.
fn write_csv(options: &Options<'_>, columns: &[&Vec<f64>]) -> Result<(), ExperimentError> {
    let mut text = String::from("depth,lag_ms_leaky,lag_ms_prospective,tau_plus20,tau_minus20\n");
    for depth in 0..DEPTH {
        let values: Vec<String> = columns.iter().map(|c| format!("{:.3}", c[depth])).collect();
        text.push_str(&format!("{},{}\n", depth + 1, values.join(",")));
    }
    let path = options.out.join("lags.csv");
    std::fs::create_dir_all(&options.out).map_err(|e| file_error(&options.out, e))?;
    crate::io::write_atomic_str(&path, &text).map_err(|e| file_error(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lag estimate recovers a pure delay, and one leaky layer lags by its time constants.
    #[test]
    fn the_lag_of_a_delay_and_of_one_leaky_layer() {
        let signal = drive();
        let delayed: Vec<f64> = (0..STEPS)
            .map(|t| if t >= 37 { signal[t - 37] } else { 0.0 })
            .collect();
        let delay = lag_ms(&signal, &delayed);
        // The finite window biases the interpolated peak by a fraction of a step.
        assert!(
            (delay - 37.0).abs() < 0.3,
            "a delay of 37 ms read as {delay} ms"
        );
        let one = &chain(&signal, 1.0, None)[0];
        let model = neuron(1.0, None);
        let (a, b) = (model.alpha[0], model.beta[0]);
        let want = (a / (1.0 - a) + b / (1.0 - b)) * DT_MS;
        let got = lag_ms(&signal, one);
        assert!((got - want).abs() < 0.5, "lag {got} ms vs {want} ms");
    }
}
