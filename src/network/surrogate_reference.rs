//! An independent check of the surrogate-gradient backward pass as used in training
//! (Heaviside forward, surrogate derivative backward, detached reset).
//!
//! Finite differences cannot check this mode, because the surrogate gradient is not the
//! gradient of the forward function. Instead, a separately written forward pass over dual
//! numbers `v + d·ε` defines the surrogate gradient by its rules — the spike's derivative is
//! the surrogate, the reset factor carries no derivative — and forward-mode differentiation
//! along each parameter gives the exact expected gradient, element by element.

use super::*;
use crate::surrogates::Surrogate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::{Add, Mul, Sub};

#[derive(Clone, Copy, Debug, Default)]
struct Dual {
    v: f64,
    d: f64,
}

impl Dual {
    fn c(v: f64) -> Self {
        Dual { v, d: 0.0 }
    }
    fn detach(self) -> Self {
        Dual::c(self.v)
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual {
            v: self.v - o.v,
            d: self.d - o.d,
        }
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}

/// One recurrent LIF layer and a leaky readout, written from the model equations.
struct Reference {
    w_in: Vec<Dual>,
    w_rec: Vec<Dual>,
    w_out: Vec<Dual>,
    alpha: f64,
    beta: f64,
    surrogate: Surrogate,
}

impl Reference {
    /// `Σ c · U_readout` for input `x` `[T, n_in]` (one sample).
    fn loss(&self, x: &[Vec<f64>], n_in: usize, n: usize, n_out: usize, c: &[Vec<f64>]) -> Dual {
        let (a, b) = (Dual::c(self.alpha), Dual::c(self.beta));
        let one = Dual::c(1.0);
        let (mut syn, mut mem, mut spk) = (
            vec![Dual::c(0.0); n],
            vec![Dual::c(0.0); n],
            vec![Dual::c(0.0); n],
        );
        let (mut ro_syn, mut ro_mem) = (vec![Dual::c(0.0); n_out], vec![Dual::c(0.0); n_out]);
        let mut total = Dual::c(0.0);
        for (xt, ct) in x.iter().zip(c) {
            let mut new_spk = vec![Dual::c(0.0); n];
            for j in 0..n {
                let mut cur = Dual::c(0.0);
                for (i, &x) in xt.iter().enumerate().take(n_in) {
                    cur = cur + Dual::c(x) * self.w_in[i * n + j];
                }
                for (i, &s) in spk.iter().enumerate() {
                    cur = cur + s * self.w_rec[i * n + j];
                }
                syn[j] = a * syn[j] + cur;
                mem[j] = b * mem[j] * (one - spk[j].detach()) + (one - b) * syn[j];
                let x = mem[j].v - 1.0;
                let s = if x > 0.0 { 1.0 } else { 0.0 };
                new_spk[j] = Dual {
                    v: s,
                    d: self.surrogate.derivative(x) * mem[j].d,
                };
            }
            spk = new_spk;
            for k in 0..n_out {
                let mut cur = Dual::c(0.0);
                for (i, &s) in spk.iter().enumerate() {
                    cur = cur + s * self.w_out[i * n_out + k];
                }
                ro_syn[k] = a * ro_syn[k] + cur;
                ro_mem[k] = b * ro_mem[k] + (one - b) * ro_syn[k];
                total = total + Dual::c(ct[k]) * ro_mem[k];
            }
        }
        total
    }
}

#[test]
fn surrogate_gradient_with_detached_reset_matches_forward_mode_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n_in, n, n_out, steps) = (4, 5, 3, 25);
    let surrogate = Surrogate::SuperSpike { beta: 5.0 };
    let spec = NetworkSpec::recurrent_lif(n_in, n, n_out, SpikeFn::Heaviside { surrogate });
    let mut net = Network::<f64>::new(&spec, &mut rng).unwrap();
    net.hidden[0]
        .w_in
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..4.0));
    net.hidden[0]
        .w_rec
        .as_mut()
        .unwrap()
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0));
    net.readout
        .w
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0));
    let x: Vec<Vec<f64>> = (0..steps)
        .map(|_| (0..n_in).map(|_| rng.random_range(0.0..1.0)).collect())
        .collect();
    let c: Vec<Vec<f64>> = (0..steps)
        .map(|_| (0..n_out).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();

    let xs = Seq::from_vec(steps, 1, n_in, x.concat()).unwrap();
    let cs = Seq::from_vec(steps, 1, n_out, c.concat()).unwrap();
    let input = Input::Dense {
        x: &xs,
        sparse: false,
    };
    let trace = net.forward::<ChaCha8Rng>(input, None);
    let spikes: f64 = trace.hidden[0].spikes().data.iter().sum();
    assert!(
        spikes > 10.0 && spikes < (steps * n) as f64 - 10.0,
        "activity {spikes}"
    );
    let grads = net.backward(input, &trace, &cs, &[]);

    let consts = |w: &[f64]| w.iter().map(|&v| Dual::c(v)).collect::<Vec<_>>();
    let base = Reference {
        w_in: consts(&net.hidden[0].w_in.data),
        w_rec: consts(&net.hidden[0].w_rec.as_ref().unwrap().data),
        w_out: consts(&net.readout.w.data),
        alpha: (-1.0_f64 / 5.0).exp(),
        beta: (-1.0_f64 / 10.0).exp(),
        surrogate,
    };
    let value = base.loss(&x, n_in, n, n_out, &c).v;
    let ours: f64 = trace
        .output()
        .data
        .iter()
        .zip(&cs.data)
        .map(|(u, c)| u * c)
        .sum();
    assert!(
        (value - ours).abs() < 1e-12,
        "forward passes differ: {value} vs {ours}"
    );
    for (k, tensor) in grads.iter().enumerate().take(3) {
        for i in 0..tensor.len() {
            let mut r = Reference {
                w_in: base.w_in.clone(),
                w_rec: base.w_rec.clone(),
                w_out: base.w_out.clone(),
                ..base
            };
            let w = match k {
                0 => &mut r.w_in,
                1 => &mut r.w_rec,
                _ => &mut r.w_out,
            };
            w[i].d = 1.0;
            let expect = r.loss(&x, n_in, n, n_out, &c).d;
            let got = tensor[i];
            assert!(
                (got - expect).abs() <= 1e-10 * expect.abs().max(1.0),
                "tensor {k}[{i}]: {got} vs {expect}"
            );
        }
    }
}
