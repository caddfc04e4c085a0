//! NeuroBench's preprocessing of a recording: 4 ms bins of spikes (units OR-ed per
//! channel) aligned to the cursor samples, and the cursor velocity.

use super::mat::MatSession;
use crate::data::DataError;

/// Width of one time bin (and the recordings' cursor sampling interval), in seconds.
pub const BIN_S: f64 = 0.004;

/// A recording binned into steps of [`BIN_S`]: what the samples are cut from.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Number of input channels.
    pub channels: usize,
    /// Per step, the channels with at least one spike in that step's bin, ascending.
    pub active: Vec<Vec<u32>>,
    /// Per step, the cursor velocity (x, y) in position units per step (mm per 4 ms for the
    /// real recordings).
    pub velocity: Vec<[f32; 2]>,
    /// Per step, the target position; segments end where it changes.
    pub target_pos: Vec<[f64; 2]>,
}

impl Session {
    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.active.len()
    }
}

/// Bins `mat` as NeuroBench's `PrimateReaching` does with `bin_width = stride = 0.004`.
///
/// Edges are NumPy's `arange(t[0] − 0.004, t[T−1], 0.004)`, computed the same way
/// (`e₀ = start`, `e₁ = start + 0.004`, `e_k = start + k·(e₁ − start)`, `ceil((t[T−1] −
/// start)/0.004)` edges), so that spikes on edges land in the same bins. A spike in histogram
/// bin `k` (`e_k ≤ s < e_{k+1}`, the last bin closed on the right) marks step `k + 1` (its
/// `idx + 1`): step `i` holds the spikes of `[t[i] − 8 ms, t[i] − 4 ms)` for evenly sampled
/// `t`, and step 0 none. Several spikes of one unit in a bin, and spikes of several units of
/// a channel, count once (0/1 per channel and step). The velocity is
/// `torch.gradient(cursor_pos)`: central differences inside, one-sided at both ends.
///
/// Errors if `t` is not increasing or not sampled every 4 ms (within 1 % on average).
pub fn bin_session(mat: &MatSession) -> Result<Session, DataError> {
    let steps = mat.t_s.len();
    let invalid = DataError::Reaching;
    if steps < 2 || mat.cursor_pos.len() != steps || mat.target_pos.len() != steps {
        return Err(invalid(format!(
            "{steps} times, {} cursor and {} target positions: they must be equal and at least 2",
            mat.cursor_pos.len(),
            mat.target_pos.len()
        )));
    }
    if mat.channels() == 0 || u32::try_from(mat.channels()).is_err() {
        return Err(invalid(format!("{} channels", mat.channels())));
    }
    let (first, last) = (mat.t_s[0], mat.t_s[steps - 1]);
    let mean_interval = (last - first) / (steps - 1) as f64;
    let off_by = (mean_interval - BIN_S).abs();
    if off_by.is_nan() || off_by > 0.01 * BIN_S {
        return Err(invalid(format!(
            "t is sampled every {:.4} ms on average; the preprocessing needs 4 ms",
            mean_interval * 1e3
        )));
    }
    let edges = Edges::new(first - BIN_S, last);
    let mut marked = vec![false; steps * mat.channels()];
    for (channel, units) in mat.spikes.iter().enumerate() {
        for &time in units.iter().flatten() {
            if let Some(step) = edges.bin(time).map(|k| k + 1).filter(|&s| s < steps as u64) {
                marked[step as usize * mat.channels() + channel] = true;
            }
        }
    }
    let active = marked
        .chunks(mat.channels())
        .map(|row| (0..row.len() as u32).filter(|&c| row[c as usize]).collect())
        .collect();
    Ok(Session {
        channels: mat.channels(),
        active,
        velocity: velocity(&mat.cursor_pos),
        target_pos: mat.target_pos.clone(),
    })
}

/// Per step, the derivative of `pos` in units per step (`torch.gradient` with unit spacing).
pub fn velocity(pos: &[[f64; 2]]) -> Vec<[f32; 2]> {
    let n = pos.len();
    (0..n)
        .map(|i| {
            let d = |a: usize, b: usize, half: bool| {
                let scale = if half { 2.0 } else { 1.0 };
                [
                    ((pos[a][0] - pos[b][0]) / scale) as f32,
                    ((pos[a][1] - pos[b][1]) / scale) as f32,
                ]
            };
            match i {
                _ if n < 2 => [0.0, 0.0],
                0 => d(1, 0, false),
                _ if i == n - 1 => d(n - 1, n - 2, false),
                _ => d(i + 1, i - 1, true),
            }
        })
        .collect()
}

/// The bin edges of `numpy.arange(start, stop, BIN_S)`, evaluated as NumPy does.
struct Edges {
    start: f64,
    second: f64,
    delta: f64,
    /// Number of edges.
    len: u64,
}

impl Edges {
    fn new(start: f64, stop: f64) -> Self {
        let len = ((stop - start) / BIN_S).ceil();
        let second = start + BIN_S;
        Self {
            start,
            second,
            delta: second - start,
            len: if len.is_finite() && len > 0.0 {
                len.min(u64::MAX as f64 / 2.0) as u64
            } else {
                0
            },
        }
    }

    fn edge(&self, k: u64) -> f64 {
        match k {
            0 => self.start,
            1 => self.second,
            _ => self.start + k as f64 * self.delta,
        }
    }

    /// The histogram bin of `time` (`numpy.histogram` with these edges), if any.
    fn bin(&self, time: f64) -> Option<u64> {
        if self.len < 2 || !time.is_finite() {
            return None;
        }
        let bins = self.len - 1;
        let last = self.edge(self.len - 1);
        if time < self.start || time > last {
            return None;
        }
        if time == last {
            return Some(bins - 1);
        }
        let guess = ((time - self.start) / self.delta).floor();
        let mut k = if guess > 0.0 {
            (guess as u64).min(bins - 1)
        } else {
            0
        };
        while k > 0 && time < self.edge(k) {
            k -= 1;
        }
        while k + 1 < bins && time >= self.edge(k + 1) {
            k += 1;
        }
        Some(k)
    }
}
