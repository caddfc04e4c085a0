//! The straightforward reference of the integer arithmetic (tests only): scalar loops over
//! samples, steps and neurons, dense sums over every input in `i64`, rounding written as a
//! Euclidean division. [`IntegerNetwork::forward`] must reproduce it bit for bit.

use super::layer::IntegerWeights;
use super::IntegerNetwork;
use crate::neurons::ResetMode;

/// `round(v / 2ⁿ)`, ties toward `+∞`, as `⌊(v + 2ⁿ⁻¹) / 2ⁿ⌋`.
fn round_div(v: i64, n: u32) -> i64 {
    let d = 1i64 << n;
    (v + d / 2).div_euclid(d)
}

fn clamp_state(v: i64) -> i64 {
    v.clamp(-(i32::MAX as i64), i32::MAX as i64)
}

/// `Σ_i x[i] · q[i, j]`, requantised.
fn drive(w: &IntegerWeights, x: &[i64], j: usize) -> i64 {
    let mut acc = 0i64;
    for (i, &xi) in x.iter().enumerate() {
        acc += xi * w.values[i * w.cols + j] as i64;
    }
    round_div(acc * w.requant.multiplier as i64, w.requant.shift)
}

/// One decay step: `(syn', mem')` from the previous state, the previous spike, the reset
/// mode (`None`: a readout, never reset) and the input.
fn update(
    (alpha, beta): (i64, i64),
    (syn, mem): (i64, i64),
    (fired, mode): (bool, Option<ResetMode>),
    x: i64,
) -> (i64, i64) {
    let syn = clamp_state(round_div(alpha * syn, 16) + x);
    let (prev, after) = match (fired, mode) {
        (true, Some(ResetMode::Zero)) => (0, 0),
        (true, Some(ResetMode::Subtract)) => (mem - 65536, 0),
        (true, Some(ResetMode::SubtractAfterLeak)) => (mem, 65536),
        _ => (mem, 0),
    };
    let mem = clamp_state(clamp_state(round_div(beta * prev + (65536 - beta) * syn, 16)) - after);
    (syn, mem)
}

/// Runs `net` on dense 0/1 input `[steps][batch][inputs]`; returns the spikes of every hidden
/// layer `[steps][batch][n]` flattened, and the output `[steps][batch][outputs]` flattened.
pub(super) fn run(net: &IntegerNetwork, x: &[Vec<Vec<u8>>]) -> (Vec<Vec<u8>>, Vec<i32>) {
    let steps = x.len();
    let batch = x.first().map_or(0, Vec::len);
    let mut hidden_out = Vec::new();
    let mut signal: Vec<Vec<Vec<i64>>> = x
        .iter()
        .map(|s| {
            s.iter()
                .map(|r| r.iter().map(|&v| v as i64).collect())
                .collect()
        })
        .collect();
    for layer in net.hidden() {
        let n = layer.size();
        let mut spikes = vec![vec![vec![0i64; n]; batch]; steps];
        for b in 0..batch {
            let mut syn = vec![0i64; n];
            let mut mem = vec![0i64; n];
            let mut prev = vec![0i64; n];
            for t in 0..steps {
                for j in 0..n {
                    let mut input = drive(&layer.w_in, &signal[t][b], j);
                    if let Some(w_rec) = &layer.w_rec {
                        input += drive(w_rec, &prev, j);
                    }
                    let decays = (layer.decays.alpha[j] as i64, layer.decays.beta[j] as i64);
                    let reset = (prev[j] == 1, Some(layer.reset));
                    (syn[j], mem[j]) = update(decays, (syn[j], mem[j]), reset, input);
                }
                for j in 0..n {
                    prev[j] = i64::from(mem[j] > 65536);
                    spikes[t][b][j] = prev[j];
                }
            }
        }
        hidden_out.push(
            spikes
                .iter()
                .flatten()
                .flatten()
                .map(|&s| s as u8)
                .collect::<Vec<u8>>(),
        );
        signal = spikes;
    }
    let output: Vec<i32> = match net.readout() {
        None => signal
            .iter()
            .flatten()
            .flatten()
            .map(|&s| (s * 65536) as i32)
            .collect(),
        Some(readout) => {
            let n = readout.size();
            let mut out = vec![vec![vec![0i32; n]; batch]; steps];
            for b in 0..batch {
                let mut syn = vec![0i64; n];
                let mut mem = vec![0i64; n];
                for t in 0..steps {
                    for j in 0..n {
                        let input = drive(&readout.w, &signal[t][b], j);
                        let decays = (
                            readout.decays.alpha[j] as i64,
                            readout.decays.beta[j] as i64,
                        );
                        let state = (syn[j], mem[j]);
                        (syn[j], mem[j]) = update(decays, state, (false, None), input);
                        out[t][b][j] = mem[j] as i32;
                    }
                }
            }
            out.into_iter().flatten().flatten().collect()
        }
    };
    (hidden_out, output)
}
