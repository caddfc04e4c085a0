//! Reading `.nir` files (the layout of `nir.write`) into a [`NirGraph`].

use super::graph::{
    Array, Conv1d, Conv2d, IfNeurons, Leaky, MetaValue, Metadata, NirGraph, Node, NodeKind,
    Padding2d, Pool2d, PoolKind,
};
use super::NirError;
use crate::io::hdf5::{Datatype, Hdf5Error, Hdf5Reader};
use std::path::Path;

/// The node types this crate maps, for error messages.
const SUPPORTED: &str = "Input, Output, Affine, Linear, Scale, Flatten, Conv1d, Conv2d, \
                         SumPool2d, AvgPool2d, Threshold, IF, I, LIF, CubaLIF, LI, CubaLI, NIRGraph";

/// Reads the NIR graph in `path`.
///
/// Errors name the file and, for a bad node, the node: not HDF5, no `/node` graph, an
/// unknown or unsupported node type, a missing parameter, parameters of different lengths,
/// a weight that is not a matrix, a non-finite value, edges that are not `(E, 2)` strings or
/// that name missing nodes.
pub fn read_nir(path: &Path) -> Result<NirGraph, NirError> {
    let hdf5 = |source: Hdf5Error| NirError::Hdf5 {
        path: path.to_path_buf(),
        source,
    };
    let reader = Hdf5Reader::open(path).map_err(hdf5)?;
    let not_nir = |reason: String| NirError::NotNir {
        path: path.to_path_buf(),
        reason,
    };
    if !reader.exists("/node/type").map_err(hdf5)? {
        return Err(not_nir("it has no /node/type".into()));
    }
    let file = File { reader, path };
    let kind = file.string("/node/type", "graph")?;
    if kind != "NIRGraph" {
        return Err(not_nir(format!("/node/type is {kind:?}, not \"NIRGraph\"")));
    }
    file.graph("/node", "").map_err(|e| match e {
        e @ (NirError::Hdf5 { .. } | NirError::NotNir { .. }) => e,
        e => NirError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        },
    })
}

/// An open file and its path (for error messages).
struct File<'a> {
    reader: Hdf5Reader,
    path: &'a Path,
}

impl File<'_> {
    fn hdf5(&self, source: Hdf5Error) -> NirError {
        NirError::Hdf5 {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// The graph whose group is `at`; `prefix` names nested graphs in errors.
    fn graph(&self, at: &str, prefix: &str) -> Result<NirGraph, NirError> {
        let mut graph = NirGraph::default();
        let nodes_at = format!("{at}/nodes");
        let names = if self.reader.exists(&nodes_at).map_err(|e| self.hdf5(e))? {
            self.reader.members(&nodes_at).map_err(|e| self.hdf5(e))?
        } else {
            Vec::new()
        };
        for name in names {
            let display = format!("{prefix}{name}");
            let node = self.node(&format!("{nodes_at}/{name}"), &display)?;
            graph.nodes.insert(name, node);
        }
        graph.edges = self.edges(&format!("{at}/edges"), prefix)?;
        graph.metadata = self.metadata(&format!("{at}/metadata"), prefix)?;
        graph.check_edges().map_err(|e| match (e, prefix) {
            (NirError::Graph(m), p) if !p.is_empty() => {
                NirError::Graph(format!("in nested graph {}: {m}", p.trim_end_matches('.')))
            }
            (e, _) => e,
        })?;
        Ok(graph)
    }

    fn node(&self, at: &str, name: &str) -> Result<Node, NirError> {
        let kind_name = self.string(&format!("{at}/type"), name)?;
        let p = NodeParams {
            file: self,
            at,
            name,
        };
        let kind = match kind_name.as_str() {
            "Input" => NodeKind::Input {
                shape: p.shape("shape")?,
            },
            "Output" => NodeKind::Output {
                shape: p.shape("shape")?,
            },
            "Affine" => {
                let weight = p.matrix("weight")?;
                let bias = p.array("bias")?;
                if bias.shape != [weight.shape[0]] {
                    return Err(NirError::node(
                        name,
                        format!(
                            "bias has shape {:?}, the weight {:?} needs [{}]",
                            bias.shape, weight.shape, weight.shape[0]
                        ),
                    ));
                }
                NodeKind::Affine { weight, bias }
            }
            "Linear" => NodeKind::Linear {
                weight: p.matrix("weight")?,
            },
            "Scale" => NodeKind::Scale {
                scale: p.vector("scale")?,
            },
            "Threshold" => NodeKind::Threshold {
                threshold: p.array("threshold")?,
            },
            "Flatten" => NodeKind::Flatten {
                start_dim: p.integer("start_dim")?,
                end_dim: p.integer("end_dim")?,
            },
            "Conv1d" => NodeKind::Conv1d(Box::new(p.conv1d()?)),
            "Conv2d" => NodeKind::Conv2d(Box::new(p.conv2d()?)),
            "SumPool2d" => NodeKind::Pool2d(p.pool2d(PoolKind::Sum)?),
            "AvgPool2d" => NodeKind::Pool2d(p.pool2d(PoolKind::Avg)?),
            "LIF" | "CubaLIF" | "LI" | "CubaLI" => NodeKind::Leaky(Box::new(p.leaky(&kind_name)?)),
            "IF" => NodeKind::IntegrateFire(Box::new(p.integrate_fire()?)),
            "I" => NodeKind::Integrator { r: p.array("r")? },
            "Delay" => NodeKind::Delay {
                delay: p.array("delay")?,
            },
            "NIRGraph" => NodeKind::Graph(Box::new(self.graph(at, &format!("{name}."))?)),
            other => {
                return Err(NirError::node(
                    name,
                    format!("unknown node type {other:?} (supported: {SUPPORTED})"),
                ));
            }
        };
        let metadata = self.metadata(&format!("{at}/metadata"), name)?;
        Ok(Node { kind, metadata })
    }

    /// A scalar (or one-element) string dataset.
    fn string(&self, at: &str, owner: &str) -> Result<String, NirError> {
        let ds = self.reader.dataset(at).map_err(|e| self.hdf5(e))?;
        let strings = self
            .reader
            .read_all_strings(&ds)
            .map_err(|e| NirError::node(owner, format!("{at}: {e}")))?;
        match <[String; 1]>::try_from(strings) {
            Ok([s]) => Ok(s),
            Err(v) => Err(NirError::node(
                owner,
                format!("{at} holds {} strings, expected one", v.len()),
            )),
        }
    }

    fn edges(&self, at: &str, prefix: &str) -> Result<Vec<(String, String)>, NirError> {
        let owner = if prefix.is_empty() {
            "graph".to_string()
        } else {
            prefix.trim_end_matches('.').to_string()
        };
        if !self.reader.exists(at).map_err(|e| self.hdf5(e))? {
            return Err(NirError::node(&owner, format!("{at} is missing")));
        }
        let ds = self.reader.dataset(at).map_err(|e| self.hdf5(e))?;
        if ds.shape.iter().product::<u64>() == 0 {
            return Ok(Vec::new());
        }
        if ds.shape.len() != 2 || ds.shape[1] != 2 {
            return Err(NirError::node(
                &owner,
                format!("{at} has shape {:?}, expected (E, 2)", ds.shape),
            ));
        }
        let names = self
            .reader
            .read_all_strings(&ds)
            .map_err(|e| NirError::node(&owner, e.to_string()))?;
        Ok(names
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect())
    }

    fn metadata(&self, at: &str, owner: &str) -> Result<Metadata, NirError> {
        let mut out = Metadata::new();
        if !self.reader.exists(at).map_err(|e| self.hdf5(e))? {
            return Ok(out);
        }
        for key in self.reader.members(at).map_err(|e| self.hdf5(e))? {
            let path = format!("{at}/{key}");
            let Ok(ds) = self.reader.dataset(&path) else {
                continue; // nested groups carry nothing this crate reads
            };
            let value = match ds.dtype {
                Datatype::VlenString | Datatype::FixedString { .. } => {
                    MetaValue::Text(self.string(&path, owner)?)
                }
                Datatype::Int { .. } | Datatype::Float { .. } if ds.shape.is_empty() => {
                    let v = self.reader.read_all_f64s(&ds);
                    MetaValue::Number(v.map_err(|e| NirError::node(owner, e.to_string()))?[0])
                }
                _ => continue, // arrays and other types: kept by nir, not needed here
            };
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// Reads the parameters of one node.
struct NodeParams<'a> {
    file: &'a File<'a>,
    at: &'a str,
    name: &'a str,
}

impl NodeParams<'_> {
    fn optional(&self, key: &str) -> Result<Option<Array>, NirError> {
        let path = format!("{}/{key}", self.at);
        let reader = &self.file.reader;
        if !reader.exists(&path).map_err(|e| self.file.hdf5(e))? {
            return Ok(None);
        }
        let err = |e: Hdf5Error| NirError::node(self.name, format!("{key}: {e}"));
        let ds = reader.dataset(&path).map_err(err)?;
        let data = reader.read_all_f64s(&ds).map_err(err)?;
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(NirError::node(
                self.name,
                format!("{key}[{i}] is {}", data[i]),
            ));
        }
        let shape = ds.shape.iter().map(|&d| d as usize).collect();
        Ok(Some(Array { shape, data }))
    }

    fn array(&self, key: &str) -> Result<Array, NirError> {
        self.optional(key)?
            .ok_or_else(|| NirError::node(self.name, format!("parameter {key} is missing")))
    }

    fn matrix(&self, key: &str) -> Result<Array, NirError> {
        let a = self.array(key)?;
        if a.shape.len() != 2 {
            return Err(NirError::node(
                self.name,
                format!("{key} has shape {:?}, expected a matrix [out, in]", a.shape),
            ));
        }
        Ok(a)
    }

    fn vector(&self, key: &str) -> Result<Array, NirError> {
        let a = self.array(key)?;
        if a.shape.len() != 1 {
            return Err(NirError::node(
                self.name,
                format!("{key} has shape {:?}, expected a vector", a.shape),
            ));
        }
        Ok(a)
    }

    /// A scalar integer (stored as any number type).
    fn integer(&self, key: &str) -> Result<i64, NirError> {
        let a = self.array(key)?;
        match a.data[..] {
            [v] if v.fract() == 0.0 => Ok(v as i64),
            _ => Err(NirError::node(
                self.name,
                format!("{key} holds {:?}, expected one integer", a.data),
            )),
        }
    }

    /// Parameter `key` read by `read`, or `None` when the node does not have it.
    fn if_present<T>(
        &self,
        key: &str,
        read: impl Fn(&Self, &str) -> Result<T, NirError>,
    ) -> Result<Option<T>, NirError> {
        let path = format!("{}/{key}", self.at);
        match self
            .file
            .reader
            .exists(&path)
            .map_err(|e| self.file.hdf5(e))?
        {
            true => read(self, key).map(Some),
            false => Ok(None),
        }
    }

    /// A non-negative integer parameter.
    fn count(&self, key: &str) -> Result<usize, NirError> {
        let v = self.integer(key)?;
        usize::try_from(v).map_err(|_| NirError::node(self.name, format!("{key} is {v}")))
    }

    /// A `Conv1d` node (integer padding; without `input_shape` the input's length comes from
    /// what feeds it, at import).
    fn conv1d(&self) -> Result<Conv1d, NirError> {
        let conv = Conv1d {
            weight: self.array("weight")?,
            bias: self.array("bias")?,
            stride: self.count("stride")?,
            padding: self.count("padding")?,
            dilation: self.count("dilation")?,
            groups: self.count("groups")?,
            input_length: self.if_present("input_shape", Self::count)?,
        };
        if conv.input_length.is_some() {
            conv.spec().map_err(|e| NirError::node(self.name, e))?;
        }
        Ok(conv)
    }

    /// A `Conv2d` node (without `input_shape` the input's height and width come from what
    /// feeds it, at import).
    fn conv2d(&self) -> Result<Conv2d, NirError> {
        let conv = Conv2d {
            weight: self.array("weight")?,
            bias: self.array("bias")?,
            stride: self.pair("stride")?,
            padding: self.padding2d()?,
            dilation: self.pair("dilation")?,
            groups: self.count("groups")?,
            input_shape: self.if_present("input_shape", Self::pair)?,
        };
        conv.validate().map_err(|e| NirError::node(self.name, e))?;
        Ok(conv)
    }

    /// A `SumPool2d` or `AvgPool2d` node.
    fn pool2d(&self, kind: PoolKind) -> Result<Pool2d, NirError> {
        Ok(Pool2d {
            kind,
            kernel: self.pair("kernel_size")?,
            stride: self.pair("stride")?,
            padding: self.pair("padding")?,
        })
    }

    /// A `(y, x)` pair of counts, stored as two integers or one for both.
    fn pair(&self, key: &str) -> Result<[usize; 2], NirError> {
        match self.shape(key)?[..] {
            [v] => Ok([v, v]),
            [y, x] => Ok([y, x]),
            ref other => Err(NirError::node(
                self.name,
                format!("{key} holds {other:?}, expected one or two integers"),
            )),
        }
    }

    /// A 2-D padding: `"same"`, `"valid"`, or one or two integers.
    fn padding2d(&self) -> Result<Padding2d, NirError> {
        let path = format!("{}/padding", self.at);
        let reader = &self.file.reader;
        let ds = reader
            .dataset(&path)
            .map_err(|e| NirError::node(self.name, format!("padding: {e}")))?;
        if !matches!(
            ds.dtype,
            Datatype::VlenString | Datatype::FixedString { .. }
        ) {
            return Ok(Padding2d::Zeros(self.pair("padding")?));
        }
        match self.file.string(&path, self.name)?.as_str() {
            "same" => Ok(Padding2d::Same),
            "valid" => Ok(Padding2d::Zeros([0, 0])),
            other => Err(NirError::node(
                self.name,
                format!("padding {other:?} (expected \"same\", \"valid\" or integers)"),
            )),
        }
    }

    fn shape(&self, key: &str) -> Result<Vec<usize>, NirError> {
        let a = self.array(key)?;
        a.data
            .iter()
            .map(|&d| {
                (d >= 0.0 && d.fract() == 0.0)
                    .then_some(d as usize)
                    .ok_or_else(|| NirError::node(self.name, format!("{key} holds {d}")))
            })
            .collect()
    }

    /// An `IF` node; every parameter one value per neuron.
    fn integrate_fire(&self) -> Result<IfNeurons, NirError> {
        let node = IfNeurons {
            r: self.array("r")?,
            v_threshold: self.array("v_threshold")?,
            v_reset: self.optional("v_reset")?,
        };
        let others = [
            ("v_threshold", Some(&node.v_threshold)),
            ("v_reset", node.v_reset.as_ref()),
        ];
        self.same_shapes(("r", &node.r), &others)?;
        Ok(node)
    }

    /// A `LIF`, `CubaLIF`, `LI` or `CubaLI` node; every parameter one value per neuron.
    fn leaky(&self, kind: &str) -> Result<Leaky, NirError> {
        let cuba = kind.starts_with("Cuba");
        let spiking = kind.ends_with('F');
        let leaky = Leaky {
            tau_syn_s: cuba.then(|| self.array("tau_syn")).transpose()?,
            tau_mem_s: self.array(if cuba { "tau_mem" } else { "tau" })?,
            r: self.array("r")?,
            v_leak: self.array("v_leak")?,
            w_in: if cuba { self.optional("w_in")? } else { None },
            v_threshold: spiking.then(|| self.array("v_threshold")).transpose()?,
            v_reset: if spiking {
                self.optional("v_reset")?
            } else {
                None
            },
        };
        let params = [
            ("tau_syn", leaky.tau_syn_s.as_ref()),
            ("r", Some(&leaky.r)),
            ("v_leak", Some(&leaky.v_leak)),
            ("w_in", leaky.w_in.as_ref()),
            ("v_threshold", leaky.v_threshold.as_ref()),
            ("v_reset", leaky.v_reset.as_ref()),
        ];
        self.same_shapes(("the time constants", &leaky.tau_mem_s), &params)?;
        Ok(leaky)
    }

    /// An error unless every given parameter has the shape of `reference`'s array (named
    /// `reference.0` in the message).
    fn same_shapes(
        &self,
        (what, reference): (&str, &Array),
        params: &[(&str, Option<&Array>)],
    ) -> Result<(), NirError> {
        let shape = &reference.shape;
        match params
            .iter()
            .find_map(|(key, a)| a.filter(|a| &a.shape != shape).map(|a| (key, a)))
        {
            None => Ok(()),
            Some((key, a)) => Err(NirError::node(
                self.name,
                format!(
                    "shape mismatch: {key} has shape {:?}, {what} {shape:?}",
                    a.shape
                ),
            )),
        }
    }
}
