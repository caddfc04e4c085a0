//! A synthetic SHD-like data set generated in memory, for timing whole training runs
//! (`spikegrad bench --workload train-run`) without downloads: 700 "cochlear" channels,
//! one class per "word", about as many spikes per sample as the Spiking Heidelberg Digits.
//!
//! Each class is a few formant-like tracks: a track's centre channel moves linearly from a
//! start to an end channel over the word, and channels near it fire as a Poisson process whose
//! rate falls off as a Gaussian of the distance. A sample speaks its class's word at its own
//! speed (duration), onset, channel shift and loudness, over background spikes on every
//! channel. Spikes are drawn in 5 ms bins at uniform times within them.

use crate::data::{EventDataset, EventSample, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Input channels, as in SHD.
pub const CHANNELS: usize = 700;
/// Length of a sample in seconds.
pub const DURATION_S: f64 = 1.2;
const TRACKS: usize = 6;
const BIN_S: f64 = 0.005;
const TRACK_WIDTH_CHANNELS: f64 = 12.0;
const PEAK_RATE_HZ: f64 = 50.0;
const BACKGROUND_RATE_HZ: f64 = 1.0;
const TRACK_JITTER: f64 = 60.0;

/// One formant track: its centre channel at the start and at the end of the word.
#[derive(Clone, Copy, Debug)]
struct Track {
    start_channel: f64,
    end_channel: f64,
}

/// `per_class` samples of each of `classes` words, in a shuffled order fixed by `seed`.
pub fn spoken_words(classes: usize, per_class: usize, seed: u64) -> EventDataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let words: Vec<[Track; TRACKS]> = (0..classes)
        .map(|_| {
            std::array::from_fn(|_| Track {
                start_channel: rng.random_range(40.0..660.0),
                end_channel: rng.random_range(40.0..660.0),
            })
        })
        .collect();
    let mut samples: Vec<EventSample> = (0..classes * per_class)
        .map(|i| speak(&words[i % classes], i % classes, &mut rng))
        .collect();
    crate::data::rng::shuffle(&mut rng, &mut samples);
    EventDataset::new(samples, CHANNELS, Some(classes), DURATION_S)
        .expect("generated spikes are in range")
}

/// One rendition of `word`.
fn speak(word: &[Track; TRACKS], class: usize, rng: &mut ChaCha8Rng) -> EventSample {
    let length_s = rng.random_range(0.5..0.9);
    let onset_s = rng.random_range(0.02..DURATION_S - length_s - 0.05);
    let shift = rng.random_range(-30.0..30.0);
    let loudness = rng.random_range(0.7..1.3);
    // Each track of this rendition ends a little elsewhere (a speaker's own formants).
    let word: Vec<Track> = word
        .iter()
        .map(|t| Track {
            start_channel: t.start_channel + rng.random_range(-TRACK_JITTER..TRACK_JITTER),
            end_channel: t.end_channel + rng.random_range(-TRACK_JITTER..TRACK_JITTER),
        })
        .collect();
    let (mut times_s, mut units) = (Vec::new(), Vec::new());
    let bins = (DURATION_S / BIN_S) as usize;
    let reach = (3.0 * TRACK_WIDTH_CHANNELS) as isize;
    for bin in 0..bins {
        let t = bin as f64 * BIN_S;
        let progress = (t - onset_s) / length_s;
        let mut emit = |channel: usize, rate_hz: f64, rng: &mut ChaCha8Rng| {
            if rng.random::<f64>() < rate_hz * BIN_S {
                times_s.push((t + rng.random::<f64>() * BIN_S) as f32);
                units.push(channel as u32);
            }
        };
        for channel in 0..CHANNELS {
            emit(channel, BACKGROUND_RATE_HZ, rng);
        }
        if !(0.0..1.0).contains(&progress) {
            continue;
        }
        for track in &word {
            let centre =
                track.start_channel + progress * (track.end_channel - track.start_channel) + shift;
            let nearest = centre.round() as isize;
            for channel in (nearest - reach).max(0)..(nearest + reach + 1).min(CHANNELS as isize) {
                let d = (channel as f64 - centre) / TRACK_WIDTH_CHANNELS;
                emit(
                    channel as usize,
                    loudness * PEAK_RATE_HZ * (-0.5 * d * d).exp(),
                    rng,
                );
            }
        }
    }
    EventSample {
        times_s,
        units,
        target: Target::Class(class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_have_shd_like_sizes_and_a_fixed_draw() {
        let data = spoken_words(4, 5, 3);
        assert_eq!(data.len(), 20);
        let spikes: usize = data.samples.iter().map(EventSample::len).sum();
        let per_sample = spikes as f64 / 20.0;
        // SHD: about 7000 spikes per sample (the synthetic digits here: 7165).
        assert!((3000.0..12000.0).contains(&per_sample), "{per_sample}");
        assert_eq!(data, spoken_words(4, 5, 3));
        assert_ne!(data, spoken_words(4, 5, 4));
    }
}
