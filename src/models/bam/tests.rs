use super::*;
use crate::quant::{PerChannelTensor, QuantizedTensor};
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
        per_channel: false,
        relaxed: true,
        pool_pre_activations: false,
        norm: false,
        dropout: 0.0,
    }
}

fn input(batch: usize, len: usize) -> Vec<f64> {
    (0..batch * len)
        .map(|i| ((i as f64 + 1.0) * 0.618_033_988_7).fract() * 2.0 - 1.0)
        .collect()
}

/// A pass of `net`: a training pass (dropout masks from a fixed seed, so every call draws the
/// same; normalizations by the batch) or an inference pass.
fn pass(net: &Bam<f64>, x: &[f64], batch: usize, train: bool) -> BamTrace<f64> {
    if train {
        net.forward_train(x, batch, &mut ChaCha8Rng::seed_from_u64(11))
            .unwrap()
    } else {
        net.forward(x, batch).unwrap()
    }
}

fn loss(net: &Bam<f64>, x: &[f64], batch: usize, targets: &[f64], train: bool) -> f64 {
    let y = pass(net, x, batch, train).output;
    mse(&y, targets).unwrap().0
}

/// The hand-written backward pass against central differences of the MSE in every element
/// of every tensor, in f64, with the Heaviside steps relaxed (so the surrogate is the true
/// derivative) or with ReLU maps; of a training pass (`train`) or an inference pass.
fn check(spec: &BamSpec, train: bool) {
    let mut net = Bam::<f64>::new(spec, &mut ChaCha8Rng::seed_from_u64(5)).unwrap();
    // Running estimates away from their start, so that the inference pass uses them.
    for (k, layer) in net.convs.iter_mut().enumerate() {
        if let Some(norm) = &mut layer.norm {
            for c in 0..norm.gamma.len() {
                norm.running_mean[c] = 0.05 * (c + k) as f64 - 0.1;
                norm.running_var[c] = 0.4 + 0.1 * c as f64;
            }
        }
    }
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
    let trace = pass(&net, &x, batch, train);
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
            let fd = (loss(&plus, &x, batch, &targets, train)
                - loss(&minus, &x, batch, &targets, train))
                / (2.0 * h);
            assert!(
                (fd - exact).abs() < 1e-6 * (1.0 + fd.abs()),
                "{:?}, {} element {i}: backward {exact} vs finite difference {fd}",
                (
                    spec.activation,
                    spec.global_pool,
                    spec.binary_weights,
                    spec.norm,
                    train
                ),
                net.tensors()[k].name
            );
        }
    }
}

#[test]
fn relaxed_backward_matches_finite_differences() {
    for pool in [GlobalPool::Avg, GlobalPool::Max] {
        check(&small(ConvActivation::Heaviside, pool), false);
        check(&small(ConvActivation::Relu, pool), false);
    }
    let mut binary = small(ConvActivation::Heaviside, GlobalPool::Avg);
    binary.binary_weights = true;
    binary.beta = 2.0;
    check(&binary, false);
    let mut no_bias = small(ConvActivation::Heaviside, GlobalPool::Max);
    no_bias.bias = false;
    check(&no_bias, false);
    let mut by_pre = small(ConvActivation::Heaviside, GlobalPool::Avg);
    by_pre.pool_pre_activations = true;
    check(&by_pre, false);
}

/// Pooling by the pre-activations gives the maps' pooling and routes each window's gradient
/// to its largest pre-activation, where the maps' pooling takes the first of tied ones.
#[test]
fn pooling_by_pre_activations_keeps_the_maps_and_moves_the_ties() {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Avg);
    spec.relaxed = false;
    let plain = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
    let mut by_pre = plain.clone();
    by_pre.spec.pool_pre_activations = true;
    let x = input(4, 60);
    let (a, b) = (
        plain.forward(&x, 4).unwrap(),
        by_pre.forward(&x, 4).unwrap(),
    );
    assert_eq!(a.output, b.output);
    assert_eq!(a.blocks[1].input, b.blocks[1].input);
    let (shape, rec) = (by_pre.convs[0].output, &b.blocks[0]);
    let per_out = rec.pool_arg.len() / 4;
    let mut moved = 0;
    for (o, (&i, &j)) in rec.pool_arg.iter().zip(&a.blocks[0].pool_arg).enumerate() {
        let base = o / per_out * shape.len();
        let (c, rest) = (i as usize / shape.plane(), i as usize % shape.plane());
        let (y0, x0) = (rest / shape.width / 2 * 2, rest % shape.width / 2 * 2);
        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let k = base + c * shape.plane() + (y0 + dy) * shape.width + x0 + dx;
            assert!(rec.pre[base + i as usize] >= rec.pre[k]);
        }
        moved += usize::from(i != j);
    }
    assert!(moved > 0, "some windows tie on the maps");
}

/// The normalization's backward pass, through the batch's statistics (a training pass) and
/// through the running ones (an inference pass), and dropout's, against finite differences.
#[test]
fn norm_and_dropout_backward_match_finite_differences() {
    for activation in [ConvActivation::Heaviside, ConvActivation::Relu] {
        let mut spec = small(activation, GlobalPool::Avg);
        spec.norm = true;
        check(&spec, true);
        check(&spec, false);
        spec.dropout = 0.3;
        spec.global_pool = GlobalPool::Max;
        check(&spec, true);
        spec.norm = false;
        check(&spec, true);
        spec.norm = true;
        spec.pool_pre_activations = true;
        check(&spec, true);
    }
}

/// Dropout draws `0` or `1/(1 − p)` on every block's output but the last's in a training
/// pass, and nothing in an inference pass.
#[test]
fn dropout_masks_training_passes_only() {
    let mut spec = small(ConvActivation::Relu, GlobalPool::Avg);
    spec.relaxed = false;
    spec.dropout = 0.25;
    let net = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(6)).unwrap();
    let x = input(40, 60);
    let train = net
        .forward_train(&x, 40, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    let mask = &train.blocks[0].dropout;
    assert_eq!(mask.len(), train.blocks[1].input.len());
    assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0 / 0.75));
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
    assert!((dropped - 0.25).abs() < 0.05, "dropped {dropped}");
    assert!(
        train.blocks[1].dropout.is_empty(),
        "not after the last block"
    );
    let eval = net.forward(&x, 40).unwrap();
    assert!(eval.blocks.iter().all(|b| b.dropout.is_empty()));
    let mut none = net.clone();
    none.spec.dropout = 0.0;
    assert_eq!(eval.output, none.forward(&x, 40).unwrap().output);
    assert_ne!(train.output, eval.output);
    let mut bad = spec.clone();
    bad.dropout = 1.0;
    let e = Bam::<f64>::new(&bad, &mut ChaCha8Rng::seed_from_u64(6)).unwrap_err();
    assert!(e.to_string().contains("network.dropout"), "{e}");
}

/// A training pass normalizes every channel to mean 0 and variance 1 before `γ`, `β`; the
/// running estimates move towards the batch's (the variance unbiased).
#[test]
fn norm_uses_batch_statistics_and_tracks_them() {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Avg);
    spec.relaxed = false;
    spec.norm = true;
    let mut net = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
    let batch = 5;
    let x = input(batch, 60);
    let trace = net
        .forward_train(&x, batch, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    for (layer, rec) in net.convs.iter().zip(&trace.blocks) {
        let (c_n, plane) = (layer.output.channels, layer.output.plane());
        for c in 0..c_n {
            let v: Vec<f64> = (0..batch)
                .flat_map(|b| rec.normalized[(b * c_n + c) * plane..][..plane].to_vec())
                .collect();
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-3,
                "{mean} {var}"
            );
        }
        // Half of each channel's values (γ = 1, β = 0) fire, give or take the ties.
        let on = rec.maps.iter().filter(|&&a| a == 1.0).count() as f64;
        assert!((on / rec.maps.len() as f64 - 0.5).abs() < 0.2);
    }
    net.update_running(&trace, 1.0);
    let n = (batch * net.convs[0].output.plane()) as f64;
    let norm = net.convs[0].norm.as_ref().unwrap();
    for (c, &(mean, var)) in trace.blocks[0].batch_stats.iter().enumerate() {
        assert!((norm.running_mean[c] - mean).abs() < 1e-12);
        assert!((norm.running_var[c] - var * n / (n - 1.0)).abs() < 1e-12);
    }
    // With the running estimates, an inference pass normalizes as the training pass did.
    let eval = net.forward(&x, batch).unwrap();
    let norm = net.convs[0].norm.as_ref().unwrap();
    let inv = 1.0 / (norm.running_var[0] + NORM_EPS).sqrt();
    assert!((eval.blocks[0].inv_std[0] - inv).abs() < 1e-15);
    let h = trace.blocks[0].normalized[0];
    let expect = h * (trace.blocks[0].batch_stats[0].1 + NORM_EPS).sqrt() * inv;
    assert!((eval.blocks[0].normalized[0] - expect).abs() < 1e-9);
}

/// At inference a Heaviside block's normalization is a per-channel threshold: the same maps
/// come from the plain conv with the bias `s (b − μ + β/(γ inv))` and the weights times
/// `s = sign γ`, so the normalization adds nothing to the inference memory.
#[test]
fn heaviside_norm_folds_into_the_bias() {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Avg);
    spec.relaxed = false;
    spec.norm = true;
    let mut net = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(8)).unwrap();
    for (k, layer) in net.convs.iter_mut().enumerate() {
        let norm = layer.norm.as_mut().unwrap();
        for c in 0..norm.gamma.len() {
            norm.gamma[c] = if (c + k) % 2 == 0 { 0.7 } else { -1.3 };
            norm.shift[c] = 0.2 * c as f64 - 0.3;
            norm.running_mean[c] = 0.1 * k as f64 - 0.05 * c as f64;
            norm.running_var[c] = 0.5 + 0.2 * c as f64;
        }
    }
    let mut folded = net.clone();
    folded.spec.norm = false;
    for layer in &mut folded.convs {
        let norm = layer.norm.take().unwrap();
        let per = layer.w.len() / norm.gamma.len();
        let b = layer.b.as_mut().unwrap();
        for (c, bc) in b.iter_mut().enumerate() {
            let inv = 1.0 / (norm.running_var[c] + NORM_EPS).sqrt();
            let s = norm.gamma[c].signum();
            *bc = s * (*bc - norm.running_mean[c] + norm.shift[c] / (norm.gamma[c] * inv));
            layer.w[c * per..][..per].iter_mut().for_each(|w| *w *= s);
        }
    }
    let x = input(6, 60);
    let (a, b) = (net.forward(&x, 6).unwrap(), folded.forward(&x, 6).unwrap());
    for (ra, rb) in a.blocks.iter().zip(&b.blocks) {
        assert_eq!(ra.maps, rb.maps);
        assert!(ra.maps.contains(&1.0) && ra.maps.contains(&0.0));
    }
    assert!(a
        .output
        .data
        .iter()
        .zip(&b.output.data)
        .all(|(p, q)| (p - q).abs() < 1e-12));
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

/// Under quantization-aware training (one scale per tensor, or per output channel) the
/// network computes what a float network with the int8-rounded weights computes, and the
/// gradients of the float master weights are that network's gradients (straight through).
fn check_qat(per_channel: bool) {
    let mut spec = small(ConvActivation::Heaviside, GlobalPool::Avg);
    spec.relaxed = false;
    spec.quantize = true;
    spec.per_channel = per_channel;
    let mut qat = Bam::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
    // One filter and one head column much smaller than the rest, so that the two schemes
    // round them differently.
    let filter = qat.convs[0].w.len() / qat.convs[0].output.channels;
    qat.convs[0].w[..filter].iter_mut().for_each(|w| *w *= 1e-3);
    let cols = qat.head[0].w.cols;
    for row in qat.head[0].w.data.chunks_exact_mut(cols) {
        row[0] *= 1e-3;
    }
    let mut plain = qat.clone();
    plain.spec.quantize = false;
    let expected = |w: &[f64], outer: usize, channels: usize, inner: usize| -> Vec<f64> {
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let d = if per_channel {
            PerChannelTensor::quantize("w", &w32, outer, channels, inner)
                .unwrap()
                .dequantize()
        } else {
            QuantizedTensor::quantize("w", vec![w.len()], &w32)
                .unwrap()
                .dequantize()
        };
        d.into_iter().map(f64::from).collect()
    };
    for k in 0..qat.convs.len() {
        let layer = &qat.convs[k];
        let channels = layer.output.channels;
        let inner = layer.w.len() / channels;
        let w = qat.conv_weights(k).unwrap();
        assert_eq!(w, expected(&layer.w, 1, channels, inner));
        assert!(w != layer.w, "the weights are rounded");
        // Each filter (per channel) or the tensor (per tensor) keeps its largest magnitude and
        // takes at most 255 levels of its step.
        let groups: Vec<(&[f64], &[f64])> = if per_channel {
            w.chunks(inner).zip(layer.w.chunks(inner)).collect()
        } else {
            vec![(&w[..], &layer.w[..])]
        };
        for (q, orig) in groups {
            let max = orig.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let qmax = q.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!((qmax - max).abs() <= 1e-6 * max, "{qmax} vs {max}");
            for (a, b) in q.iter().zip(orig) {
                assert!((a - b).abs() <= max / 127.0 * 0.5 + 1e-7 * max);
                let level = a / max * 127.0;
                assert!((level - level.round()).abs() < 1e-3, "{level}");
            }
        }
        plain.convs[k].w = w;
    }
    // The small filter keeps its resolution per channel and is rounded to zero per tensor.
    let first = &plain.convs[0].w[..filter];
    assert_eq!(first.iter().all(|&v| v == 0.0), !per_channel);
    for (l, layer) in qat.head.iter().enumerate() {
        let name = qat.tensor_name(qat.convs.len(), l);
        let (rows, cols) = (layer.w.rows, layer.w.cols);
        let w = qat
            .fake_quantize(&name, &layer.w.data, rows, cols, 1)
            .unwrap();
        assert_eq!(w, expected(&layer.w.data, rows, cols, 1));
        plain.head[l].w.data = w;
    }
    let column: Vec<f64> = plain.head[0].w.data.iter().step_by(cols).copied().collect();
    assert_eq!(column.iter().all(|&v| v == 0.0), !per_channel);
    let x = input(4, 60);
    let (tq, tp) = (qat.forward(&x, 4).unwrap(), plain.forward(&x, 4).unwrap());
    assert_eq!(tq.output, tp.output);
    let targets = vec![0.5; 12];
    let (_, g) = mse(&tq.output, &targets).unwrap();
    let grads = qat.backward(&tq, &g);
    assert_eq!(grads, plain.backward(&tp, &g));
    assert!(grads.iter().flatten().any(|&v| v != 0.0));
}

#[test]
fn int8_qat_uses_quantized_weights_with_straight_through_gradients() {
    check_qat(false);
}

#[test]
fn per_channel_int8_qat_uses_per_channel_weights_with_straight_through_gradients() {
    check_qat(true);
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
