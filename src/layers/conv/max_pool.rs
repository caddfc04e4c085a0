//! Max pooling of a convolution's currents before the neurons (snnTorch's
//! `Conv2d → MaxPool2d → Leaky`): per step and sample, each `P_h × P_w` window of the
//! `[filters, H_c, W_c]` map (stride = window, no padding; rows and columns no full window
//! covers are dropped) passes its largest value. The adjoint sends a window's gradient to that
//! position, the first one in row-major order on ties (PyTorch's choice). Both are the
//! binary activation maps' pooling ([`max_pool2d`], [`max_pool2d_backward`]) over the
//! `T · B` rows; the backward pass recomputes the positions from the currents instead of
//! storing them.

use super::MapShape;
use crate::linalg::conv::{max_pool2d, max_pool2d_backward};
use crate::real::Real;
use crate::tensor::Seq;

/// The max pooling of a map: its size and the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool {
    /// The convolution's map that is pooled.
    pub map: MapShape,
    /// Window and stride `[P_h, P_w]`.
    pub size: [usize; 2],
}

impl MaxPool {
    /// The pooled map's units.
    pub fn outputs(&self) -> usize {
        self.map.channels * (self.map.height / self.size[0]) * (self.map.width / self.size[1])
    }
}

/// The pooled currents `[T, B, outputs]` of `z` `[T, B, H_c · W_c · filters]`.
///
/// # Panics
/// If `z`'s rows are not the map's size.
pub fn max_pool<F: Real>(pool: &MaxPool, z: &Seq<F>) -> Seq<F> {
    assert_eq!(z.width, pool.map.units(), "max_pool: map size");
    let (pooled, _, _) = max_pool2d(&z.data, pool.map, pool.size);
    Seq::from_vec(z.steps, z.batch, pool.outputs(), pooled).expect("the pooled shape")
}

/// The gradient of the unpooled currents `z` from the pooled ones' `g` `[T, B, outputs]`.
///
/// # Panics
/// If the shapes do not agree.
pub fn max_pool_grad<F: Real>(pool: &MaxPool, z: &Seq<F>, g: &Seq<F>) -> Seq<F> {
    assert_eq!(z.width, pool.map.units(), "max_pool_grad: map size");
    assert_eq!(
        (g.steps, g.batch, g.width),
        (z.steps, z.batch, pool.outputs()),
        "max_pool_grad: gradient"
    );
    let (_, _, positions) = max_pool2d(&z.data, pool.map, pool.size);
    let dz = max_pool2d_backward(&g.data, &positions, pool.map, z.steps * z.batch);
    Seq::from_vec(z.steps, z.batch, z.width, dz).expect("the map's shape")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn map(channels: usize, height: usize, width: usize) -> MapShape {
        MapShape {
            channels,
            height,
            width,
        }
    }

    fn random_seq(t: usize, b: usize, n: usize, rng: &mut ChaCha8Rng) -> Seq<f64> {
        let mut s = Seq::zeros(t, b, n);
        s.data
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-1.0..1.0));
        s
    }

    #[test]
    fn square_windows_match_the_binary_activation_maps_pooling() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pool = MaxPool {
            map: map(3, 7, 6),
            size: [2, 2],
        };
        let z = random_seq(4, 2, 3 * 7 * 6, &mut rng);
        let (expected, shape, _) = max_pool2d(&z.data, pool.map, [2, 2]);
        assert_eq!(shape.units(), pool.outputs());
        assert_eq!(max_pool(&pool, &z).data, expected);
    }

    #[test]
    fn rectangular_windows_and_the_adjoint() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pool = MaxPool {
            map: map(2, 5, 7),
            size: [1, 3],
        };
        let z = random_seq(3, 2, 70, &mut rng);
        let y = max_pool(&pool, &z);
        assert_eq!(y.width, 2 * 5 * 2);
        // By hand: channel 1, row 4, window 1 covers columns 3..6.
        let row = &z.data[..70];
        let window = (3..6).map(|x| row[(5 + 4) * 7 + x]);
        let max = window.fold(f64::MIN, f64::max);
        assert_eq!(y.data[(5 + 4) * 2 + 1], max);
        // The gradient is the adjoint: ⟨max_pool'(z)·dz, g⟩ = ⟨dz, max_pool_grad(z, g)⟩ and
        // matches finite differences of ⟨max_pool(z), g⟩ (no ties among random values).
        let g = random_seq(3, 2, y.width, &mut rng);
        let dz = max_pool_grad(&pool, &z, &g);
        let loss = |z: &Seq<f64>| -> f64 {
            let y = max_pool(&pool, z);
            y.data.iter().zip(&g.data).map(|(a, b)| a * b).sum()
        };
        for i in (0..z.data.len()).step_by(7) {
            let (mut plus, mut minus) = (z.clone(), z.clone());
            plus.data[i] += 1e-7;
            minus.data[i] -= 1e-7;
            let fd = (loss(&plus) - loss(&minus)) / 2e-7;
            assert!(
                (fd - dz.data[i]).abs() < 1e-6,
                "{i}: {fd} vs {}",
                dz.data[i]
            );
        }
        // Ties go to the first position.
        let zeros = Seq::zeros(3, 2, 70);
        let dz = max_pool_grad(&pool, &zeros, &g);
        assert_eq!(dz.data[0], g.data[0]);
        assert_eq!((dz.data[1], dz.data[2]), (0.0, 0.0));
    }
}
