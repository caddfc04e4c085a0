#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Kernel micro-benchmarks (criterion): the products and the LIF scan of the `shd-rsnn` step,
//! so that a regression in one kernel is visible on its own.
//!
//! `cargo bench --bench kernels`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikegrad::events::SpikeEvents;
use spikegrad::linalg;
use spikegrad::neurons::{FixedLif, Lif, ResetGrad, ResetMode};
use spikegrad::scan;
use spikegrad::surrogates::{SpikeFn, Surrogate};
use spikegrad::tensor::{Matrix, Seq};

const T: usize = 100;
const B: usize = 128;
const INPUTS: usize = 700;
const HIDDEN: usize = 256;

fn random_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize, scale: f32) -> Matrix<f32> {
    let data = (0..rows * cols)
        .map(|_| rng.random_range(-scale..scale))
        .collect();
    Matrix::from_vec(rows, cols, data).unwrap()
}

fn input_events(rng: &mut ChaCha8Rng) -> SpikeEvents {
    SpikeEvents::bernoulli(T, B, INPUTS, 0.015, rng)
}

/// The shd-rsnn hidden layer: constant decays, so only `U` is kept for the backward pass.
fn lif() -> FixedLif<f32> {
    FixedLif(Lif {
        alpha: vec![(-0.2f32).exp(); HIDDEN],
        beta: vec![(-0.1f32).exp(); HIDDEN],
        threshold: 1.0,
        spike: SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 100.0 },
        },
        reset: ResetGrad::Detached,
        reset_mode: ResetMode::Zero,
    })
}

fn products(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let events = input_events(&mut rng);
    let dense: Seq<f32> = events.to_dense();
    let w = random_matrix(&mut rng, INPUTS, HIDDEN, 0.3);
    let g = Seq::from_vec(T, B, HIDDEN, vec![0.01; T * B * HIDDEN]).unwrap();
    c.bench_function("events_forward 700x256 (1.5% input)", |b| {
        b.iter_batched_ref(
            || Seq::zeros(T, B, HIDDEN),
            |out| linalg::events_forward(&events, &w, out),
            BatchSize::LargeInput,
        )
    });
    c.bench_function("dense_forward 700x256 (same input, gemm)", |b| {
        b.iter_batched_ref(
            || Seq::zeros(T, B, HIDDEN),
            |out| linalg::dense_forward(&dense, &w, out),
            BatchSize::LargeInput,
        )
    });
    c.bench_function("events_grad_weight 700x256", |b| {
        b.iter_batched_ref(
            || Matrix::zeros(INPUTS, HIDDEN),
            |dw| linalg::events_grad_weight(&events, &g, dw),
            BatchSize::LargeInput,
        )
    });
    c.bench_function("dense_grad_weight 700x256 (gemm)", |b| {
        b.iter_batched_ref(
            || Matrix::zeros(INPUTS, HIDDEN),
            |dw| linalg::dense_grad_weight(&dense, &g, dw),
            BatchSize::LargeInput,
        )
    });
}

fn lif_scan(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let model = lif();
    let w_rec = random_matrix(&mut rng, HIDDEN, HIDDEN, 0.4);
    let data = (0..T * B * HIDDEN)
        .map(|_| rng.random_range(-0.2f32..0.6))
        .collect();
    let current = Seq::from_vec(T, B, HIDDEN, data).unwrap();
    let trace = scan::forward(&model, current.clone(), Some(&w_rec));
    let g = Seq::from_vec(T, B, HIDDEN, vec![0.01; T * B * HIDDEN]).unwrap();
    c.bench_function("lif scan forward 256 recurrent", |b| {
        b.iter_batched(
            || current.clone(),
            |x| scan::forward(&model, x, Some(&w_rec)),
            BatchSize::LargeInput,
        )
    });
    c.bench_function("lif scan backward 256 recurrent", |b| {
        b.iter(|| scan::backward(&model, &trace, &g, Some(&w_rec)))
    });
}

criterion_group! {
    name = kernels;
    config = Criterion::default().sample_size(20);
    targets = products, lif_scan
}
criterion_main!(kernels);
