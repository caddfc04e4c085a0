//! Dense link storage (HDF5 1.8+ groups with many members): the name-index version-2
//! B-tree and the fractal heap that holds the link messages.
//!
//! Supported: B-trees of depth 0 or 1, and heaps whose objects live in the root direct
//! block or in direct blocks of the root indirect block. That covers groups of several
//! thousand links; deeper structures give an `Unsupported` error.

use super::bytes::{le_uint, Cursor, UNDEFINED};
use super::read::Hdf5Reader;
use super::Hdf5Error;

/// The link messages of a dense group, each with its file offset (for error messages).
pub fn link_records(
    reader: &Hdf5Reader,
    heap_addr: u64,
    btree_addr: u64,
) -> Result<Vec<(Vec<u8>, u64)>, Hdf5Error> {
    let heap = Heap::parse(reader, heap_addr)?;
    let mut ids = Vec::new();
    btree_records(reader, btree_addr, &mut ids)?;
    ids.iter()
        .map(|record| heap.object(reader, record.get(4..).unwrap_or(&[])))
        .collect()
}

/// The records of a version-2 B-tree (depth 0 or 1).
fn btree_records(reader: &Hdf5Reader, addr: u64, out: &mut Vec<Vec<u8>>) -> Result<(), Hdf5Error> {
    let o = reader.offset_size;
    let l = reader.length_size as usize;
    let head = reader.read_addr(addr, 4 + 1 + 1 + 4 + 2 + 2 + 2 + o as usize + 2 + l)?;
    let mut c = Cursor::new(&head, addr);
    c.signature(b"BTHD")?;
    c.skip(2)?; // version, type
    let node_size = c.u32()? as usize;
    let record_size = c.u16()? as usize;
    let depth = c.u16()?;
    c.skip(2)?; // split and merge percentages
    let root = c.addr(o)?;
    let root_records = c.u16()? as usize;
    if root == UNDEFINED || root_records == 0 {
        return Ok(());
    }
    match depth {
        0 => leaf(reader, root, root_records, record_size, out),
        1 => {
            let max_leaf = node_size.saturating_sub(10) / record_size.max(1);
            let count_bytes = bytes_for(max_leaf as u64);
            let size =
                6 + root_records * record_size + (root_records + 1) * (o as usize + count_bytes);
            let node = reader.read_addr(root, size)?;
            let mut c = Cursor::new(&node, root);
            c.signature(b"BTIN")?;
            c.skip(2)?;
            for _ in 0..root_records {
                out.push(c.take(record_size)?.to_vec());
            }
            for _ in 0..=root_records {
                let child = c.addr(o)?;
                let records = c.uint(count_bytes)? as usize;
                leaf(reader, child, records, record_size, out)?;
            }
            Ok(())
        }
        d => Err(Hdf5Error::Unsupported(format!(
            "dense group index B-tree of depth {d}"
        ))),
    }
}

fn leaf(
    reader: &Hdf5Reader,
    addr: u64,
    records: usize,
    record_size: usize,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), Hdf5Error> {
    let node = reader.read_addr(addr, 6 + records * record_size)?;
    let mut c = Cursor::new(&node, addr);
    c.signature(b"BTLF")?;
    c.skip(2)?;
    for _ in 0..records {
        out.push(c.take(record_size)?.to_vec());
    }
    Ok(())
}

/// Bytes needed to store values up to `max`.
fn bytes_for(max: u64) -> usize {
    let bits = 64 - max.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// The parts of a fractal heap header needed to find managed objects.
struct Heap {
    addr: u64,
    table_width: u64,
    start_block: u64,
    max_direct_block: u64,
    /// Bytes of a heap offset in IDs and block headers.
    offset_bytes: usize,
    root: u64,
    root_rows: u64,
}

impl Heap {
    fn parse(reader: &Hdf5Reader, addr: u64) -> Result<Self, Hdf5Error> {
        let o = reader.offset_size as usize;
        let l = reader.length_size as usize;
        let size = 4 + 1 + 2 + 2 + 1 + 4 + 12 * l + 3 * o + 2 + 2 + 2 + 2;
        let buf = reader.read_addr(addr, size)?;
        let mut c = Cursor::new(&buf, addr);
        c.signature(b"FRHP")?;
        c.skip(1 + 2)?; // version, heap ID length
        if c.u16()? != 0 {
            return Err(Hdf5Error::Unsupported("filtered fractal heap".into()));
        }
        c.skip(1 + 4)?; // flags, maximum managed object size
        c.skip(l + o + l + o + 8 * l)?; // huge-object, free-space and statistics fields
        let table_width = u64::from(c.u16()?);
        let start_block = c.uint(l)?;
        let max_direct_block = c.uint(l)?;
        let max_heap_bits = c.u16()? as usize;
        c.skip(2)?; // starting rows of the root indirect block
        let root = c.addr(reader.offset_size)?;
        let root_rows = u64::from(c.u16()?);
        Ok(Self {
            addr,
            table_width,
            start_block,
            max_direct_block,
            offset_bytes: max_heap_bits.div_ceil(8),
            root,
            root_rows,
        })
    }

    /// The bytes of the managed object with heap ID `id`, and their file address.
    fn object(&self, reader: &Hdf5Reader, id: &[u8]) -> Result<(Vec<u8>, u64), Hdf5Error> {
        let kind = id.first().map(|b| (b >> 4) & 0x03);
        if kind != Some(0) {
            return Err(Hdf5Error::Unsupported(format!(
                "fractal heap object of type {kind:?} in heap {}",
                self.addr
            )));
        }
        let offset_end = (1 + self.offset_bytes).min(id.len());
        let offset = le_uint(&id[1..offset_end]);
        let len = le_uint(&id[offset_end..]) as usize;
        let (block, block_offset) = self.direct_block_of(reader, offset)?;
        let at = block + (offset - block_offset);
        Ok((reader.read_addr(at, len)?, at))
    }

    /// The direct block holding heap offset `offset`: its address and first heap offset.
    fn direct_block_of(&self, reader: &Hdf5Reader, offset: u64) -> Result<(u64, u64), Hdf5Error> {
        if self.root_rows == 0 {
            return Ok((self.root, 0));
        }
        let o = reader.offset_size as usize;
        let mut row_start = 0u64;
        for row in 0..self.root_rows {
            let Some(block) = self.start_block.checked_shl(row.saturating_sub(1) as u32) else {
                break;
            };
            let row_len = block.saturating_mul(self.table_width);
            if offset < row_start.saturating_add(row_len) {
                if block > self.max_direct_block {
                    break;
                }
                let col = (offset - row_start) / block;
                let entry = (row * self.table_width + col) as usize;
                let header = 4 + 1 + o + self.offset_bytes;
                let buf = reader.read_addr(self.root + (header + entry * o) as u64, o)?;
                let addr = Cursor::new(&buf, self.root).addr(reader.offset_size)?;
                return Ok((addr, row_start + col * block));
            }
            row_start = row_start.saturating_add(row_len);
        }
        Err(Hdf5Error::Unsupported(format!(
            "fractal heap offset {offset} beyond the root indirect block's direct blocks"
        )))
    }
}
