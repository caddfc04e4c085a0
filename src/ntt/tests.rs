//! Checks of the NTT core: the kernel against an explicit `J Jᵀ`, both gradients against
//! central finite differences, and the masks.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub(super) fn normal_vec(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// A tiny net with sizable biases so that some ReLUs are off and biases matter.
pub(super) fn tiny_net(sizes: &[usize], seed: u64) -> Mlp<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Mlp::glorot_normal(sizes, 0.3, &mut rng)
}

/// The smallest |pre-activation| of a hidden layer on `x` (distance to a ReLU kink).
pub(super) fn min_hidden_margin(net: &Mlp<f64>, x: &[f64], batch: usize) -> f64 {
    let fwd = net.forward(x, batch);
    let hidden = &fwd.pre[..fwd.pre.len() - 1];
    hidden
        .iter()
        .flat_map(|z| z.iter())
        .fold(f64::INFINITY, |m, z| m.min(z.abs()))
}

/// Fraction of hidden units that are off (so the check exercises the ReLU gates).
fn off_fraction(net: &Mlp<f64>, x: &[f64], batch: usize) -> f64 {
    let fwd = net.forward(x, batch);
    let hidden = &fwd.pre[..fwd.pre.len() - 1];
    let total: usize = hidden.iter().map(Vec::len).sum();
    let off = hidden.iter().flat_map(|z| z.iter()).filter(|&&z| z <= 0.0);
    off.count() as f64 / total as f64
}

/// Asserts `a ≈ b` entrywise: `|a − b| ≤ tol · max(1, max|b|)`.
pub(super) fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}: entry {i}: {x} vs {y} (scale {scale})"
        );
    }
}

#[test]
fn ntk_matches_explicit_jacobian() {
    for (sizes, batch, seed) in [(&[5, 4, 3, 2][..], 5, 1), (&[6, 8, 7, 5, 3][..], 6, 2)] {
        let net = tiny_net(sizes, seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
        let x = normal_vec(batch * sizes[0], &mut rng);
        assert!(off_fraction(&net, &x, batch) > 0.05, "no ReLU is off");
        let c = net.n_out();
        // Explicit Jacobian rows: one backward pass per (sample, output).
        let fwd = net.forward(&x, batch);
        let rows: Vec<Vec<f64>> = (0..batch * c)
            .map(|a| {
                let mut gout = vec![0.0; batch * c];
                gout[a] = 1.0;
                let mut g = net.zeros_like();
                net.backward(&fwd, &gout, None, &mut g);
                g.flatten()
            })
            .collect();
        let n1 = batch / 2;
        let n2 = batch - n1;
        let mut explicit = vec![0.0; n1 * c * n2 * c];
        for r in 0..n1 * c {
            for col in 0..n2 * c {
                explicit[r * n2 * c + col] = rows[r]
                    .iter()
                    .zip(&rows[n1 * c + col])
                    .map(|(p, q)| p * q)
                    .sum();
            }
        }
        let ntk = empirical_ntk(&net, &x, batch);
        assert_eq!((ntk.n1, ntk.n2, ntk.outputs), (n1, n2, c));
        assert_close(&ntk.values, &explicit, 1e-12, "ntk");
    }
}

/// Central finite differences of `loss` with respect to every flat parameter of `net`.
pub(super) fn finite_differences(
    net: &Mlp<f64>,
    loss: impl Fn(&Mlp<f64>) -> f64,
    h: f64,
) -> Vec<f64> {
    let p = net.flatten();
    let mut probe = net.clone();
    (0..p.len())
        .map(|i| {
            let mut q = p.clone();
            q[i] = p[i] + h;
            probe.set_flat(&q);
            let up = loss(&probe);
            q[i] = p[i] - h;
            probe.set_flat(&q);
            let down = loss(&probe);
            (up - down) / (2.0 * h)
        })
        .collect()
}

#[test]
fn ntk_distance_gradient_matches_finite_differences() {
    let sizes = [5, 4, 3, 2];
    let batch = 6;
    let net = tiny_net(&sizes, 3);
    let other = tiny_net(&sizes, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = normal_vec(batch * sizes[0], &mut rng);
    assert!(
        min_hidden_margin(&net, &x, batch) > 1e-3,
        "input too close to a kink"
    );
    assert!(off_fraction(&net, &x, batch) > 0.05, "no ReLU is off");
    let target = empirical_ntk(&other, &x, batch);
    let (dist, grads) = kernel_distance_grad(&net, &x, batch, &target);
    assert!(dist > 1e-3, "the kernels should differ");
    let fd = finite_differences(
        &net,
        |n| {
            let t = empirical_ntk(n, &x, batch);
            t.values
                .iter()
                .zip(&target.values)
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        },
        1e-6,
    );
    assert_close(&grads.flatten(), &fd, 1e-6, "kernel distance gradient");
}

#[test]
fn ntt_loss_gradient_matches_finite_differences() {
    let sizes = [5, 4, 3, 2];
    let batch = 6;
    let teacher = tiny_net(&sizes, 6);
    let mut student = teacher.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let noise = normal_vec(student.num_params(), &mut rng);
    let p: Vec<f64> = student
        .flatten()
        .iter()
        .zip(&noise)
        .map(|(a, b)| a + 0.3 * b)
        .collect();
    student.set_flat(&p);
    let x = normal_vec(batch * sizes[0], &mut rng);
    let mask = Mask::new(&student, 0.5, MaskKind::Random, &mut rng);
    let eff = mask.masked(&student);
    assert!(
        min_hidden_margin(&eff, &x, batch) > 1e-3,
        "input too close to a kink"
    );
    let cfg = NttConfig {
        lambda_kernel: 0.5,
        lambda_l2: 0.05,
        density: 0.5,
    };
    let targets = NttTargets::new(&teacher, &x, batch);
    let (loss, grads) = ntt_loss_grad(&student, &mask, &targets, &x, batch, &cfg);
    let again = ntt_loss(&student, &mask, &targets, &x, batch, &cfg);
    assert_eq!(loss, again);
    assert!(loss.kernel_dist > 1e-4 && loss.target_dist > 1e-4 && loss.l2 > 1e-4);
    let fd = finite_differences(
        &student,
        |s| ntt_loss(s, &mask, &targets, &x, batch, &cfg).total,
        1e-6,
    );
    assert_close(&grads.flatten(), &fd, 1e-6, "ntt loss gradient");
}

#[test]
fn masked_gradients_are_zero() {
    let sizes = [20, 16, 8, 4];
    let batch = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let teacher = Mlp::<f64>::glorot_normal(&sizes, 0.01, &mut rng);
    let x = normal_vec(batch * sizes[0], &mut rng);
    let targets = NttTargets::new(&teacher, &x, batch);
    let cfg = NttConfig {
        density: 0.1,
        ..NttConfig::default()
    };
    for kind in [MaskKind::Magnitude, MaskKind::Random] {
        let mask = Mask::new(&teacher, cfg.density, kind, &mut rng);
        let (_, grads) = ntt_loss_grad(&teacher, &mask, &targets, &x, batch, &cfg);
        let mut nonzero_kept = 0;
        for (g, keep) in grads.layers.iter().zip(&mask.keep) {
            for (&gw, &k) in g.w.iter().zip(keep) {
                if k {
                    nonzero_kept += usize::from(gw != 0.0);
                } else {
                    assert_eq!(gw, 0.0, "a masked weight has a gradient");
                }
            }
        }
        assert!(nonzero_kept > 0, "kept weights should get gradients");
    }
}

#[test]
fn masks_have_exact_density_and_keep_largest() {
    let sizes = [30, 20, 10];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let net = Mlp::<f64>::glorot_normal(&sizes, 0.01, &mut rng);
    for density in [0.03, 0.1, 0.5, 1.0] {
        let mag = Mask::new(&net, density, MaskKind::Magnitude, &mut rng);
        let rnd = Mask::new(&net, density, MaskKind::Random, &mut rng);
        for ((l, km), kr) in net.layers.iter().zip(&mag.keep).zip(&rnd.keep) {
            let want = kept_count(l.w.len(), density);
            assert_eq!(km.iter().filter(|&&b| b).count(), want);
            assert_eq!(kr.iter().filter(|&&b| b).count(), want);
            let kept_min =
                l.w.iter()
                    .zip(km)
                    .filter(|&(_, &k)| k)
                    .fold(f64::INFINITY, |m, (w, _)| m.min(w.abs()));
            let dropped_max =
                l.w.iter()
                    .zip(km)
                    .filter(|&(_, &k)| !k)
                    .fold(0.0f64, |m, (w, _)| m.max(w.abs()));
            assert!(
                kept_min >= dropped_max,
                "magnitude mask dropped a larger weight"
            );
        }
        if density < 0.5 {
            assert_ne!(
                mag, rnd,
                "random mask should differ from the magnitude mask"
            );
        }
    }
    assert_eq!(kept_count(235_200, 0.03), 7056);
    let mask = Mask::new(&net, 0.1, MaskKind::Magnitude, &mut rng);
    let sparse = mask.masked(&net);
    for (l, keep) in sparse.layers.iter().zip(&mask.keep) {
        for (&w, &k) in l.w.iter().zip(keep) {
            assert!(k || w == 0.0);
        }
    }
    assert_eq!(sparse.layers[0].b, net.layers[0].b, "biases are not masked");
}

#[test]
fn identical_student_has_zero_distance_and_f32_agrees() {
    let sizes = [12, 10, 6, 3];
    let batch = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let teacher = Mlp::<f64>::glorot_normal(&sizes, 0.01, &mut rng);
    let x = normal_vec(batch * sizes[0], &mut rng);
    let targets = NttTargets::new(&teacher, &x, batch);
    let dense = Mask::dense(&teacher);
    let cfg = NttConfig::default();
    let loss = ntt_loss(&teacher, &dense, &targets, &x, batch, &cfg);
    assert_eq!(loss.kernel_dist, 0.0);
    assert_eq!(loss.target_dist, 0.0);

    let mask = Mask::new(&teacher, 0.3, MaskKind::Magnitude, &mut rng);
    let (l64, g64) = ntt_loss_grad(&teacher, &mask, &targets, &x, batch, &cfg);
    let to32 = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
    let mut t32 = Mlp::<f32>::zeros(&sizes);
    t32.set_flat(&to32(&teacher.flatten()));
    let x32 = to32(&x);
    let targets32 = NttTargets::new(&t32, &x32, batch);
    let (l32, g32) = ntt_loss_grad(&t32, &mask, &targets32, &x32, batch, &cfg);
    assert!((l32.total - l64.total).abs() <= 1e-4 * l64.total.max(1e-3));
    let g32: Vec<f64> = g32.flatten().iter().map(|&v| v as f64).collect();
    assert_close(&g32, &g64.flatten(), 1e-4, "f32 gradient");
}

#[test]
fn gradient_descent_reduces_the_ntt_loss() {
    let sizes = [20, 32, 16, 4];
    let batch = 16;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let teacher = Mlp::<f64>::glorot_normal(&sizes, 0.01, &mut rng);
    let x = normal_vec(batch * sizes[0], &mut rng);
    let targets = NttTargets::new(&teacher, &x, batch);
    let cfg = NttConfig {
        density: 0.2,
        ..NttConfig::default()
    };
    let mask = Mask::new(&teacher, cfg.density, MaskKind::Magnitude, &mut rng);
    let mut student = teacher.clone();
    let first = ntt_loss(&student, &mask, &targets, &x, batch, &cfg).total;
    for _ in 0..50 {
        let (_, g) = ntt_loss_grad(&student, &mask, &targets, &x, batch, &cfg);
        student.axpy(-0.05, &g);
    }
    let last = ntt_loss(&student, &mask, &targets, &x, batch, &cfg).total;
    assert!(last < 0.8 * first, "loss {first} -> {last}");
}

#[test]
fn lenet_300_100_shapes() {
    let sizes = [784, 300, 100, 10];
    let batch = 64;
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let teacher = Mlp::<f32>::glorot_normal(&sizes, 0.01, &mut rng);
    let x: Vec<f32> = (0..batch * 784).map(|_| rng.random::<f32>()).collect();
    let targets = NttTargets::new(&teacher, &x, batch);
    assert_eq!(targets.kernel.values.len(), 320 * 320);
    let cfg = NttConfig::default();
    let mask = Mask::new(&teacher, cfg.density, MaskKind::Magnitude, &mut rng);
    assert!((mask.density() - 0.03).abs() < 1e-3);
    let (loss, g) = ntt_loss_grad(&teacher, &mask, &targets, &x, batch, &cfg);
    assert!(loss.total.is_finite() && loss.kernel_dist > 0.0);
    assert!(g.flatten().iter().all(|v| v.is_finite()));
}
