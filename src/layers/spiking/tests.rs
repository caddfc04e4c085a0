//! The layer keeps binary spikes as events only; what it hands out must equal what the scan
//! computed.

use super::*;
use crate::neurons::Lif;
use crate::scan;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The layer's neurons as the LIF model that keeps whole states.
fn reference_lif(layer: &SpikingLayer<f64>) -> Lif<f64> {
    let decays = |name| -> Vec<f64> {
        let taus = layer.neuron_param(name).unwrap();
        taus.iter().map(|&tau| (-layer.dt_s / tau).exp()).collect()
    };
    Lif {
        alpha: decays("tau_syn_s"),
        beta: decays("tau_mem_s"),
        threshold: layer.spec.threshold,
        spike: layer.spike,
        reset: layer.spec.reset_grad,
        reset_mode: layer.spec.reset,
    }
}

/// A recurrent layer of 9 neurons from 5 inputs, driven hard enough to spike often.
fn layer(learn_tau: bool, rng: &mut ChaCha8Rng) -> SpikingLayer<f64> {
    let spec = SpikingLayerSpec {
        size: 9,
        recurrent: true,
        learn_tau,
        ..SpikingLayerSpec::default()
    };
    let mut layer = SpikingLayer::new(&spec, MapShape::flat(5), 1e-3, SpikeFn::default(), rng);
    layer
        .w_in
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..3.0));
    if let Some(w) = &mut layer.w_rec {
        w.data
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-1.0..1.0));
    }
    layer
}

#[test]
fn spikes_rebuilt_from_events_equal_the_scans_outputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for learn_tau in [false, true] {
        let layer = layer(learn_tau, &mut rng);
        let (steps, batch) = (40, 3);
        let x: Vec<f64> = (0..steps * batch * 5)
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        let x = Seq::from_vec(steps, batch, 5, x).unwrap();
        let input = Input::Dense {
            x: &x,
            sparse: false,
        };
        let reference = scan::forward(
            &reference_lif(&layer),
            input.project(&layer.w_in),
            layer.w_rec.as_ref(),
        );
        let mut trace = layer.forward::<ChaCha8Rng>(input, None);
        assert!(trace.output_events().is_some());
        let total: f64 = reference.out.data.iter().sum();
        assert!(total > 10.0, "the layer must spike ({total})");
        assert_eq!(trace.spike_count(), total);
        assert_eq!(trace.shape(), (steps, batch, 9));
        assert_eq!(trace.spikes(), &reference.out);
        let mut counts = vec![0.0; batch * 9];
        for step in reference.out.data.chunks(batch * 9) {
            counts.iter_mut().zip(step).for_each(|(c, s)| *c += s);
        }
        assert_eq!(trace.spike_counts(), counts, "counts from the events");
        let mems: Vec<f64> = reference.saved.iter().map(|s| s.mem).collect();
        assert_eq!(trace.membrane().data, mems);
        trace.drop_events();
        assert!(trace.output_events().is_none());
        assert_eq!(trace.spikes(), &reference.out);
        assert_eq!(trace.spike_counts(), counts, "counts from dense spikes");
    }
}
