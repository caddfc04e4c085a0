//! Cross-entropy on one head of a multi-head readout: only the head's outputs compete in the
//! softmax and the prediction, and the others get no gradient (the output masking of
//! multi-head continual learning, e.g. Split MNIST with one head per task).
//!
//! The head's columns are gathered into a narrower output, the loss is evaluated there with
//! each class renumbered to its place in the head, and the gradient and predictions are put
//! back at the readout's outputs.

use super::{check_classes, cross_entropy, reset, LossError, LossOutput, Reduction};
use crate::real::Real;
use crate::tensor::Seq;

/// Checks `head` against `width` readout outputs and returns each class's place in it.
fn places(width: usize, classes: &[usize], head: &[usize]) -> Result<Vec<usize>, LossError> {
    if head.is_empty() {
        return Err(LossError::EmptyHead);
    }
    if let Some(&unit) = head.iter().find(|&&u| u >= width) {
        return Err(LossError::HeadOutOfRange {
            unit,
            outputs: width,
        });
    }
    if let Some((i, &unit)) = head
        .iter()
        .enumerate()
        .find(|(i, u)| head[..*i].contains(u))
    {
        return Err(LossError::HeadRepeats { unit, place: i });
    }
    classes
        .iter()
        .enumerate()
        .map(|(sample, class)| {
            head.iter()
                .position(|u| u == class)
                .ok_or(LossError::ClassOutsideHead {
                    sample,
                    class: *class,
                })
        })
        .collect()
}

/// The columns `head` of every row of `y`.
fn gather<F: Real>(y: &Seq<F>, head: &[usize]) -> Seq<F> {
    let data = y
        .data
        .chunks_exact(y.width)
        .flat_map(|row| head.iter().map(move |&u| row[u]))
        .collect();
    Seq {
        steps: y.steps,
        batch: y.batch,
        width: head.len(),
        data,
    }
}

/// The cross-entropy of `reduction` over the outputs `head` of `y`; returns the loss.
pub(super) fn cross_entropy_in_head<F: Real>(
    reduction: Reduction,
    y: &Seq<F>,
    classes: &[usize],
    head: &[usize],
    out: &mut LossOutput<F>,
) -> Result<f64, LossError> {
    check_classes(y, classes)?;
    let local = places(y.width, classes, head)?;
    let narrow = gather(y, head);
    let mut within = LossOutput::default();
    reset(&mut within, &narrow);
    let loss = cross_entropy(reduction, &narrow, &local, &mut within)?;
    reset(out, y);
    let rows = out.grad.data.chunks_exact_mut(y.width);
    for (row, narrow_row) in rows.zip(within.grad.data.chunks_exact(head.len())) {
        head.iter().zip(narrow_row).for_each(|(&u, &g)| row[u] = g);
    }
    out.predictions = within.predictions.iter().map(|&p| head[p]).collect();
    out.correct = within.correct;
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::{compute, LossKind, Targets};

    fn output() -> Seq<f64> {
        let data = (0..3 * 2 * 4)
            .map(|i| ((i * 7) % 11) as f64 * 0.3)
            .collect();
        Seq::from_vec(3, 2, 4, data).unwrap()
    }

    #[test]
    fn a_head_is_the_loss_of_its_columns_alone() {
        let y = output();
        let head = [3, 1];
        for kind in [
            LossKind::MaxOverTimeCe,
            LossKind::SumOverTimeCe,
            LossKind::LastStepCe,
        ] {
            let targets = Targets::ClassesInHead {
                classes: &[1, 3],
                head: &head,
            };
            let out = compute(kind, &y, targets).unwrap();
            let narrow = compute(kind, &gather(&y, &head), Targets::Classes(&[1, 0])).unwrap();
            assert!((out.loss - narrow.loss).abs() < 1e-12, "{kind:?}");
            assert_eq!(out.correct, narrow.correct);
            let mapped: Vec<usize> = narrow.predictions.iter().map(|&p| head[p]).collect();
            assert_eq!(out.predictions, mapped);
            for (t, b) in (0..3).flat_map(|t| (0..2).map(move |b| (t, b))) {
                assert_eq!(out.grad.at(t, b, 0), 0.0);
                assert_eq!(out.grad.at(t, b, 2), 0.0);
                assert_eq!(out.grad.at(t, b, 3), narrow.grad.at(t, b, 0));
                assert_eq!(out.grad.at(t, b, 1), narrow.grad.at(t, b, 1));
            }
        }
    }

    #[test]
    fn outputs_outside_the_head_do_not_change_the_loss() {
        let mut y = output();
        let targets = Targets::ClassesInHead {
            classes: &[0, 2],
            head: &[0, 2],
        };
        let before = compute(LossKind::MaxOverTimeCe, &y, targets).unwrap();
        y.data.chunks_exact_mut(4).for_each(|row| row[1] = 100.0);
        let after = compute(LossKind::MaxOverTimeCe, &y, targets).unwrap();
        assert_eq!(before.loss, after.loss);
        assert!(after.predictions.iter().all(|p| [0, 2].contains(p)));
    }

    #[test]
    fn bad_heads_are_refused() {
        let y = output();
        let refuse = |classes: &[usize], head: &[usize]| {
            let targets = Targets::ClassesInHead { classes, head };
            compute(LossKind::MaxOverTimeCe, &y, targets).unwrap_err()
        };
        assert_eq!(refuse(&[0, 0], &[]), LossError::EmptyHead);
        assert!(matches!(
            refuse(&[0, 0], &[0, 4]),
            LossError::HeadOutOfRange { unit: 4, .. }
        ));
        assert!(matches!(
            refuse(&[0, 0], &[0, 0]),
            LossError::HeadRepeats { unit: 0, place: 1 }
        ));
        assert!(matches!(
            refuse(&[0, 3], &[0, 1]),
            LossError::ClassOutsideHead {
                sample: 1,
                class: 3
            }
        ));
    }
}
