//! Dense (non-spiking) model families, beside the spiking [`crate::network::Network`].

mod activation;
pub mod bam;
pub mod mlp;

pub use activation::Activation;
pub use bam::{Bam, BamSpec, ConvActivation, ConvBlockSpec};
pub use mlp::{DenseInit, DenseLayerSpec, DenseWeights, Mlp, MlpSpec, MlpTrace};
