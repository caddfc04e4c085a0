//! One step of one integer neuron: the LIF and the leaky readout in `Q15.16` with `Q0.16`
//! decays (equations in the parent module).

use super::fixed::{round_shift, saturate, DECAY_BITS, DECAY_ONE};

/// One step of a current-based LIF neuron (or, with `fired = false` always, of a leaky readout
/// unit): from the previous `syn`, `mem` and spike `fired`, with input `x` in state units,
/// returns the new `(syn, mem)`:
///
/// ```text
/// syn' = sat(round_shift(α·syn, 16) + x)
/// mem' = sat(round_shift(β·(fired ? 0 : mem) + (2¹⁶ − β)·syn', 16))
/// ```
#[inline(always)]
pub fn step(alpha: i32, beta: i32, syn: i32, mem: i32, fired: bool, x: i64) -> (i32, i32) {
    let syn = saturate(round_shift(i64::from(alpha) * i64::from(syn), DECAY_BITS) + x);
    let kept = if fired { 0 } else { i64::from(mem) };
    let drive = i64::from(DECAY_ONE - beta) * i64::from(syn);
    let mem = saturate(round_shift(i64::from(beta) * kept + drive, DECAY_BITS));
    (syn, mem)
}
