use super::*;
use crate::losses::{compute, LossKind, Targets};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn spec(activation: Activation, bias: bool) -> MlpSpec {
    MlpSpec {
        inputs: 5,
        hidden: vec![
            DenseLayerSpec {
                size: 4,
                activation,
            },
            DenseLayerSpec {
                size: 3,
                activation,
            },
        ],
        outputs: 3,
        bias,
        init: DenseInit::GlorotUniform,
        weights: DenseWeights::Real,
    }
}

fn input(batch: usize) -> Seq<f64> {
    let data = (0..batch * 5)
        .map(|i| ((i * 7 % 11) as f64 / 5.0) - 1.0)
        .collect();
    Seq::from_vec(1, batch, 5, data).unwrap()
}

fn loss_of(net: &Mlp<f64>, x: &Seq<f64>, kind: LossKind, classes: &[usize]) -> f64 {
    let y = net.forward(x).output;
    compute(kind, &y, Targets::Classes(classes)).unwrap().loss
}

/// The backward pass against central differences of the loss, for every tensor element.
fn check_gradients(activation: Activation, bias: bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = Mlp::<f64>::new(&spec(activation, bias), &mut rng).unwrap();
    // Non-zero biases, so that their gradients and effects are exercised.
    for (k, t) in net.tensors_mut().into_iter().enumerate() {
        if t.len() <= 4 {
            t.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.1 * (i + k) as f64 - 0.2);
        }
    }
    let x = input(4);
    let classes = [0, 2, 1, 2];
    let kind = LossKind::MaxOverTimeCe;
    let trace = net.forward(&x);
    let out = compute(kind, &trace.output, Targets::Classes(&classes)).unwrap();
    let grads = net.backward(&trace, &out.grad);
    assert_eq!(grads.len(), net.tensors().len());
    let h = 1e-6;
    for (k, g) in grads.iter().enumerate() {
        for (i, &exact) in g.iter().enumerate() {
            let mut plus = net.clone();
            plus.tensors_mut()[k][i] += h;
            let mut minus = net.clone();
            minus.tensors_mut()[k][i] -= h;
            let fd = (loss_of(&plus, &x, kind, &classes) - loss_of(&minus, &x, kind, &classes))
                / (2.0 * h);
            assert!(
                (fd - exact).abs() < 1e-7 * (1.0 + fd.abs()),
                "{activation:?} tensor {k} element {i}: backward {exact} vs finite difference {fd}"
            );
        }
    }
}

#[test]
fn backward_matches_finite_differences_for_every_activation() {
    // ReLU is checked away from its kink: the inputs and weights put no unit at exactly 0.
    for activation in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Softplus,
        Activation::Identity,
    ] {
        check_gradients(activation, true);
    }
    check_gradients(Activation::Tanh, false);
}

#[test]
fn forward_is_the_affine_composition() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = Mlp::<f64>::new(&spec(Activation::Tanh, true), &mut rng).unwrap();
    let x = input(2);
    let y = net.forward(&x).output;
    // By hand for sample 1.
    let mut a = x.row(0, 1).to_vec();
    for layer in &net.layers {
        let b = layer.b.as_ref().unwrap();
        a = (0..layer.w.cols)
            .map(|j| {
                let z: f64 = b[j]
                    + (0..layer.w.rows)
                        .map(|i| a[i] * layer.w.at(i, j))
                        .sum::<f64>();
                layer.activation.apply(z)
            })
            .collect();
    }
    for (u, v) in a.iter().zip(y.row(0, 1)) {
        assert!((u - v).abs() < 1e-12);
    }
    assert_eq!(net.layers.last().unwrap().activation, Activation::Identity);
}

#[test]
fn tensor_names_shapes_and_init_scale() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut s = spec(Activation::Relu, true);
    s.inputs = 400;
    s.hidden[0].size = 300;
    let net = Mlp::<f32>::new(&s, &mut rng).unwrap();
    let names: Vec<String> = net.tensors().iter().map(|t| t.name.clone()).collect();
    assert_eq!(
        names,
        [
            "hidden.0.w",
            "hidden.0.b",
            "hidden.1.w",
            "hidden.1.b",
            "output.w",
            "output.b"
        ]
    );
    assert_eq!(net.tensors()[0].shape, vec![400, 300]);
    let w = &net.layers[0].w.data;
    let var = w.iter().map(|v| (v * v) as f64).sum::<f64>() / w.len() as f64;
    // Glorot uniform: variance limit² / 3 = 2 / (fan_in + fan_out).
    assert!((var / (2.0 / 700.0) - 1.0).abs() < 0.05, "{var}");
    assert!(Mlp::<f32>::new(&MlpSpec::default(), &mut rng).is_err());
}

/// A binarized network computes what a real-valued one with weights `sign(W_h)/√fan_in`
/// computes, and its hidden-weight gradient is that network's weight gradient (checked
/// against finite differences above) divided by `√fan_in`: the straight-through estimator.
#[test]
fn binary_weights_are_scaled_signs_with_straight_through_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut s = spec(Activation::Tanh, true);
    s.weights = DenseWeights::Binary;
    let binary = Mlp::<f64>::new(&s, &mut rng).unwrap();
    let mut real = binary.clone();
    real.spec.weights = DenseWeights::Real;
    for layer in &mut real.layers {
        let fan_in = layer.w.rows as f64;
        for w in &mut layer.w.data {
            *w = w.signum() / fan_in.sqrt();
        }
    }
    let x = input(3);
    let classes = [1, 0, 2];
    let (tb, tr) = (binary.forward(&x), real.forward(&x));
    assert_eq!(tb.output.data, tr.output.data);
    let out = compute(
        LossKind::MaxOverTimeCe,
        &tb.output,
        Targets::Classes(&classes),
    )
    .unwrap();
    let (gb, gr) = (
        binary.backward(&tb, &out.grad),
        real.backward(&tr, &out.grad),
    );
    for (k, (tensor, (b, r))) in binary.tensors().iter().zip(gb.iter().zip(&gr)).enumerate() {
        let scale = if tensor.shape.len() == 2 {
            1.0 / (tensor.shape[0] as f64).sqrt()
        } else {
            1.0
        };
        for (u, v) in b.iter().zip(r) {
            assert!(
                (u - v * scale).abs() < 1e-12,
                "tensor {k}: {u} vs {}",
                v * scale
            );
        }
    }
    // The product sees only signs: rescaling a hidden weight leaves the output unchanged.
    let mut rescaled = binary.clone();
    rescaled.layers[0].w.data.iter_mut().for_each(|w| *w *= 7.0);
    assert_eq!(rescaled.forward(&x).output.data, tb.output.data);
}
