//! Little-endian field decoding over a byte slice, with every read bounds-checked.

use super::Hdf5Error;

/// The "undefined address" of the HDF5 format: all bits set.
pub const UNDEFINED: u64 = u64::MAX;

/// A read position in a buffer taken from the file at `base` (for error messages).
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, which was read from file offset `base`.
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Moves to `pos` bytes from the start of the buffer.
    pub fn seek(&mut self, pos: usize) -> Result<(), Hdf5Error> {
        if pos > self.buf.len() {
            return Err(self.short(pos - self.pos));
        }
        self.pos = pos;
        Ok(())
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Hdf5Error> {
        if n > self.remaining() {
            return Err(self.short(n));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), Hdf5Error> {
        self.take(n).map(|_| ())
    }

    /// An unsigned little-endian integer of `n <= 8` bytes.
    pub fn uint(&mut self, n: usize) -> Result<u64, Hdf5Error> {
        let bytes = self.take(n)?;
        Ok(le_uint(bytes))
    }

    pub fn u8(&mut self) -> Result<u8, Hdf5Error> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Hdf5Error> {
        Ok(self.uint(2)? as u16)
    }

    pub fn u32(&mut self) -> Result<u32, Hdf5Error> {
        Ok(self.uint(4)? as u32)
    }

    pub fn u64(&mut self) -> Result<u64, Hdf5Error> {
        self.uint(8)
    }

    /// An address of `size` bytes; all bits set reads as [`UNDEFINED`].
    pub fn addr(&mut self, size: u8) -> Result<u64, Hdf5Error> {
        let value = self.uint(size as usize)?;
        let all_ones = if size >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * size)) - 1
        };
        Ok(if value == all_ones { UNDEFINED } else { value })
    }

    /// Checks a 4-byte signature such as `b"OHDR"`.
    pub fn signature(&mut self, expected: &[u8; 4]) -> Result<(), Hdf5Error> {
        let at = self.base + self.pos as u64;
        let found = self.take(4)?;
        if found != expected {
            return Err(Hdf5Error::Corrupt(format!(
                "expected signature {:?} at offset {at}, found {:?}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(found)
            )));
        }
        Ok(())
    }

    fn short(&self, wanted: usize) -> Hdf5Error {
        Hdf5Error::Corrupt(format!(
            "structure at offset {} is cut short: needs {wanted} more bytes, {} left",
            self.base + self.pos as u64,
            self.remaining()
        ))
    }
}

/// An unsigned little-endian integer from up to 8 bytes.
pub fn le_uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Rounds `n` up to a multiple of 8.
pub fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}
