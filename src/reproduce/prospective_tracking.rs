//! `prospective-tracking`: teaching-signal synchronization (Zucchet, Feng, Laborieux, Zenke,
//! Senn & Sacramento, arXiv 2511.14917). An online rule hands every layer the output error
//! of the present moment, but in a chain of slow neurons a deep layer's activity reaches the
//! output only `τ` per layer later, so the error it receives is about activity it caused long
//! before. Prospective neurons cancel the lag, which should put teacher and activity back in
//! step.
//!
//! The task: a 2-D reaching movement (four centre-out-and-back reaches of 500 ms, minimum-jerk
//! profiles) written as a place code: two populations of 20 output neurons, one for each
//! coordinate, where in each 10 ms column the neuron whose preferred value is nearest the
//! coordinate spikes. A chain of `DEPTH` hidden layers of slow spiking neurons (`τ_syn` 5 ms,
//! `τ_mem` 20 ms) and the output layer learn to produce it from 200 frozen Poisson inputs,
//! trained with SuperSpike (symmetric feedback, van Rossum loss, RMSmax). Both arms use the
//! [`crate::neurons::Prospective`] model in its spiking form; the leaky arm has horizon 0
//! (`k = 0`, a leaky neuron reset by subtraction), the prospective arm the default horizon
//! `τ_syn + τ_mem`. BPTT trains the leaky chain as a reference: exact credit assignment in
//! time, so what it reaches is not limited by the lag.
//!
//! `tracking_r2`: the trajectory decoded from the test output (population vector of the
//! van Rossum-filtered spikes of each population) against the same decoding of the target,
//! `1 − SSE/SST` over both coordinates.

use super::{shipped, spiking, train, Options, Outcome, Reproduction, Row};
use crate::config::{DataSource, ExperimentConfig};
use crate::data::raster::Raster;
use crate::experiment::ExperimentError;
use crate::filters::FilterState;
use crate::layers::SpikingLayerSpec;
use crate::losses::VanRossumKernel;
use crate::network::WeightInit;
use crate::neurons::{NeuronKind, ProspectiveForm};
use crate::rules::{Homeostasis, RuleKind, SuperSpikeFeedback};
use crate::tensor::Seq;
use std::path::{Path, PathBuf};

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "prospective-tracking",
    paper: "Zucchet et al. 2025, arXiv 2511.14917 (prospective neurons), teaching signals",
    summary: "a deep chain of slow spiking neurons learns a reach online, leaky vs prospective",
    run,
};

/// Hidden layers of the chain (the output layer comes on top).
const DEPTH: usize = 4;
const HIDDEN: usize = 64;
const TAU_SYN_MS: f64 = 5.0;
const TAU_MEM_MS: f64 = 20.0;
const TAU_ADA_MS: f64 = 2.0;
/// Output neurons per coordinate.
const POPULATION: usize = 20;
const COLUMN_MS: f64 = 10.0;
/// Columns per reach (out and back).
const REACH_COLUMNS: usize = 50;
const REACHES: usize = 4;
const EPOCHS: usize = 300;

/// A chain's neurons and initial membrane fluctuation.
#[derive(Clone, Copy)]
struct Chain {
    /// The horizon (0: leaky; `None`: the default, `τ_syn + τ_mem`).
    horizon_ms: Option<f64>,
    /// `σ_U` of the fluctuation-driven init. Every layer is initialised for the input's
    /// rate, so deeper layers fire faster than the first; each chain takes the largest value
    /// of 0.4, 0.5, …, 0.8 whose five layers all fire between 1 and 100 Hz at the start
    /// (prospective neurons pass more of the fast fluctuations on, so they need less).
    sigma_u: f64,
}

const LEAKY: Chain = Chain {
    horizon_ms: Some(0.0),
    sigma_u: 0.6,
};
const PROSPECTIVE: Chain = Chain {
    horizon_ms: None,
    sigma_u: 0.5,
};

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let target = write_target(&options.out)?;
    let superspike = RuleKind::SuperSpike {
        feedback: SuperSpikeFeedback::Symmetric,
        homeostasis: Homeostasis::default(),
    };
    let arms = [
        ("tracking_r2_leaky", "leaky", LEAKY, superspike),
        (
            "tracking_r2_prospective",
            "prospective",
            PROSPECTIVE,
            superspike,
        ),
        (
            "tracking_r2_leaky_bptt",
            "leaky_bptt",
            LEAKY,
            RuleKind::Bptt,
        ),
    ];
    let mut rows = Vec::new();
    let mut distances = Vec::new();
    let mut runs = Vec::new();
    for (metric, name, chain, rule) in arms {
        let config = chain_config(&target, chain, rule, options.quick);
        let (path, report) = train(config, &options.out, name, options.observer)?;
        rows.push(Row {
            metric,
            ours: tracking_r2(&path)?.into(),
            anchor: None,
            published: published(name),
        });
        distances.push(Row {
            metric: distance_metric(name),
            ours: report.van_rossum.unwrap_or(f64::NAN).into(),
            anchor: None,
            published: "van Rossum distance over silence's (not in the paper)",
        });
        runs.push(path);
    }
    rows.extend(distances);
    let setting = format!(
        "200 frozen Poisson inputs -> {DEPTH} x {HIDDEN} -> {} spiking prospective neurons \
         (τ_syn {TAU_SYN_MS} ms, τ_mem {TAU_MEM_MS} ms, τ_ada {TAU_ADA_MS} ms; leaky: horizon \
         0), {REACHES} reaches of {} ms in a place code; SuperSpike (symmetric) or BPTT, RMSmax, \
         {} epochs of 10 trials; R² of the decoded test trajectory",
        2 * POPULATION,
        REACH_COLUMNS as f64 * COLUMN_MS,
        if options.quick { 2 } else { EPOCHS }
    );
    Ok(Outcome {
        rows,
        setting,
        runs,
        figures: Vec::new(),
        heat_maps: Vec::new(),
    })
}

fn published(arm: &str) -> &'static str {
    match arm {
        "leaky" => "online learning in a deep chain of slow neurons suffers from the lag",
        "prospective" => "prospective neurons synchronize teaching signals: learning recovers",
        _ => "not in the paper (exact credit assignment in time, leaky chain)",
    }
}

fn distance_metric(arm: &str) -> &'static str {
    match arm {
        "leaky" => "vr_leaky",
        "prospective" => "vr_prospective",
        _ => "vr_leaky_bptt",
    }
}

/// The pattern config turned into the chain: `DEPTH` hidden layers and the output layer of
/// spiking prospective neurons of `chain`, the reach target, and `rule`.
fn chain_config(target: &Path, chain: Chain, rule: RuleKind, quick: bool) -> ExperimentConfig {
    let mut config = shipped(super::superspike_pattern::CONFIG);
    let horizon_ms = chain.horizon_ms;
    if let WeightInit::FluctuationDriven { sigma_u, .. } = &mut config.init {
        *sigma_u = chain.sigma_u;
    }
    let layer = |size| SpikingLayerSpec {
        size,
        tau_syn_ms: TAU_SYN_MS,
        tau_mem_ms: TAU_MEM_MS,
        neuron: NeuronKind::Prospective {
            tau_ada_ms: TAU_ADA_MS,
            horizon_ms,
            form: ProspectiveForm::Spiking,
        },
        ..SpikingLayerSpec::default()
    };
    spiking(&mut config).hidden = (0..DEPTH)
        .map(|_| layer(HIDDEN))
        .chain([layer(0)])
        .collect();
    let DataSource::SpikePattern(pattern) = &mut config.data.source else {
        unreachable!("the pattern config has a spike-pattern source")
    };
    pattern.target = Some(target.to_path_buf());
    if quick {
        pattern.nb_samples = 2;
    }
    config.training.rule = rule;
    config.training.epochs = if quick { 2 } else { EPOCHS };
    config
}

/// The reach at time `s` seconds: `(x, y)` in `[−0.8, 0.8]²`.
fn reach(s: f64) -> (f64, f64) {
    let reach_s = REACH_COLUMNS as f64 * COLUMN_MS * 1e-3;
    let k = ((s / reach_s) as usize).min(REACHES - 1);
    let phase = (s - k as f64 * reach_s) / reach_s;
    // Out in the first half, back in the second, each a minimum-jerk profile.
    let tau = if phase < 0.5 {
        2.0 * phase
    } else {
        2.0 - 2.0 * phase
    };
    let jerk = tau.powi(3) * (10.0 - 15.0 * tau + 6.0 * tau * tau);
    let angle = k as f64 * std::f64::consts::FRAC_PI_2;
    (0.8 * jerk * angle.cos(), 0.8 * jerk * angle.sin())
}

/// Preferred value of neuron `i` of a population.
fn preferred(i: usize) -> f64 {
    -1.0 + 2.0 * i as f64 / (POPULATION - 1) as f64
}

/// The place-code raster of the reach: rows `0..P` code x, `P..2P` code y.
fn target_raster() -> Raster {
    let columns = REACH_COLUMNS * REACHES;
    let rows = 2 * POPULATION;
    let mut spikes = vec![false; rows * columns];
    let nearest = |v: f64| ((v + 1.0) / 2.0 * (POPULATION - 1) as f64).round() as usize;
    for c in 0..columns {
        let (x, y) = reach((c as f64 + 0.5) * COLUMN_MS * 1e-3);
        spikes[nearest(x) * columns + c] = true;
        spikes[(POPULATION + nearest(y)) * columns + c] = true;
    }
    Raster {
        rows,
        columns,
        spikes,
    }
}

fn write_target(out: &Path) -> Result<PathBuf, ExperimentError> {
    super::write_raster(out, "reach_target.png", &target_raster())
}

/// The tracking R² of a run's best weights on its test sample.
fn tracking_r2(run: &Path) -> Result<f64, ExperimentError> {
    let spikes = super::test_spikes(run)?;
    let decoded = decode(&spikes.output, spikes.dt_ms);
    let wanted = decode(&spikes.target, spikes.dt_ms);
    Ok(r_squared(&decoded, &wanted))
}

/// The population vector of each coordinate per step, from van Rossum-filtered spikes of
/// sample 0 (0 while a population is silent).
fn decode<F: crate::real::Real>(spikes: &Seq<F>, dt_ms: f64) -> Vec<[f64; 2]> {
    let filter = VanRossumKernel::default().filter_at::<f64>(dt_ms);
    let mut states = vec![FilterState::default(); spikes.width];
    (0..spikes.steps)
        .map(|t| {
            let row = spikes.row(t, 0);
            let filtered: Vec<f64> = states
                .iter_mut()
                .zip(row)
                .map(|(s, &x)| filter.step(s, x.as_f64()))
                .collect();
            let coordinate = |offset: usize| {
                let part = &filtered[offset..offset + POPULATION];
                let total: f64 = part.iter().sum();
                let weighted: f64 = part.iter().enumerate().map(|(i, f)| preferred(i) * f).sum();
                if total > 1e-9 {
                    weighted / total
                } else {
                    0.0
                }
            };
            [coordinate(0), coordinate(POPULATION)]
        })
        .collect()
}

/// `1 − SSE/SST` of `ours` against `wanted`, over both coordinates.
fn r_squared(ours: &[[f64; 2]], wanted: &[[f64; 2]]) -> f64 {
    let n = wanted.len() as f64;
    let mut sse = 0.0;
    let mut sst = 0.0;
    for d in 0..2 {
        let mean = wanted.iter().map(|w| w[d]).sum::<f64>() / n;
        for (o, w) in ours.iter().zip(wanted) {
            sse += (o[d] - w[d]).powi(2);
            sst += (w[d] - mean).powi(2);
        }
    }
    1.0 - sse / sst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reach_target_codes_the_trajectory_and_decodes_back_to_it() {
        let raster = target_raster();
        assert_eq!((raster.rows, raster.columns), (40, 200));
        assert_eq!(raster.count(), 400, "one spike per population per column");
        assert_eq!(reach(0.0), (0.0, 0.0));
        let (x, _) = reach(0.25);
        assert!((x - 0.8).abs() < 1e-9, "the first reach peaks at +x");
        // Decoding the raster's own spikes tracks the reach up to the place code's grid and
        // the kernel's delay.
        let steps = 2000;
        let mut data = vec![0f32; steps * 40];
        for c in 0..200 {
            for r in 0..40 {
                if raster.at(r, c) {
                    data[(c * 10 + 5) * 40 + r] = 1.0;
                }
            }
        }
        let seq = Seq::from_vec(steps, 1, 40, data).unwrap();
        let decoded = decode(&seq, 1.0);
        let truth: Vec<[f64; 2]> = (0..steps)
            .map(|t| {
                let (x, y) = reach(t as f64 * 1e-3);
                [x, y]
            })
            .collect();
        let r2 = r_squared(&decoded, &truth);
        assert!(r2 > 0.9, "R² {r2}");
        assert!(r_squared(&truth, &truth) == 1.0);
    }
}
