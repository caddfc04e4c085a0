//! The data of an experiment whose source is the Braille letter recordings.

use super::{ExperimentError, SPLIT};
use crate::config::{DataSource, ExperimentConfig};
use crate::data::{read_braille, BrailleEncoding, Dataset, Split};
use crate::training::derive_seed;

/// The encoded recordings and their split by `data.split` (stratified by letter when
/// `data.stratified`), drawn with the run's seed. Analog data asked to be standardized is
/// standardized with the statistics of the training split.
pub(super) fn load(config: &ExperimentConfig) -> Result<(Dataset, Split), ExperimentError> {
    let DataSource::Braille { path, encoding } = &config.data.source else {
        unreachable!("called for Braille sources only");
    };
    let mut data = read_braille(path)?.dataset(encoding)?;
    let seed = derive_seed(config.seed, SPLIT, 0);
    let split = data.split_fractions(config.data.split, seed, config.data.stratified)?;
    let standardize = matches!(
        encoding,
        BrailleEncoding::Analog {
            standardize: true,
            ..
        }
    );
    if let (Dataset::Analog(analog), true) = (&mut data, standardize) {
        let stats = analog.channel_stats(&split.train)?;
        analog.normalize(&stats);
    }
    Ok((data, split))
}
