//! `ntt-mnist`: neural tangent transfer finds a 3%-dense LeNet-300-100 that trains better than
//! a random sparse one (Liu & Zenke, "Finding trainable sparse networks through Neural
//! Tangent Transfer", ICML 2020).
//!
//! Setting (the reference's `notebooks/ntt_demo_mlp.ipynb` on the 5000-digit MNIST subset,
//! 80% train, 20% test, split per class; pixels standardised by the training set's mean and
//! deviation as the reference's loader does): LeNet-300-100 (784-300-100-10, ReLU),
//! glorot-normal weights and `N(0, 0.01²)` biases, one dense teacher at initialisation.
//! Transfer ([`mod@crate::ntt::transfer`]): density 0.03 per layer, `λ_K = 1e-3`,
//! `λ_L2 = 1e-4`, Adam 5e-4, batches of 64 unlabelled training images (kernel between the
//! halves), 20 epochs, magnitude re-masking every 100 iterations; the transfer loss is logged
//! on 64 held-out test images (no labels). Supervised phase for every arm
//! ([`crate::ntt::supervised`]): Adam 1e-3, batches of 64, 50 epochs, `L2 = 1e-8`, the mask
//! fixed. Arms: the NTT result; the teacher under a random mask of the same per-layer counts
//! (`random_sparse`, the reference's `rand` wiring); the teacher under its own magnitude mask
//! (`magnitude`, NTT's starting point without the transfer); the dense teacher.
//!
//! What differs: 4000 training images instead of 54 000 (so about 7% of the paper's updates in
//! each phase, and lower accuracies for every arm); the random baseline is a uniformly random
//! mask of the same per-layer count (the reference shuffles the magnitude mask's input rows
//! with `jax.random.shuffle`, which keeps each unit's count). Five network seeds as the
//! paper's five runs (the notebook shows two).
//!
//! Measured (full, 55 s on 2 cores; every seed gives identical numbers on any thread count):
//! NTT 0.912, 0.917, 0.735, 0.919, 0.915 (mean 0.880); random sparse 0.896, 0.899, 0.876,
//! 0.894, 0.898 (mean 0.893); magnitude 0.856 and dense 0.948 on average. NTT beats random
//! sparse in 4 of 5 seeds (median +1.7 points) but not on the mean: in seed 3 the
//! magnitude-pruned start keeps none of the 1000 readout weights of two output units (30 are
//! kept), their logits are constants, digits 3 and 9 cannot be told apart, and NTT did not
//! reconnect them (a weight never kept gets no gradient and never moves, so re-masking
//! brings it back only if kept weights shrink below it). The `*_cut_outputs_per_seed` rows
//! count such units. Over ten seeds (1–10, 109 s) NTT wins 9, median +1.75 points, mean
//! 0.896 against 0.894. The transfer lowers the held-out kernel distance about 6-fold and the
//! output distance about 6-fold from the magnitude-pruned start.

use super::image_split::{read_split, Images, MNIST5K};
use super::{Figure, Metric, Options, Outcome, Reproduction, Row, Scale, Series};
use crate::data::rng;
use crate::experiment::ExperimentError;
use crate::ntt::{
    accuracy, train_masked, transfer, Labelled, Mask, MaskKind, Mlp, NttConfig, NttError, NttLoss,
    SupervisedConfig, TransferConfig, TransferPoint,
};
use rayon::prelude::*;

pub(super) const ENTRY: Reproduction = Reproduction {
    name: "ntt-mnist",
    paper: "Liu & Zenke, ICML 2020 (neural tangent transfer)",
    summary: "LeNet-300-100 at 3% density: NTT against random and magnitude sparse, and dense",
    run,
};

const SIZES: [usize; 4] = [784, 300, 100, 10];
/// Seeds the train/test split.
const SPLIT_SEED: u64 = 1;
/// The network seeds (teacher initialisation, random masks, minibatch order); the paper
/// averaged 5 runs.
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];
/// Held-out images on which the transfer loss is logged (the reference's 64).
const LOG_BATCH: usize = 64;

/// How large a run is.
struct Size {
    train: usize,
    test: usize,
    transfer_epochs: usize,
    supervised_epochs: usize,
}

const FULL: Size = Size {
    train: 4000,
    test: 1000,
    transfer_epochs: 20,
    supervised_epochs: 50,
};

const QUICK: Size = Size {
    train: 1000,
    test: 500,
    transfer_epochs: 1,
    supervised_epochs: 2,
};

/// The initial wiring of an arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wiring {
    /// Transferred by NTT.
    Transfer,
    /// A random mask on the teacher.
    RandomSparse,
    /// The teacher's magnitude mask.
    Magnitude,
    /// No mask.
    Dense,
}

/// One arm of the comparison: its wiring and how it is reported.
struct Arm {
    wiring: Wiring,
    /// The metric of its mean accuracy.
    metric: &'static str,
    /// The metric of its accuracy per seed.
    per_seed: &'static str,
    /// The metric of its output units without inputs, per seed.
    cut_outputs: &'static str,
    /// The reference notebook's accuracy, where it gives one.
    anchor: Option<f64>,
    /// The published figure in words.
    published: &'static str,
}

const ARMS: [Arm; 4] = [
    Arm {
        wiring: Wiring::Transfer,
        metric: "ntt_accuracy",
        per_seed: "ntt_accuracy_per_seed",
        cut_outputs: "ntt_cut_outputs_per_seed",
        anchor: Some(0.9646),
        published: "96.46% (full MNIST, 2 runs)",
    },
    Arm {
        wiring: Wiring::RandomSparse,
        metric: "random_sparse_accuracy",
        per_seed: "random_sparse_accuracy_per_seed",
        cut_outputs: "random_sparse_cut_outputs_per_seed",
        anchor: Some(0.9347),
        published: "93.15–93.78% (full MNIST, 2 runs)",
    },
    Arm {
        wiring: Wiring::Magnitude,
        metric: "magnitude_accuracy",
        per_seed: "magnitude_accuracy_per_seed",
        cut_outputs: "magnitude_cut_outputs_per_seed",
        anchor: None,
        published: "not reported (NTT's starting point)",
    },
    Arm {
        wiring: Wiring::Dense,
        metric: "dense_accuracy",
        per_seed: "dense_accuracy_per_seed",
        cut_outputs: "dense_cut_outputs_per_seed",
        anchor: None,
        published: "not reported in the reference notebook",
    },
];

/// One trained arm.
struct Trained {
    accuracy: f64,
    /// Output units the mask cut off from every hidden unit.
    cut_outputs: usize,
    /// The transfer's log (NTT arm only).
    history: Vec<TransferPoint>,
}

fn run(options: &mut Options<'_>) -> Result<Outcome, ExperimentError> {
    let size = if options.quick { &QUICK } else { &FULL };
    let seeds = if options.quick {
        &SEEDS[..1]
    } else {
        &SEEDS[..]
    };
    let split = read_split(MNIST5K, 0.8, SPLIT_SEED)?;
    let (mut train, mut test) = (
        split.train.truncated(size.train),
        split.test.truncated(size.test),
    );
    standardise(&mut train, &mut test);
    let mut per_seed = Vec::with_capacity(seeds.len());
    for &seed in seeds {
        let teacher = Mlp::<f32>::glorot_normal(&SIZES, 0.01, &mut rng::seeded(seed));
        let trained: Vec<Trained> = ARMS
            .par_iter()
            .map(|arm| train_arm(arm.wiring, &teacher, seed, size, &train, &test))
            .collect::<Result<_, _>>()?;
        per_seed.push(trained);
    }
    Ok(Outcome {
        rows: rows(&per_seed),
        setting: format!(
            "mnist5k ({} train / {} test images, standardised), LeNet-300-100, density 0.03; \
             NTT: Adam 5e-4, batch 64, {} epochs, lambda_K 1e-3, lambda_L2 1e-4, re-mask every \
             100 steps; supervised: Adam 1e-3, batch 64, {} epochs, L2 1e-8; network seeds \
             {seeds:?} (metrics are their means)",
            train.len(),
            test.len(),
            size.transfer_epochs,
            size.supervised_epochs
        ),
        runs: Vec::new(),
        figures: vec![transfer_figure(transfer_log(&per_seed[0]))],
        heat_maps: Vec::new(),
    })
}

/// The result rows: the four mean accuracies beside the notebook's, each arm's accuracy per
/// seed, then the transfer's mean distances before and after.
fn rows(per_seed: &[Vec<Trained>]) -> Vec<Row> {
    let accuracies =
        |arm: usize| -> Vec<f64> { per_seed.iter().map(|t| t[arm].accuracy).collect() };
    let mut rows: Vec<Row> = ARMS
        .iter()
        .enumerate()
        .map(|(i, arm)| Row {
            metric: arm.metric,
            ours: mean(&accuracies(i)).into(),
            anchor: arm.anchor,
            published: arm.published,
        })
        .collect();
    rows.extend(ARMS.iter().enumerate().map(|(i, arm)| Row {
        metric: arm.per_seed,
        ours: Metric::Series(accuracies(i)),
        anchor: None,
        published: "one value per network seed",
    }));
    rows.extend(ARMS.iter().enumerate().map(|(i, arm)| Row {
        metric: arm.cut_outputs,
        ours: Metric::Series(per_seed.iter().map(|t| t[i].cut_outputs as f64).collect()),
        anchor: None,
        published: "output units left without any input weight (not reported)",
    }));
    let wins: Vec<f64> = per_seed
        .iter()
        .map(|t| 100.0 * (accuracy_of(t, Wiring::Transfer) - accuracy_of(t, Wiring::RandomSparse)))
        .collect();
    rows.push(Row {
        metric: "ntt_minus_random_points_per_seed",
        ours: Metric::Series(wins.clone()),
        anchor: Some(100.0 * (0.9646 - 0.9347)),
        published: "+2.7 to +3.3 points (full MNIST, 2 runs)",
    });
    rows.push(Row {
        metric: "ntt_minus_random_points_median",
        ours: median(&wins).into(),
        anchor: Some(100.0 * (0.9646 - 0.9347)),
        published: "+2.7 to +3.3 points (full MNIST, 2 runs)",
    });
    let histories: Vec<&[TransferPoint]> = per_seed.iter().map(|t| transfer_log(t)).collect();
    let at = |pick: fn(&[TransferPoint]) -> Option<&TransferPoint>, part: fn(&NttLoss) -> f64| {
        mean(
            &histories
                .iter()
                .filter_map(|h| pick(h).map(|p| part(&p.loss)))
                .collect::<Vec<_>>(),
        )
    };
    let distance = |metric, value: f64| Row {
        metric,
        ours: value.into(),
        anchor: None,
        published: "NTT lowers both distances from the magnitude-pruned start",
    };
    rows.extend([
        distance("kernel_distance_start", at(<[_]>::first, |l| l.kernel_dist)),
        distance("kernel_distance_ntt", at(<[_]>::last, |l| l.kernel_dist)),
        distance("target_distance_start", at(<[_]>::first, |l| l.target_dist)),
        distance("target_distance_ntt", at(<[_]>::last, |l| l.target_dist)),
    ]);
    rows
}

/// The transfer's log among one seed's arms (empty if none transferred).
fn transfer_log(arms: &[Trained]) -> &[TransferPoint] {
    arms.iter()
        .map(|t| &t.history[..])
        .find(|h| !h.is_empty())
        .unwrap_or(&[])
}

/// The test accuracy of the arm with `wiring` among one seed's arms.
fn accuracy_of(arms: &[Trained], wiring: Wiring) -> f64 {
    ARMS.iter()
        .zip(arms)
        .find(|(arm, _)| arm.wiring == wiring)
        .map_or(f64::NAN, |(_, t)| t.accuracy)
}

/// The median of `values` (0 when empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]),
    }
}

/// The mean of `values` (0 when empty).
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Builds one arm's sparse network, trains it with labels and tests it.
fn train_arm(
    wiring: Wiring,
    teacher: &Mlp<f32>,
    seed: u64,
    size: &Size,
    train: &Images,
    test: &Images,
) -> Result<Trained, NttError> {
    let density = NttConfig::default().density;
    let (mut net, mask, history) = match wiring {
        Wiring::Transfer => {
            let cfg = TransferConfig {
                epochs: size.transfer_epochs,
                seed,
                ..TransferConfig::default()
            };
            let log = &test.pixels[..LOG_BATCH * SIZES[0]];
            let t = transfer(teacher, &train.pixels, log, &cfg)?;
            (t.net, t.mask, t.history)
        }
        Wiring::RandomSparse => {
            let mut rng = rng::seeded(seed.wrapping_add(1000));
            let mask = Mask::new(teacher, density, MaskKind::Random, &mut rng);
            (teacher.clone(), mask, Vec::new())
        }
        Wiring::Magnitude => {
            let mut rng = rng::seeded(seed);
            let mask = Mask::new(teacher, density, MaskKind::Magnitude, &mut rng);
            (teacher.clone(), mask, Vec::new())
        }
        Wiring::Dense => (teacher.clone(), Mask::dense(teacher), Vec::new()),
    };
    let cfg = SupervisedConfig {
        epochs: size.supervised_epochs,
        seed,
        ..SupervisedConfig::default()
    };
    train_masked(&mut net, &mask, labelled(train), &cfg)?;
    let last = SIZES.len() - 2;
    Ok(Trained {
        accuracy: accuracy(&net, labelled(test))?,
        cut_outputs: mask.units_without_inputs(last, SIZES[last]).len(),
        history,
    })
}

/// The images with their labels.
fn labelled(images: &Images) -> Labelled<'_, f32> {
    Labelled {
        inputs: &images.pixels,
        labels: &images.labels,
    }
}

/// Standardises every pixel by the training set's mean and deviation (the reference's
/// `STANDARDIZE_BOOL`).
fn standardise(train: &mut Images, test: &mut Images) {
    let n = train.pixels.len() as f64;
    let mean = train.pixels.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = train
        .pixels
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = var.sqrt().max(1e-12);
    for v in train.pixels.iter_mut().chain(test.pixels.iter_mut()) {
        *v = ((*v as f64 - mean) / std) as f32;
    }
}

/// The transfer's kernel and output distances on the held-out batch against iterations.
fn transfer_figure(history: &[TransferPoint]) -> Figure {
    let series = |name: &str, pick: fn(&TransferPoint) -> f64| Series {
        name: name.into(),
        points: history
            .iter()
            .map(|p| (p.iteration as f64, pick(p)))
            .collect(),
        expected: Vec::new(),
    };
    Figure {
        file: "ntt-mnist.png".into(),
        title: "Neural tangent transfer: distances to the dense teacher (held-out batch)".into(),
        x_label: "iteration".into(),
        y_label: "normalised squared distance".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series: vec![
            series("kernel distance", |p| p.loss.kernel_dist),
            series("output distance", |p| p.loss.target_dist),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{quick, value};
    use super::*;

    /// The quick version runs end to end on the shared MNIST subset (skipped without it),
    /// reports four accuracies in [0, 1] and a transfer that lowers the kernel distance.
    #[test]
    fn quick_ntt_mnist_reports_accuracies_and_distances() {
        let Some((outcome, _dir)) = quick(run, Some(MNIST5K)) else {
            return;
        };
        for arm in &ARMS {
            let name = arm.metric;
            let v = value(&outcome, name);
            assert!((0.0..=1.0).contains(&v), "{name} = {v}");
        }
        assert!(value(&outcome, "dense_accuracy") > 0.5);
        assert!(value(&outcome, "kernel_distance_ntt") < value(&outcome, "kernel_distance_start"));
    }
}
