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

use super::lanes::Elem;
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

impl<F: Elem, const Z: usize> System<F, Z> {
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
/// and `r_m` (`[units, Z]` flat) are that step's `m · λ` and `R m` of every unit.
pub(super) fn presynaptic<F: Real>(u: F, q: &[F], r_m: &[F], z_syn: &mut [F], g_syn: &mut [F]) {
    debug_assert_eq!(r_m.len(), z_syn.len(), "one R m per trace value");
    g_syn.iter_mut().zip(q).for_each(|(g, &qj)| *g += u * qj);
    z_syn.iter_mut().zip(r_m).for_each(|(v, &r)| *v += u * r);
}

pub(super) fn identity<F: Elem, const Z: usize>() -> Mat<F, Z> {
    let mut m = [[F::zero(); Z]; Z];
    (0..Z).for_each(|k| m[k][k] = F::one());
    m
}

#[inline(always)]
pub(super) fn dot<F: Elem, const Z: usize>(a: &[F; Z], b: &[F; Z]) -> F {
    let mut s = F::zero();
    for k in 0..Z {
        s += a[k] * b[k];
    }
    s
}

#[inline(always)]
pub(super) fn add<F: Elem, const Z: usize>(dst: &mut [F; Z], src: &[F; Z]) {
    for k in 0..Z {
        dst[k] += src[k];
    }
}

#[inline(always)]
pub(super) fn mat_vec<F: Elem, const Z: usize>(m: &Mat<F, Z>, v: &[F; Z]) -> [F; Z] {
    let mut out = [F::zero(); Z];
    for r in 0..Z {
        out[r] = dot(&m[r], v);
    }
    out
}

#[inline(always)]
pub(super) fn mat_t_vec<F: Elem, const Z: usize>(m: &Mat<F, Z>, v: &[F; Z]) -> [F; Z] {
    let mut out = [F::zero(); Z];
    for r in 0..Z {
        for c in 0..Z {
            out[c] += m[r][c] * v[r];
        }
    }
    out
}

#[inline(always)]
pub(super) fn mat_mul<F: Elem, const Z: usize>(a: &Mat<F, Z>, b: &Mat<F, Z>) -> Mat<F, Z> {
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
            presynaptic(u[t], &sys.q[t..=t], &sys.r_m[t][..], &mut zs, &mut gs);
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
