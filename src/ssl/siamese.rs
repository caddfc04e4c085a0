//! A Siamese MLP trained without labels by the closed-form predictor and BYOL's cosine loss or
//! IsoLoss (Halvagal, Laborieux & Zenke, NeurIPS 2023), with an EMA target or none.
//!
//! One network (`crate::models::Mlp`) holds the encoder's layers followed by the projector's
//! (`Linear–ReLU–Linear`); the representation is the last encoder layer's ReLU output. Each
//! update draws two views `a`, `b` of a batch and, with `z = online(view)` and `z_t` the
//! target's projection of the other view,
//!
//! ```text
//! z = norm(projector output)   (over the batch: see `centring`; online and target alike)
//! C and W_P updated from [z_a; z_b];   L = loss(z_a W_P, z_t,b) + loss(z_b W_P, z_t,a)
//! EMA target:      θ_t ← τ θ_t + (1 − τ) θ      (after each step)
//! no EMA:          z_t = sg(z) of the online network itself
//! ```

use super::augment::Augmentation;
use super::centring::{normalise, ProjectionNorm};
use super::losses::{batch_gradient, Distance, Objective};
use super::predictor::{ClosedFormPredictor, PredictorConfig};
use super::SslError;
use crate::error::{check_positive, ConfigError};
use crate::models::{Activation, DenseInit, DenseLayerSpec, DenseWeights, Mlp, MlpSpec};
use crate::optimizers::{Optimizer, OptimizerKind};
use crate::tensor::Seq;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where the target projections come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// An exponential moving average of the online weights, `θ_t ← τθ_t + (1 − τ)θ`.
    Ema {
        /// `τ` per update, in `[0, 1)` (paper: 0.99 rising to 1).
        decay: f64,
    },
    /// The online network itself, not differentiated (the paper's `-noema` runs).
    StopGradient,
}

/// The architecture and training of a Siamese network.
#[derive(Clone, Debug, PartialEq)]
pub struct SiameseConfig {
    /// Pixels per image.
    pub inputs: usize,
    /// The encoder's ReLU layer widths; the last is the representation.
    pub encoder_widths: Vec<usize>,
    /// The projector's hidden ReLU width.
    pub projector_hidden: usize,
    /// The projection's width `D`.
    pub projection_dim: usize,
    /// BYOL's chain rule or IsoLoss.
    pub objective: Objective,
    /// EMA target or none.
    pub target: Target,
    /// How the projections (online and target) are normalised over the batch.
    pub projection_norm: ProjectionNorm,
    /// The closed-form predictor's constants.
    pub predictor: PredictorConfig,
    /// How views are drawn.
    pub augmentation: Augmentation,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Images per update.
    pub batch: usize,
    /// Passes over the images.
    pub epochs: usize,
    /// Seeds the weights, the order and the views.
    pub seed: u64,
}

impl SiameseConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.encoder_widths.is_empty() || self.encoder_widths.contains(&0) {
            return Err(ConfigError::new(
                "siamese.encoder_widths",
                "needs widths ≥ 1",
            ));
        }
        if self.batch < 2
            || self.inputs == 0
            || self.projector_hidden == 0
            || self.projection_dim == 0
        {
            return Err(ConfigError::new(
                "siamese",
                "batch must be at least 2 and every width at least 1",
            ));
        }
        if let Target::Ema { decay } = self.target {
            if !(0.0..1.0).contains(&decay) {
                return Err(ConfigError::new(
                    "siamese.target.decay",
                    "must lie in [0, 1)",
                ));
            }
        }
        self.predictor.validate()?;
        self.augmentation.validate()?;
        check_positive("siamese.learning_rate", self.learning_rate)
    }

    fn spec(&self) -> MlpSpec {
        let relu = |size| DenseLayerSpec {
            size,
            activation: Activation::Relu,
        };
        let mut hidden: Vec<DenseLayerSpec> =
            self.encoder_widths.iter().map(|&s| relu(s)).collect();
        hidden.push(relu(self.projector_hidden));
        MlpSpec {
            inputs: self.inputs,
            hidden,
            outputs: self.projection_dim,
            bias: true,
            init: DenseInit::KaimingNormal,
            weights: DenseWeights::Real,
        }
    }
}

/// The online network, its target, the predictor and the optimiser.
pub struct Siamese {
    config: SiameseConfig,
    online: Mlp<f32>,
    target: Option<Mlp<f32>>,
    predictor: ClosedFormPredictor,
    optimizer: Optimizer<f32>,
    rng: ChaCha8Rng,
}

impl Siamese {
    /// A network with freshly drawn weights (the target starts as a copy).
    pub fn new(config: SiameseConfig) -> Result<Self, SslError> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let online = Mlp::new(&config.spec(), &mut rng)?;
        let target = matches!(config.target, Target::Ema { .. }).then(|| online.clone());
        let predictor = ClosedFormPredictor::new(config.projection_dim, config.predictor)?;
        let shapes: Vec<usize> = online.tensors().iter().map(|t| t.data.len()).collect();
        let kind = OptimizerKind::Adam {
            lr: config.learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        };
        let optimizer = Optimizer::new(kind, &shapes)?;
        Ok(Self {
            config,
            online,
            target,
            predictor,
            optimizer,
            rng,
        })
    }

    /// Trains for the configured epochs on `pixels` `[N, inputs]` and returns the mean loss of
    /// each epoch.
    pub fn train(&mut self, pixels: &[f32]) -> Result<Vec<f64>, SslError> {
        let n = self.config.inputs;
        if pixels.is_empty() || !pixels.len().is_multiple_of(n) {
            return Err(SslError::shape("images", n, pixels.len()));
        }
        let mut order: Vec<usize> = (0..pixels.len() / n).collect();
        let mut losses = Vec::with_capacity(self.config.epochs);
        for _ in 0..self.config.epochs {
            order.shuffle(&mut self.rng);
            let (mut total, mut count) = (0.0, 0);
            for ids in order.chunks_exact(self.config.batch) {
                let a = self.views(pixels, ids)?;
                let b = self.views(pixels, ids)?;
                total += self.step(&a, &b)?;
                count += 1;
            }
            losses.push(total / count.max(1) as f64);
        }
        Ok(losses)
    }

    /// The representations (the last encoder layer) of `pixels` `[N, inputs]`, `[N, width]`.
    pub fn features(&self, pixels: &[f32]) -> Result<Vec<f32>, SslError> {
        let n = self.config.inputs;
        if !pixels.len().is_multiple_of(n) {
            return Err(SslError::shape("images", n, pixels.len()));
        }
        let layer = self.config.encoder_widths.len() - 1;
        let mut out = Vec::new();
        for chunk in pixels.chunks(512 * n) {
            let x = batch_seq(chunk, n)?;
            out.extend_from_slice(&self.online.forward(&x).hidden(layer).data);
        }
        Ok(out)
    }

    /// The representation's width.
    pub fn feature_dim(&self) -> usize {
        self.config.encoder_widths.last().copied().unwrap_or(0)
    }

    /// The predictor (its eigenvalues show how isotropic the projections are).
    pub fn predictor(&self) -> &ClosedFormPredictor {
        &self.predictor
    }

    fn views(&mut self, pixels: &[f32], ids: &[usize]) -> Result<Seq<f32>, SslError> {
        let n = self.config.inputs;
        let mut data = Vec::with_capacity(ids.len() * n);
        for &i in ids {
            data.extend(
                self.config
                    .augmentation
                    .view(&pixels[i * n..(i + 1) * n], &mut self.rng)?,
            );
        }
        batch_seq(&data, n)
    }

    /// One update on the views `a`, `b`; returns the symmetrised loss.
    fn step(&mut self, a: &Seq<f32>, b: &Seq<f32>) -> Result<f64, SslError> {
        let (norm, d) = (self.config.projection_norm, self.config.projection_dim);
        let (trace_a, trace_b) = (self.online.forward(a), self.online.forward(b));
        let za = normalise(norm, &trace_a.output.data, d)?;
        let zb = normalise(norm, &trace_b.output.data, d)?;
        let mut both = za.output.clone();
        both.extend_from_slice(&zb.output);
        self.predictor.update(&both)?;
        let (ta, tb) = match &self.target {
            Some(target) => (
                normalise(norm, &target.forward(a).output.data, d)?.output,
                normalise(norm, &target.forward(b).output.data, d)?.output,
            ),
            None => (za.output.clone(), zb.output.clone()),
        };
        let (objective, wp) = (self.config.objective, self.predictor.matrix());
        let (la, ga) = batch_gradient(objective, Distance::Cosine, wp, &za.output, &tb)?;
        let (lb, gb) = batch_gradient(objective, Distance::Cosine, wp, &zb.output, &ta)?;
        let (ga, gb) = (za.backward(&ga)?, zb.backward(&gb)?);
        let mut grads = self.online.backward(&trace_a, &batch_seq(&ga, d)?);
        let grads_b = self.online.backward(&trace_b, &batch_seq(&gb, d)?);
        for (g, h) in grads.iter_mut().zip(&grads_b) {
            g.iter_mut().zip(h).for_each(|(x, y)| *x += y);
        }
        let refs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        let mut params = self.online.tensors_mut();
        let mut slices: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
        self.optimizer
            .step(&mut slices, &refs, self.config.learning_rate as f32)?;
        if let (Some(target), Target::Ema { decay }) = (&mut self.target, self.config.target) {
            let tau = decay as f32;
            for (t, o) in target
                .tensors_mut()
                .into_iter()
                .zip(self.online.tensors_mut())
            {
                t.iter_mut()
                    .zip(o.iter())
                    .for_each(|(t, &o)| *t = tau * *t + (1.0 - tau) * o);
            }
        }
        if !(la + lb).is_finite() {
            return Err(SslError::NonFinite("loss (learning rate too large?)"));
        }
        Ok(la + lb)
    }
}

/// `[1, B, n]` of row-major `data`.
fn batch_seq(data: &[f32], n: usize) -> Result<Seq<f32>, SslError> {
    Seq::from_vec(1, data.len() / n, n, data.to_vec())
        .ok_or_else(|| SslError::shape("batch", n, data.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(target: Target) -> SiameseConfig {
        SiameseConfig {
            inputs: 16,
            encoder_widths: vec![12, 6],
            projector_hidden: 10,
            projection_dim: 4,
            objective: Objective::IsoLoss,
            target,
            projection_norm: ProjectionNorm::Centred,
            predictor: PredictorConfig::default(),
            augmentation: Augmentation {
                side_px: 4,
                max_shift_px: 1,
                mask_side_px: 0,
                noise_std: 0.05,
            },
            learning_rate: 1e-3,
            batch: 8,
            epochs: 2,
            seed: 7,
        }
    }

    /// Training runs with and without the EMA target, moves the EMA target's weights towards
    /// the online ones, and gives features of the representation's width; bad input fails.
    #[test]
    fn trains_and_extracts_features() {
        let pixels: Vec<f32> = (0..32 * 16)
            .map(|i| ((i * 31 % 17) as f32) / 17.0)
            .collect();
        for target in [Target::Ema { decay: 0.9 }, Target::StopGradient] {
            let mut net = Siamese::new(config(target)).unwrap();
            let before = net.online.layers[0].w.data.clone();
            let losses = net.train(&pixels).unwrap();
            assert_eq!(losses.len(), 2);
            assert!(losses
                .iter()
                .all(|l| l.is_finite() && (-4.0..=4.0).contains(l)));
            assert_ne!(before, net.online.layers[0].w.data);
            if let Some(t) = &net.target {
                // The EMA target moved away from the initial weights but not all the way.
                let (t, o) = (&t.layers[0].w.data, &net.online.layers[0].w.data);
                assert!(t != &before && t != o);
            }
            let f = net.features(&pixels).unwrap();
            assert_eq!(f.len(), 32 * net.feature_dim());
            assert!(net.train(&pixels[1..]).is_err());
        }
        let bad = SiameseConfig {
            batch: 1,
            ..config(Target::StopGradient)
        };
        assert!(Siamese::new(bad).is_err());
    }
}
