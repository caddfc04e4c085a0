//! Attributes stored in object headers (attribute messages, versions 1–3), read on request.
//!
//! Only attributes of fixed-size types (numbers, fixed-length strings) are decoded; those
//! kept in dense attribute storage (a fractal heap, written for objects with very many
//! attributes) are not listed.

use super::bytes::{align8, Cursor};
use super::types::{decode_fixed_string, Datatype};
use super::{Dataset, Hdf5Error, Hdf5Reader};

/// Object header message type of an attribute.
const MSG_ATTRIBUTE: u16 = 0x0c;

/// One attribute of an object: its name, type, shape and raw little- or big-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// The attribute's name.
    pub name: String,
    /// Element type.
    pub dtype: Datatype,
    /// Dimensions (empty for a scalar).
    pub shape: Vec<u64>,
    /// The elements' bytes, row-major, exactly `elements × dtype.size()` of them.
    pub raw: Vec<u8>,
}

impl Attribute {
    /// The elements of an integer attribute (a scalar gives one).
    pub fn ints(&self) -> Result<Vec<i64>, Hdf5Error> {
        let mut out = Vec::new();
        self.dtype
            .decode_ints(&self.raw, &mut out)
            .map_err(|e| e.in_dataset(&self.name))?;
        Ok(out)
    }

    /// The text of a fixed-length string attribute (its elements joined, padding removed).
    pub fn text(&self) -> Result<String, Hdf5Error> {
        match self.dtype {
            Datatype::FixedString { size } => Ok(self
                .raw
                .chunks(size.max(1))
                .map(decode_fixed_string)
                .collect()),
            ref other => Err(Hdf5Error::WrongType(format!(
                "attribute {} holds {}, expected a fixed-length string",
                self.name,
                other.describe()
            ))),
        }
    }
}

impl Hdf5Reader {
    /// The attributes stored in the object header of `ds`, in header order.
    ///
    /// Attributes of variable-length or other unsupported types are listed with their raw
    /// bytes (heap references for variable-length data).
    pub fn attributes(&self, ds: &Dataset) -> Result<Vec<Attribute>, Hdf5Error> {
        self.messages(ds.header)?
            .iter()
            .filter(|m| m.kind == MSG_ATTRIBUTE)
            .map(|m| self.parse_attribute(&m.data, m.at))
            .collect()
    }

    /// The attribute `name` of `ds`, if it has one.
    pub fn attribute(&self, ds: &Dataset, name: &str) -> Result<Option<Attribute>, Hdf5Error> {
        Ok(self.attributes(ds)?.into_iter().find(|a| a.name == name))
    }

    fn parse_attribute(&self, data: &[u8], at: u64) -> Result<Attribute, Hdf5Error> {
        let mut c = Cursor::new(data, at);
        let version = c.u8()?;
        let flags = c.u8()?;
        let name_size = c.u16()? as usize;
        let type_size = c.u16()? as usize;
        let space_size = c.u16()? as usize;
        let padded = |n: usize| if version == 1 { align8(n) } else { n };
        match version {
            1 | 2 => {}
            3 => c.skip(1)?, // name character set
            v => {
                return Err(Hdf5Error::Unsupported(format!(
                    "attribute message version {v} at {at}"
                )))
            }
        }
        if version > 1 && flags & 0x03 != 0 {
            return Err(Hdf5Error::Unsupported(format!(
                "attribute at {at}: shared datatype or dataspace"
            )));
        }
        let name_bytes = c.take(padded(name_size))?;
        let end = name_bytes
            .iter()
            .take(name_size)
            .position(|&b| b == 0)
            .unwrap_or(name_size.min(name_bytes.len()));
        let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
        let type_at = at + c.pos() as u64;
        let type_bytes = c.take(padded(type_size))?;
        let dtype = Datatype::parse(&mut Cursor::new(type_bytes, type_at))?;
        let space_at = at + c.pos() as u64;
        let space_bytes = c.take(padded(space_size))?;
        let shape = self.parse_dataspace(space_bytes, space_at)?;
        let bytes = shape
            .iter()
            .try_fold(dtype.size() as u64, |n, &d| n.checked_mul(d))
            .filter(|&b| b <= c.remaining() as u64)
            .ok_or_else(|| {
                Hdf5Error::Corrupt(format!(
                    "attribute {name} at {at}: shape {shape:?} of {} does not fit its {} bytes",
                    dtype.describe(),
                    c.remaining()
                ))
            })?;
        let raw = c.take(bytes as usize)?.to_vec();
        Ok(Attribute {
            name,
            dtype,
            shape,
            raw,
        })
    }
}
