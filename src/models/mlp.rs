//! Multi-layer perceptrons: the dense (non-spiking) model family.
//!
//! Layer `l` computes `z_l = a_{l−1} W_l + b_l`, `a_l = φ_l(z_l)` with `a_0 = x`; the output
//! layer is affine (`φ = identity`), its values the logits or regression outputs. Weights are
//! `[inputs, outputs]` matrices, so a batch is a product `A · W` like the spiking layers'.
//! Outputs are returned as a one-step sequence `[1, B, C]`, so every loss of
//! [`crate::losses`] applies unchanged (the cross-entropy kinds all reduce to plain
//! cross-entropy over one step).
//!
//! The backward pass is written by hand: `δ_L = ∂L/∂y`, `δ_l = (δ_{l+1} W_{l+1}ᵀ) ⊙ φ_l'(z_l)`,
//! `∂L/∂W_l = a_{l−1}ᵀ δ_l`, `∂L/∂b_l = Σ_batch δ_l`; the tests check it against finite
//! differences in f64.

use super::Activation;
use crate::error::{check_count, ConfigError};
use crate::linalg::{dense_forward, dense_grad_weight, grad_input};
use crate::network::{Gradients, NamedTensor};
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One hidden layer of an MLP config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenseLayerSpec {
    /// Number of units.
    pub size: usize,
    /// The non-linearity.
    pub activation: Activation,
}

impl Default for DenseLayerSpec {
    fn default() -> Self {
        Self {
            size: 256,
            activation: Activation::Relu,
        }
    }
}

/// How an MLP's weights are drawn (biases start at zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenseInit {
    /// `U(±√(6 / (fan_in + fan_out)))` (Glorot & Bengio 2010; Keras' default, which the
    /// synaptic-intelligence code used).
    #[default]
    GlorotUniform,
    /// `N(0, 2 / fan_in)` (He et al. 2015), for ReLU networks.
    KaimingNormal,
}

/// How a layer's stored weights enter its product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenseWeights {
    /// The stored values themselves.
    #[default]
    Real,
    /// Binarized (Hubara et al. 2016; Laborieux et al. 2021): the stored values are hidden
    /// weights `W_h` and the product uses `sign(W_h) / √fan_in` (`+1` at 0). The fixed scale
    /// keeps pre-activations of order one where the binarized networks of the literature use
    /// batch normalisation. The gradient passes straight through to `W_h`:
    /// `∂L/∂W_h = ∂L/∂W_b / √fan_in`.
    Binary,
}

/// The architecture of an MLP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpSpec {
    /// Input features (0 in a config: taken from the data).
    pub inputs: usize,
    /// Hidden layers, input side first.
    pub hidden: Vec<DenseLayerSpec>,
    /// Output units (0 in a config: the data's classes or regression outputs).
    pub outputs: usize,
    /// Whether every layer has a bias.
    pub bias: bool,
    /// The weight initialisation.
    pub init: DenseInit,
    /// Real or binarized weights (every layer, the output layer included).
    pub weights: DenseWeights,
}

impl Default for MlpSpec {
    fn default() -> Self {
        Self {
            inputs: 0,
            hidden: vec![DenseLayerSpec::default(); 2],
            outputs: 0,
            bias: true,
            init: DenseInit::GlorotUniform,
            weights: DenseWeights::Real,
        }
    }
}

impl MlpSpec {
    /// Checks every field; errors name it (`network.hidden[0].size`, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_count("network.inputs", self.inputs)?;
        check_count("network.outputs", self.outputs)?;
        for (i, layer) in self.hidden.iter().enumerate() {
            check_count(&format!("network.hidden[{i}].size"), layer.size)?;
        }
        Ok(())
    }

    /// Layer widths from the input to the output.
    fn widths(&self) -> Vec<usize> {
        let mut widths = vec![self.inputs];
        widths.extend(self.hidden.iter().map(|l| l.size));
        widths.push(self.outputs);
        widths
    }
}

/// One affine layer and its non-linearity.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLayer<F: Real> {
    /// Weights `[inputs, outputs]`.
    pub w: Matrix<F>,
    /// Biases `[outputs]` (absent without `bias`).
    pub b: Option<Vec<F>>,
    /// The non-linearity.
    pub activation: Activation,
}

/// A multi-layer perceptron; the last layer is the (affine) output layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<F: Real> {
    /// The architecture.
    pub spec: MlpSpec,
    /// Hidden layers, then the output layer.
    pub layers: Vec<DenseLayer<F>>,
}

/// What the backward pass needs of a forward pass: every layer's input and pre-activation.
#[derive(Clone, Debug)]
pub struct MlpTrace<F: Real> {
    /// `a_{l−1}` of every layer `l` (the first is the network input), `[1, B, n_in]`.
    pub inputs: Vec<Seq<F>>,
    /// `z_l` of every layer, `[1, B, n_out]`.
    pub pre: Vec<Seq<F>>,
    /// The network output `a_L = z_L`, `[1, B, outputs]`.
    pub output: Seq<F>,
}

impl<F: Real> MlpTrace<F> {
    /// The activations of hidden layer `k`, `[1, B, size]`.
    pub fn hidden(&self, k: usize) -> &Seq<F> {
        &self.inputs[k + 1]
    }
}

impl<F: Real> Mlp<F> {
    /// A network of `spec` (sizes resolved) with weights drawn by `spec.init`.
    pub fn new<R: Rng>(spec: &MlpSpec, rng: &mut R) -> Result<Self, ConfigError> {
        spec.validate()?;
        let widths = spec.widths();
        let last = widths.len() - 2;
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(l, pair)| {
                let activation = if l == last {
                    Activation::Identity
                } else {
                    spec.hidden[l].activation
                };
                DenseLayer {
                    w: init_weights(spec.init, pair[0], pair[1], rng),
                    b: spec.bias.then(|| vec![F::zero(); pair[1]]),
                    activation,
                }
            })
            .collect();
        Ok(Self {
            spec: spec.clone(),
            layers,
        })
    }

    /// The forward pass of a batch `x` `[1, B, inputs]` (the first step of a longer input).
    pub fn forward(&self, x: &Seq<F>) -> MlpTrace<F> {
        let mut a = x.steps_range(0, 1);
        let (mut inputs, mut pre) = (Vec::new(), Vec::new());
        for layer in &self.layers {
            let mut z = Seq::zeros(1, a.batch, layer.w.cols);
            if let Some(b) = &layer.b {
                for row in z.data.chunks_exact_mut(b.len()) {
                    row.copy_from_slice(b);
                }
            }
            dense_forward(&a, &self.effective_weights(layer), &mut z);
            let mut next = z.clone();
            next.data
                .iter_mut()
                .for_each(|v| *v = layer.activation.apply(*v));
            inputs.push(std::mem::replace(&mut a, next));
            pre.push(z);
        }
        MlpTrace {
            inputs,
            pre,
            output: a,
        }
    }

    /// The gradients of every tensor (in [`Self::tensors`] order) given `∂L/∂y` `[1, B, C]`.
    pub fn backward(&self, trace: &MlpTrace<F>, grad_output: &Seq<F>) -> Gradients<F> {
        let mut grads: Vec<Vec<Vec<F>>> = Vec::with_capacity(self.layers.len());
        let mut delta = grad_output.clone();
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (z, out) = (&trace.pre[l], trace_output(trace, l));
            for ((d, &zv), &av) in delta.data.iter_mut().zip(&z.data).zip(&out.data) {
                *d *= layer.activation.derivative(zv, av);
            }
            let mut dw = Matrix::zeros(layer.w.rows, layer.w.cols);
            dense_grad_weight(&trace.inputs[l], &delta, &mut dw);
            if self.spec.weights == DenseWeights::Binary {
                let scale = binary_scale::<F>(layer.w.rows);
                dw.data.iter_mut().for_each(|g| *g *= scale);
            }
            let mut layer_grads = vec![dw.data];
            if layer.b.is_some() {
                let mut db = vec![F::zero(); layer.w.cols];
                for row in delta.data.chunks_exact(layer.w.cols) {
                    db.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
                }
                layer_grads.push(db);
            }
            grads.push(layer_grads);
            if l > 0 {
                delta = grad_input(&delta, &self.effective_weights(layer));
            }
        }
        grads.into_iter().rev().flatten().collect()
    }

    /// Every tensor, in a fixed order: `hidden.{k}.w`, `hidden.{k}.b`, …, `output.w`,
    /// `output.b`; all learnable.
    pub fn tensors(&self) -> Vec<NamedTensor<'_, F>> {
        let mut all = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let prefix = self.layer_name(l);
            all.push(NamedTensor {
                name: format!("{prefix}.w"),
                shape: vec![layer.w.rows, layer.w.cols],
                data: &layer.w.data,
                learnable: true,
            });
            if let Some(b) = &layer.b {
                all.push(NamedTensor {
                    name: format!("{prefix}.b"),
                    shape: vec![b.len()],
                    data: b,
                    learnable: true,
                });
            }
        }
        all
    }

    /// Mutable views of every tensor, in [`Self::tensors`] order.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<F>> {
        let mut all = Vec::new();
        for layer in &mut self.layers {
            all.push(&mut layer.w.data);
            if let Some(b) = &mut layer.b {
                all.push(b);
            }
        }
        all
    }

    /// Clips every weight (not the biases) into `[−bound, bound]`.
    pub fn bound_weights(&mut self, bound: F) {
        for layer in &mut self.layers {
            layer
                .w
                .data
                .iter_mut()
                .for_each(|w| *w = w.max(-bound).min(bound));
        }
    }

    /// The same network in another precision.
    pub fn cast<G: Real>(&self) -> Mlp<G> {
        let layers = self
            .layers
            .iter()
            .map(|l| DenseLayer {
                w: l.w.cast(),
                b: l.b
                    .as_ref()
                    .map(|b| b.iter().map(|v| G::from_f64(v.as_f64())).collect()),
                activation: l.activation,
            })
            .collect();
        Mlp {
            spec: self.spec.clone(),
            layers,
        }
    }

    /// The weights a layer's product uses: the stored ones, or their binarized values.
    pub fn effective_weights<'a>(&self, layer: &'a DenseLayer<F>) -> Cow<'a, Matrix<F>> {
        match self.spec.weights {
            DenseWeights::Real => Cow::Borrowed(&layer.w),
            DenseWeights::Binary => {
                let scale = binary_scale::<F>(layer.w.rows);
                let mut w = layer.w.clone();
                w.data.iter_mut().for_each(|v| {
                    *v = if *v >= F::zero() { scale } else { -scale };
                });
                Cow::Owned(w)
            }
        }
    }

    fn layer_name(&self, l: usize) -> String {
        if l + 1 == self.layers.len() {
            "output".to_string()
        } else {
            format!("hidden.{l}")
        }
    }
}

/// The magnitude `1/√fan_in` of a binarized weight.
fn binary_scale<F: Real>(fan_in: usize) -> F {
    F::from_f64(1.0 / (fan_in as f64).sqrt())
}

/// `a_l`: the next layer's input, or the network output for the last layer.
fn trace_output<F: Real>(trace: &MlpTrace<F>, l: usize) -> &Seq<F> {
    trace.inputs.get(l + 1).unwrap_or(&trace.output)
}

fn init_weights<F: Real, R: Rng>(
    init: DenseInit,
    rows: usize,
    cols: usize,
    rng: &mut R,
) -> Matrix<F> {
    let data: Vec<F> = match init {
        DenseInit::GlorotUniform => {
            let limit = (6.0 / (rows + cols) as f64).sqrt();
            let dist = Uniform::new_inclusive(-limit, limit).expect("a finite positive limit");
            (0..rows * cols)
                .map(|_| F::from_f64(dist.sample(rng)))
                .collect()
        }
        DenseInit::KaimingNormal => {
            let std = (2.0 / rows as f64).sqrt();
            let dist = Normal::new(0.0, std).expect("a finite positive deviation");
            (0..rows * cols)
                .map(|_| F::from_f64(dist.sample(rng)))
                .collect()
        }
    };
    Matrix::from_vec(rows, cols, data).expect("rows × cols values")
}

#[cfg(test)]
mod tests;
