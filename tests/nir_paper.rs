//! The NIR paper's Braille RSNN graphs (Pedersen et al., "Neuromorphic intermediate
//! representation", Nature Communications 15, 8122 (2024); the NIR repository's
//! `paper/03_rnn/braille_noDelay_bias_zero.nir` and `braille_noDelay_noBias_subtract.nir`,
//! not shipped here) on the paper's Braille task rebuilt from the shared recordings.
//!
//! Runs only when `NIR_PAPER_DIR` names a folder holding those two graphs and `../shared`
//! holds the Braille recordings; otherwise it says why it skips.
//!
//! The inputs follow the paper's README: the letters Space, A, E, I, O, U and Y; the
//! sigma-delta encoding with threshold 1; ON and OFF events of a taxel merged into one
//! channel (12 inputs); 5 ms bins, 256 of them, one per simulation step of `dt = 1e-4` s (the
//! graphs' time constants are snnTorch's decays written for that step). Each graph is
//! imported (forward Euler; the second with `reset: subtract`, as it was trained) and its
//! spikes are compared, entry for entry on every sample, with a float64 forward-Euler
//! simulation of the graph written here. (The paper's test split is not public, and these
//! recordings, encoded so, do not give the paper's input statistics: the networks fire far
//! more than on the paper's data and classify at chance, so no accuracy is compared.)

use rand_chacha::ChaCha8Rng;
use spikegrad::data::{read_braille, BrailleEncoding, Target};
use spikegrad::layers::Input;
use spikegrad::network::Network;
use spikegrad::neurons::ResetMode;
use spikegrad::nir::{self, Discretisation, ImportOptions, NirGraph, NodeKind};
use spikegrad::tensor::Seq;
use std::path::{Path, PathBuf};

const LETTERS: [&str; 7] = ["Space", "A", "E", "I", "O", "U", "Y"];
const BIN_S: f64 = 5e-3;
const STEPS: usize = 256;
const DT_S: f64 = 1e-4;

/// One of the paper's graphs and how it resets.
struct PaperGraph {
    name: &'static str,
    reset: ResetMode,
}

const GRAPHS: [PaperGraph; 2] = [
    PaperGraph {
        name: "noDelay_bias_zero",
        reset: ResetMode::Zero,
    },
    PaperGraph {
        name: "noDelay_noBias_subtract",
        reset: ResetMode::Subtract,
    },
];

/// The seven letters' samples as `[STEPS, B, 12]` 0/1 inputs.
fn braille_task(path: &Path) -> Seq<f32> {
    let data = read_braille(path).unwrap();
    let events = data
        .encode(&BrailleEncoding::SigmaDelta { threshold: 1.0 })
        .unwrap();
    let chosen: Vec<usize> = (events.samples.iter().enumerate())
        .filter(|(_, s)| match s.target {
            Target::Class(c) => LETTERS.contains(&data.class_names[c].as_str()),
            _ => false,
        })
        .map(|(k, _)| k)
        .collect();
    let batch = chosen.len();
    let mut x = Seq::zeros(STEPS, batch, 12);
    for (b, &k) in chosen.iter().enumerate() {
        let s = &events.samples[k];
        for (&t, &unit) in s.times_s.iter().zip(&s.units) {
            let bin = (f64::from(t) / BIN_S).floor() as usize;
            if bin < STEPS {
                x.data[(bin * batch + b) * 12 + unit as usize / 2] = 1.0;
            }
        }
    }
    x
}

/// `(weight [out, in] row-major, bias)` of an `Affine` or `Linear` node.
fn weights(g: &NirGraph, name: &str) -> (Vec<f64>, usize, Vec<f64>) {
    match &g.nodes[name].kind {
        NodeKind::Affine { weight, bias } => {
            (weight.data.clone(), weight.shape[1], bias.data.clone())
        }
        NodeKind::Linear { weight } => (
            weight.data.clone(),
            weight.shape[1],
            vec![0.0; weight.shape[0]],
        ),
        other => panic!("{name}: {}", other.type_name()),
    }
}

/// A CubaLIF node stepped in float64 by forward Euler at `DT_S`, as snnTorch's exporter
/// meant it: `I ← I + dt/τ_syn (w_in x − I)`, `v ← v + dt/τ_mem (v_leak − v + r I)` from the
/// membrane after the previous spike's reset, spike when `v > v_threshold`.
struct CubaLif {
    alpha: Vec<f64>,
    beta: Vec<f64>,
    gain_syn: Vec<f64>,
    gain_mem: Vec<f64>,
    threshold: Vec<f64>,
    reset: ResetMode,
    syn: Vec<f64>,
    mem: Vec<f64>,
    spikes: Vec<f64>,
}

impl CubaLif {
    fn new(g: &NirGraph, name: &str, batch: usize, reset: ResetMode) -> Self {
        let NodeKind::Leaky(l) = &g.nodes[name].kind else {
            panic!("{name} is not a neuron node");
        };
        let per = |f: &dyn Fn(usize) -> f64| (0..l.size()).map(f).collect::<Vec<f64>>();
        let tau_syn = l.tau_syn_s.as_ref().expect("CubaLIF");
        let w_in = l.w_in.as_ref().expect("w_in");
        let zero_leak = l.v_leak.data.iter().all(|&v| v == 0.0);
        let zero_reset = l
            .v_reset
            .as_ref()
            .is_none_or(|v| v.data.iter().all(|&v| v == 0.0));
        assert!(zero_leak && zero_reset, "{name}: v_leak and v_reset are 0");
        let n = l.size() * batch;
        Self {
            alpha: per(&|j| 1.0 - DT_S / tau_syn.data[j]),
            beta: per(&|j| 1.0 - DT_S / l.tau_mem_s.data[j]),
            gain_syn: per(&|j| DT_S / tau_syn.data[j] * w_in.data[j]),
            gain_mem: per(&|j| DT_S / l.tau_mem_s.data[j] * l.r.data[j]),
            threshold: per(&|j| l.v_threshold.as_ref().expect("spiking").data[j]),
            reset,
            syn: vec![0.0; n],
            mem: vec![0.0; n],
            spikes: vec![0.0; n],
        }
    }

    /// One step on the input currents `x` (`[B, N]`); the spikes are kept in `self.spikes`.
    fn step(&mut self, x: &[f64]) {
        let n = self.alpha.len();
        for (k, &x) in x.iter().enumerate() {
            let j = k % n;
            let (kept, after_leak) = match (self.reset, self.spikes[k] > 0.0) {
                (_, false) => (self.mem[k], 0.0),
                (ResetMode::Zero, true) => (0.0, 0.0),
                (ResetMode::Subtract, true) => (self.mem[k] - self.threshold[j], 0.0),
                (ResetMode::SubtractAfterLeak, true) => (self.mem[k], self.threshold[j]),
            };
            self.syn[k] = self.alpha[j] * self.syn[k] + self.gain_syn[j] * x;
            self.mem[k] = self.beta[j] * kept - after_leak + self.gain_mem[j] * self.syn[k];
            self.spikes[k] = f64::from(u8::from(self.mem[k] > self.threshold[j]));
        }
    }
}

/// `y[b, o] = Σ_i W[o, i] x[b, i] + bias[o]`.
fn project((w, cols, bias): &(Vec<f64>, usize, Vec<f64>), x: &[f64], y: &mut [f64]) {
    let rows = bias.len();
    for (xb, yb) in x.chunks_exact(*cols).zip(y.chunks_exact_mut(rows)) {
        for (o, y) in yb.iter_mut().enumerate() {
            let row = &w[o * cols..(o + 1) * cols];
            *y = bias[o] + row.iter().zip(xb).map(|(w, x)| w * x).sum::<f64>();
        }
    }
}

/// The graph's hidden and output spikes on `x`, each `[T, B, N]` flattened.
fn simulate(g: &NirGraph, x: &Seq<f32>, reset: ResetMode) -> [Vec<f64>; 2] {
    let batch = x.batch;
    let (fc1, rec, fc2) = (
        weights(g, "fc1"),
        weights(g, "lif1.w_rec"),
        weights(g, "fc2"),
    );
    let mut lif1 = CubaLif::new(g, "lif1.lif", batch, reset);
    let mut lif2 = CubaLif::new(g, "lif2", batch, reset);
    let (n1, n2) = (fc1.2.len(), fc2.2.len());
    let (mut a, mut r, mut b) = (
        vec![0.0; batch * n1],
        vec![0.0; batch * n1],
        vec![0.0; batch * n2],
    );
    let mut out = [Vec::new(), Vec::new()];
    for t in 0..x.steps {
        let xt: Vec<f64> = x.data[t * batch * 12..(t + 1) * batch * 12]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        project(&fc1, &xt, &mut a);
        project(&rec, &lif1.spikes, &mut r);
        a.iter_mut().zip(&r).for_each(|(a, r)| *a += r);
        lif1.step(&a);
        project(&fc2, &lif1.spikes, &mut b);
        lif2.step(&b);
        out[0].extend_from_slice(&lif1.spikes);
        out[1].extend_from_slice(&lif2.spikes);
    }
    out
}

/// The folder of the paper's graphs and the shared recordings, or `None` with the reason.
fn inputs() -> Option<(PathBuf, PathBuf)> {
    let Some(dir) = std::env::var_os("NIR_PAPER_DIR").map(PathBuf::from) else {
        eprintln!("skipped: set NIR_PAPER_DIR to the NIR repository's paper/03_rnn folder");
        return None;
    };
    let braille =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/braille/braille_taxels.h5");
    if !braille.exists() {
        eprintln!("skipped: {} is absent", braille.display());
        return None;
    }
    Some((dir, braille))
}

#[test]
fn nir_paper_braille_graphs_match_a_float64_simulation() {
    let Some((dir, braille)) = inputs() else {
        return;
    };
    let x = braille_task(&braille);
    let batch = x.batch;
    for graph in GRAPHS {
        let path = dir.join(format!("braille_{}.nir", graph.name));
        let g = nir::read_nir(&path).unwrap();
        let run = |reset| {
            let opts = ImportOptions {
                dt_s: DT_S,
                discretisation: Some(Discretisation::ForwardEuler),
                norse_export_dt_s: None,
                reset: Some(reset),
            };
            let net: Network<f32> = nir::import_graph(&g, &opts).unwrap().network;
            let trace = net.forward::<ChaCha8Rng>(
                Input::Dense {
                    x: &x,
                    sparse: true,
                },
                None,
            );
            [trace.hidden[0].spikes().clone(), trace.output().clone()]
        };
        let ours = run(graph.reset);
        let sim = simulate(&g.flattened().unwrap(), &x, graph.reset);
        let count = |ours: &[Seq<f32>; 2]| -> Vec<usize> {
            (0..2)
                .map(|k| {
                    let pairs = ours[k].data.iter().zip(&sim[k]);
                    pairs.filter(|(a, b)| f64::from(**a) != **b).count()
                })
                .collect()
        };
        let differ = count(&ours);
        let other = match graph.reset {
            ResetMode::Zero => ResetMode::Subtract,
            _ => ResetMode::Zero,
        };
        let with_other: usize = count(&run(other)).iter().sum();
        let total = ours[0].data.len() + ours[1].data.len();
        let spikes: f32 = ours.iter().map(|s| s.data.iter().sum::<f32>()).sum();
        println!(
            "{}: {} of {total} spike entries differ from the float64 simulation (hidden {}, \
             output {}; {spikes} spikes, {batch} samples); imported with reset {} instead: \
             {with_other}",
            graph.name,
            differ[0] + differ[1],
            differ[0],
            differ[1],
            other.name(),
        );
        assert!(
            with_other as f64 > 0.01 * total as f64,
            "the reset must matter"
        );
        assert!(spikes > 0.0, "{}: silent", graph.name);
        assert!(
            (differ[0] + differ[1]) as f64 <= 1e-3 * total as f64,
            "{}: {differ:?} of {total}",
            graph.name
        );
    }
}
