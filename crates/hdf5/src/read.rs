//! The reader: superblock, object headers, groups, dataset layouts, filters and the global
//! heap, reading from the file on demand (no whole-file buffering).

use super::bytes::{align8, Cursor, UNDEFINED};
use super::types::Datatype;
use super::{dense, Hdf5Error};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Continuation blocks followed per object header (guards against cycles).
const MAX_HEADER_BLOCKS: usize = 4096;
/// B-tree nodes visited per traversal (guards against cycles).
const MAX_BTREE_NODES: usize = 1 << 20;
/// Decoded global-heap collections kept between reads (about 64 MiB at most).
const HEAP_CACHE_BYTES: usize = 64 << 20;
/// The most a deflate stream expands (1032:1, zlib's limit); data read from a file never
/// exceeds this many times the file's length, so larger sizes read from it are corrupt.
const MAX_EXPANSION: u64 = 1032;
/// Slack added to that bound, for tiny files with fill-value datasets.
const EXPANSION_SLACK: u64 = 1 << 20;

// Object header message types.
const MSG_DATASPACE: u16 = 0x01;
const MSG_LINK_INFO: u16 = 0x02;
const MSG_DATATYPE: u16 = 0x03;
const MSG_LINK: u16 = 0x06;
const MSG_LAYOUT: u16 = 0x08;
const MSG_FILTERS: u16 = 0x0b;
const MSG_CONTINUATION: u16 = 0x10;
const MSG_SYMBOL_TABLE: u16 = 0x11;

/// An HDF5 file open for reading. Metadata and data are read from disk when asked for.
pub struct Hdf5Reader {
    file: File,
    len: u64,
    /// Bytes per address and per length field.
    pub(super) offset_size: u8,
    pub(super) length_size: u8,
    /// File offset that addresses are relative to.
    pub(super) base: u64,
    root: u64,
    heap_cache: std::cell::RefCell<HeapCache>,
}

/// One object header message.
pub(super) struct Message {
    pub kind: u16,
    pub flags: u8,
    pub data: Vec<u8>,
    /// File offset of the message body (for error messages).
    pub at: u64,
}

/// A dataset's metadata; its elements are read with [`Hdf5Reader`] methods.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Absolute path in the file.
    pub path: String,
    /// Element type.
    pub dtype: Datatype,
    /// Dimensions (empty for a scalar).
    pub shape: Vec<u64>,
    layout: Layout,
    filters: Vec<Filter>,
    /// Address of its object header (what an object reference to it holds).
    pub(super) header: u64,
}

#[derive(Clone, Debug)]
enum Layout {
    Compact(Vec<u8>),
    Contiguous {
        addr: u64,
    },
    /// Chunks indexed by a version-1 B-tree; `chunk` is the chunk shape in elements.
    BTreeChunks {
        btree: u64,
        chunk: Vec<u64>,
    },
    /// One chunk holding the whole dataset (layout version 4).
    SingleChunk {
        addr: u64,
        filtered_size: Option<u64>,
        mask: u32,
    },
}

#[derive(Clone, Debug)]
struct Filter {
    id: u16,
}

impl Dataset {
    /// Number of elements along the first dimension (1 for a scalar).
    pub fn len(&self) -> u64 {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Whether the first dimension is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the dataset's storage is chunked (and so possibly compressed).
    pub fn is_chunked(&self) -> bool {
        matches!(
            self.layout,
            Layout::BTreeChunks { .. } | Layout::SingleChunk { .. }
        )
    }
}

impl Hdf5Reader {
    /// Opens `path` and reads its superblock.
    pub fn open(path: &Path) -> Result<Self, Hdf5Error> {
        let file = File::open(path).map_err(Hdf5Error::Io)?;
        let len = file.metadata().map_err(Hdf5Error::Io)?.len();
        let mut reader = Self {
            file,
            len,
            offset_size: 8,
            length_size: 8,
            base: 0,
            root: 0,
            heap_cache: Default::default(),
        };
        reader.read_superblock()?;
        Ok(reader)
    }

    /// `len` bytes at absolute file offset `offset`.
    pub(super) fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, Hdf5Error> {
        let end = offset.checked_add(len as u64);
        if offset == UNDEFINED || end.is_none_or(|end| end > self.len) {
            return Err(Hdf5Error::Truncated {
                offset,
                needed: len as u64,
                file_len: self.len,
            });
        }
        let mut buf = vec![0u8; len];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset)).map_err(Hdf5Error::Io)?;
        match file.read_exact(&mut buf) {
            Ok(()) => Ok(buf),
            // The file was shortened after it was opened.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Hdf5Error::Truncated {
                offset,
                needed: len as u64,
                file_len: file.metadata().map_or(0, |m| m.len()),
            }),
            Err(e) => Err(Hdf5Error::Io(e)),
        }
    }

    /// `len` bytes at file address `addr` (relative to the base address).
    /// Refuses a data size (`bytes`, read from the file or computed from sizes read from it)
    /// that the file cannot hold, before anything of that size is allocated.
    pub(super) fn check_data_size(&self, bytes: u64, what: &str) -> Result<usize, Hdf5Error> {
        let limit = self
            .len
            .saturating_mul(MAX_EXPANSION)
            .saturating_add(EXPANSION_SLACK);
        if bytes > limit {
            return Err(Hdf5Error::Corrupt(format!(
                "{what}: {bytes} bytes of data cannot come from a file of {} bytes",
                self.len
            )));
        }
        usize::try_from(bytes)
            .map_err(|_| Hdf5Error::Unsupported(format!("{what}: larger than memory")))
    }

    pub(super) fn read_addr(&self, addr: u64, len: usize) -> Result<Vec<u8>, Hdf5Error> {
        if addr == UNDEFINED {
            return Err(Hdf5Error::Corrupt(
                "reference to an undefined address".into(),
            ));
        }
        self.read_at(self.base.saturating_add(addr), len)
    }

    /// Reads at most `len` bytes at `addr`, fewer if the file ends first.
    fn read_addr_upto(&self, addr: u64, len: usize) -> Result<Vec<u8>, Hdf5Error> {
        let start = self.base.saturating_add(addr);
        let available = self.len.saturating_sub(start).min(len as u64) as usize;
        self.read_at(start, available)
    }

    fn read_superblock(&mut self) -> Result<(), Hdf5Error> {
        let mut at = 0u64;
        loop {
            if at + 8 > self.len {
                return Err(Hdf5Error::NotHdf5);
            }
            if self.read_at(at, 8)? == SIGNATURE {
                break;
            }
            at = if at == 0 { 512 } else { at * 2 };
        }
        let buf = self.read_at(at, (self.len - at).min(256) as usize)?;
        let mut c = Cursor::new(&buf, at);
        c.skip(8)?;
        let version = c.u8()?;
        let eof = match version {
            0 | 1 => {
                c.skip(4)?; // free-space, root symbol table and shared-header versions; reserved
                self.offset_size = c.u8()?;
                self.length_size = c.u8()?;
                c.skip(1 + 2 + 2 + 4)?; // reserved, group K values, consistency flags
                if version == 1 {
                    c.skip(4)?; // indexed storage K, reserved
                }
                check_sizes(self.offset_size, self.length_size)?;
                self.base = c.addr(self.offset_size)?;
                c.addr(self.offset_size)?; // free-space info
                let eof = c.addr(self.offset_size)?;
                c.addr(self.offset_size)?; // driver info
                c.addr(self.offset_size)?; // root entry: link name offset
                self.root = c.addr(self.offset_size)?;
                eof
            }
            2 | 3 => {
                self.offset_size = c.u8()?;
                self.length_size = c.u8()?;
                c.skip(1)?; // consistency flags
                check_sizes(self.offset_size, self.length_size)?;
                self.base = c.addr(self.offset_size)?;
                c.addr(self.offset_size)?; // superblock extension
                let eof = c.addr(self.offset_size)?;
                self.root = c.addr(self.offset_size)?;
                eof
            }
            v => return Err(Hdf5Error::Unsupported(format!("superblock version {v}"))),
        };
        if self.base == UNDEFINED {
            self.base = at;
        }
        // The HDF5 library writes the end-of-file address counting the user block too (a
        // file with a 512-byte user block stores its whole length), so it is compared with
        // the file's length as it is.
        if eof != UNDEFINED && eof > self.len {
            return Err(Hdf5Error::Truncated {
                offset: 0,
                needed: eof,
                file_len: self.len,
            });
        }
        Ok(())
    }

    /// All messages of the object header at `addr`, continuation blocks included.
    pub(super) fn messages(&self, addr: u64) -> Result<Vec<Message>, Hdf5Error> {
        let first = self.read_addr_upto(addr, 512)?;
        if first.starts_with(b"OHDR") {
            return self.messages_v2(addr, &first);
        }
        let mut c = Cursor::new(&first, addr);
        let version = c.u8()?;
        if version != 1 {
            return Err(Hdf5Error::Corrupt(format!(
                "no object header at address {addr} (version byte {version})"
            )));
        }
        c.skip(1 + 2 + 4)?; // reserved, message count, reference count
        let size = c.u32()? as usize;
        let mut messages = Vec::new();
        let mut blocks = vec![(addr + 16, size)];
        let mut budget = MAX_HEADER_BLOCKS;
        while let Some((block, size)) = blocks.pop() {
            budget = spend(budget, addr)?;
            let buf = self.read_addr(block, size)?;
            let mut c = Cursor::new(&buf, block);
            while c.remaining() >= 8 {
                let kind = c.u16()?;
                let len = c.u16()? as usize;
                let flags = c.u8()?;
                c.skip(3)?;
                let at = block + c.pos() as u64;
                let data = c.take(len)?.to_vec();
                c.seek(align8(c.pos()).min(buf.len()))?;
                self.push_message(&mut messages, &mut blocks, kind, flags, data, at)?;
            }
        }
        Ok(messages)
    }

    fn messages_v2(&self, addr: u64, first: &[u8]) -> Result<Vec<Message>, Hdf5Error> {
        let mut c = Cursor::new(first, addr);
        c.skip(4)?;
        let version = c.u8()?;
        if version != 2 {
            return Err(Hdf5Error::Unsupported(format!(
                "object header version {version}"
            )));
        }
        let flags = c.u8()?;
        if flags & 0x20 != 0 {
            c.skip(16)?; // access, modification, change and birth times
        }
        if flags & 0x10 != 0 {
            c.skip(4)?; // attribute storage thresholds
        }
        let size = c.uint(1 << (flags & 0x03))? as usize;
        let mut messages = Vec::new();
        let mut blocks = vec![(addr + c.pos() as u64, size, false)];
        let order = flags & 0x04 != 0;
        let mut budget = MAX_HEADER_BLOCKS;
        while let Some((block, size, continued)) = blocks.pop() {
            budget = spend(budget, addr)?;
            let buf = self.read_addr(block, size)?;
            let mut c = Cursor::new(&buf, block);
            let end = if continued {
                c.signature(b"OCHK")?;
                size.saturating_sub(4) // checksum
            } else {
                size
            };
            let header = if order { 6 } else { 4 };
            while end.saturating_sub(c.pos()) >= header {
                let kind = u16::from(c.u8()?);
                let len = c.u16()? as usize;
                let mflags = c.u8()?;
                if order {
                    c.skip(2)?;
                }
                let at = block + c.pos() as u64;
                let data = c.take(len)?.to_vec();
                let mut more = Vec::new();
                self.push_message(&mut messages, &mut more, kind, mflags, data, at)?;
                blocks.extend(more.into_iter().map(|(a, s)| (a, s, true)));
            }
        }
        Ok(messages)
    }

    fn push_message(
        &self,
        messages: &mut Vec<Message>,
        blocks: &mut Vec<(u64, usize)>,
        kind: u16,
        flags: u8,
        data: Vec<u8>,
        at: u64,
    ) -> Result<(), Hdf5Error> {
        if kind == MSG_CONTINUATION {
            let mut c = Cursor::new(&data, at);
            let block = c.addr(self.offset_size)?;
            let len = c.uint(self.length_size as usize)? as usize;
            blocks.push((block, len));
        } else if kind != 0 {
            messages.push(Message {
                kind,
                flags,
                data,
                at,
            });
        }
        Ok(())
    }

    /// The hard links of the group whose object header is at `addr`: (name, header address).
    pub(super) fn links(&self, addr: u64) -> Result<Vec<(String, u64)>, Hdf5Error> {
        let messages = self.messages(addr)?;
        let mut links = Vec::new();
        for m in &messages {
            match m.kind {
                MSG_SYMBOL_TABLE => {
                    let mut c = Cursor::new(&m.data, m.at);
                    let btree = c.addr(self.offset_size)?;
                    let heap = c.addr(self.offset_size)?;
                    let names = self.local_heap(heap)?;
                    let mut budget = MAX_BTREE_NODES;
                    self.symbol_btree(btree, &names, &mut links, &mut budget)?;
                }
                MSG_LINK => links.extend(self.parse_link(&m.data, m.at)?),
                MSG_LINK_INFO => {
                    let mut c = Cursor::new(&m.data, m.at);
                    c.skip(1)?; // version
                    let flags = c.u8()?;
                    if flags & 0x01 != 0 {
                        c.skip(8)?; // maximum creation index
                    }
                    let heap = c.addr(self.offset_size)?;
                    let names = c.addr(self.offset_size)?;
                    if heap != UNDEFINED {
                        for (record, at) in dense::link_records(self, heap, names)? {
                            links.extend(self.parse_link(&record, at)?);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(links)
    }

    /// A link message: `Some((name, address))` for a hard link, `None` for soft and external.
    pub(super) fn parse_link(
        &self,
        data: &[u8],
        at: u64,
    ) -> Result<Option<(String, u64)>, Hdf5Error> {
        let mut c = Cursor::new(data, at);
        c.skip(1)?; // version
        let flags = c.u8()?;
        let kind = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            c.skip(8)?; // creation order
        }
        if flags & 0x10 != 0 {
            c.skip(1)?; // character set
        }
        let name_len = c.uint(1 << (flags & 0x03))? as usize;
        let name = String::from_utf8_lossy(c.take(name_len)?).into_owned();
        if kind != 0 {
            return Ok(None);
        }
        Ok(Some((name, c.addr(self.offset_size)?)))
    }

    /// The data segment of the local heap at `addr`.
    fn local_heap(&self, addr: u64) -> Result<Vec<u8>, Hdf5Error> {
        let header = self.read_addr(addr, 8 + 2 * self.length_size as usize + 8)?;
        let mut c = Cursor::new(&header, addr);
        c.signature(b"HEAP")?;
        c.skip(4)?; // version, reserved
        let size = c.uint(self.length_size as usize)? as usize;
        c.skip(self.length_size as usize)?; // free list
        let data = c.addr(self.offset_size)?;
        self.read_addr(data, size)
    }

    /// Collects the entries of a version-1 group B-tree into `links`.
    fn symbol_btree(
        &self,
        addr: u64,
        names: &[u8],
        links: &mut Vec<(String, u64)>,
        budget: &mut usize,
    ) -> Result<(), Hdf5Error> {
        *budget = spend(*budget, addr)?;
        let (level, children) = self.btree_v1_node(addr, 0, self.length_size as usize)?;
        for (_, child) in children {
            if level > 0 {
                self.symbol_btree(child, names, links, budget)?;
            } else {
                self.symbol_node(child, names, links)?;
            }
        }
        Ok(())
    }

    /// A version-1 B-tree node of `node_type` with `key_size`-byte keys: its level and its
    /// (key before the child, child address) pairs.
    fn btree_v1_node(
        &self,
        addr: u64,
        node_type: u8,
        key_size: usize,
    ) -> Result<(u8, NodeChildren), Hdf5Error> {
        let o = self.offset_size as usize;
        let head = self.read_addr(addr, 8 + 2 * o)?;
        let mut c = Cursor::new(&head, addr);
        c.signature(b"TREE")?;
        let found_type = c.u8()?;
        if found_type != node_type {
            return Err(Hdf5Error::Corrupt(format!(
                "B-tree node at {addr} has type {found_type}, expected {node_type}"
            )));
        }
        let level = c.u8()?;
        let used = c.u16()? as usize;
        let body = self.read_addr(addr + head.len() as u64, used * (key_size + o) + key_size)?;
        let mut c = Cursor::new(&body, addr);
        let mut children = Vec::with_capacity(used);
        for _ in 0..used {
            let key = c.take(key_size)?.to_vec();
            children.push((key, c.addr(self.offset_size)?));
        }
        Ok((level, children))
    }

    fn symbol_node(
        &self,
        addr: u64,
        names: &[u8],
        links: &mut Vec<(String, u64)>,
    ) -> Result<(), Hdf5Error> {
        let o = self.offset_size as usize;
        let head = self.read_addr(addr, 8)?;
        let mut c = Cursor::new(&head, addr);
        c.signature(b"SNOD")?;
        c.skip(2)?; // version, reserved
        let count = c.u16()? as usize;
        let entry = 2 * o + 8 + 16;
        let body = self.read_addr(addr + 8, count * entry)?;
        let mut c = Cursor::new(&body, addr + 8);
        for _ in 0..count {
            let name_at = c.uint(o)? as usize;
            let header = c.addr(self.offset_size)?;
            c.skip(24)?; // cache type, reserved, scratch pad
            let name = names.get(name_at..).ok_or_else(|| {
                Hdf5Error::Corrupt(format!("link name offset {name_at} outside the local heap"))
            })?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            links.push((String::from_utf8_lossy(&name[..end]).into_owned(), header));
        }
        Ok(())
    }

    /// The object header address of `path` (absolute, `/`-separated).
    fn resolve(&self, path: &str) -> Result<u64, Hdf5Error> {
        let mut addr = self.root;
        let mut walked = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            walked.push('/');
            walked.push_str(part);
            let links = self.links(addr)?;
            addr = links
                .into_iter()
                .find(|(name, _)| name == part)
                .map(|(_, a)| a)
                .ok_or_else(|| Hdf5Error::NotFound(walked.clone()))?;
        }
        Ok(addr)
    }

    /// Whether `path` names an object (group or dataset).
    pub fn exists(&self, path: &str) -> Result<bool, Hdf5Error> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(Hdf5Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The names of the members of the group at `path`, sorted.
    pub fn members(&self, path: &str) -> Result<Vec<String>, Hdf5Error> {
        let mut names: Vec<String> = self
            .links(self.resolve(path)?)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        Ok(names)
    }

    /// The dataset at `path`.
    pub fn dataset(&self, path: &str) -> Result<Dataset, Hdf5Error> {
        self.dataset_at(self.resolve(path)?, path)
    }

    /// The dataset whose object header is at address `header` (e.g. from an object
    /// reference); `path` names it in its metadata and in error messages.
    pub(super) fn dataset_at(&self, header: u64, path: &str) -> Result<Dataset, Hdf5Error> {
        let messages = self.messages(header)?;
        let find = |kind| messages.iter().find(|m| m.kind == kind);
        let (Some(space), Some(dtype), Some(layout)) =
            (find(MSG_DATASPACE), find(MSG_DATATYPE), find(MSG_LAYOUT))
        else {
            return Err(Hdf5Error::WrongType(format!("{path} is not a dataset")));
        };
        if space.flags & 0x02 != 0 || dtype.flags & 0x02 != 0 {
            return Err(Hdf5Error::Unsupported(format!(
                "{path}: shared (committed) datatype or dataspace"
            )));
        }
        let dtype = Datatype::parse(&mut Cursor::new(&dtype.data, dtype.at))?;
        let vlen = matches!(dtype, Datatype::VlenSeq(_) | Datatype::VlenString);
        if vlen && self.offset_size != 8 {
            return Err(Hdf5Error::Unsupported(format!(
                "{path}: variable-length data in a file with {}-byte addresses",
                self.offset_size
            )));
        }
        let shape = self.parse_dataspace(&space.data, space.at)?;
        self.check_plausible(path, &shape, dtype.size())?;
        let layout = self.parse_layout(layout)?;
        let filters = match find(MSG_FILTERS) {
            Some(m) => parse_filters(m)?,
            None => Vec::new(),
        };
        Ok(Dataset {
            path: path.to_string(),
            dtype,
            shape,
            layout,
            filters,
            header,
        })
    }

    /// Rejects shapes whose data could not come from this file (even compressed 1000:1), so
    /// that corrupt metadata cannot make a read allocate without bound or overflow.
    fn check_plausible(&self, path: &str, shape: &[u64], esize: usize) -> Result<(), Hdf5Error> {
        let bytes = shape
            .iter()
            .try_fold(esize as u64, |acc, &d| acc.checked_mul(d));
        let limit = self.len.max(1 << 20).saturating_mul(1000);
        if bytes.is_some_and(|b| b <= limit) {
            return Ok(());
        }
        Err(Hdf5Error::Corrupt(format!(
            "{path}: shape {shape:?} of {esize}-byte elements is implausible for a file of {} bytes",
            self.len
        )))
    }

    /// The dimensions of the dataspace message body `data` (read from file offset `at`).
    pub(super) fn parse_dataspace(&self, data: &[u8], at: u64) -> Result<Vec<u64>, Hdf5Error> {
        let mut c = Cursor::new(data, at);
        let version = c.u8()?;
        let rank = c.u8()? as usize;
        c.skip(1)?; // flags
        match version {
            1 => c.skip(5)?,
            2 => {
                if c.u8()? == 2 {
                    return Ok(vec![0]); // null dataspace: no elements
                }
            }
            v => return Err(Hdf5Error::Unsupported(format!("dataspace version {v}"))),
        }
        if rank > 32 {
            return Err(Hdf5Error::Corrupt(format!(
                "dataspace at {at} has rank {rank} (HDF5 allows at most 32)"
            )));
        }
        (0..rank)
            .map(|_| c.uint(self.length_size as usize))
            .collect()
    }

    fn parse_layout(&self, m: &Message) -> Result<Layout, Hdf5Error> {
        let mut c = Cursor::new(&m.data, m.at);
        let version = c.u8()?;
        if !(3..=4).contains(&version) {
            return Err(Hdf5Error::Unsupported(format!(
                "data layout message version {version}"
            )));
        }
        match c.u8()? {
            0 => {
                let size = c.u16()? as usize;
                Ok(Layout::Compact(c.take(size)?.to_vec()))
            }
            1 => Ok(Layout::Contiguous {
                addr: c.addr(self.offset_size)?,
            }),
            2 if version == 3 => {
                let dims = c.u8()? as usize;
                let btree = c.addr(self.offset_size)?;
                let mut chunk: Vec<u64> = (0..dims)
                    .map(|_| c.u32().map(u64::from))
                    .collect::<Result<_, _>>()?;
                chunk.pop(); // the element size
                Ok(Layout::BTreeChunks { btree, chunk })
            }
            2 => self.parse_layout_v4_chunked(&mut c),
            class => Err(Hdf5Error::Unsupported(format!("data layout class {class}"))),
        }
    }

    fn parse_layout_v4_chunked(&self, c: &mut Cursor) -> Result<Layout, Hdf5Error> {
        let flags = c.u8()?;
        let dims = c.u8()? as usize;
        let width = c.u8()? as usize;
        c.skip(dims * width)?;
        let index = c.u8()?;
        if index != 1 {
            return Err(Hdf5Error::Unsupported(format!(
                "chunk index type {index} (written by HDF5 1.10+ with the latest file format)"
            )));
        }
        let (filtered_size, mask) = if flags & 0x02 != 0 {
            (Some(c.uint(self.length_size as usize)?), c.u32()?)
        } else {
            (None, 0)
        };
        Ok(Layout::SingleChunk {
            addr: c.addr(self.offset_size)?,
            filtered_size,
            mask,
        })
    }

    /// The raw bytes of elements `start..start + count` of the 1-D dataset `ds`.
    pub fn read_raw_rows(
        &self,
        ds: &Dataset,
        start: u64,
        count: u64,
    ) -> Result<Vec<u8>, Hdf5Error> {
        if ds.shape.len() > 1 {
            return Err(Hdf5Error::WrongType(format!(
                "{} has shape {:?}, expected one dimension",
                ds.path, ds.shape
            )));
        }
        let end = start
            .checked_add(count)
            .filter(|&e| e <= ds.len())
            .ok_or_else(|| {
                Hdf5Error::WrongType(format!(
                    "rows {start}..{} are outside {} ({} rows)",
                    start.saturating_add(count),
                    ds.path,
                    ds.len()
                ))
            })?;
        let esize = ds.dtype.size() as u64;
        let bytes = self.check_data_size(count.saturating_mul(esize), &ds.path)?;
        match &ds.layout {
            Layout::Compact(data) => {
                let range = (start * esize) as usize..(end * esize) as usize;
                data.get(range).map(<[u8]>::to_vec).ok_or_else(|| {
                    Hdf5Error::Corrupt(format!("{}: compact data shorter than its shape", ds.path))
                })
            }
            Layout::Contiguous { addr } if *addr == UNDEFINED => Ok(vec![0; bytes]),
            Layout::Contiguous { addr } => self.read_addr(addr + start * esize, bytes),
            Layout::SingleChunk {
                addr,
                filtered_size,
                mask,
            } => {
                let whole = self.check_data_size(ds.len().saturating_mul(esize), &ds.path)?;
                let stored = filtered_size.unwrap_or(whole as u64) as usize;
                let raw = self.read_addr(*addr, stored)?;
                let data = self.unfilter(ds, raw, *mask, whole)?;
                Ok(data[(start * esize) as usize..(end * esize) as usize].to_vec())
            }
            Layout::BTreeChunks { btree, chunk } => {
                self.read_chunked_rows(ds, *btree, chunk, start, end)
            }
        }
    }

    fn read_chunked_rows(
        &self,
        ds: &Dataset,
        btree: u64,
        chunk: &[u64],
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, Hdf5Error> {
        let esize = ds.dtype.size() as u64;
        let rows_per_chunk = chunk
            .first()
            .copied()
            .filter(|&c| c > 0)
            .ok_or_else(|| Hdf5Error::Corrupt(format!("{}: chunk shape {chunk:?}", ds.path)))?;
        let chunk_bytes = self.check_data_size(rows_per_chunk.saturating_mul(esize), &ds.path)?;
        let mut out = vec![0u8; ((end - start) * esize) as usize];
        if btree == UNDEFINED || start == end {
            return Ok(out);
        }
        let mut leaves = Vec::new();
        let mut budget = MAX_BTREE_NODES;
        self.chunk_btree(btree, chunk.len() + 1, &mut leaves, &mut budget)?;
        for leaf in leaves {
            let first = leaf.offset;
            let last = first.saturating_add(rows_per_chunk);
            if last <= start || first >= end {
                continue;
            }
            let raw = self.read_addr(leaf.addr, leaf.size as usize)?;
            let data = self.unfilter(ds, raw, leaf.mask, chunk_bytes)?;
            let lo = first.max(start);
            let hi = last.min(end);
            let src = ((lo - first) * esize) as usize..((hi - first) * esize) as usize;
            let dst = ((lo - start) * esize) as usize;
            out[dst..dst + src.len()].copy_from_slice(&data[src]);
        }
        Ok(out)
    }

    /// Collects the chunks of a version-1 chunk B-tree (`dims` offsets per key).
    fn chunk_btree(
        &self,
        addr: u64,
        dims: usize,
        leaves: &mut Vec<ChunkRef>,
        budget: &mut usize,
    ) -> Result<(), Hdf5Error> {
        *budget = spend(*budget, addr)?;
        let (level, children) = self.btree_v1_node(addr, 1, 8 + 8 * dims)?;
        for (key, child) in children {
            if level > 0 {
                self.chunk_btree(child, dims, leaves, budget)?;
                continue;
            }
            let mut c = Cursor::new(&key, addr);
            let size = c.u32()?;
            let mask = c.u32()?;
            let origin = (0..dims.saturating_sub(1))
                .map(|_| c.u64())
                .collect::<Result<Vec<_>, _>>()?;
            leaves.push(ChunkRef {
                addr: child,
                size,
                mask,
                offset: origin.first().copied().unwrap_or(0),
                origin,
            });
        }
        Ok(())
    }

    /// Undoes the dataset's filters on one chunk; `expected` is its unfiltered size.
    fn unfilter(
        &self,
        ds: &Dataset,
        mut data: Vec<u8>,
        mask: u32,
        expected: usize,
    ) -> Result<Vec<u8>, Hdf5Error> {
        for (i, filter) in ds.filters.iter().enumerate().rev() {
            if mask & (1 << i) != 0 {
                continue;
            }
            data = match filter.id {
                1 => inflate(&data, expected, &ds.path)?,
                2 => unshuffle(&data, ds.dtype.size()),
                3 => {
                    data.truncate(data.len().saturating_sub(4)); // Fletcher-32 checksum
                    data
                }
                id => {
                    return Err(Hdf5Error::Unsupported(format!(
                        "{}: filter {id}{} (only deflate, shuffle and fletcher32 are read)",
                        ds.path,
                        filter_name(id)
                    )))
                }
            };
        }
        if data.len() < expected {
            return Err(Hdf5Error::Corrupt(format!(
                "{}: chunk holds {} bytes, expected {expected}",
                ds.path,
                data.len()
            )));
        }
        Ok(data)
    }

    /// The raw bytes of every element of `ds`, of any rank, in row-major (C) order.
    ///
    /// Chunks of a multi-dimensional dataset may be cut along any dimension; chunks that
    /// were never written read as zeros (the default fill value).
    pub fn read_all_raw(&self, ds: &Dataset) -> Result<Vec<u8>, Hdf5Error> {
        if ds.shape.len() <= 1 {
            return self.read_raw_rows(ds, 0, ds.len());
        }
        let esize = ds.dtype.size();
        let elements = ds.shape.iter().fold(1u64, |n, &d| n.saturating_mul(d));
        let bytes = self.check_data_size(elements.saturating_mul(esize as u64), &ds.path)?;
        match &ds.layout {
            Layout::Compact(data) => data.get(..bytes).map(<[u8]>::to_vec).ok_or_else(|| {
                Hdf5Error::Corrupt(format!("{}: compact data shorter than its shape", ds.path))
            }),
            Layout::Contiguous { addr } if *addr == UNDEFINED => Ok(vec![0; bytes]),
            Layout::Contiguous { addr } => self.read_addr(*addr, bytes),
            Layout::SingleChunk {
                addr,
                filtered_size,
                mask,
            } => {
                let stored = filtered_size.unwrap_or(bytes as u64) as usize;
                let raw = self.read_addr(*addr, stored)?;
                let mut data = self.unfilter(ds, raw, *mask, bytes)?;
                data.truncate(bytes);
                Ok(data)
            }
            Layout::BTreeChunks { btree, chunk } => self.read_chunked_all(ds, *btree, chunk, bytes),
        }
    }

    /// Every element of a multi-dimensional dataset stored in B-tree-indexed chunks.
    fn read_chunked_all(
        &self,
        ds: &Dataset,
        btree: u64,
        chunk: &[u64],
        bytes: usize,
    ) -> Result<Vec<u8>, Hdf5Error> {
        if chunk.len() != ds.shape.len() || chunk.contains(&0) {
            return Err(Hdf5Error::Corrupt(format!(
                "{}: chunk shape {chunk:?} does not fit the dataset shape {:?}",
                ds.path, ds.shape
            )));
        }
        let mut out = vec![0u8; bytes];
        if btree == UNDEFINED || bytes == 0 {
            return Ok(out);
        }
        let esize = ds.dtype.size() as u64;
        let chunk_elements = chunk.iter().fold(1u64, |n, &d| n.saturating_mul(d));
        let chunk_bytes = self.check_data_size(chunk_elements.saturating_mul(esize), &ds.path)?;
        let mut leaves = Vec::new();
        let mut budget = MAX_BTREE_NODES;
        self.chunk_btree(btree, chunk.len() + 1, &mut leaves, &mut budget)?;
        for leaf in leaves {
            if leaf.origin.len() != chunk.len()
                || leaf.origin.iter().zip(&ds.shape).any(|(o, d)| o >= d)
            {
                return Err(Hdf5Error::Corrupt(format!(
                    "{}: chunk at {:?} lies outside the dataset shape {:?}",
                    ds.path, leaf.origin, ds.shape
                )));
            }
            let raw = self.read_addr(leaf.addr, leaf.size as usize)?;
            let data = self.unfilter(ds, raw, leaf.mask, chunk_bytes)?;
            copy_chunk(
                &mut out,
                &ds.shape,
                &data,
                chunk,
                &leaf.origin,
                esize as usize,
            );
        }
        Ok(out)
    }

    /// Reads the variable-length elements `start..start + count` of `ds` and hands each to
    /// `visit` as (row, raw bytes of its base elements, element count).
    pub fn read_vlen_rows(
        &self,
        ds: &Dataset,
        start: u64,
        count: u64,
        mut visit: impl FnMut(u64, &[u8], usize) -> Result<(), Hdf5Error>,
    ) -> Result<(), Hdf5Error> {
        let base_size = match &ds.dtype {
            Datatype::VlenSeq(base) => base.size(),
            Datatype::VlenString => 1,
            other => {
                return Err(Hdf5Error::WrongType(format!(
                    "{} holds {}, expected variable-length data",
                    ds.path,
                    other.describe()
                )))
            }
        };
        let refs = self.read_raw_rows(ds, start, count)?;
        self.visit_vlen_refs(ds, &refs, start, base_size, &mut visit)
    }

    /// Resolves the variable-length references `refs` (rows numbered from `start` for error
    /// messages) through the global heap and hands each row to `visit`.
    pub(super) fn visit_vlen_refs(
        &self,
        ds: &Dataset,
        refs: &[u8],
        start: u64,
        base_size: usize,
        visit: &mut impl FnMut(u64, &[u8], usize) -> Result<(), Hdf5Error>,
    ) -> Result<(), Hdf5Error> {
        let o = self.offset_size as usize;
        let ref_size = 4 + o + 4;
        let mut cache = self.heap_cache.borrow_mut();
        for (i, r) in refs.chunks_exact(ref_size).enumerate() {
            let mut c = Cursor::new(r, 0);
            let len = c.u32()? as usize;
            let collection = c.addr(self.offset_size)?;
            let index = c.u32()?;
            let row = start + i as u64;
            if len == 0 {
                visit(row, &[], 0)?;
                continue;
            }
            let heap = cache.get(self, collection)?;
            let object = heap.object(index).ok_or_else(|| {
                Hdf5Error::Corrupt(format!(
                    "{} row {row}: global heap object {index} missing at {collection}",
                    ds.path
                ))
            })?;
            let bytes = object.get(..len * base_size).ok_or_else(|| {
                Hdf5Error::Corrupt(format!(
                    "{} row {row}: {len} elements but the heap object has {} bytes",
                    ds.path,
                    object.len()
                ))
            })?;
            visit(row, bytes, len)?;
        }
        Ok(())
    }

    /// Every element of a 1-D string dataset (fixed-length or variable-length).
    pub fn read_strings(&self, ds: &Dataset) -> Result<Vec<String>, Hdf5Error> {
        self.read_all_strings(ds)
    }

    /// Every element of a float dataset of any rank, row-major, as `f32`.
    pub fn read_all_f32s(&self, ds: &Dataset) -> Result<Vec<f32>, Hdf5Error> {
        let raw = self.read_all_raw(ds)?;
        let mut out = Vec::new();
        ds.dtype
            .decode_f32s(&raw, &mut out)
            .map_err(|e| e.in_dataset(&ds.path))?;
        Ok(out)
    }

    /// Elements `start..start + count` of a 1-D integer dataset.
    pub fn read_ints(&self, ds: &Dataset, start: u64, count: u64) -> Result<Vec<i64>, Hdf5Error> {
        let raw = self.read_raw_rows(ds, start, count)?;
        let mut out = Vec::new();
        ds.dtype
            .decode_ints(&raw, &mut out)
            .map_err(|e| e.in_dataset(&ds.path))?;
        Ok(out)
    }
}

/// Copies one chunk (`chunk` elements along each dimension, starting at `origin`) into the
/// row-major array `out` of `shape`, clipping the parts of edge chunks beyond the shape.
fn copy_chunk(
    out: &mut [u8],
    shape: &[u64],
    data: &[u8],
    chunk: &[u64],
    origin: &[u64],
    esize: usize,
) {
    let rank = shape.len();
    let last = rank - 1;
    let run = chunk[last].min(shape[last] - origin[last]) as usize * esize;
    // Position within the chunk along the outer dimensions (all but the last).
    let mut index = vec![0u64; last];
    loop {
        let inside = (0..last).all(|d| origin[d] + index[d] < shape[d]);
        if inside {
            let mut src = 0u64;
            let mut dst = 0u64;
            for d in 0..last {
                src = src * chunk[d] + index[d];
                dst = dst * shape[d] + origin[d] + index[d];
            }
            let src = (src * chunk[last]) as usize * esize;
            let dst = (dst * shape[last] + origin[last]) as usize * esize;
            out[dst..dst + run].copy_from_slice(&data[src..src + run]);
        }
        // Next outer position, row-major.
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < chunk[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

/// The (key before the child, child address) pairs of a version-1 B-tree node.
type NodeChildren = Vec<(Vec<u8>, u64)>;

struct ChunkRef {
    addr: u64,
    size: u32,
    mask: u32,
    /// Offset of the chunk's first row.
    offset: u64,
    /// Offset of the chunk's first element along every dimension.
    origin: Vec<u64>,
}

/// Parsed global-heap collections, keyed by address.
#[derive(Default)]
struct HeapCache {
    collections: HashMap<u64, std::sync::Arc<Collection>>,
    bytes: usize,
}

struct Collection {
    data: Vec<u8>,
    /// Object index -> byte range in `data`.
    objects: HashMap<u32, (usize, usize)>,
}

impl Collection {
    fn object(&self, index: u32) -> Option<&[u8]> {
        let &(start, len) = self.objects.get(&index)?;
        self.data.get(start..start.checked_add(len)?)
    }
}

impl HeapCache {
    fn get(
        &mut self,
        reader: &Hdf5Reader,
        addr: u64,
    ) -> Result<std::sync::Arc<Collection>, Hdf5Error> {
        if let Some(c) = self.collections.get(&addr) {
            return Ok(c.clone());
        }
        let collection = std::sync::Arc::new(read_collection(reader, addr)?);
        if self.bytes + collection.data.len() > HEAP_CACHE_BYTES {
            self.collections.clear();
            self.bytes = 0;
        }
        self.bytes += collection.data.len();
        self.collections.insert(addr, collection.clone());
        Ok(collection)
    }
}

fn read_collection(reader: &Hdf5Reader, addr: u64) -> Result<Collection, Hdf5Error> {
    let l = reader.length_size as usize;
    let head = reader.read_addr(addr, 8 + l)?;
    let mut c = Cursor::new(&head, addr);
    c.signature(b"GCOL")?;
    c.skip(4)?; // version, reserved
    let size = c.uint(l)? as usize;
    let data = reader.read_addr(addr, size)?;
    let mut objects = HashMap::new();
    let mut c = Cursor::new(&data, addr);
    c.seek(8 + l)?;
    while c.remaining() >= 8 + l {
        let index = c.u16()?;
        c.skip(6)?; // reference count, reserved
        let len = c.uint(l)? as usize;
        if index == 0 {
            break; // free space: the rest of the collection
        }
        objects.insert(u32::from(index), (c.pos(), len));
        let next = c.pos().saturating_add(align8(len));
        c.seek(next.min(data.len()))?;
    }
    Ok(Collection { data, objects })
}

fn parse_filters(m: &Message) -> Result<Vec<Filter>, Hdf5Error> {
    let mut c = Cursor::new(&m.data, m.at);
    let version = c.u8()?;
    let count = c.u8()?;
    if version == 1 {
        c.skip(6)?;
    }
    let mut filters = Vec::new();
    for _ in 0..count {
        let id = c.u16()?;
        let name_len = if version == 1 || id >= 256 {
            c.u16()? as usize
        } else {
            0
        };
        c.skip(2)?; // flags
        let nvalues = c.u16()? as usize;
        c.skip(if version == 1 {
            align8(name_len)
        } else {
            name_len
        })?;
        c.skip(4 * nvalues)?; // client data
        if version == 1 && nvalues % 2 == 1 {
            c.skip(4)?;
        }
        filters.push(Filter { id });
    }
    Ok(filters)
}

fn inflate(data: &[u8], expected: usize, path: &str) -> Result<Vec<u8>, Hdf5Error> {
    let most = (data.len() as u64)
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(64);
    if expected as u64 > most {
        return Err(Hdf5Error::Corrupt(format!(
            "{path}: a deflate stream of {} bytes cannot hold a chunk of {expected} bytes",
            data.len()
        )));
    }
    let mut out = Vec::with_capacity(expected);
    flate2::read::ZlibDecoder::new(data)
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Hdf5Error::Corrupt(format!("{path}: deflate stream: {e}")))?;
    Ok(out)
}

fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 {
        return data.to_vec();
    }
    let n = data.len() / size;
    if n == 0 {
        return data.to_vec();
    }
    let mut out = data.to_vec();
    for (byte, plane) in data.chunks(n).take(size).enumerate() {
        for (i, &b) in plane.iter().enumerate() {
            out[i * size + byte] = b;
        }
    }
    out
}

fn filter_name(id: u16) -> &'static str {
    match id {
        4 => " (szip)",
        5 => " (nbit)",
        6 => " (scale-offset)",
        32000 => " (lzf)",
        32001 => " (blosc)",
        32004 => " (lz4)",
        32015 => " (zstd)",
        _ => "",
    }
}

/// One unit of a traversal budget, or an error naming the object if it is used up.
fn spend(budget: usize, addr: u64) -> Result<usize, Hdf5Error> {
    budget.checked_sub(1).ok_or_else(|| {
        Hdf5Error::Corrupt(format!("structure at address {addr} loops or is too large"))
    })
}

fn check_sizes(offset: u8, length: u8) -> Result<(), Hdf5Error> {
    if [2, 4, 8].contains(&offset) && [2, 4, 8].contains(&length) {
        Ok(())
    } else {
        Err(Hdf5Error::Corrupt(format!(
            "superblock gives {offset}-byte addresses and {length}-byte lengths"
        )))
    }
}
