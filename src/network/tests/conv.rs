//! Convolutional layers in a network: kernel and bias gradients against finite differences,
//! the event path against the dense one, sizes derived from the maps.

use super::*;
use crate::layers::conv::{ConvLayerSpec, Extent, PoolKind, PoolSpec};

/// 12 inputs → conv (2 filters, kernel 3, stride 2, padding 1, recurrent kernel 3, bias) →
/// conv (4 filters in 2 groups, kernel 3, dilation 2) → a flat recurrent layer → readout.
fn conv_spec(inputs: usize) -> NetworkSpec {
    let layer = |conv, recurrent, bias| SpikingLayerSpec {
        size: 3,
        recurrent,
        bias,
        learn_tau: true,
        tau_spread: 0.3,
        tau_mem_ms: 6.0,
        tau_syn_ms: 3.0,
        reset_grad: ResetGrad::Differentiable,
        conv,
        ..SpikingLayerSpec::default()
    };
    let first = ConvLayerSpec {
        filters: 2,
        kernel: Extent::Same(3),
        stride: Extent::Same(2),
        padding: Extent::Same(1),
        recurrent_kernel: Extent::Same(3),
        ..ConvLayerSpec::default()
    };
    let second = ConvLayerSpec {
        filters: 4,
        kernel: Extent::Same(3),
        dilation: Extent::Same(2),
        groups: 2,
        ..ConvLayerSpec::default()
    };
    let mut s = NetworkSpec {
        hidden: vec![
            layer(Some(first), true, true),
            layer(Some(second), false, true),
            layer(None, true, false),
        ],
        ..spec(inputs)
    };
    s.resolve_conv_sizes().unwrap();
    s
}

/// A network of `spec` with random kernels (matrices rebuilt), biases and readout weights.
fn random_conv_network(spec: &NetworkSpec, rng: &mut ChaCha8Rng) -> Network<f64> {
    let mut net = random_network_of(spec, rng);
    for layer in &mut net.hidden {
        if let Some(conv) = &mut layer.conv {
            let scale = 3.0 / (conv.input.fan_in() as f64).sqrt();
            for w in &mut conv.input.kernel {
                *w = rng.random_range(-0.5..1.5) * scale;
            }
            for w in conv.recurrent.iter_mut().flat_map(|k| &mut k.kernel) {
                *w = rng.random_range(-0.6..0.6);
            }
        }
        for b in layer.b_in.iter_mut().flatten() {
            *b = rng.random_range(-0.3..0.3);
        }
        layer.apply_constraints();
    }
    net
}

#[test]
fn conv_sizes_are_the_maps() {
    let s = conv_spec(12);
    let sizes: Vec<usize> = s.hidden.iter().map(|l| l.size).collect();
    // (12 + 2 − 3)/2 + 1 = 6 positions × 2 filters; (6 − 5) + 1 = 2 positions × 4 filters.
    assert_eq!(sizes, vec![12, 8, 3]);
    let mut wrong = s.clone();
    wrong.hidden[1].size = 9;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let err = Network::<f64>::new(&wrong, &mut rng).unwrap_err();
    assert_eq!(err.field, "network.hidden[1].size", "{err}");
    let mut too_short = s.clone();
    too_short.inputs = 1;
    let err = too_short.resolve_conv_sizes().unwrap_err();
    assert_eq!(err.field, "network.hidden[1].conv", "{err}");
}

#[test]
fn conv_tensors_are_kernels_and_the_matrices_follow_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = random_conv_network(&conv_spec(12), &mut rng);
    let shapes: Vec<(String, Vec<usize>)> = net
        .tensors()
        .into_iter()
        .filter(|t| t.name.starts_with("hidden.0") || t.name.starts_with("hidden.1"))
        .filter(|t| t.name.contains("kernel") || t.name.contains("b_in"))
        .map(|t| (t.name, t.shape))
        .collect();
    let expected = [
        ("hidden.0.w_in_kernel", vec![2, 1, 3]),
        ("hidden.0.w_rec_kernel", vec![2, 2, 3]),
        ("hidden.0.b_in", vec![2]),
        ("hidden.1.w_in_kernel", vec![4, 1, 3]),
        ("hidden.1.b_in", vec![4]),
    ];
    let expected: Vec<(String, Vec<usize>)> = expected
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
    assert_eq!(shapes, expected);
    // A changed kernel reaches the matrix at every position it is tied to.
    net.hidden[0].params_mut()[0][1] = 7.0;
    net.apply_constraints();
    let w = &net.hidden[0].w_in;
    let sevens = w.data.iter().filter(|&&v| v == 7.0).count();
    assert_eq!(
        sevens, 6,
        "kernel tap 1 of filter 0 lands once per output position"
    );
}

#[test]
fn conv_kernels_and_biases_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let net = random_conv_network(&conv_spec(12), &mut rng);
    assert_matches_finite_differences(&net, &mut rng);
}

#[test]
fn conv_event_path_equals_dense_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let net = random_conv_network(&binary_detached(conv_spec(12)), &mut rng);
    assert_event_path_equals_dense_path(&net, &mut rng);
}

/// `configs/shd_conv.toml` over SHD's 700 channels: stork's maps 16 × 68, 32 × 21, 64 × 5.
#[test]
fn the_shipped_conv_config_has_storks_map_sizes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/shd_conv.toml");
    let config = crate::config::file::load(Some(&path), &[]).unwrap();
    let mut spec = config.network.spiking().unwrap().clone();
    spec.inputs = 700;
    spec.resolve_conv_sizes().unwrap();
    let sizes: Vec<usize> = spec.hidden.iter().map(|l| l.size).collect();
    assert_eq!(sizes, [16 * 68, 32 * 21, 64 * 5]);
    spec.readout.size = 20;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let net = Network::<f32>::new(&spec, &mut rng).unwrap();
    let kernels: Vec<(String, Vec<usize>)> = net
        .tensors()
        .into_iter()
        .filter(|t| t.name.ends_with("kernel"))
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(kernels[0], ("hidden.0.w_in_kernel".into(), vec![16, 1, 21]));
    assert_eq!(
        kernels[5],
        ("hidden.2.w_rec_kernel".into(), vec![64, 64, 5])
    );
}

/// A `[2, 6, 5]` image → 2-D conv (3 filters, 3 × 3, padding 1, average-pooled 2 × 2,
/// recurrent 3 × 3, bias) → 2-D conv (4 filters in no groups, kernel [2, 1], summed over
/// [1, 2]) → a flat recurrent layer → readout.
fn conv2d_spec() -> NetworkSpec {
    let mut s = conv_spec(60);
    s.input_shape = Some(vec![2, 6, 5]);
    s.hidden[0].conv = Some(ConvLayerSpec {
        filters: 3,
        kernel: Extent::Same(3),
        padding: Extent::Same(1),
        recurrent_kernel: Extent::Same(3),
        pool: Some(PoolSpec {
            kind: PoolKind::Avg,
            size: Extent::Same(2),
        }),
        ..ConvLayerSpec::default()
    });
    s.hidden[1].conv = Some(ConvLayerSpec {
        filters: 4,
        kernel: Extent::PerAxis([2, 1]),
        pool: Some(PoolSpec {
            kind: PoolKind::Sum,
            size: Extent::PerAxis([1, 2]),
        }),
        ..ConvLayerSpec::default()
    });
    s.resolve_conv_sizes().unwrap();
    s
}

#[test]
fn conv2d_maps_and_kernels_have_their_shapes() {
    let s = conv2d_spec();
    // 6 × 5 → (same) 6 × 5 → pooled 3 × 2; kernel [2, 1] → 2 × 2 → pooled 2 × 1.
    let sizes: Vec<usize> = s.hidden.iter().map(|l| l.size).collect();
    assert_eq!(sizes, vec![3 * 3 * 2, 4 * 2, 3]);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let net = Network::<f64>::new(&s, &mut rng).unwrap();
    let kernels: Vec<Vec<usize>> = (net.tensors().into_iter())
        .filter(|t| t.name.ends_with("kernel"))
        .map(|t| t.shape)
        .collect();
    assert_eq!(
        kernels,
        [vec![3, 2, 3, 3], vec![3, 3, 3, 3], vec![4, 3, 2, 1]]
    );
    let mut wrong = s.clone();
    wrong.input_shape = Some(vec![2, 5, 5]);
    let err = wrong.validate().unwrap_err();
    assert_eq!(err.field, "network.input_shape", "{err}");
    wrong.input_shape = Some(vec![1, 2, 6, 5]);
    assert!(wrong
        .validate()
        .unwrap_err()
        .to_string()
        .contains("[channels"));
}

#[test]
fn conv2d_kernels_and_biases_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let net = random_conv_network(&conv2d_spec(), &mut rng);
    assert_matches_finite_differences(&net, &mut rng);
}

#[test]
fn conv2d_event_path_equals_dense_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let net = random_conv_network(&binary_detached(conv2d_spec()), &mut rng);
    assert_event_path_equals_dense_path(&net, &mut rng);
}

/// [`conv2d_spec`] with its first layer's currents max-pooled instead of averaged.
fn max_pooled_spec() -> NetworkSpec {
    let mut s = conv2d_spec();
    let conv = s.hidden[0].conv.as_mut().unwrap();
    conv.pool = Some(PoolSpec {
        kind: PoolKind::Max,
        size: Extent::Same(2),
    });
    s.resolve_conv_sizes().unwrap();
    s
}

#[test]
fn max_pooled_kernels_and_biases_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let net = random_conv_network(&max_pooled_spec(), &mut rng);
    // The matrix is the unpooled 3 × 6 × 5 convolution; the neurons the 3 × 3 × 2 pooled map.
    assert_eq!((net.hidden[0].w_in.cols, net.hidden[0].size()), (90, 18));
    assert_matches_finite_differences(&net, &mut rng);
}

#[test]
fn max_pooled_event_path_equals_dense_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let net = random_conv_network(&binary_detached(max_pooled_spec()), &mut rng);
    assert_event_path_equals_dense_path(&net, &mut rng);
}
