//! Where the rows of a variable-length dataset lie in the file, so that any row can later be
//! read with a single read of exactly its bytes: random access to rows without decoding or
//! caching whole global-heap collections.
//!
//! Locating rows reads the dataset's references and walks the object headers of the
//! global-heap collections they point into (in windows of [`WINDOW`] bytes), never the
//! objects themselves. While locating, the object tables of at most [`DIRECTORY_CACHE`]
//! collections are kept (about 24 bytes per object).

use super::bytes::{align8, Cursor};
use super::read::{Dataset, Hdf5Reader};
use super::types::Datatype;
use super::Hdf5Error;
use std::collections::HashMap;

/// Object tables of this many collections are kept while locating rows (rows of one dataset
/// usually point into the collections in file order, so few are needed).
const DIRECTORY_CACHE: usize = 256;
/// Bytes read at once while walking a collection's object headers.
const WINDOW: usize = 4096;

/// Where one variable-length row lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlenLocation {
    /// Absolute file offset of the row's first element (0 for an empty row).
    pub offset: u64,
    /// Number of base elements in the row.
    pub len: u32,
}

/// Object index -> (absolute file offset of the object's data, its size in bytes).
type ObjectTable = HashMap<u32, (u64, u64)>;

impl Hdf5Reader {
    /// Locates rows `start..start + count` of the 1-D variable-length sequence dataset `ds`.
    ///
    /// Checks that every referenced heap object exists and holds the row's elements; errors
    /// name the dataset and row.
    pub fn vlen_locations(
        &self,
        ds: &Dataset,
        start: u64,
        count: u64,
    ) -> Result<Vec<VlenLocation>, Hdf5Error> {
        let base_size = vlen_base_size(ds)? as u64;
        let refs = self.read_raw_rows(ds, start, count)?;
        let ref_size = 4 + self.offset_size as usize + 4;
        let mut tables: HashMap<u64, ObjectTable> = HashMap::new();
        let mut out = Vec::with_capacity(refs.len() / ref_size);
        for (row, r) in (start..).zip(refs.chunks_exact(ref_size)) {
            let mut c = Cursor::new(r, 0);
            let len = c.u32()?;
            let collection = c.addr(self.offset_size)?;
            let index = c.u32()?;
            if len == 0 {
                out.push(VlenLocation { offset: 0, len });
                continue;
            }
            if !tables.contains_key(&collection) {
                if tables.len() >= DIRECTORY_CACHE {
                    tables.clear();
                }
                tables.insert(collection, self.object_table(collection)?);
            }
            let corrupt =
                |what: String| Hdf5Error::Corrupt(format!("{} row {row}: {what}", ds.path));
            let &(offset, size) = tables[&collection].get(&index).ok_or_else(|| {
                corrupt(format!(
                    "global heap object {index} missing at {collection}"
                ))
            })?;
            if u64::from(len) * base_size > size {
                return Err(corrupt(format!(
                    "{len} elements but the heap object has {size} bytes"
                )));
            }
            out.push(VlenLocation { offset, len });
        }
        Ok(out)
    }

    /// The raw bytes of the row at `loc`, whose elements are `base_size` bytes long.
    pub fn read_vlen_at(&self, loc: VlenLocation, base_size: usize) -> Result<Vec<u8>, Hdf5Error> {
        if loc.len == 0 {
            return Ok(Vec::new());
        }
        self.read_at(loc.offset, loc.len as usize * base_size)
    }

    /// The objects of the global-heap collection at `addr`, from their headers.
    fn object_table(&self, addr: u64) -> Result<ObjectTable, Hdf5Error> {
        let l = self.length_size as usize;
        let head = self.read_addr(addr, 8 + l)?;
        let mut c = Cursor::new(&head, addr);
        c.signature(b"GCOL")?;
        c.skip(4)?; // version, reserved
        let size = c.uint(l)?;
        let mut window = Window::default();
        let mut table = ObjectTable::new();
        let mut pos = 8 + l as u64;
        while pos.saturating_add(8 + l as u64) <= size {
            let header = window.get(self, addr, pos, 8 + l, size)?;
            let mut c = Cursor::new(header, addr + pos);
            let index = c.u16()?;
            c.skip(6)?; // reference count, reserved
            let len = c.uint(l)?;
            if index == 0 {
                break; // free space: the rest of the collection
            }
            let data = pos + 8 + l as u64;
            if data.saturating_add(len) > size {
                return Err(Hdf5Error::Corrupt(format!(
                    "global heap object {index} at {addr} runs past its collection"
                )));
            }
            let offset = self.base.saturating_add(addr).saturating_add(data);
            table.insert(u32::from(index), (offset, len));
            pos = data + align8(len as usize) as u64;
        }
        Ok(table)
    }
}

/// The size of one base element of a variable-length sequence dataset.
pub(super) fn vlen_base_size(ds: &Dataset) -> Result<usize, Hdf5Error> {
    match &ds.dtype {
        Datatype::VlenSeq(base) => Ok(base.size()),
        other => Err(Hdf5Error::WrongType(format!(
            "{} holds {}, expected a variable-length sequence",
            ds.path,
            other.describe()
        ))),
    }
}

/// A few KiB of one collection, read ahead so that small objects' headers cost one read.
#[derive(Default)]
struct Window {
    /// Position of `bytes[0]` in the collection.
    start: u64,
    bytes: Vec<u8>,
}

impl Window {
    /// `len` bytes at `pos` of the collection at `addr` of `size` bytes.
    fn get(
        &mut self,
        reader: &Hdf5Reader,
        addr: u64,
        pos: u64,
        len: usize,
        size: u64,
    ) -> Result<&[u8], Hdf5Error> {
        let end = pos + len as u64;
        if pos < self.start || end > self.start + self.bytes.len() as u64 {
            let want = (size - pos).min(WINDOW.max(len) as u64) as usize;
            self.bytes = reader.read_addr(addr.saturating_add(pos), want)?;
            self.start = pos;
        }
        let from = (pos - self.start) as usize;
        Ok(&self.bytes[from..from + len])
    }
}
