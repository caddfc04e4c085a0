//! Reading WAV files as mono `f64` samples (`hound`, pure Rust).
//!
//! Integer formats (8 to 32 bits) are scaled to `[−1, 1)` by `2^{bits−1}` and 32-bit float
//! samples are taken as they are; several channels are mixed down to their mean. The scale
//! does not matter to the cochlea model, whose first stage normalises the RMS level.

use super::AudioError;
use hound::{SampleFormat, WavReader};
use std::path::Path;

/// A mono signal.
#[derive(Clone, Debug, PartialEq)]
pub struct MonoAudio {
    /// Samples, mixed down to one channel.
    pub samples: Vec<f64>,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

/// Reads the WAV file at `path`; errors name the file.
pub fn read_wav(path: &Path) -> Result<MonoAudio, AudioError> {
    let error = |reason: String| AudioError::Wav {
        path: path.to_path_buf(),
        reason,
    };
    let reader = WavReader::open(path).map_err(|e| error(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 {
        return Err(error("the header declares 0 channels".into()));
    }
    let interleaved: Vec<f64> = match spec.sample_format {
        SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(error(format!("{} bits per sample", spec.bits_per_sample)));
            }
            let scale = 1.0 / f64::from(1u32 << (spec.bits_per_sample - 1).min(31));
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| f64::from(v) * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| error(e.to_string()))?
        }
        SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()
            .map_err(|e| error(e.to_string()))?,
    };
    if let Some(index) = interleaved.iter().position(|x| !x.is_finite()) {
        return Err(error(format!(
            "sample {} is NaN or infinite",
            index / channels
        )));
    }
    let samples = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f64>() / channels as f64)
        .collect();
    Ok(MonoAudio {
        samples,
        sample_rate_hz: spec.sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{WavSpec, WavWriter};

    fn write<S: hound::Sample + Copy>(path: &Path, spec: WavSpec, frames: &[Vec<S>]) {
        let mut w = WavWriter::create(path, spec).unwrap();
        for frame in frames {
            for &s in frame {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn int16_stereo_is_scaled_and_mixed_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let spec = WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        write(&path, spec, &[vec![16384i16, 0], vec![-32768, -16384]]);
        let audio = read_wav(&path).unwrap();
        assert_eq!(audio.sample_rate_hz, 22_050);
        assert_eq!(audio.samples, [0.25, -0.75]);
    }

    #[test]
    fn float_and_24_bit_files_read() {
        let dir = tempfile::tempdir().unwrap();
        let float = dir.path().join("f.wav");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        write(&float, spec, &[vec![0.5f32], vec![-0.125]]);
        assert_eq!(read_wav(&float).unwrap().samples, [0.5, -0.125]);
        let int24 = dir.path().join("i.wav");
        let spec = WavSpec {
            bits_per_sample: 24,
            sample_format: SampleFormat::Int,
            ..spec
        };
        write(&int24, spec, &[vec![1i32 << 22], vec![-(1 << 23)]]);
        assert_eq!(read_wav(&int24).unwrap().samples, [0.5, -1.0]);
    }

    #[test]
    fn bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.wav");
        std::fs::write(&path, b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
        let err = read_wav(&path).unwrap_err().to_string();
        assert!(err.contains("broken.wav"), "{err}");
        let missing = read_wav(&dir.path().join("none.wav"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("none.wav"), "{missing}");
        let nan = dir.path().join("nan.wav");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 32,
            sample_format: SampleFormat::Float,
        };
        write(&nan, spec, &[vec![0.5f32], vec![f32::NAN]]);
        let err = read_wav(&nan).unwrap_err().to_string();
        assert!(err.contains("nan.wav") && err.contains("sample 1"), "{err}");
    }
}
