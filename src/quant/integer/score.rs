//! Class scores of integer outputs, as each cross-entropy loss reads its logits (see
//! [`LossKind`]), in integers: the maximum over time, a sum over a window of steps, or the
//! last step; the prediction is the first class of the largest score.

use crate::losses::LossKind;

/// How a loss turns the output `[steps, classes]` of a sample into class scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readoff {
    /// `max_t y[t, c]` (`max_over_time_ce`).
    Max,
    /// `Σ_{t ≥ first} y[t, c]` (`sum_over_time_ce`, `every_step_ce`: `first = 0`;
    /// `last_steps_ce`: `first = T − steps`).
    Sum {
        /// The first step summed.
        first: usize,
    },
    /// `y[T − 1, c]` (`last_step_ce`).
    Last,
}

impl Readoff {
    /// The read-off of loss `kind` for outputs of `steps` steps; `None` for losses that are
    /// not classifications (MSE, van Rossum).
    pub fn of(kind: LossKind, steps: usize) -> Option<Self> {
        match kind {
            LossKind::MaxOverTimeCe => Some(Readoff::Max),
            LossKind::SumOverTimeCe | LossKind::EveryStepCe => Some(Readoff::Sum { first: 0 }),
            LossKind::LastStepsCe { steps: window } => Some(Readoff::Sum {
                first: steps.saturating_sub(window),
            }),
            LossKind::LastStepCe => Some(Readoff::Last),
            LossKind::Mse | LossKind::Rmse | LossKind::VanRossum(_) => None,
        }
    }

    /// The predicted class of every sample of `output` `[steps, batch, classes]`.
    pub fn predictions(
        self,
        output: &[i32],
        steps: usize,
        batch: usize,
        classes: usize,
    ) -> Vec<usize> {
        (0..batch)
            .map(|b| {
                let at = |t: usize, c: usize| i64::from(output[(t * batch + b) * classes + c]);
                let score = |c: usize| match self {
                    Readoff::Max => (0..steps).map(|t| at(t, c)).max().unwrap_or(0),
                    Readoff::Sum { first } => (first..steps).map(|t| at(t, c)).sum(),
                    Readoff::Last => steps.checked_sub(1).map_or(0, |t| at(t, c)),
                };
                first_argmax((0..classes).map(score))
            })
            .collect()
    }
}

/// The index of the first largest value (0 when empty).
fn first_argmax(values: impl Iterator<Item = i64>) -> usize {
    let mut best: Option<(usize, i64)> = None;
    for (i, v) in values.enumerate() {
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_loss_reads_its_scores_and_ties_go_to_the_first_class() {
        // steps 3, batch 1, classes 3.
        let y = [5, 0, 5, /* t1 */ 0, 4, 0, /* t2 */ 0, 3, 1];
        assert_eq!(Readoff::Max.predictions(&y, 3, 1, 3), [0]);
        assert_eq!(Readoff::Sum { first: 0 }.predictions(&y, 3, 1, 3), [1]);
        assert_eq!(Readoff::Sum { first: 1 }.predictions(&y, 3, 1, 3), [1]);
        assert_eq!(Readoff::Last.predictions(&y, 3, 1, 3), [1]);
        assert_eq!(Readoff::Sum { first: 2 }.predictions(&y, 3, 1, 3), [1]);
        let kind = LossKind::LastStepsCe { steps: 2 };
        assert_eq!(Readoff::of(kind, 3), Some(Readoff::Sum { first: 1 }));
        assert_eq!(Readoff::of(LossKind::Mse, 3), None);
    }
}
