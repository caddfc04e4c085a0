//! Object references (datatype class 7): datasets whose elements are addresses of other
//! objects' headers, as MATLAB v7.3 files store cell arrays (the referenced arrays live in
//! the `#refs#` group).

use super::bytes::Cursor;
use super::types::Datatype;
use super::{Dataset, Hdf5Error, Hdf5Reader};

impl Hdf5Reader {
    /// Every element of an object-reference dataset of any rank, row-major: the addresses of
    /// the referenced objects' headers, for [`Hdf5Reader::dereference`].
    pub fn read_object_refs(&self, ds: &Dataset) -> Result<Vec<u64>, Hdf5Error> {
        let Datatype::ObjectRef { size } = ds.dtype else {
            return Err(Hdf5Error::WrongType(format!(
                "{} holds {}, expected object references",
                ds.path,
                ds.dtype.describe()
            )));
        };
        let raw = self.read_all_raw(ds)?;
        raw.chunks_exact(size)
            .map(|r| Cursor::new(r, 0).uint(size))
            .collect()
    }

    /// The dataset an object reference points to; `label` names it in its metadata and in
    /// error messages (e.g. `/spikes[3]`). A reference to anything but a dataset (a group,
    /// an address outside the file or inside other data) is an error, never a panic.
    pub fn dereference(&self, address: u64, label: &str) -> Result<Dataset, Hdf5Error> {
        self.dataset_at(address, label).map_err(|e| match e {
            Hdf5Error::Truncated { .. } | Hdf5Error::Corrupt(_) => Hdf5Error::Corrupt(format!(
                "{label}: object reference to address {address} does not lead to a dataset ({e})"
            )),
            other => other,
        })
    }
}
