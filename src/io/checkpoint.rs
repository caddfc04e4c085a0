//! Checkpoints: named f32 and int8 tensors plus string metadata, in the `safetensors` format.

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

/// One named int8 tensor of a checkpoint (quantized weights, see [`crate::quant`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredInt8 {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<i8>,
}

/// Named f32 and int8 tensors and string metadata. A name is in at most one of the two maps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// f32 tensors by name.
    pub tensors: BTreeMap<String, StoredTensor>,
    /// int8 tensors by name.
    pub int8: BTreeMap<String, StoredInt8>,
    /// Free-form metadata (epoch, step, ...).
    pub metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Adds (or replaces) an f32 tensor.
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) {
        let name = name.into();
        self.int8.remove(&name);
        self.tensors.insert(name, StoredTensor { shape, data });
    }

    /// Adds (or replaces) an int8 tensor.
    pub fn insert_int8(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Vec<i8>) {
        let name = name.into();
        self.tensors.remove(&name);
        self.int8.insert(name, StoredInt8 { shape, data });
    }

    /// The int8 tensor `name` with the expected number of elements.
    pub fn get_int8(&self, path: &Path, name: &str, len: usize) -> Result<&[i8], CheckpointError> {
        let t = self.int8.get(name).ok_or_else(|| CheckpointError::Tensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            reason: "is missing (as int8)".into(),
        })?;
        if t.data.len() != len {
            return Err(CheckpointError::Tensor {
                path: path.to_path_buf(),
                name: name.to_string(),
                reason: format!("has {} values, expected {len}", t.data.len()),
            });
        }
        Ok(&t.data)
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
        let f32s = self.tensors.iter().map(|(name, t)| {
            let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), Dtype::F32, raw, t.shape.clone())
        });
        let int8s = self.int8.iter().map(|(name, t)| {
            let raw = t.data.iter().map(|v| v.to_le_bytes()[0]).collect();
            (name.clone(), Dtype::I8, raw, t.shape.clone())
        });
        let bytes: Vec<(String, Dtype, Vec<u8>, Vec<usize>)> = f32s.chain(int8s).collect();
        let views = bytes.iter().map(|(name, dtype, raw, shape)| {
            let view = TensorView::new(*dtype, shape.clone(), raw).expect("sizes match");
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
        let mut ckpt = Self {
            metadata,
            ..Self::default()
        };
        for (name, view) in st.tensors() {
            let shape = view.shape().to_vec();
            match view.dtype() {
                Dtype::F32 => {
                    let data = view
                        .data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    ckpt.tensors.insert(name, StoredTensor { shape, data });
                }
                Dtype::I8 => {
                    let data = view
                        .data()
                        .iter()
                        .map(|&b| i8::from_le_bytes([b]))
                        .collect();
                    ckpt.int8.insert(name, StoredInt8 { shape, data });
                }
                other => {
                    return Err(CheckpointError::Tensor {
                        path: path.to_path_buf(),
                        name,
                        reason: format!("has dtype {other:?}, expected F32 or I8"),
                    })
                }
            }
        }
        Ok(ckpt)
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
        c.insert_int8("q", vec![2, 2], vec![-127, 0, 5, 127]);
        c.metadata.insert("epoch".into(), "4".into());
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), c);
    }

    #[test]
    fn other_dtypes_are_errors_naming_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f64.safetensors");
        let raw: Vec<u8> = 1.5f64.to_le_bytes().to_vec();
        let view = TensorView::new(Dtype::F64, vec![1], &raw).unwrap();
        let bytes = safetensors::serialize([("net.w", view)], None).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains("net.w") && e.contains("F64"), "{e}");
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
