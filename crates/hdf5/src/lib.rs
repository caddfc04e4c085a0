//! A small pure-Rust HDF5 reader and writer for the files spikegrad exchanges with Python
//! tools (h5py, stork, Tonic): one-dimensional datasets of numbers, strings and
//! variable-length sequences, and multi-dimensional arrays of numbers, in groups.
//!
//! No published pure-Rust HDF5 crate reads or writes variable-length numeric sequences,
//! which the Spiking Heidelberg Digits layout is made of, so this crate implements the
//! needed part of the file format itself.
//!
//! **Reads:** superblock versions 0–3; object headers v1 and v2 with continuation blocks;
//! old-style (symbol table) groups, compact link groups and dense link groups (fractal heap
//! and name-index B-tree, up to depth 1); compact, contiguous, version-1-B-tree chunked and
//! single-chunk layouts; deflate, shuffle and Fletcher-32 filters (the checksum is not
//! verified, nor are metadata checksums); integers of 1–8 bytes, IEEE floats of 2, 4 and 8
//! bytes (either byte order), fixed-length and variable-length strings, and variable-length
//! sequences of those numbers (through the global heap). Rows of one-dimensional datasets
//! are read by range; datasets of higher rank are read whole ([`Hdf5Reader::read_all_raw`],
//! chunks cut along any dimension). Object references ([`Hdf5Reader::read_object_refs`],
//! [`Hdf5Reader::dereference`]) are read, which is how MATLAB v7.3 files (HDF5 after a
//! 512-byte user block) store cell arrays. Attributes held in object headers are read on
//! request ([`Hdf5Reader::attributes`]; fixed-size types decoded).
//! Not read: chunk indexes of the HDF5 1.10+ "latest" format other than single-chunk,
//! external and virtual storage, compound, enum, array and region-reference types, dense
//! attribute storage, soft and external links.
//!
//! **Writes** what h5py writes by default (superblock 0, v1 object headers, symbol-table
//! groups, contiguous datasets, global heap collections), which every HDF5 release reads.
//!
//! Memory: [`Hdf5Reader`] reads the file on demand. Reading rows `a..b` of a dataset touches
//! only those rows (for chunked data, the chunks overlapping them), and variable-length
//! rows keep at most about 64 MiB of decoded global-heap collections cached.
//! [`Hdf5Reader::vlen_locations`] instead records where each variable-length row lies
//! (a [`VlenLocation`], 16 bytes per row), so that [`Hdf5Reader::read_vlen_at`] reads any
//! row later with one read of exactly its bytes and no cache.

mod any_rank;
mod attrs;
mod bytes;
mod dense;
mod read;
mod refs;
mod types;
mod vlen_index;
mod write;

pub use attrs::Attribute;
pub use read::{Dataset, Hdf5Reader};
pub use types::{f16_to_f32, f32_to_f16, ByteOrder, Datatype};
pub use vlen_index::VlenLocation;
pub use write::{DatasetData, Hdf5Writer};

/// Why an HDF5 file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Hdf5Error {
    /// The file does not start with (or contain at a userblock boundary) the HDF5 signature.
    #[error("not an HDF5 file (no HDF5 signature)")]
    NotHdf5,
    /// A structure lies past the end of the file.
    #[error(
        "file is truncated: {needed} bytes at offset {offset} are needed, the file has {file_len}"
    )]
    Truncated {
        /// Where the read started.
        offset: u64,
        /// How many bytes it needed.
        needed: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A group member or dataset does not exist; holds the path walked so far.
    #[error("{0} not found")]
    NotFound(String),
    /// A part of the format this module does not implement.
    #[error("unsupported HDF5 feature: {0}")]
    Unsupported(String),
    /// A structure is inconsistent.
    #[error("corrupt HDF5 structure: {0}")]
    Corrupt(String),
    /// An object is not what was asked for (a group, another type or shape).
    #[error("{0}")]
    WrongType(String),
    /// The operating system reported an error.
    #[error("I/O error: {0}")]
    Io(std::io::Error),
}

impl Hdf5Error {
    /// The same error with `path` named in its message (when it does not name it already).
    pub fn in_dataset(self, path: &str) -> Self {
        match self {
            Hdf5Error::WrongType(m) if !m.contains(path) => {
                Hdf5Error::WrongType(format!("{path}: {m}"))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod matlab_tests;
#[cfg(test)]
mod tests;
