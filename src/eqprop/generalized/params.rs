//! The network's widths and parameters (feed-forward and feedback matrices, biases, readout)
//! and their initialisation.

use crate::data::rng;
use crate::error::ConfigError;
use rand::RngCore;

/// Layer widths of the `mlp_2-256` architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Widths {
    /// Input pixels.
    pub input: usize,
    /// First hidden layer.
    pub hidden1: usize,
    /// Second hidden layer.
    pub hidden2: usize,
    /// Dynamic output neurons (read out by the readout).
    pub output: usize,
    /// Classes (the readout's width).
    pub classes: usize,
}

impl Widths {
    /// The paper's `mlp_2-256` for `input` pixels and `classes` classes (output neurons one
    /// per class).
    pub fn mlp_2_256(input: usize, classes: usize) -> Self {
        Self {
            input,
            hidden1: 256,
            hidden2: 256,
            output: classes,
            classes,
        }
    }

    /// Dynamic neurons `n = hidden1 + hidden2 + output` (the side of `J`).
    pub fn dynamic(&self) -> usize {
        self.hidden1 + self.hidden2 + self.output
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let all = [
            self.input,
            self.hidden1,
            self.hidden2,
            self.output,
            self.classes,
        ];
        match all.contains(&0) {
            true => Err(ConfigError::new("widths", "every width must be ≥ 1")),
            false => Ok(()),
        }
    }
}

/// How the feedback matrices start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedbackInit {
    /// The transposed feed-forward matrices (a symmetric `J`; the paper's angle 0°).
    Transposed,
    /// Drawn independently (the paper's Fig. 4a–d, angle 90°).
    Independent,
}

/// The parameters: feed-forward and feedback matrices stored `[pre, post]`, biases on the
/// feed-forward paths only (as the paper's `dense_nobias` feedback). Also used for gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct GepParams {
    /// The widths.
    pub widths: Widths,
    /// Input → l1, `[input, hidden1]`.
    pub in_l1: Vec<f64>,
    /// Bias of l1, `[hidden1]`.
    pub l1_bias: Vec<f64>,
    /// l1 → l2 (feed-forward), `[hidden1, hidden2]`.
    pub l1_l2: Vec<f64>,
    /// Bias of l2, `[hidden2]`.
    pub l2_bias: Vec<f64>,
    /// l2 → l1 (feedback), `[hidden2, hidden1]`.
    pub l2_l1: Vec<f64>,
    /// l2 → out (feed-forward), `[hidden2, output]`.
    pub l2_out: Vec<f64>,
    /// Bias of out, `[output]`.
    pub out_bias: Vec<f64>,
    /// out → l2 (feedback), `[output, hidden2]`.
    pub out_l2: Vec<f64>,
    /// Readout of act(out) to logits, `[output, classes]`.
    pub readout: Vec<f64>,
    /// Readout bias, `[classes]`.
    pub readout_bias: Vec<f64>,
}

impl GepParams {
    /// All zeros (a gradient accumulator).
    pub fn zeros(widths: Widths) -> Self {
        let Widths {
            input: i,
            hidden1: h1,
            hidden2: h2,
            output: o,
            classes: c,
        } = widths;
        Self {
            widths,
            in_l1: vec![0.0; i * h1],
            l1_bias: vec![0.0; h1],
            l1_l2: vec![0.0; h1 * h2],
            l2_bias: vec![0.0; h2],
            l2_l1: vec![0.0; h2 * h1],
            l2_out: vec![0.0; h2 * o],
            out_bias: vec![0.0; o],
            out_l2: vec![0.0; o * h2],
            readout: vec![0.0; o * c],
            readout_bias: vec![0.0; c],
        }
    }

    /// Weights drawn `N(0, 1/fan_in)` (flax's LeCun normal, untruncated), biases zero.
    pub fn new(
        widths: Widths,
        feedback: FeedbackInit,
        rng: &mut impl RngCore,
    ) -> Result<Self, ConfigError> {
        widths.validate()?;
        let mut p = Self::zeros(widths);
        lecun_normal(&mut p.in_l1, widths.input, rng);
        lecun_normal(&mut p.l1_l2, widths.hidden1, rng);
        lecun_normal(&mut p.l2_l1, widths.hidden2, rng);
        lecun_normal(&mut p.l2_out, widths.hidden2, rng);
        lecun_normal(&mut p.out_l2, widths.output, rng);
        lecun_normal(&mut p.readout, widths.output, rng);
        if feedback == FeedbackInit::Transposed {
            p.tie_feedback();
        }
        Ok(p)
    }

    /// Sets each feedback matrix to its feed-forward matrix transposed (`J` symmetric).
    pub fn tie_feedback(&mut self) {
        let w = self.widths;
        self.l2_l1 = transpose(&self.l1_l2, w.hidden1, w.hidden2);
        self.out_l2 = transpose(&self.l2_out, w.hidden2, w.output);
    }

    /// Every tensor, in a fixed order (the optimizer's).
    pub fn tensors(&self) -> [&[f64]; 10] {
        [
            &self.in_l1,
            &self.l1_bias,
            &self.l1_l2,
            &self.l2_bias,
            &self.l2_l1,
            &self.l2_out,
            &self.out_bias,
            &self.out_l2,
            &self.readout,
            &self.readout_bias,
        ]
    }

    /// Every tensor, mutably, in the order of [`GepParams::tensors`].
    pub fn tensors_mut(&mut self) -> [&mut [f64]; 10] {
        [
            &mut self.in_l1,
            &mut self.l1_bias,
            &mut self.l1_l2,
            &mut self.l2_bias,
            &mut self.l2_l1,
            &mut self.l2_out,
            &mut self.out_bias,
            &mut self.out_l2,
            &mut self.readout,
            &mut self.readout_bias,
        ]
    }

    /// `self += scale · other`, tensor by tensor.
    pub fn add_scaled(&mut self, other: &GepParams, scale: f64) {
        for (a, b) in self.tensors_mut().into_iter().zip(other.tensors()) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += scale * b);
        }
    }
}

fn lecun_normal(w: &mut [f64], fan_in: usize, rng: &mut impl RngCore) {
    let scale = 1.0 / (fan_in as f64).sqrt();
    w.iter_mut().for_each(|v| *v = scale * rng::normal(rng));
}

pub(super) fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = a[r * cols + c];
        }
    }
    t
}
