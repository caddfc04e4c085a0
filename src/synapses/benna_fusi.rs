//! The Benna–Fusi synapse (Benna & Fusi 2016, Nat. Neurosci. 19:1697, "Computational
//! principles of synaptic memory consolidation"): `m` continuous variables in a chain, like
//! liquid in beakers of widths `C_k` joined by tubes of conductance `g_{k,k+1}`:
//!
//! ```text
//! C_k du_k/dt = g_{k−1,k} (u_{k−1} − u_k) + g_{k,k+1} (u_{k+1} − u_k)      k = 1 … m
//! ```
//!
//! with no tube before `u_1` and `u_{m+1} ≡ 0`: the last variable leaks into a zero reservoir
//! through `g_{m,m+1}`. A plasticity event adds `±Δ` to `u_1`, and the weight is `w = u_1`. The
//! paper's chain doubles the capacities and halves the couplings,
//!
//! ```text
//! C_k = 2^(k−1)      g_{k,k+1} = 2^(−k−2)      τ_k = C_k / g_{k,k+1} = 2^(2k+1)
//! ```
//!
//! so the time constants grow fourfold per variable (8, 32, 128, … in units of the interval
//! between events). Without the leak the charge `Σ_k C_k u_k` is conserved; after a kick it
//! spreads by time `t` over the variables with `τ_k ≲ t`, whose capacity grows as `√t`, so
//! `u_1` decays as `t^(−1/2)` between `τ_1` and `τ_m` (the leak ends it exponentially). With
//! events of random sign the noise on `u_1` is stationary, and a memory's signal-to-noise
//! ratio falls as `t^(−1/2)` over that range, not exponentially.
//!
//! Discretisation: the chain is linear, `du/dt = −M u` with `M = C⁻¹L` (`L` the coupling
//! Laplacian with the leak), and is advanced exactly, `u(t + Δt) = exp(−MΔt) u(t)`, for any
//! `Δt`. `M` is similar to the symmetric `S = C^(−1/2) L C^(−1/2) = W Λ Wᵀ` (Jacobi
//! rotations), so `exp(−MΔt) = C^(−1/2) W e^(−ΛΔt) Wᵀ C^(1/2)`: no step-size limit however
//! far apart the time constants are.

use super::{symmetric, Event, Pattern, SynapseError, SynapseModel};
use rand::Rng;
use rand_distr::StandardNormal;

/// The chain's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct BennaFusiParams {
    /// `C_1 … C_m`.
    pub capacities: Vec<f64>,
    /// `g_{1,2} … g_{m,m+1}`: the last is the leak to the zero reservoir (0: no leak).
    pub couplings: Vec<f64>,
    /// `Δ`, the jump of `u_1` at an event.
    pub event_size: f64,
}

impl BennaFusiParams {
    /// The paper's chain of `variables`: `C_k = 2^(k−1)`, `g_{k,k+1} = 2^(−k−2)`, `Δ = 1`.
    pub fn geometric(variables: usize) -> Self {
        Self {
            capacities: (0..variables).map(|k| 2f64.powi(k as i32)).collect(),
            couplings: (0..variables).map(|k| 2f64.powi(-(k as i32) - 3)).collect(),
            event_size: 1.0,
        }
    }

    /// The chain with the leak closed (`g_{m,m+1} = 0`): it conserves `Σ_k C_k u_k`.
    pub fn without_leak(mut self) -> Self {
        if let Some(leak) = self.couplings.last_mut() {
            *leak = 0.0;
        }
        self
    }

    fn validate(&self) -> Result<(), SynapseError> {
        let m = self.capacities.len();
        if m == 0 {
            return Err(SynapseError::Length {
                field: "capacities",
                got: 0,
                expected: 1,
            });
        }
        if self.couplings.len() != m {
            return Err(SynapseError::Length {
                field: "couplings",
                got: self.couplings.len(),
                expected: m,
            });
        }
        let invalid = |field, value, requirement| SynapseError::InvalidParameter {
            field,
            value,
            requirement,
        };
        if let Some(&c) = self
            .capacities
            .iter()
            .find(|c| !(c.is_finite() && **c > 0.0))
        {
            return Err(invalid("capacities", c, "finite and > 0"));
        }
        let (inner, leak) = self.couplings.split_at(m - 1);
        if let Some(&g) = inner.iter().find(|g| !(g.is_finite() && **g > 0.0)) {
            return Err(invalid(
                "couplings",
                g,
                "finite and > 0 between variables (a zero cuts the chain)",
            ));
        }
        if !(leak[0].is_finite() && leak[0] >= 0.0) {
            return Err(invalid("couplings", leak[0], "a finite leak >= 0"));
        }
        if !(self.event_size.is_finite() && self.event_size > 0.0) {
            return Err(invalid("event_size", self.event_size, "finite and > 0"));
        }
        Ok(())
    }
}

/// The variables of a population, variable-major: `u_k` of synapse `i` at `k · len + i`.
#[derive(Clone, Debug, PartialEq)]
pub struct BennaFusiState {
    len: usize,
    variables: usize,
    u: Vec<f64>,
}

impl BennaFusiState {
    /// `len` synapses with every variable at 0.
    pub fn zeros(variables: usize, len: usize) -> Self {
        Self {
            len,
            variables,
            u: vec![0.0; variables * len],
        }
    }

    /// The number of synapses.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `u_{k+1}` of every synapse (`k` counts from 0; none past the chain).
    pub fn variable(&self, k: usize) -> Option<&[f64]> {
        (k < self.variables).then(|| &self.u[k * self.len..(k + 1) * self.len])
    }

    /// The weights `w_i = u_1` of every synapse.
    pub fn weights(&self) -> &[f64] {
        &self.u[..self.len.min(self.u.len())]
    }
}

/// The chain, checked, with its modes and its flow over the interval between events.
#[derive(Clone, Debug, PartialEq)]
pub struct BennaFusi {
    params: BennaFusiParams,
    interval: f64,
    /// The eigenvalues `λ` of `M`, ascending.
    rates: Vec<f64>,
    /// `W`: the eigenvectors of `S`, as columns.
    modes: Vec<f64>,
    /// `exp(−M · interval)`, row-major.
    propagator: Vec<f64>,
}

impl BennaFusi {
    /// The chain of `params`, receiving events `event_interval` apart (in the time unit of the
    /// couplings).
    pub fn new(params: BennaFusiParams, event_interval: f64) -> Result<Self, SynapseError> {
        params.validate()?;
        check_time("event_interval", event_interval)?;
        let m = params.capacities.len();
        let (rates, modes) = symmetric::eigen(symmetrised(&params), m);
        let mut chain = Self {
            params,
            interval: event_interval,
            rates,
            modes,
            propagator: Vec::new(),
        };
        chain.propagator = chain.flow(event_interval);
        Ok(chain)
    }

    /// Its parameters.
    pub fn params(&self) -> &BennaFusiParams {
        &self.params
    }

    /// The number of variables `m`.
    pub fn variables(&self) -> usize {
        self.params.capacities.len()
    }

    /// The decay rates of the chain's modes (eigenvalues of `C⁻¹L`), slowest first.
    pub fn rates(&self) -> &[f64] {
        &self.rates
    }

    /// `exp(−M dt)`, row-major `m × m`.
    fn flow(&self, dt: f64) -> Vec<f64> {
        let m = self.variables();
        let c = &self.params.capacities;
        let mut p = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                let sum: f64 = (0..m)
                    .map(|k| {
                        self.modes[i * m + k] * (-self.rates[k] * dt).exp() * self.modes[j * m + k]
                    })
                    .sum();
                p[i * m + j] = sum * (c[j] / c[i]).sqrt();
            }
        }
        p
    }

    /// Lets every synapse evolve for one interval between events (exactly).
    pub fn relax(&self, state: &mut BennaFusiState) -> Result<(), SynapseError> {
        self.check(state)?;
        apply_matrix(&self.propagator, self.variables(), state);
        Ok(())
    }

    /// Lets every synapse evolve for `dt` (exactly).
    pub fn relax_for(&self, state: &mut BennaFusiState, dt: f64) -> Result<(), SynapseError> {
        self.check(state)?;
        if dt != 0.0 {
            check_time("dt", dt)?;
            apply_matrix(&self.flow(dt), self.variables(), state);
        }
        Ok(())
    }

    /// Synapse `i` receives `event`: `u_1 ± Δ`.
    pub fn apply(
        &self,
        state: &mut BennaFusiState,
        i: usize,
        event: Event,
    ) -> Result<(), SynapseError> {
        self.check(state)?;
        if i >= state.len {
            return Err(SynapseError::Index {
                index: i,
                len: state.len,
            });
        }
        state.u[i] += event.sign() * self.params.event_size;
        Ok(())
    }

    /// Synapse `i` receives a potentiation event.
    pub fn potentiate(&self, state: &mut BennaFusiState, i: usize) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Potentiation)
    }

    /// Synapse `i` receives a depression event.
    pub fn depress(&self, state: &mut BennaFusiState, i: usize) -> Result<(), SynapseError> {
        self.apply(state, i, Event::Depression)
    }

    /// The charge `Σ_k C_k u_k` of synapse `i` (none past the end).
    pub fn charge(&self, state: &BennaFusiState, i: usize) -> Option<f64> {
        (i < state.len && state.variables == self.variables()).then(|| {
            (0..state.variables)
                .map(|k| self.params.capacities[k] * state.u[k * state.len + i])
                .sum()
        })
    }

    /// `u_1` a time `t` after a unit kick of `u_1` from rest: `Σ_k W_1k² e^(−λ_k t)`.
    pub fn impulse_response(&self, t: f64) -> f64 {
        let m = self.variables();
        (0..m)
            .map(|k| self.modes[k] * self.modes[k] * (-self.rates[k] * t).exp())
            .sum()
    }

    /// The covariance (row-major `m × m`) of the variables at equilibrium under one event of
    /// random sign per interval, just after an event:
    /// `Σ = Δ² Σ_(j≥0) P^j e_1 e_1ᵀ (P^j)ᵀ` with `P = exp(−M · interval)`, summed in closed
    /// form over the modes. The chain needs its leak for one to exist.
    pub fn stationary_covariance(&self) -> Result<Vec<f64>, SynapseError> {
        if self.params.couplings.last() == Some(&0.0) {
            return Err(SynapseError::NoEquilibrium(
                "without its leak the chain's charge diffuses without bound",
            ));
        }
        let m = self.variables();
        let c = &self.params.capacities;
        // In the modes, a kick of u_1 is b_k = W_1k √C_1.
        let b: Vec<f64> = (0..m).map(|k| self.modes[k] * c[0].sqrt()).collect();
        let mut g = vec![0.0; m * m];
        for k in 0..m {
            for l in 0..m {
                let decay = (-(self.rates[k] + self.rates[l]) * self.interval).exp();
                g[k * m + l] = b[k] * b[l] / (1.0 - decay);
            }
        }
        let delta2 = self.params.event_size * self.params.event_size;
        let mut sigma = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..m {
                let mut sum = 0.0;
                for k in 0..m {
                    for l in 0..m {
                        sum += self.modes[i * m + k] * g[k * m + l] * self.modes[j * m + l];
                    }
                }
                sigma[i * m + j] = delta2 * sum / (c[i] * c[j]).sqrt();
            }
        }
        Ok(sigma)
    }

    fn check(&self, state: &BennaFusiState) -> Result<(), SynapseError> {
        if state.variables == self.variables() {
            Ok(())
        } else {
            Err(SynapseError::Length {
                field: "state variables",
                got: state.variables,
                expected: self.variables(),
            })
        }
    }
}

impl SynapseModel for BennaFusi {
    type State = BennaFusiState;

    /// Gaussian with the exact stationary covariance: the true distribution is not Gaussian,
    /// but the memory signal and noise depend on the second moments only.
    fn equilibrium<R: Rng + ?Sized>(
        &self,
        len: usize,
        rng: &mut R,
    ) -> Result<BennaFusiState, SynapseError> {
        let m = self.variables();
        let sigma = self.stationary_covariance()?;
        let l = symmetric::cholesky(&sigma, m).ok_or(SynapseError::NoEquilibrium(
            "the stationary covariance is not positive definite",
        ))?;
        let mut state = BennaFusiState::zeros(m, len);
        let mut z = vec![0.0; m];
        for i in 0..len {
            z.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
            for k in 0..m {
                state.u[k * len + i] = (0..=k).map(|j| l[k * m + j] * z[j]).sum();
            }
        }
        Ok(state)
    }

    fn store<R: Rng + ?Sized>(
        &self,
        state: &mut BennaFusiState,
        pattern: &Pattern,
        _rng: &mut R,
    ) -> Result<(), SynapseError> {
        pattern.check(state.len)?;
        self.relax(state)?;
        let delta = self.params.event_size;
        for (word, u) in pattern
            .words()
            .iter()
            .zip(state.u[..state.len].chunks_mut(64))
        {
            for (b, u) in u.iter_mut().enumerate() {
                *u += if word >> b & 1 == 1 { delta } else { -delta };
            }
        }
        Ok(())
    }

    fn overlap(&self, state: &BennaFusiState, pattern: &Pattern) -> Result<f64, SynapseError> {
        pattern.overlap(state.weights())
    }

    fn squared_weights(&self, state: &BennaFusiState) -> f64 {
        state.weights().iter().map(|w| w * w).sum()
    }

    fn expected_signal(&self, ages: &[usize]) -> Vec<f64> {
        ages.iter()
            .map(|&a| self.params.event_size * self.impulse_response(a as f64 * self.interval))
            .collect()
    }

    fn expected_squared_weight(&self) -> f64 {
        self.stationary_covariance().map_or(f64::INFINITY, |s| s[0])
    }

    /// `τ_k = C_k / g_{k,k+1}`, in intervals between events (a closed leak adds none).
    fn time_scales(&self) -> Vec<f64> {
        let p = &self.params;
        let mut scales: Vec<f64> = p
            .capacities
            .iter()
            .zip(&p.couplings)
            .filter(|(_, &g)| g > 0.0)
            .map(|(c, g)| c / g / self.interval)
            .collect();
        scales.sort_by(f64::total_cmp);
        scales
    }
}

/// `S = C^(−1/2) L C^(−1/2)`, row-major.
fn symmetrised(p: &BennaFusiParams) -> Vec<f64> {
    let m = p.capacities.len();
    let g = &p.couplings;
    let c = &p.capacities;
    let mut s = vec![0.0; m * m];
    for k in 0..m {
        let left = if k > 0 { g[k - 1] } else { 0.0 };
        s[k * m + k] = (left + g[k]) / c[k];
        if k + 1 < m {
            let off = -g[k] / (c[k] * c[k + 1]).sqrt();
            s[k * m + k + 1] = off;
            s[(k + 1) * m + k] = off;
        }
    }
    s
}

fn check_time(field: &'static str, value: f64) -> Result<(), SynapseError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(SynapseError::InvalidParameter {
            field,
            value,
            requirement: "finite and > 0",
        })
    }
}

/// `u ← P u` for every synapse, in blocks that stay in cache.
fn apply_matrix(p: &[f64], m: usize, state: &mut BennaFusiState) {
    const BLOCK: usize = 256;
    let len = state.len;
    let mut scratch = vec![0.0; m * BLOCK];
    for start in (0..len).step_by(BLOCK) {
        let b = BLOCK.min(len - start);
        for k in 0..m {
            let out = &mut scratch[k * BLOCK..k * BLOCK + b];
            out.fill(0.0);
            for j in 0..m {
                let coefficient = p[k * m + j];
                let src = &state.u[j * len + start..j * len + start + b];
                out.iter_mut()
                    .zip(src)
                    .for_each(|(o, &s)| *o += coefficient * s);
            }
        }
        for k in 0..m {
            state.u[k * len + start..k * len + start + b]
                .copy_from_slice(&scratch[k * BLOCK..k * BLOCK + b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn chain(params: BennaFusiParams) -> BennaFusi {
        BennaFusi::new(params, 1.0).unwrap()
    }

    #[test]
    fn invalid_chains_are_refused() {
        let ok = BennaFusiParams::geometric(3);
        let mut bad = ok.clone();
        bad.capacities[1] = 0.0;
        assert!(BennaFusi::new(bad, 1.0).is_err());
        let mut bad = ok.clone();
        bad.couplings[0] = 0.0;
        assert!(BennaFusi::new(bad, 1.0).is_err());
        let mut bad = ok.clone();
        bad.couplings.pop();
        assert!(BennaFusi::new(bad, 1.0).is_err());
        let mut bad = ok.clone();
        bad.event_size = f64::NAN;
        assert!(BennaFusi::new(bad, 1.0).is_err());
        assert!(BennaFusi::new(BennaFusiParams::geometric(0), 1.0).is_err());
        assert!(BennaFusi::new(ok.clone(), 0.0).is_err());
        let c = chain(ok);
        let mut s = BennaFusiState::zeros(3, 4);
        assert!(c.relax_for(&mut s, -1.0).is_err());
        assert!(c.potentiate(&mut s, 4).is_err());
        assert!(c.relax(&mut BennaFusiState::zeros(2, 4)).is_err());
        let closed = chain(BennaFusiParams::geometric(3).without_leak());
        assert!(closed.stationary_covariance().is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(closed.equilibrium(10, &mut rng).is_err());
    }

    /// Without the leak the charge `Σ C_k u_k` is conserved, and the chain settles where
    /// every variable holds the same level.
    #[test]
    fn a_closed_chain_conserves_its_charge() {
        let c = chain(BennaFusiParams::geometric(6).without_leak());
        let mut s = BennaFusiState::zeros(6, 3);
        c.potentiate(&mut s, 0).unwrap();
        c.depress(&mut s, 2).unwrap();
        c.depress(&mut s, 2).unwrap();
        for _ in 0..50 {
            c.relax(&mut s).unwrap();
            c.potentiate(&mut s, 1).unwrap();
            c.relax_for(&mut s, 3.7).unwrap();
            c.depress(&mut s, 1).unwrap();
        }
        assert!((c.charge(&s, 0).unwrap() - 1.0).abs() < 1e-12);
        assert!(c.charge(&s, 1).unwrap().abs() < 1e-12);
        assert!((c.charge(&s, 2).unwrap() + 2.0).abs() < 1e-12);
        c.relax_for(&mut s, 1e8).unwrap();
        let total: f64 = c.params().capacities.iter().sum();
        for k in 0..6 {
            let u = s.variable(k).unwrap()[0];
            assert!((u - 1.0 / total).abs() < 1e-12, "u_{} = {u}", k + 1);
        }
        assert_eq!(s.variable(6), None);
    }

    /// One variable: `u_1 = e^(−g t / C)`.
    #[test]
    fn one_variable_decays_exponentially() {
        let params = BennaFusiParams {
            capacities: vec![2.0],
            couplings: vec![0.5],
            event_size: 1.0,
        };
        let c = chain(params);
        let mut s = BennaFusiState::zeros(1, 1);
        c.potentiate(&mut s, 0).unwrap();
        c.relax_for(&mut s, 3.0).unwrap();
        assert!((s.weights()[0] - (-0.75f64).exp()).abs() < 1e-14);
        assert!((c.impulse_response(3.0) - (-0.75f64).exp()).abs() < 1e-14);
    }

    /// Two variables, closed: `u_1 = Q/(C_1 + C_2) + (1 − Q/(C_1 + C_2)) e^(−g(1/C_1 + 1/C_2)t)`
    /// with `Q = C_1` after a unit kick.
    #[test]
    fn two_variables_match_the_closed_form() {
        let params = BennaFusiParams {
            capacities: vec![1.0, 3.0],
            couplings: vec![0.2, 0.0],
            event_size: 1.0,
        };
        let c = chain(params);
        let mut s = BennaFusiState::zeros(2, 1);
        c.potentiate(&mut s, 0).unwrap();
        for t in [0.5, 2.0, 10.0] {
            let mut at = s.clone();
            c.relax_for(&mut at, t).unwrap();
            let settled = 1.0 / 4.0;
            let want = settled + (1.0 - settled) * (-0.2 * (1.0 + 1.0 / 3.0) * t).exp();
            assert!((at.weights()[0] - want).abs() < 1e-14, "t = {t}");
            assert!((c.impulse_response(t) - want).abs() < 1e-14);
            let u2 = at.variable(1).unwrap()[0];
            assert!((at.weights()[0] + 3.0 * u2 - 1.0).abs() < 1e-14);
        }
    }

    /// The exact flow agrees with a fine Runge–Kutta integration of the equations.
    #[test]
    fn the_flow_solves_the_chain_equations() {
        let p = BennaFusiParams::geometric(5);
        let c = chain(p.clone());
        let mut s = BennaFusiState::zeros(5, 1);
        c.potentiate(&mut s, 0).unwrap();
        let mut u = vec![1.0, 0.0, 0.0, 0.0, 0.0];
        let deriv = |u: &[f64]| -> Vec<f64> {
            (0..5)
                .map(|k| {
                    let left = if k > 0 {
                        p.couplings[k - 1] * (u[k - 1] - u[k])
                    } else {
                        0.0
                    };
                    let next = if k + 1 < 5 { u[k + 1] } else { 0.0 };
                    (left + p.couplings[k] * (next - u[k])) / p.capacities[k]
                })
                .collect()
        };
        let dt = 0.01;
        for _ in 0..2000 {
            let add = |a: &[f64], b: &[f64], h: f64| -> Vec<f64> {
                a.iter().zip(b).map(|(x, y)| x + h * y).collect()
            };
            let k1 = deriv(&u);
            let k2 = deriv(&add(&u, &k1, dt / 2.0));
            let k3 = deriv(&add(&u, &k2, dt / 2.0));
            let k4 = deriv(&add(&u, &k3, dt));
            for k in 0..5 {
                u[k] += dt / 6.0 * (k1[k] + 2.0 * k2[k] + 2.0 * k3[k] + k4[k]);
            }
        }
        for _ in 0..20 {
            c.relax(&mut s).unwrap();
        }
        for (k, want) in u.iter().enumerate() {
            let got = s.variable(k).unwrap()[0];
            assert!((got - want).abs() < 1e-12, "u_{}: {got} vs {want}", k + 1);
        }
    }

    /// The paper's chain: `u_1` after a kick falls as `t^(−1/2)` between its time scales.
    #[test]
    fn the_geometric_chain_forgets_as_a_power_law() {
        let c = chain(BennaFusiParams::geometric(8));
        let slope =
            |a: f64, b: f64| (c.impulse_response(b) / c.impulse_response(a)).ln() / (b / a).ln();
        for (a, b) in [(30.0, 300.0), (300.0, 3000.0), (1000.0, 20000.0)] {
            let s = slope(a, b);
            assert!((s + 0.5).abs() < 0.03, "slope {s} over [{a}, {b}]");
        }
        assert!(slope(3e5, 1e6) < -1.0, "the leak ends the power law");
        assert_eq!(c.time_scales()[0], 8.0);
        assert_eq!(c.time_scales()[7], 2f64.powi(17));
    }

    /// Random events from equilibrium keep the variance of `u_1` at the stationary value.
    #[test]
    fn the_equilibrium_is_stationary() {
        let c = chain(BennaFusiParams::geometric(4));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 20_000;
        let mut s = c.equilibrium(n, &mut rng).unwrap();
        let want = c.expected_squared_weight();
        let second_moment = |s: &BennaFusiState| c.squared_weights(s) / n as f64;
        assert!((second_moment(&s) / want - 1.0).abs() < 0.03);
        for _ in 0..300 {
            let p = Pattern::random(n, &mut rng);
            c.store(&mut s, &p, &mut rng).unwrap();
        }
        assert!((second_moment(&s) / want - 1.0).abs() < 0.03);
        // The same variance by summing squared impulse responses.
        let sum: f64 = (0..20_000)
            .map(|j| c.impulse_response(j as f64).powi(2))
            .sum();
        assert!((sum / want - 1.0).abs() < 1e-9);
    }
}
