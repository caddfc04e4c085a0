//! The Meddis inner-hair-cell model: basilar-membrane motion → firing probability.
//!
//! Meddis (1986), "Simulation of mechanical to neural transduction in the auditory
//! receptor", JASA 79(3):702; Meddis (1988), "Simulation of auditory-neural transduction:
//! Further studies", JASA 83(3):1056. Three transmitter pools — free transmitter `q`, cleft
//! contents `c` and reprocessing store `w` — exchange transmitter at rates driven by the
//! stimulus `s(t)` (here the basilar-membrane velocity):
//!
//! ```text
//! k(t)  = g (s + A) / (s + A + B)          if s + A > 0, else 0   (membrane permeability)
//! dq/dt = y (M − q) [q < M] + x w − k q
//! dc/dt = k q − (l + r) c
//! dw/dt = r c − x w
//! P(spike in dt) = h c dt
//! ```
//!
//! integrated with forward Euler at the signal's sample rate, each pool clamped at zero,
//! starting from the resting state of `s = 0`. Parameters of the Heidelberg pipeline
//! (lauscher's `HairCell`): `y = 5.05, g = 2000, l = 2500, r = 6580, x = 66.3, A = 5,
//! B = 300, h = 50000, M = 1`. For a constant stimulus the state converges to the fixed
//! point `c* = M y k / (l k + y (l + r))`, `q* = c* (l + r)/k`, `w* = c* r / x` — the
//! closed form the tests check against.

/// Parameters of the Meddis hair cell (rates in 1/s, `m` in transmitter units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HairCellParams {
    /// Replenishment rate `y`.
    pub y: f64,
    /// Maximum permeability `g`.
    pub g: f64,
    /// Cleft loss rate `l`.
    pub l: f64,
    /// Reuptake rate `r`.
    pub r: f64,
    /// Reprocessing rate `x`.
    pub x: f64,
    /// Permeability offset `A`.
    pub a: f64,
    /// Permeability half-saturation `B`.
    pub b: f64,
    /// Firing rate per unit of cleft transmitter `h`.
    pub h: f64,
    /// Capacity of the free pool `M`.
    pub m: f64,
}

impl Default for HairCellParams {
    fn default() -> Self {
        Self {
            y: 5.05,
            g: 2000.0,
            l: 2500.0,
            r: 6580.0,
            x: 66.3,
            a: 5.0,
            b: 300.0,
            h: 50_000.0,
            m: 1.0,
        }
    }
}

/// The transmitter pools `(q, c, w)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HairCellState {
    /// Free transmitter.
    pub q: f64,
    /// Cleft contents.
    pub c: f64,
    /// Reprocessing store.
    pub w: f64,
}

impl HairCellParams {
    /// Permeability `k(s)` in 1/s.
    pub fn permeability(&self, stimulus: f64) -> f64 {
        let drive = stimulus + self.a;
        if drive > 0.0 {
            self.g * drive / (drive + self.b)
        } else {
            0.0
        }
    }

    /// The fixed point of the pools for a constant stimulus (the resting state for 0).
    pub fn steady_state(&self, stimulus: f64) -> HairCellState {
        let k = self.permeability(stimulus);
        let c = self.m * self.y * k / (self.l * k + self.y * (self.l + self.r));
        let q = if k > 0.0 {
            c * (self.l + self.r) / k
        } else {
            self.m
        };
        HairCellState {
            q,
            c,
            w: c * self.r / self.x,
        }
    }

    /// Firing probability per sample for the stimulus `signal` sampled at `sample_rate_hz`,
    /// written into `out` (same length), starting from the resting state.
    pub fn firing_probability(&self, signal: &[f64], sample_rate_hz: f64, out: &mut [f64]) {
        debug_assert_eq!(signal.len(), out.len());
        let dt = 1.0 / sample_rate_hz;
        let mut s = self.steady_state(0.0);
        let loss = (self.l + self.r) * dt;
        for (&stim, p) in signal.iter().zip(out.iter_mut()) {
            let drive = stim + self.a;
            let k_dt = if drive > 0.0 {
                self.g * dt * drive / (drive + self.b)
            } else {
                0.0
            };
            let replenish = if s.q < self.m {
                self.y * dt * (self.m - s.q)
            } else {
                0.0
            };
            let eject = k_dt * s.q;
            let reprocess = self.x * dt * s.w;
            let q = (s.q + replenish - eject + reprocess).max(0.0);
            let c = (s.c + eject - loss * s.c).max(0.0);
            let w = (s.w + self.r * dt * s.c - reprocess).max(0.0);
            s = HairCellState { q, c, w };
            *p = s.c * self.h * dt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_stationary_under_the_rates() {
        // The closed form must zero every derivative (hand-derived from the ODEs).
        let p = HairCellParams::default();
        for s in [0.0, 3.0, 40.0, 1e3] {
            let k = p.permeability(s);
            let st = p.steady_state(s);
            let dq = p.y * (p.m - st.q) + p.x * st.w - k * st.q;
            let dc = k * st.q - (p.l + p.r) * st.c;
            let dw = p.r * st.c - p.x * st.w;
            for d in [dq, dc, dw] {
                assert!(d.abs() < 1e-9, "s={s}: {dq} {dc} {dw}");
            }
        }
    }

    #[test]
    fn constant_stimulus_converges_to_the_closed_form() {
        let p = HairCellParams::default();
        let fs = 16_000.0;
        for s in [0.0, 2.0, 50.0, 500.0] {
            let signal = vec![s; 40_000]; // 2.5 s, many times the slowest time constant
            let mut out = vec![0.0; signal.len()];
            p.firing_probability(&signal, fs, &mut out);
            let want = p.steady_state(s).c * p.h / fs;
            let got = *out.last().unwrap();
            assert!((got - want).abs() < 1e-9 * want, "s={s}: {got} vs {want}");
        }
    }

    #[test]
    fn rest_stays_at_rest_and_a_step_gives_an_onset_peak() {
        let p = HairCellParams::default();
        let fs = 16_000.0;
        let rest = p.steady_state(0.0).c * p.h / fs;
        let mut signal = vec![0.0; 1600];
        signal[800..].iter_mut().for_each(|s| *s = 200.0);
        let mut out = vec![0.0; signal.len()];
        p.firing_probability(&signal, fs, &mut out);
        assert!(out[..800]
            .iter()
            .all(|&x| (x - rest).abs() < 1e-15 * rest.max(1.0)));
        // Adaptation: the onset response exceeds the (lower) sustained one, which exceeds rest.
        let peak = out[800..900].iter().cloned().fold(0.0, f64::max);
        let sustained = *out.last().unwrap();
        assert!(
            peak > 1.5 * sustained && sustained > rest,
            "{peak} {sustained} {rest}"
        );
    }
}
