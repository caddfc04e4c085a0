//! Spike rasters drawn as images: rows are neurons (top row first), columns are time bins, and
//! pixels darker than a threshold are spikes. SuperSpike's target patterns are given this way
//! (Zenke & Ganguli 2018, Fig. 5: a picture as a spike pattern of 200 neurons).
//!
//! PNG files of any colour type and bit depth are read; colours become luminance
//! (ITU-R BT.601 weights), and transparent pixels count as white (no spike).

use std::io::Read;
use thiserror::Error;

/// The largest raster read: 4096 neurons × 65 536 time bins.
pub const MAX_RASTER_ROWS: usize = 4096;
/// See [`MAX_RASTER_ROWS`].
pub const MAX_RASTER_COLUMNS: usize = 65_536;

/// A binary raster `[rows, columns]`, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raster {
    /// Neurons.
    pub rows: usize,
    /// Time bins.
    pub columns: usize,
    /// `spikes[row * columns + column]`.
    pub spikes: Vec<bool>,
}

impl Raster {
    /// Whether neuron `row` spikes in bin `column`.
    pub fn at(&self, row: usize, column: usize) -> bool {
        self.spikes[row * self.columns + column]
    }

    /// The number of spikes.
    pub fn count(&self) -> usize {
        self.spikes.iter().filter(|&&s| s).count()
    }
}

/// The project's own target pattern for SuperSpike's image task, `rows × columns` (the
/// paper's shape is 200 × 189): a circle crossed by two periods of a sine wave, drawn one
/// pixel wide, so that every neuron fires a few precisely timed spikes.
pub fn drawn_target(rows: usize, columns: usize) -> Raster {
    let mut spikes = vec![false; rows * columns];
    let (h, w) = (rows as f64, columns as f64);
    let mut mark = |x: f64, y: f64| {
        let (c, r) = (x.round(), y.round());
        if (0.0..w).contains(&c) && (0.0..h).contains(&r) {
            spikes[r as usize * columns + c as usize] = true;
        }
    };
    let samples = 8 * (rows + columns);
    for k in 0..samples {
        let u = k as f64 / samples as f64;
        let angle = std::f64::consts::TAU * u;
        let radius = 0.4 * h.min(w);
        mark(
            0.5 * w + radius * angle.cos(),
            0.5 * h + radius * angle.sin(),
        );
        mark(u * w, 0.5 * h + 0.3 * h * (2.0 * angle).sin());
    }
    Raster {
        rows,
        columns,
        spikes,
    }
}

/// Writes `raster` as an 8-bit greyscale PNG: spikes black, the rest white.
pub fn write_png(raster: &Raster, writer: impl std::io::Write) -> Result<(), png::EncodingError> {
    let pixels: Vec<u8> = raster
        .spikes
        .iter()
        .map(|&s| if s { 0 } else { 255 })
        .collect();
    write_8bit(writer, raster, png::ColorType::Grayscale, &pixels)
}

/// Writes 8-bit `pixels` of `color` in the shape of `raster` (columns wide, rows high).
fn write_8bit(
    writer: impl std::io::Write,
    raster: &Raster,
    color: png::ColorType,
    pixels: &[u8],
) -> Result<(), png::EncodingError> {
    let mut encoder = png::Encoder::new(writer, raster.columns as u32, raster.rows as u32);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(pixels)
}

/// Writes `output` over `target` (the same shape) as an RGB PNG: spikes of both black, the
/// target's alone light grey, the output's alone red, the rest white.
pub fn write_overlay_png(
    output: &Raster,
    target: &Raster,
    writer: impl std::io::Write,
) -> Result<(), png::EncodingError> {
    debug_assert_eq!((output.rows, output.columns), (target.rows, target.columns));
    let pixels: Vec<u8> = output
        .spikes
        .iter()
        .zip(&target.spikes)
        .flat_map(|(&o, &t)| match (o, t) {
            (true, true) => [0, 0, 0],
            (false, true) => [190, 190, 190],
            (true, false) => [220, 30, 30],
            (false, false) => [255, 255, 255],
        })
        .collect();
    write_8bit(writer, output, png::ColorType::Rgb, &pixels)
}

/// Why an image could not be read as a raster.
#[derive(Debug, Error)]
pub enum RasterError {
    /// The file is not a PNG image or is corrupt or truncated.
    #[error("not a readable PNG image: {0}")]
    Png(#[from] png::DecodingError),
    /// The image is larger than the limits.
    #[error(
        "image of {width} × {height} pixels exceeds the {MAX_RASTER_COLUMNS} × {MAX_RASTER_ROWS} \
         (time bins × neurons) a raster may have"
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The image has no pixel.
    #[error("image has no pixel ({width} × {height})")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The threshold is not in (0, 1].
    #[error("darkness threshold {0} must be in (0, 1]")]
    BadThreshold(f64),
}

/// Reads a PNG image as a raster: a pixel of luminance below `threshold` (in (0, 1], as a
/// fraction of white) is a spike. The image's size is checked against the limits before
/// any pixel buffer is allocated.
pub fn read_png(reader: impl Read, threshold: f64) -> Result<Raster, RasterError> {
    if !(threshold > 0.0 && threshold <= 1.0) {
        return Err(RasterError::BadThreshold(threshold));
    }
    let mut decoder = png::Decoder::new(reader);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width == 0 || height == 0 {
        return Err(RasterError::Empty { width, height });
    }
    if width as usize > MAX_RASTER_COLUMNS || height as usize > MAX_RASTER_ROWS {
        return Err(RasterError::TooLarge { width, height });
    }
    let mut pixels = vec![0u8; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels)?;
    let channels = frame.color_type.samples();
    let (rows, columns) = (height as usize, width as usize);
    let spikes = (0..rows)
        .flat_map(|r| (0..columns).map(move |c| (r, c)))
        .map(|(r, c)| {
            let at = r * frame.line_size + c * channels;
            luminance(&pixels[at..at + channels]) < threshold
        })
        .collect();
    Ok(Raster {
        rows,
        columns,
        spikes,
    })
}

/// The luminance in [0, 1] of one 8-bit pixel of 1 (grey), 2 (grey, alpha), 3 (RGB) or 4
/// (RGBA) samples, composited over white.
fn luminance(pixel: &[u8]) -> f64 {
    let v = |i: usize| f64::from(pixel[i]) / 255.0;
    let (grey, alpha) = match pixel.len() {
        1 => (v(0), 1.0),
        2 => (v(0), v(1)),
        3 => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), 1.0),
        _ => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), v(3)),
    };
    grey * alpha + (1.0 - alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `pixels` (`width × height` samples of `color`) as an 8-bit PNG.
    fn encode(width: u32, height: u32, color: png::ColorType, pixels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .unwrap()
            .write_image_data(pixels)
            .unwrap();
        bytes
    }

    #[test]
    fn dark_pixels_are_spikes_in_every_colour_type() {
        // A 3 × 2 image: top row black, white, mid-grey; bottom row white, black, white.
        let grey = [0u8, 255, 128, 255, 0, 255];
        let expected = vec![true, false, true, false, true, false];
        let rgb: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        let rgba: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g, 255]).collect();
        let grey_alpha: Vec<u8> = grey.iter().flat_map(|&g| [g, 255]).collect();
        for (color, pixels) in [
            (png::ColorType::Grayscale, grey.to_vec()),
            (png::ColorType::Rgb, rgb),
            (png::ColorType::Rgba, rgba),
            (png::ColorType::GrayscaleAlpha, grey_alpha),
        ] {
            let raster = read_png(encode(3, 2, color, &pixels).as_slice(), 0.6).unwrap();
            assert_eq!((raster.rows, raster.columns), (2, 3), "{color:?}");
            assert_eq!(raster.spikes, expected, "{color:?}");
            assert!(raster.at(1, 1) && !raster.at(1, 0));
            assert_eq!(raster.count(), 3);
        }
        // Mid-grey (0.50) is no spike below a threshold of 0.4.
        let raster = read_png(
            encode(3, 2, png::ColorType::Grayscale, &grey).as_slice(),
            0.4,
        );
        assert_eq!(raster.unwrap().count(), 2);
    }

    #[test]
    fn transparent_pixels_are_white() {
        let pixels = [0u8, 0, 0, 0, 0, 0, 0, 255];
        let raster = read_png(encode(2, 1, png::ColorType::Rgba, &pixels).as_slice(), 0.5).unwrap();
        assert_eq!(raster.spikes, vec![false, true]);
    }

    #[test]
    fn corrupt_truncated_huge_and_empty_images_are_errors() {
        let good = encode(3, 2, png::ColorType::Grayscale, &[0; 6]);
        for cut in [0, 8, 20, good.len() - 13] {
            let err = read_png(&good[..cut], 0.5).unwrap_err();
            assert!(matches!(err, RasterError::Png(_)), "cut at {cut}: {err}");
        }
        assert!(matches!(
            read_png(b"not an image at all".as_slice(), 0.5),
            Err(RasterError::Png(_))
        ));
        // A header that claims 70 000 × 2 pixels is refused before its pixels are read.
        let mut huge = encode(1, 2, png::ColorType::Grayscale, &[0; 2]);
        huge[16..20].copy_from_slice(&70_000u32.to_be_bytes());
        let crc = png_crc(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            read_png(huge.as_slice(), 0.5),
            Err(RasterError::TooLarge { width: 70_000, .. })
        ));
        for threshold in [0.0, 1.5, f64::NAN] {
            assert!(matches!(
                read_png(good.as_slice(), threshold),
                Err(RasterError::BadThreshold(_))
            ));
        }
    }

    #[test]
    fn the_drawn_target_gives_every_neuron_a_few_spikes_and_round_trips() {
        let target = drawn_target(200, 189);
        let per_row: Vec<usize> = (0..200)
            .map(|r| (0..189).filter(|&c| target.at(r, c)).count())
            .collect();
        assert!(
            per_row.iter().filter(|&&n| n > 0).count() > 150,
            "{per_row:?}"
        );
        assert!(per_row.iter().all(|&n| n <= 20), "{per_row:?}");
        let mut bytes = Vec::new();
        write_png(&target, &mut bytes).unwrap();
        assert_eq!(read_png(bytes.as_slice(), 0.5).unwrap(), target);
    }

    #[test]
    fn the_shipped_target_image_is_the_drawn_target() {
        // assets/superspike_target.png is made by this code (`drawn_target(200, 189)`).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/superspike_target.png");
        let file = std::fs::File::open(path).unwrap();
        assert_eq!(read_png(file, 0.5).unwrap(), drawn_target(200, 189));
    }

    /// The CRC-32 of a PNG chunk's type and data.
    fn png_crc(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
