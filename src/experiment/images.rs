//! The data of an experiment whose source is an image file.

use super::{ExperimentError, SPLIT};
use crate::config::{DataSource, ExperimentConfig};
use crate::data::{Dataset, ImageData, ImageEncoding, ImagesConfig, Split};
use crate::training::derive_seed;

/// The seed purpose of rate-coded image spikes.
const ENCODE: u64 = 14;

/// The images as pixels (dense encoding) or spikes, and their split by `data.split`
/// (stratified by class when `data.stratified`), drawn with the run's seed; and the images'
/// map `[1, height, width]`.
pub(super) fn load(
    config: &ExperimentConfig,
) -> Result<(Dataset, Split, Vec<usize>), ExperimentError> {
    let DataSource::Images(images) = &config.data.source else {
        unreachable!("called for image sources only");
    };
    let mut pixels = ImageData::read(&images.path, images.max_value)?;
    if let Some(side) = images.resize_px {
        pixels = pixels.resized(side)?;
    }
    let data = encode(&pixels, images, config.seed)?;
    let seed = derive_seed(config.seed, SPLIT, 0);
    let split = data.split_fractions(config.data.split, seed, config.data.stratified)?;
    Ok((data, split, vec![1, pixels.height, pixels.width]))
}

/// `images` as the dataset its encoding asks for (spikes drawn from the run's `seed`).
pub fn encode(
    images: &ImageData,
    source: &ImagesConfig,
    seed: u64,
) -> Result<Dataset, ExperimentError> {
    Ok(match source.encoding {
        ImageEncoding::Dense => images.to_analog(DENSE_PERIOD_S)?.into(),
        spikes => images
            .to_events(spikes, derive_seed(seed, ENCODE, 0))?
            .into(),
    })
}

/// The nominal period of a one-step dense sample (a dense network has no time).
pub const DENSE_PERIOD_S: f64 = 1.0;
