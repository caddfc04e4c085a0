//! Input delay lines: input unit `i` of a layer reaches its projection `d_i` steps late
//! (NIR's `Delay` node before a projection; axonal delays).
//!
//! ```text
//! x̃[t, b, i] = x[t − d_i, b, i]            (0 for t < d_i)
//! ∂L/∂x[t, b, i] = ∂L/∂x̃[t + d_i, b, i]     (0 for t + d_i ≥ T)
//! ```
//!
//! The delayed input is what the layer's projection, its weight gradient and a max pooling
//! see; the gradient it hands back to the previous layer is advanced by the same delays. The
//! delays act within one sequence: what a delay pushes past the last step is dropped.

use super::{Input, OwnedInput};
use crate::events::SpikeEvents;
use crate::real::Real;
use crate::tensor::Seq;

/// `x` with input unit `i` delayed by `steps[i]`.
///
/// # Panics
/// If `steps` does not have one entry per input unit.
pub fn delay_input<F: Real>(input: Input<'_, F>, steps: &[usize]) -> OwnedInput<F> {
    let (t_len, batch, width) = input.shape();
    assert_eq!(steps.len(), width, "one delay per input unit");
    match input {
        Input::Events(e) => {
            // (row, id) of every spike that arrives within the sequence.
            let mut pairs = Vec::with_capacity(e.ids.len());
            for r in 0..t_len * batch {
                let (t, b) = (r / batch, r % batch);
                for &i in e.row(r) {
                    let to = t + steps[i as usize];
                    if to < t_len {
                        pairs.push(((to * batch + b) as u32, i));
                    }
                }
            }
            OwnedInput::Events(SpikeEvents::from_pairs(t_len, batch, width, &pairs))
        }
        Input::Dense { x, sparse } => {
            let mut out = Seq::zeros(t_len, batch, width);
            shift(&x.data, &mut out.data, steps, batch, Direction::Later);
            OwnedInput::Dense(out, sparse)
        }
    }
}

/// The gradient of the undelayed input from that of the delayed one (`g[t + d_i]`).
///
/// # Panics
/// If `steps` does not have one entry per unit of `g`.
pub fn advance_grad<F: Real>(g: &Seq<F>, steps: &[usize]) -> Seq<F> {
    assert_eq!(steps.len(), g.width, "one delay per input unit");
    let mut out = Seq::zeros(g.steps, g.batch, g.width);
    shift(&g.data, &mut out.data, steps, g.batch, Direction::Earlier);
    out
}

/// Which way values move in time.
#[derive(Clone, Copy)]
enum Direction {
    Later,
    Earlier,
}

/// Copies `src` `[T, B, N]` into `dst`, column `i` moved by `steps[i]`.
fn shift<F: Real>(src: &[F], dst: &mut [F], steps: &[usize], batch: usize, way: Direction) {
    let width = steps.len();
    let t_len = src.len() / (batch * width).max(1);
    for (i, &d) in steps.iter().enumerate() {
        for t in d..t_len {
            let (from, to) = match way {
                Direction::Later => (t - d, t),
                Direction::Earlier => (t, t - d),
            };
            for b in 0..batch {
                dst[(to * batch + b) * width + i] = src[(from * batch + b) * width + i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn events_and_dense_inputs_are_delayed_alike_and_the_gradient_is_the_adjoint() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let events = SpikeEvents::bernoulli(9, 3, 5, 0.4, &mut rng);
        let steps = [0, 2, 1, 9, 4];
        let dense: Seq<f64> = events.to_dense();
        let OwnedInput::Events(e) = delay_input::<f64>(Input::Events(&events), &steps) else {
            panic!("events stay events")
        };
        let x = Input::Dense {
            x: &dense,
            sparse: true,
        };
        let OwnedInput::Dense(d, true) = delay_input(x, &steps) else {
            panic!("dense stays dense")
        };
        assert_eq!(e.to_dense::<f64>().data, d.data);
        // By hand: unit 1 at step 5 is unit 1 at step 3; unit 3 (delay 9) never arrives.
        let at = |s: &Seq<f64>, t: usize, b: usize, i: usize| s.data[(t * 3 + b) * 5 + i];
        assert_eq!(at(&d, 5, 2, 1), at(&dense, 3, 2, 1));
        assert!((0..9).all(|t| at(&d, t, 0, 3) == 0.0));
        // ⟨delay(x), g⟩ = ⟨x, advance(g)⟩.
        let mut g = Seq::zeros(9, 3, 5);
        g.data
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-1.0..1.0));
        let lhs: f64 = d.data.iter().zip(&g.data).map(|(a, b)| a * b).sum();
        let back = advance_grad(&g, &steps);
        let rhs: f64 = dense.data.iter().zip(&back.data).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
    }
}
