//! spikegrad: fast, correct surrogate-gradient training of spiking neural networks.
//!
//! The engine is plain Rust with hand-written forward and adjoint kernels: sequences are
//! time-major `[T, B, N]`, spike operands are consumed as row gathers, one generic time scan
//! runs every neuron model forward and backward, and dense products go through `gemm`.
//!
//! The crate's README follows (its example is compiled and run as a doc test).
#![doc = include_str!("../README.md")]

/// The Heidelberg cochlea model (the `spikegrad-cochlea` crate).
pub use spikegrad_cochlea as audio;
pub mod bench;
pub mod config;
pub mod consolidation;
pub mod continual;
pub mod data;
pub mod disinhibition;
pub mod eqprop;
pub mod error;
pub mod events;
pub mod experiment;
pub mod filters;
pub mod inference;
pub mod initializers;
pub mod io;
pub mod layers;
pub mod linalg;
pub mod losses;
pub mod metrics;
pub mod models;
pub mod network;
pub mod neurons;
pub mod nir;
pub mod ntt;
pub mod optimizers;
pub mod quant;
pub mod real;
pub mod regularizers;
pub mod reproduce;
pub mod rules;
pub mod scan;
pub mod ssl;
pub mod substrate;
pub mod surrogates;
pub mod synapses;
pub mod tensor;
pub mod training;

pub use real::Real;
pub use tensor::{Matrix, Seq};
