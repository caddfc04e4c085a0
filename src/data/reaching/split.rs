//! Segments (one per target), NeuroBench's train/valid/test split of them, and the windows
//! that become samples.

use std::ops::Range;

/// The step ranges of NeuroBench's segments: a new segment starts at every step `i` whose
/// target differs from the next step's (`get_flag_index`: `Σ|diff(target_pos)| ≠ 0`), so
/// segments are `[0, i₁), [i₁, i₂), …, [i_k, T)` (the step before a target change opens the
/// next segment; a change after step 0 gives an empty first segment, kept as NeuroBench
/// keeps it).
pub fn segments(target_pos: &[[f64; 2]]) -> Vec<Range<usize>> {
    let mut bounds = vec![0];
    bounds.extend(target_pos.windows(2).enumerate().filter_map(|(i, w)| {
        let change = (w[1][0] - w[0][0]).abs() + (w[1][1] - w[0][1]).abs();
        (change != 0.0).then_some(i)
    }));
    bounds.push(target_pos.len());
    bounds.windows(2).map(|b| b[0]..b[1]).collect()
}

/// The steps of each split: contiguous, in time order, together covering every segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepSplit {
    /// Training steps.
    pub train: Range<usize>,
    /// Validation steps.
    pub valid: Range<usize>,
    /// Test steps.
    pub test: Range<usize>,
}

/// NeuroBench's `split_data` with `split_num = 1`: of `n` segments, the first
/// `⌊train_ratio·n⌋` train, the next `⌊(n − train)/2⌋` validate and the rest test
/// (`train_ratio = 0.5`, NeuroBench's benchmark setting, gives 50 / 25 / 25 %).
pub fn neurobench_split(segments: &[Range<usize>], train_ratio: f64) -> StepSplit {
    let n = segments.len();
    let train_len = ((train_ratio * n as f64).floor().max(0.0) as usize).min(n);
    let valid_len = (n - train_len) / 2;
    let end_of = |count: usize| match count {
        0 => segments.first().map_or(0, |s| s.start),
        c => segments[c - 1].end,
    };
    let (a, b, c) = (end_of(0), end_of(train_len), end_of(train_len + valid_len));
    StepSplit {
        train: a..b,
        valid: b..c,
        test: c..end_of(n),
    }
}

/// The first steps of the windows of `len` steps inside `range`, one every `hop` steps
/// from its start; a tail shorter than a window is left out.
pub fn window_starts(range: &Range<usize>, len: usize, hop: usize) -> Vec<usize> {
    if len == 0 || hop == 0 {
        return Vec::new();
    }
    (range.start..)
        .step_by(hop)
        .take_while(|&s| s.checked_add(len).is_some_and(|e| e <= range.end))
        .collect()
}
