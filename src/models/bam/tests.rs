use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A small network: a strided-free 'same' block with pooling, a grouped dilated block
/// without, a head of one hidden layer.
fn small(activation: ConvActivation, pool: GlobalPool) -> BamSpec {
    BamSpec {
        input: [2, 6, 5],
        blocks: vec![
            ConvBlockSpec {
                channels: 4,
                ..ConvBlockSpec::default()
            },
            ConvBlockSpec {
                channels: 4,
                kernel: 2,
                padding: Some(1),
                dilation: 2,
                groups: 2,
                max_pool: false,
                ..ConvBlockSpec::default()
            },
        ],
        activation,
        beta: 1.0,
        global_pool: pool,
        head: vec![5],
        outputs: 3,
        bias: true,
        binary_weights: false,
        quantize: false,
        relaxed: true,
    }
}

fn input(batch: usize, len: usize) -> Vec<f64> {
    (0..batch * len)
        .map(|i| ((i as f64 + 1.0) * 0.618_033_988_7).fract() * 2.0 - 1.0)
        .collect()
}

fn loss(net: &Bam<f64>, x: &[f64], batch: usize, targets: &[f64]) -> f64 {
    let y = net.forward(x, batch).unwrap().output;
    mse(&y, targets).unwrap().0
}

/// The hand-written backward pass against central differences of the MSE in every element
/// of every tensor, in f64, with the Heaviside steps relaxed (so the surrogate is the true
/// derivative) or with ReLU maps.
fn check(spec: &BamSpec) {
    let mut net = Bam::<f64>::new(spec, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    // Non-zero biases, so that their gradients are exercised.
    for (k, t) in net.tensors_mut().into_iter().enumerate() {
        if t.len() <= 5 {
            t.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 0.07 * (i + k) as f64 - 0.1);
        }
    }
    let batch = 3;
    let x = input(batch, spec.input.iter().product());
    let targets: Vec<f64> = (0..batch * spec.outputs)
        .map(|i| (i % 3) as f64 * 0.5)
        .collect();
    let trace = net.forward(&x, batch).unwrap();
    let (_, grad) = mse(&trace.output, &targets).unwrap();
    let grads = net.backward(&trace, &grad);
    assert_eq!(grads.len(), net.tensors().len());
    let h = 1e-6;
    for (k, g) in grads.iter().enumerate() {
        assert_eq!(g.len(), net.tensors()[k].data.len());
        for (i, &exact) in g.iter().enumerate() {
            let mut plus = net.clone();
            plus.tensors_mut()[k][i] += h;
            let mut minus = net.clone();
            minus.tensors_mut()[k][i] -= h;
            let fd =
                (loss(&plus, &x, batch, &targets) - loss(&minus, &x, batch, &targets)) / (2.0 * h);
            assert!(
                (fd - exact).abs() < 1e-6 * (1.0 + fd.abs()),
                "{:?}, {} element {i}: backward {exact} vs finite difference {fd}",
                (spec.activation, spec.global_pool, spec.binary_weights),
                net.tensors()[k].name
            );
        }
    }
}

#[test]
fn relaxed_backward_matches_finite_differences() {
    for pool in [GlobalPool::Avg, GlobalPool::Max] {
        check(&small(ConvActivation::Heaviside, pool));
        check(&small(ConvActivation::Relu, pool));
    }
    let mut binary = small(ConvActivation::Heaviside, GlobalPool::Avg);
    binary.binary_weights = true;
    binary.beta = 2.0;
    check(&binary);
    let mut no_bias = small(ConvActivation::Heaviside, GlobalPool::Max);
    no_bias.bias = false;
    check(&no_bias);
}

/// The relaxation's derivative is the surrogate, so the relaxed backward pass is the
/// Heaviside network's backward pass; unrelaxed maps and binary weights take two values.
#[test]
fn heaviside_maps_are_binary_with_the_superspike_surrogate() {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Max);
    spec.relaxed = false;
    spec.binary_weights = true;
    spec.beta = 3.0;
    let net = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    for &z in &[-2.0, -0.3, 0.4, 1.7] {
        let h = 1e-6;
        let fd = (net.relaxation(z + h) - net.relaxation(z - h)) / (2.0 * h);
        let surrogate = 1.0 / (3.0 * f64::abs(z) + 1.0).powi(2);
        assert!((fd - surrogate).abs() < 1e-8);
        assert_eq!(net.activation_derivative(z), surrogate);
    }
    let trace = net.forward(&input(2, 60), 2).unwrap();
    for block in &trace.blocks {
        assert!(block.maps.iter().all(|&a| a == 0.0 || a == 1.0));
        assert!(block.maps.contains(&1.0) && block.maps.contains(&0.0));
    }
    for k in 0..2 {
        let scale = (2.0 / net.convs[k].conv.fan_in() as f64).sqrt();
        let w = net.conv_weights(k).unwrap();
        for (wb, &wh) in w.iter().zip(&net.convs[k].w) {
            assert_eq!(*wb, if wh >= 0.0 { scale } else { -scale });
        }
    }
}

/// Under quantization-aware training the network computes what a float network with the
/// int8-rounded weights computes, and the gradients of the float master weights are that
/// network's gradients (straight through).
#[test]
fn int8_qat_uses_quantized_weights_with_straight_through_gradients() {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Avg);
    spec.relaxed = false;
    spec.quantize = true;
    let qat = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    let mut plain = qat.clone();
    plain.spec.quantize = false;
    for k in 0..qat.convs.len() {
        let w = qat.conv_weights(k).unwrap();
        let mut levels: Vec<i64> = w
            .iter()
            .map(|v| (v / w.iter().fold(0.0f64, |m, v| m.max(v.abs())) * 127.0).round() as i64)
            .collect();
        levels.sort_unstable();
        levels.dedup();
        assert!(levels.len() <= 255);
        assert!(w != qat.convs[k].w, "the weights are rounded");
        plain.convs[k].w = w;
    }
    for (l, layer) in qat.head.iter().enumerate() {
        let name = qat.tensor_name(qat.convs.len(), l);
        plain.head[l].w.data = qat.fake_quantize(&name, &layer.w.data).unwrap();
    }
    let x = input(4, 60);
    let (tq, tp) = (qat.forward(&x, 4).unwrap(), plain.forward(&x, 4).unwrap());
    assert_eq!(tq.output, tp.output);
    let targets = vec![0.5; 12];
    let (_, g) = mse(&tq.output, &targets).unwrap();
    assert_eq!(qat.backward(&tq, &g), plain.backward(&tp, &g));
}

#[test]
fn bad_configs_and_inputs_are_errors_naming_the_field() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let base = small(ConvActivation::Heaviside, GlobalPool::Avg);
    let mut groups = base.clone();
    groups.blocks[1].groups = 3;
    let e = Bam::<f32>::new(&groups, &mut rng).unwrap_err();
    assert!(e.to_string().contains("network.blocks[1].groups"), "{e}");
    let mut tiny = base.clone();
    tiny.input = [2, 1, 1];
    let e = Bam::<f32>::new(&tiny, &mut rng).unwrap_err();
    assert!(e.to_string().contains("network.blocks[0]"), "{e}");
    let mut too_deep = BamSpec::nilsson([1, 8, 8], 10);
    too_deep.blocks[3].max_pool = true;
    assert!(Bam::<f32>::new(&too_deep, &mut rng).is_err());
    let mut empty = base.clone();
    empty.blocks.clear();
    assert!(Bam::<f32>::new(&empty, &mut rng).is_err());
    let mut beta = base.clone();
    beta.beta = 0.0;
    assert!(Bam::<f32>::new(&beta, &mut rng).is_err());
    let net = Bam::<f32>::new(&base, &mut rng).unwrap();
    let e = net.forward(&[0.0; 59], 1).unwrap_err();
    assert!(e.to_string().contains("input"), "{e}");
    let y = net.forward(&[0.0; 60], 1).unwrap().output;
    assert!(mse(&y, &[0.0; 2]).is_err());
}

#[test]
fn the_nilsson_network_has_its_shapes_and_names() {
    let net = Bam::<f32>::new(&BamSpec::default(), &mut ChaCha8Rng::seed_from_u64(4)).unwrap();
    let shapes: Vec<(String, Vec<usize>)> = net
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    assert_eq!(shapes[0], ("conv.0.w".into(), vec![32, 1, 3, 3]));
    assert_eq!(shapes[6], ("conv.3.w".into(), vec![64, 32, 3, 3]));
    assert_eq!(shapes[8], ("head.0.w".into(), vec![64, 64]));
    assert_eq!(shapes[10], ("output.w".into(), vec![64, 10]));
    assert_eq!(shapes[11], ("output.b".into(), vec![10]));
    // 28 → 14 → 7 → 3 → global.
    let outs: Vec<usize> = net.convs.iter().map(|l| l.output.height).collect();
    assert_eq!(outs, [28, 14, 7, 3]);
    let (maps, weights, biases) = net.counts();
    assert_eq!(maps, 32 * 784 + 32 * 196 + 32 * 49 + 64 * 9);
    assert_eq!(weights, 288 + 9216 + 9216 + 18432 + 4096 + 640);
    assert_eq!(biases, 32 * 3 + 64 + 64 + 10);
    let y = net.forward(&vec![0.5; 2 * 784], 2).unwrap().output;
    assert_eq!((y.batch, y.width), (2, 10));
}
