//! The excitatory–inhibitory circuit and its controller, integrated with a fixed Euler step
//! until the state stops moving.

use super::softplus;
use crate::linalg::gemm;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Weights and biases: `weights[l]` maps layer `l` to `l + 1` (`[n_{l+1}, n_l]`, row-major;
/// the last is the readout, without bias); `biases[l]` of hidden layer `l + 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensors {
    /// `W_0 … W_L` (the last: `W_out`).
    pub weights: Vec<Vec<f64>>,
    /// `b_1 … b_L`.
    pub biases: Vec<Vec<f64>>,
}

impl Tensors {
    /// Zeros shaped like `self`.
    pub fn zeros_like(&self) -> Self {
        let zeros = |v: &Vec<Vec<f64>>| v.iter().map(|t| vec![0.0; t.len()]).collect();
        Self {
            weights: zeros(&self.weights),
            biases: zeros(&self.biases),
        }
    }

    /// Every tensor, mutably: weights, then biases.
    pub fn all_mut(&mut self) -> Vec<&mut [f64]> {
        let w = self.weights.iter_mut().map(Vec::as_mut_slice);
        w.chain(self.biases.iter_mut().map(Vec::as_mut_slice))
            .collect()
    }

    /// Every tensor: weights, then biases.
    pub fn all(&self) -> Vec<&[f64]> {
        let w = self.weights.iter().map(Vec::as_slice);
        w.chain(self.biases.iter().map(Vec::as_slice)).collect()
    }
}

/// A layered circuit (`sizes`: input, hidden layers of E/I pairs, readout).
#[derive(Clone, Debug, PartialEq)]
pub struct Circuit {
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// Its parameters.
    pub params: Tensors,
}

/// Time constants, controller gains and the integrator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    /// Excitatory units and readout.
    pub tau_exc_ms: f64,
    /// Interneurons.
    pub tau_inh_ms: f64,
    /// The controller's integrator.
    pub tau_control_ms: f64,
    /// Proportional gain.
    pub k_p: f64,
    /// Integral gain.
    pub k_i: f64,
    /// The integrator's leak.
    pub leak: f64,
    /// Frobenius norm of each sample's feedback weights `B_l`.
    pub feedback_norm: f64,
    /// Euler step.
    pub dt_ms: f64,
    /// Longest integration.
    pub max_ms: f64,
    /// Steady state: no variable moves more than this in one step.
    pub tolerance: f64,
}

impl Dynamics {
    /// The strong control of the paper's teacher–student figure (`k_p = 30`, `k_i = 15`,
    /// leak 0.5, feedback norm 7.5): the outputs follow their targets closely.
    pub fn strong_control() -> Self {
        Self {
            k_p: 30.0,
            k_i: 15.0,
            leak: 0.5,
            feedback_norm: 7.5,
            ..Self::default()
        }
    }
}

impl Default for Dynamics {
    /// The paper's classification setting: τ_E = 20 ms, τ_I = 5 ms, τ_c = 100 ms, k_p = 0.2,
    /// k_i = 0.4, leak 1, unit-norm feedback; a step of 0.5 ms for up to 2 s.
    fn default() -> Self {
        Self {
            tau_exc_ms: 20.0,
            tau_inh_ms: 5.0,
            tau_control_ms: 100.0,
            k_p: 0.2,
            k_i: 0.4,
            leak: 1.0,
            feedback_norm: 1.0,
            dt_ms: 0.5,
            max_ms: 2000.0,
            tolerance: 1e-7,
        }
    }
}

/// The output error the controller sees, and the loss it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlLoss {
    /// `½‖y* − y‖²`; error `y* − y`.
    SquaredError,
    /// `−Σ y* ln softmax(y)`; error `y* − softmax(y)`.
    CrossEntropy,
}

impl ControlLoss {
    /// `−∂ℓ/∂y` of one output row against its target row.
    pub fn error(self, y: &[f64], target: &[f64]) -> Vec<f64> {
        match self {
            Self::SquaredError => target.iter().zip(y).map(|(t, v)| t - v).collect(),
            Self::CrossEntropy => {
                let p = softmax(y);
                target.iter().zip(p).map(|(t, p)| t - p).collect()
            }
        }
    }

    /// `ℓ(y, y*)` of one row.
    pub fn value(self, y: &[f64], target: &[f64]) -> f64 {
        match self {
            Self::SquaredError => {
                0.5 * target
                    .iter()
                    .zip(y)
                    .map(|(t, v)| (t - v).powi(2))
                    .sum::<f64>()
            }
            Self::CrossEntropy => {
                let p = softmax(y);
                -target
                    .iter()
                    .zip(p)
                    .map(|(t, p)| t * p.max(1e-300).ln())
                    .sum::<f64>()
            }
        }
    }
}

/// The softmax of a row.
pub fn softmax(y: &[f64]) -> Vec<f64> {
    let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = y.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Whether the controller acts.
#[derive(Clone, Copy, Debug)]
pub enum Loop<'a> {
    /// No control (`c = 0`).
    Open,
    /// The controller drives the outputs towards `targets` `[B, n_out]` through `feedback`
    /// (per hidden layer, `[B, n_out, n_l]`).
    Closed {
        /// Target outputs.
        targets: &'a [f64],
        /// `B_l` of each sample.
        feedback: &'a [Vec<f64>],
        /// The error the controller sees.
        loss: ControlLoss,
    },
}

/// The state of a batch: membrane potentials, readout and the controller's integral, each
/// `[B, n]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitState {
    /// Samples.
    pub batch: usize,
    /// `u_E` of each hidden layer.
    pub exc: Vec<Vec<f64>>,
    /// `u_I` of each hidden layer.
    pub inh: Vec<Vec<f64>>,
    /// `y`.
    pub readout: Vec<f64>,
    /// `c_int`.
    pub control_integral: Vec<f64>,
}

impl Circuit {
    /// A circuit with weights drawn from a normal of deviation `1/√fan_in` and zero biases.
    pub fn new(sizes: &[usize], rng: &mut ChaCha8Rng) -> Self {
        let weights = sizes
            .windows(2)
            .map(|p| {
                let std = 1.0 / (p[0] as f64).sqrt();
                (0..p[0] * p[1])
                    .map(|_| std * rng.sample::<f64, _>(StandardNormal))
                    .collect()
            })
            .collect();
        let biases = sizes[1..sizes.len() - 1]
            .iter()
            .map(|&n| vec![0.0; n])
            .collect();
        Self {
            sizes: sizes.to_vec(),
            params: Tensors { weights, biases },
        }
    }

    /// Hidden layers `L`.
    pub fn hidden(&self) -> usize {
        self.sizes.len() - 2
    }

    /// Outputs.
    pub fn outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// The resting state of `batch` samples (everything zero).
    pub fn zero_state(&self, batch: usize) -> CircuitState {
        let hidden = &self.sizes[1..=self.hidden()];
        CircuitState {
            batch,
            exc: hidden.iter().map(|&n| vec![0.0; batch * n]).collect(),
            inh: hidden.iter().map(|&n| vec![0.0; batch * n]).collect(),
            readout: vec![0.0; batch * self.outputs()],
            control_integral: vec![0.0; batch * self.outputs()],
        }
    }

    /// `W_l r + b` (`b` only for hidden layers) for rows `r` `[B, n_l]`.
    pub fn feedforward(&self, l: usize, rates: &[f64], batch: usize) -> Vec<f64> {
        let (n, m) = (self.sizes[l + 1], self.sizes[l]);
        let mut out = match self.params.biases.get(l) {
            Some(b) => b.repeat(batch),
            None => vec![0.0; batch * n],
        };
        gemm(
            batch,
            n,
            m,
            rates,
            false,
            &self.params.weights[l],
            true,
            &mut out,
            true,
        );
        out
    }

    /// The control `c = k_i c_int + k_p e` of every sample (zeros in open loop) and the error
    /// `e`.
    pub fn control(
        &self,
        state: &CircuitState,
        dynamics: &Dynamics,
        mode: Loop<'_>,
    ) -> (Vec<f64>, Vec<f64>) {
        let k = self.outputs();
        let (mut c, mut e) = (vec![0.0; state.batch * k], vec![0.0; state.batch * k]);
        if let Loop::Closed { targets, loss, .. } = mode {
            for s in 0..state.batch {
                let rows = s * k..(s + 1) * k;
                let err = loss.error(&state.readout[rows.clone()], &targets[rows.clone()]);
                for (j, v) in err.into_iter().enumerate() {
                    e[s * k + j] = v;
                    c[s * k + j] =
                        dynamics.k_i * state.control_integral[s * k + j] + dynamics.k_p * v;
                }
            }
        }
        (c, e)
    }

    /// One Euler step; returns the largest change of any variable.
    pub fn step(
        &self,
        x: &[f64],
        state: &mut CircuitState,
        dynamics: &Dynamics,
        mode: Loop<'_>,
    ) -> f64 {
        let (b, l_count, k) = (state.batch, self.hidden(), self.outputs());
        let (c, e) = self.control(state, dynamics, mode);
        let rates: Vec<Vec<f64>> = state
            .exc
            .iter()
            .map(|u| u.iter().map(|&v| softplus(v)).collect())
            .collect();
        let mut largest: f64 = 0.0;
        let mut update = |v: &mut f64, dv: f64| {
            *v += dv;
            largest = largest.max(dv.abs());
        };
        let (ge, gi) = (
            dynamics.dt_ms / dynamics.tau_exc_ms,
            dynamics.dt_ms / dynamics.tau_inh_ms,
        );
        for l in 0..l_count {
            let below = if l == 0 { x } else { &rates[l - 1] };
            let ff = self.feedforward(l, below, b);
            let top_down = match mode {
                Loop::Open => None,
                Loop::Closed { feedback, .. } => Some(project(&c, &feedback[l], b, k)),
            };
            let n = self.sizes[l + 1];
            for i in 0..b * n {
                let (u_e, u_i) = (state.exc[l][i], state.inh[l][i]);
                let fb = top_down.as_ref().map_or(0.0, |t| t[i]);
                update(&mut state.exc[l][i], ge * (-u_e + ff[i] - softplus(u_i)));
                update(&mut state.inh[l][i], gi * (-u_i + rates[l][i] - fb));
            }
        }
        let ff = self.feedforward(l_count, &rates[l_count - 1], b);
        for i in 0..b * k {
            let y = state.readout[i];
            update(&mut state.readout[i], ge * (-y + ff[i] + c[i]));
        }
        if let Loop::Closed { .. } = mode {
            let gc = dynamics.dt_ms / dynamics.tau_control_ms;
            for (ci, &ei) in state.control_integral.iter_mut().zip(&e) {
                let change = gc * (ei - dynamics.leak * *ci);
                update(ci, change);
            }
        }
        largest
    }

    /// Integrates until no variable moves more than the tolerance in one step (or the
    /// longest integration); returns the steps taken.
    pub fn settle(
        &self,
        x: &[f64],
        state: &mut CircuitState,
        dynamics: &Dynamics,
        mode: Loop<'_>,
    ) -> usize {
        let most = (dynamics.max_ms / dynamics.dt_ms).ceil() as usize;
        for step in 1..=most {
            if self.step(x, state, dynamics, mode) < dynamics.tolerance {
                return step;
            }
        }
        most
    }
}

/// `c · B` of every sample: `c` `[B, k]`, `B` `[B, k, n]` → `[B, n]`.
fn project(c: &[f64], feedback: &[f64], b: usize, k: usize) -> Vec<f64> {
    let n = feedback.len() / (b * k).max(1);
    let mut out = vec![0.0; b * n];
    for s in 0..b {
        let row = &mut out[s * n..(s + 1) * n];
        for j in 0..k {
            let cj = c[s * k + j];
            let fb = &feedback[(s * k + j) * n..(s * k + j + 1) * n];
            row.iter_mut().zip(fb).for_each(|(o, &f)| *o += cj * f);
        }
    }
    out
}
