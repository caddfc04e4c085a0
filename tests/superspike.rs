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
use spikegrad::neurons::{Lif, ResetGrad, ResetMode};
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
        reset_mode: ResetMode::Zero,
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
                    bptt[j * n_out + i] += s.input.at(t, b, j) * grads.kept_input().at(t, b, i);
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

mod rule {
    //! The rule through a whole network: `rule = { kind = "superspike" }`.
    use super::*;
    use spikegrad::layers::{Input, ReadoutKind, ReadoutSpec, SpikingLayerSpec};
    use spikegrad::network::{Network, NetworkSpec};
    use spikegrad::neurons::{NeuronKind, NoiseStream, ProspectiveForm};
    use spikegrad::rules::{
        Batch, Bptt, GradientRule, Homeostasis, SuperSpike, SuperSpikeFeedback,
    };

    fn layer(size: usize) -> SpikingLayerSpec {
        SpikingLayerSpec {
            size,
            tau_mem_ms: TAU_MEM_MS,
            tau_syn_ms: TAU_SYN_MS,
            threshold: THRESHOLD,
            ..SpikingLayerSpec::default()
        }
    }

    fn network(sizes: &[usize], weight_scale: f64, seed: u64) -> Network<f64> {
        network_of(NeuronKind::Lif, sizes, weight_scale, seed)
    }

    fn network_of(
        neuron: NeuronKind,
        sizes: &[usize],
        weight_scale: f64,
        seed: u64,
    ) -> Network<f64> {
        let spec = NetworkSpec {
            inputs: 6,
            dt_ms: DT_MS,
            spike: SpikeFn::Heaviside {
                surrogate: Surrogate::SuperSpike { beta: 5.0 },
            },
            input_shape: None,
            encoder: None,
            hidden: sizes
                .iter()
                .map(|&n| SpikingLayerSpec { neuron, ..layer(n) })
                .collect(),
            readout: ReadoutSpec {
                kind: ReadoutKind::Spikes,
                size: *sizes.last().unwrap(),
                ..ReadoutSpec::default()
            },
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut net = Network::new(&spec, &mut rng).unwrap();
        for l in &mut net.hidden {
            l.w_in
                .data
                .iter_mut()
                .for_each(|w| *w = rng.random_range(0.2..1.0) * weight_scale);
        }
        net
    }

    fn gradients(
        rule: &dyn GradientRule<f64>,
        net: &Network<f64>,
        s: &Setup,
        target: &Seq<f32>,
    ) -> (f64, Vec<Vec<f64>>) {
        let batch = Batch {
            input: Input::Dense {
                x: &s.input,
                sparse: false,
            },
            targets: Targets::Sequence(target),
            loss: LossKind::VanRossum(VanRossumKernel::default()),
            activity: &[],
            dropout: None,
            noise: NoiseStream::default(),
        };
        let g = rule.gradients(net, batch).unwrap();
        (g.loss, g.grads)
    }

    /// `−G/B` of one silent layer of `neuron` against BPTT's gradient.
    fn silent_layer_error(neuron: NeuronKind, weight_scale: f64) -> f64 {
        let s = setup(0.2, 3);
        let net = network_of(neuron, &[3], weight_scale, 3);
        let rule = SuperSpike::new(
            SuperSpikeFeedback::Symmetric,
            Homeostasis::default(),
            &net,
            1,
        );
        let (loss, ours) = gradients(&rule, &net, &s, &s.target);
        let (bptt_loss, bptt) = gradients(&Bptt, &net, &s, &s.target);
        assert_eq!(loss, bptt_loss);
        assert!(bptt[0].iter().any(|g| g.abs() > 1e-6));
        relative_error(&ours[0], &bptt[0])
    }

    /// One layer, symmetric feedback, no output spike: the rule's gradient is BPTT's.
    #[test]
    fn one_silent_layer_gets_the_exact_van_rossum_gradient() {
        let err = silent_layer_error(NeuronKind::Lif, 0.2);
        assert!(err < 1e-12, "relative error {err}");
    }

    /// The same for spiking prospective neurons, whose PSP looks ahead (`V = U + k (U − A)`),
    /// with the default horizon, none (`k = 0`) and a longer one.
    #[test]
    fn one_silent_prospective_layer_gets_the_exact_van_rossum_gradient() {
        for horizon_ms in [None, Some(0.0), Some(40.0)] {
            let neuron = NeuronKind::Prospective {
                tau_ada_ms: 2.0,
                horizon_ms,
                form: ProspectiveForm::Spiking,
            };
            let err = silent_layer_error(neuron, 0.1);
            assert!(err < 1e-12, "horizon {horizon_ms:?}: relative error {err}");
        }
    }

    /// Two layers: the output layer's update is the one-layer rule on the hidden spikes, and
    /// with symmetric feedback the hidden update points along BPTT's (cosine > 0.5); random
    /// and uniform feedback give other hidden updates but the same output update.
    #[test]
    fn feedback_changes_only_the_hidden_update() {
        let s = setup(0.2, 4);
        let net = network(&[8, 3], 1.5, 4);
        let kinds = [
            SuperSpikeFeedback::Symmetric,
            SuperSpikeFeedback::Random,
            SuperSpikeFeedback::Uniform,
        ];
        let none = Homeostasis {
            rho: 0.0,
            ..Homeostasis::default()
        };
        let runs: Vec<Vec<Vec<f64>>> = kinds
            .iter()
            .map(|&f| gradients(&SuperSpike::new(f, none, &net, 7), &net, &s, &s.target).1)
            .collect();
        let (_, bptt) = gradients(&Bptt, &net, &s, &s.target);
        for r in &runs[1..] {
            assert_eq!(r[1], runs[0][1], "the output layer's update");
            assert!(
                relative_error(&r[0], &runs[0][0]) > 1e-3,
                "the hidden update"
            );
        }
        let cosine = |a: &[f64], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f64>() * b.iter().map(|y| y * y).sum::<f64>())
                .sqrt()
        };
        let hidden = cosine(&runs[0][0], &bptt[0]);
        let output = cosine(&runs[0][1], &bptt[1]);
        println!(
            "symmetric SuperSpike against BPTT: hidden cosine {hidden:.3}, output {output:.3}"
        );
        assert!(hidden > 0.5 && output > 0.5, "{hidden} {output}");
    }

    /// With the output equal to its target the error vanishes, and random feedback's update
    /// of the hidden weights is the homeostatic decay alone: `ρ w_ij dt Σ_t z_i[t]⁴ / B`.
    #[test]
    fn random_feedback_decays_hidden_weights_by_the_rate_trace() {
        let s = setup(0.2, 5);
        let net = network(&[8, 3], 2.5, 5);
        let h = Homeostasis {
            rho: 0.7,
            tau_ms: 20.0,
        };
        let x = Input::Dense {
            x: &s.input,
            sparse: false,
        };
        let trace = net.forward::<ChaCha8Rng>(x, None);
        let own: Seq<f32> = Seq::from_vec(
            s.input.steps,
            s.input.batch,
            3,
            trace.output().data.iter().map(|&v| v as f32).collect(),
        )
        .unwrap();
        let rule = SuperSpike::new(SuperSpikeFeedback::Random, h, &net, 2);
        let (_, g) = gradients(&rule, &net, &s, &own);
        let spikes = trace.hidden[0].spikes();
        assert!(
            spikes.data.iter().sum::<f64>() > 5.0,
            "the hidden layer spikes"
        );
        let decay = (-DT_MS / h.tau_ms).exp();
        let n = 8;
        let mut z4 = vec![0.0; n];
        for b in 0..s.input.batch {
            let mut z = vec![0.0; n];
            for t in 0..s.input.steps {
                for i in 0..n {
                    z[i] = z[i] * decay + spikes.at(t, b, i);
                    z4[i] += z[i].powi(4);
                }
            }
        }
        let w = &net.hidden[0].w_in.data;
        for (idx, &got) in g[0].iter().enumerate() {
            let expected = h.rho * w[idx] * DT_MS * z4[idx % n] / s.input.batch as f64;
            assert!(
                (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "{idx}"
            );
        }
        assert!(g[1].iter().all(|&v| v == 0.0), "no error, no output update");
    }
}
