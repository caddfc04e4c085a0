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
    ids: Vec<u32>,
    /// One row's candidate ids (`width` slots).
    row_ids: Vec<u32>,
    /// Where each row of the last step emitted starts in `ids` (and where the last ends).
    last_step: Vec<usize>,
}

impl EventRows {
    /// An empty list for rows of `width` neurons.
    pub(super) fn new(width: usize) -> Self {
        Self {
            counts: Vec::new(),
            ids: Vec::new(),
            row_ids: vec![0; width],
            last_step: Vec::new(),
        }
    }
}

impl<F: Real> OutputSink<F> for EventRows {
    fn emit(&mut self, outs: &[F]) {
        self.last_step.clear();
        self.last_step.push(self.ids.len());
        for row in outs.chunks(self.row_ids.len().max(1)) {
            let count = nonzero_ids(row, &mut self.row_ids);
            self.ids.extend_from_slice(&self.row_ids[..count]);
            self.counts.push(count as u32);
            self.last_step.push(self.ids.len());
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
    let total: usize = tasks.iter().map(|t| t.ids.len()).sum();
    let mut offsets = Vec::with_capacity(steps * batch + 1);
    let mut ids = Vec::with_capacity(total);
    offsets.push(0u32);
    let mut cursors = vec![0usize; tasks.len()];
    for t in 0..steps {
        for (task, cursor) in tasks.iter().zip(&mut cursors) {
            let samples = task.counts.len() / steps.max(1);
            for &count in &task.counts[t * samples..(t + 1) * samples] {
                let count = count as usize;
                ids.extend_from_slice(&task.ids[*cursor..*cursor + count]);
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
