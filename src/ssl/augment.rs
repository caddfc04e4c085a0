//! Image augmentations for the two views of a self-supervised pair: a random shift, a random
//! square mask (cutout) and additive Gaussian noise, on square grey images in `[0, 1]`.

use super::SslError;
use crate::error::{check_non_negative, ConfigError};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// How one view is drawn from an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    /// The image's side (28 for MNIST).
    pub side_px: usize,
    /// Each axis is shifted by a uniform whole number of pixels in `[−max, max]` (zero fill).
    pub max_shift_px: usize,
    /// The side of a square set to zero at a uniform position (0: none).
    pub mask_side_px: usize,
    /// The standard deviation of the added Gaussian noise (the result is clipped to `[0, 1]`).
    pub noise_std: f32,
}

impl Augmentation {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.side_px == 0 {
            return Err(ConfigError::new(
                "augmentation.side_px",
                "must be at least 1",
            ));
        }
        if self.max_shift_px >= self.side_px || self.mask_side_px > self.side_px {
            return Err(ConfigError::new(
                "augmentation",
                format!(
                    "shift {} and mask {} must be smaller than the side {}",
                    self.max_shift_px, self.mask_side_px, self.side_px
                ),
            ));
        }
        check_non_negative("augmentation.noise_std", self.noise_std as f64)
    }

    /// One view of `image` (`side²` pixels, row-major).
    pub fn view<R: Rng>(&self, image: &[f32], rng: &mut R) -> Result<Vec<f32>, SslError> {
        self.validate()?;
        let side = self.side_px;
        if image.len() != side * side {
            return Err(SslError::shape("image", side * side, image.len()));
        }
        let s = self.max_shift_px as i64;
        let (dy, dx) = (rng.random_range(-s..=s), rng.random_range(-s..=s));
        let mut out = vec![0.0f32; side * side];
        for y in 0..side as i64 {
            let sy = y - dy;
            if !(0..side as i64).contains(&sy) {
                continue;
            }
            for x in 0..side as i64 {
                let sx = x - dx;
                if (0..side as i64).contains(&sx) {
                    out[(y * side as i64 + x) as usize] = image[(sy * side as i64 + sx) as usize];
                }
            }
        }
        if self.mask_side_px > 0 {
            let k = self.mask_side_px;
            let (y0, x0) = (
                rng.random_range(0..=side - k),
                rng.random_range(0..=side - k),
            );
            for y in y0..y0 + k {
                out[y * side + x0..y * side + x0 + k].fill(0.0);
            }
        }
        if self.noise_std > 0.0 {
            for v in &mut out {
                let e: f32 = StandardNormal.sample(rng);
                *v = (*v + self.noise_std * e).clamp(0.0, 1.0);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shift_moves_pixels_and_mask_zeroes_a_square() {
        let side = 6;
        let mut image = vec![0.0f32; side * side];
        image[2 * side + 3] = 1.0;
        let shift = Augmentation {
            side_px: side,
            max_shift_px: 1,
            mask_side_px: 0,
            noise_std: 0.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20 {
            let v = shift.view(&image, &mut rng).unwrap();
            // The one bright pixel moves by at most one pixel per axis and keeps its value.
            let at = v.iter().position(|&p| p == 1.0).unwrap();
            assert!((at / side).abs_diff(2) <= 1 && (at % side).abs_diff(3) <= 1);
            assert_eq!(v.iter().sum::<f32>(), 1.0);
        }
        let mask = Augmentation {
            max_shift_px: 0,
            mask_side_px: 2,
            ..shift
        };
        let ones = vec![1.0f32; side * side];
        let v = mask.view(&ones, &mut rng).unwrap();
        assert_eq!(v.iter().filter(|&&p| p == 0.0).count(), 4);
        assert!(mask.view(&ones[1..], &mut rng).is_err());
        let bad = Augmentation {
            max_shift_px: side,
            ..shift
        };
        assert!(bad.view(&ones, &mut rng).is_err());
    }
}
