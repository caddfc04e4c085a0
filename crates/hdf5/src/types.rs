//! HDF5 datatype messages: the subset this crate reads and writes, decoding of elements, and
//! IEEE half-precision conversion.

use super::bytes::Cursor;
use super::Hdf5Error;

/// Byte order of a numeric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

/// A datatype, as far as this crate understands it.
#[derive(Clone, Debug, PartialEq)]
pub enum Datatype {
    /// A two's-complement or unsigned integer of 1, 2, 4 or 8 bytes.
    Int {
        /// Size in bytes.
        size: usize,
        /// Whether it is signed.
        signed: bool,
        /// Byte order.
        order: ByteOrder,
    },
    /// An IEEE 754 float of 2, 4 or 8 bytes.
    Float {
        /// Size in bytes.
        size: usize,
        /// Byte order.
        order: ByteOrder,
    },
    /// A fixed-length string of `size` bytes (null- or space-padded).
    FixedString {
        /// Size in bytes.
        size: usize,
    },
    /// A variable-length string (global heap).
    VlenString,
    /// A variable-length sequence of the base type (global heap).
    VlenSeq(Box<Datatype>),
    /// An object reference (class 7, type 0): the address of an object header, of `size`
    /// bytes (the file's address size). MATLAB v7.3 cell arrays are datasets of these.
    ObjectRef {
        /// Size in bytes.
        size: usize,
    },
    /// Any other class; the text names it for error messages.
    Other {
        /// The class name.
        class: String,
        /// Size in bytes.
        size: usize,
    },
}

/// Size in bytes of a variable-length element in the file: length, heap address, index.
pub const VLEN_REF_SIZE: usize = 4 + 8 + 4;

impl Datatype {
    /// Parses a datatype message body.
    pub fn parse(cur: &mut Cursor) -> Result<Self, Hdf5Error> {
        Self::parse_nested(cur, 0)
    }

    fn parse_nested(cur: &mut Cursor, depth: usize) -> Result<Self, Hdf5Error> {
        if depth > 8 {
            return Err(unsupported(
                "variable-length types nested more than 8 deep".into(),
            ));
        }
        let class_version = cur.u8()?;
        let bits = cur.take(3)?;
        let size = cur.u32()? as usize;
        let class = class_version & 0x0f;
        Ok(match class {
            0 => {
                cur.skip(4)?; // bit offset, precision
                if ![1, 2, 4, 8].contains(&size) {
                    return Err(unsupported(format!("{size}-byte integers")));
                }
                Datatype::Int {
                    size,
                    signed: bits[0] & 0x08 != 0,
                    order: order(bits[0] & 0x01 != 0),
                }
            }
            1 => Self::parse_float(cur, bits, size)?,
            3 => Datatype::FixedString { size },
            7 if bits[0] & 0x0f == 0 => {
                if ![2, 4, 8].contains(&size) {
                    return Err(unsupported(format!("{size}-byte object references")));
                }
                Datatype::ObjectRef { size }
            }
            7 => Datatype::Other {
                class: "region reference".to_string(),
                size,
            },
            9 => match bits[0] & 0x0f {
                0 => {
                    let base = Datatype::parse_nested(cur, depth + 1)?;
                    Datatype::VlenSeq(Box::new(base))
                }
                1 => Datatype::VlenString,
                other => return Err(unsupported(format!("variable-length type {other}"))),
            },
            other => Datatype::Other {
                class: class_name(other).to_string(),
                size,
            },
        })
    }

    fn parse_float(cur: &mut Cursor, bits: &[u8], size: usize) -> Result<Self, Hdf5Error> {
        let _bit_offset = cur.u16()?;
        let _precision = cur.u16()?;
        let _exp_location = cur.u8()?;
        let exp_size = cur.u8()?;
        let _mant_location = cur.u8()?;
        let mant_size = cur.u8()?;
        let ieee = matches!(
            (size, exp_size, mant_size),
            (2, 5, 10) | (4, 8, 23) | (8, 11, 52)
        );
        let vax = bits[0] & 0x40 != 0;
        if !ieee || vax {
            return Err(unsupported(format!(
                "{size}-byte float with {exp_size} exponent and {mant_size} mantissa bits"
            )));
        }
        Ok(Datatype::Float {
            size,
            order: order(bits[0] & 0x01 != 0),
        })
    }

    /// Bytes per element in a dataset's raw data.
    pub fn size(&self) -> usize {
        match self {
            Datatype::Int { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size }
            | Datatype::ObjectRef { size }
            | Datatype::Other { size, .. } => *size,
            Datatype::VlenString | Datatype::VlenSeq(_) => VLEN_REF_SIZE,
        }
    }

    /// A short name such as `uint16`, `float32`, `vlen<float16>` or `string[8]`.
    pub fn describe(&self) -> String {
        match self {
            Datatype::Int { size, signed, .. } => {
                format!("{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            Datatype::Float { size, .. } => format!("float{}", size * 8),
            Datatype::FixedString { size } => format!("string[{size}]"),
            Datatype::VlenString => "vlen string".to_string(),
            Datatype::VlenSeq(base) => format!("vlen<{}>", base.describe()),
            Datatype::ObjectRef { .. } => "object reference".to_string(),
            Datatype::Other { class, .. } => class.clone(),
        }
    }

    /// Decodes integer elements; fails for non-integer types and values beyond `i64`.
    pub fn decode_ints(&self, raw: &[u8], out: &mut Vec<i64>) -> Result<(), Hdf5Error> {
        let &Datatype::Int {
            size,
            signed,
            order,
        } = self
        else {
            return Err(wrong_type("integers", self));
        };
        out.reserve(raw.len() / size);
        for chunk in raw.chunks_exact(size) {
            let unsigned = element_bits(chunk, order);
            let value = if signed {
                let shift = 64 - 8 * size as u32;
                ((unsigned << shift) as i64) >> shift
            } else {
                i64::try_from(unsigned).map_err(|_| {
                    Hdf5Error::Corrupt(format!("integer {unsigned} does not fit in i64"))
                })?
            };
            out.push(value);
        }
        Ok(())
    }

    /// Decodes float elements to `f32` (half and single precision exactly, double rounded).
    pub fn decode_f32s(&self, raw: &[u8], out: &mut Vec<f32>) -> Result<(), Hdf5Error> {
        out.extend(self.floats(raw)?.map(|v| v as f32));
        Ok(())
    }

    /// Decodes float elements to `f64` (exactly).
    pub fn decode_f64s(&self, raw: &[u8], out: &mut Vec<f64>) -> Result<(), Hdf5Error> {
        out.extend(self.floats(raw)?);
        Ok(())
    }

    /// The float elements of `raw`, each exactly as an `f64`.
    fn floats<'a>(&self, raw: &'a [u8]) -> Result<impl Iterator<Item = f64> + 'a, Hdf5Error> {
        let &Datatype::Float { size, order } = self else {
            return Err(wrong_type("floats", self));
        };
        Ok(raw.chunks_exact(size).map(move |chunk| {
            let bits = element_bits(chunk, order);
            match size {
                2 => f64::from(f16_to_f32(bits as u16)),
                4 => f64::from(f32::from_bits(bits as u32)),
                _ => f64::from_bits(bits),
            }
        }))
    }

    /// The datatype message body of this type (little-endian numbers; strings as h5py writes
    /// them: vlen UTF-8).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Datatype::Int { size, signed, .. } => {
                header(&mut out, 0, [if *signed { 0x08 } else { 0 }, 0, 0], *size);
                out.extend_from_slice(&0u16.to_le_bytes());
                out.extend_from_slice(&(*size as u16 * 8).to_le_bytes());
            }
            Datatype::Float { size, .. } => encode_float(&mut out, *size),
            Datatype::FixedString { size } => header(&mut out, 3, [0x01, 0, 0], *size),
            Datatype::VlenString => {
                // Sequence type 1 (string), null-terminated, UTF-8; base type: unsigned byte.
                header(&mut out, 9, [0x01, 0x01, 0], VLEN_REF_SIZE);
                out.extend(Datatype::uint(1).encode());
            }
            Datatype::VlenSeq(base) => {
                header(&mut out, 9, [0, 0, 0], VLEN_REF_SIZE);
                out.extend(base.encode());
            }
            Datatype::ObjectRef { .. } | Datatype::Other { .. } => {
                unreachable!("the writer only writes known types")
            }
        }
        out
    }

    /// A little-endian unsigned integer type of `size` bytes.
    pub fn uint(size: usize) -> Self {
        Datatype::Int {
            size,
            signed: false,
            order: ByteOrder::Little,
        }
    }

    /// A little-endian IEEE float type of `size` bytes.
    pub fn float(size: usize) -> Self {
        Datatype::Float {
            size,
            order: ByteOrder::Little,
        }
    }
}

/// Decodes a fixed-length string element: up to the first null, trailing spaces removed.
pub fn decode_fixed_string(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end])
        .trim_end_matches(' ')
        .to_string()
}

fn header(out: &mut Vec<u8>, class: u8, bits: [u8; 3], size: usize) {
    out.push(0x10 | class); // version 1
    out.extend_from_slice(&bits);
    out.extend_from_slice(&(size as u32).to_le_bytes());
}

fn encode_float(out: &mut Vec<u8>, size: usize) {
    // (sign bit, exponent location, exponent size, mantissa size, exponent bias)
    let (sign, exp_loc, exp_size, mant_size, bias): (u8, u8, u8, u8, u32) = match size {
        2 => (15, 10, 5, 10, 15),
        4 => (31, 23, 8, 23, 127),
        _ => (63, 52, 11, 52, 1023),
    };
    // Mantissa normalization 2 ("implied leading 1"), little-endian, no padding.
    header(out, 1, [0x20, sign, 0], size);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(size as u16 * 8).to_le_bytes());
    out.extend_from_slice(&[exp_loc, exp_size, 0, mant_size]);
    out.extend_from_slice(&bias.to_le_bytes());
}

fn order(big: bool) -> ByteOrder {
    if big {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    }
}

fn class_name(class: u8) -> &'static str {
    match class {
        2 => "time",
        4 => "bitfield",
        5 => "opaque",
        6 => "compound",
        7 => "reference",
        8 => "enum",
        10 => "array",
        _ => "unknown class",
    }
}

fn unsupported(what: String) -> Hdf5Error {
    Hdf5Error::Unsupported(format!("datatype: {what}"))
}

fn wrong_type(wanted: &str, found: &Datatype) -> Hdf5Error {
    Hdf5Error::WrongType(format!("expected {wanted}, found {}", found.describe()))
}

/// IEEE binary16 bits to `f32` (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = mant * 2^-24, exactly representable in f32.
            let value = mant as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -value } else { value };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// `f32` to IEEE binary16 bits, rounding to nearest, ties to even; overflow gives infinity.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal half: shift the full significand (with its implicit 1) into place.
        let full = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        return sign | round_shift(full, shift) as u16;
    }
    // Normal half; a mantissa carry into the exponent is the correct rounding result.
    let rounded = round_shift(mant, 13);
    sign | ((((e as u32) << 10) + rounded) as u16)
}

/// `value >> shift`, rounded to nearest with ties to even.
fn round_shift(value: u32, shift: u32) -> u32 {
    let kept = value >> shift;
    let rest = value & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// The bits of one stored element of at most 8 bytes, in the file's byte order, as a `u64`.
#[inline]
fn element_bits(chunk: &[u8], order: ByteOrder) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..chunk.len()].copy_from_slice(chunk);
    if order == ByteOrder::Big {
        bytes[..chunk.len()].reverse();
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips_through_f32() {
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_nan() {
                assert!(f16_to_f32(f32_to_f16(x)).is_nan());
            } else {
                assert_eq!(f32_to_f16(x), h, "half bits {h:#06x} -> {x}");
            }
        }
    }

    #[test]
    fn f32_to_half_rounds_to_nearest_even() {
        // Half precision has a spacing of 1/1024 just above 1.
        assert_eq!(f16_to_f32(f32_to_f16(1.0 + 1.0 / 2048.0)), 1.0); // tie, to even
        assert_eq!(
            f16_to_f32(f32_to_f16(1.0 + 3.0 / 2048.0)),
            1.0 + 2.0 / 1024.0
        ); // tie
        assert_eq!(f16_to_f32(f32_to_f16(1.0 + 1.0 / 4096.0)), 1.0);
        assert_eq!(f16_to_f32(f32_to_f16(1e6)), f32::INFINITY);
        assert_eq!(f16_to_f32(f32_to_f16(0.1)), 0.099975586);
    }

    #[test]
    fn integers_decode_with_sign_and_order() {
        let mut out = Vec::new();
        let t = Datatype::Int {
            size: 2,
            signed: true,
            order: ByteOrder::Big,
        };
        t.decode_ints(&[0xff, 0xfe, 0x01, 0x00], &mut out).unwrap();
        assert_eq!(out, [-2, 256]);
    }
}
