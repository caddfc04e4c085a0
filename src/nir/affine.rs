//! The affine map `y = W x + b` of a path of stateless NIR nodes (`Affine`, `Linear`,
//! `Scale`, `Flatten`, `Conv1d`, `Conv2d`, `SumPool2d`, `AvgPool2d`) between two neuron nodes,
//! composed in `f64`, and the sum of parallel paths into one neuron node. A convolution
//! enters as its dense matrix (each kernel weight at every position it slides over) and its
//! bias repeated over positions, a pooling node as the matrix of its windows, so an imported
//! convolution computes exactly what the file says, as a dense projection. The map carries
//! the shape of its output, which a pooling node needs (NIR gives it no input shape).

use super::graph::{Array, Conv1d, NodeKind};
use super::maps2d::{dense_entries, DenseMap};
use super::NirError;

/// `y = W x + b` from `inputs` values to `outputs` values.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct AffineMap {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Output shape (its product is `outputs`).
    pub shape: Vec<usize>,
    /// `[outputs, inputs]` in NIR's layout; `None`: the identity.
    pub weight: Option<Array>,
    /// `[outputs]`; `None`: zero.
    pub bias: Option<Vec<f64>>,
}

impl AffineMap {
    /// The identity on values of `shape`.
    pub fn identity(shape: &[usize]) -> Self {
        let n = shape.iter().product();
        Self {
            inputs: n,
            outputs: n,
            shape: shape.to_vec(),
            weight: None,
            bias: None,
        }
    }

    /// This map followed by the stateless node `name` (`from` names the node before it, for
    /// errors); `Ok(None)` when `kind` is not a stateless map.
    pub fn then(&self, name: &str, kind: &NodeKind, from: &str) -> Result<Option<Self>, NirError> {
        let m = self.outputs;
        let dense;
        let in_node = |e: String| NirError::node(name, e);
        let (weight, bias, shape) = match kind {
            NodeKind::Affine { weight, bias } => (weight, Some(&bias.data), None),
            NodeKind::Conv1d(c) => {
                dense = conv_affine(name, &c.with_input(&self.shape).map_err(in_node)?)?;
                (&dense.weight, Some(&dense.bias), Some(&dense.shape))
            }
            NodeKind::Conv2d(c) => {
                let c = c.with_input(&self.shape).map_err(in_node)?;
                dense = c.dense().map_err(in_node)?;
                (&dense.weight, Some(&dense.bias), Some(&dense.shape))
            }
            NodeKind::Pool2d(p) => {
                dense = p.dense(&self.shape).map_err(in_node)?;
                (&dense.weight, None, Some(&dense.shape))
            }
            NodeKind::Linear { weight } => (weight, None, None),
            NodeKind::Scale { scale } => {
                check_width(name, scale.len(), m, from)?;
                return Ok(Some(self.scaled(&scale.data)));
            }
            NodeKind::Flatten { .. } => {
                return Ok(Some(Self {
                    shape: vec![m],
                    ..self.clone()
                }))
            }
            _ => return Ok(None),
        };
        check_width(name, weight.shape[1], m, from)?;
        let k = weight.shape[0];
        let composed = match &self.weight {
            None => weight.clone(),
            Some(w) => {
                let mut data = vec![0.0; k * self.inputs];
                for r in 0..k {
                    for c in 0..m {
                        let v = weight.data[r * m + c];
                        if v != 0.0 {
                            let row = &w.data[c * self.inputs..(c + 1) * self.inputs];
                            let out = &mut data[r * self.inputs..(r + 1) * self.inputs];
                            out.iter_mut().zip(row).for_each(|(o, &x)| *o += v * x);
                        }
                    }
                }
                Array::matrix(k, self.inputs, data)
            }
        };
        let mut b: Vec<f64> = bias.cloned().unwrap_or_else(|| vec![0.0; k]);
        if let Some(prev) = &self.bias {
            for (r, out) in b.iter_mut().enumerate() {
                *out += (0..m)
                    .map(|c| weight.data[r * m + c] * prev[c])
                    .sum::<f64>();
            }
        }
        Ok(Some(Self {
            inputs: self.inputs,
            outputs: k,
            shape: shape.cloned().unwrap_or_else(|| vec![k]),
            weight: Some(composed),
            bias: nonzero(b),
        }))
    }

    /// This map with output `r` multiplied by `s[r]`.
    fn scaled(&self, s: &[f64]) -> Self {
        let n = self.inputs;
        let weight = match &self.weight {
            None => {
                let mut data = vec![0.0; n * n];
                s.iter().enumerate().for_each(|(r, &v)| data[r * n + r] = v);
                Array::matrix(n, n, data)
            }
            Some(w) => {
                let mut w = w.clone();
                for (r, &v) in s.iter().enumerate() {
                    w.data[r * n..(r + 1) * n].iter_mut().for_each(|x| *x *= v);
                }
                w
            }
        };
        let bias = self
            .bias
            .as_ref()
            .and_then(|b| nonzero(b.iter().zip(s).map(|(b, s)| b * s).collect()));
        Self {
            inputs: n,
            outputs: self.outputs,
            shape: self.shape.clone(),
            weight: Some(weight),
            bias,
        }
    }

    /// The sum of maps with the same widths (branches merging into one node).
    pub fn sum(maps: &[AffineMap]) -> Option<Self> {
        let (first, rest) = maps.split_first()?;
        if rest.is_empty() {
            return Some(first.clone());
        }
        let (n, k) = (first.inputs, first.outputs);
        let mut weight = vec![0.0; k * n];
        let mut bias = vec![0.0; k];
        for m in maps {
            match &m.weight {
                None => (0..k).for_each(|r| weight[r * n + r] += 1.0),
                Some(w) => weight.iter_mut().zip(&w.data).for_each(|(a, b)| *a += b),
            }
            if let Some(b) = &m.bias {
                bias.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            }
        }
        Some(Self {
            inputs: n,
            outputs: k,
            shape: first.shape.clone(),
            weight: Some(Array::matrix(k, n, weight)),
            bias: nonzero(bias),
        })
    }
}

fn nonzero(b: Vec<f64>) -> Option<Vec<f64>> {
    b.iter().any(|&v| v != 0.0).then_some(b)
}

/// An error naming `node` when it takes `expected` values but `from` gives `got`.
pub(super) fn check_width(
    node: &str,
    expected: usize,
    got: usize,
    from: &str,
) -> Result<(), NirError> {
    if expected == got {
        return Ok(());
    }
    Err(NirError::node(
        node,
        format!("shape mismatch: it takes {expected} inputs, but node {from} gives {got}"),
    ))
}
/// A `Conv1d` node as `W [outputs, inputs]` (NIR's layout) and `b [outputs]`.
fn conv_affine(name: &str, c: &Conv1d) -> Result<DenseMap, NirError> {
    let spec = c.spec().map_err(|e| NirError::node(name, e))?;
    dense_entries(spec.outputs(), spec.inputs()).map_err(|e| NirError::node(name, e))?;
    let dense = spec.to_matrix::<f64>(&c.weight.data);
    let (inputs, outputs) = (dense.rows, dense.cols);
    let mut weight = vec![0.0; inputs * outputs];
    for i in 0..inputs {
        for o in 0..outputs {
            weight[o * inputs + i] = dense.data[i * outputs + o];
        }
    }
    let positions = spec.output().plane();
    let bias = c
        .bias
        .data
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, positions))
        .collect();
    Ok(DenseMap {
        weight: Array::matrix(outputs, inputs, weight),
        bias,
        shape: vec![spec.filters, positions],
    })
}
