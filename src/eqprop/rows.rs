//! Complex states of a batch, stored so that real weights act on them with one real product:
//! the real parts of all rows first, then (for complex states) their imaginary parts.

use crate::real::Real;
use num_complex::Complex64 as C;

/// Whether states carry imaginary parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parts {
    /// Real states (the free phase, real nudging): `rows` stacked rows.
    Real,
    /// Complex states: `2 · rows` stacked rows, real parts then imaginary parts.
    Complex,
}

/// `rows` states of `width` units each.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows<F> {
    /// States.
    pub rows: usize,
    /// Units per state.
    pub width: usize,
    /// Real or complex.
    pub parts: Parts,
    /// `[stacked rows, width]`, row-major.
    pub data: Vec<F>,
}

impl<F: Real> Rows<F> {
    /// Zeros.
    pub fn zeros(rows: usize, width: usize, parts: Parts) -> Self {
        let mut out = Self {
            rows,
            width,
            parts,
            data: Vec::new(),
        };
        out.data = vec![F::zero(); out.stacked() * width];
        out
    }

    /// Rows of the stacked layout (`rows`, or `2 · rows` for complex states).
    pub fn stacked(&self) -> usize {
        match self.parts {
            Parts::Real => self.rows,
            Parts::Complex => 2 * self.rows,
        }
    }

    /// The real parts `[rows, width]`.
    pub fn re(&self) -> &[F] {
        &self.data[..self.rows * self.width]
    }

    /// The imaginary parts `[rows, width]` (`None` for real states).
    pub fn im(&self) -> Option<&[F]> {
        match self.parts {
            Parts::Real => None,
            Parts::Complex => Some(&self.data[self.rows * self.width..]),
        }
    }

    /// Entry `(row, unit)`.
    pub fn get(&self, row: usize, unit: usize) -> C {
        let i = row * self.width + unit;
        let im = self.im().map_or(0.0, |im| im[i].as_f64());
        C::new(self.re()[i].as_f64(), im)
    }

    /// Sets entry `(row, unit)` (the imaginary part is dropped for real states).
    pub fn set(&mut self, row: usize, unit: usize, value: C) {
        let i = row * self.width + unit;
        self.data[i] = F::from_f64(value.re);
        if self.parts == Parts::Complex {
            self.data[self.rows * self.width + i] = F::from_f64(value.im);
        }
    }

    /// These rows `copies` times over, as complex states (copy `c` in rows `c · rows ..`).
    pub fn replicated(&self, copies: usize) -> Self {
        let mut out = Self::zeros(copies * self.rows, self.width, Parts::Complex);
        let n = self.rows * self.width;
        for c in 0..copies {
            out.data[c * n..(c + 1) * n].copy_from_slice(self.re());
            if let Some(im) = self.im() {
                let offset = copies * n + c * n;
                out.data[offset..offset + n].copy_from_slice(im);
            }
        }
        out
    }

    /// Copy `c` of [`Self::replicated`]'s layout (rows `c · n .. (c + 1) · n` of `n`-row copies).
    pub fn copy(&self, c: usize, copies: usize) -> Self {
        let n = self.rows / copies;
        let mut out = Self::zeros(n, self.width, self.parts);
        let len = n * self.width;
        out.data[..len].copy_from_slice(&self.re()[c * len..(c + 1) * len]);
        if let Some(im) = self.im() {
            out.data[len..].copy_from_slice(&im[c * len..(c + 1) * len]);
        }
        out
    }

    /// The same states as complex ones.
    pub fn into_complex(self) -> Self {
        match self.parts {
            Parts::Complex => self,
            Parts::Real => self.replicated(1),
        }
    }
}

/// `σ(z) = 1/(1 + e^{−(4z−2)})` for `z = x + iy`, returned as `(re, im)`. Real arguments
/// take the real path; for `Re(4z − 2) < 0` the equal form `v/(1 + v)`, `v = e^{4z−2}`, keeps
/// every intermediate finite.
pub fn sigmoid<F: Real>(x: F, y: F) -> (F, F) {
    let (two, four, one) = (F::from_f64(2.0), F::from_f64(4.0), F::one());
    let a = four * x - two;
    if y == F::zero() {
        let s = if a >= F::zero() {
            one / (one + (-a).exp())
        } else {
            let v = a.exp();
            v / (one + v)
        };
        return (s, F::zero());
    }
    let (sin, cos) = (four * y).sin_cos();
    if a >= F::zero() {
        // 1/(1 + w), w = e^{−a}(cos 4y − i sin 4y)
        let m = (-a).exp();
        let (p, q) = (one + m * cos, -m * sin);
        let d = p * p + q * q;
        (p / d, -q / d)
    } else {
        // v/(1 + v), v = e^{a}(cos 4y + i sin 4y): 1 − 1/(1 + v)
        let m = a.exp();
        let (p, q) = (one + m * cos, m * sin);
        let d = p * p + q * q;
        (one - p / d, q / d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eqprop::energy::activation;

    #[test]
    fn the_split_sigmoid_equals_the_complex_formula() {
        for &(x, y) in &[
            (0.3, 0.0),
            (-4.0, 0.0),
            (0.7, 0.2),
            (-1.5, -0.4),
            (2.0, 1.1),
            (0.5, 0.0),
            (-30.0, 0.3),
        ] {
            let (re, im) = sigmoid(x, y);
            let want = activation(C::new(x, y));
            assert!((re - want.re).abs() < 1e-12, "{x} {y}: {re} vs {}", want.re);
            assert!((im - want.im).abs() < 1e-12, "{x} {y}: {im} vs {}", want.im);
        }
    }

    #[test]
    fn replicated_copies_round_trip() {
        let mut r = Rows::<f64>::zeros(2, 3, Parts::Complex);
        r.set(1, 2, C::new(0.5, -0.25));
        let rep = r.replicated(3);
        assert_eq!(rep.rows, 6);
        assert_eq!(rep.get(5, 2), C::new(0.5, -0.25));
        assert_eq!(rep.copy(2, 3), r);
    }
}
