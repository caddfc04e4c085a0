//! Audio → spikes: the Heidelberg cochlea model that made the SHD and SSC data sets.
//!
//! Cramer, Stradmann, Schemmel & Zenke (2020), "The Heidelberg spiking data sets for the
//! systematic evaluation of spiking neural networks", IEEE TNNLS, converted recordings into
//! 700 spike trains with a chain of published models (the `lauscher` package). This module
//! implements that chain, one file per stage:
//!
//! 1. [`normalize`]: scale to RMS 0.3;
//! 2. [`window`]: Hann ramps over each half of the signal;
//! 3. [`basilar`]: the hydrodynamic basilar-membrane model of Sieroka, Dosch & Rupp (2006),
//!    700 places from base to apex, evaluated in the frequency domain (complex Hankel
//!    functions from [`hankel`]); the output rate is half the input rate;
//! 4. [`hair_cell`]: the Meddis (1986, 1988) inner hair cell, velocity → firing probability;
//! 5. [`bushy`]: 40 refractory auditory-nerve fibres per channel converging onto one LIF
//!    bushy cell, which gives the channel's spike train.
//!
//! [`Cochlea::audio_to_spikes`] runs the whole chain, channels in parallel (`rayon`), each
//! channel fused from the membrane filter to its spikes so that no `channels × samples`
//! array is held. Random draws come from ChaCha8 seeded with the caller's seed and the
//! channel as stream, so a seed gives the same spikes whatever the thread count.
//! Spikes are returned sorted by time, then channel, like lauscher's output. Channel 0 is
//! the base of the cochlea (the highest frequencies), channel 699 the apex.
//!
//! [`wav`] reads WAV files (any rate, integer or float samples, mixed down to mono).

pub mod basilar;
pub mod bushy;
mod filter;
pub mod hair_cell;
pub mod hankel;
mod hankel_asymptotic;
pub mod normalize;
mod params;
mod rng;
mod tail;
mod transfer;
pub mod transfer_cache;
pub mod wav;
pub mod window;

pub use basilar::{BasilarMembrane, BasilarParams, TransferMethod};
pub use bushy::BushyParams;
pub use hair_cell::HairCellParams;
pub use transfer_cache::{TransferCache, TransferMatrix};
pub use wav::{read_wav, MonoAudio};

pub use params::ParamError;
use params::{check_count, check_positive};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

/// Number of channels of the SHD and SSC data sets.
pub const COCHLEA_CHANNELS: usize = 700;

/// Why audio could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The signal has no samples or only zeros.
    #[error("the signal is empty or silent (zero RMS), so it cannot be normalised")]
    Silent,
    /// A sample is NaN or infinite.
    #[error("sample {index} is NaN or infinite")]
    NonFinite {
        /// The audio sample's index.
        index: usize,
    },
    /// The sample rate cannot carry the model (the output rate is half of it).
    #[error("sample rate {0} Hz is too low (at least 2 Hz)")]
    SampleRate(u32),
    /// A WAV file could not be read.
    #[error("{}: {reason}", path.display())]
    Wav {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// A parameter is out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
}

/// Parameters of the whole chain; the defaults are those of the SHD and SSC data sets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CochleaParams {
    /// Number of places along the membrane (channels of the output).
    pub channels: usize,
    /// RMS level the signal is scaled to.
    pub rms_level: f64,
    /// Basilar-membrane model.
    pub basilar: BasilarParams,
    /// Inner hair cells.
    pub hair_cell: HairCellParams,
    /// Auditory-nerve fibres and bushy cells.
    pub bushy: BushyParams,
}

impl Default for CochleaParams {
    fn default() -> Self {
        Self {
            channels: COCHLEA_CHANNELS,
            rms_level: normalize::RMS_LEVEL,
            basilar: BasilarParams::default(),
            hair_cell: HairCellParams::default(),
            bushy: BushyParams::default(),
        }
    }
}

/// Signals per channel at one sample rate.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSignals {
    /// Sample rate of every channel (Hz).
    pub sample_rate_hz: f64,
    /// One signal per channel, all of the same length.
    pub channels: Vec<Vec<f64>>,
}

/// Spikes of all channels, sorted by time, then channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CochleaSpikes {
    /// Spike times (s) from the start of the signal.
    pub times_s: Vec<f64>,
    /// Channel of each spike.
    pub units: Vec<u32>,
    /// Sample rate of the model's output (Hz), half the input's.
    pub output_rate_hz: f64,
}

/// The cochlea model (see the module documentation).
#[derive(Clone, Debug)]
pub struct Cochlea {
    params: CochleaParams,
    membrane: BasilarMembrane,
}

impl Cochlea {
    /// The model for `params`, checked.
    pub fn new(params: CochleaParams) -> Result<Self, AudioError> {
        check_params(&params)?;
        Ok(Self {
            membrane: BasilarMembrane::new(params.basilar),
            params,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &CochleaParams {
        &self.params
    }

    /// The basilar-membrane model.
    pub fn membrane(&self) -> &BasilarMembrane {
        &self.membrane
    }

    /// Spike trains of the channels for `samples` (mono) at `sample_rate_hz`; `seed` fixes
    /// every random draw.
    pub fn audio_to_spikes(
        &self,
        samples: &[f64],
        sample_rate_hz: u32,
        seed: u64,
    ) -> Result<CochleaSpikes, AudioError> {
        let input = self.prepare(samples, sample_rate_hz)?;
        let per_channel = self.membrane.filter_channels(
            &input,
            sample_rate_hz,
            self.params.channels,
            |channel, velocity| self.channel_spikes(channel, velocity, sample_rate_hz, seed),
        );
        Ok(merge_channels(&per_channel, sample_rate_hz))
    }

    /// [`Self::audio_to_spikes`] with the transfer matrix taken from (or added to) `cache`:
    /// the same spikes, much faster for many signals of one length and rate.
    pub fn audio_to_spikes_cached(
        &self,
        cache: &mut TransferCache,
        samples: &[f64],
        sample_rate_hz: u32,
        seed: u64,
    ) -> Result<CochleaSpikes, AudioError> {
        let input = self.prepare(samples, sample_rate_hz)?;
        let bins = input.len() / 2 + 1;
        let Some(matrix) = cache.get(&self.membrane, bins, sample_rate_hz, self.params.channels)
        else {
            return self.audio_to_spikes(samples, sample_rate_hz, seed);
        };
        let per_channel = self.membrane.filter_with_matrix(
            &matrix,
            &input,
            sample_rate_hz,
            |channel, velocity| self.channel_spikes(channel, velocity, sample_rate_hz, seed),
        );
        Ok(merge_channels(&per_channel, sample_rate_hz))
    }

    /// Stages 4–5 for one channel: its spike sample indices.
    fn channel_spikes(
        &self,
        channel: usize,
        velocity: &[f64],
        sample_rate_hz: u32,
        seed: u64,
    ) -> Vec<u32> {
        let rate = f64::from(sample_rate_hz / 2);
        let mut prob = vec![0.0; velocity.len()];
        self.params
            .hair_cell
            .firing_probability(velocity, rate, &mut prob);
        let mut rng = channel_rng(seed, channel);
        self.params.bushy.spike_samples(&prob, rate, &mut rng)
    }

    /// The membrane velocity of every channel (stages 1–3).
    pub fn membrane_velocity(
        &self,
        samples: &[f64],
        sample_rate_hz: u32,
    ) -> Result<ChannelSignals, AudioError> {
        let input = self.prepare(samples, sample_rate_hz)?;
        let channels = self.membrane.filter_channels(
            &input,
            sample_rate_hz,
            self.params.channels,
            |_, velocity| velocity.to_vec(),
        );
        Ok(ChannelSignals {
            sample_rate_hz: f64::from(sample_rate_hz / 2),
            channels,
        })
    }

    /// The hair cells' firing probability per output sample of every channel (stages 1–4).
    pub fn firing_probability(
        &self,
        samples: &[f64],
        sample_rate_hz: u32,
    ) -> Result<ChannelSignals, AudioError> {
        let mut signals = self.membrane_velocity(samples, sample_rate_hz)?;
        let rate = signals.sample_rate_hz;
        for channel in &mut signals.channels {
            let velocity = std::mem::take(channel);
            channel.resize(velocity.len(), 0.0);
            self.params
                .hair_cell
                .firing_probability(&velocity, rate, channel);
        }
        Ok(signals)
    }

    /// Stages 1–2: RMS normalisation and Hann ramps, on a copy of `samples`.
    pub fn prepare(&self, samples: &[f64], sample_rate_hz: u32) -> Result<Vec<f64>, AudioError> {
        if sample_rate_hz < 2 {
            return Err(AudioError::SampleRate(sample_rate_hz));
        }
        let mut input = samples.to_vec();
        normalize::normalize_rms(&mut input, self.params.rms_level)?;
        window::apply_half_hann(&mut input);
        Ok(input)
    }
}

/// The spikes of all channels (sample indices per channel), sorted by time, then channel.
fn merge_channels(per_channel: &[Vec<u32>], sample_rate_hz: u32) -> CochleaSpikes {
    let rate = f64::from(sample_rate_hz / 2);
    let mut events: Vec<(u32, u32)> = per_channel
        .iter()
        .enumerate()
        .flat_map(|(ch, steps)| steps.iter().map(move |&s| (s, ch as u32)))
        .collect();
    events.sort_unstable();
    CochleaSpikes {
        times_s: events.iter().map(|&(s, _)| f64::from(s) / rate).collect(),
        units: events.iter().map(|&(_, ch)| ch).collect(),
        output_rate_hz: rate,
    }
}

/// The random stream of `channel` for `seed`.
fn channel_rng(seed: u64, channel: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(channel as u64);
    rng
}

fn check_params(p: &CochleaParams) -> Result<(), ParamError> {
    check_count("cochlea.channels", p.channels)?;
    if p.channels > usize::from(u16::MAX) + 1 {
        return Err(ParamError::new(
            "cochlea.channels",
            "at most 65536 (16-bit unit ids)",
        ));
    }
    check_positive("cochlea.rms_level", p.rms_level)?;
    let b = &p.basilar;
    for (name, v) in [
        ("a", b.a),
        ("alpha_per_cm", b.alpha_per_cm),
        ("rho", b.rho),
        ("length_cm", b.length_cm),
        ("c0", b.c0),
        ("de", b.de),
        ("h_cm", b.h_cm),
        ("m", b.m),
    ] {
        check_positive(&format!("cochlea.basilar.{name}"), v)?;
    }
    let h = &p.hair_cell;
    for (name, v) in [
        ("y", h.y),
        ("g", h.g),
        ("l", h.l),
        ("r", h.r),
        ("x", h.x),
        ("a", h.a),
        ("b", h.b),
        ("h", h.h),
        ("m", h.m),
    ] {
        check_positive(&format!("cochlea.hair_cell.{name}"), v)?;
    }
    let c = &p.bushy;
    check_count("cochlea.bushy.n_convergence", c.n_convergence)?;
    if c.n_convergence > 255 {
        return Err(ParamError::new(
            "cochlea.bushy.n_convergence",
            "at most 255",
        ));
    }
    check_positive("cochlea.bushy.tau_mem_s", c.tau_mem_s)?;
    check_positive("cochlea.bushy.tau_syn_s", c.tau_syn_s)?;
    check_positive("cochlea.bushy.tau_refrac_s", c.tau_refrac_s)?;
    check_positive("cochlea.bushy.weight_total", c.weight_total)?;
    Ok(())
}

/// The seed of the `k`-th signal of a conversion run with `seed` (SplitMix64 of the two):
/// `spikegrad audio2spikes` draws file `k`'s spikes with it, a single file with
/// `sample_seed(seed, 0)`.
pub fn sample_seed(seed: u64, k: usize) -> u64 {
    let mut z = seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
