//! A loss evaluated step by step, for rules that run forward in time and need `∂L/∂y[t]` at
//! step `t` without keeping the readout output `[T, B, C]`.
//!
//! Losses local in time (every-step and last-steps cross-entropy, the last step, MSE) give
//! their gradient at `t` from `y[t]` alone. Max- and sum-over-time need one number per sample
//! and output of the whole sequence first (the maximum and its first step, or the sum): a
//! first pass [`StepLoss::observe`]s every step, then the gradient of every step follows. The
//! results equal [`super::compute`]'s bit for bit (a test checks every kind).

use super::{check_finite_targets, softmax_ce_in_place, LossError, LossKind, Reduction, Targets};
use crate::real::Real;
use crate::tensor::Seq;

/// A loss over `steps` steps of a `[batch, outputs]` readout, one step at a time.
pub struct StepLoss<'a, F> {
    kind: LossKind,
    targets: Targets<'a>,
    steps: usize,
    batch: usize,
    outputs: usize,
    /// Max: the running maximum; sum: the running sum (f64 until the first pass ends);
    /// then `∂L/∂z` `[B, C]`.
    logits: Vec<F>,
    sums: Vec<f64>,
    /// Max: the first step of each maximum.
    argmax: Vec<usize>,
    /// Per sample, the summed cross-entropies of a window (every-step, last-steps).
    window_ce: Vec<f64>,
    /// Per sample and output, `Σ_t y` over the window (their predictions).
    window_sums: Vec<f64>,
    /// MSE: the summed squared errors so far.
    squares: f64,
    loss: f64,
    correct: usize,
    observed: usize,
}

impl<'a, F: Real> StepLoss<'a, F> {
    /// A loss of `kind` for `targets`, checked like [`super::compute`] checks them.
    pub fn new(
        kind: LossKind,
        targets: Targets<'a>,
        steps: usize,
        batch: usize,
        outputs: usize,
    ) -> Result<Self, LossError> {
        if steps == 0 || batch == 0 || outputs == 0 {
            return Err(LossError::EmptyOutput {
                steps,
                batch,
                outputs,
            });
        }
        kind.check_steps(steps)?;
        if let LossKind::VanRossum(_) = kind {
            return Err(LossError::NotOnline);
        }
        if kind == LossKind::Rmse {
            return Err(LossError::RmseNotOnline);
        }
        let shape = Seq::<F>::zeros(1, batch, outputs);
        match (kind.reduction(), targets) {
            (_, Targets::ClassesInHead { .. }) => return Err(LossError::HeadNotOnline),
            (Some(_), Targets::Classes(classes)) => super::check_classes(&shape, classes)?,
            (Some(_), _) => return Err(LossError::NeedsClasses { kind }),
            (None, Targets::Classes(_)) => return Err(LossError::NeedsValues),
            (None, Targets::Values { data, dims }) => super::check_values(&shape, data, dims)?,
            (None, Targets::Sequence(seq)) => {
                let expected = [steps, batch, outputs];
                let got = [seq.steps, seq.batch, seq.width];
                if expected != got {
                    return Err(LossError::SequenceShape { expected, got });
                }
                check_finite_targets(&seq.data)?;
            }
        }
        Ok(Self {
            kind,
            targets,
            steps,
            batch,
            outputs,
            logits: vec![F::zero(); batch * outputs],
            sums: vec![0.0; batch * outputs],
            argmax: vec![0; batch * outputs],
            window_ce: vec![0.0; batch],
            window_sums: vec![0.0; batch * outputs],
            squares: 0.0,
            loss: 0.0,
            correct: 0,
            observed: 0,
        })
    }

    /// Whether the gradient needs a first pass over the whole output ([`Self::observe`]).
    pub fn needs_first_pass(&self) -> bool {
        matches!(self.kind.reduction(), Some(Reduction::Max | Reduction::Sum))
    }

    /// First pass: the readout output `y[t]` `[B, C]` of step `t` (steps in order).
    pub fn observe(&mut self, t: usize, y_t: &[F]) -> Result<(), LossError> {
        check_row(t, y_t, self.outputs)?;
        match self.kind.reduction() {
            Some(Reduction::Max) => {
                for (k, &v) in y_t.iter().enumerate() {
                    if t == 0 || v > self.logits[k] {
                        (self.logits[k], self.argmax[k]) = (v, t);
                    }
                }
            }
            Some(Reduction::Sum) => {
                self.sums
                    .iter_mut()
                    .zip(y_t)
                    .for_each(|(s, &v)| *s += v.as_f64());
            }
            _ => {}
        }
        self.observed = t + 1;
        if self.observed == self.steps && self.needs_first_pass() {
            self.reduce()?;
        }
        Ok(())
    }

    /// Turns the first pass's logits into their loss, predictions and gradient.
    fn reduce(&mut self) -> Result<(), LossError> {
        let Targets::Classes(classes) = self.targets else {
            unreachable!("checked at construction")
        };
        let scale = 1.0 / self.batch as f64;
        for (b, &class) in classes.iter().enumerate() {
            let z = &mut self.logits[b * self.outputs..(b + 1) * self.outputs];
            if matches!(self.kind.reduction(), Some(Reduction::Sum)) {
                for (zc, &s) in z.iter_mut().zip(&self.sums[b * self.outputs..]) {
                    *zc = F::from_f64(s);
                    if !zc.is_finite() {
                        return Err(LossError::SummedOutputOverflow { sample: b });
                    }
                }
            }
            let (ce, pred) = softmax_ce_in_place(z, class, scale);
            self.loss += ce;
            self.correct += usize::from(pred == class);
        }
        self.loss *= scale;
        Ok(())
    }

    /// `∂L/∂y[t]` `[B, C]` into `g_t`, from the output `y[t]` of step `t` (steps in order,
    /// after the first pass if [`Self::needs_first_pass`]).
    pub fn gradient(&mut self, t: usize, y_t: &[F], g_t: &mut [F]) -> Result<(), LossError> {
        check_row(t, y_t, self.outputs)?;
        g_t.iter_mut().for_each(|g| *g = F::zero());
        let scale = 1.0 / self.batch as f64;
        let (c, steps) = (self.outputs, self.steps);
        match (self.kind.reduction(), self.targets) {
            (Some(Reduction::Max), _) => {
                let maxima = self.argmax.iter().zip(&self.logits);
                for (g, (&step, &dz)) in g_t.iter_mut().zip(maxima) {
                    if step == t {
                        *g = dz;
                    }
                }
            }
            (Some(Reduction::Sum), _) => g_t.copy_from_slice(&self.logits),
            (Some(Reduction::Last), Targets::Classes(classes)) if t == steps - 1 => {
                g_t.copy_from_slice(y_t);
                for (b, &class) in classes.iter().enumerate() {
                    let (ce, pred) =
                        softmax_ce_in_place(&mut g_t[b * c..(b + 1) * c], class, scale);
                    self.loss += ce * scale;
                    self.correct += usize::from(pred == class);
                }
            }
            (Some(Reduction::Window { last }), Targets::Classes(classes)) => {
                let len = last.unwrap_or(steps);
                if t >= steps - len {
                    g_t.copy_from_slice(y_t);
                    for (b, &class) in classes.iter().enumerate() {
                        let z = &mut g_t[b * c..(b + 1) * c];
                        self.window_ce[b] += softmax_ce_in_place(z, class, scale / len as f64).0;
                    }
                    self.window_sums
                        .iter_mut()
                        .zip(y_t)
                        .for_each(|(s, &v)| *s += v.as_f64());
                }
                if t == steps - 1 {
                    self.close_window(classes, len, scale);
                }
            }
            (None, targets) => {
                let norm = 1.0 / (steps * self.batch * c) as f64;
                for (k, (&v, g)) in y_t.iter().zip(g_t.iter_mut()).enumerate() {
                    let target = match targets {
                        Targets::Values { data, .. } => data[k],
                        Targets::Sequence(seq) => seq.data[t * self.batch * c + k],
                        Targets::Classes(_) | Targets::ClassesInHead { .. } => {
                            unreachable!("checked at construction")
                        }
                    };
                    let d = v.as_f64() - f64::from(target);
                    self.squares += d * d;
                    *g = F::from_f64(2.0 * norm * d);
                }
                if t == steps - 1 {
                    self.loss = self.squares * norm;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The window's loss and predictions, after its last step.
    fn close_window(&mut self, classes: &[usize], len: usize, scale: f64) {
        let c = self.outputs;
        let mut loss = 0.0;
        for (b, &class) in classes.iter().enumerate() {
            loss += self.window_ce[b] / len as f64;
            let best = (1..c).fold(0, |best, k| {
                if self.window_sums[b * c + k] > self.window_sums[b * c + best] {
                    k
                } else {
                    best
                }
            });
            self.correct += usize::from(best == class);
        }
        self.loss = loss * scale;
    }

    /// The mean loss over the batch and the number of correct predictions (after the last
    /// step's [`Self::gradient`]).
    pub fn result(&self) -> (f64, usize) {
        (self.loss, self.correct)
    }
}

/// A step's output must be one finite row per sample.
fn check_row<F: Real>(t: usize, y_t: &[F], outputs: usize) -> Result<(), LossError> {
    match y_t.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(LossError::NonFiniteOutput {
            step: t,
            sample: k / outputs,
            output: k % outputs,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::compute;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every kind's step-by-step loss, predictions and gradient equal the whole-output loss's.
    #[test]
    fn step_losses_equal_the_whole_output_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (steps, batch, c) = (9, 4, 3);
        let y: Vec<f32> = (0..steps * batch * c)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        let y = Seq::from_vec(steps, batch, c, y).unwrap();
        let classes: Vec<usize> = (0..batch).map(|k| k % c).collect();
        let values: Vec<f32> = (0..batch * c)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let seq: Vec<f32> = (0..steps * batch * c)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let seq = Seq::from_vec(steps, batch, c, seq).unwrap();
        let cases = [
            (LossKind::MaxOverTimeCe, Targets::Classes(&classes)),
            (LossKind::SumOverTimeCe, Targets::Classes(&classes)),
            (LossKind::LastStepCe, Targets::Classes(&classes)),
            (LossKind::EveryStepCe, Targets::Classes(&classes)),
            (
                LossKind::LastStepsCe { steps: 4 },
                Targets::Classes(&classes),
            ),
            (
                LossKind::Mse,
                Targets::Values {
                    data: &values,
                    dims: c,
                },
            ),
            (LossKind::Mse, Targets::Sequence(&seq)),
        ];
        for (kind, targets) in cases {
            let whole = compute(kind, &y, targets).unwrap();
            let mut online = StepLoss::new(kind, targets, steps, batch, c).unwrap();
            if online.needs_first_pass() {
                for t in 0..steps {
                    online.observe(t, y.step(t)).unwrap();
                }
            }
            let mut g = vec![0.0f32; batch * c];
            for t in 0..steps {
                online.gradient(t, y.step(t), &mut g).unwrap();
                assert_eq!(&g[..], whole.grad.step(t), "{kind:?} step {t}");
            }
            assert_eq!(online.result(), (whole.loss, whole.correct), "{kind:?}");
        }
    }

    #[test]
    fn bad_targets_and_outputs_are_errors() {
        let classes = [0, 5];
        let bad =
            StepLoss::<f32>::new(LossKind::MaxOverTimeCe, Targets::Classes(&classes), 3, 2, 3);
        assert!(matches!(bad, Err(LossError::ClassOutOfRange { .. })));
        let short = StepLoss::<f32>::new(LossKind::EveryStepCe, Targets::Classes(&[0]), 3, 2, 3);
        assert!(matches!(short, Err(LossError::BatchMismatch { .. })));
        let mut ok =
            StepLoss::<f32>::new(LossKind::LastStepCe, Targets::Classes(&[0]), 2, 1, 2).unwrap();
        let mut g = [0.0; 2];
        assert!(matches!(
            ok.gradient(0, &[f32::NAN, 0.0], &mut g),
            Err(LossError::NonFiniteOutput { .. })
        ));
    }
}
