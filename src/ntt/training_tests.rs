//! Checks of the two NTT phases: the supervised gradient against finite differences, masked
//! training that keeps pruned weights at zero and learns, the transfer loop (loss, density,
//! re-masking, determinism) and the errors on bad input.

use super::tests::{assert_close, finite_differences, min_hidden_margin, normal_vec, tiny_net};
use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Three Gaussian clusters in `dims` dimensions, `per_class` samples each, interleaved.
fn clusters(dims: usize, per_class: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = normal_vec(3 * dims, &mut rng);
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for i in 0..3 * per_class {
        let class = i % 3;
        let noise = normal_vec(dims, &mut rng);
        x.extend(
            noise
                .iter()
                .zip(&centres[class * dims..(class + 1) * dims])
                .map(|(n, c)| 2.0 * c + 0.3 * n),
        );
        labels.push(class);
    }
    (x, labels)
}

#[test]
fn supervised_gradient_matches_finite_differences() {
    let sizes = [5, 6, 4, 3];
    let net = tiny_net(&sizes, 21);
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let x = normal_vec(6 * sizes[0], &mut rng);
    let labels = [0, 2, 1, 1, 0, 2];
    let mask = Mask::new(&net, 0.5, MaskKind::Random, &mut rng);
    assert!(min_hidden_margin(&mask.masked(&net), &x, 6) > 1e-3);
    let l2 = 0.1;
    let (loss, grads) = masked_loss_grad(&net, &mask, &x, &labels, l2);
    assert!(loss > 0.1);
    let fd = finite_differences(
        &net,
        |n| masked_loss_grad(n, &mask, &x, &labels, l2).0,
        1e-6,
    );
    assert_close(&grads.flatten(), &fd, 1e-7, "supervised gradient");
    for (g, keep) in grads.layers.iter().zip(&mask.keep) {
        assert!(g.w.iter().zip(keep).all(|(&v, &k)| k || v == 0.0));
    }
}

#[test]
fn masked_training_learns_and_keeps_pruned_weights_at_zero() {
    let (x, labels) = clusters(8, 40, 23);
    let data = Labelled {
        inputs: &x,
        labels: &labels,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(24);
    let start = Mlp::<f64>::glorot_normal(&[8, 16, 3], 0.01, &mut rng);
    let mask = Mask::new(&start, 0.4, MaskKind::Random, &mut rng);
    let cfg = SupervisedConfig {
        batch: 16,
        epochs: 30,
        learning_rate: 1e-2,
        ..SupervisedConfig::default()
    };
    let mut net = start.clone();
    let losses = train_masked(&mut net, &mask, data, &cfg).unwrap();
    assert_eq!(losses.len(), 30);
    assert!(losses[29] < 0.3 * losses[0], "losses {losses:?}");
    assert!(accuracy(&net, data).unwrap() > 0.95);
    for (l, keep) in net.layers.iter().zip(&mask.keep) {
        assert!(l.w.iter().zip(keep).all(|(&w, &k)| k || w == 0.0));
    }
    let mut again = start;
    train_masked(&mut again, &mask, data, &cfg).unwrap();
    assert_eq!(net, again, "the same seed gives the same network");
}

/// A teacher, unlabelled inputs and a validation batch for the transfer tests.
fn transfer_setup() -> (Mlp<f64>, Vec<f64>, Vec<f64>) {
    let sizes = [10, 24, 16, 4];
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let teacher = Mlp::<f64>::glorot_normal(&sizes, 0.01, &mut rng);
    let inputs = normal_vec(64 * sizes[0], &mut rng);
    let validation = normal_vec(8 * sizes[0], &mut rng);
    (teacher, inputs, validation)
}

fn small_transfer() -> TransferConfig {
    TransferConfig {
        loss: NttConfig {
            density: 0.2,
            ..NttConfig::default()
        },
        learning_rate: 1e-2,
        batch: 8,
        epochs: 10,
        mask_update_every: 20,
        seed: 26,
    }
}

#[test]
fn transfer_lowers_the_loss_at_the_exact_density() {
    let (teacher, inputs, validation) = transfer_setup();
    let cfg = small_transfer();
    let t = transfer(&teacher, &inputs, &validation, &cfg).unwrap();
    let (first, last) = (t.history[0], *t.history.last().unwrap());
    assert_eq!((first.iteration, last.iteration), (0, 80));
    assert!(
        last.loss.total < 0.5 * first.loss.total,
        "{first:?} -> {last:?}"
    );
    assert!(last.loss.kernel_dist < first.loss.kernel_dist);
    assert!(last.loss.target_dist < first.loss.target_dist);
    assert_eq!(t.history.len(), 5, "0, 20, 40, 60 and 80 iterations");
    for ((l, keep), tl) in t.net.layers.iter().zip(&t.mask.keep).zip(&teacher.layers) {
        let kept = keep.iter().filter(|&&k| k).count();
        assert_eq!(kept, kept_count(l.w.len(), 0.2));
        assert!(l.w.iter().zip(keep).all(|(&w, &k)| k || w == 0.0));
        assert_ne!(l.b, tl.b, "biases are trained too");
    }
    let again = transfer(&teacher, &inputs, &validation, &cfg).unwrap();
    assert_eq!(t.net, again.net, "the same seed gives the same network");
    let other = TransferConfig { seed: 27, ..cfg };
    let shuffled = transfer(&teacher, &inputs, &validation, &other).unwrap();
    assert_ne!(t.net, shuffled.net, "the seed orders the minibatches");
}

#[test]
fn re_masking_follows_the_weights_and_can_be_turned_off() {
    let (teacher, inputs, validation) = transfer_setup();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let start = Mask::new(&teacher, 0.2, MaskKind::Magnitude, &mut rng);
    let fixed = TransferConfig {
        mask_update_every: usize::MAX,
        ..small_transfer()
    };
    let t = transfer(&teacher, &inputs, &validation, &fixed).unwrap();
    assert_eq!(
        t.mask, start,
        "without re-masking the teacher's magnitude mask stays"
    );
    let remasked = transfer(&teacher, &inputs, &validation, &small_transfer()).unwrap();
    assert_ne!(
        remasked.mask, start,
        "re-masking moved some weights in or out"
    );
}

#[test]
fn bad_inputs_and_settings_are_errors() {
    let (teacher, inputs, validation) = transfer_setup();
    let cfg = small_transfer();
    let run = |inputs: &[f64], validation: &[f64], cfg: &TransferConfig| {
        transfer(&teacher, inputs, validation, cfg).err()
    };
    let odd = TransferConfig { batch: 7, ..cfg };
    assert!(matches!(
        run(&inputs, &validation, &odd),
        Some(NttError::Config(_))
    ));
    let dense = TransferConfig {
        loss: NttConfig {
            density: 1.5,
            ..cfg.loss
        },
        ..cfg
    };
    assert!(matches!(
        run(&inputs, &validation, &dense),
        Some(NttError::Config(_))
    ));
    assert!(matches!(
        run(&inputs[..15], &validation, &cfg),
        Some(NttError::Shape { .. })
    ));
    assert!(matches!(
        run(&inputs, &validation[..30], &cfg),
        Some(NttError::Config(_))
    ));
    assert!(matches!(
        run(&inputs[..40], &validation, &cfg),
        Some(NttError::Config(_))
    ));
    let mut nan = inputs.clone();
    nan[3] = f64::NAN;
    assert!(matches!(
        run(&nan, &validation, &cfg),
        Some(NttError::NonFinite(_))
    ));

    let mut net = teacher.clone();
    let mask = Mask::dense(&teacher);
    let sup = SupervisedConfig::default();
    let x = &inputs[..20];
    let wrong = Labelled {
        inputs: x,
        labels: &[0, 4],
    };
    assert!(matches!(
        train_masked(&mut net, &mask, wrong, &sup),
        Err(NttError::Label {
            sample: 1,
            label: 4,
            classes: 4
        })
    ));
    let short = Labelled {
        inputs: x,
        labels: &[0],
    };
    assert!(matches!(accuracy(&net, short), Err(NttError::Shape { .. })));
    let other = Mask::dense(&Mlp::<f64>::zeros(&[10, 5, 4]));
    let fine = Labelled {
        inputs: x,
        labels: &[0, 1],
    };
    assert!(matches!(
        train_masked(&mut net, &other, fine, &sup),
        Err(NttError::Config(_))
    ));
    let zero = SupervisedConfig { epochs: 0, ..sup };
    assert!(matches!(
        train_masked(&mut net, &mask, fine, &zero),
        Err(NttError::Config(_))
    ));
}

#[test]
fn units_without_inputs_are_found() {
    let net = Mlp::<f64>::zeros(&[3, 4, 2]);
    let mut mask = Mask::dense(&net);
    assert!(mask.units_without_inputs(0, 3).is_empty());
    mask.keep[0][3..6].fill(false);
    mask.keep[1][4] = false;
    assert_eq!(mask.units_without_inputs(0, 3), vec![1]);
    assert!(mask.units_without_inputs(1, 4).is_empty());
    mask.keep[1][4..8].fill(false);
    assert_eq!(mask.units_without_inputs(1, 4), vec![1]);
}
