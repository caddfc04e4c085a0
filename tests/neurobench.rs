//! Cost metrics against NeuroBench's own code: `tests/fixtures/neurobench/make_fixture.py`
//! measured a small recurrent network with the `neurobench` package (its snnTorch wrapper,
//! hooks and metric classes) and saved weights, input and results; spikegrad rebuilds the same
//! network here and must report the same numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use spikegrad::data::BatchTargets;
use spikegrad::layers::{Input, ReadoutSpec, SpikingLayerSpec};
use spikegrad::metrics::MetricsAccumulator;
use spikegrad::network::{Network, NetworkSpec};
use spikegrad::quant::Quantization;
use spikegrad::{Matrix, Seq};

#[derive(serde::Deserialize)]
struct Fixture {
    inputs: usize,
    hidden: usize,
    outputs: usize,
    steps: usize,
    batch: usize,
    w_in: Vec<f32>,
    w_rec: Vec<f32>,
    w_out: Vec<f32>,
    x: Vec<f32>,
    hidden_spikes: usize,
    connection_sparsity: f64,
    activation_sparsity: f64,
    dense: f64,
    effective_macs: f64,
    effective_acs: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/neurobench/fixture.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture's network: every decay 0 (time constants of 1 µs at dt = 1 ms), so
/// `U[t] = x[t]·W_in + S[t−1]·W_rec` and `S[t] = U[t] > 1`, as the Python model computes.
fn network(f: &Fixture) -> Network<f32> {
    let spec = NetworkSpec {
        inputs: f.inputs,
        dt_ms: 1.0,
        hidden: vec![SpikingLayerSpec {
            size: f.hidden,
            recurrent: true,
            tau_mem_ms: 1e-3,
            tau_syn_ms: 1e-3,
            ..Default::default()
        }],
        readout: ReadoutSpec {
            size: f.outputs,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut net = Network::<f32>::new(&spec, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    net.hidden[0].w_in = Matrix::from_vec(f.inputs, f.hidden, f.w_in.clone()).unwrap();
    net.hidden[0].w_rec = Some(Matrix::from_vec(f.hidden, f.hidden, f.w_rec.clone()).unwrap());
    net.readout.w = Matrix::from_vec(f.hidden, f.outputs, f.w_out.clone()).unwrap();
    net
}

#[test]
fn metrics_equal_neurobench_on_the_same_network() {
    let f = fixture();
    let net = network(&f);
    let x = Seq::from_vec(f.steps, f.batch, f.inputs, f.x.clone()).unwrap();
    let input = Input::Dense {
        x: &x,
        sparse: false,
    };
    let trace = net.forward::<ChaCha8Rng>(input, None);
    let spikes: f32 = trace.hidden[0].spikes().data.iter().sum();
    assert_eq!(spikes as usize, f.hidden_spikes, "the dynamics differ");

    let mut acc = MetricsAccumulator::new(&net);
    acc.add(input, &trace, &BatchTargets::Classes(vec![0; f.batch]));
    let m = acc.finish(&net, Quantization::None).unwrap();
    // NeuroBench rounds connection sparsity to 4 decimal places.
    assert!(
        (m.connection_sparsity - f.connection_sparsity).abs() <= 5e-5,
        "{} vs {}",
        m.connection_sparsity,
        f.connection_sparsity
    );
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(m.activation_sparsity, f.activation_sparsity));
    assert_eq!(m.synops.dense, f.dense);
    assert!(close(m.synops.effective_macs, f.effective_macs), "{m:?}");
    assert!(close(m.synops.effective_acs, f.effective_acs), "{m:?}");
    assert!(f.effective_macs > 0.0 && f.effective_acs > 0.0);
}
