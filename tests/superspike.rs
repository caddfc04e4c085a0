//! SuperSpike's accumulated update against the exact gradient of the van Rossum loss.
//!
//! For one LIF layer driven by fixed input spikes, BPTT with the surrogate gives
//! `∂L/∂w_ij = (dt/B) Σ_t f_i[t] (κ ∗ σ'(U_i − θ) ∂U_i/∂w_ij)[t]` with `f = κ ∗ (S − S*)`.
//! SuperSpike replaces `∂U_i/∂w_ij` by the presynaptic PSP `ε ∗ S_j`, which ignores the
//! reset: the two agree exactly while the layer does not spike, and differ by the reset's
//! effect on the membrane once it does.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikegrad::filters::DoubleExponential;
use spikegrad::losses::{compute_timed, LossKind, Targets, VanRossumKernel};
use spikegrad::neurons::{Lif, ResetGrad};
use spikegrad::rules::SuperSpikeTraces;
use spikegrad::scan;
use spikegrad::surrogates::{SpikeFn, Surrogate};
use spikegrad::Seq;

const DT_MS: f64 = 1.0;
const TAU_SYN_MS: f64 = 5.0;
const TAU_MEM_MS: f64 = 10.0;
const THRESHOLD: f64 = 1.0;

struct Setup {
    input: Seq<f64>,
    target: Seq<f32>,
    w: Vec<f64>,
    inputs: usize,
    outputs: usize,
}

fn setup(weight_scale: f64, seed: u64) -> Setup {
    let (steps, batch, inputs, outputs) = (150, 2, 6, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut input = Seq::zeros(steps, batch, inputs);
    input
        .data
        .iter_mut()
        .for_each(|v| *v = f64::from(u8::from(rng.random_bool(0.15))));
    let mut target = Seq::zeros(steps, batch, outputs);
    target
        .data
        .iter_mut()
        .for_each(|v| *v = f32::from(u8::from(rng.random_bool(0.03))));
    let w = (0..inputs * outputs)
        .map(|_| rng.random_range(0.2..1.0) * weight_scale)
        .collect();
    Setup {
        input,
        target,
        w,
        inputs,
        outputs,
    }
}

fn model(outputs: usize) -> Lif<f64> {
    Lif {
        alpha: vec![(-DT_MS / TAU_SYN_MS).exp(); outputs],
        beta: vec![(-DT_MS / TAU_MEM_MS).exp(); outputs],
        threshold: THRESHOLD,
        spike: SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 5.0 },
        },
        reset: ResetGrad::Detached,
    }
}

/// `(∂L/∂W by BPTT, −G/B by SuperSpike, output spike count)`, both `[inputs, outputs]`.
fn both(s: &Setup) -> (Vec<f64>, Vec<f64>, f64) {
    let (steps, batch) = (s.input.steps, s.input.batch);
    let (n_in, n_out) = (s.inputs, s.outputs);
    let mut x = Seq::zeros(steps, batch, n_out);
    for t in 0..steps {
        for b in 0..batch {
            for j in 0..n_in {
                if s.input.at(t, b, j) != 0.0 {
                    for i in 0..n_out {
                        x.row_mut(t, b)[i] += s.w[j * n_out + i];
                    }
                }
            }
        }
    }
    let lif = model(n_out);
    let trace = scan::forward(&lif, x, None);
    let kernel = VanRossumKernel::default();
    let loss = compute_timed(
        LossKind::VanRossum(kernel),
        DT_MS,
        &trace.out,
        Targets::Sequence(&s.target),
    )
    .unwrap();
    let grads = scan::backward(&lif, &trace, &loss.grad, None);
    let mut bptt = vec![0.0; n_in * n_out];
    for t in 0..steps {
        for b in 0..batch {
            for j in 0..n_in {
                for i in 0..n_out {
                    bptt[j * n_out + i] += s.input.at(t, b, j) * grads.input.at(t, b, i);
                }
            }
        }
    }
    let mut traces = SuperSpikeTraces::new(
        batch,
        n_in,
        n_out,
        DoubleExponential::new(TAU_SYN_MS, TAU_MEM_MS, DT_MS),
        kernel.filter_at(DT_MS),
        DT_MS,
    );
    for t in 0..steps {
        let rows = t * batch * n_out..(t + 1) * batch * n_out;
        let sigma: Vec<f64> = trace.saved[rows.clone()]
            .iter()
            .map(|state| lif.spike.derivative(state.mem - THRESHOLD))
            .collect();
        let error: Vec<f64> = rows
            .clone()
            .map(|r| f64::from(s.target.data[r]) - trace.out.data[r])
            .collect();
        traces.step(s.input.step(t), &sigma, &error);
    }
    let superspike = traces.update().iter().map(|g| -g / batch as f64).collect();
    (bptt, superspike, trace.out.data.iter().sum())
}

fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

#[test]
fn superspike_equals_the_van_rossum_gradient_while_the_layer_is_silent() {
    let s = setup(0.2, 1);
    let (bptt, superspike, spikes) = both(&s);
    assert_eq!(spikes, 0.0, "the regime of the check: no output spike");
    assert!(
        bptt.iter().any(|g| g.abs() > 1e-6),
        "a non-trivial gradient"
    );
    let err = relative_error(&superspike, &bptt);
    assert!(err < 1e-12, "relative error {err}");
}

#[test]
fn with_output_spikes_superspike_drops_only_the_reset() {
    let s = setup(1.6, 2);
    let (bptt, superspike, spikes) = both(&s);
    assert!(spikes > 10.0, "the layer spikes ({spikes})");
    let err = relative_error(&superspike, &bptt);
    // The PSP ignores the reset: the update stays aligned with the gradient but not equal.
    let cosine = bptt
        .iter()
        .zip(&superspike)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        / (bptt.iter().map(|a| a * a).sum::<f64>() * superspike.iter().map(|b| b * b).sum::<f64>())
            .sqrt();
    assert!(
        err > 1e-6,
        "the reset must make a difference (relative error {err})"
    );
    assert!(cosine > 0.5, "cosine {cosine}");
}
