use super::*;

/// Deterministic pseudo-random values in (−1, 1), all distinct for the pooling tests.
fn values(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + 1.0) * 0.7548776662 + seed as f64 * 0.5698402910).fract() * 2.0 - 1.0)
        .collect()
}

/// The convolution by its definition, one output at a time.
fn direct(conv: &Conv2d, x: &[f64], input: MapShape, w: &[f64], b: &[f64]) -> Vec<f64> {
    let out = conv
        .output_size("conv", [input.height, input.width])
        .unwrap();
    let batch = x.len() / input.len();
    let (cin_g, cout_g) = (
        conv.in_channels / conv.groups,
        conv.out_channels / conv.groups,
    );
    let [kh, kw] = conv.kernel;
    let mut y = Vec::new();
    for s in 0..batch {
        for o in 0..conv.out_channels {
            let g = o / cout_g;
            for oy in 0..out[0] {
                for ox in 0..out[1] {
                    let mut acc = b[o];
                    for ci in 0..cin_g {
                        let c = g * cin_g + ci;
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * conv.stride[0] + ki * conv.dilation[0]) as isize
                                    - conv.padding[0] as isize;
                                let ix = (ox * conv.stride[1] + kj * conv.dilation[1]) as isize
                                    - conv.padding[1] as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy as usize >= input.height
                                    || ix as usize >= input.width
                                {
                                    continue;
                                }
                                let xv = x[s * input.len()
                                    + c * input.plane()
                                    + iy as usize * input.width
                                    + ix as usize];
                                acc += xv * w[((o * cin_g + ci) * kh + ki) * kw + kj];
                            }
                        }
                    }
                    y.push(acc);
                }
            }
        }
    }
    y
}

fn geometries() -> Vec<(Conv2d, MapShape)> {
    let shape = |channels, height, width| MapShape {
        channels,
        height,
        width,
    };
    vec![
        // 3×3 'same'.
        (
            Conv2d::new("c", 2, 3, [3, 3], [1, 1], [1, 1], [1, 1], 1).unwrap(),
            shape(2, 5, 4),
        ),
        // Strided, dilated, asymmetric kernel, grouped.
        (
            Conv2d::new("c", 4, 6, [2, 3], [2, 1], [1, 2], [2, 1], 2).unwrap(),
            shape(4, 7, 6),
        ),
        // Depthwise.
        (
            Conv2d::new("c", 3, 3, [3, 3], [1, 2], [0, 1], [1, 1], 3).unwrap(),
            shape(3, 5, 5),
        ),
        // 1-D.
        (
            Conv2d::one_d("c", 2, 4, 3, 1, 1, 2, 1).unwrap(),
            shape(2, 1, 9),
        ),
    ]
}

#[test]
fn forward_matches_the_definition() {
    for (conv, input) in geometries() {
        let batch = 3;
        let x = values(batch * input.len(), 1);
        let w = values(conv.weight_len(), 2);
        let b = values(conv.out_channels, 3);
        let (y, shape) = conv2d_forward(&conv, &x, input, &w, Some(&b));
        let expect = direct(&conv, &x, input, &w, &b);
        assert_eq!(y.len(), batch * shape.len());
        for (a, e) in y.iter().zip(&expect) {
            assert!((a - e).abs() < 1e-12, "{conv:?}: {a} vs {e}");
        }
        let (y0, _) = conv2d_forward(&conv, &x, input, &w, None);
        let zeros = vec![0.0; conv.out_channels];
        for (a, e) in y0.iter().zip(direct(&conv, &x, input, &w, &zeros)) {
            assert!((a - e).abs() < 1e-12);
        }
    }
}

/// `L = Σ G ⊙ conv(x, w, b)`: the backward pass against central differences in every input,
/// weight and bias.
#[test]
fn backward_matches_finite_differences() {
    for (conv, input) in geometries() {
        let batch = 3;
        let x = values(batch * input.len(), 4);
        let w = values(conv.weight_len(), 5);
        let b = values(conv.out_channels, 6);
        let (y, _) = conv2d_forward(&conv, &x, input, &w, Some(&b));
        let gy = values(y.len(), 7);
        let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
            let (y, _) = conv2d_forward(&conv, x, input, w, Some(b));
            y.iter().zip(&gy).map(|(a, g)| a * g).sum()
        };
        let grads = conv2d_backward(&conv, &x, input, &w, &gy, true);
        let h = 1e-5;
        let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
        for i in 0..x.len() {
            let d = fd(&|e| {
                let mut xp = x.clone();
                xp[i] += e;
                loss(&xp, &w, &b)
            });
            assert!((d - grads.dx[i]).abs() < 1e-8, "{conv:?} dx[{i}]");
        }
        for i in 0..w.len() {
            let d = fd(&|e| {
                let mut wp = w.clone();
                wp[i] += e;
                loss(&x, &wp, &b)
            });
            assert!((d - grads.dw[i]).abs() < 1e-8, "{conv:?} dw[{i}]");
        }
        for i in 0..b.len() {
            let d = fd(&|e| {
                let mut bp = b.clone();
                bp[i] += e;
                loss(&x, &w, &bp)
            });
            assert!((d - grads.db[i]).abs() < 1e-8, "{conv:?} db[{i}]");
        }
        let no_dx = conv2d_backward(&conv, &x, input, &w, &gy, false);
        assert!(no_dx.dx.is_empty());
        assert_eq!(no_dx.dw, grads.dw);
    }
}

#[test]
fn pooling_adjoints_match_finite_differences() {
    let input = MapShape {
        channels: 2,
        height: 5,
        width: 4,
    };
    let batch = 2;
    let x = values(batch * input.len(), 8);
    let (y, shape, arg) = max_pool2d(&x, input, [2, 2]);
    assert_eq!((shape.height, shape.width), (2, 2));
    // Sample 1, channel 1, window (1, 0): rows 2–3, columns 0–1.
    let at = |y: usize, x0: usize| x[input.len() + input.plane() + y * 4 + x0];
    let m = at(2, 0).max(at(2, 1)).max(at(3, 0)).max(at(3, 1));
    assert_eq!(y[shape.len() + shape.plane() + 2], m);
    let gy = values(y.len(), 9);
    let dx = max_pool2d_backward(&gy, &arg, input, batch);
    for kind in [GlobalPool::Avg, GlobalPool::Max] {
        let (gp, garg) = global_pool(&x, input, kind);
        assert_eq!(gp.len(), batch * input.channels);
        let gg = values(gp.len(), 10);
        let gdx = global_pool_backward(&gg, &garg, input, kind);
        let h = 1e-6;
        for i in 0..x.len() {
            let f = |e: f64| {
                let mut xp = x.clone();
                xp[i] += e;
                global_pool(&xp, input, kind)
                    .0
                    .iter()
                    .zip(&gg)
                    .map(|(a, g)| a * g)
                    .sum::<f64>()
            };
            assert!(
                ((f(h) - f(-h)) / (2.0 * h) - gdx[i]).abs() < 1e-8,
                "{kind:?}"
            );
        }
    }
    let h = 1e-6;
    for i in 0..x.len() {
        let f = |e: f64| {
            let mut xp = x.clone();
            xp[i] += e;
            max_pool2d(&xp, input, [2, 2])
                .0
                .iter()
                .zip(&gy)
                .map(|(a, g)| a * g)
                .sum::<f64>()
        };
        assert!(
            ((f(h) - f(-h)) / (2.0 * h) - dx[i]).abs() < 1e-8,
            "max pool dx[{i}]"
        );
    }
}

#[test]
fn bad_geometries_are_errors_naming_the_field() {
    let e = Conv2d::new("blocks[1]", 3, 4, [3, 3], [1, 1], [1, 1], [1, 1], 2).unwrap_err();
    assert!(e.to_string().contains("blocks[1].groups"), "{e}");
    let e = Conv2d::new("blocks[0]", 3, 4, [0, 3], [1, 1], [1, 1], [1, 1], 1).unwrap_err();
    assert!(e.to_string().contains("blocks[0].kernel"), "{e}");
    let conv = Conv2d::new("c", 1, 1, [5, 5], [1, 1], [0, 0], [2, 2], 1).unwrap();
    assert!(conv.output_size("blocks[2]", [8, 8]).is_err());
    assert_eq!(conv.output_size("c", [9, 10]).unwrap(), [1, 2]);
    assert_eq!(Conv2d::same_padding([3, 5], [1, 2]), [1, 4]);
}
