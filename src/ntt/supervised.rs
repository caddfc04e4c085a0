//! Supervised training with a fixed mask: the second phase of neural tangent transfer and the
//! training of its baselines (the reference's `exploit.py`, `supervised_optimization`).
//!
//! The loss is the mean softmax cross-entropy of `m ⊙ θ` plus `l2 · ‖m ⊙ W‖²` (weights only,
//! as the reference's `softmax_cross_entropy_with_logits_l2_reg`); pruned weights get zero
//! gradient, start at zero and so stay exactly zero under Adam. Minibatches are drawn from the
//! shuffled samples each epoch, the last one smaller when the batch does not divide them (as
//! the reference's `data_stream`).

use super::error::{rows_of, NttError};
use super::mask::Mask;
use super::mlp::Mlp;
use super::transfer::{adam, gather_rows};
use crate::data::rng;
use crate::eqprop::batch::argmax_rows;
use crate::error::{check_count, check_non_negative, check_positive, ConfigError};
use crate::losses::softmax_ce_in_place;
use crate::optimizers::Optimizer;
use crate::real::Real;

/// The settings of the supervised phase; [`Default`] is the reference notebook's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SupervisedConfig {
    /// Adam's step size (reference: 1e-3).
    pub learning_rate: f64,
    /// Samples per step (reference: 64).
    pub batch: usize,
    /// Passes over the samples (reference: 50).
    pub epochs: usize,
    /// The weight of `‖m ⊙ W‖²` (reference: `REG = 1e-8`).
    pub l2: f64,
    /// Seeds the order of the samples.
    pub seed: u64,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            batch: 64,
            epochs: 50,
            l2: 1e-8,
            seed: 0,
        }
    }
}

impl SupervisedConfig {
    /// `Ok` if every setting can be used.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_positive("supervised.learning_rate", self.learning_rate)?;
        check_count("supervised.batch", self.batch)?;
        check_count("supervised.epochs", self.epochs)?;
        check_non_negative("supervised.l2", self.l2)
    }
}

/// Labelled samples: inputs `[N, n_in]` and one class per row.
#[derive(Clone, Copy, Debug)]
pub struct Labelled<'a, F> {
    /// The inputs, row-major.
    pub inputs: &'a [F],
    /// The class of each row.
    pub labels: &'a [usize],
}

impl<F: Real> Labelled<'_, F> {
    /// The number of samples, after checking the shapes, the labels and the values against
    /// `net`.
    fn check(&self, net: &Mlp<F>) -> Result<usize, NttError> {
        let n = rows_of("labelled inputs", self.inputs.len(), net.n_in())?;
        if self.labels.len() != n {
            return Err(NttError::Shape {
                what: "labels (one per input row)",
                width: 1,
                found: self.labels.len(),
            });
        }
        if let Some((sample, &label)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l >= net.n_out())
        {
            return Err(NttError::Label {
                sample,
                label,
                classes: net.n_out(),
            });
        }
        if self.inputs.iter().any(|v| !v.is_finite()) {
            return Err(NttError::NonFinite("a labelled input".into()));
        }
        Ok(n)
    }
}

/// Trains `net` under the fixed `mask` (pruned weights are zeroed first) and returns the mean
/// training loss of each epoch.
pub fn train_masked<F: Real>(
    net: &mut Mlp<F>,
    mask: &Mask,
    data: Labelled<'_, F>,
    cfg: &SupervisedConfig,
) -> Result<Vec<f64>, NttError> {
    cfg.validate()?;
    let n = data.check(net)?;
    check_mask(net, mask)?;
    mask.apply(net);
    let mut optimizer = Optimizer::new(adam(cfg.learning_rate), &net.shapes())?;
    let lr = F::from_f64(cfg.learning_rate);
    let mut rng = rng::seeded(cfg.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let n_in = net.n_in();
    let mut x = vec![F::zero(); cfg.batch * n_in];
    let mut labels = vec![0; cfg.batch];
    let mut losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        rng::shuffle(&mut rng, &mut order);
        let mut total = 0.0;
        for ids in order.chunks(cfg.batch) {
            let b = ids.len();
            gather_rows(data.inputs, n_in, ids, &mut x[..b * n_in]);
            for (l, &i) in labels.iter_mut().zip(ids) {
                *l = data.labels[i];
            }
            let (loss, grads) = masked_loss_grad(net, mask, &x[..b * n_in], &labels[..b], cfg.l2);
            total += loss * b as f64;
            optimizer.step(&mut net.tensors_mut(), &grads.tensors(), lr)?;
        }
        let mean = total / n as f64;
        if !mean.is_finite() {
            return Err(NttError::NonFinite(format!(
                "the supervised loss in epoch {epoch}"
            )));
        }
        losses.push(mean);
    }
    if let Some(layer) = net.first_non_finite() {
        return Err(NttError::NonFinite(format!(
            "the trained network's {layer}"
        )));
    }
    Ok(losses)
}

/// The supervised loss of `m ⊙ θ` on the batch `x` (`[labels.len(), n_in]`) and its gradient
/// with respect to the raw parameters `θ` (zero on pruned weights).
pub fn masked_loss_grad<F: Real>(
    net: &Mlp<F>,
    mask: &Mask,
    x: &[F],
    labels: &[usize],
    l2: f64,
) -> (f64, Mlp<F>) {
    let eff = mask.masked(net);
    let b = labels.len();
    let fwd = eff.forward(x, b);
    let mut gout = fwd.output().to_vec();
    let mut ce = 0.0;
    for (row, &label) in gout.chunks_exact_mut(eff.n_out()).zip(labels) {
        ce += softmax_ce_in_place(row, label, 1.0 / b as f64).0;
    }
    let mut grads = eff.zeros_like();
    eff.backward(&fwd, &gout, None, &mut grads);
    let mut norm = 0.0;
    let c = F::from_f64(2.0 * l2);
    for (g, l) in grads.layers.iter_mut().zip(&eff.layers) {
        for (gw, &w) in g.w.iter_mut().zip(&l.w) {
            norm += w.as_f64() * w.as_f64();
            *gw += c * w;
        }
    }
    mask.apply(&mut grads);
    (ce / b as f64 + l2 * norm, grads)
}

/// The fraction of `data` that `net` classifies correctly (evaluated in chunks).
pub fn accuracy<F: Real>(net: &Mlp<F>, data: Labelled<'_, F>) -> Result<f64, NttError> {
    let n = data.check(net)?;
    let chunk = 500;
    let mut correct = 0;
    for (x, labels) in data
        .inputs
        .chunks(chunk * net.n_in())
        .zip(data.labels.chunks(chunk))
    {
        let out = net.predict(x, labels.len());
        correct += argmax_rows(&out, net.n_out())
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
    }
    Ok(correct as f64 / n as f64)
}

/// A clear error if `mask` does not fit `net`.
fn check_mask<F: Real>(net: &Mlp<F>, mask: &Mask) -> Result<(), NttError> {
    let fits = mask.keep.len() == net.layers.len()
        && mask
            .keep
            .iter()
            .zip(&net.layers)
            .all(|(k, l)| k.len() == l.w.len());
    if fits {
        Ok(())
    } else {
        Err(ConfigError::new("mask", "its layer sizes differ from the network's").into())
    }
}
