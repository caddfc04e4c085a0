//! The integer network over a dataset as an [`InferenceRecord`] (what `spikegrad run`
//! writes): hidden spikes, and the output as real values `v / 2¹⁶`.

use super::{IntegerError, IntegerNetwork};
use crate::data::EventDataset;
use crate::inference::InferenceRecord;

/// Runs `net` over every sample of `data`, `steps` steps each, `batch_size` samples at a time.
pub fn infer(
    net: &IntegerNetwork,
    data: &EventDataset,
    steps: usize,
    batch_size: usize,
) -> Result<InferenceRecord, IntegerError> {
    let n = data.len();
    let outputs = net.outputs();
    let mut rec = InferenceRecord {
        steps,
        samples: n,
        dt_s: net.dt_s(),
        hidden: net
            .hidden()
            .iter()
            .map(|l| (l.size(), vec![0; steps * n * l.size()]))
            .collect(),
        outputs,
        readout: vec![0.0; steps * n * outputs],
    };
    let indices: Vec<usize> = (0..n).collect();
    let batch_size = batch_size.max(1);
    for (chunk_no, chunk) in indices.chunks(batch_size).enumerate() {
        let first = chunk_no * batch_size;
        let batch = data.bin(chunk, net.dt_s(), steps)?;
        let trace = net.forward(&batch.spikes)?;
        let real = trace.output_real();
        for t in 0..steps {
            for b in 0..chunk.len() {
                let (src, dst) = (t * chunk.len() + b, t * n + first + b);
                for ((size, all), (_, one)) in rec.hidden.iter_mut().zip(&trace.hidden) {
                    all[dst * *size..(dst + 1) * *size]
                        .copy_from_slice(&one[src * *size..(src + 1) * *size]);
                }
                rec.readout[dst * outputs..(dst + 1) * outputs]
                    .copy_from_slice(&real.data[src * outputs..(src + 1) * outputs]);
            }
        }
    }
    Ok(rec)
}
