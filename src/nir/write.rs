//! Writing a [`NirGraph`] in the layout `nir.read` loads (with its type checking on).

use super::graph::{Array, MetaValue, Metadata, NirGraph, NodeKind, Padding2d};
use super::NirError;
use crate::io::hdf5::{DatasetData, Datatype, Hdf5Error, Hdf5Writer};
use crate::io::write_atomic_with;
use std::path::Path;

/// The `nir` package version whose file layout is written.
pub const NIR_VERSION: &str = "1.0.8";

/// Writes `graph` to `path` atomically (a temporary file renamed over it).
///
/// Arrays are stored as float32 when every value is exactly a float32 (all that export
/// produces), else as float64; shapes of Input and Output nodes as int64.
pub fn write_nir(path: &Path, graph: &NirGraph) -> Result<(), NirError> {
    let hdf5 = |source: Hdf5Error| NirError::Hdf5 {
        path: path.to_path_buf(),
        source,
    };
    graph.check_edges()?;
    let mut w = Hdf5Writer::new();
    w.add("/version", scalar_string(NIR_VERSION))
        .map_err(hdf5)?;
    add_graph(&mut w, "/node", graph).map_err(hdf5)?;
    write_atomic_with(path, |file| {
        w.write_to(file)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|e| hdf5(Hdf5Error::Io(e)))
}

fn add_graph(w: &mut Hdf5Writer, at: &str, graph: &NirGraph) -> Result<(), Hdf5Error> {
    w.add(&format!("{at}/type"), scalar_string("NIRGraph"))?;
    let strings = graph
        .edges
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let edges = DatasetData::StringArray {
        shape: vec![graph.edges.len() as u64, 2],
        strings,
    };
    w.add(&format!("{at}/edges"), edges)?;
    add_metadata(w, &format!("{at}/metadata"), &graph.metadata)?;
    for (name, node) in &graph.nodes {
        if name.is_empty() || name.contains('/') || name == "." {
            return Err(Hdf5Error::WrongType(format!(
                "node name {name:?} cannot be an HDF5 group name"
            )));
        }
        let at = format!("{at}/nodes/{name}");
        add_metadata(w, &format!("{at}/metadata"), &node.metadata)?;
        let mut put = |key: &str, a: &Array| w.add(&format!("{at}/{key}"), floats(a));
        match &node.kind {
            NodeKind::Graph(inner) => {
                add_graph(w, &at, inner)?;
                continue;
            }
            NodeKind::Input { shape } | NodeKind::Output { shape } => {
                w.add(&format!("{at}/shape"), int64s(shape))?;
            }
            NodeKind::Affine { weight, bias } => {
                put("weight", weight)?;
                put("bias", bias)?;
            }
            NodeKind::Linear { weight } => put("weight", weight)?,
            NodeKind::Scale { scale } => put("scale", scale)?,
            NodeKind::Threshold { threshold } => put("threshold", threshold)?,
            NodeKind::Flatten { start_dim, end_dim } => {
                for (key, v) in [("start_dim", start_dim), ("end_dim", end_dim)] {
                    w.add(&format!("{at}/{key}"), int64_scalar(*v))?;
                }
            }
            NodeKind::Conv1d(c) => {
                put("weight", &c.weight)?;
                put("bias", &c.bias)?;
                let counts = [
                    ("stride", Some(c.stride)),
                    ("padding", Some(c.padding)),
                    ("dilation", Some(c.dilation)),
                    ("groups", Some(c.groups)),
                    ("input_shape", c.input_length),
                ];
                for (key, v) in counts.into_iter().filter_map(|(k, v)| Some((k, v?))) {
                    w.add(&format!("{at}/{key}"), int64_scalar(v as i64))?;
                }
            }
            NodeKind::Conv2d(c) => {
                put("weight", &c.weight)?;
                put("bias", &c.bias)?;
                let padding = match c.padding {
                    Padding2d::Zeros(p) => int64s(&p),
                    Padding2d::Same => scalar_string("same"),
                };
                w.add(&format!("{at}/padding"), padding)?;
                let pairs = [
                    ("stride", Some(c.stride)),
                    ("dilation", Some(c.dilation)),
                    ("input_shape", c.input_shape),
                ];
                for (key, v) in pairs.into_iter().filter_map(|(k, v)| Some((k, v?))) {
                    w.add(&format!("{at}/{key}"), int64s(&v))?;
                }
                w.add(&format!("{at}/groups"), int64_scalar(c.groups as i64))?;
            }
            NodeKind::Pool2d(p) => {
                let pairs = [
                    ("kernel_size", p.kernel),
                    ("stride", p.stride),
                    ("padding", p.padding),
                ];
                for (key, v) in pairs {
                    w.add(&format!("{at}/{key}"), int64s(&v))?;
                }
            }
            NodeKind::Integrator { r } => put("r", r)?,
            NodeKind::Delay { delay } => put("delay", delay)?,
            NodeKind::IntegrateFire(n) => {
                put("r", &n.r)?;
                put("v_threshold", &n.v_threshold)?;
                if let Some(v) = &n.v_reset {
                    put("v_reset", v)?;
                }
            }
            NodeKind::Leaky(l) => {
                let cuba = l.tau_syn_s.is_some();
                if let Some(t) = &l.tau_syn_s {
                    put("tau_syn", t)?;
                }
                put(if cuba { "tau_mem" } else { "tau" }, &l.tau_mem_s)?;
                put("r", &l.r)?;
                put("v_leak", &l.v_leak)?;
                let optional = [
                    ("w_in", &l.w_in),
                    ("v_threshold", &l.v_threshold),
                    ("v_reset", &l.v_reset),
                ];
                for (key, a) in optional {
                    if let Some(a) = a {
                        put(key, a)?;
                    }
                }
            }
        }
        w.add(&format!("{at}/type"), scalar_string(node.kind.type_name()))?;
    }
    Ok(())
}

fn add_metadata(w: &mut Hdf5Writer, at: &str, metadata: &Metadata) -> Result<(), Hdf5Error> {
    for (key, value) in metadata {
        let data = match value {
            MetaValue::Text(s) => scalar_string(s),
            MetaValue::Number(v) => DatasetData::Array {
                dtype: Datatype::float(8),
                shape: Vec::new(),
                bytes: v.to_le_bytes().to_vec(),
            },
        };
        w.add(&format!("{at}/{key}"), data)?;
    }
    Ok(())
}

fn scalar_string(s: &str) -> DatasetData {
    DatasetData::StringArray {
        shape: Vec::new(),
        strings: vec![s.to_string()],
    }
}

fn floats(a: &Array) -> DatasetData {
    let single = a.data.iter().all(|&v| f64::from(v as f32) == v);
    let bytes = if single {
        a.data
            .iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect()
    } else {
        a.data.iter().flat_map(|v| v.to_le_bytes()).collect()
    };
    DatasetData::Array {
        dtype: Datatype::float(if single { 4 } else { 8 }),
        shape: a.shape.iter().map(|&d| d as u64).collect(),
        bytes,
    }
}

fn int64s(values: &[usize]) -> DatasetData {
    int64_array(vec![values.len() as u64], values.iter().map(|&v| v as i64))
}

/// A scalar `int64` dataset (NIR's integer parameters).
fn int64_scalar(v: i64) -> DatasetData {
    int64_array(Vec::new(), std::iter::once(v))
}

/// An `int64` dataset of `shape`.
fn int64_array(shape: Vec<u64>, values: impl Iterator<Item = i64>) -> DatasetData {
    DatasetData::Array {
        dtype: Datatype::Int {
            size: 8,
            signed: true,
            order: crate::io::hdf5::ByteOrder::Little,
        },
        shape,
        bytes: values.flat_map(i64::to_le_bytes).collect(),
    }
}
