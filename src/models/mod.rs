//! Dense (non-spiking) model families, beside the spiking [`crate::network::Network`].

mod activation;
pub mod mlp;

pub use activation::Activation;
pub use mlp::{DenseInit, DenseLayerSpec, DenseWeights, Mlp, MlpSpec, MlpTrace};
