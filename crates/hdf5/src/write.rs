//! The writer: the layout h5py produces by default (superblock 0, version-1 object headers,
//! symbol-table groups, contiguous datasets, global heap collections for variable-length
//! data), streamed to any `Write + Seek` sink.

use super::bytes::{align8, UNDEFINED};
use super::types::{Datatype, VLEN_REF_SIZE};
use super::Hdf5Error;
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};

/// Group B-tree fan-out: leaf nodes hold up to `2 * LEAF_K` links, internal nodes
/// `2 * INTERNAL_K` children (the HDF5 defaults).
const LEAF_K: usize = 4;
const INTERNAL_K: usize = 16;
/// Global heap collections are at least this long (the C library reads 4 KiB up front).
const MIN_COLLECTION: usize = 4096;
/// Objects are packed into collections of up to about this many bytes.
const TARGET_COLLECTION: usize = 1 << 20;
const SUPERBLOCK_SIZE: usize = 96;

/// The elements of a one-dimensional dataset to write.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetData {
    /// Fixed-size numbers: `dtype` must be an integer or float type, `bytes` their
    /// little-endian encoding.
    Numbers {
        /// Element type.
        dtype: Datatype,
        /// Little-endian element bytes.
        bytes: Vec<u8>,
    },
    /// Variable-length sequences of `base` numbers, each row as little-endian bytes.
    VlenSeq {
        /// Element type of the sequences.
        base: Datatype,
        /// One row of element bytes per sequence.
        rows: Vec<Vec<u8>>,
    },
    /// Variable-length UTF-8 strings.
    VlenStrings(Vec<String>),
    /// Variable-length UTF-8 strings in an array of any rank, row-major; an empty `shape`
    /// is a scalar (one string), as h5py writes a Python `str`.
    StringArray {
        /// The shape.
        shape: Vec<u64>,
        /// The strings, row-major.
        strings: Vec<String>,
    },
    /// An array of fixed-size elements (numbers or fixed-length strings) of any rank (an
    /// empty `shape` is a scalar): `bytes` holds `shape.iter().product()` little-endian
    /// elements in row-major order.
    Array {
        /// Element type.
        dtype: Datatype,
        /// The shape.
        shape: Vec<u64>,
        /// Little-endian element bytes.
        bytes: Vec<u8>,
    },
}

impl DatasetData {
    fn rows(&self) -> usize {
        match self {
            DatasetData::Numbers { dtype, bytes } => bytes.len() / dtype.size().max(1),
            DatasetData::VlenSeq { rows, .. } => rows.len(),
            DatasetData::VlenStrings(rows) => rows.len(),
            DatasetData::StringArray { strings, .. } => strings.len(),
            DatasetData::Array { shape, .. } => shape.first().copied().unwrap_or(1) as usize,
        }
    }

    fn dtype(&self) -> Datatype {
        match self {
            DatasetData::Numbers { dtype, .. } => dtype.clone(),
            DatasetData::VlenSeq { base, .. } => Datatype::VlenSeq(Box::new(base.clone())),
            DatasetData::VlenStrings(_) | DatasetData::StringArray { .. } => Datatype::VlenString,
            DatasetData::Array { dtype, .. } => dtype.clone(),
        }
    }

    /// The dimensions of the dataset.
    fn shape(&self) -> Vec<u64> {
        match self {
            DatasetData::Array { shape, .. } | DatasetData::StringArray { shape, .. } => {
                shape.clone()
            }
            other => vec![other.rows() as u64],
        }
    }
}

/// A file being assembled: groups and datasets addressed by `/`-separated paths.
#[derive(Debug, Default)]
pub struct Hdf5Writer {
    root: Group,
}

#[derive(Debug, Default)]
struct Group {
    members: BTreeMap<String, Member>,
}

#[derive(Debug)]
enum Member {
    Group(Group),
    Dataset(DatasetData),
}

impl Hdf5Writer {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dataset at `path`, creating the groups above it.
    pub fn add(&mut self, path: &str, data: DatasetData) -> Result<(), Hdf5Error> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, groups)) = parts.split_last() else {
            return Err(Hdf5Error::WrongType(format!(
                "{path:?} is not a dataset path"
            )));
        };
        let mut group = &mut self.root;
        for part in groups {
            let member = group
                .members
                .entry(part.to_string())
                .or_insert_with(|| Member::Group(Group::default()));
            group = match member {
                Member::Group(g) => g,
                Member::Dataset(_) => {
                    return Err(Hdf5Error::WrongType(format!(
                        "{part} in {path} is a dataset"
                    )))
                }
            };
        }
        if let DatasetData::Array {
            dtype,
            shape,
            bytes,
        } = &data
        {
            let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
            let expected = elements.and_then(|e| e.checked_mul(dtype.size() as u64));
            let fixed_size = matches!(
                dtype,
                Datatype::Int { .. } | Datatype::Float { .. } | Datatype::FixedString { .. }
            );
            if !fixed_size || shape.len() > 32 || expected != Some(bytes.len() as u64) {
                return Err(Hdf5Error::WrongType(format!(
                    "{path}: {} bytes do not hold an array of shape {shape:?} of {}",
                    bytes.len(),
                    dtype.describe()
                )));
            }
        }
        if let DatasetData::StringArray { shape, strings } = &data {
            let elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
            if shape.len() > 32 || elements != Some(strings.len() as u64) {
                return Err(Hdf5Error::WrongType(format!(
                    "{path}: {} strings do not fill an array of shape {shape:?}",
                    strings.len()
                )));
            }
        }
        if group.members.contains_key(*name) {
            return Err(Hdf5Error::WrongType(format!("{path} is added twice")));
        }
        group
            .members
            .insert(name.to_string(), Member::Dataset(data));
        Ok(())
    }

    /// Writes the file to `sink` (positioned at its start).
    pub fn write_to<W: Write + Seek>(&self, sink: &mut W) -> Result<(), Hdf5Error> {
        let mut out = Out { sink, pos: 0 };
        out.append(&[0; SUPERBLOCK_SIZE])?;
        let root = out.group(&self.root)?;
        let eof = out.pos;
        let superblock = superblock(&root, eof);
        out.sink.seek(SeekFrom::Start(0)).map_err(Hdf5Error::Io)?;
        out.sink.write_all(&superblock).map_err(Hdf5Error::Io)?;
        out.sink.seek(SeekFrom::Start(eof)).map_err(Hdf5Error::Io)?;
        out.sink.flush().map_err(Hdf5Error::Io)
    }
}

/// Where a written group's header and symbol table are.
struct GroupAddrs {
    header: u64,
    btree: u64,
    heap: u64,
}

struct Out<'a, W> {
    sink: &'a mut W,
    pos: u64,
}

impl<W: Write> Out<'_, W> {
    /// Appends `bytes` and returns their address.
    fn append(&mut self, bytes: &[u8]) -> Result<u64, Hdf5Error> {
        let at = self.pos;
        self.sink.write_all(bytes).map_err(Hdf5Error::Io)?;
        self.pos += bytes.len() as u64;
        Ok(at)
    }

    /// Writes a group's members, then its local heap, symbol nodes, B-tree and header.
    fn group(&mut self, group: &Group) -> Result<GroupAddrs, Hdf5Error> {
        let mut entries = Vec::with_capacity(group.members.len());
        for (name, member) in &group.members {
            let header = match member {
                Member::Group(g) => self.group(g)?.header,
                Member::Dataset(d) => self.dataset(d)?,
            };
            entries.push((name.as_str(), header));
        }
        // BTreeMap order is byte order, which is how HDF5 compares link names.
        let (heap_data, offsets) = name_heap(&entries);
        let heap = self.append(&local_heap_header(heap_data.len(), self.pos + 32))?;
        self.append(&heap_data)?;
        let nodes = entries.chunks(2 * LEAF_K).collect::<Vec<_>>();
        if nodes.len() > 2 * INTERNAL_K {
            return Err(Hdf5Error::Unsupported(format!(
                "writing a group of {} members (at most {})",
                entries.len(),
                4 * LEAF_K * INTERNAL_K
            )));
        }
        let mut children = Vec::new();
        let mut start = 0;
        for node in &nodes {
            let addr = self.append(&symbol_node(node, &offsets[start..]))?;
            start += node.len();
            children.push((addr, offsets[start - 1]));
        }
        let btree = self.append(&group_btree(&children))?;
        let mut message = Vec::new();
        message.extend_from_slice(&btree.to_le_bytes());
        message.extend_from_slice(&heap.to_le_bytes());
        let header = self.append(&object_header(&[(0x11, message)]))?;
        Ok(GroupAddrs {
            header,
            btree,
            heap,
        })
    }

    /// Writes a dataset's heap objects, raw data and header; returns the header address.
    fn dataset(&mut self, data: &DatasetData) -> Result<u64, Hdf5Error> {
        let raw = match data {
            DatasetData::Numbers { bytes, .. } | DatasetData::Array { bytes, .. } => bytes.clone(),
            DatasetData::VlenSeq { base, rows } => {
                let size = base.size().max(1);
                let lens: Vec<usize> = rows.iter().map(|r| r.len() / size).collect();
                self.heap_objects(rows, &lens)?
            }
            DatasetData::VlenStrings(strings) | DatasetData::StringArray { strings, .. } => {
                let rows: Vec<&[u8]> = strings.iter().map(|s| s.as_bytes()).collect();
                let lens: Vec<usize> = rows.iter().map(|r| r.len()).collect();
                self.heap_objects(&rows, &lens)?
            }
        };
        let addr = if raw.is_empty() {
            UNDEFINED
        } else {
            self.append(&raw)?
        };
        let shape = data.shape();
        let mut space = vec![1u8, shape.len() as u8, 0, 0, 0, 0, 0, 0];
        for dim in &shape {
            space.extend_from_slice(&dim.to_le_bytes());
        }
        let fill = vec![2u8, 2, 2, 0]; // version 2, late allocation, fill if set, undefined
        let mut layout = vec![3u8, 1];
        layout.extend_from_slice(&addr.to_le_bytes());
        layout.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        let header = object_header(&[
            (0x01, space),
            (0x03, data.dtype().encode()),
            (0x05, fill),
            (0x08, layout),
        ]);
        self.append(&header)
    }

    /// Stores each row as a global heap object; returns the dataset's raw references
    /// (length in elements `lens[i]`, collection address, object index).
    fn heap_objects<R: AsRef<[u8]>>(
        &mut self,
        rows: &[R],
        lens: &[usize],
    ) -> Result<Vec<u8>, Hdf5Error> {
        let mut refs = Vec::with_capacity(rows.len() * VLEN_REF_SIZE);
        let mut i = 0;
        while i < rows.len() {
            // Pack rows i..j into one collection.
            let mut j = i;
            let mut content = 16;
            while j < rows.len() && j - i < u16::MAX as usize {
                let cost = 16 + align8(rows[j].as_ref().len());
                if j > i && content + cost > TARGET_COLLECTION {
                    break;
                }
                content += cost;
                j += 1;
            }
            let collection = self.pos;
            self.append(&collection_bytes(&rows[i..j], content))?;
            let mut index = 0u32;
            for (row, &len) in rows[i..j].iter().zip(&lens[i..j]) {
                let (addr, idx) = if row.as_ref().is_empty() {
                    (0, 0)
                } else {
                    index += 1;
                    (collection, index)
                };
                refs.extend_from_slice(&(len as u32).to_le_bytes());
                refs.extend_from_slice(&addr.to_le_bytes());
                refs.extend_from_slice(&idx.to_le_bytes());
            }
            i = j;
        }
        Ok(refs)
    }
}

/// A global heap collection holding the non-empty `rows` as objects 1, 2, ...
fn collection_bytes<R: AsRef<[u8]>>(rows: &[R], content: usize) -> Vec<u8> {
    let size = content.max(MIN_COLLECTION);
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"GCOL");
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&(size as u64).to_le_bytes());
    let mut index = 0u16;
    for row in rows.iter().map(AsRef::as_ref).filter(|r| !r.is_empty()) {
        index += 1;
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // reference count
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(row.len() as u64).to_le_bytes());
        out.extend_from_slice(row);
        out.resize(align8(out.len()), 0);
    }
    let free = size - out.len();
    if free >= 16 {
        // Object 0 is the free space; its size counts its own header.
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&(free as u64).to_le_bytes());
    }
    out.resize(size, 0);
    out
}

/// A version-1 object header holding `messages` (type, body).
fn object_header(messages: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body: usize = messages.iter().map(|(_, m)| 8 + align8(m.len())).sum();
    let mut out = Vec::with_capacity(16 + body);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(messages.len() as u16).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // reference count
    out.extend_from_slice(&(body as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    for (kind, message) in messages {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(align8(message.len()) as u16).to_le_bytes());
        out.extend_from_slice(&[0; 4]); // flags, reserved
        out.extend_from_slice(message);
        out.resize(align8(out.len()), 0);
    }
    out
}

/// The local heap data segment of link names (an empty name at offset 0, as HDF5 keeps)
/// and each entry's name offset.
fn name_heap(entries: &[(&str, u64)]) -> (Vec<u8>, Vec<u64>) {
    let mut data = vec![0u8; 8];
    let mut offsets = Vec::with_capacity(entries.len());
    for (name, _) in entries {
        offsets.push(data.len() as u64);
        data.extend_from_slice(name.as_bytes());
        data.push(0);
        data.resize(align8(data.len()), 0);
    }
    (data, offsets)
}

fn local_heap_header(data_len: usize, data_addr: u64) -> Vec<u8> {
    let mut out = b"HEAP".to_vec();
    out.extend_from_slice(&[0; 4]); // version 0, reserved
    out.extend_from_slice(&(data_len as u64).to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes()); // no free block (H5HL_FREE_NULL)
    out.extend_from_slice(&data_addr.to_le_bytes());
    out
}

/// A symbol table node with `entries` (name offsets from `offsets`), sized for 2K entries.
fn symbol_node(entries: &[(&str, u64)], offsets: &[u64]) -> Vec<u8> {
    let mut out = b"SNOD".to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for ((_, header), offset) in entries.iter().zip(offsets) {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&header.to_le_bytes());
        out.extend_from_slice(&[0; 24]); // cache type 0, reserved, scratch pad
    }
    out.resize(8 + 2 * LEAF_K * 40, 0);
    out
}

/// A leaf group B-tree node over symbol nodes `(address, name offset of its last entry)`.
fn group_btree(children: &[(u64, u64)]) -> Vec<u8> {
    let mut out = b"TREE".to_vec();
    out.extend_from_slice(&[0, 0]); // type 0 (group), level 0
    out.extend_from_slice(&(children.len() as u16).to_le_bytes());
    out.extend_from_slice(&UNDEFINED.to_le_bytes());
    out.extend_from_slice(&UNDEFINED.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // key 0: the empty name
    for (addr, last) in children {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&last.to_le_bytes());
    }
    out.resize(24 + (2 * INTERNAL_K + 1) * 8 + 2 * INTERNAL_K * 8, 0);
    out
}

fn superblock(root: &GroupAddrs, eof: u64) -> Vec<u8> {
    let mut out = b"\x89HDF\r\n\x1a\n".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0, 0, 8, 8, 0]); // versions, address and length sizes
    out.extend_from_slice(&(LEAF_K as u16).to_le_bytes());
    out.extend_from_slice(&(INTERNAL_K as u16).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // consistency flags
    out.extend_from_slice(&0u64.to_le_bytes()); // base address
    out.extend_from_slice(&UNDEFINED.to_le_bytes()); // free-space info
    out.extend_from_slice(&eof.to_le_bytes());
    out.extend_from_slice(&UNDEFINED.to_le_bytes()); // driver info
                                                     // Root group symbol table entry, caching the root's B-tree and heap (cache type 1).
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&root.header.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&root.btree.to_le_bytes());
    out.extend_from_slice(&root.heap.to_le_bytes());
    debug_assert_eq!(out.len(), SUPERBLOCK_SIZE);
    out
}
