//! One step of one integer neuron: the LIF and the leaky readout in `Q15.16` with `Q0.16`
//! decays (equations in the parent module).

use super::fixed::{round_shift, saturate, DECAY_BITS, DECAY_ONE, STATE_ONE};
use crate::neurons::ResetMode;

/// The membrane the leak starts from after the previous step's reset: `mem` without a
/// spike, or after a subtraction after the leak (see `after_leak`); else 0 (reset to zero) or
/// `mem − 2¹⁶` (by subtraction of `θ`, the state unit).
#[inline(always)]
pub fn reset(mode: ResetMode, mem: i32, fired: bool) -> i32 {
    match (fired, mode) {
        (false, _) | (true, ResetMode::SubtractAfterLeak) => mem,
        (true, ResetMode::Zero) => 0,
        (true, ResetMode::Subtract) => mem.saturating_sub(STATE_ONE),
    }
}

/// The new membrane `mem` less what the reset takes after the leak: `2¹⁶` when the neuron
/// fired in the previous step and subtracts after the leak.
#[inline(always)]
pub fn after_leak(mode: ResetMode, mem: i32, fired: bool) -> i32 {
    match (fired, mode) {
        (true, ResetMode::SubtractAfterLeak) => saturate(i64::from(mem) - i64::from(STATE_ONE)),
        _ => mem,
    }
}

/// One step of a current-based LIF neuron (or of a leaky readout unit): from the previous
/// `syn` and membrane after its reset `kept` (see `reset`), with input `x` in state units,
/// returns the new `(syn, mem)`:
///
/// ```text
/// syn' = sat(round_shift(α·syn, 16) + x)
/// mem' = sat(round_shift(β·kept + (2¹⁶ − β)·syn', 16))
/// ```
#[inline(always)]
pub fn step(alpha: i32, beta: i32, syn: i32, kept: i32, x: i64) -> (i32, i32) {
    let syn = saturate(round_shift(i64::from(alpha) * i64::from(syn), DECAY_BITS) + x);
    let kept = i64::from(kept);
    let drive = i64::from(DECAY_ONE - beta) * i64::from(syn);
    let mem = saturate(round_shift(i64::from(beta) * kept + drive, DECAY_BITS));
    (syn, mem)
}
