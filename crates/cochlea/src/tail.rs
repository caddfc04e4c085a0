//! The negligible high-frequency tail of a channel's transfer function.
//!
//! Above its resonance a place of the membrane cannot follow the pressure wave: the wave
//! becomes evanescent before it arrives, and `|v(ω, x)|` falls off steeply and
//! monotonically with `ω` (by the factor `e^{−Im(G(x) − G(0))}`). Apical channels therefore
//! spend most of their bins on values many orders of magnitude below their peak. For a
//! channel whose resonance lies inside the frequency grid, [`find`] locates by bisection
//! the first bin `k_t` above the resonance bin `k_r` with `|v_k| < ε |v(k_r)|`
//! ([`RELATIVE`] `= ε`); by the monotone decay, every bin from `k_t` on is below the bound
//! `b = ε |v(k_r)|` (which is at most `ε` times the channel's peak). The tail is then
//! skipped (left zero).
//!
//! Whether that is negligible depends on the signal: the velocity changes by at most
//! `b Σ_{k≥k_t} |X_k| / M` at any time (the inverse DFT is normalised by `1/M`), so after
//! filtering, [`Tail::is_negligible`] compares this bound — tightened to a staircase by the
//! values the bisection evaluated in the tail — with the channel's peak velocity,
//! and the caller evaluates the tail after all when it is not (a tone far above the channel,
//! for example). The monotone decay the bisection relies on is checked against full
//! evaluation over every bin in the tests.

/// `ε`: the tail starts where `|v|` falls below this fraction of its value at resonance.
pub const RELATIVE: f64 = 1e-12;
/// The skipped tail may change the velocity by at most this fraction of its peak.
pub const GUARD: f64 = 1e-11;

/// Where a channel's transfer function becomes negligible.
#[derive(Clone, Debug, PartialEq)]
pub struct Tail {
    /// First skipped bin (the number of bins when nothing is skipped).
    pub start: usize,
    /// Upper bound of `|v_k|` for `k ≥ start`.
    pub bound: f64,
    /// The bins evaluated during the search that lie in the tail, ascending from `start`,
    /// with their `|v|`: by the monotone decay, `|v_k| ≤ |v(h_i)|` for `h_i ≤ k < h_{i+1}`.
    pub steps: Vec<(usize, f64)>,
}

impl Tail {
    /// No tail skipped.
    pub fn none(bins: usize) -> Self {
        Self {
            start: bins,
            bound: 0.0,
            steps: Vec::new(),
        }
    }

    /// Whether skipping the tail changes a velocity with peak `peak` by at most [`GUARD`]
    /// of it, given `suffix[k] = Σ_{j≥k} |X_j|` of the input spectrum (length `M + 1`): the
    /// change is at most `Σ_i |v(h_i)| Σ_{h_i ≤ k < h_{i+1}} |X_k| / M` (the staircase of
    /// [`Self::steps`], with `h_n = M`).
    pub fn is_negligible(&self, suffix: &[f64], peak: f64) -> bool {
        let bins = suffix.len() - 1;
        let mut change = 0.0;
        for (i, &(bin, magnitude)) in self.steps.iter().enumerate() {
            let next = self.steps.get(i + 1).map_or(bins, |s| s.0);
            change += magnitude * (suffix[bin.min(bins)] - suffix[next.min(bins)]);
        }
        change / bins as f64 <= GUARD * peak
    }
}

/// The tail of a channel with `bins` bins whose resonance is at bin `resonance_bin`;
/// `magnitude(k)` is `|v_k|`. See the module documentation.
pub fn find(bins: usize, resonance_bin: usize, magnitude: impl Fn(usize) -> f64) -> Tail {
    if resonance_bin + 1 >= bins {
        return Tail::none(bins);
    }
    let bound = RELATIVE * magnitude(resonance_bin);
    let last = magnitude(bins - 1);
    if last >= bound {
        return Tail::none(bins);
    }
    let mut steps = vec![(bins - 1, last)];
    // Invariant: bin `lo` is not small, bin `hi` is.
    let (mut lo, mut hi) = (resonance_bin, bins - 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let value = magnitude(mid);
        if value < bound {
            hi = mid;
            steps.push((mid, value));
        } else {
            lo = mid;
        }
    }
    steps.reverse();
    Tail {
        start: hi,
        bound,
        steps,
    }
}

/// `suffix[k] = Σ_{j≥k} |X_j|` for `k = 0..=M` (`suffix[M] = 0`).
pub fn suffix_sums(spectrum: &[realfft::num_complex::Complex64]) -> Vec<f64> {
    let mut suffix = vec![0.0; spectrum.len() + 1];
    for k in (0..spectrum.len()).rev() {
        suffix[k] = suffix[k + 1] + spectrum[k].norm();
    }
    suffix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::basilar::BasilarMembrane;
    use crate::filter::RowSource;
    use realfft::num_complex::Complex64;

    /// The monotone decay the bisection assumes: evaluating every skipped bin of every
    /// channel, none exceeds the tail's bound, and the bound is at most `ε` of the peak.
    #[test]
    fn skipped_tails_stay_below_their_bound() {
        let membrane = BasilarMembrane::new(Default::default());
        for (rate, bins) in [(16_000, 4001), (22_050, 5513), (48_000, 12_001), (8000, 20)] {
            let rows = membrane.transfer_rows(bins, rate, 700);
            let mut row = vec![Complex64::new(0.0, 0.0); bins];
            let mut skipped = 0;
            for channel in 0..700 {
                let tail = rows.row(channel, &mut row);
                assert!(row[tail.start..].iter().all(|v| v.norm() == 0.0));
                rows.complete(channel, &mut row, tail.start);
                let peak = row.iter().fold(0.0f64, |m, v| m.max(v.norm()));
                let largest = row[tail.start..]
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.norm()));
                assert!(
                    largest <= tail.bound,
                    "{rate} Hz channel {channel}: {largest:e} > {:e}",
                    tail.bound
                );
                assert!(tail.bound <= RELATIVE * peak, "{rate} Hz channel {channel}");
                skipped += bins - tail.start;
            }
            let fraction = skipped as f64 / (700 * bins) as f64;
            println!(
                "{rate} Hz, {bins} bins: {:.1}% of the pairs skipped",
                100.0 * fraction
            );
        }
    }

    #[test]
    fn bisection_finds_the_first_small_bin_of_a_decaying_function() {
        // 1 up to bin 10, then decaying by 10× per bin: below 1e-12 from bin 23 on.
        let magnitude = |k: usize| {
            if k <= 10 {
                1.0
            } else {
                10f64.powi(-(k as i32 - 10))
            }
        };
        let tail = find(100, 5, magnitude);
        assert_eq!(tail.start, 23);
        assert_eq!(tail.bound, RELATIVE);
        // The staircase: ascending bins from the start, each with its own magnitude.
        assert_eq!(tail.steps.first().unwrap().0, 23);
        assert_eq!(tail.steps.last().unwrap().0, 99);
        assert!(tail.steps.windows(2).all(|w| w[0].0 < w[1].0));
        // (`powi` may round differently when inlined: compare to a few ulps.)
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b;
        assert!(tail.steps.iter().all(|&(k, m)| same(m, magnitude(k))));
        // Nothing to skip when the end is not small, or the resonance is the last bin.
        assert_eq!(find(100, 5, |_| 1.0), Tail::none(100));
        assert_eq!(find(100, 99, magnitude), Tail::none(100));
    }

    #[test]
    fn guard_sums_the_staircase_against_the_peak() {
        let suffix = [4.0, 3.0, 2.0, 1.0, 0.0]; // |X_k| = 1, M = 4
        let tail = Tail {
            start: 1,
            bound: 1e-3,
            steps: vec![(1, 1e-3), (3, 1e-5)],
        };
        // change ≤ (1e-3 · (3 − 1) + 1e-5 · 1) / 4 = 5.025e-4
        assert!(tail.is_negligible(&suffix, 5.03e-4 / GUARD));
        assert!(!tail.is_negligible(&suffix, 5.02e-4 / GUARD));
        assert!(Tail::none(4).is_negligible(&suffix, 0.0));
    }
}
