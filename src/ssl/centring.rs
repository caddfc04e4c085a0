//! Batch normalisation of the projections without learned scale or shift (the part of the
//! paper's BatchNorm projector that rules out the trivial collapse of every projection to one
//! constant vector, which an MLP without normalisation reaches through its biases).
//!
//! Over a batch `ẑ` `[B, D]`, per feature `k`:
//!
//! ```text
//! Centred:       z = ẑ − μ,                 ∂L/∂ẑ = g − mean_b(g)
//! Standardised:  z = (ẑ − μ)/σ,  σ = √(var + ε),
//!                ∂L/∂ẑ = (g − mean_b(g) − z · mean_b(g z)) / σ
//! ```

use super::SslError;

/// How projections are normalised over the batch before the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionNorm {
    /// Used as they are.
    Identity,
    /// The batch mean of each feature subtracted.
    Centred,
    /// Centred and divided by the batch standard deviation of each feature.
    Standardised,
}

/// Added to the variance of [`ProjectionNorm::Standardised`].
const VARIANCE_EPS: f64 = 1e-5;

/// The normalised batch and what its backward pass needs.
#[derive(Clone, Debug)]
pub struct Normalised {
    /// `z` `[B, D]`.
    pub output: Vec<f32>,
    /// `σ` per feature (1 unless standardised).
    scale: Vec<f64>,
    norm: ProjectionNorm,
    dim: usize,
}

/// Normalises `z` `[B, dim]` over the batch.
pub fn normalise(norm: ProjectionNorm, z: &[f32], dim: usize) -> Result<Normalised, SslError> {
    if dim == 0 || z.is_empty() || !z.len().is_multiple_of(dim) {
        return Err(SslError::shape("projections", dim, z.len()));
    }
    let batch = (z.len() / dim) as f64;
    let mut mean = vec![0.0f64; dim];
    let mut var = vec![0.0f64; dim];
    if norm != ProjectionNorm::Identity {
        for row in z.chunks_exact(dim) {
            mean.iter_mut()
                .zip(row)
                .for_each(|(m, &v)| *m += v as f64 / batch);
        }
    }
    if norm == ProjectionNorm::Standardised {
        for row in z.chunks_exact(dim) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v as f64 - m).powi(2) / batch;
            }
        }
    }
    let scale: Vec<f64> = match norm {
        ProjectionNorm::Standardised => var.iter().map(|v| (v + VARIANCE_EPS).sqrt()).collect(),
        _ => vec![1.0; dim],
    };
    let output = z
        .chunks_exact(dim)
        .flat_map(|row| {
            row.iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((&v, m), s)| ((v as f64 - m) / s) as f32)
        })
        .collect();
    Ok(Normalised {
        output,
        scale,
        norm,
        dim,
    })
}

impl Normalised {
    /// `∂L/∂ẑ` from `g = ∂L/∂z` `[B, D]`.
    pub fn backward(&self, g: &[f32]) -> Result<Vec<f32>, SslError> {
        let d = self.dim;
        if g.len() != self.output.len() {
            return Err(SslError::shape(
                "projection gradient",
                self.output.len(),
                g.len(),
            ));
        }
        if self.norm == ProjectionNorm::Identity {
            return Ok(g.to_vec());
        }
        let batch = (g.len() / d) as f64;
        let mut mean_g = vec![0.0f64; d];
        let mut mean_gz = vec![0.0f64; d];
        for (gr, zr) in g.chunks_exact(d).zip(self.output.chunks_exact(d)) {
            for k in 0..d {
                mean_g[k] += gr[k] as f64 / batch;
                mean_gz[k] += gr[k] as f64 * zr[k] as f64 / batch;
            }
        }
        let standardised = self.norm == ProjectionNorm::Standardised;
        let (mean_g, mean_gz) = (&mean_g, &mean_gz);
        Ok(g.chunks_exact(d)
            .zip(self.output.chunks_exact(d))
            .flat_map(|(gr, zr)| {
                (0..d).map(move |k| {
                    let along = if standardised {
                        zr[k] as f64 * mean_gz[k]
                    } else {
                        0.0
                    };
                    ((gr[k] as f64 - mean_g[k] - along) / self.scale[k]) as f32
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backward pass matches central differences of `L = Σ w ⊙ z(ẑ)` (f32 forward, so a
    /// loose tolerance with a large step).
    #[test]
    fn backward_matches_finite_differences() {
        let (b, d) = (5, 3);
        let zhat: Vec<f32> = (0..b * d)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) / 2.0)
            .collect();
        let w: Vec<f32> = (0..b * d)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        for norm in [ProjectionNorm::Centred, ProjectionNorm::Standardised] {
            let loss = |z: &[f32]| -> f64 {
                let out = normalise(norm, z, d).unwrap().output;
                out.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum()
            };
            let analytic = normalise(norm, &zhat, d).unwrap().backward(&w).unwrap();
            let h = 1e-2f32;
            for i in 0..b * d {
                let (mut up, mut down) = (zhat.clone(), zhat.clone());
                up[i] += h;
                down[i] -= h;
                let numeric = (loss(&up) - loss(&down)) / (2.0 * h as f64);
                assert!(
                    (analytic[i] as f64 - numeric).abs() < 2e-3,
                    "{norm:?} {i}: {} vs {numeric}",
                    analytic[i]
                );
            }
        }
        let c = normalise(ProjectionNorm::Centred, &zhat, d).unwrap();
        let col0: f32 = c.output.chunks_exact(d).map(|r| r[0]).sum();
        assert!(col0.abs() < 1e-5);
        assert!(c.backward(&w[1..]).is_err());
    }
}
