//! The data of an experiment whose source is the Braille letter recordings.

use super::{ExperimentError, SPLIT};
use crate::config::{DataSource, ExperimentConfig};
use crate::data::{read_braille, EventDataset, Split};
use crate::training::derive_seed;

/// The encoded recordings and their split by `data.split` (stratified by letter when
/// `data.stratified`), drawn with the run's seed.
pub(super) fn load(config: &ExperimentConfig) -> Result<(EventDataset, Split), ExperimentError> {
    let DataSource::Braille { path, encoding } = &config.data.source else {
        unreachable!("called for Braille sources only");
    };
    let data = read_braille(path)?.encode(encoding)?;
    let seed = derive_seed(config.seed, SPLIT, 0);
    let split = data.split_fractions(config.data.split, seed, config.data.stratified)?;
    Ok((data, split))
}
