//! The linear system of one postsynaptic unit over a chunk of `K` steps, with `Z` components
//! (fixed at compile time, so the small products unroll):
//!
//! ```text
//! z[τ] = M[τ] z[τ−1] + m[τ] u[τ]        contribution to the gradient: h[τ] · z[τ]
//! λ[τ] = h[τ] + M[τ+1]ᵀ λ[τ+1]          R[τ] = R[τ+1] M[τ+1],  R[K−1] = I
//! gradient += (M[0]ᵀ λ[0]) · z_start + Σ_τ u[τ] (m[τ] · λ[τ])
//! z_end     = (R[0] M[0]) z_start    + Σ_τ u[τ] R[τ] m[τ]
//! ```
//!
//! Per-neuron parameters are inputs `u = 1` with their own `m` at every step.

use crate::real::Real;

/// A `Z × Z` matrix, row-major.
pub(super) type Mat<F, const Z: usize> = [[F; Z]; Z];

/// One unit's system over a chunk and, after [`System::solve`], what its synapses need.
pub(super) struct System<F, const Z: usize> {
    /// `M[τ]`, `m[τ]`, `h[τ]` per step; the parameters' `m` `[K, S]`.
    pub m: Vec<Mat<F, Z>>,
    pub input: Vec<[F; Z]>,
    pub h: Vec<[F; Z]>,
    pub params: Vec<[F; Z]>,
    /// `R[0] M[0]`: the chunk's transition of a synapse's `z`.
    pub psi: Mat<F, Z>,
    /// `M[0]ᵀ λ[0]`: the gradient per unit of the starting `z`.
    pub lam0: [F; Z],
    /// `m[τ] · λ[τ]` and `R[τ] m[τ]` per step.
    pub q: Vec<F>,
    pub r_m: Vec<[F; Z]>,
    /// Per parameter: `Σ_τ m_p[τ] · λ[τ]` and `Σ_τ R[τ] m_p[τ]`.
    pub par_g: Vec<F>,
    pub par_z: Vec<[F; Z]>,
}

impl<F: Real, const Z: usize> System<F, Z> {
    /// A system of `steps` steps with `params` per-unit parameters.
    pub fn new(steps: usize, params: usize) -> Self {
        Self {
            m: vec![[[F::zero(); Z]; Z]; steps],
            input: vec![[F::zero(); Z]; steps],
            h: vec![[F::zero(); Z]; steps],
            params: vec![[F::zero(); Z]; steps * params],
            psi: [[F::zero(); Z]; Z],
            lam0: [F::zero(); Z],
            q: vec![F::zero(); steps],
            r_m: vec![[F::zero(); Z]; steps],
            par_g: vec![F::zero(); params],
            par_z: vec![[F::zero(); Z]; params],
        }
    }

    /// Room for the results of a [`Filtered`] solve only (no `M`, `m`, `h`).
    pub fn results(steps: usize, params: usize) -> Self {
        let mut system = Self::new(0, params);
        system.q = vec![F::zero(); steps];
        system.r_m = vec![[F::zero(); Z]; steps];
        system
    }

    /// The backward recursion over the chunk.
    pub fn solve(&mut self) {
        let steps = self.m.len();
        let params = self.par_g.len();
        let mut lam = [F::zero(); Z];
        let mut r = identity::<F, Z>();
        self.par_g.iter_mut().for_each(|v| *v = F::zero());
        self.par_z.iter_mut().for_each(|v| *v = [F::zero(); Z]);
        for tau in (0..steps).rev() {
            if tau + 1 < steps {
                let next = &self.m[tau + 1];
                lam = mat_t_vec(next, &lam);
                r = mat_mul(&r, next);
            }
            add(&mut lam, &self.h[tau]);
            self.q[tau] = dot(&self.input[tau], &lam);
            self.r_m[tau] = mat_vec(&r, &self.input[tau]);
            for s in 0..params {
                let mp = &self.params[tau * params + s];
                self.par_g[s] += dot(mp, &lam);
                add(&mut self.par_z[s], &mat_vec(&r, mp));
            }
        }
        self.lam0 = mat_t_vec(&self.m[0], &lam);
        self.psi = mat_mul(&r, &self.m[0]);
    }
}

/// Every synapse's `z` (`[pre, units, Z]` flat) and gradient (`[pre, units]`): the gradient
/// of its starting `z`, then its transition over the chunk.
pub(super) fn carry<F: Real, const Z: usize>(
    psi: &[Mat<F, Z>],
    lam0: &[[F; Z]],
    z_syn: &mut [F],
    g_syn: &mut [F],
) {
    let units = psi.len();
    for (zs_pre, gs_pre) in z_syn
        .chunks_exact_mut(units * Z)
        .zip(g_syn.chunks_exact_mut(units))
    {
        for (j, (zs, gs)) in zs_pre.chunks_exact_mut(Z).zip(gs_pre).enumerate() {
            let z: &mut [F; Z] = zs.try_into().expect("Z values");
            *gs += dot(&lam0[j], z);
            *z = mat_vec(&psi[j], z);
        }
    }
}

/// The presynaptic value `u` of one input at one step on its synapses onto every unit: `q`
/// and `r_m` are that step's `m · λ` and `R m` of every unit.
pub(super) fn presynaptic<F: Real, const Z: usize>(
    u: F,
    q: &[F],
    r_m: &[[F; Z]],
    z_syn: &mut [F],
    g_syn: &mut [F],
) {
    g_syn.iter_mut().zip(q).for_each(|(g, &qj)| *g += u * qj);
    for (zs, rm) in z_syn.chunks_exact_mut(Z).zip(r_m) {
        zs.iter_mut().zip(rm).for_each(|(v, &r)| *v += u * r);
    }
}

pub(super) fn identity<F: Real, const Z: usize>() -> Mat<F, Z> {
    let mut m = [[F::zero(); Z]; Z];
    (0..Z).for_each(|k| m[k][k] = F::one());
    m
}

#[inline(always)]
pub(super) fn dot<F: Real, const Z: usize>(a: &[F; Z], b: &[F; Z]) -> F {
    let mut s = F::zero();
    for k in 0..Z {
        s += a[k] * b[k];
    }
    s
}

#[inline(always)]
fn add<F: Real, const Z: usize>(dst: &mut [F; Z], src: &[F; Z]) {
    for k in 0..Z {
        dst[k] += src[k];
    }
}

#[inline(always)]
pub(super) fn mat_vec<F: Real, const Z: usize>(m: &Mat<F, Z>, v: &[F; Z]) -> [F; Z] {
    let mut out = [F::zero(); Z];
    for r in 0..Z {
        out[r] = dot(&m[r], v);
    }
    out
}

#[inline(always)]
fn mat_t_vec<F: Real, const Z: usize>(m: &Mat<F, Z>, v: &[F; Z]) -> [F; Z] {
    let mut out = [F::zero(); Z];
    for r in 0..Z {
        for c in 0..Z {
            out[c] += m[r][c] * v[r];
        }
    }
    out
}

#[inline(always)]
fn mat_mul<F: Real, const Z: usize>(a: &Mat<F, Z>, b: &Mat<F, Z>) -> Mat<F, Z> {
    let mut out = [[F::zero(); Z]; Z];
    for r in 0..Z {
        for k in 0..Z {
            let a_rk = a[r][k];
            for c in 0..Z {
                out[r][c] += a_rk * b[k][c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The chunk's closed form equals stepping one synapse through every step.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn solved_chunk_equals_stepping_the_synapse() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let steps = 9;
        let mut sys = System::<f64, 3>::new(steps, 1);
        let mut rand3 = || [0; 3].map(|_: i32| rng.random_range(-1.0..1.0));
        let mats: Vec<Mat<f64, 3>> = (0..steps).map(|_| [rand3(), rand3(), rand3()]).collect();
        sys.m = mats;
        sys.input = (0..steps).map(|_| rand3()).collect();
        sys.h = (0..steps).map(|_| rand3()).collect();
        sys.params = (0..steps).map(|_| rand3()).collect();
        let u: Vec<f64> = (0..steps)
            .map(|t| if t % 3 == 1 { 0.0 } else { 0.7 })
            .collect();
        let z0 = rand3();
        sys.solve();
        // Stepping: the weight synapse (input u) and the parameter (input 1).
        let (mut z, mut zp, mut g, mut gp) = (z0, z0, 0.0, 0.0);
        for t in 0..steps {
            z = mat_vec(&sys.m[t], &z);
            zp = mat_vec(&sys.m[t], &zp);
            for k in 0..3 {
                z[k] += sys.input[t][k] * u[t];
                zp[k] += sys.params[t][k];
            }
            g += dot(&sys.h[t], &z);
            gp += dot(&sys.h[t], &zp);
        }
        let mut zs = z0.to_vec();
        let mut gs = [0.0];
        carry(&[sys.psi], &[sys.lam0], &mut zs, &mut gs);
        for t in 0..steps {
            presynaptic(u[t], &sys.q[t..=t], &sys.r_m[t..=t], &mut zs, &mut gs);
        }
        let g_par = dot(&sys.lam0, &z0) + sys.par_g[0];
        let z_par: Vec<f64> = (0..3)
            .map(|k| mat_vec(&sys.psi, &z0)[k] + sys.par_z[0][k])
            .collect();
        assert!((gs[0] - g).abs() < 1e-12 && (g_par - gp).abs() < 1e-12);
        for k in 0..3 {
            assert!((zs[k] - z[k]).abs() < 1e-12 && (z_par[k] - zp[k]).abs() < 1e-12);
        }
    }
}

/// A hidden neuron's system with the readout filter, solved by its structure: per step the
/// neuron's `Ã` (`D × D`, own output included), `∂o/∂s` `g`, the input's `c` and the
/// parameters' columns; the eligibility `e = g·ε` drives the filter `F^I ← αF^I + e`,
/// `F^U ← βF^U + (1−β)F^I` (the same for every neuron), and the gradient collects
/// `r e + L F^U`. The results are those of [`System`] for `Z = D + 2` (a test checks it), at
/// `O(D³)` rather than `O(Z³)` per step.
pub(super) struct Filtered<F, const D: usize> {
    pub a: Vec<Mat<F, D>>,
    pub g: Vec<[F; D]>,
    pub c: Vec<[F; D]>,
    /// The parameters' columns `[K, S]` (scaled by their chain factors).
    pub params: Vec<[F; D]>,
    /// `r` (the regularizer's `∂R/∂cnt`) and `L[τ]` (the learning signal).
    pub r: F,
    pub learning: Vec<F>,
    /// The filter's decays `(α, β)`.
    pub decays: (F, F),
}

impl<F: Real, const D: usize> Filtered<F, D> {
    /// A system of `steps` steps with `params` per-neuron parameters.
    pub fn new(steps: usize, params: usize, decays: (F, F)) -> Self {
        Self {
            a: vec![[[F::zero(); D]; D]; steps],
            g: vec![[F::zero(); D]; steps],
            c: vec![[F::zero(); D]; steps],
            params: vec![[F::zero(); D]; steps * params],
            r: F::zero(),
            learning: vec![F::zero(); steps],
            decays,
        }
    }

    /// The backward recursions; writes the transition `psi`, start gradient `lam0`, the
    /// weights' `q[τ]`, `r_m[τ]` and the parameters' sums into `out` (`Z = D + 2`).
    pub fn solve<const Z: usize>(&self, out: &mut System<F, Z>) {
        assert_eq!(Z, D + 2, "the filter adds two components");
        let steps = self.a.len();
        let params = out.par_g.len();
        let (alpha, beta) = self.decays;
        let leak = F::one() - beta;
        // φ[k]: F^U k steps after a unit step into F^I; α^k and β^k.
        let mut phi = vec![F::zero(); steps];
        let (mut ak, mut bk) = (F::one(), F::one());
        let mut fi = F::one();
        let mut fu = F::zero();
        for p in phi.iter_mut() {
            fu = beta * fu + leak * fi;
            *p = fu;
            fi = alpha * fi;
        }
        for _ in 0..steps {
            ak *= alpha;
            bk *= beta;
        }
        // Adjoints (total derivatives with respect to ε[τ], F^I[τ], F^U[τ]) and the end
        // state's sensitivity to ε[τ]: ρε (D × D), ρI and ρU (1 × D).
        let (mut lam_e, mut lam_i, mut lam_u) = ([F::zero(); D], F::zero(), F::zero());
        let mut rho_e = identity::<F, D>();
        let (mut rho_i, mut rho_u) = ([F::zero(); D], [F::zero(); D]);
        out.par_g.iter_mut().for_each(|v| *v = F::zero());
        out.par_z.iter_mut().for_each(|v| *v = [F::zero(); Z]);
        let mut alpha_k = F::one();
        for tau in (0..steps).rev() {
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
                rho_u[k] += phi[steps - 1 - tau] * g[k];
            }
            alpha_k *= alpha;
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
        psi[D][D] = ak;
        psi[D + 1][D] = alpha * phi[steps - 1];
        psi[D + 1][D + 1] = bk;
        out.psi = psi;
    }
}

/// `[v; i; u]` of `Z = D + 2` values.
#[inline(always)]
fn extend<F: Real, const D: usize, const Z: usize>(v: &[F; D], i: F, u: F) -> [F; Z] {
    let mut out = [F::zero(); Z];
    out[..D].copy_from_slice(v);
    out[D] = i;
    out[D + 1] = u;
    out
}

/// The row vector `v A`.
#[inline(always)]
fn row_times<F: Real, const D: usize>(v: &[F; D], a: &Mat<F, D>) -> [F; D] {
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
