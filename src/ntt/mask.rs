//! Binary masks on the weight matrices of an [`Mlp`] (biases are never masked, as in the
//! reference code): magnitude masks (keep the largest `|w|` of each layer) and random masks of
//! the same per-layer count (the baseline).

use super::mlp::Mlp;
use crate::real::Real;
use rand::Rng;

/// How a mask chooses the weights it keeps in each layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Keep the largest magnitudes `|w|` of each layer (ties go to the lower index).
    Magnitude,
    /// Keep uniformly random positions of each layer (the random-sparse baseline).
    Random,
}

/// One keep flag per weight of each layer (`keep[k]` is `[n_out_k · n_in_k]`, row-major).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    /// Per layer, `true` where the weight is kept.
    pub keep: Vec<Vec<bool>>,
}

/// The number of weights kept out of `n` at `density`: `round(density · n)`, at least one.
pub fn kept_count(n: usize, density: f64) -> usize {
    assert!(
        density > 0.0 && density <= 1.0,
        "density must be in (0, 1], got {density}"
    );
    ((density * n as f64).round() as usize).clamp(1, n.max(1))
}

impl Mask {
    /// Keeps every weight.
    pub fn dense<F: Real>(net: &Mlp<F>) -> Self {
        Self {
            keep: net.layers.iter().map(|l| vec![true; l.w.len()]).collect(),
        }
    }

    /// A per-layer mask keeping exactly [`kept_count`]`(n_k, density)` weights of each layer,
    /// chosen by `kind`; `rng` is used only by [`MaskKind::Random`].
    pub fn new<F: Real, R: Rng + ?Sized>(
        net: &Mlp<F>,
        density: f64,
        kind: MaskKind,
        rng: &mut R,
    ) -> Self {
        let keep = net
            .layers
            .iter()
            .map(|l| {
                let n = l.w.len();
                let k = kept_count(n, density);
                let mut idx: Vec<usize> = (0..n).collect();
                match kind {
                    MaskKind::Magnitude => {
                        let by_mag = |&a: &usize, &b: &usize| {
                            l.w[b]
                                .abs()
                                .partial_cmp(&l.w[a].abs())
                                .unwrap_or(std::cmp::Ordering::Equal)
                                .then(a.cmp(&b))
                        };
                        if k < n {
                            idx.select_nth_unstable_by(k, by_mag);
                        }
                    }
                    MaskKind::Random => {
                        // Partial Fisher–Yates: the first k entries become a uniform k-subset.
                        for i in 0..k.min(n.saturating_sub(1)) {
                            let j = rng.random_range(i..n);
                            idx.swap(i, j);
                        }
                    }
                }
                let mut keep = vec![false; n];
                for &i in &idx[..k] {
                    keep[i] = true;
                }
                keep
            })
            .collect();
        Self { keep }
    }

    /// The fraction of weights kept over all layers.
    pub fn density(&self) -> f64 {
        let kept: usize = self
            .keep
            .iter()
            .map(|k| k.iter().filter(|&&b| b).count())
            .sum();
        let total: usize = self.keep.iter().map(Vec::len).sum();
        kept as f64 / total as f64
    }

    /// The output units of `layer` whose every incoming weight is pruned: they see only
    /// their bias, so a sparse network can no longer tell their inputs apart (at 3% of a
    /// 100×10 readout, a whole class can be cut off).
    pub fn units_without_inputs(&self, layer: usize, n_in: usize) -> Vec<usize> {
        self.keep[layer]
            .chunks(n_in.max(1))
            .enumerate()
            .filter(|(_, row)| !row.contains(&true))
            .map(|(unit, _)| unit)
            .collect()
    }

    /// Zeroes the masked weights of `net` in place (biases untouched).
    pub fn apply<F: Real>(&self, net: &mut Mlp<F>) {
        for (l, keep) in net.layers.iter_mut().zip(&self.keep) {
            assert_eq!(l.w.len(), keep.len(), "mask and layer differ in size");
            for (w, &k) in l.w.iter_mut().zip(keep) {
                if !k {
                    *w = F::zero();
                }
            }
        }
    }

    /// A copy of `net` with the masked weights zeroed (the effective sparse network `m ⊙ θ`).
    pub fn masked<F: Real>(&self, net: &Mlp<F>) -> Mlp<F> {
        let mut out = net.clone();
        self.apply(&mut out);
        out
    }
}
