//! Stochastic neurons with escape noise (Gygax & Zenke 2025) inside the network: the sampled
//! spikes follow `f(U − θ)`, the surrogate gradient of one neuron's spike is the derivative of
//! its expected value, the adjoint replays the forward pass's own random spikes, and results do
//! not depend on the number of threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikegrad::layers::{Input, ReadoutSpec, SpikingLayerSpec};
use spikegrad::network::{Network, NetworkSpec};
use spikegrad::neurons::{Lif, NoiseStream, ResetGrad, ResetMode};
use spikegrad::scan::{self, ScanContext};
use spikegrad::surrogates::{EscapeNoise, SpikeFn, Surrogate};
use spikegrad::Seq;

const SIGMOID: SpikeFn = SpikeFn::EscapeNoise {
    noise: EscapeNoise::Sigmoid { beta: 10.0 },
    surrogate: None,
};

/// One hidden layer of `n` LIF neurons on `inputs` channels, `dt = 1 ms`.
fn network(inputs: usize, n: usize, spike: SpikeFn, recurrent: bool) -> Network<f64> {
    let spec = NetworkSpec {
        inputs,
        dt_ms: 1.0,
        spike,
        input_shape: None,
        encoder: None,
        hidden: vec![SpikingLayerSpec {
            size: n,
            recurrent,
            tau_mem_ms: 10.0,
            tau_syn_ms: 5.0,
            ..SpikingLayerSpec::default()
        }],
        readout: ReadoutSpec {
            size: 2,
            ..ReadoutSpec::default()
        },
    };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = Network::new(&spec, &mut rng).unwrap();
    for w in &mut net.hidden[0].w_in.data {
        *w = rng.random_range(-2.0..6.0);
    }
    if let Some(w) = &mut net.hidden[0].w_rec {
        w.data
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-1.0..1.0));
    }
    for w in &mut net.readout.w.data {
        *w = rng.random_range(-1.0..1.0);
    }
    net
}

/// One step, every sample the same input: each of `batch` copies draws its own noise, so the
/// mean spike of a neuron over the batch estimates `E[S] = f(U − θ)`, and the backward pass of
/// `L = Σ_b S_b` gives `∂L/∂W = batch · f'(U − θ) ∂U/∂W`, the derivative of the expectation.
#[test]
fn one_step_spikes_sample_the_escape_function_and_its_gradient_is_that_of_the_expectation() {
    let (inputs, n, batch) = (3, 4, 20_000);
    let net = network(inputs, n, SIGMOID, false);
    let layer = &net.hidden[0];
    let x_row = [1.0, 0.0, 1.0];
    let x = Seq::from_vec(1, batch, inputs, x_row.repeat(batch)).unwrap();
    let input = Input::Dense {
        x: &x,
        sparse: false,
    };
    let noise = NoiseStream::derive(9, &[1]);
    let trace = net.forward_in::<ChaCha8Rng>(input, None, noise);
    let spikes = trace.hidden[0].spikes();
    let beta = (-1e-3f64 / 10e-3).exp();
    let noise_fn = EscapeNoise::Sigmoid { beta: 10.0 };
    let expected = |w: &[f64], j: usize| {
        let current: f64 = (0..inputs).map(|i| x_row[i] * w[i * n + j]).sum();
        noise_fn.probability((1.0 - beta) * current - 1.0)
    };
    let w = &layer.w_in.data;
    for j in 0..n {
        let p = expected(w, j);
        let mean = (0..batch).map(|b| spikes.at(0, b, j)).sum::<f64>() / batch as f64;
        let se = (p * (1.0 - p) / batch as f64).sqrt().max(1e-3);
        assert!((mean - p).abs() < 5.0 * se, "neuron {j}: {mean} vs f = {p}");
    }
    // The layer's backward pass of L = Σ_b Σ_j S[0, b, j] against central differences of the
    // exact expectation batch · Σ_j f(U_j − θ).
    let ones = Seq::from_vec(1, batch, n, vec![1.0; batch * n]).unwrap();
    let (grads, _) = layer.backward(input, &trace.hidden[0], &ones, None, false);
    let h = 1e-6;
    for k in 0..w.len() {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[k] += h;
        wm[k] -= h;
        let total = |w: &[f64]| batch as f64 * (0..n).map(|j| expected(w, j)).sum::<f64>();
        let fd = (total(&wp) - total(&wm)) / (2.0 * h);
        let got = grads[0][k];
        assert!(
            (got - fd).abs() <= 1e-6 * fd.abs().max(1.0),
            "dW[{k}]: {got} vs {fd}"
        );
    }
}

/// The adjoint recomputes `S[t−1]` from the saved membrane potential and the step's random
/// number: with a differentiable reset (which reads `S[t−1]`), its input gradient equals a
/// hand-written BPTT through the LIF equations that uses the spikes the forward pass emitted.
#[test]
fn the_adjoint_replays_the_forward_pass_spikes() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (steps, batch, n) = (30, 3, 5);
    let spike = SpikeFn::EscapeNoise {
        noise: EscapeNoise::Exponential {
            p0: 0.2,
            delta_u: 0.3,
        },
        surrogate: Some(Surrogate::SuperSpike { beta: 5.0 }),
    };
    let lif = Lif {
        alpha: (0..n).map(|_| rng.random_range(0.5..0.9)).collect(),
        beta: (0..n).map(|_| rng.random_range(0.6..0.95)).collect(),
        threshold: 1.0,
        spike,
        reset: ResetGrad::Differentiable,
        reset_mode: ResetMode::Zero,
    };
    let x: Vec<f64> = (0..steps * batch * n)
        .map(|_| rng.random_range(0.0..4.0))
        .collect();
    let g: Vec<f64> = (0..steps * batch * n)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let x = Seq::from_vec(steps, batch, n, x).unwrap();
    let g = Seq::from_vec(steps, batch, n, g).unwrap();
    let ctx = ScanContext {
        noise: NoiseStream(77),
        ..ScanContext::default()
    };
    let trace = scan::forward_with::<_, _, scan::KeepSaved>(&lif, x.clone(), None, &ctx);
    let spikes = trace.out.data.iter().sum::<f64>();
    assert!(
        spikes > 20.0 && spikes < (steps * batch * n) as f64 - 20.0,
        "{spikes}"
    );
    let grads = scan::backward_with(&lif, &trace, &g, None, &ctx);
    for b in 0..batch {
        for j in 0..n {
            let (a, be) = (lif.alpha[j], lif.beta[j]);
            let (mut lam_u, mut lam_i) = (0.0, 0.0);
            for t in (0..steps).rev() {
                let u = trace.saved[(t * batch + b) * n + j].mem;
                let s_prev = if t > 0 {
                    trace.out.at(t - 1, b, j)
                } else {
                    0.0
                };
                let u_prev = if t > 0 {
                    trace.saved[((t - 1) * batch + b) * n + j].mem
                } else {
                    0.0
                };
                // S[t] enters L directly and, through the reset, U[t+1] (carried in g_prev).
                let lam_u_star = lam_u + g.at(t, b, j) * spike.derivative(u - 1.0);
                let lam_i_star = lam_i + (1.0 - be) * lam_u_star;
                let want = lam_i_star;
                let got = grads.kept_input().at(t, b, j);
                assert!(
                    (got - want).abs() < 1e-12 * want.abs().max(1.0),
                    "t={t} b={b} j={j}"
                );
                lam_i = a * lam_i_star;
                lam_u = be * (1.0 - s_prev) * lam_u_star;
                // The reset's gradient reaches S[t−1]; add it to that step's g via the output
                // derivative, as the scan does.
                if t > 0 {
                    let g_s_prev = -be * u_prev * lam_u_star;
                    lam_u += g_s_prev * spike.derivative(u_prev - 1.0);
                }
            }
        }
    }
}

/// Spikes, loss gradient and trained weights do not depend on the number of threads.
#[test]
fn stochastic_runs_are_identical_for_any_thread_count() {
    let (inputs, n, steps, batch) = (6, 16, 40, 9);
    let net = network(inputs, n, SIGMOID, true).cast::<f32>();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f32> = (0..steps * batch * inputs)
        .map(|_| f32::from(u8::from(rng.random::<f64>() < 0.2)))
        .collect();
    let x = Seq::from_vec(steps, batch, inputs, x).unwrap();
    let g = Seq::from_vec(steps, batch, 2, vec![0.1f32; steps * batch * 2]).unwrap();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let input = Input::Dense {
                x: &x,
                sparse: true,
            };
            let trace = net.forward_in::<ChaCha8Rng>(input, None, NoiseStream(5));
            let grads = net.backward(input, &trace, &g, &[]);
            (trace.hidden[0].spikes().clone(), grads)
        })
    };
    let (s1, g1) = run(1);
    let (s3, g3) = run(3);
    assert!(s1.data.iter().any(|&s| s > 0.0));
    assert_eq!(s1, s3);
    assert_eq!(g1, g3);
    // Another noise stream gives other spikes.
    let input = Input::Dense {
        x: &x,
        sparse: true,
    };
    let other = net.forward_in::<ChaCha8Rng>(input, None, NoiseStream(6));
    assert_ne!(other.hidden[0].spikes(), &s1);
}
