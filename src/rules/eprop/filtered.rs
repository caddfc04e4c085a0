//! A hidden neuron's eligibility system with the readout filter, solved by its structure;
//! generic over [`Elem`], so [`LANES`](super::lanes::LANES) neurons are solved at once.

use super::lanes::Elem;
use super::system::{add, dot, identity, mat_mul, mat_t_vec, mat_vec, Mat, System};
use crate::real::Real;

/// A hidden neuron's system with the readout filter, solved by its structure: per step the
/// neuron's `Ã` (`D × D`, own output included), `∂o/∂s` `g`, the input's `c` and the
/// parameters' columns; the eligibility `e = g·ε` drives the filter `F^I ← αF^I + e`,
/// `F^U ← βF^U + (1−β)F^I` (the same for every neuron), and the gradient collects
/// `r e + L F^U`. The results are those of [`System`] for `Z = D + 2` (a test checks it), at
/// `O(D³)` rather than `O(Z³)` per step.
pub(super) struct Filtered<F: Elem, const D: usize> {
    pub a: Vec<Mat<F, D>>,
    pub g: Vec<[F; D]>,
    pub c: Vec<[F; D]>,
    /// The parameters' columns `[K, S]` (scaled by their chain factors).
    pub params: Vec<[F; D]>,
    /// `r` (the regularizer's `∂R/∂cnt`) and `L[τ]` (the learning signal).
    pub r: F,
    pub learning: Vec<F>,
    /// The filter's decays `(α, β)`.
    pub decays: (F::Scalar, F::Scalar),
    /// Their powers over the chunk (the same for every neuron).
    pub powers: FilterPowers<F::Scalar>,
}

/// The readout filter's response over a chunk of `K` steps, shared by every neuron.
pub(super) struct FilterPowers<F> {
    /// `φ[k]`: `F^U` `k` steps after a unit step into `F^I` (`k < K`).
    phi: Vec<F>,
    /// `α^k` for `k ≤ K`.
    alpha_pow: Vec<F>,
    /// `β^K`.
    beta_end: F,
}

impl<F: Real> FilterPowers<F> {
    /// The powers of the decays `(α, β)` over `steps` steps.
    pub fn new(steps: usize, (alpha, beta): (F, F)) -> Self {
        let leak = F::one() - beta;
        let (mut fi, mut fu) = (F::one(), F::zero());
        let phi = (0..steps)
            .map(|_| {
                fu = beta * fu + leak * fi;
                fi = alpha * fi;
                fu
            })
            .collect();
        let mut ak = F::one();
        let mut alpha_pow = vec![ak];
        let mut beta_end = F::one();
        for _ in 0..steps {
            ak *= alpha;
            alpha_pow.push(ak);
            beta_end *= beta;
        }
        Self {
            phi,
            alpha_pow,
            beta_end,
        }
    }
}

impl<F: Elem, const D: usize> Filtered<F, D> {
    /// A system of `steps` steps with `params` per-neuron parameters.
    pub fn new(steps: usize, params: usize, decays: (F::Scalar, F::Scalar)) -> Self {
        Self {
            a: vec![[[F::zero(); D]; D]; steps],
            g: vec![[F::zero(); D]; steps],
            c: vec![[F::zero(); D]; steps],
            params: vec![[F::zero(); D]; steps * params],
            r: F::zero(),
            learning: vec![F::zero(); steps],
            decays,
            powers: FilterPowers::new(steps, decays),
        }
    }

    /// The backward recursions; writes the transition `psi`, start gradient `lam0`, the
    /// weights' `q[τ]`, `r_m[τ]` and the parameters' sums into `out` (`Z = D + 2`).
    pub fn solve<const Z: usize>(&self, out: &mut System<F, Z>) {
        assert_eq!(Z, D + 2, "the filter adds two components");
        let steps = self.a.len();
        let params = out.par_g.len();
        let (alpha, beta) = (F::splat(self.decays.0), F::splat(self.decays.1));
        let leak = F::splat(<F::Scalar as num_traits::One>::one() - self.decays.1);
        let powers = &self.powers;
        assert_eq!(
            powers.phi.len(),
            steps,
            "the filter's powers are of the chunk's length"
        );
        // Adjoints (total derivatives with respect to ε[τ], F^I[τ], F^U[τ]) and the end
        // state's sensitivity to ε[τ]: ρε (D × D), ρI and ρU (1 × D).
        let (mut lam_e, mut lam_i, mut lam_u) = ([F::zero(); D], F::zero(), F::zero());
        let mut rho_e = identity::<F, D>();
        let (mut rho_i, mut rho_u) = ([F::zero(); D], [F::zero(); D]);
        out.par_g.iter_mut().for_each(|v| *v = F::zero());
        out.par_z.iter_mut().for_each(|v| *v = [F::zero(); Z]);
        for tau in (0..steps).rev() {
            let back = steps - 1 - tau;
            let (alpha_k, phi_k) = (F::splat(powers.alpha_pow[back]), F::splat(powers.phi[back]));
            let g = &self.g[tau];
            lam_u = self.learning[tau] + beta * lam_u;
            lam_i = leak * lam_u + alpha * lam_i;
            let drive = self.r + lam_i;
            let mut next_e = [F::zero(); D];
            if tau + 1 < steps {
                let a_next = &self.a[tau + 1];
                next_e = mat_t_vec(a_next, &lam_e);
                rho_e = mat_mul(&rho_e, a_next);
                rho_i = row_times(&rho_i, a_next);
                rho_u = row_times(&rho_u, a_next);
            }
            for k in 0..D {
                lam_e[k] = g[k] * drive + next_e[k];
                rho_i[k] += alpha_k * g[k];
                rho_u[k] += phi_k * g[k];
            }
            let c = &self.c[tau];
            out.q[tau] = dot(c, &lam_e);
            out.r_m[tau] = extend(&mat_vec(&rho_e, c), dot(&rho_i, c), dot(&rho_u, c));
            for s in 0..params {
                let pc = &self.params[tau * params + s];
                out.par_g[s] += dot(pc, &lam_e);
                let add_z: [F; Z] = extend(&mat_vec(&rho_e, pc), dot(&rho_i, pc), dot(&rho_u, pc));
                add(&mut out.par_z[s], &add_z);
            }
        }
        let a0 = &self.a[0];
        let start_e = mat_t_vec(a0, &lam_e);
        out.lam0 = extend(&start_e, alpha * lam_i, beta * lam_u);
        let (pe, pi, pu) = (
            mat_mul(&rho_e, a0),
            row_times(&rho_i, a0),
            row_times(&rho_u, a0),
        );
        let mut psi = [[F::zero(); Z]; Z];
        for r in 0..D {
            psi[r][..D].copy_from_slice(&pe[r]);
        }
        psi[D][..D].copy_from_slice(&pi);
        psi[D + 1][..D].copy_from_slice(&pu);
        psi[D][D] = F::splat(powers.alpha_pow[steps]);
        psi[D + 1][D] = alpha * F::splat(powers.phi[steps - 1]);
        psi[D + 1][D + 1] = F::splat(powers.beta_end);
        out.psi = psi;
    }
}

/// `[v; i; u]` of `Z = D + 2` values.
#[inline(always)]
fn extend<F: Elem, const D: usize, const Z: usize>(v: &[F; D], i: F, u: F) -> [F; Z] {
    let mut out = [F::zero(); Z];
    out[..D].copy_from_slice(v);
    out[D] = i;
    out[D + 1] = u;
    out
}

/// The row vector `v A`.
#[inline(always)]
fn row_times<F: Elem, const D: usize>(v: &[F; D], a: &Mat<F, D>) -> [F; D] {
    mat_t_vec(a, v)
}

#[cfg(test)]
mod filtered_tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The structured solve equals the general one on the assembled `Z × Z` system.
    #[test]
    fn filtered_solve_equals_the_general_solve() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (steps, decays) = (11, (0.6, 0.9));
        let mut f = Filtered::<f64, 2>::new(steps, 1, decays);
        let mut r2 = || [0; 2].map(|_: i32| rng.random_range(-1.0..1.0));
        for t in 0..steps {
            f.a[t] = [r2(), r2()];
            f.g[t] = r2();
            f.c[t] = r2();
            f.params[t] = r2();
            f.learning[t] = r2()[0];
        }
        f.r = 0.3;
        let mut got = System::<f64, 4>::new(steps, 1);
        f.solve(&mut got);
        let mut general = System::<f64, 4>::new(steps, 1);
        let (alpha, beta) = decays;
        let leak = 1.0 - beta;
        for t in 0..steps {
            let (a, g) = (f.a[t], f.g[t]);
            let ga = [
                g[0] * a[0][0] + g[1] * a[1][0],
                g[0] * a[0][1] + g[1] * a[1][1],
            ];
            general.m[t] = [
                [a[0][0], a[0][1], 0.0, 0.0],
                [a[1][0], a[1][1], 0.0, 0.0],
                [ga[0], ga[1], alpha, 0.0],
                [leak * ga[0], leak * ga[1], leak * alpha, beta],
            ];
            let ext = |v: [f64; 2]| {
                let e = g[0] * v[0] + g[1] * v[1];
                [v[0], v[1], e, leak * e]
            };
            general.input[t] = ext(f.c[t]);
            general.params[t] = ext(f.params[t]);
            general.h[t] = [f.r * g[0], f.r * g[1], 0.0, f.learning[t]];
        }
        general.solve();
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&got.lam0, &general.lam0));
        assert!(close(&got.psi.concat(), &general.psi.concat()));
        assert!(close(&got.q, &general.q));
        assert!(close(&got.r_m.concat(), &general.r_m.concat()));
        assert!(close(&got.par_g, &general.par_g));
        assert!(close(&got.par_z.concat(), &general.par_z.concat()));
    }
}

#[cfg(test)]
mod lane_tests {
    use super::super::lanes::{lane_of, lane_of_mat, Lane, LANES};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Solving [`LANES`] neurons side by side gives each lane the result of its own solve.
    #[test]
    fn a_lane_solve_equals_one_solve_per_lane() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (steps, params, decays) = (7, 2, (0.7, 0.85));
        let mut lanes = Filtered::<Lane<f64>, 2>::new(steps, params, decays);
        let mut singles: Vec<Filtered<f64, 2>> = (0..LANES)
            .map(|_| Filtered::new(steps, params, decays))
            .collect();
        let mut draw = || rng.random_range(-1.0..1.0);
        for (l, single) in singles.iter_mut().enumerate() {
            single.r = draw();
            lanes.r.0[l] = single.r;
            for t in 0..steps {
                single.learning[t] = draw();
                lanes.learning[t].0[l] = single.learning[t];
                for k in 0..2 {
                    single.g[t][k] = draw();
                    single.c[t][k] = draw();
                    lanes.g[t][k].0[l] = single.g[t][k];
                    lanes.c[t][k].0[l] = single.c[t][k];
                    for col in 0..2 {
                        single.a[t][k][col] = draw();
                        lanes.a[t][k][col].0[l] = single.a[t][k][col];
                    }
                }
            }
            for (p, lp) in single.params.iter_mut().zip(lanes.params.iter_mut()) {
                for k in 0..2 {
                    p[k] = draw();
                    lp[k].0[l] = p[k];
                }
            }
        }
        let mut got = System::<Lane<f64>, 4>::results(steps, params);
        lanes.solve(&mut got);
        for (l, single) in singles.iter().enumerate() {
            let mut want = System::<f64, 4>::results(steps, params);
            single.solve(&mut want);
            assert_eq!(lane_of_mat(&got.psi, l), want.psi);
            assert_eq!(lane_of(&got.lam0, l), want.lam0);
            for t in 0..steps {
                assert_eq!(got.q[t].0[l], want.q[t]);
                assert_eq!(lane_of(&got.r_m[t], l), want.r_m[t]);
            }
            for s in 0..params {
                assert_eq!(got.par_g[s].0[l], want.par_g[s]);
                assert_eq!(lane_of(&got.par_z[s], l), want.par_z[s]);
            }
        }
    }
}
