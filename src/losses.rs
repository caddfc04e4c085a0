//! Readout losses: cross-entropy on a reduction over time or at every step of a window,
//! mean-squared error, and the van Rossum distance between spike trains.
//!
//! Every loss reads the readout output `y` `[T, B, C]` (time-major, see [`Seq`]) and returns the
//! scalar loss, a mean over the batch, together with `∂L/∂y` of the same shape, which seeds the
//! backward pass. Classification losses also return one predicted class per sample.
//!
//! Losses are evaluated in `f64` whatever the element type `F`: the reductions over classes and
//! time are tiny next to the network. Only the gradient (and, for the sum over time, the staged
//! logits) is rounded to `F`.

mod head;
mod online;
mod van_rossum;

pub use online::StepLoss;
pub use van_rossum::{normalized_distance, DistanceSums, VanRossumKernel};

use crate::real::Real;
use crate::tensor::Seq;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Which loss drives the readout (stork's loss stacks, reference §1.8).
///
/// For the cross-entropy kinds, `CE(z, k) = logsumexp(z) − z_k = −log softmax(z)_k` for the
/// logits `z ∈ ℝ^C` of a sample of class `k`, and the loss is the mean of `CE` over the batch.
///
/// Serialized externally tagged: the unit kinds as plain names (`loss = "max_over_time_ce"`),
/// [`LossKind::LastStepsCe`] as a table (`loss = { last_steps_ce = { steps = 150 } }`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LossKind {
    /// Max over time: `z_c = max_t y[t, c]` (stork `MaxOverTimeCrossEntropy`).
    ///
    /// The gradient of `z_c` reaches only the step attaining the maximum, the first one on ties.
    #[default]
    MaxOverTimeCe,
    /// Sum over time: `z_c = Σ_t y[t, c]` (stork `SumOverTimeCrossEntropy`).
    SumOverTimeCe,
    /// Last step: `z = y[T − 1]` (stork `LastStepCrossEntropy`).
    LastStepCe,
    /// Every step: `L = (1 / (B·T)) Σ_b Σ_t CE(y[t, b], k_b)`, the mean over batch *and* time,
    /// so its scale does not grow with the number of steps.
    ///
    /// The prediction is `argmax_c Σ_t y[t, c]`. This equals the argmax of the time-summed
    /// log-probabilities `Σ_t log softmax(y[t])_c`, the class that would make the loss smallest,
    /// because log-softmax shifts all classes of one step by the same constant.
    EveryStepCe,
    /// Every step of the last `steps` steps (the recall window of the e-prop paper's evidence
    /// accumulation task, Bellec et al. 2020): with `S = steps`,
    /// `L = (1 / (B·S)) Σ_b Σ_{t ≥ T−S} CE(y[t, b], k_b)`; earlier steps get no gradient.
    ///
    /// The prediction is `argmax_c Σ_{t ≥ T−S} y[t, c]`. `steps` must lie in `1..=T`; with
    /// `steps = T` this is exactly [`LossKind::EveryStepCe`].
    LastStepsCe {
        /// The window length `S` in readout steps.
        steps: usize,
    },
    /// Mean-squared error over every step, sample and output:
    /// `L = (1 / (T·B·C)) Σ_{t,b,c} (y[t, b, c] − target[t, b, c])²` (stork `MeanSquareError`).
    Mse,
    /// Root-mean-squared error, `L = √MSE` over every step, sample and output (the finger-
    /// velocity decoders' loss, Liu et al. 2024): `∂L/∂y = ∂MSE/∂y / (2L)` (zero when
    /// `L = 0`). Batch-wise only: the root of a whole-sequence mean has no step-by-step form.
    Rmse,
    /// The van Rossum distance to target spike trains `[T, B, C]` (SuperSpike's loss; the
    /// kernel and formula in [`VanRossumKernel`]'s module): `loss = { van_rossum = {} }` or
    /// `{ van_rossum = { tau_rise_ms = 5.0, tau_decay_ms = 10.0 } }`. It needs the time step
    /// ([`compute_timed`]).
    VanRossum(VanRossumKernel),
}

impl LossKind {
    /// Whether the loss takes class indices (every kind but [`LossKind::Mse`],
    /// [`LossKind::Rmse`] and [`LossKind::VanRossum`]).
    pub fn is_classification(self) -> bool {
        self.reduction().is_some()
    }

    /// Checks what does not depend on the output: a [`LossKind::LastStepsCe`] window of at
    /// least one step.
    pub fn validate(self) -> Result<(), LossError> {
        match self {
            LossKind::LastStepsCe { steps: 0 } => Err(LossError::EmptyWindow),
            LossKind::VanRossum(kernel) => kernel.validate(),
            _ => Ok(()),
        }
    }

    /// Checks that the loss applies to readout outputs of `steps` steps: [`Self::validate`],
    /// and a [`LossKind::LastStepsCe`] window no longer than `steps`.
    pub fn check_steps(self, steps: usize) -> Result<(), LossError> {
        self.validate()?;
        match self {
            LossKind::LastStepsCe { steps: window } if window > steps => {
                Err(LossError::WindowTooLong { window, steps })
            }
            _ => Ok(()),
        }
    }

    fn reduction(self) -> Option<Reduction> {
        match self {
            LossKind::MaxOverTimeCe => Some(Reduction::Max),
            LossKind::SumOverTimeCe => Some(Reduction::Sum),
            LossKind::LastStepCe => Some(Reduction::Last),
            LossKind::EveryStepCe => Some(Reduction::Window { last: None }),
            LossKind::LastStepsCe { steps } => Some(Reduction::Window { last: Some(steps) }),
            LossKind::Mse | LossKind::Rmse | LossKind::VanRossum(_) => None,
        }
    }

    /// Whether the loss compares outputs with values (MSE or RMSE).
    pub fn is_squared_error(self) -> bool {
        matches!(self, LossKind::Mse | LossKind::Rmse)
    }
}

/// How a cross-entropy kind turns `[T, C]` outputs into logits.
#[derive(Clone, Copy)]
enum Reduction {
    Max,
    Sum,
    Last,
    /// Cross-entropy at every step of the last `last` steps (`None`: of all steps).
    Window {
        last: Option<usize>,
    },
}

/// The targets of one batch.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One class index per sample, `[B]` (the cross-entropy kinds).
    Classes(&'a [usize]),
    /// One target vector per sample, `[B, dims]` row-major, held over every step (MSE).
    Values {
        /// The values.
        data: &'a [f32],
        /// Values per sample.
        dims: usize,
    },
    /// One target per step, sample and output, shaped `[T, B, C]` like the readout output (MSE).
    Sequence(&'a Seq<f32>),
    /// One class index per sample, scored on the outputs `head` alone (one task's head of a
    /// multi-head readout; the cross-entropy kinds): the other outputs take no part in the
    /// softmax or the prediction and get no gradient.
    ClassesInHead {
        /// The class of each sample, `[B]`, each one of `head`.
        classes: &'a [usize],
        /// The readout outputs of the head, without repeats.
        head: &'a [usize],
    },
}

/// A loss value with its gradient and, for classification, the predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct LossOutput<F> {
    /// The scalar loss (see [`LossKind`] for each formula).
    pub loss: f64,
    /// `∂L/∂y`, shaped `[T, B, C]` like the readout output.
    pub grad: Seq<F>,
    /// How many samples' predictions equal their class (0 for regression).
    pub correct: usize,
    /// The predicted class of each sample, `[B]` (empty for regression).
    pub predictions: Vec<usize>,
}

impl<F: Real> Default for LossOutput<F> {
    /// An empty output; [`compute_into`] grows its buffers on first use.
    fn default() -> Self {
        Self {
            loss: 0.0,
            grad: Seq::zeros(0, 0, 0),
            correct: 0,
            predictions: Vec::new(),
        }
    }
}

/// Why a loss could not be evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LossError {
    /// The readout output has no step, sample or output.
    #[error("readout output has an empty shape [{steps}, {batch}, {outputs}]")]
    EmptyOutput {
        /// Time steps.
        steps: usize,
        /// Samples in the batch.
        batch: usize,
        /// Number of outputs.
        outputs: usize,
    },
    /// A sequence's data length disagrees with its shape.
    #[error("sequence holds {len} values, but its shape needs {expected}")]
    Malformed {
        /// Values the sequence holds.
        len: usize,
        /// Values its shape needs.
        expected: usize,
    },
    /// The readout output contains NaN or ±∞.
    #[error("non-finite readout output at step {step}, sample {sample}, output {output}")]
    NonFiniteOutput {
        /// The time step.
        step: usize,
        /// The sample.
        sample: usize,
        /// The output.
        output: usize,
    },
    /// A [`LossKind::LastStepsCe`] window has no step.
    #[error("the last_steps_ce window must hold at least 1 step")]
    EmptyWindow,
    /// A [`LossKind::LastStepsCe`] window is longer than the readout output.
    #[error("the last_steps_ce window of {window} steps is longer than the {steps} readout steps")]
    WindowTooLong {
        /// The window, in steps.
        window: usize,
        /// Time steps.
        steps: usize,
    },
    /// Summing finite outputs over time overflowed.
    #[error("time-summed readout output of sample {sample} is not finite")]
    SummedOutputOverflow {
        /// The sample.
        sample: usize,
    },
    /// A cross-entropy loss was given regression targets.
    #[error("{kind:?} needs one class index per sample, got regression targets")]
    NeedsClasses {
        /// The loss.
        kind: LossKind,
    },
    /// Mean-squared error was given class indices.
    #[error("mean-squared error needs regression targets, got class indices")]
    NeedsValues,
    /// The van Rossum loss was given anything but target spike trains.
    #[error("the van Rossum loss needs target spike trains [steps, batch, outputs]")]
    NeedsTrains,
    /// The van Rossum loss asked for step by step (its gradient at a step depends on the
    /// steps after it).
    #[error("the van Rossum loss has no step-by-step gradient (it depends on later steps)")]
    NotOnline,
    /// The RMSE was asked for step by step.
    #[error("the RMSE has no step-by-step gradient (the root is of the whole sequence's mean): use mse with online rules")]
    RmseNotOnline,
    /// The van Rossum loss was evaluated without the time step.
    #[error("the van Rossum loss needs the time step (compute_timed)")]
    NeedsTimeStep,
    /// A kernel time constant is not finite and > 0.
    #[error("van_rossum.{field} = {value}: must be finite and > 0")]
    InvalidKernel {
        /// The field.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// The number of class targets differs from the batch size.
    #[error("{targets} class targets for a batch of {batch}")]
    BatchMismatch {
        /// Samples in the batch.
        batch: usize,
        /// Number of targets.
        targets: usize,
    },
    /// A head holds no output.
    #[error("an output head needs at least one output")]
    EmptyHead,
    /// A head names an output the readout does not have.
    #[error("output {unit} of the head is out of range for {outputs} readout outputs")]
    HeadOutOfRange {
        /// The output.
        unit: usize,
        /// Number of outputs.
        outputs: usize,
    },
    /// A head names an output twice.
    #[error("output {unit} appears twice in the head (again at place {place})")]
    HeadRepeats {
        /// The output.
        unit: usize,
        /// Its second position in the head.
        place: usize,
    },
    /// A sample's class is not an output of the head it is scored on.
    #[error("class {class} of sample {sample} is not an output of its head")]
    ClassOutsideHead {
        /// The sample.
        sample: usize,
        /// The class.
        class: usize,
    },
    /// An online (step-by-step) loss was given a head.
    #[error("output heads are not supported by the step-by-step losses of online rules")]
    HeadNotOnline,
    /// A class index is not a readout output.
    #[error("class {class} of sample {sample} is out of range for {outputs} readout outputs")]
    ClassOutOfRange {
        /// The sample.
        sample: usize,
        /// The class.
        class: usize,
        /// Number of outputs.
        outputs: usize,
    },
    /// Per-sample regression targets have the wrong width.
    #[error("targets have {dims} values per sample, the readout has {outputs} outputs")]
    DimsMismatch {
        /// Number of outputs.
        outputs: usize,
        /// Values per sample.
        dims: usize,
    },
    /// Per-sample regression targets have the wrong length.
    #[error("{got} target values, expected {expected} (batch × outputs)")]
    ValuesLength {
        /// What was expected.
        expected: usize,
        /// What was found.
        got: usize,
    },
    /// A target sequence is not shaped like the readout output.
    #[error("target sequence shape {got:?} differs from readout output shape {expected:?}")]
    SequenceShape {
        /// Its expected shape `[T, B, N]`.
        expected: [usize; 3],
        /// Its shape.
        got: [usize; 3],
    },
    /// A regression target is NaN or ±∞.
    #[error("non-finite regression target at flat index {index}")]
    NonFiniteTarget {
        /// Its flat index in the targets.
        index: usize,
    },
    /// [`r2_per_output`] got data that are not whole rows of `dims` values.
    #[error(
        "R² needs equal-length, non-empty data made of whole rows of {dims} > 0 outputs, \
         got {pred} predictions and {target} targets"
    )]
    R2Shape {
        /// Prediction values.
        pred: usize,
        /// Target values.
        target: usize,
        /// Values per sample.
        dims: usize,
    },
}

/// Evaluates loss `kind` on readout output `y` `[T, B, C]`, allocating the result.
///
/// See [`compute_into`], which reuses the buffers of a previous result. The van Rossum loss
/// needs the time step: [`compute_timed`].
pub fn compute<F: Real>(
    kind: LossKind,
    y: &Seq<F>,
    targets: Targets<'_>,
) -> Result<LossOutput<F>, LossError> {
    let mut out = LossOutput::default();
    compute_into(kind, y, targets, &mut out)?;
    Ok(out)
}

/// [`compute`] for outputs of time step `dt_ms` (any kind; the van Rossum loss needs it).
pub fn compute_timed<F: Real>(
    kind: LossKind,
    dt_ms: f64,
    y: &Seq<F>,
    targets: Targets<'_>,
) -> Result<LossOutput<F>, LossError> {
    let mut out = LossOutput::default();
    evaluate(kind, Some(dt_ms), y, targets, &mut out)?;
    Ok(out)
}

/// Evaluates loss `kind` on readout output `y` `[T, B, C]` into `out`, reusing its buffers.
///
/// `out.grad` is reshaped to `y`'s shape and overwritten (not accumulated). Every input is
/// validated before `out` is touched, except for an overflow of the time-summed outputs
/// ([`LossError::SummedOutputOverflow`]), after which `out` holds partial results.
pub fn compute_into<F: Real>(
    kind: LossKind,
    y: &Seq<F>,
    targets: Targets<'_>,
    out: &mut LossOutput<F>,
) -> Result<(), LossError> {
    evaluate(kind, None, y, targets, out)
}

fn evaluate<F: Real>(
    kind: LossKind,
    dt_ms: Option<f64>,
    y: &Seq<F>,
    targets: Targets<'_>,
    out: &mut LossOutput<F>,
) -> Result<(), LossError> {
    check_output(y)?;
    out.loss = match (kind, kind.reduction(), targets) {
        (_, Some(reduction), Targets::Classes(classes)) => {
            kind.check_steps(y.steps)?;
            check_classes(y, classes)?;
            reset(out, y);
            cross_entropy(reduction, y, classes, out)?
        }
        (_, Some(reduction), Targets::ClassesInHead { classes, head }) => {
            kind.check_steps(y.steps)?;
            head::cross_entropy_in_head(reduction, y, classes, head, out)?
        }
        (_, Some(_), _) => return Err(LossError::NeedsClasses { kind }),
        (LossKind::VanRossum(kernel), _, Targets::Sequence(seq)) => {
            kernel.validate()?;
            let dt_ms = dt_ms.ok_or(LossError::NeedsTimeStep)?;
            check_sequence(y, seq)?;
            reset(out, y);
            van_rossum::loss(kernel, dt_ms, y, seq, &mut out.grad)
        }
        (LossKind::VanRossum(_), _, _) => return Err(LossError::NeedsTrains),
        (_, None, Targets::Classes(_) | Targets::ClassesInHead { .. }) => {
            return Err(LossError::NeedsValues)
        }
        (_, None, Targets::Values { data, dims }) => {
            check_values(y, data, dims)?;
            reset(out, y);
            let loss = mse(y, |_, b, c| data[b * y.width + c], &mut out.grad);
            root_if_rmse(kind, loss, &mut out.grad)
        }
        (_, None, Targets::Sequence(seq)) => {
            check_sequence(y, seq)?;
            reset(out, y);
            let loss = mse(y, |t, b, c| seq.at(t, b, c), &mut out.grad);
            root_if_rmse(kind, loss, &mut out.grad)
        }
    };
    Ok(())
}

/// The MSE `loss` with its gradient in `grad`, turned into the RMSE's for [`LossKind::Rmse`].
fn root_if_rmse<F: Real>(kind: LossKind, loss: f64, grad: &mut Seq<F>) -> f64 {
    if kind != LossKind::Rmse {
        return loss;
    }
    let root = loss.sqrt();
    let scale = if root > 0.0 { 0.5 / root } else { 0.0 };
    grad.data
        .iter_mut()
        .for_each(|g| *g = F::from_f64(g.as_f64() * scale));
    root
}

/// Coefficient of determination per output: `R²_d = 1 − SSE_d / SST_d`, with
/// `SSE_d = Σ_i (pred[i, d] − target[i, d])²` and `SST_d = Σ_i (target[i, d] − mean_d)²`.
///
/// `pred` and `target` are row-major `[n, dims]`; the data of a `[T, B, C]` [`Seq`] fit as is.
/// A constant target (`SST_d = 0`) scores 1 when predicted exactly and 0 otherwise (scikit-learn's
/// `force_finite` convention) rather than ±∞ or NaN.
pub fn r2_per_output(pred: &[f64], target: &[f64], dims: usize) -> Result<Vec<f64>, LossError> {
    if dims == 0
        || pred.is_empty()
        || pred.len() != target.len()
        || !pred.len().is_multiple_of(dims)
    {
        return Err(LossError::R2Shape {
            pred: pred.len(),
            target: target.len(),
            dims,
        });
    }
    let rows = pred.len() / dims;
    let r2 = (0..dims)
        .map(|d| {
            let targets = target.iter().skip(d).step_by(dims);
            // Two passes (mean first) keep SST accurate when the mean is large.
            let mean = targets.clone().sum::<f64>() / rows as f64;
            let sst: f64 = targets.clone().map(|&v| (v - mean) * (v - mean)).sum();
            let sse: f64 = pred
                .iter()
                .skip(d)
                .step_by(dims)
                .zip(targets)
                .map(|(&p, &v)| (p - v) * (p - v))
                .sum();
            if sst > 0.0 {
                1.0 - sse / sst
            } else if sse == 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Ok(r2)
}

/// Shapes `out` like `y` without giving up its allocations; the losses rely on a zeroed gradient.
fn reset<F: Real>(out: &mut LossOutput<F>, y: &Seq<F>) {
    let grad = &mut out.grad;
    (grad.steps, grad.batch, grad.width) = (y.steps, y.batch, y.width);
    grad.data.clear();
    grad.data.resize(y.data.len(), F::zero());
    out.predictions.clear();
    out.correct = 0;
}

fn check_len(len: usize, steps: usize, batch: usize, width: usize) -> Result<(), LossError> {
    // Saturating: a corrupt shape must give an error, not an overflow panic.
    let expected = steps.saturating_mul(batch).saturating_mul(width);
    if len == expected {
        Ok(())
    } else {
        Err(LossError::Malformed { len, expected })
    }
}

fn check_output<F: Real>(y: &Seq<F>) -> Result<(), LossError> {
    if y.steps == 0 || y.batch == 0 || y.width == 0 {
        return Err(LossError::EmptyOutput {
            steps: y.steps,
            batch: y.batch,
            outputs: y.width,
        });
    }
    check_len(y.data.len(), y.steps, y.batch, y.width)?;
    match y.data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(LossError::NonFiniteOutput {
            step: i / (y.batch * y.width),
            sample: i / y.width % y.batch,
            output: i % y.width,
        }),
    }
}

fn check_classes<F: Real>(y: &Seq<F>, classes: &[usize]) -> Result<(), LossError> {
    if classes.len() != y.batch {
        return Err(LossError::BatchMismatch {
            batch: y.batch,
            targets: classes.len(),
        });
    }
    match classes.iter().position(|&k| k >= y.width) {
        None => Ok(()),
        Some(sample) => Err(LossError::ClassOutOfRange {
            sample,
            class: classes[sample],
            outputs: y.width,
        }),
    }
}

fn check_finite_targets(data: &[f32]) -> Result<(), LossError> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(LossError::NonFiniteTarget { index }),
    }
}

fn check_values<F: Real>(y: &Seq<F>, data: &[f32], dims: usize) -> Result<(), LossError> {
    if dims != y.width {
        return Err(LossError::DimsMismatch {
            outputs: y.width,
            dims,
        });
    }
    if data.len() != y.batch * dims {
        return Err(LossError::ValuesLength {
            expected: y.batch * dims,
            got: data.len(),
        });
    }
    check_finite_targets(data)
}

fn check_sequence<F: Real>(y: &Seq<F>, seq: &Seq<f32>) -> Result<(), LossError> {
    let expected = [y.steps, y.batch, y.width];
    let got = [seq.steps, seq.batch, seq.width];
    if expected != got {
        return Err(LossError::SequenceShape { expected, got });
    }
    check_len(seq.data.len(), seq.steps, seq.batch, seq.width)?;
    check_finite_targets(&seq.data)
}

/// The first index of the largest value (`x` is non-empty and finite).
fn first_argmax<F: Real>(x: &[F]) -> (usize, F) {
    x.iter().enumerate().skip(1).fold(
        (0, x[0]),
        |best, (i, &v)| if v > best.1 { (i, v) } else { best },
    )
}

/// The first step at which output `c` of sample `b` reaches its maximum over time.
fn first_argmax_over_time<F: Real>(y: &Seq<F>, b: usize, c: usize) -> usize {
    (1..y.steps)
        .fold((0, y.at(0, b, c)), |best, t| {
            let v = y.at(t, b, c);
            if v > best.1 {
                (t, v)
            } else {
                best
            }
        })
        .0
}

/// Overwrites the logits `z` with `scale · (softmax(z) − e_class)`, the gradient of
/// `scale · CE(z, class)`, and returns `(CE(z, class), argmax z)`.
pub(crate) fn softmax_ce_in_place<F: Real>(z: &mut [F], class: usize, scale: f64) -> (f64, usize) {
    let (pred, max) = first_argmax(z);
    let max = max.as_f64();
    // Shifting by the maximum keeps every exponent ≤ 0: no overflow, and the sum is ≥ 1.
    let sum: f64 = z.iter().map(|&v| (v.as_f64() - max).exp()).sum();
    let lse = max + sum.ln();
    let ce = lse - z[class].as_f64();
    for (c, v) in z.iter_mut().enumerate() {
        let p = (v.as_f64() - lse).exp();
        let onehot = if c == class { 1.0 } else { 0.0 };
        *v = F::from_f64(scale * (p - onehot));
    }
    (ce, pred)
}

/// The cross-entropy kinds. Each sample's logits are staged in one gradient row of that sample,
/// turned into their gradient in place and then moved or copied to the rows they belong to, so
/// no scratch memory is needed.
fn cross_entropy<F: Real>(
    reduction: Reduction,
    y: &Seq<F>,
    classes: &[usize],
    out: &mut LossOutput<F>,
) -> Result<f64, LossError> {
    let (steps, batch, width) = (y.steps, y.batch, y.width);
    let grad = &mut out.grad;
    let scale = 1.0 / batch as f64;
    let mut loss = 0.0;
    for (b, &class) in classes.iter().enumerate() {
        let (ce, pred) = match reduction {
            Reduction::Max => {
                let z = grad.row_mut(0, b);
                z.copy_from_slice(y.row(0, b));
                for t in 1..steps {
                    for (zc, &v) in z.iter_mut().zip(y.row(t, b)) {
                        *zc = zc.max(v);
                    }
                }
                let result = softmax_ce_in_place(z, class, scale);
                for c in 0..width {
                    let t = first_argmax_over_time(y, b, c);
                    if t != 0 {
                        let (from, to) = (grad.index(0, b, c), grad.index(t, b, c));
                        grad.data.swap(from, to); // `to` still holds zero
                    }
                }
                result
            }
            Reduction::Sum => {
                // Accumulate in f64: `T` can be hundreds of steps.
                let z = grad.row_mut(0, b);
                for (c, zc) in z.iter_mut().enumerate() {
                    *zc = F::from_f64((0..steps).map(|t| y.at(t, b, c).as_f64()).sum());
                    if !zc.is_finite() {
                        return Err(LossError::SummedOutputOverflow { sample: b });
                    }
                }
                let result = softmax_ce_in_place(z, class, scale);
                let first = grad.index(0, b, 0);
                for t in 1..steps {
                    let to = grad.index(t, b, 0);
                    grad.data.copy_within(first..first + width, to);
                }
                result
            }
            Reduction::Last => {
                let z = grad.row_mut(steps - 1, b);
                z.copy_from_slice(y.row(steps - 1, b));
                softmax_ce_in_place(z, class, scale)
            }
            Reduction::Window { last } => {
                window_ce(y, b, class, steps - last.unwrap_or(steps), scale, grad)
            }
        };
        loss += ce;
        out.correct += usize::from(pred == class);
        out.predictions.push(pred);
    }
    Ok(loss * scale)
}

/// Cross-entropy of sample `b` at every step from `first` on: writes the gradient of
/// `scale / S · Σ_{t ≥ first} CE(y[t, b], class)` (`S = T − first`, earlier rows stay zero)
/// and returns the mean CE over those steps with the argmax of the outputs summed over them.
fn window_ce<F: Real>(
    y: &Seq<F>,
    b: usize,
    class: usize,
    first: usize,
    scale: f64,
    grad: &mut Seq<F>,
) -> (f64, usize) {
    let window = first..y.steps;
    let len = window.len() as f64;
    let mut ce = 0.0;
    for t in window.clone() {
        let z = grad.row_mut(t, b);
        z.copy_from_slice(y.row(t, b));
        ce += softmax_ce_in_place(z, class, scale / len).0;
    }
    let summed = |c: usize| window.clone().map(|t| y.at(t, b, c).as_f64()).sum::<f64>();
    let pred = (1..y.width).fold((0, summed(0)), |best, c| {
        let s = summed(c);
        if s > best.1 {
            (c, s)
        } else {
            best
        }
    });
    (ce / len, pred.0)
}

/// Mean-squared error against `target(t, b, c)`; writes `∂L/∂y = 2 (y − target) / (T·B·C)`.
fn mse<F: Real>(y: &Seq<F>, target: impl Fn(usize, usize, usize) -> f32, grad: &mut Seq<F>) -> f64 {
    let (batch, width) = (y.batch, y.width);
    let scale = 1.0 / y.data.len() as f64;
    let mut sum = 0.0;
    let rows = y
        .data
        .chunks_exact(width)
        .zip(grad.data.chunks_exact_mut(width));
    for (r, (yr, gr)) in rows.enumerate() {
        let (t, b) = (r / batch, r % batch);
        for (c, (&v, g)) in yr.iter().zip(gr.iter_mut()).enumerate() {
            let d = v.as_f64() - f64::from(target(t, b, c));
            sum += d * d;
            *g = F::from_f64(2.0 * scale * d);
        }
    }
    sum * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The cross-entropy kinds; a one-step window fits outputs of any length.
    const CE_KINDS: [LossKind; 5] = [
        LossKind::MaxOverTimeCe,
        LossKind::SumOverTimeCe,
        LossKind::LastStepCe,
        LossKind::EveryStepCe,
        LossKind::LastStepsCe { steps: 1 },
    ];

    fn random_seq(rng: &mut ChaCha8Rng, steps: usize, batch: usize, width: usize) -> Seq<f64> {
        let data = (0..steps * batch * width)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect();
        Seq::from_vec(steps, batch, width, data).unwrap()
    }

    /// Checks `grad` against central differences of the loss, element by element.
    fn assert_gradient_matches(kind: LossKind, y: &Seq<f64>, targets: Targets<'_>) {
        let out = compute(kind, y, targets).unwrap();
        let h = 1e-6;
        let mut probe = y.clone();
        for i in 0..y.data.len() {
            probe.data[i] = y.data[i] + h;
            let plus = compute(kind, &probe, targets).unwrap().loss;
            probe.data[i] = y.data[i] - h;
            let minus = compute(kind, &probe, targets).unwrap().loss;
            probe.data[i] = y.data[i];
            let fd = (plus - minus) / (2.0 * h);
            let g = out.grad.data[i];
            // Relative error < 1e-6, with an absolute floor for the (near-)zero entries,
            // where the difference quotient is pure rounding noise (~1e-10).
            assert!(
                (g - fd).abs() <= 1e-6 * g.abs().max(fd.abs()) + 1e-9,
                "{kind:?} element {i}: analytic {g}, finite difference {fd}"
            );
        }
    }

    #[test]
    fn cross_entropy_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for kind in CE_KINDS {
            for _ in 0..6 {
                let (steps, batch, width) = (
                    rng.random_range(1..7),
                    rng.random_range(1..5),
                    rng.random_range(2..7),
                );
                // Continuous random values: ties in the max over time have probability 0.
                let y = random_seq(&mut rng, steps, batch, width);
                let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..width)).collect();
                assert_gradient_matches(kind, &y, Targets::Classes(&classes));
            }
        }
    }

    #[test]
    fn mse_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..6 {
            let (steps, batch, width) = (
                rng.random_range(1..6),
                rng.random_range(1..5),
                rng.random_range(1..5),
            );
            let y = random_seq(&mut rng, steps, batch, width);
            let values: Vec<f32> = (0..batch * width)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let targets = Targets::Values {
                data: &values,
                dims: width,
            };
            assert_gradient_matches(LossKind::Mse, &y, targets);
            let seq: Seq<f32> = random_seq(&mut rng, steps, batch, width).cast();
            assert_gradient_matches(LossKind::Mse, &y, Targets::Sequence(&seq));
            assert_gradient_matches(LossKind::Rmse, &y, targets);
            assert_gradient_matches(LossKind::Rmse, &y, Targets::Sequence(&seq));
        }
    }

    #[test]
    fn uniform_logits_cost_ln_c() {
        let (steps, batch, width) = (4, 3, 5);
        let y = Seq::from_vec(steps, batch, width, vec![0.3; steps * batch * width]).unwrap();
        let classes = [0, 2, 4];
        let ln_c = (width as f64).ln();
        for kind in CE_KINDS {
            let out = compute(kind, &y, Targets::Classes(&classes)).unwrap();
            assert!((out.loss - ln_c).abs() < 1e-12, "{kind:?}: {}", out.loss);
            // Each sample's gradient sums to zero over classes and time.
            for b in 0..batch {
                let total: f64 = (0..steps).flat_map(|t| out.grad.row(t, b).to_vec()).sum();
                assert!(total.abs() < 1e-12, "{kind:?}");
            }
        }
        let sum = compute(LossKind::SumOverTimeCe, &y, Targets::Classes(&classes)).unwrap();
        let expect = |c: usize, k: usize| (1.0 / width as f64 - f64::from(u8::from(c == k))) / 3.0;
        for t in 0..steps {
            for (b, &k) in classes.iter().enumerate() {
                for c in 0..width {
                    assert!((sum.grad.at(t, b, c) - expect(c, k)).abs() < 1e-15);
                }
            }
        }
    }

    #[test]
    fn max_over_time_ties_send_the_gradient_to_the_first_step() {
        // Output 0 peaks at steps 1 and 3 (tie), output 1 at step 2.
        let y = Seq::from_vec(4, 1, 2, vec![0.0, 0.0, 2.0, 0.0, 1.0, 1.5, 2.0, 1.0]).unwrap();
        let out = compute(LossKind::MaxOverTimeCe, &y, Targets::Classes(&[1])).unwrap();
        let p0 = 1.0 / (1.0 + (-0.5f64).exp()); // softmax([2, 1.5])_0
        assert!((out.loss - (1.0 + (0.5f64).exp()).ln()).abs() < 1e-12);
        let g = &out.grad;
        assert!((g.at(1, 0, 0) - p0).abs() < 1e-15 && (g.at(2, 0, 1) + p0).abs() < 1e-15);
        let others = [g.at(0, 0, 0), g.at(0, 0, 1), g.at(1, 0, 1), g.at(2, 0, 0)];
        assert!(others.iter().chain(g.row(3, 0)).all(|&v| v == 0.0));
    }

    #[test]
    fn cross_entropy_matches_hand_values() {
        // Logits [0, ln 3] give p = [1/4, 3/4].
        let y = Seq::from_vec(1, 2, 2, vec![0.0, 3f64.ln(), 0.0, 3f64.ln()]).unwrap();
        let out = compute(LossKind::LastStepCe, &y, Targets::Classes(&[0, 1])).unwrap();
        let expect = (4f64.ln() + (4.0f64 / 3.0).ln()) / 2.0;
        assert!((out.loss - expect).abs() < 1e-14);
        let g = [-0.375, 0.375, 0.125, -0.125]; // (p − onehot) / B
        assert!(out
            .grad
            .data
            .iter()
            .zip(g)
            .all(|(a, b)| (a - b).abs() < 1e-15));
        assert_eq!((out.predictions, out.correct), (vec![1, 1], 1));
    }

    #[test]
    fn every_step_loss_is_the_mean_over_steps() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let y = random_seq(&mut rng, 5, 2, 3);
        let classes = [2, 0];
        let every = compute(LossKind::EveryStepCe, &y, Targets::Classes(&classes)).unwrap();
        let mut mean = 0.0;
        for t in 0..5 {
            let step = Seq::from_vec(1, 2, 3, y.step(t).to_vec()).unwrap();
            mean += compute(LossKind::LastStepCe, &step, Targets::Classes(&classes))
                .unwrap()
                .loss
                / 5.0;
        }
        assert!((every.loss - mean).abs() < 1e-14);
    }

    #[test]
    fn last_steps_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for _ in 0..12 {
            let (steps, batch, width) = (
                rng.random_range(1..9),
                rng.random_range(1..5),
                rng.random_range(2..6),
            );
            let window = rng.random_range(1..=steps);
            let y = random_seq(&mut rng, steps, batch, width);
            let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..width)).collect();
            let kind = LossKind::LastStepsCe { steps: window };
            assert_gradient_matches(kind, &y, Targets::Classes(&classes));
        }
    }

    #[test]
    fn last_steps_loss_matches_hand_values() {
        // Sample 0 (class 1): outside the window [5, −5], then [0, ln 3] and [ln 3, 1/2].
        // Sample 1 (class 0): zeros everywhere.
        let ln3 = 3f64.ln();
        #[rustfmt::skip]
        let data = vec![
            5.0, -5.0, 0.0, 0.0,
            0.0, ln3, 0.0, 0.0,
            ln3, 0.5, 0.0, 0.0,
        ];
        let y = Seq::from_vec(3, 2, 2, data).unwrap();
        let kind = LossKind::LastStepsCe { steps: 2 };
        let out = compute(kind, &y, Targets::Classes(&[1, 0])).unwrap();
        let a = 0.5f64.exp();
        // CE at step 1: −ln(3/4); at step 2: ln(3 + e^½) − ½; sample 1: ln 2 at both steps.
        let sample0 = ((4.0f64 / 3.0).ln() + (3.0 + a).ln() - 0.5) / 2.0;
        let expect = (sample0 + 2f64.ln()) / 2.0;
        assert!(
            (out.loss - expect).abs() < 1e-14,
            "{} vs {expect}",
            out.loss
        );
        // (softmax − onehot) / (B·S) per step; nothing before the window.
        let p = 3.0 / (3.0 + a);
        #[rustfmt::skip]
        let grad = [
            0.0, 0.0, 0.0, 0.0,
            0.25 / 4.0, -0.25 / 4.0, -0.5 / 4.0, 0.5 / 4.0,
            p / 4.0, -p / 4.0, -0.5 / 4.0, 0.5 / 4.0,
        ];
        for (i, (g, e)) in out.grad.data.iter().zip(grad).enumerate() {
            assert!((g - e).abs() < 1e-15, "element {i}: {g} vs {e}");
        }
        // Sample 0: ln 3 vs ln 3 + ½ over the window (step 0 alone would favour class 0);
        // sample 1: a tie, resolved to the first class.
        assert_eq!((out.predictions, out.correct), (vec![1, 0], 2));
    }

    #[test]
    fn last_steps_over_all_steps_are_the_every_step_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        for (steps, batch, width) in [(1, 3, 2), (7, 4, 5), (30, 2, 3)] {
            let y = random_seq(&mut rng, steps, batch, width);
            let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..width)).collect();
            let all = LossKind::LastStepsCe { steps };
            let every = compute(LossKind::EveryStepCe, &y, Targets::Classes(&classes)).unwrap();
            assert_eq!(compute(all, &y, Targets::Classes(&classes)).unwrap(), every);
            let y32: Seq<f32> = y.cast();
            assert_eq!(
                compute(all, &y32, Targets::Classes(&classes)).unwrap(),
                compute(LossKind::EveryStepCe, &y32, Targets::Classes(&classes)).unwrap()
            );
        }
    }

    #[test]
    fn last_steps_gradient_is_zero_before_the_window() {
        let mut rng = ChaCha8Rng::seed_from_u64(19);
        let (steps, batch, width, window) = (10, 3, 4, 4);
        let y = random_seq(&mut rng, steps, batch, width);
        let classes = [3, 0, 1];
        let kind = LossKind::LastStepsCe { steps: window };
        let out = compute(kind, &y, Targets::Classes(&classes)).unwrap();
        let first = steps - window;
        assert!(out.grad.data[..first * batch * width]
            .iter()
            .all(|&g| g == 0.0));
        assert!(out.grad.data[first * batch * width..]
            .iter()
            .all(|&g| g != 0.0));
        // The window alone, as an every-step loss, gives the same loss, gradient and predictions.
        let tail = y.data[first * batch * width..].to_vec();
        let tail = Seq::from_vec(window, batch, width, tail).unwrap();
        let every = compute(LossKind::EveryStepCe, &tail, Targets::Classes(&classes)).unwrap();
        assert_eq!(out.loss, every.loss);
        assert_eq!(
            &out.grad.data[first * batch * width..],
            &every.grad.data[..]
        );
        assert_eq!(
            (out.predictions, out.correct),
            (every.predictions, every.correct)
        );
    }

    #[test]
    fn last_steps_window_must_fit_the_output() {
        let y = Seq::<f32>::zeros(5, 2, 3);
        let classes = Targets::Classes(&[0, 1]);
        let empty = LossKind::LastStepsCe { steps: 0 };
        let long = LossKind::LastStepsCe { steps: 6 };
        assert_eq!(
            compute(empty, &y, classes).unwrap_err(),
            LossError::EmptyWindow
        );
        assert_eq!(
            compute(long, &y, classes).unwrap_err(),
            LossError::WindowTooLong {
                window: 6,
                steps: 5
            }
        );
        assert!(compute(LossKind::LastStepsCe { steps: 5 }, &y, classes).is_ok());
        assert_eq!(empty.validate(), Err(LossError::EmptyWindow));
        assert!(long.validate().is_ok() && long.check_steps(6).is_ok());
        assert!(long.check_steps(5).is_err() && empty.check_steps(5).is_err());
        assert!(LossKind::EveryStepCe.check_steps(1).is_ok());
        // A failed check leaves a previous result untouched.
        let mut out = compute(LossKind::EveryStepCe, &y, classes).unwrap();
        let before = out.clone();
        assert!(compute_into(long, &y, classes, &mut out).is_err());
        assert_eq!(out, before);
    }

    #[test]
    fn every_step_prediction_uses_time_summed_outputs() {
        // Output 1 wins 2 of 3 steps, but output 0 has the larger sum.
        let y = Seq::from_vec(3, 1, 2, vec![5.0, 0.0, 0.0, 1.0, 0.0, 1.0f32]).unwrap();
        let out = compute(LossKind::EveryStepCe, &y, Targets::Classes(&[0])).unwrap();
        assert_eq!((out.predictions, out.correct), (vec![0], 1));
    }

    #[test]
    fn accuracy_counts_correct_predictions() {
        let (steps, batch, width) = (3, 5, 4);
        let mut y = Seq::<f32>::zeros(steps, batch, width);
        let argmax = [0, 3, 2, 2, 1];
        for (b, &k) in argmax.iter().enumerate() {
            for t in 0..steps {
                y.row_mut(t, b)[k] = 1.0 + t as f32;
            }
        }
        let classes = [0, 3, 1, 2, 0];
        for kind in CE_KINDS {
            let out = compute(kind, &y, Targets::Classes(&classes)).unwrap();
            assert_eq!(out.predictions, argmax, "{kind:?}");
            assert_eq!(out.correct, 3, "{kind:?}");
        }
    }

    #[test]
    fn large_logits_stay_finite() {
        let y = Seq::from_vec(2, 1, 3, vec![1000.0, 0.0, -1000.0, 900.0, 0.0, 0.0f32]).unwrap();
        for kind in CE_KINDS {
            let out = compute(kind, &y, Targets::Classes(&[1])).unwrap();
            assert!(
                out.loss.is_finite() && out.loss >= 899.0,
                "{kind:?}: {}",
                out.loss
            );
            assert!(out
                .grad
                .data
                .iter()
                .all(|v| v.is_finite() && v.abs() <= 1.0));
        }
        let huge = Seq::from_vec(2, 1, 2, vec![3e38, 0.0, 3e38, 0.0f32]).unwrap();
        assert_eq!(
            compute(LossKind::SumOverTimeCe, &huge, Targets::Classes(&[0])).unwrap_err(),
            LossError::SummedOutputOverflow { sample: 0 }
        );
    }

    #[test]
    fn f32_agrees_with_f64() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let y64 = random_seq(&mut rng, 20, 4, 6);
        let y32: Seq<f32> = y64.cast();
        let y64: Seq<f64> = y32.cast(); // the same values in both precisions
        let classes = [1, 5, 0, 3];
        for kind in CE_KINDS {
            let a = compute(kind, &y32, Targets::Classes(&classes)).unwrap();
            let b = compute(kind, &y64, Targets::Classes(&classes)).unwrap();
            // Only the f32 rounding of the gradient (and of the time-summed logits) differs.
            assert!((a.loss - b.loss).abs() < 1e-6 * b.loss.max(1.0), "{kind:?}");
            let mut pairs = a.grad.data.iter().zip(&b.grad.data);
            assert!(
                pairs.all(|(x, y)| (f64::from(*x) - y).abs() < 1e-7),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn mse_matches_closed_form_and_broadcasts_values() {
        let (steps, batch, width) = (3, 2, 2);
        let y = Seq::from_vec(steps, batch, width, vec![1.0f64; 12]).unwrap();
        let values = [0.0f32, 2.0, 1.0, 3.0];
        let targets = Targets::Values {
            data: &values,
            dims: width,
        };
        let out = compute(LossKind::Mse, &y, targets).unwrap();
        // Differences per step: [1, −1, 0, −2] → squares sum to 6 per step.
        assert!((out.loss - 6.0 / 4.0).abs() < 1e-15);
        assert!((out.grad.at(2, 1, 1) - 2.0 * -2.0 / 12.0).abs() < 1e-15);
        assert!(out.predictions.is_empty() && out.correct == 0);
        let mut seq = Seq::<f32>::zeros(steps, batch, width);
        for t in 0..steps {
            for b in 0..batch {
                seq.row_mut(t, b)
                    .copy_from_slice(&values[b * width..(b + 1) * width]);
            }
        }
        assert_eq!(
            compute(LossKind::Mse, &y, Targets::Sequence(&seq)).unwrap(),
            out
        );
    }

    #[test]
    fn rmse_is_the_root_of_the_mse_and_refuses_step_by_step_use() {
        let y = Seq::from_vec(2, 1, 2, vec![1.0f64, 1.0, 1.0, 1.0]).unwrap();
        let values = [0.0f32, 3.0];
        let targets = Targets::Values {
            data: &values,
            dims: 2,
        };
        let out = compute(LossKind::Rmse, &y, targets).unwrap();
        // Squares 1 and 4 at both steps: MSE 2.5, RMSE √2.5; ∂/∂y = 2d/4 / (2√2.5).
        assert!((out.loss - 2.5f64.sqrt()).abs() < 1e-15);
        let expected = 2.0 * -2.0 / 4.0 / (2.0 * 2.5f64.sqrt());
        assert!((out.grad.at(1, 0, 1) - expected).abs() < 1e-15);
        // A perfect fit has a zero gradient, not NaN.
        let exact = Seq::from_vec(1, 1, 2, vec![0.0f64, 3.0]).unwrap();
        let perfect = compute(LossKind::Rmse, &exact, targets).unwrap();
        assert_eq!(
            (perfect.loss, perfect.grad.data.clone()),
            (0.0, vec![0.0, 0.0])
        );
        let online = StepLoss::<f32>::new(LossKind::Rmse, targets, 2, 1, 2);
        assert_eq!(online.err(), Some(LossError::RmseNotOnline));
        let parsed: LossKind = toml::from_str::<toml::Table>("loss = \"rmse\"").unwrap()["loss"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(parsed, LossKind::Rmse);
        assert!(parsed.is_squared_error() && !parsed.is_classification());
    }

    #[test]
    fn compute_into_reuses_buffers_across_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut out = LossOutput::default();
        for (steps, batch, width) in [(6, 4, 5), (2, 3, 3), (7, 1, 4)] {
            let y = random_seq(&mut rng, steps, batch, width);
            let classes: Vec<usize> = (0..batch).map(|b| b % width).collect();
            for kind in CE_KINDS {
                compute_into(kind, &y, Targets::Classes(&classes), &mut out).unwrap();
                assert_eq!(out, compute(kind, &y, Targets::Classes(&classes)).unwrap());
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let y = Seq::<f32>::zeros(2, 2, 3);
        let ce = LossKind::MaxOverTimeCe;
        let err = |kind, y: &Seq<f32>, t| compute(kind, y, t).unwrap_err();
        assert_eq!(
            err(ce, &y, Targets::Classes(&[0])),
            LossError::BatchMismatch {
                batch: 2,
                targets: 1
            }
        );
        assert_eq!(
            err(ce, &y, Targets::Classes(&[0, 3])),
            LossError::ClassOutOfRange {
                sample: 1,
                class: 3,
                outputs: 3
            }
        );
        let values = [0.0f32; 6];
        let regression = Targets::Values {
            data: &values,
            dims: 3,
        };
        assert_eq!(
            err(ce, &y, regression),
            LossError::NeedsClasses { kind: ce }
        );
        assert_eq!(
            err(LossKind::Mse, &y, Targets::Classes(&[0, 1])),
            LossError::NeedsValues
        );
        let narrow = Targets::Values {
            data: &values[..4],
            dims: 2,
        };
        assert!(matches!(
            err(LossKind::Mse, &y, narrow),
            LossError::DimsMismatch { .. }
        ));
        let short = Targets::Values {
            data: &values[..3],
            dims: 3,
        };
        assert!(matches!(
            err(LossKind::Mse, &y, short),
            LossError::ValuesLength { .. }
        ));
        let nan_values = [0.0, f32::NAN, 0.0, 0.0, 0.0, 0.0];
        let nan_target = Targets::Values {
            data: &nan_values,
            dims: 3,
        };
        assert_eq!(
            err(LossKind::Mse, &y, nan_target),
            LossError::NonFiniteTarget { index: 1 }
        );
        let wrong_seq = Seq::<f32>::zeros(3, 2, 3);
        assert!(matches!(
            err(LossKind::Mse, &y, Targets::Sequence(&wrong_seq)),
            LossError::SequenceShape { .. }
        ));

        let mut nan = y.clone();
        nan.data[9] = f32::NAN;
        let e = err(ce, &nan, Targets::Classes(&[0, 0]));
        assert_eq!(
            e,
            LossError::NonFiniteOutput {
                step: 1,
                sample: 1,
                output: 0
            }
        );
        assert!(e.to_string().starts_with("non-finite readout output"));
        let empty = Seq::<f32>::zeros(0, 2, 3);
        assert!(matches!(
            err(ce, &empty, Targets::Classes(&[0, 0])),
            LossError::EmptyOutput { .. }
        ));
        let mut malformed = y.clone();
        malformed.data.pop();
        assert_eq!(
            err(ce, &malformed, Targets::Classes(&[0, 0])),
            LossError::Malformed {
                len: 11,
                expected: 12
            }
        );
    }

    #[test]
    fn r2_per_output_matches_hand_values() {
        // Output 0 predicted exactly; output 1 off by 1 everywhere around targets [0, 2, 4].
        let target = [1.0, 0.0, 2.0, 2.0, 3.0, 4.0];
        let pred = [1.0, 1.0, 2.0, 3.0, 3.0, 5.0];
        let r2 = r2_per_output(&pred, &target, 2).unwrap();
        assert_eq!(r2[0], 1.0);
        assert!((r2[1] - (1.0 - 3.0 / 8.0)).abs() < 1e-15);
        // Constant targets: exact → 1, otherwise 0 (not ±∞ or NaN).
        assert_eq!(r2_per_output(&[5.0, 5.0], &[5.0, 5.0], 1).unwrap(), [1.0]);
        assert_eq!(r2_per_output(&[4.0, 5.0], &[5.0, 5.0], 1).unwrap(), [0.0]);
        for (p, t, d) in [
            (&pred[..], &target[..5], 2),
            (&pred[..], &target[..], 4),
            (&[][..], &[][..], 1),
        ] {
            assert!(matches!(
                r2_per_output(p, t, d),
                Err(LossError::R2Shape { .. })
            ));
        }
        assert!(r2_per_output(&pred, &target, 0).is_err());
    }

    #[test]
    fn loss_kinds_use_snake_case_names() {
        let json = serde_json::to_string(&LossKind::MaxOverTimeCe).unwrap();
        assert_eq!(json, "\"max_over_time_ce\"");
        let kind: LossKind = serde_json::from_str("\"every_step_ce\"").unwrap();
        assert_eq!(kind, LossKind::EveryStepCe);
        assert!(serde_json::from_str::<LossKind>("\"cross_entropy\"").is_err());
        assert!(!LossKind::Mse.is_classification() && LossKind::LastStepCe.is_classification());
        assert!(LossKind::LastStepsCe { steps: 150 }.is_classification());
        let json = serde_json::to_string(&LossKind::LastStepsCe { steps: 150 }).unwrap();
        assert_eq!(json, r#"{"last_steps_ce":{"steps":150}}"#);
    }

    #[test]
    fn van_rossum_needs_trains_and_the_time_step() {
        let kind = LossKind::VanRossum(VanRossumKernel::default());
        let y = Seq::<f32>::zeros(10, 2, 3);
        let trains = Seq::<f32>::zeros(10, 2, 3);
        assert_eq!(
            compute(kind, &y, Targets::Sequence(&trains)).unwrap_err(),
            LossError::NeedsTimeStep
        );
        assert_eq!(
            compute_timed(kind, 1.0, &y, Targets::Classes(&[0, 1])).unwrap_err(),
            LossError::NeedsTrains
        );
        assert!(matches!(
            compute_timed(kind, 1.0, &y, Targets::Sequence(&Seq::zeros(9, 2, 3))).unwrap_err(),
            LossError::SequenceShape { .. }
        ));
        let out = compute_timed(kind, 1.0, &y, Targets::Sequence(&trains)).unwrap();
        assert_eq!((out.loss, out.correct), (0.0, 0));
        let bad = LossKind::VanRossum(VanRossumKernel {
            tau_rise_ms: f64::NAN,
            tau_decay_ms: 10.0,
        });
        assert!(matches!(
            compute_timed(bad, 1.0, &y, Targets::Sequence(&trains)).unwrap_err(),
            LossError::InvalidKernel {
                field: "tau_rise_ms",
                ..
            }
        ));
        assert!(!kind.is_classification());
        assert!(matches!(
            StepLoss::<f32>::new(kind, Targets::Sequence(&trains), 10, 2, 3),
            Err(LossError::NotOnline)
        ));
    }

    #[test]
    fn loss_kinds_parse_from_toml_as_names_and_tables() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Training {
            loss: LossKind,
        }
        let parse = |text: &str| toml::from_str::<Training>(text).map(|t| t.loss);
        assert_eq!(
            parse(r#"loss = "max_over_time_ce""#).unwrap(),
            LossKind::MaxOverTimeCe
        );
        assert_eq!(
            parse(r#"loss = "every_step_ce""#).unwrap(),
            LossKind::EveryStepCe
        );
        let window = LossKind::LastStepsCe { steps: 150 };
        assert_eq!(
            parse("loss = { last_steps_ce = { steps = 150 } }").unwrap(),
            window
        );
        assert_eq!(
            parse("[loss.last_steps_ce]\nsteps = 150\n").unwrap(),
            window
        );
        assert_eq!(
            parse("loss = { van_rossum = {} }").unwrap(),
            LossKind::VanRossum(VanRossumKernel::default())
        );
        assert_eq!(
            parse("loss = { van_rossum = { tau_rise_ms = 2.0, tau_decay_ms = 8.0 } }").unwrap(),
            LossKind::VanRossum(VanRossumKernel {
                tau_rise_ms: 2.0,
                tau_decay_ms: 8.0
            })
        );
        for bad in [
            "loss = { van_rossum = { tau_ms = 2.0 } }",
            "loss = { last_steps_ce = {} }",
            "loss = { last_steps_ce = { steps = 150, step = 1 } }",
            "loss = { last_steps_ce = { steps = -1 } }",
            r#"loss = "last_steps_ce""#,
            "loss = { every_step_ce = { steps = 150 } }",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for loss in [LossKind::SumOverTimeCe, window] {
            let text = toml::to_string(&Training { loss }).unwrap();
            assert_eq!(parse(&text).unwrap(), loss, "{text}");
        }
    }
}
