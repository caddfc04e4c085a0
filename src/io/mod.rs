//! Files: atomic writes, `safetensors` checkpoints and a small HDF5 reader/writer.
//!
//! Nothing in the numerical core depends on this module.

mod atomic;
mod checkpoint;

pub use atomic::{write_atomic, write_atomic_str, write_atomic_with};
pub use checkpoint::{Checkpoint, CheckpointError, StoredInt8, StoredTensor};
/// The HDF5 reader and writer (the `spikegrad-hdf5` crate).
pub use spikegrad_hdf5 as hdf5;
