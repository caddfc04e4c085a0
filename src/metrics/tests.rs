//! Metrics of a hand-built network on hand-made spikes, against values worked out by hand.

use super::*;
use crate::events::SpikeEvents;
use crate::layers::conv::Extent;
use crate::layers::{ReadoutSpec, SpikingLayerSpec};
use crate::network::NetworkSpec;
use crate::tensor::{Matrix, Seq};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// 3 inputs → 2 recurrent LIF → 2 readouts. Time constants of 1 µs at dt = 1 ms make every
/// decay exactly 0 in f32, so `U[t] = I[t] = x[t]·W_in + S[t−1]·W_rec` and a neuron spikes
/// when that exceeds 1:
///
/// ```text
/// W_in = [2 0; 0 0; 1.5 0.5]   W_rec = [0 0.7; 0 0]   W_out = [1 −1; 0 0.5]
/// ```
///
/// so `S0[t] = x0[t] ∨ x2[t]` and `S1[t] = x2[t] ∧ S0[t−1]`.
fn network() -> Network<f32> {
    let spec = NetworkSpec {
        inputs: 3,
        dt_ms: 1.0,
        hidden: vec![SpikingLayerSpec {
            size: 2,
            recurrent: true,
            tau_mem_ms: 1e-3,
            tau_syn_ms: 1e-3,
            ..Default::default()
        }],
        readout: ReadoutSpec {
            size: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut net = Network::<f32>::new(&spec, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let layer = &mut net.hidden[0];
    layer.w_in = Matrix::from_vec(3, 2, vec![2.0, 0.0, 0.0, 0.0, 1.5, 0.5]).unwrap();
    layer.w_rec = Some(Matrix::from_vec(2, 2, vec![0.0, 0.7, 0.0, 0.0]).unwrap());
    net.readout.w = Matrix::from_vec(2, 2, vec![1.0, -1.0, 0.0, 0.5]).unwrap();
    net
}

/// Two samples, four steps: sample 0 gets {0}, {2}, {}, {0, 2}; sample 1 gets {1}, {}, {0, 1, 2}, {}.
fn events() -> SpikeEvents {
    // Row r = t·B + b.
    let pairs = vec![
        (0, 0),
        (2, 2),
        (6, 0),
        (6, 2),
        (1, 1),
        (5, 0),
        (5, 1),
        (5, 2),
    ];
    SpikeEvents::from_pairs(4, 2, 3, &pairs)
}

fn measure(net: &Network<f32>, input: Input<'_, f32>) -> CostMetrics {
    let trace = net.forward::<ChaCha8Rng>(input, None);
    let mut acc = MetricsAccumulator::new(net);
    acc.add(input, &trace, &BatchTargets::Classes(vec![0, 1]));
    acc.finish(net, Quantization::None).unwrap()
}

#[test]
fn the_hand_built_network_spikes_as_worked_out() {
    let net = network();
    let e = events();
    let trace = net.forward::<ChaCha8Rng>(Input::Events(&e), None);
    let s = trace.hidden[0].spikes();
    let at = |b, n| (0..4).map(|t| s.at(t, b, n)).collect::<Vec<f32>>();
    assert_eq!(at(0, 0), [1.0, 1.0, 0.0, 1.0]);
    assert_eq!(at(0, 1), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(at(1, 0), [0.0, 0.0, 1.0, 0.0]);
    assert_eq!(at(1, 1), [0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn static_metrics_match_hand_counts() {
    let mut net = network();
    // Zeros: 3 of 6 input weights, 3 of 4 recurrent, 1 of 4 readout.
    assert_eq!(connection_sparsity(&net), 7.0 / 14.0);
    // 14 weights and 8 time constants (τ_mem and τ_syn of 2 hidden and 2 readout units).
    let f = footprint(&net, Quantization::None);
    assert_eq!(
        (f.parameter_bytes, f.buffer_bytes, f.total_bytes),
        (88, 0, 88)
    );
    // int8: 14 one-byte weights + 3 four-byte scales + 8 f32 time constants.
    assert_eq!(
        footprint(&net, Quantization::Int8).total_bytes,
        14 + 12 + 32
    );
    net.hidden[0].mask_in = Some(vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
    assert_eq!(footprint(&net, Quantization::None).buffer_bytes, 24);
    assert_eq!(footprint(&net, Quantization::Int8).buffer_bytes, 6);
}

#[test]
fn workload_metrics_on_spike_input_match_hand_counts() {
    let net = network();
    let e = events();
    let m = measure(&net, Input::Events(&e));
    // 5 spikes among 2 neurons × 4 steps × 2 samples.
    assert_eq!(m.activation_sparsity, 11.0 / 16.0);
    assert_eq!(m.activation_sparsity_per_layer, [11.0 / 16.0]);
    // Non-zero weights per input row: W_in [1, 0, 2], W_rec [1, 0], W_out [2, 1].
    // W_in: sample 0: 1 + 2 + 0 + 3, sample 1: 0 + 0 + 3 + 0 = 9 accumulates.
    // W_rec (previous step's spikes): sample 0: 1 (t1) + 1 (t2), sample 1: 1 (t3) = 3.
    // W_out: sample 0: 2 + 3 + 0 + 2, sample 1: 2 = 9.
    let per: Vec<(String, f64, f64, f64)> = m
        .synops_per_connection
        .iter()
        .map(|c| {
            let o = c.ops;
            (
                c.connection.clone(),
                o.dense,
                o.effective_macs,
                o.effective_acs,
            )
        })
        .collect();
    // Dense per sample: 4 steps × inputs × outputs.
    assert_eq!(
        per,
        [
            ("hidden.0.w_in".to_string(), 24.0, 0.0, 4.5),
            ("hidden.0.w_rec".to_string(), 16.0, 0.0, 1.5),
            ("readout.w".to_string(), 16.0, 0.0, 4.5),
        ]
    );
    assert_eq!(
        m.synops,
        SynOps {
            dense: 56.0,
            effective_macs: 0.0,
            effective_acs: 10.5
        }
    );
    assert_eq!(m.samples, 2);
    assert!(m.r2.is_none());
}

#[test]
fn a_non_binary_input_makes_the_whole_batch_step_multiply_accumulates() {
    let net = network();
    let mut x: Seq<f32> = events().to_dense();
    // A count of 2 at step 2 (sample 1, channel 0), and 0.5 at step 3 on channel 1, whose
    // weights are all zero: the spikes do not change, but steps 2 and 3 are no longer binary.
    x.row_mut(2, 1)[0] = 2.0;
    x.row_mut(3, 1)[1] = 0.5;
    let m = measure(
        &net,
        Input::Dense {
            x: &x,
            sparse: false,
        },
    );
    assert_eq!(m.activation_sparsity, 11.0 / 16.0);
    let w_in = m.synops_per_connection[0].ops;
    // Steps 0 and 1 stay accumulates (1 + 2); step 2 (3 operations, sample 1) and step 3 (3
    // operations of the binary sample 0, with the non-binary sample 1 in the same batch) are
    // multiply-accumulates.
    assert_eq!((w_in.effective_acs, w_in.effective_macs), (1.5, 3.0));
    assert_eq!(
        (m.synops.effective_acs, m.synops.effective_macs),
        (7.5, 3.0)
    );
}

#[test]
fn r2_over_steps_and_samples_matches_hand_values() {
    // Output [T = 2, B = 2, C = 2]; targets held over both steps.
    let y = Seq::from_vec(2, 2, 2, vec![1.0, 0.0, 3.0, 0.0, 2.0, 0.0, 4.0, 0.0]).unwrap();
    let targets = BatchTargets::Values {
        values: vec![2.0, 1.0, 4.0, -1.0],
        dims: 2,
    };
    let mut r2 = R2Collector::default();
    r2.add(&y, &targets);
    let report = r2.report().unwrap().unwrap();
    // Output 0: SSE = 1 + 1 + 0 + 0 = 2, targets 2, 4, 2, 4 (N·Var = 4): 1 − 2/4.
    // Output 1: SSE = 4, targets 1, −1, 1, −1 (N·Var = 4): 0.
    assert_eq!(report.per_output, [0.5, 0.0]);
    assert_eq!(report.mean, 0.25);
    let mut none = R2Collector::default();
    none.add(&y, &BatchTargets::Classes(vec![0, 1]));
    assert_eq!(none.report().unwrap(), None);
}

#[test]
fn r2_of_per_step_series_pairs_each_step_with_its_own_row() {
    // Output [T = 2, B = 1, C = 1] = 1, 3 against the series 1, 2: SSE = 1, mean 1.5,
    // N·Var = 0.5, so R² = 1 − 1/0.5 = −1. Held-over targets would give a different value.
    let y = Seq::from_vec(2, 1, 1, vec![1.0, 3.0]).unwrap();
    let series = Seq::from_vec(2, 1, 1, vec![1.0, 2.0]).unwrap();
    let mut r2 = R2Collector::default();
    r2.add(&y, &BatchTargets::Series(series.clone()));
    assert_eq!(r2.report().unwrap().unwrap().per_output, [-1.0]);
    let mut trains = R2Collector::default();
    trains.add(&y, &BatchTargets::Trains(series));
    assert_eq!(
        trains.report().unwrap(),
        None,
        "spike-train targets are not regression"
    );
}

/// A convolutional layer's dense operations are its taps (every kernel weight at every
/// position it meets an input), not its matrix's entries; its kernels count in the
/// connection sparsity.
#[test]
fn convolutions_count_their_taps_and_kernels() {
    let mut spec = NetworkSpec {
        inputs: 6,
        dt_ms: 1.0,
        hidden: vec![SpikingLayerSpec {
            recurrent: true,
            conv: Some(crate::layers::conv::ConvLayerSpec {
                filters: 2,
                kernel: Extent::Same(3),
                padding: Extent::Same(1),
                recurrent_kernel: Extent::Same(3),
                ..Default::default()
            }),
            ..Default::default()
        }],
        readout: ReadoutSpec {
            size: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    spec.resolve_conv_sizes().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut net = Network::<f32>::new(&spec, &mut rng).unwrap();
    for t in net.tensors_mut() {
        t.iter_mut().for_each(|v| *v = 0.5);
    }
    net.hidden[0].conv.as_mut().unwrap().input.kernel[0] = 0.0;
    net.apply_constraints();
    let e = events();
    let x = SpikeEvents::from_pairs(e.steps, e.batch, 6, &[(0, 1), (3, 5)]);
    let m = measure(&net, Input::Events(&x));
    // 6 positions × 2 filters; each output sums 3 taps but the padded ends only 2:
    // 2 filters × (6·3 − 2) = 32 input taps; recurrently 2 filters × 2 channels × 16 = 64.
    let dense: Vec<f64> = m
        .synops_per_connection
        .iter()
        .map(|c| c.ops.dense)
        .collect();
    assert_eq!(dense, [4.0 * 32.0, 4.0 * 64.0, 4.0 * 24.0]);
    // One zero among 6 + 12 kernel weights and 24 readout weights.
    assert_eq!(m.connection_sparsity, 1.0 / 42.0);
}
