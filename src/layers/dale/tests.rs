//! A Dale's-law layer's hand-written backward pass against finite differences (f64, relaxed
//! spikes), and its structure: the output, the targets of its synapses, its constraints.

use crate::layers::conv::MapShape;
use crate::layers::{DaleSpec, Input, SpikingLayer, SpikingLayerSpec};
use crate::neurons::{
    ExcInh, ExcInhFamily, ExcInhState, NeuronSettings, ParamValues, ResetGrad, ResetMode,
};
use crate::surrogates::SpikeFn;
use crate::tensor::Seq;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Whether a test layer's feed-forward projection has a bias.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Projection {
    Plain,
    Biased,
}

/// A layer of 8 excitatory and 2 inhibitory neurons from 3 inputs, with random non-negative
/// weights (the masked ones zero) and heterogeneous time constants.
fn layer(
    recurrent: bool,
    reset: ResetGrad,
    spike: SpikeFn,
    rng: &mut ChaCha8Rng,
) -> SpikingLayer<f64> {
    layer_with(recurrent, reset, spike, Projection::Plain, rng)
}

/// [`layer`] with a bias (random, non-negative) when `projection` says so.
fn layer_with(
    recurrent: bool,
    reset: ResetGrad,
    spike: SpikeFn,
    projection: Projection,
    rng: &mut ChaCha8Rng,
) -> SpikingLayer<f64> {
    let spec = SpikingLayerSpec {
        size: 8,
        recurrent,
        bias: projection == Projection::Biased,
        learn_tau: true,
        tau_spread: 0.3,
        reset_grad: reset,
        dale: Some(DaleSpec {
            ei_ratio: 4,
            tau_exc_ms: 5.0,
            tau_inh_ms: 8.0,
        }),
        ..SpikingLayerSpec::default()
    };
    let mut layer = SpikingLayer::new(&spec, MapShape::flat(3), 1e-3, spike, rng);
    assert_eq!((layer.size(), layer.neurons()), (8, 10));
    layer
        .w_in
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(0.0..4.0));
    let mask = layer.mask_rec.clone();
    let w = layer.w_rec.as_mut().unwrap();
    for (k, w) in w.data.iter_mut().enumerate() {
        let kept = mask.as_ref().map_or(1.0, |m| m[k]);
        *w = kept * rng.random_range(0.0..2.0);
    }
    if let Some(b) = &mut layer.b_in {
        b.iter_mut().for_each(|b| *b = rng.random_range(0.0..0.5));
    }
    layer
}

fn loss(layer: &SpikingLayer<f64>, x: &Seq<f64>, c: &Seq<f64>) -> f64 {
    let input = Input::Dense { x, sparse: false };
    let trace = layer.forward::<ChaCha8Rng>(input, None);
    trace
        .output()
        .data
        .iter()
        .zip(&c.data)
        .map(|(o, c)| o * c)
        .sum()
}

#[test]
fn backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    // The reset differentiated: the exact gradient of the relaxed layer.
    let cases = [
        (true, Projection::Plain),
        (false, Projection::Plain),
        (true, Projection::Biased),
    ];
    for (recurrent, projection) in cases {
        let spike = SpikeFn::Relaxed { beta: 4.0 };
        let reset = ResetGrad::Differentiable;
        let mut layer = layer_with(recurrent, reset, spike, projection, &mut rng);
        let (steps, batch) = (7, 2);
        let x: Vec<f64> = (0..steps * batch * 3)
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        let x = Seq::from_vec(steps, batch, 3, x).unwrap();
        let c: Vec<f64> = (0..steps * batch * 8)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let c = Seq::from_vec(steps, batch, 8, c).unwrap();
        let input = Input::Dense {
            x: &x,
            sparse: false,
        };
        let trace = layer.forward::<ChaCha8Rng>(input, None);
        assert_eq!(trace.shape(), (steps, batch, 8), "only E neurons project");
        let (grads, g_input) = layer.backward(input, &trace, &c, None, true);
        let names: Vec<&str> = layer.params().iter().map(|p| p.name).collect();
        let mut expected = vec!["w_in", "w_rec", "tau_mem_s", "tau_exc_s", "tau_inh_s"];
        if projection == Projection::Biased {
            expected.push("b_in");
        }
        assert_eq!(names, expected);
        let h = 1e-6;
        let close = |got: f64, want: f64, what: &str| {
            let err = (got - want).abs() / want.abs().max(1e-3);
            assert!(
                err < 1e-5,
                "{what}: backward {got:e} vs finite difference {want:e}"
            );
        };
        let mask = layer.mask_rec.clone();
        for k in 0..grads.len() {
            for i in 0..grads[k].len() {
                if k == 1 && mask.as_ref().is_some_and(|m| m[i] == 0.0) {
                    assert_eq!(grads[k][i], 0.0, "masked W_rec[{i}]");
                    continue;
                }
                // Time constants in seconds (milliseconds long): a step of 1e-7 s keeps the
                // loss's rounding in the difference below 1e-6 of the gradient.
                let step = if (2..5).contains(&k) { h * 1e-1 } else { h };
                layer.params_mut()[k][i] += step;
                let up = loss(&layer, &x, &c);
                layer.params_mut()[k][i] -= 2.0 * step;
                let down = loss(&layer, &x, &c);
                layer.params_mut()[k][i] += step;
                close(
                    grads[k][i],
                    (up - down) / (2.0 * step),
                    &format!("{}[{i}]", names[k]),
                );
            }
        }
        let g_input = g_input.unwrap();
        for k in 0..x.data.len() {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp.data[k] += h;
            xm.data[k] -= h;
            let fd = (loss(&layer, &xp, &c) - loss(&layer, &xm, &c)) / (2.0 * h);
            close(g_input.data[k], fd, &format!("input[{k}]"));
        }
    }
}

/// Spikes of the inhibitory neurons lower the next membranes through the inhibitory current
/// (with its own time constant), those of excitatory ones raise them through the excitatory
/// current: the layer's first steps against the model stepped by hand.
#[test]
fn presynaptic_rows_choose_the_current() {
    let mut rng = ChaCha8Rng::seed_from_u64(62);
    let layer = layer(true, ResetGrad::Detached, SpikeFn::default(), &mut rng);
    let (steps, n) = (6, 10);
    let x: Vec<f64> = (0..steps * 3).map(|_| rng.random_range(0.0..1.0)).collect();
    let x = Seq::from_vec(steps, 1, 3, x).unwrap();
    let input = Input::Dense {
        x: &x,
        sparse: false,
    };
    let trace = layer.forward::<ChaCha8Rng>(input, None);
    let values: Vec<Vec<f64>> = layer
        .neurons
        .params()
        .iter()
        .map(|p| p.data.to_vec())
        .collect();
    let settings = NeuronSettings {
        dt_s: 1e-3,
        threshold: 1.0,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
        reset_mode: ResetMode::Zero,
        learn_tau: true,
    };
    let model = ExcInh::new(ParamValues::new::<ExcInhFamily>(&values), &settings);
    let ff = layer.project(input);
    let w = layer.w_rec.as_ref().unwrap();
    let (mut prev, mut prev_s) = (vec![ExcInhState::default(); n], vec![0.0; n]);
    let mut mems = Vec::new();
    for t in 0..steps {
        let mut s = vec![0.0; n];
        for j in 0..n {
            let (mut e, mut h) = (ff.at(t, 0, j), 0.0);
            for (i, &si) in prev_s.iter().enumerate() {
                let drive = si * w.data[i * n + j];
                if i < 8 {
                    e += drive;
                } else {
                    h += drive;
                }
            }
            prev[j] = model.step_both(j, &prev[j], prev_s[j], e, h);
            s[j] = if prev[j].mem > 1.0 { 1.0 } else { 0.0 };
        }
        mems.extend(prev[..8].iter().map(|p| p.mem));
        prev_s = s;
    }
    assert_eq!(trace.membrane().data, mems);
}

/// The constraints clamp every weight at zero, and a layer that is not recurrent keeps only
/// its inhibitory rows of `W_rec`.
#[test]
fn constraints_keep_weights_non_negative() {
    let mut rng = ChaCha8Rng::seed_from_u64(63);
    let spike = SpikeFn::default();
    let mut layer = layer(false, ResetGrad::Detached, spike, &mut rng);
    let mask = layer.mask_rec.clone().unwrap();
    assert!(mask[..8 * 10].iter().all(|&m| m == 0.0));
    assert!(mask[8 * 10..].iter().all(|&m| m == 1.0));
    layer.w_in.data[0] = -0.5;
    layer.w_rec.as_mut().unwrap().data[95] = -0.1;
    layer.apply_constraints();
    assert_eq!(layer.w_in.data[0], 0.0);
    let mut biased = layer_with(
        false,
        ResetGrad::Detached,
        spike,
        Projection::Biased,
        &mut rng,
    );
    biased.b_in.as_mut().unwrap()[3] = -0.2;
    biased.apply_constraints();
    assert!(biased.b_in.as_ref().unwrap().iter().all(|&b| b >= 0.0));
    assert_eq!(layer.w_rec.as_ref().unwrap().data[95], 0.0);
    assert!(layer.w_in.data.iter().all(|&w| w >= 0.0));
}
