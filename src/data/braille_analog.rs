//! The Braille recordings as analog sequences, as SpyTorch tutorial 5 (F. Zenke) feeds them
//! to its LIF encoder: the pressure `1 − x/255` of chosen taxels (the tutorial: 1, 2, 6 and
//! 10, the only ones that vary in the recordings), every sample cut to the shortest
//! sample's length, played at a chosen sample period. Standardization, which the tutorial
//! applies too, is done by the experiment with statistics of the training split only
//! ([`super::AnalogDataset::channel_stats`]).

use super::braille::{BrailleData, BRAILLE_FULL_SCALE};
use super::{AnalogDataset, AnalogSample, DataError};

impl BrailleData {
    /// The pressures `1 − x/255` of `taxels` (all taxels when empty), one channel each in
    /// the given order, cut to the shortest sample; `sample_period_s` apart.
    pub fn analog(
        &self,
        taxels: &[usize],
        sample_period_s: f64,
    ) -> Result<AnalogDataset, DataError> {
        let all: Vec<usize> = (0..self.taxels).collect();
        let taxels = if taxels.is_empty() { &all[..] } else { taxels };
        if let Some(&bad) = taxels.iter().find(|&&t| t >= self.taxels) {
            return Err(DataError::InvalidEncoding(format!(
                "taxel {bad} does not exist: the recordings have {} taxels",
                self.taxels
            )));
        }
        let steps = self.lengths.iter().copied().min().unwrap_or(0);
        if steps == 0 {
            return Err(DataError::InvalidEncoding(
                "the shortest recording has no samples".into(),
            ));
        }
        let mut samples = Vec::with_capacity(self.len());
        for (index, &class) in self.labels.iter().enumerate() {
            let signal = self.signal(index).ok_or(DataError::IndexOutOfRange {
                index,
                len: self.len(),
            })?;
            let values = signal
                .chunks_exact(self.taxels)
                .take(steps)
                .flat_map(|row| taxels.iter().map(|&t| 1.0 - row[t] / BRAILLE_FULL_SCALE))
                .collect();
            samples.push(AnalogSample { values, class });
        }
        AnalogDataset::new(
            samples,
            taxels.len(),
            self.class_names.len(),
            sample_period_s,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::BrailleEncoding;

    fn recordings() -> BrailleData {
        // Two samples of lengths 3 and 2 (padded to 3), 3 taxels.
        BrailleData {
            values: vec![
                255.0, 0.0, 51.0, 204.0, 0.0, 102.0, 153.0, 0.0, 0.0, //
                0.0, 255.0, 255.0, 51.0, 255.0, 255.0, 0.0, 0.0, 0.0,
            ],
            max_steps: 3,
            taxels: 3,
            lengths: vec![3, 2],
            labels: vec![1, 0],
            class_names: vec!["Space".into(), "A".into()],
            repetition: vec![0, 0],
            sample_rate_hz: 40.0,
        }
    }

    #[test]
    fn chosen_taxels_become_pressures_cut_to_the_shortest_sample() {
        let ds = recordings().analog(&[2, 0], 2e-3).unwrap();
        assert_eq!((ds.channels, ds.steps, ds.num_classes), (2, 2, 2));
        assert_eq!(ds.sample_period_s, 2e-3);
        // 1 − x/255 for taxels 2 and 0 of the first two steps.
        let close = |got: &[f32], want: [f32; 4]| {
            got.len() == 4 && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6)
        };
        assert!(close(&ds.samples[0].values, [0.8, 0.0, 0.6, 0.2]));
        assert!(close(&ds.samples[1].values, [0.0, 1.0, 0.0, 0.8]));
        assert_eq!((ds.samples[0].class, ds.samples[1].class), (1, 0));
        assert_eq!(recordings().analog(&[], 1.0).unwrap().channels, 3);
    }

    #[test]
    fn missing_taxels_and_bad_periods_are_errors() {
        let err = recordings().analog(&[0, 3], 1.0).unwrap_err();
        assert!(err.to_string().contains("taxel 3 does not exist"), "{err}");
        let encoding = BrailleEncoding::Analog {
            taxels: vec![],
            sample_period_ms: 0.0,
            standardize: true,
        };
        assert!(recordings().dataset(&encoding).is_err());
        assert!(recordings()
            .encode(&BrailleEncoding::Analog {
                taxels: vec![],
                sample_period_ms: 2.0,
                standardize: false,
            })
            .is_err());
    }
}
