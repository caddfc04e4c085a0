//! Files: atomic writes and `safetensors` checkpoints.
//!
//! Nothing in the numerical core depends on this module.

mod atomic;
mod checkpoint;

pub use atomic::{write_atomic, write_atomic_str};
pub use checkpoint::{Checkpoint, CheckpointError, StoredTensor};
