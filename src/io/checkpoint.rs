//! Checkpoints: named f32 tensors plus string metadata, in the `safetensors` format.

use super::write_atomic;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A checkpoint that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file.
    #[error("checkpoint {path} is corrupt or not a safetensors file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A tensor is missing or has the wrong type or shape.
    #[error("checkpoint {path}: tensor `{name}` {reason}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// One named tensor of a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// Named f32 tensors and string metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Tensors by name.
    pub tensors: BTreeMap<String, StoredTensor>,
    /// Free-form metadata (epoch, step, ...).
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Adds a tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        self.tensors
            .insert(name.into(), StoredTensor { shape, data });
    }

    /// The tensor `name` with the expected number of elements.
    pub fn get(&self, path: &Path, name: &str, len: usize) -> Result<&[f32], CheckpointError> {
        let err = |reason: String| CheckpointError::Tensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            reason,
        };
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| err("is missing".into()))?;
        if t.data.len() != len {
            return Err(err(format!("has {} values, expected {len}", t.data.len())));
        }
        Ok(&t.data)
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name.clone(), raw, t.shape.clone())
            })
            .collect();
        let views = bytes.iter().map(|(name, raw, shape)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), raw).expect("sizes match");
            (name.clone(), view)
        });
        let meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        let data =
            safetensors::serialize(views, Some(meta)).map_err(|e| CheckpointError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        write_atomic(path, &data).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a checkpoint written by [`Self::save`].
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let metadata = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(CheckpointError::Tensor {
                    path: path.to_path_buf(),
                    name,
                    reason: format!("has dtype {:?}, expected F32", view.dtype()),
                });
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(
                name,
                StoredTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(Self { tensors, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let mut c = Checkpoint::default();
        c.insert(
            "a",
            vec![2, 3],
            vec![1.0, -2.5, 3.25, f32::MIN_POSITIVE, 0.0, 7.0],
        );
        c.insert("b.m", vec![1], vec![0.1]);
        c.metadata.insert("epoch".into(), "4".into());
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), c);
    }

    #[test]
    fn corrupt_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        assert!(matches!(
            Checkpoint::load(&path),
            Err(CheckpointError::Io { .. })
        ));
        std::fs::write(&path, b"not a checkpoint at all").unwrap();
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{err}");
        let mut c = Checkpoint::default();
        c.insert("w", vec![4], vec![0.0; 4]);
        c.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(Checkpoint::load(&path).is_err());
        let loaded = {
            c.save(&path).unwrap();
            Checkpoint::load(&path).unwrap()
        };
        let e = loaded.get(&path, "w", 5).unwrap_err().to_string();
        assert!(e.contains("has 4 values, expected 5"), "{e}");
        assert!(loaded
            .get(&path, "v", 4)
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }
}
