//! Where a forward scan's tasks put each step's outputs: dense rows of the `[T, B, N]`
//! sequence, or event lists of binary spikes (no dense sequence at all).

use crate::events::{nonzero_ids, SpikeEvents};
use crate::real::Real;

/// One task's destination for the outputs of its block of samples, one step at a time.
pub(super) trait OutputSink<F>: Send {
    /// Takes the outputs of step `t` of the task's block (rows of `n`, in step order).
    fn emit(&mut self, outs: &[F]);
    /// The active ids of row `r` of the last step emitted, when the sink keeps ids (binary
    /// outputs: the recurrent product then gathers them without scanning the outputs again)
    /// and has emitted a step.
    fn last_active(&self, _r: usize) -> Option<&[u32]> {
        None
    }
}

/// A task's blocks of the dense output sequence: `blocks[t]` is its block of step `t`.
pub(super) struct DenseBlocks<'a, F> {
    pub(super) blocks: std::vec::IntoIter<&'a mut [F]>,
}

impl<F: Real> OutputSink<F> for DenseBlocks<'_, F> {
    fn emit(&mut self, outs: &[F]) {
        self.blocks
            .next()
            .expect("one output block per step")
            .copy_from_slice(outs);
    }
}

/// A task's spikes as event lists: per row (step-major, then the task's samples) the number
/// of active neurons, and their ids in order.
pub(super) struct EventRows {
    counts: Vec<u32>,
    /// The ids of every row emitted (`..used`), then room for one more row's candidates: each
    /// row's ids are found in place, so a row costs no copy (copying each row's few ids out
    /// of a scratch row was 1.7% of a one-thread `shd-rsnn` step, nearly all call overhead).
    ids: Vec<u32>,
    /// Ids in use at the front of `ids`.
    used: usize,
    /// Neurons per row.
    width: usize,
    /// Where each row of the last step emitted starts in `ids` (and where the last ends).
    last_step: Vec<usize>,
}

impl EventRows {
    /// An empty list for rows of `width` neurons.
    pub(super) fn new(width: usize) -> Self {
        Self {
            counts: Vec::new(),
            ids: Vec::new(),
            used: 0,
            width,
            last_step: Vec::new(),
        }
    }

    /// The ids of every row emitted, in order.
    fn emitted(&self) -> &[u32] {
        &self.ids[..self.used]
    }
}

impl<F: Real> OutputSink<F> for EventRows {
    fn emit(&mut self, outs: &[F]) {
        self.last_step.clear();
        self.last_step.push(self.used);
        for row in outs.chunks(self.width.max(1)) {
            let end = self.used + row.len();
            if self.ids.len() < end {
                // Doubling, so rows rarely wait for room.
                self.ids.resize(end.max(2 * self.ids.len()), 0);
            }
            let count = nonzero_ids(row, &mut self.ids[self.used..end]);
            self.used += count;
            self.counts.push(count as u32);
            self.last_step.push(self.used);
        }
    }

    fn last_active(&self, r: usize) -> Option<&[u32]> {
        let (start, end) = (*self.last_step.get(r)?, *self.last_step.get(r + 1)?);
        Some(&self.ids[start..end])
    }
}

/// The time-major events `[steps, batch, width]` of tasks that each ran a block of samples
/// through every step (`tasks` in sample order).
pub(super) fn assemble(
    steps: usize,
    batch: usize,
    width: usize,
    tasks: &[EventRows],
) -> SpikeEvents {
    let total: usize = tasks.iter().map(|t| t.used).sum();
    let mut offsets = Vec::with_capacity(steps * batch + 1);
    let mut ids = Vec::with_capacity(total);
    offsets.push(0u32);
    let mut cursors = vec![0usize; tasks.len()];
    for t in 0..steps {
        for (task, cursor) in tasks.iter().zip(&mut cursors) {
            let samples = task.counts.len() / steps.max(1);
            for &count in &task.counts[t * samples..(t + 1) * samples] {
                let count = count as usize;
                ids.extend_from_slice(&task.emitted()[*cursor..*cursor + count]);
                *cursor += count;
                offsets.push(ids.len() as u32);
            }
        }
    }
    SpikeEvents {
        steps,
        batch,
        width,
        offsets,
        ids,
    }
}
