//! The image sets of the dense reproductions (equilibrium propagation and its successors) as
//! plain arrays: read once, split per class into training and test images by a seeded
//! shuffle.

use crate::data::images::ImageData;
use crate::data::rng;
use crate::experiment::{file_error, ExperimentError};
use std::path::Path;

/// The 5000-digit MNIST subset (28×28).
pub(super) const MNIST5K: &str = "../shared/data/mnist5k/mnist5k.h5";
/// The 1797 8×8 digits.
pub(super) const DIGITS: &str = "../shared/data/digits/digits.h5";

/// Images `[N, size]` in `[0, 1]` and their classes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Images {
    /// Pixels, row-major.
    pub pixels: Vec<f32>,
    /// Classes.
    pub labels: Vec<usize>,
    /// Pixels per image.
    pub size: usize,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The first `n` images (all if fewer).
    pub fn truncated(mut self, n: usize) -> Self {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.size);
        self
    }

    fn select(data: &ImageData, ids: &[usize]) -> Self {
        Self {
            pixels: ids.iter().flat_map(|&i| data.image(i)).copied().collect(),
            labels: ids.iter().map(|&i| data.labels[i]).collect(),
            size: data.size(),
        }
    }
}

/// Training and test images.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ImageSplit {
    /// Training images, shuffled.
    pub train: Images,
    /// Test images, shuffled.
    pub test: Images,
    /// Classes.
    pub num_classes: usize,
}

/// Reads `path` (a clear error naming it where it is absent) and puts `train_fraction` of each
/// class into the training set, chosen by `seed`.
pub(super) fn read_split(
    path: &str,
    train_fraction: f64,
    seed: u64,
) -> Result<ImageSplit, ExperimentError> {
    let path = Path::new(path);
    if !path.exists() {
        return Err(file_error(
            path,
            "the image set is missing (run from the repository root, beside shared/)",
        ));
    }
    let data = ImageData::read(path, None)?;
    let mut rng = rng::seeded(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in 0..data.num_classes {
        let mut ids: Vec<usize> = (0..data.len())
            .filter(|&i| data.labels[i] == class)
            .collect();
        rng::shuffle(&mut rng, &mut ids);
        let cut = (ids.len() as f64 * train_fraction).round() as usize;
        train.extend_from_slice(&ids[..cut]);
        test.extend_from_slice(&ids[cut..]);
    }
    rng::shuffle(&mut rng, &mut train);
    rng::shuffle(&mut rng, &mut test);
    Ok(ImageSplit {
        train: Images::select(&data, &train),
        test: Images::select(&data, &test),
        num_classes: data.num_classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stratified_and_seeded() {
        if !Path::new(MNIST5K).exists() {
            eprintln!("skipped: {MNIST5K} is absent");
            return;
        }
        let split = read_split(MNIST5K, 0.8, 3).unwrap();
        assert_eq!((split.train.len(), split.test.len()), (4000, 1000));
        for class in 0..split.num_classes {
            let count = |s: &Images| s.labels.iter().filter(|&&c| c == class).count();
            let (a, b) = (count(&split.train), count(&split.test));
            assert!(
                (a as f64 / (a + b) as f64 - 0.8).abs() < 0.01,
                "class {class}"
            );
        }
        assert_eq!(split, read_split(MNIST5K, 0.8, 3).unwrap());
        assert_ne!(split.train, read_split(MNIST5K, 0.8, 4).unwrap().train);
    }
}
