//! The linear probe: softmax regression trained on frozen, standardised features (the usual
//! read-out of a self-supervised representation), scored by test accuracy.

use super::SslError;
use crate::error::{check_positive, ConfigError};
use crate::optimizers::{Optimizer, OptimizerKind};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How the probe is trained (Adam on the mean cross-entropy).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeConfig {
    /// Passes over the training features.
    pub epochs: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Samples per update.
    pub batch: usize,
    /// Seeds the order of the samples.
    pub seed: u64,
}

impl ProbeConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.epochs == 0 || self.batch == 0 {
            return Err(ConfigError::new(
                "probe",
                "epochs and batch must be at least 1",
            ));
        }
        check_positive("probe.learning_rate", self.learning_rate)
    }
}

/// Features `[N, dim]` and their classes.
#[derive(Clone, Copy, Debug)]
pub struct Labelled<'a> {
    /// Row-major features.
    pub features: &'a [f32],
    /// One class per row.
    pub labels: &'a [usize],
}

impl Labelled<'_> {
    fn check(&self, dim: usize, classes: usize) -> Result<(), SslError> {
        if dim == 0 || self.features.len() != self.labels.len() * dim {
            return Err(SslError::shape(
                "features",
                self.labels.len() * dim,
                self.features.len(),
            ));
        }
        if self.labels.iter().any(|&c| c >= classes) {
            return Err(ConfigError::new("probe.labels", format!("a class is ≥ {classes}")).into());
        }
        Ok(())
    }
}

/// Trains softmax regression `y = softmax(W f̂ + b)` on the standardised training features
/// (`f̂ = (f − mean)/std`, both from the training set) and returns the accuracy on `test`.
pub fn probe_accuracy(
    train: Labelled<'_>,
    test: Labelled<'_>,
    dim: usize,
    classes: usize,
    config: &ProbeConfig,
) -> Result<f64, SslError> {
    config.validate()?;
    train.check(dim, classes)?;
    test.check(dim, classes)?;
    if train.labels.is_empty() || test.labels.is_empty() {
        return Err(ConfigError::new("probe", "needs training and test samples").into());
    }
    let (mean, std) = moments(train.features, dim);
    let standardise = |f: &[f32]| -> Vec<f32> {
        f.chunks_exact(dim)
            .flat_map(|r| r.iter().zip(&mean).zip(&std).map(|((v, m), s)| (v - m) / s))
            .collect()
    };
    let (xtr, xte) = (standardise(train.features), standardise(test.features));
    let mut w = vec![0.0f32; dim * classes];
    let mut b = vec![0.0f32; classes];
    let kind = OptimizerKind::Adam {
        lr: config.learning_rate,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let mut optimizer = Optimizer::<f32>::new(kind, &[w.len(), b.len()])?;
    let mut order: Vec<usize> = (0..train.labels.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    for _ in 0..config.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(config.batch) {
            let (gw, gb) = cross_entropy_gradient(&xtr, train.labels, chunk, &w, &b, dim);
            optimizer.step(
                &mut [&mut w, &mut b],
                &[&gw, &gb],
                config.learning_rate as f32,
            )?;
        }
    }
    let correct = xte
        .chunks_exact(dim)
        .zip(test.labels)
        .filter(|(x, &c)| argmax(&logits(x, &w, &b)) == c)
        .count();
    Ok(correct as f64 / test.labels.len() as f64)
}

/// Per-feature mean and standard deviation (at least 1e-6).
fn moments(features: &[f32], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (features.len() / dim).max(1) as f64;
    let mut sum = vec![0.0f64; dim];
    let mut sq = vec![0.0f64; dim];
    for row in features.chunks_exact(dim) {
        for (k, &v) in row.iter().enumerate() {
            sum[k] += v as f64;
            sq[k] += (v as f64).powi(2);
        }
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / n - (s / n).powi(2)).max(0.0).sqrt().max(1e-6)) as f32)
        .collect();
    (mean, std)
}

fn logits(x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let classes = b.len();
    let mut out = b.to_vec();
    for (k, &v) in x.iter().enumerate() {
        out.iter_mut()
            .zip(&w[k * classes..(k + 1) * classes])
            .for_each(|(o, &wk)| *o += v * wk);
    }
    out
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// The gradient of the mean cross-entropy over `rows` with respect to `W` `[dim, classes]` and
/// `b`: `(softmax − onehot) f̂ᵀ / n`.
fn cross_entropy_gradient(
    x: &[f32],
    labels: &[usize],
    rows: &[usize],
    w: &[f32],
    b: &[f32],
    dim: usize,
) -> (Vec<f32>, Vec<f32>) {
    let classes = b.len();
    let (mut gw, mut gb) = (vec![0.0f32; w.len()], vec![0.0f32; classes]);
    let scale = 1.0 / rows.len() as f32;
    for &r in rows {
        let xr = &x[r * dim..(r + 1) * dim];
        let mut y = logits(xr, w, b);
        let top = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        y.iter_mut().for_each(|v| *v = (*v - top).exp());
        let total: f32 = y.iter().sum();
        y.iter_mut().for_each(|v| *v /= total);
        y[labels[r]] -= 1.0;
        for (k, &v) in xr.iter().enumerate() {
            gw[k * classes..(k + 1) * classes]
                .iter_mut()
                .zip(&y)
                .for_each(|(g, &e)| *g += scale * v * e);
        }
        gb.iter_mut().zip(&y).for_each(|(g, &e)| *g += scale * e);
    }
    (gw, gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two separable classes are read out perfectly; shapes are checked.
    #[test]
    fn probe_separates_linearly_separable_features() {
        let features: Vec<f32> = (0..100)
            .flat_map(|i| [if i % 2 == 0 { 1.0 } else { -1.0 } + 0.01 * i as f32, 0.5])
            .collect();
        let labels: Vec<usize> = (0..100).map(|i| i % 2).collect();
        let data = Labelled {
            features: &features,
            labels: &labels,
        };
        let config = ProbeConfig {
            epochs: 20,
            learning_rate: 1e-2,
            batch: 16,
            seed: 0,
        };
        assert_eq!(probe_accuracy(data, data, 2, 2, &config).unwrap(), 1.0);
        assert!(probe_accuracy(data, data, 3, 2, &config).is_err());
        assert!(probe_accuracy(data, data, 2, 1, &config).is_err());
    }
}
