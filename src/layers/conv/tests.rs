use super::*;
use crate::linalg::conv::{conv2d_forward, Conv2d};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn one_d(in_channels: usize, length: usize, filters: usize, kernel: usize) -> ConvSpec {
    ConvSpec::one_d(in_channels, length, filters, kernel, 1, 0, 1, 1)
}

fn two_d(input: [usize; 3], filters: usize, kernel: [usize; 2]) -> ConvSpec {
    ConvSpec {
        input: MapShape {
            channels: input[0],
            height: input[1],
            width: input[2],
        },
        filters,
        kernel,
        stride: [1, 1],
        padding: [0, 0],
        dilation: [1, 1],
        groups: 1,
        pool: None,
    }
}

fn pooled(spec: ConvSpec, kind: PoolKind, size: [usize; 2]) -> ConvSpec {
    ConvSpec {
        pool: Some(Pooling { kind, size }),
        ..spec
    }
}

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The convolution by its definition (the im2col convolution of the binary activation maps),
/// then the pooling by its definition: windows of the map, summed or averaged.
fn reference(s: &ConvSpec, kernel: &[f64], x: &[f64]) -> Vec<f64> {
    let conv = Conv2d::new(
        "test",
        s.input.channels,
        s.filters,
        s.kernel,
        s.stride,
        s.padding,
        s.dilation,
        s.groups,
    )
    .unwrap();
    let (z, shape) = conv2d_forward(&conv, x, s.input, kernel, None);
    // A max pooling follows the matrix: the matrix is the convolution.
    let Some(pool) = s.pool.filter(|p| p.kind != PoolKind::Max) else {
        return z;
    };
    let [ph, pw] = pool.size;
    let (oh, ow) = (shape.height / ph, shape.width / pw);
    let mut y = Vec::new();
    for f in 0..shape.channels {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0;
                for dy in 0..ph {
                    for dx in 0..pw {
                        sum += z[(f * shape.height + oy * ph + dy) * shape.width + ox * pw + dx];
                    }
                }
                y.push(match pool.kind {
                    PoolKind::Sum | PoolKind::Max => sum,
                    PoolKind::Avg => sum / (ph * pw) as f64,
                });
            }
        }
    }
    y
}

fn shapes() -> Vec<ConvSpec> {
    let strided = ConvSpec {
        stride: [2, 1],
        padding: [1, 2],
        ..two_d([2, 7, 6], 4, [3, 3])
    };
    let grouped = ConvSpec {
        dilation: [2, 1],
        groups: 2,
        padding: [1, 1],
        ..two_d([4, 6, 5], 6, [3, 2])
    };
    vec![
        one_d(1, 12, 3, 3),
        ConvSpec::one_d(2, 9, 4, 3, 2, 2, 1, 1),
        ConvSpec::one_d(4, 10, 6, 3, 1, 1, 2, 2),
        ConvSpec::one_d(3, 11, 2, 5, 3, 0, 1, 1),
        two_d([1, 5, 5], 2, [3, 3]),
        strided,
        grouped,
        pooled(two_d([2, 6, 6], 3, [3, 3]), PoolKind::Avg, [2, 2]),
        pooled(strided, PoolKind::Sum, [2, 3]),
        pooled(grouped, PoolKind::Avg, [3, 2]),
        pooled(one_d(2, 13, 3, 3), PoolKind::Avg, [1, 4]),
        pooled(strided, PoolKind::Max, [2, 2]),
    ]
}

#[test]
fn the_matrix_computes_the_convolution_and_the_pooling() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for s in shapes() {
        s.validate().unwrap();
        let kernel = random(s.kernel_len(), &mut rng);
        let x = random(s.inputs(), &mut rng);
        let w = s.to_matrix(&kernel);
        let y: Vec<f64> = (0..s.matrix_outputs())
            .map(|o| (0..s.inputs()).map(|i| x[i] * w.at(i, o)).sum())
            .collect();
        let expected = reference(&s, &kernel, &x);
        assert_eq!(y.len(), expected.len(), "{s:?}");
        for (a, b) in y.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-12, "{s:?}: {a} vs {b}");
        }
    }
}

#[test]
fn the_kernel_gradient_is_the_adjoint_of_building_the_matrix() {
    // ⟨to_matrix(k), G⟩ = ⟨k, kernel_grad(G)⟩ for every k and G, and the gradient of the
    // loss ⟨y, g⟩ with y = x·W(k) agrees with finite differences of the kernel.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for s in shapes() {
        let kernel = random(s.kernel_len(), &mut rng);
        let g = Matrix {
            rows: s.inputs(),
            cols: s.matrix_outputs(),
            data: random(s.inputs() * s.matrix_outputs(), &mut rng),
        };
        let lhs: f64 = (s.to_matrix(&kernel).data.iter().zip(&g.data))
            .map(|(a, b)| a * b)
            .sum();
        let grad = s.kernel_grad(&g);
        let rhs: f64 = kernel.iter().zip(&grad).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-10, "{s:?}: {lhs} vs {rhs}");

        let x = random(s.inputs(), &mut rng);
        let dy = random(s.matrix_outputs(), &mut rng);
        let loss = |k: &[f64]| -> f64 {
            let y = reference(&s, k, &x);
            y.iter().zip(&dy).map(|(a, b)| a * b).sum()
        };
        let outer = Matrix {
            rows: s.inputs(),
            cols: s.matrix_outputs(),
            data: x
                .iter()
                .flat_map(|&xi| dy.iter().map(move |&d| xi * d))
                .collect(),
        };
        let analytic = s.kernel_grad(&outer);
        for (w, &a) in analytic.iter().enumerate() {
            let (mut plus, mut minus) = (kernel.clone(), kernel.clone());
            plus[w] += 1e-6;
            minus[w] -= 1e-6;
            let fd = (loss(&plus) - loss(&minus)) / 2e-6;
            assert!((fd - a).abs() < 1e-6, "{s:?} weight {w}: {fd} vs {a}");
        }
    }
}

#[test]
fn taps_are_the_matrix_structure() {
    for s in shapes() {
        let ones = vec![1.0f64; s.kernel_len()];
        let nnz = (s.to_matrix(&ones).data.iter())
            .filter(|&&v| v != 0.0)
            .count();
        assert_eq!(s.taps(), nnz, "{s:?}");
    }
}

#[test]
fn storks_shd_network_has_the_published_map_sizes() {
    // Filters 16/32/64, kernels 21/7/7, strides 10/3/3 over 700 channels.
    let first = ConvSpec::one_d(1, 700, 16, 21, 10, 0, 1, 1);
    assert_eq!(first.out_size(), [1, 68]);
    let second = ConvSpec::one_d(16, 68, 32, 7, 3, 0, 1, 1);
    assert_eq!(second.out_size(), [1, 21]);
    let third = ConvSpec::one_d(32, 21, 64, 7, 3, 0, 1, 1);
    assert_eq!((third.out_size(), third.outputs()), ([1, 5], 320));
    // The recurrent convolution: kernel 5, padding 2 keeps the map's size.
    let recurrent = ConvSpec::one_d(16, 68, 16, 5, 1, 2, 1, 1);
    assert_eq!(recurrent.outputs(), recurrent.inputs());
    assert!(first.is_one_d() && !two_d([1, 5, 5], 2, [3, 3]).is_one_d());
}

#[test]
fn pooled_fan_in_counts_the_window() {
    let s = pooled(two_d([2, 6, 6], 3, [3, 3]), PoolKind::Avg, [2, 2]);
    assert_eq!((s.fan_in(), s.pooled_fan_in()), (18, 72));
    assert_eq!(s.pool_coefficient::<f64>(), 0.25);
    let sum = pooled(s, PoolKind::Sum, [2, 2]);
    assert_eq!(sum.pool_coefficient::<f64>(), 1.0);
    // A max pooling is not folded: the matrix is the 3 × 4 × 4 convolution, the neurons the
    // 3 × 2 × 2 pooled map, and the fan-in the kernel's.
    let max = pooled(s, PoolKind::Max, [2, 2]);
    assert_eq!((max.matrix_outputs(), max.outputs()), (48, 12));
    assert_eq!(
        (max.pooled_fan_in(), max.pool_coefficient::<f64>()),
        (18, 1.0)
    );
    assert_eq!(max.max_pool().unwrap().outputs(), 12);
}

#[test]
fn impossible_shapes_are_refused_by_name() {
    let cases = [
        (ConvSpec::one_d(1, 8, 2, 3, 0, 0, 1, 1), "stride"),
        (ConvSpec::one_d(3, 8, 2, 3, 1, 0, 1, 2), "groups"),
        (one_d(1, 4, 2, 5), "spans 5"),
        (ConvSpec::one_d(1, 6, 2, 3, 1, 0, 3, 1), "spans 7"),
        (
            ConvSpec::one_d(1, 6, 2, 3, 1, 0, usize::MAX, 1),
            "overflows",
        ),
        (two_d([1, 2, 8], 2, [3, 3]), "axis 0"),
        (
            pooled(two_d([1, 4, 4], 2, [3, 3]), PoolKind::Avg, [3, 3]),
            "pooling window",
        ),
        (
            pooled(two_d([1, 4, 4], 2, [3, 3]), PoolKind::Sum, [0, 1]),
            "pool.size",
        ),
        (two_d([64, 64, 64], 64, [1, 1]), "entries"),
    ];
    for (s, expected) in cases {
        let err = s.validate().unwrap_err();
        assert!(err.contains(expected), "{s:?}: {err}");
    }
    assert!(ConvSpec::one_d(1, 4, 2, 5, 1, 1, 1, 1).validate().is_ok());
}
